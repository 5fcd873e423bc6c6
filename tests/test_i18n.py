"""Every word marked in the code and the templates has its English translation, with the same
placeholders; Chinese stays the default."""

from __future__ import annotations

import re
import string
from pathlib import Path

from babel.messages.extract import extract_from_dir

from pingan.alarms.rules import RuleBook
from pingan.i18n import MESSAGES, catalogue, gettext, t

ROOT = Path(__file__).parents[1]
METHODS = [
    ("src/**.py", "python"),
    ("src/pingan/web/templates/**.html", "jinja2"),
    ("src/pingan/alarms/rules.yaml", "pingan.alarms.rules:extract_titles"),  # as babel.cfg says
]


def marked() -> set[str]:
    """What `make i18n` extracts: the words marked in code and pages, the shipped rules' titles."""
    found = extract_from_dir(
        ROOT, method_map=METHODS, keywords={"_": None, "N_": None}, strip_comment_tags=True
    )
    return {message for _file, _line, message, _comments, _ctx in found if isinstance(message, str)}


def fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_every_marked_word_is_translated_with_the_same_placeholders() -> None:
    words = marked()
    assert len(words) > 150 and "报警值班台" in words and MESSAGES["not_found"] in words
    english = catalogue("en")
    missing = sorted(w for w in words if not english.get(w))
    assert missing == [], f"run `make i18n` and translate: {missing}"
    for word in words:
        assert fields(english[word]) == fields(word), word
        assert not re.search(r"[\u4e00-\u9fff]", english[word]), word


def test_chinese_is_the_default_and_parameters_are_translated_too() -> None:
    assert gettext("报警值班台") == "报警值班台"
    assert gettext("报警值班台", "en") == "Alarm desk"
    assert gettext("not in the catalogue", "en") == "not in the catalogue"
    assert t("bad_period", "zh", reason="时间段最长一年") == "时间段有误：时间段最长一年"
    assert t("bad_period", "en", reason="时间段最长一年") == (
        "Invalid period: a period is at most one year"
    )


def test_the_shipped_rules_titles_are_words_of_the_catalogue() -> None:
    """An alarm keeps its rule's title; pages show it translated, so each one shipped is."""
    titles = RuleBook.load(None).titles()
    assert len(titles) >= 15 and titles <= marked()
    assert gettext("门被强行打开", "en") == "Door forced open"
