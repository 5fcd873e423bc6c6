"""Configuration kept as YAML (the alarm rules, the event catalogue): read into a pydantic model,
a mistake reported with the line it is on, so the person editing the file can find it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

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
