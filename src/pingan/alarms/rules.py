"""Declarative rules: which events raise which alarms. A YAML file, validated on load with
errors that name the line, reloaded when it changes."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pingan import datafile
from pingan.datafile import DataFileError

log = logging.getLogger("pingan.alarms.rules")


def _as_set(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(str(v) for v in value)


class When(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: frozenset[str] = Field(description="Event kinds that match")
    code: frozenset[str] | None = Field(None, description="Event codes that match (any if absent)")
    device_kind: frozenset[str] | None = None

    @field_validator("kind", "code", "device_kind", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return _as_set(value)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    when: When
    category: str = Field(min_length=1, max_length=32)
    priority: int = Field(ge=1, le=4)
    title: str = Field(min_length=1, max_length=100)
    dedupe_s: int = Field(300, ge=0, le=86400)
    close_on_restore: bool = Field(False, description="Restore closes the alarm (never for P1)")
    level: Literal["site", "community", "street"] | None = None
    notify: list[str] = Field(
        default_factory=list, description="Channel ids to tell, besides pages"
    )
    dispatch: bool = Field(
        False, description="Offer the alarm to the nearest on-duty responder as soon as raised"
    )
    # Correlation: raise only when several devices of one site agree, or when an expected event
    # (an access grant before a door opens) did not come from the same device.
    distinct_devices: int | None = Field(
        None, ge=2, le=100, description="Devices of one site needed"
    )
    unless: When | None = Field(None, description="No such event from the device within within_s")
    within_s: int = Field(
        60, ge=1, le=86400, description="The window of distinct_devices or unless"
    )

    @property
    def correlated(self) -> bool:
        return self.distinct_devices is not None or self.unless is not None

    def matches(self, *, kind: str, code: str, device_kind: str) -> bool:
        w = self.when
        return (
            kind in w.kind
            and (w.code is None or code in w.code)
            and (w.device_kind is None or device_kind in w.device_kind)
        )


class Channel(BaseModel):
    """Where notifications go: a signed webhook, a WeCom or DingTalk group robot, mail, SMS."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    type: Literal["webhook", "wecom", "dingtalk", "email", "sms"]
    url: str | None = Field(None, pattern=r"^https?://", description="webhook, wecom, dingtalk")
    secret: str | None = Field(None, description="HMAC key (webhook) or signing secret (dingtalk)")
    to: list[str] = Field(default_factory=list, description="Addresses (email) or numbers (sms)")
    mention: list[str] = Field(
        default_factory=list, description="Mobile numbers to @ (wecom, dingtalk)"
    )


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: list[Channel] = Field(default_factory=list)
    notify: list[str] = Field(default_factory=list, description="Channels told of every alarm")
    escalation: dict[int, int] = Field(
        default_factory=lambda: {1: 60, 2: 180, 3: 600, 4: 1800},
        description="Seconds an alarm of each priority waits for acknowledgement at each level",
    )
    dispatch_accept_s: int = Field(
        60, ge=10, le=3600, description="Seconds a responder has to accept before it passes on"
    )
    responders: list[str] = Field(
        default_factory=list,
        description="Channels that reach a responder whose phone page is closed (an SMS goes to "
        "their own number as well)",
    )
    rules: list[Rule]

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} appears twice")
            seen.add(rule.id)
        return rules

    @model_validator(mode="after")
    def _channels_complete(self) -> RuleFile:
        for channel in self.channels:
            if channel.type in ("webhook", "wecom", "dingtalk") and not channel.url:
                raise ValueError(f"channel {channel.id!r} ({channel.type}) needs a url")
            if channel.type in ("email", "sms") and not channel.to:
                raise ValueError(f"channel {channel.id!r} ({channel.type}) needs `to`")
        # A name the rules give that is not defined here may be a channel kept in the console
        # (alarms.notify.store); one defined nowhere is listed on the console's channels page.
        return self


# A rules file that cannot be read: its message names the line (datafile.parse).
RulesError = DataFileError


def parse(text: str, source: str = "rules") -> RuleFile:
    return datafile.parse(text, RuleFile, source)


def default_text() -> str:
    return resources.files("pingan.alarms").joinpath("rules.yaml").read_text(encoding="utf-8")


@cache
def _shipped_titles() -> set[str]:
    return {r.title for r in parse(default_text(), "rules.yaml").rules}


# Babel extraction: the shipped rules' titles are words of the catalogue (make i18n).
extract_titles = datafile.babel_extractor(frozenset({"title"}))


@dataclass
class RuleBook:
    """The rules in force; re-read from the file when its modification time changes."""

    path: Path | None
    current: RuleFile
    mtime: float = 0.0
    error: str | None = None

    @classmethod
    def load(cls, path: Path | None) -> RuleBook:
        if path is None:
            return cls(path=None, current=parse(default_text(), "rules.yaml"))
        book = cls(path=path, current=parse(path.read_text(encoding="utf-8"), str(path)))
        book.mtime = os.stat(path).st_mtime
        return book

    def refresh(self) -> None:
        """Reload if the file changed; a broken file keeps the old rules and reports why."""
        if self.path is None:
            return
        with _lock:
            try:
                mtime = os.stat(self.path).st_mtime
            except OSError as exc:
                self.error = f"{self.path}: {exc}"
                return
            if mtime == self.mtime:
                return
            self.mtime = mtime
            try:
                self.current = parse(self.path.read_text(encoding="utf-8"), str(self.path))
                self.error = None
                log.info("alarm rules reloaded from %s", self.path)
            except RulesError as exc:
                self.error = str(exc)
                log.error("alarm rules not reloaded, keeping the previous ones: %s", exc)

    def match(self, *, kind: str, code: str, device_kind: str) -> list[Rule]:
        """The first plain rule that matches, and every correlation rule that does."""
        found: list[Rule] = []
        plain = False
        for rule in self.current.rules:
            if not rule.matches(kind=kind, code=code, device_kind=device_kind):
                continue
            if rule.correlated:
                found.append(rule)
            elif not plain:
                found.append(rule)
                plain = True
        return found

    def titles(self) -> set[str]:
        """Every title an alarm may carry: the rules' in force and the shipped ones (older alarms)."""
        return {r.title for r in self.current.rules} | _shipped_titles()

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.current.rules if r.id == rule_id), None)

    def escalation_s(self, priority: int) -> int | None:
        return self.current.escalation.get(priority)


_lock = threading.Lock()
