"""What differs between two sets of recommendation settings, in words, for the page that
asks a merchandiser to confirm a publish, a discard or a revert. Plain values only."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from shop.merchandising.config import MerchConfig, PlacementSettings, Rule

ARROW = "\N{RIGHTWARDS ARROW}"
_SETTING_NAMES = {
    ("model",): "Model",
    ("weighting", "kind_weights", "view"): "Weight of a view",
    ("weighting", "kind_weights", "cart_add"): "Weight of a cart add",
    ("weighting", "kind_weights", "purchase"): "Weight of a purchase",
    ("weighting", "half_life_days"): "Half-life (days)",
}
_RULE_FIELDS = {
    "type": "type",
    "placements": "placements",
    "product_id": "product",
    "category_id": "category",
    "position": "position",
    "factor": "factor",
    "max_per_category": "per-category limit",
    "starts_at": "start",
    "ends_at": "end",
    "note": "note",
}


def _text(value: Any) -> str:
    if value is None or value == []:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _leaves(inner, (*path, str(key)))
    else:
        yield path, value


def _setting_name(path: tuple[str, ...]) -> str:
    if path in _SETTING_NAMES:
        return _SETTING_NAMES[path]
    words = [part.replace("_", " ") for part in path]
    return " / ".join(words).capitalize()


def training_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """One line per training setting that differs, e.g. "Weight of a purchase: 5 → 8"."""
    old, new = dict(_leaves(before)), dict(_leaves(after))
    return [
        f"{_setting_name(path)}: {_text(old.get(path))} {ARROW} {_text(new.get(path))}"
        for path in sorted({*old, *new})
        if old.get(path) != new.get(path)
    ]


def _placement_changes(
    name: str, old: PlacementSettings | None, new: PlacementSettings | None
) -> list[str]:
    if old is None or new is None:
        return []
    lines = []
    if old.size != new.size:
        lines.append(f"{name}: {old.size} items {ARROW} {new.size}")
    if old.allow_repurchase != new.allow_repurchase:
        lines.append(
            f"{name}: re-purchases {_text(old.allow_repurchase)} {ARROW} "
            f"{_text(new.allow_repurchase)}"
        )
    if old.strategy != new.strategy:
        lines.append(f"{name}: {old.strategy} {ARROW} {new.strategy}")
    return lines


def _rule_text(rule: Rule, targets: Mapping[str, str]) -> str:
    where = ", ".join(rule.placements) if rule.placements else "every placement"
    words = targets.get(rule.target_text())
    return f"{rule.label()}{f', {words}' if words else ''}, on {where}"


def rule_changes(
    before: tuple[Rule, ...], after: tuple[Rule, ...], targets: Mapping[str, str]
) -> list[str]:
    """Rules added, removed or edited, with the products and categories they act on in
    words (`targets`, see `editing.rule_targets`)."""
    old = {rule.id: rule for rule in before}
    new = {rule.id: rule for rule in after}
    lines = [f"Rule removed: {_rule_text(r, targets)}" for r in before if r.id not in new]
    for rule in after:
        was = old.get(rule.id)
        if was is None:
            lines.append(f"Rule added: {_rule_text(rule, targets)}")
        elif was != rule:
            fields = [
                label
                for key, label in _RULE_FIELDS.items()
                if was.to_dict()[key] != rule.to_dict()[key]
            ]
            lines.append(f"Rule changed ({', '.join(fields)}): {_rule_text(rule, targets)}")
    return lines


def describe_changes(
    before: MerchConfig, after: MerchConfig, targets: Mapping[str, str]
) -> list[str]:
    """Every difference from `before` to `after`: training settings, placements, rules."""
    lines = training_changes(before.training, after.training)
    for name in sorted({*before.placements, *after.placements}):
        lines += _placement_changes(name, before.placements.get(name), after.placements.get(name))
    return lines + rule_changes(before.rules, after.rules, targets)
