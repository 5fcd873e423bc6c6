"""`pingan keygen` and `pingan faces enroll`, run for real in a subprocess."""

from __future__ import annotations

import base64
from pathlib import Path

from sqlalchemy.orm import Session

from pingan.auth.principal import SYSTEM
from pingan.config import Settings
from pingan.db.engine import make_engine
from pingan.faces import service as face_service
from pingan.faces.models import ConsentMethod
from pingan.faces.schemas import ConsentIn
from pingan.sim import small_territory
from pingan.territory import service as territory_service
from pingan.territory.schemas import PersonCreate
from tests.conftest import TEST_DATA_KEY
from tests.faces.test_engine import FACES, photo
from tests.test_cli import env, pingan

__all__ = ["env"]


def test_keygen_makes_a_usable_key(env: dict[str, str]) -> None:
    key = pingan(env, "keygen").stdout.strip()
    assert len(base64.urlsafe_b64decode(key)) == 32


def test_enroll_from_the_command_line(env: dict[str, str]) -> None:
    photo("chen_yanxi/1.jpg")  # skips where the labelled photos are not
    pingan(env, "init")
    settings = Settings(
        var_dir=Path(env["PINGAN_VAR_DIR"]),
        database_url=env.get("PINGAN_DATABASE_URL", ""),
        database_schema=env.get("PINGAN_DATABASE_SCHEMA", ""),
    )
    engine = make_engine(settings)
    with Session(engine) as s:
        s.info["actor"] = "test"
        nodes = small_territory(s, actor=SYSTEM)
        person = territory_service.create_person(
            s, actor=SYSTEM, data=PersonCreate(node_id=nodes["site"], name="陈燕西")
        )
        s.commit()
        person_id, site = person.id, nodes["site"]
    r = pingan(env, "faces", "enroll", str(person_id), str(FACES / "chen_yanxi/1.jpg"), check=False)
    assert r.returncode == 2 and "PINGAN_DATA_KEY" in r.stderr and "keygen" in r.stderr
    env = {**env, "PINGAN_DATA_KEY": TEST_DATA_KEY}
    r = pingan(env, "faces", "enroll", str(person_id), str(FACES / "chen_yanxi/1.jpg"), check=False)
    assert r.returncode == 2 and "授权" in r.stderr and "face-consents" in r.stderr
    with Session(engine) as s:
        s.info["actor"] = "test"
        found = territory_service.get_person_visible_or_raise(s, actor=SYSTEM, person_id=person_id)
        face_service.record_consent(
            s,
            actor=SYSTEM,
            person=found,
            data=ConsentIn(
                node_id=site, purpose="门禁", central_storage=True, method=ConsentMethod.paper
            ),
        )
        s.commit()
    engine.dispose()
    r = pingan(
        env,
        "faces",
        "enroll",
        str(person_id),
        str(FACES / "chen_yanxi/1.jpg"),
        str(FACES / "_no_face/1.jpg"),
    )
    assert "✓ 1.jpg" in r.stdout and "照片中没有找到人脸" in r.stdout
