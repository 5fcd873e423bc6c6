"""The event catalogue (事件分类) as data: categories and their kinds, each kind with its
acceptance and closing conditions, its handler, its time limit and its priority. Shipped as
`catalogue.yaml`; a deployment's own file replaces it. A mistake is reported with its line, as
the alarm rules' are (alarms.rules.parse)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pingan import datafile
from pingan.i18n import N_
from pingan.incidents import calendar

CODE = r"^[a-z][a-z0-9_]{1,31}$"

# Who handles a kind of incident: the platform's roles, and the street's own offices (街长,
# 城管专员) that grid governance adds.
HANDLER_LABEL: dict[str, str] = {
    "site_manager": N_("物业或自管组织"),
    "community_admin": N_("社区"),
    "grid_officer": N_("网格员"),
    "police_liaison": N_("派出所"),
    "street_admin": N_("街道"),
    "street_chief": N_("街长"),
    "city_officer": N_("城管专员"),
}


class Limit(BaseModel):
    """The time to handle a case, from its acceptance: working hours or working days."""

    model_config = ConfigDict(extra="forbid")
    hours: float | None = Field(None, gt=0, le=24 * 30)
    days: int | None = Field(None, ge=1, le=365)

    @model_validator(mode="after")
    def _one(self) -> Limit:
        if (self.hours is None) == (self.days is None):
            raise ValueError("give hours or days, one of them")
        return self

    def due(self, accepted: datetime) -> datetime:
        if self.hours is not None:
            return calendar.add_working_hours(accepted, self.hours)
        assert self.days is not None
        return calendar.add_working_days(accepted, self.days)


DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=50)


class AttributeField(BaseModel):
    """A question a report of this kind answers (Open311's service attributes)."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=CODE)
    description: str = Field(min_length=1, max_length=200)
    datatype: str = Field("string", description=", ".join(DATATYPES))
    required: bool = False
    values: list[Choice] = Field(default_factory=list)

    @model_validator(mode="after")
    def _typed(self) -> AttributeField:
        if self.datatype not in DATATYPES:
            raise ValueError(f"datatype {self.datatype!r}: one of {', '.join(DATATYPES)}")
        if self.datatype.endswith("valuelist") != bool(self.values):
            raise ValueError("a list datatype needs values, and only a list datatype has them")
        return self

    def check(self, value: Any) -> Any:
        """The answer as stored; ValueError saying what is wrong with it."""
        if isinstance(value, list) and self.datatype != "multivaluelist":
            value = value[0] if len(value) == 1 else value
        if self.datatype == "number":
            try:
                return float(value)
            except (TypeError, ValueError):
                raise ValueError("a number") from None
        if self.datatype == "datetime":
            try:
                return datetime.fromisoformat(str(value)).isoformat()
            except ValueError:
                raise ValueError("a date and time (ISO 8601)") from None
        keys = [c.key for c in self.values]
        if self.datatype == "singlevaluelist":
            if value not in keys:
                raise ValueError(f"one of {', '.join(keys)}")
            return value
        if self.datatype == "multivaluelist":
            chosen = value if isinstance(value, list) else [value]
            if not chosen or any(v not in keys for v in chosen):
                raise ValueError(f"some of {', '.join(keys)}")
            return chosen
        text = str(value).strip()
        if len(text) > (2000 if self.datatype == "text" else 200):
            raise ValueError("too long")
        return text


def answers(fields: list[AttributeField], given: dict[str, Any], owner: str) -> dict[str, Any]:
    """Answers checked against a list of fields (an unknown one is refused, a required one
    missing too), as stored; ValueError naming the field."""
    known = {f.code: f for f in fields}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"{unknown[0]}: not a field of this {owner}")
    out: dict[str, Any] = {}
    for field in fields:
        value = given.get(field.code)
        if value in (None, "", []):
            if field.required:
                raise ValueError(f"{field.code}: required")
            continue
        try:
            out[field.code] = field.check(value)
        except ValueError as exc:
            raise ValueError(f"{field.code}: {exc}") from None
    return out


class Kind(BaseModel):
    """小类."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=50)
    accept: str = Field(min_length=1, max_length=500, description="立案条件")
    handler: str
    limit: Limit
    close: str = Field(min_length=1, max_length=500, description="结案条件")
    priority: int = Field(ge=1, le=4)
    fields: list[AttributeField] = Field(default_factory=list)

    def attributes(self, given: dict[str, Any]) -> dict[str, Any]:
        """A report's answers checked against the kind's fields (an unknown one is refused,
        a required one missing too); ValueError naming the field."""
        return answers(self.fields, given, "kind")

    @model_validator(mode="after")
    def _handler(self) -> Kind:
        if self.handler not in HANDLER_LABEL:
            raise ValueError(f"handler {self.handler!r}: one of {', '.join(HANDLER_LABEL)}")
        return self


class Category(BaseModel):
    """大类."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=50)
    # Whether its cases are listed to the public (Open311's GET requests): a dispute between
    # neighbours or a suspicious person is not.
    public: bool = True
    kinds: list[Kind] = Field(min_length=1)


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    categories: list[Category] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        seen: set[str] = set()
        for category in self.categories:
            for code in [category.code, *(f"{category.code}.{k.code}" for k in category.kinds)]:
                if code in seen:
                    raise ValueError(f"{code} appears twice")
                seen.add(code)
        if "other" not in {c.code for c in self.categories}:
            raise ValueError("an 'other' category is needed: a report that fits no kind")
        return self

    def kind(self, code: str) -> tuple[Category, Kind] | None:
        """A kind by its full code, `category.kind` (fire.blocked_exit)."""
        category_code, _dot, kind_code = code.partition(".")
        for category in self.categories:
            if category.code == category_code:
                found = next((k for k in category.kinds if k.code == kind_code), None)
                return (category, found) if found else None
        return None


def parse(text: str, source: str = "catalogue.yaml") -> Catalogue:
    """A catalogue from YAML; a mistake raises DataFileError naming its line."""
    return datafile.parse(text, Catalogue, source)


@cache
def shipped() -> Catalogue:
    """The catalogue pingan ships (a street's edits are versions: incidents.service)."""
    return datafile.packaged("pingan.incidents", "catalogue.yaml", Catalogue)


# Babel extraction: the shipped catalogue's names and conditions are words of the translation
# catalogue (make i18n); pages show them in the reader's language.
extract_words = datafile.babel_extractor(frozenset({"name", "accept", "close", "description"}))
