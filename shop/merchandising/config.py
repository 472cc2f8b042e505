"""What merchandisers tune, as plain values: training settings, placements and rules.

A `MerchConfig` is read from the JSON document stored in a revision (draft or published)
and written back with `to_dict`. Nothing here touches the database or Flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

RULE_TYPES = ("pin", "boost", "bury", "exclude", "diversity", "never")
RULE_LABELS = {
    "pin": "Pin",
    "boost": "Boost",
    "bury": "Bury",
    "exclude": "Exclude",
    "diversity": "Diversity",
    "never": "Never recommend",
}
# Rules that keep products out of lists. The live revision's always apply, also to an A/B
# arm that serves an older revision (see MerchConfig.with_safety_rules_of).
SAFETY_RULE_TYPES = ("never", "exclude")
STRATEGIES = ("personal", "popular")
MAX_LIST_SIZE = 24


@dataclass(frozen=True)
class Rule:
    """One merchandising rule, applied at serving time after scoring.

    `placements` empty means every placement. Targets are a product or a category
    (diversity has neither). Times are naive UTC; a rule is active in [starts_at, ends_at).
    """

    id: str
    type: str
    placements: tuple[str, ...] = ()
    product_id: int | None = None
    category_id: int | None = None
    position: int | None = None
    factor: float | None = None
    max_per_category: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    note: str = ""

    def active(self, now: datetime) -> bool:
        """True when `now` is inside the rule's optional date window."""
        if self.starts_at is not None and now < self.starts_at:
            return False
        return self.ends_at is None or now < self.ends_at

    def applies_to(self, placement: str) -> bool:
        """True when the rule covers this placement."""
        return not self.placements or placement in self.placements

    def target_text(self) -> str:
        """What the rule acts on, for labels."""
        if self.product_id is not None:
            return f"product {self.product_id}"
        if self.category_id is not None:
            return f"category {self.category_id}"
        return "every list"

    def label(self) -> str:
        """A short description, e.g. "boost x2 category 3 (rule r4)"."""
        detail = {
            "pin": f"pin at {self.position}",
            "boost": f"boost x{self.factor:g}" if self.factor else "boost",
            "bury": f"bury /{self.factor:g}" if self.factor else "bury",
            "exclude": "exclude",
            "diversity": f"at most {self.max_per_category} per category",
            "never": "never recommend",
        }[self.type]
        target = "" if self.type == "diversity" else f" {self.target_text()}"
        return f"{detail}{target} (rule {self.id})"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "type": self.type,
            "placements": list(self.placements),
            "product_id": self.product_id,
            "category_id": self.category_id,
            "position": self.position,
            "factor": self.factor,
            "max_per_category": self.max_per_category,
            "starts_at": self.starts_at.isoformat() if self.starts_at else None,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Read the JSON form (unknown keys are ignored)."""
        return cls(
            id=str(data["id"]),
            type=str(data["type"]),
            placements=tuple(data.get("placements") or ()),
            product_id=_int_or_none(data.get("product_id")),
            category_id=_int_or_none(data.get("category_id")),
            position=_int_or_none(data.get("position")),
            factor=float(data["factor"]) if data.get("factor") is not None else None,
            max_per_category=_int_or_none(data.get("max_per_category")),
            starts_at=_time_or_none(data.get("starts_at")),
            ends_at=_time_or_none(data.get("ends_at")),
            note=str(data.get("note") or ""),
        )


@dataclass(frozen=True)
class PlacementSettings:
    """Per-placement behaviour: list length, re-purchases, personal or popular."""

    size: int
    allow_repurchase: bool = False
    strategy: str = "personal"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "size": self.size,
            "allow_repurchase": self.allow_repurchase,
            "strategy": self.strategy,
        }


@dataclass(frozen=True)
class MerchConfig:
    """Training settings (a TrainingParams dict), placement settings and rules."""

    training: Mapping[str, Any]
    placements: Mapping[str, PlacementSettings]
    rules: tuple[Rule, ...] = ()
    revision_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def placement(self, name: str, default: PlacementSettings) -> PlacementSettings:
        """The settings of one placement, or the default when the config has none."""
        return self.placements.get(name, default)

    def rules_for(self, placement: str, now: datetime) -> list[Rule]:
        """The rules that are active now and cover the placement, in stored order."""
        return [r for r in self.rules if r.applies_to(placement) and r.active(now)]

    def with_rules(self, rules: tuple[Rule, ...]) -> MerchConfig:
        """A copy with other rules."""
        return replace(self, rules=rules)

    def with_safety_rules_of(self, live: MerchConfig) -> MerchConfig:
        """A copy that also applies `live`'s never-recommend and exclude rules.

        An A/B arm that serves an older published revision gets them, so that a product the
        live settings ban or exclude is out of that arm's lists too, however old its rules.
        Its own rules, including its own exclusions, apply as they are.
        """
        added = tuple(r for r in live.rules if r.type in SAFETY_RULE_TYPES and r not in self.rules)
        return replace(self, rules=(*self.rules, *added)) if added else self

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as stored in a revision."""
        return {
            **self.extra,
            "training": dict(self.training),
            "placements": {name: p.to_dict() for name, p in self.placements.items()},
            "rules": [r.to_dict() for r in self.rules],
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        default_training: Mapping[str, Any],
        default_placements: Mapping[str, PlacementSettings],
        revision_id: int | None = None,
    ) -> MerchConfig:
        """Read a stored document; missing parts take the defaults."""
        placements = dict(default_placements)
        for name, raw in (data.get("placements") or {}).items():
            base = placements.get(name, PlacementSettings(8))
            placements[name] = PlacementSettings(
                size=int(raw.get("size", base.size)),
                allow_repurchase=bool(raw.get("allow_repurchase", base.allow_repurchase)),
                strategy=str(raw.get("strategy", base.strategy)),
            )
        extra = {k: v for k, v in data.items() if k not in ("training", "placements", "rules")}
        return cls(
            training=dict(data.get("training") or default_training),
            placements=placements,
            rules=tuple(Rule.from_dict(r) for r in data.get("rules") or ()),
            revision_id=revision_id,
            extra=extra,
        )


def _int_or_none(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _time_or_none(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
