"""Imports every model so that metadata (migrations, backups) sees all tables."""

from pingan.auth import models as auth_models
from pingan.db import meta
from pingan.db.base import Base
from pingan.territory import models as territory_models

__all__ = ["Base", "auth_models", "meta", "territory_models"]
