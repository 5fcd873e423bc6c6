"""What a running platform holds: the rules in force and the pipeline built from them."""

from __future__ import annotations

from dataclasses import dataclass

from pingan.alarms.rules import RuleBook
from pingan.alarms.service import Engine
from pingan.config import Settings
from pingan.devices.supervision import liveness
from pingan.events.pipeline import Pipeline
from pingan.events.service import Reparser
from pingan.ingest import messages, sia


@dataclass
class Runtime:
    rules: RuleBook
    pipeline: Pipeline
    reparsers: dict[str, Reparser]

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        rules = RuleBook.load(settings.rules_file)
        return cls(
            rules=rules,
            pipeline=Pipeline([liveness, Engine(rules)]),
            reparsers={"http": messages.reparse, "mqtt": messages.reparse, "dc09": sia.reparse},
        )
