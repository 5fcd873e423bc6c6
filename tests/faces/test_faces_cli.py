"""`pingan keygen` and `pingan faces enroll`, run for real in a subprocess."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from sqlalchemy.orm import Session

from pingan.auth.principal import SYSTEM
from pingan.config import Settings
from pingan.db.engine import make_engine
from pingan.faces import service as face_service
from pingan.faces.models import ConsentMethod, ConsentPurpose
from pingan.faces.schemas import ConsentIn
from pingan.sim import small_territory
from pingan.territory import service as territory_service
from pingan.territory.schemas import PersonCreate
from tests.conftest import FACES, TEST_DATA_KEY
from tests.faces.test_engine import photo
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
                node_id=site,
                purpose=ConsentPurpose.door_access,
                central_storage=True,
                method=ConsentMethod.paper,
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


def _strangers(tmp: Path, count: int) -> Path:
    """A folder of `count` strangers: links to the distractors' own folders, nothing copied."""
    source = FACES.parent / "faces_distractors"
    folder = tmp / "strangers"
    folder.mkdir()
    for person in sorted(p for p in source.iterdir() if p.is_dir())[:count]:
        (folder / person.name).symlink_to(person, target_is_directory=True)
    return folder


def test_faces_eval_prints_the_doors_figures(env: dict[str, str], tmp_path: Path) -> None:
    photo("chen_yanxi/1.jpg")
    strangers = _strangers(tmp_path, 200)
    out = pingan(
        env,
        "faces",
        "eval",
        str(FACES),
        "--distractors",
        str(strangers),
        "--gallery-sizes",
        "150,250,100000",
    )
    report = json.loads(out.stdout)
    assert report["identities"] == 45 and report["probes"] > 100
    assert report["tar_at_far_1e-3"] > 0.95 and report["rank1"] > 0.95
    small, medium, huge = report["open_set"]
    assert small["gallery_templates"] == 150 and medium["gallery_templates"] == 250
    assert small["threshold"] < medium["threshold"]
    assert small["fpir"] <= 0.01 and small["fnir"] < 0.1 and small["strangers"] > 100
    assert "only" in huge["skipped"]  # not enough strangers to pad to 100,000: said, not faked
    rule = report["threshold_rule"]
    assert rule["fpir_target"] == 0.001 and rule["thresholds"]["1000"] > rule["thresholds"]["100"]
    # _no_face: no face in any of them; _multi: every face reported with its best match.
    assert report["no_face"]["photos"] >= 1 and report["no_face"]["faces_found"] == 0
    assert report["multi"] and all(len(m["faces"]) >= 2 for m in report["multi"])
    assert all({"box", "best", "score"} <= set(f) for m in report["multi"] for f in m["faces"])
    assert report["unreadable"] == [] and report["ms_per_image"] > 0


def test_faces_calibrate_stores_the_rule_the_doors_use(env: dict[str, str], tmp_path: Path) -> None:
    photo("chen_yanxi/1.jpg")
    pingan(env, "init")
    strangers = _strangers(tmp_path, 200)
    out = json.loads(
        pingan(env, "faces", "calibrate", str(FACES), "--distractors", str(strangers)).stdout
    )
    assert out["engine"] == "arcface:w600k_mbf" and out["impostor_pairs"] > 50_000
    assert out["thresholds"]["1"] < out["thresholds"]["100"] < out["thresholds"]["10000"]
    settings = Settings(
        var_dir=Path(env["PINGAN_VAR_DIR"]),
        database_url=env.get("PINGAN_DATABASE_URL", ""),
        database_schema=env.get("PINGAN_DATABASE_SCHEMA", ""),
    )
    engine = make_engine(settings)
    with Session(engine) as s:
        rule = face_service.rule_for(s, engine_id="arcface:w600k_mbf")
    engine.dispose()
    assert rule.source == f"faces+{strangers.name}"
    assert rule.threshold(100) == out["thresholds"]["100"]
    # Without strangers' photos enough to measure the tail, it says what to add.
    bad = pingan(env, "faces", "calibrate", str(FACES / "_multi"), check=False)
    assert bad.returncode != 0 and "DIR" in bad.stderr
