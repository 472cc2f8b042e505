"""Editing the draft: validated rules and settings, each edit audited."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.catalog.models import Category, Product
from shop.console import audit
from shop.console.models import AuditEntry
from shop.db import parse_id, utcnow
from shop.merchandising.config import (
    MAX_LIST_SIZE,
    RULE_TYPES,
    SAFETY_RULE_TYPES,
    STRATEGIES,
    Rule,
)
from shop.merchandising.models import MerchRevision
from shop.merchandising.revisions import (
    ChangedSinceOpened,
    check_said,
    draft_data,
    draft_to_edit,
    fingerprint,
    save_draft,
)
from shop.recommendations import MODELS, TrainingParams

KIND_NAMES = ("view", "cart_add", "purchase")
MODEL_PARAM_RANGES: dict[str, tuple[float, float, bool]] = {
    # name: (minimum, maximum, whole number)
    "factors": (2, 512, True),
    "regularization": (0.0001, 1000, False),
    "alpha": (0.01, 100, False),
    "iterations": (1, 200, True),
    "learning_rate": (0.0001, 1, False),
    "neighbours": (2, 500, True),
}
MODEL_PARAMS = {
    "als": ("factors", "regularization", "alpha", "iterations"),
    "bpr": ("factors", "regularization", "learning_rate", "iterations"),
    "item_knn": ("neighbours",),
    "popularity": (),
}


class EditError(ValueError):
    """An edit that is not valid; `field` names the form field the message belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class AlreadyInDraft(ValueError):
    """The rule asked for is in the draft already, exactly as entered (the same form sent
    twice, say): nothing to add, and nothing wrong."""

    def __init__(self, rule: Rule) -> None:
        super().__init__(f"Already in the draft: {rule.label()}. Nothing more was added.")
        self.rule = rule


@dataclass(frozen=True)
class RuleInput:
    """A rule as entered in the console, before validation."""

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


def draft_rules(session: Session) -> list[Rule]:
    """The draft's rules, in order."""
    return [Rule.from_dict(r) for r in draft_data(session).get("rules") or ()]


def _windows_overlap(a: Rule, b: Rule) -> bool:
    a_start, b_start = a.starts_at or datetime.min, b.starts_at or datetime.min
    a_end, b_end = a.ends_at or datetime.max, b.ends_at or datetime.max
    return a_start < b_end and b_start < a_end


def _placements_overlap(a: Rule, b: Rule) -> bool:
    return not a.placements or not b.placements or bool(set(a.placements) & set(b.placements))


# A boost or bury stronger than 1,000 times (or weaker than 1%) is a typo, not a rule: it
# would only push scores to numbers too small or too large to show.
MIN_FACTOR, MAX_FACTOR = 0.01, 1000.0


def validate_rule(
    session: Session, rule: Rule, existing: Sequence[Rule], placement_sizes: Mapping[str, int]
) -> None:
    """Raise EditError (with the field at fault) unless the rule can be saved.

    `placement_sizes` is each placement's list length in the draft."""
    if rule.type not in RULE_TYPES:
        raise EditError("type", f"Choose one of: {', '.join(RULE_TYPES)}.")
    unknown = [p for p in rule.placements if p not in placement_sizes]
    if unknown:
        raise EditError("placements", f"Unknown placement: {', '.join(unknown)}.")
    if rule.starts_at and rule.ends_at and rule.ends_at <= rule.starts_at:
        raise EditError("ends_at", "The end must be after the start.")
    if rule.ends_at and rule.ends_at <= utcnow():
        raise EditError("ends_at", "The end is in the past: the rule would never apply.")
    if rule.type == "diversity":
        if not rule.max_per_category or rule.max_per_category < 1:
            raise EditError("max_per_category", "Allow at least 1 item per category.")
        _check_not_repeated(rule, existing)
        return
    if rule.type == "pin" and rule.category_id is not None:
        # Also when a product was given as well: the category is what does not belong.
        raise EditError("category", "A pin is for a product, not a category: leave it empty.")
    if (rule.product_id is None) == (rule.category_id is None):
        if rule.type == "pin":
            raise EditError("product", "A pin needs a product.")
        raise EditError("product", "Choose a product or a category (one of them).")
    if rule.product_id is not None:
        product = session.get(Product, rule.product_id)
        if product is None:
            raise EditError("product", f"There is no product {rule.product_id}.")
        if rule.type == "pin" and not product.active:
            raise EditError("product", f"{product.name} is inactive and cannot be pinned.")
        if rule.type == "pin":
            _check_pin_not_kept_out(rule, product, existing)
    if rule.category_id is not None and session.get(Category, rule.category_id) is None:
        raise EditError("category", f"There is no category {rule.category_id}.")
    if rule.type in SAFETY_RULE_TYPES:
        _check_not_pinned(session, rule, existing)
    if rule.type in ("boost", "bury"):
        if rule.factor is None or not rule.factor > 0:  # NaN is not > 0 either
            raise EditError("factor", "The factor must be greater than 0.")
        if not MIN_FACTOR <= rule.factor <= MAX_FACTOR:
            raise EditError("factor", f"The factor goes from {MIN_FACTOR:g} to {MAX_FACTOR:,g}.")
        if rule.factor == 1:
            raise EditError(
                "factor",
                f"A {rule.type} by a factor of 1 leaves every score as it is: "
                "choose a factor other than 1 (say 2).",
            )
    if rule.type == "pin":
        _check_pin(rule, existing)
        short = lists_too_short_for_pin(rule, placement_sizes)
        if short:
            lengths = ", ".join(f"{name} shows {placement_sizes[name]}" for name in short)
            raise EditError(
                "position",
                f"Position {rule.position} is past the end of the list ({lengths}): "
                "make the list longer in the settings first, or pin higher up.",
            )
    else:
        _check_not_repeated(rule, existing)
    if rule.type in ("boost", "bury"):
        _check_not_contradicted(rule, existing)


def _keeps_out(remover: Rule, product: Product) -> bool:
    """True when a never-recommend or exclude rule targets this product or its category."""
    if remover.product_id is not None:
        return remover.product_id == product.id
    return remover.category_id is not None and remover.category_id == product.category_id


def _overlap(a: Rule, b: Rule) -> bool:
    return _placements_overlap(a, b) and _windows_overlap(a, b)


def _check_pin_not_kept_out(pin: Rule, product: Product, existing: Sequence[Rule]) -> None:
    """Never-recommend and exclusions always win over a pin: refuse a pin that one of them
    would keep out wherever and whenever it applies together with it."""
    for other in existing:
        if other.type not in SAFETY_RULE_TYPES or not _overlap(pin, other):
            continue
        if not _keeps_out(other, product):
            continue
        how = "never recommended" if other.type == "never" else "excluded"
        via = " (through its category)" if other.product_id is None else ""
        raise EditError(
            "product",
            f"{product.name} is {how}{via} by {other.label()} in an overlapping placement "
            "and period: remove that rule to pin it.",
        )


def _check_not_pinned(session: Session, rule: Rule, existing: Sequence[Rule]) -> None:
    """The other way round: refuse a never-recommend or exclude rule that would keep out a
    product pinned where and when both apply (the pin could then never show it)."""
    for pin in existing:
        if pin.type != "pin" or pin.product_id is None or not _overlap(rule, pin):
            continue
        product = session.get(Product, pin.product_id)
        if product is None or not _keeps_out(rule, product):
            continue
        what = "Never recommending" if rule.type == "never" else "Excluding"
        target = "it" if rule.product_id is not None else "its category"
        raise EditError(
            "product" if rule.product_id is not None else "category",
            f"{product.name} is pinned by {pin.label()} in an overlapping placement and "
            f"period. {what} {target} would keep the pin from ever showing it: remove or "
            "change that pin first.",
        )


def _check_not_repeated(rule: Rule, existing: Sequence[Rule]) -> None:
    """A second rule of the same kind on the same target, where and when the first one
    applies, would stack (two x2 boosts make x4) or do nothing: refuse it."""
    for other in existing:
        same_target = (other.product_id, other.category_id) == (rule.product_id, rule.category_id)
        if (
            other.type == rule.type
            and same_target
            and _placements_overlap(rule, other)
            and _windows_overlap(rule, other)
        ):
            raise EditError(
                "type",
                f"That repeats {other.label()}, which already applies in an overlapping "
                "placement and period. Change or remove that rule instead.",
            )


def _check_not_contradicted(rule: Rule, existing: Sequence[Rule]) -> None:
    """A boost and a bury of the same target, where and when both apply, pull its score
    both ways: refuse the second, so the merchandiser decides which one they mean."""
    opposite = "bury" if rule.type == "boost" else "boost"
    for other in existing:
        if (
            other.type == opposite
            and (other.product_id, other.category_id) == (rule.product_id, rule.category_id)
            and _placements_overlap(rule, other)
            and _windows_overlap(rule, other)
        ):
            raise EditError(
                "type",
                f"That contradicts {other.label()}, which applies in an overlapping placement "
                "and period. Change or remove that rule instead.",
            )


def lists_too_short_for_pin(rule: Rule, placement_sizes: Mapping[str, int]) -> list[str]:
    """The placements a pin names whose lists end before its position, or every placement
    when a pin on all of them fits none; [] when the pin is shown somewhere it applies."""
    if rule.type != "pin" or rule.position is None:
        return []
    names = list(rule.placements) or list(placement_sizes)
    short = [name for name in names if placement_sizes.get(name, MAX_LIST_SIZE) < rule.position]
    if not rule.placements and len(short) < len(names):
        return []
    return short


def _check_pin(rule: Rule, existing: Sequence[Rule]) -> None:
    if rule.position is None or not 1 <= rule.position <= MAX_LIST_SIZE:
        raise EditError("position", f"The position must be between 1 and {MAX_LIST_SIZE}.")
    for other in existing:
        if other.type != "pin" or not _placements_overlap(rule, other):
            continue
        if not _windows_overlap(rule, other):
            continue
        if other.position == rule.position:
            raise EditError(
                "position",
                f"Position {rule.position} is already pinned by rule {other.id} "
                f"({other.target_text()}) in an overlapping placement and period.",
            )
        if other.product_id == rule.product_id:
            raise EditError("product", f"That product is already pinned by rule {other.id}.")


LAST_RULE = "last_rule_number"  # in the settings document: the highest rule number given


def _next_rule_number(session: Session, draft: Mapping[str, Any]) -> int:
    """One more than any rule number ever used: in any revision, in the draft (whose
    LAST_RULE remembers rules added and removed again before publishing), or in the audit
    log's rule additions (rules of drafts since discarded). So "r4" in the audit log or in an
    A/B arm's revision always means the same rule."""
    used = [str(rule.get("id", "")) for rule in draft.get("rules") or ()]
    for data in session.scalars(select(MerchRevision.data)):
        used += [str(rule.get("id", "")) for rule in (data or {}).get("rules") or ()]
    for added in session.scalars(
        select(AuditEntry.after).where(AuditEntry.action == "merch.rule.add")
    ):
        used.append(str((added or {}).get("id", "")))
    numbers = [int(i[1:]) for i in used if i.startswith("r") and i[1:].isdigit()]
    remembered = draft.get(LAST_RULE)
    if isinstance(remembered, int) and not isinstance(remembered, bool):
        numbers.append(remembered)
    return max(numbers, default=0) + 1


PlacementSizes = Mapping[str, int] | Callable[[Mapping[str, Any]], Mapping[str, int]]


def add_rule(
    session: Session, actor: audit.Actor, entered: RuleInput, placement_sizes: PlacementSizes
) -> Rule:
    """Validate a rule and add it to the draft; AlreadyInDraft when the draft has exactly
    this rule already.

    `placement_sizes` is the draft's list lengths, or better a function giving them for a
    draft document: it is then asked about the draft as it is once this edit's turn came
    (settings saved meanwhile included), not as the page found it."""
    data = draft_to_edit(session)
    if callable(placement_sizes):
        placement_sizes = placement_sizes(data)
    existing = [Rule.from_dict(r) for r in data.get("rules") or ()]
    number = _next_rule_number(session, data)
    placements = () if entered.type == "never" else entered.placements
    rule = Rule(
        id=f"r{number}",
        type=entered.type,
        placements=placements,
        product_id=entered.product_id,
        category_id=entered.category_id,
        position=entered.position if entered.type == "pin" else None,
        factor=entered.factor if entered.type in ("boost", "bury") else None,
        max_per_category=entered.max_per_category if entered.type == "diversity" else None,
        starts_at=entered.starts_at,
        ends_at=entered.ends_at,
        note=entered.note.strip()[:200],
    )
    if rule.type == "diversity":
        rule = Rule(**{**rule.__dict__, "product_id": None, "category_id": None})
    same = next((r for r in existing if replace(r, id=rule.id) == rule), None)
    if same is not None:
        raise AlreadyInDraft(same)
    validate_rule(session, rule, existing, placement_sizes)
    data["rules"] = [*(r.to_dict() for r in existing), rule.to_dict()]
    data[LAST_RULE] = number
    save_draft(session, actor, data, "merch.rule.add", rule.label(), None, rule.to_dict())
    return rule


def remove_rule(session: Session, actor: audit.Actor, rule_id: str) -> Rule:
    """Remove a rule from the draft; EditError if it is not there."""
    data = draft_to_edit(session)
    rules = [Rule.from_dict(r) for r in data.get("rules") or ()]
    found = next((r for r in rules if r.id == rule_id), None)
    if found is None:
        raise EditError("rule", f"There is no rule {rule_id} in the draft.")
    data["rules"] = [r.to_dict() for r in rules if r.id != rule_id]
    save_draft(session, actor, data, "merch.rule.remove", found.label(), found.to_dict(), None)
    return found


@dataclass(frozen=True)
class SettingsInput:
    """Training and placement settings as entered in the console."""

    kind_weights: Mapping[str, float]
    half_life_days: float | None
    model: str
    model_params: Mapping[str, float]
    placements: Mapping[str, Mapping[str, Any]]


def _checked_model_params(model: str, raw: Mapping[str, float]) -> dict[str, float | int]:
    params: dict[str, float | int] = {}
    for name in MODEL_PARAMS[model]:
        value = raw.get(name)
        if value is None:
            continue
        low, high, whole = MODEL_PARAM_RANGES[name]
        if whole and float(value) != int(value):
            raise EditError(name, "Enter a whole number.")
        if not low <= value <= high:
            raise EditError(name, f"Enter a value from {low:g} to {high:g}.")
        params[name] = int(value) if whole else float(value)
    return params


def settings_fingerprint(session: Session) -> str:
    """What the settings form shows, as a fingerprint it sends back with its changes."""
    data = draft_data(session)
    return fingerprint({"training": data.get("training"), "placements": data.get("placements")})


def update_settings(
    session: Session,
    actor: audit.Actor,
    entered: SettingsInput,
    placement_names: Sequence[str],
    default_training: Mapping[str, Any],
    opened: str | None = None,
) -> dict[str, Any]:
    """Validate the settings and save them in the draft; return the new draft document.

    What the form does not edit (the blend of signals, parameters left empty) keeps its
    current value: the draft's, or `default_training` (the shop's tuned settings) before
    anything was saved. `opened` is the `settings_fingerprint` the form was opened with:
    if someone saved other settings since, or a page sent none (an empty one; None: no page,
    nothing to check), ChangedSinceOpened is raised and nothing saved, unless the draft holds
    exactly what this save would store (the same form sent twice): then nothing is saved again.
    """
    for kind, weight in entered.kind_weights.items():
        if kind not in KIND_NAMES:
            raise EditError("weights", f"Unknown event kind {kind}.")
        if weight < 0 or weight > 100:
            raise EditError(f"weight_{kind}", "Weights go from 0 to 100.")
    if not any(entered.kind_weights.values()):
        raise EditError("weight_purchase", "At least one event kind needs a weight above 0.")
    if entered.half_life_days is not None and not 1 <= entered.half_life_days <= 3650:
        raise EditError("half_life_days", "The half-life goes from 1 to 3,650 days (or empty).")
    if entered.model not in MODELS:
        raise EditError("model", f"Choose one of: {', '.join(MODELS)}.")
    data = draft_to_edit(session)
    before = {"training": data.get("training"), "placements": data.get("placements")}
    check_said(opened)
    stale = opened is not None and opened != fingerprint(before)
    try:
        training, placements = _settings_after(
            session, entered, data, placement_names, default_training
        )
    except EditError:
        if stale:  # judged against settings the form did not show
            raise _changed_since_opened() from None
        raise
    if stale:
        if {"training": training, "placements": placements} == before:
            return data  # the same save sent twice (a double click): saved already
        raise _changed_since_opened()
    data["training"], data["placements"] = training, placements
    after = {"training": training, "placements": placements}
    changed_before, changed_after = audit.changed(before, after)
    save_draft(session, actor, data, "merch.settings", "settings", changed_before, changed_after)
    return data


def _changed_since_opened() -> ChangedSinceOpened:
    return ChangedSinceOpened(
        "Someone saved other settings in the draft after you opened this page. "
        "The form now shows them: make your change again."
    )


def _settings_after(
    session: Session,
    entered: SettingsInput,
    data: Mapping[str, Any],
    placement_names: Sequence[str],
    default_training: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The draft's training and placement settings with the entered ones; EditError when
    they cannot be saved."""
    training = dict(data.get("training") or default_training)
    weighting = dict(training.get("weighting") or {})
    weighting["kind_weights"] = dict(entered.kind_weights)
    weighting["half_life_days"] = entered.half_life_days
    training["weighting"] = weighting
    entered_params = _checked_model_params(entered.model, entered.model_params)
    if training.get("model") != entered.model:
        # The form showed the previous model's values: one left as it was is not a choice
        # for the new model, which starts from its own defaults.
        shown = training.get("model_params") or {}
        entered_params = {k: v for k, v in entered_params.items() if shown.get(k) != v}
        same_as_default = default_training.get("model") == entered.model
        training["model_params"] = default_training.get("model_params") if same_as_default else {}
    training["model"] = entered.model
    training["model_params"] = {**(training.get("model_params") or {}), **entered_params}
    try:
        training = TrainingParams.from_dict(training).to_dict()
    except (ValueError, TypeError, KeyError) as exc:
        raise EditError("model", f"These model settings are not valid: {exc}") from exc
    placements = dict(data.get("placements") or {})
    for name, values in entered.placements.items():
        if name not in placement_names:
            raise EditError("placements", f"Unknown placement {name}.")
        size = int(values["size"])
        if not 1 <= size <= MAX_LIST_SIZE:
            raise EditError(f"size_{name}", f"Show from 1 to {MAX_LIST_SIZE} items.")
        if values.get("strategy", "personal") not in STRATEGIES:
            raise EditError(f"strategy_{name}", f"Choose one of: {', '.join(STRATEGIES)}.")
        placements[name] = {
            "size": size,
            "allow_repurchase": bool(values.get("allow_repurchase")),
            "strategy": values.get("strategy", "personal"),
        }
    sizes = {name: int(values["size"]) for name, values in placements.items()}
    for rule in draft_rules(session):
        short = lists_too_short_for_pin(rule, sizes)
        if short:
            where = ", ".join(short) if rule.placements else "every list"
            raise EditError(
                f"size_{short[0]}",
                f"Rule {rule.id} pins a product at position {rule.position} of {where}: keep "
                f"{'the' if rule.placements else 'one'} list at least {rule.position} long, "
                "or change that rule first.",
            )
    return training, placements


def rule_targets(session: Session, rules: Sequence[Rule]) -> dict[str, str]:
    """What the rules act on in words, by their target text ("product 7" -> "Heart Lantern
    (SKU 85123A)"), so a merchandiser can tell which product or category a rule is about."""
    product_ids = {r.product_id for r in rules if r.product_id is not None}
    category_ids = {r.category_id for r in rules if r.category_id is not None}
    products = {
        pid: f"{name} (SKU {sku})"
        for pid, name, sku in session.execute(
            select(Product.id, Product.name, Product.sku).where(Product.id.in_(product_ids))
        )
    }
    categories = {
        cid: name
        for cid, name in session.execute(
            select(Category.id, Category.name).where(Category.id.in_(category_ids))
        )
    }
    found: dict[str, str] = {}
    for rule in rules:
        if rule.product_id is not None:
            words = products.get(rule.product_id, "a product that no longer exists")
        elif rule.category_id is not None:
            words = categories.get(rule.category_id, "a category that no longer exists")
        else:
            continue
        found[rule.target_text()] = words
    return found


def product_by_reference(session: Session, reference: str) -> int | None:
    """A product id from an id or a SKU as typed in a form; None when nothing matches."""
    reference = reference.strip()
    if not reference:
        return None
    found = session.scalar(
        select(Product.id).where(Product.sku.in_({reference, reference.upper()})).limit(1)
    )
    product_id = parse_id(reference)
    if found is None and product_id is not None:
        found = session.scalar(select(Product.id).where(Product.id == product_id))
    if found is None:
        raise EditError("product", f"There is no product with id or SKU {reference!r}.")
    return found
