from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pingan.alarms.rules import RuleBook, RulesError, default_text, parse


def test_shipped_rules_load() -> None:
    rules = parse(default_text())
    ids = [r.id for r in rules.rules]
    assert {"fire", "panic", "intrusion", "device_offline"} <= set(ids)
    assert rules.escalation[1] == 60


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rules:\n  - id: fire\n    when: {kind: fire}\n    category: fire\n    priority: 9\n    title: x\n",
            "line 5: rules.0.priority",
        ),
        (
            "rules:\n  - id: a\n    when: {kind: fire}\n    category: fire\n    priority: 1\n    title: x\n"
            "  - id: b\n    when: {kind: fire, colour: red}\n    category: fire\n    priority: 1\n    title: x\n",
            "line 8: rules.1.when.colour",
        ),
        ("rules:\n  - id: a\n    when: {kind: fire\n", "line 4"),
        ("", "line 1: the file is empty"),
        (
            "rules:\n  - id: a\n    when: {kind: x}\n    category: c\n    priority: 1\n    title: t\n"
            "  - id: a\n    when: {kind: y}\n    category: c\n    priority: 1\n    title: t\n",
            "appears twice",
        ),
    ],
)
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        parse(text, "r.yaml")


def test_reload_on_change_keeps_old_rules_when_broken(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - {id: a, when: {kind: fire}, category: fire, priority: 1, title: 火}\n",
        encoding="utf-8",
    )
    book = RuleBook.load(path)
    assert book.match(kind="fire", code="x", device_kind="smoke_detector") != []
    assert book.match(kind="gas", code="x", device_kind="gas_detector") == []

    def rewrite(text: str) -> None:
        path.write_text(text, encoding="utf-8")
        stamp = time.time() + 1
        os.utime(path, (stamp, stamp))

    rewrite("rules:\n  - {id: g, when: {kind: gas}, category: gas, priority: 1, title: 气}\n")
    book.refresh()
    assert book.match(kind="gas", code="x", device_kind="gas_detector") != []
    assert book.match(kind="fire", code="x", device_kind="smoke_detector") == []
    rewrite("rules:\n  - {id: g, when: {kind: gas}, category: gas, priority: 7, title: 气}\n")
    book.refresh()
    assert book.error is not None and "line 2" in book.error
    assert book.match(kind="gas", code="x", device_kind="gas_detector") != []
