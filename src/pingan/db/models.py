"""Imports every model so that metadata (migrations, backups) sees all tables."""

from pingan.alarms import models as alarm_models
from pingan.auth import models as auth_models
from pingan.db import meta
from pingan.db.base import Base
from pingan.devices import models as device_models
from pingan.events import models as event_models
from pingan.faces import models as face_models
from pingan.facilities import models as facility_models
from pingan.incidents import models as incident_models
from pingan.patrol import models as patrol_models
from pingan.targets import models as target_models
from pingan.territory import models as territory_models
from pingan.volunteers import models as volunteer_models

__all__ = [
    "Base",
    "alarm_models",
    "auth_models",
    "device_models",
    "event_models",
    "face_models",
    "facility_models",
    "incident_models",
    "meta",
    "patrol_models",
    "target_models",
    "territory_models",
    "volunteer_models",
]
