"""Configuration kept as YAML (the alarm rules, the event catalogue): read into a pydantic model,
a mistake reported with the line it is on, so the person editing the file can find it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

M = TypeVar("M", bound=BaseModel)


class DataFileError(ValueError):
    """A file that cannot be read as its model: the message names the file and the line."""


def line_of(node: yaml.Node, loc: tuple[int | str, ...]) -> int:
    """The line (1-based) of the YAML node at a pydantic error location."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == str(part)), None)
            if found is None:
                break
            node = found
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            break
    return node.start_mark.line + 1


def parse(text: str, model: type[M], source: str) -> M:
    try:
        node = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else "?"
        raise DataFileError(f"{source}: line {line}: {getattr(exc, 'problem', exc)}") from exc
    if node is None:
        raise DataFileError(f"{source}: line 1: the file is empty")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        raise DataFileError(
            f"{source}: line {line_of(node, loc)}: {'.'.join(map(str, loc))}: {err['msg']}"
        ) from exc


def packaged(package: str, name: str, model: type[M]) -> M:
    """A data file pingan ships inside a package, read as its model."""
    from importlib import resources

    return parse(resources.files(package).joinpath(name).read_text("utf-8"), model, name)


def extract_words(text: str, keys: frozenset[str]) -> Iterator[tuple[int, str]]:
    """The values of these keys anywhere in a YAML file, with their lines: words a shipped file
    shows people, for the translation catalogue (Babel's extractors of make i18n)."""

    def walk(node: yaml.Node | None) -> Iterator[tuple[int, str]]:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value in keys and isinstance(value, yaml.ScalarNode) and value.value:
                    yield value.start_mark.line + 1, str(value.value)
                else:
                    yield from walk(value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                yield from walk(item)

    yield from walk(yaml.compose(text))


def babel_extractor(keys: frozenset[str]) -> Any:
    """A Babel extraction method yielding the values of these keys."""

    def extract(
        fileobj: Any, keywords: Any, comment_tags: Any, options: Any
    ) -> Iterator[tuple[int, str, str, list[str]]]:
        for line, word in extract_words(fileobj.read().decode("utf-8"), keys):
            yield line, "", word, []

    return extract


class Versions(Generic[M]):
    """A data file a street edits, kept whole per version in a table (`id`, `body`, `note`,
    `created_at`, `created_by`): the latest edit is in force, else the file pingan ships."""

    def __init__(self, model: type[M], table: Any, shipped: Callable[[], M]) -> None:
        self.model, self.table, self.shipped = model, table, shipped
        self._lock = threading.Lock()
        # Parsed versions by (id, when made): an id alone could be another database's, or one
        # reused after a rolled-back edit.
        self._parsed: dict[tuple[int, datetime], M] = {}

    def current(self, session: Session) -> M:
        latest = session.execute(
            select(self.table.id, self.table.created_at).order_by(self.table.id.desc()).limit(1)
        ).first()
        if latest is None:
            return self.shipped()
        key = (int(latest.id), latest.created_at)
        with self._lock:
            found = self._parsed.get(key)
        if found is None:
            row = session.get(self.table, key[0])
            assert row is not None
            found = self.model.model_validate(row.body)
            with self._lock:
                self._parsed[key] = found
        return found

    def number(self, session: Session) -> int:
        """0 for the shipped file, else the number of the latest edit."""
        return int(session.scalar(select(func.max(self.table.id))) or 0)

    def add(self, session: Session, *, data: M, note: str | None, actor: str, at: datetime) -> Any:
        row = self.table(
            body=data.model_dump(mode="json"), note=note, created_by=actor, created_at=at
        )
        session.add(row)
        session.flush()
        return row
