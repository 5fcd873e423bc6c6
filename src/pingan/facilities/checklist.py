"""The physical-defence checklist as data: groups of items, each with its requirement, the clause
it comes from, the site types and protection levels it is required for, the devices that count as
evidence, and the grid event a failed inspection of it opens. Shipped as `checklist.yaml`; a
street's edit replaces it (kept as versions, as the event catalogue is)."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pingan import datafile
from pingan.devices.models import DeviceKind
from pingan.incidents.catalogue import CODE, AttributeField, Catalogue, answers
from pingan.territory.models import SiteType

LEVELS = (1, 2, 3)  # GB/T 21741-2021 §6–§8: 一级, 二级, 三级


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200)


class Evidence(BaseModel):
    """What the platform already knows that speaks for an item: the site's registered devices of
    these kinds (their location containing one of `where`, when given), the patrol checkpoints
    on the site, the site's management recorded in the territory."""

    model_config = ConfigDict(extra="forbid")
    kinds: list[DeviceKind] = Field(default_factory=list)
    where: list[str] = Field(default_factory=list)
    checkpoints: bool = False
    management: bool = False


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=50)
    requirement: str = Field(min_length=1, max_length=500)
    clause: str = Field(min_length=1, max_length=200, description="where the requirement is from")
    source: str = Field(pattern=CODE)
    types: list[SiteType] = Field(default_factory=lambda: list(SiteType))
    levels: list[int] = Field(min_length=1, description="the protection levels requiring it")
    counted: bool = Field(False, description="its count is recorded (cameras, extinguishers …)")
    evidence: Evidence = Field(default_factory=Evidence)
    incident: str = Field(description="the grid event a failure opens: category.kind")
    fields: list[AttributeField] = Field(default_factory=list)

    @field_validator("levels")
    @classmethod
    def _levels(cls, levels: list[int]) -> list[int]:
        if any(level not in LEVELS for level in levels):
            raise ValueError(f"some of {', '.join(map(str, LEVELS))}")
        return levels

    def applies(self, site_type: SiteType | None) -> bool:
        return site_type is None or site_type in self.types

    def required(self, site_type: SiteType | None, level: int) -> bool:
        return self.applies(site_type) and level in self.levels

    def details(self, given: dict[str, Any]) -> dict[str, Any]:
        """Answers to the item's fields checked (ValueError naming the field)."""
        return answers(self.fields, given, "item")


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=50)
    items: list[Item] = Field(min_length=1)


class InspectionKind(BaseModel):
    """A kind of inspection (安全检查, 消防检查): the groups it covers and how often it is due."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=50)
    groups: list[str] = Field(min_length=1)
    every_months: dict[str, int] = Field(description="per site type, and `default`")

    @model_validator(mode="after")
    def _every(self) -> InspectionKind:
        known = {"default", *SiteType}
        for key, months in self.every_months.items():
            if key not in known:
                raise ValueError(f"every_months: {key!r} is no site type")
            if not 1 <= months <= 24:
                raise ValueError(f"every_months: {key}: 1 to 24 months")
        if "default" not in self.every_months:
            raise ValueError("every_months: a `default` is needed")
        return self

    def months(self, site_type: SiteType | None) -> int:
        return self.every_months.get(str(site_type), self.every_months["default"])


class BundlePart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    items: list[str] = Field(min_length=1, description="group.item codes, all present")


class Bundle(BaseModel):
    """Items that must all be present together (门卫室、消防、门禁三项齐备)."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=100)
    parts: list[BundlePart] = Field(min_length=1)

    def codes(self) -> list[str]:
        return [code for part in self.parts for code in part.items]


class Checklist(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[Source] = Field(min_length=1)
    default_level: dict[SiteType, int]
    inspections: list[InspectionKind] = Field(min_length=1)
    bundles: list[Bundle] = Field(default_factory=list)
    groups: list[Group] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Checklist:
        seen: set[str] = set()
        groups = {g.code for g in self.groups}
        sources = {s.code for s in self.sources}
        for group in self.groups:
            for item in group.items:
                code = f"{group.code}.{item.code}"
                if code in seen:
                    raise ValueError(f"{code} appears twice")
                seen.add(code)
                if item.source not in sources:
                    raise ValueError(f"{code}: source {item.source!r} is not listed")
        for kind in self.inspections:
            missing = sorted(set(kind.groups) - groups)
            if missing:
                raise ValueError(f"inspection {kind.code}: no group {missing[0]!r}")
        for bundle in self.bundles:
            missing = sorted(set(bundle.codes()) - seen)
            if missing:
                raise ValueError(f"bundle {bundle.code}: no item {missing[0]!r}")
        for site_type in SiteType:
            if self.default_level.get(site_type) not in LEVELS:
                raise ValueError(f"default_level: {site_type}: one of 1, 2, 3")
        return self

    def items(self) -> list[tuple[Group, Item]]:
        return [(g, i) for g in self.groups for i in g.items]

    def item(self, code: str) -> Item | None:
        """An item by its full code, `group.item` (fire.extinguishers)."""
        group_code, _dot, item_code = code.partition(".")
        for group in self.groups:
            if group.code == group_code:
                return next((i for i in group.items if i.code == item_code), None)
        return None

    def inspection(self, code: str) -> InspectionKind | None:
        return next((k for k in self.inspections if k.code == code), None)

    def for_site(
        self, site_type: SiteType | None, kind: InspectionKind | None = None
    ) -> list[tuple[Group, Item]]:
        """The items a site of this type answers (in an inspection of this kind)."""
        return [
            (g, i)
            for g, i in self.items()
            if i.applies(site_type) and (kind is None or g.code in kind.groups)
        ]

    def check_incidents(self, catalogue: Catalogue) -> None:
        """Every item's grid event is a kind of the catalogue (ValueError naming the first not)."""
        for group, item in self.items():
            if catalogue.kind(item.incident) is None:
                raise ValueError(
                    f"{group.code}.{item.code}: incident {item.incident!r} is no kind of the "
                    "event catalogue"
                )


def parse(text: str, source: str = "checklist.yaml") -> Checklist:
    """A checklist from YAML; a mistake raises DataFileError naming its line."""
    return datafile.parse(text, Checklist, source)


@cache
def shipped() -> Checklist:
    """The checklist pingan ships (a street's edits are versions: facilities.service)."""
    return datafile.packaged("pingan.facilities", "checklist.yaml", Checklist)


# Babel extraction (make i18n): the shipped checklist's words in the reader's language.
extract_words = datafile.babel_extractor(
    frozenset({"name", "requirement", "clause", "description"})
)
