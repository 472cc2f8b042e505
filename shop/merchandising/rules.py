"""Applying merchandising rules to a scored list (pure: no database, no Flask).

Order, so that each rule sees what the earlier ones left:

1. **never recommend** and **exclude** remove items;
2. **boost** and **bury** multiply or divide scores, then the list is re-sorted;
3. **diversity** keeps at most N items per category, best first;
4. **pins** put a product at a position (1 = first), moving it if it is already listed;
5. the list is cut to its size.

A pin wins over diversity (the merchandiser asked for that product there), but never over
"never recommend" or an exclusion. A rule that cannot apply (a pinned product that is
inactive or out of stock, a slot already taken by an earlier pin) is skipped and reported
in `Outcome.skipped`; it never breaks the list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from shop.merchandising.config import Rule


@dataclass(frozen=True)
class Candidate:
    """A scored product as the model (or popularity) returned it."""

    product_id: int
    score: float
    reason: str
    reason_code: str
    category_id: int | None
    moved_by: tuple[str, ...] = field(default=())

    def moved(self, label: str) -> Candidate:
        """The same item, noting a rule that moved it."""
        return replace(self, moved_by=(*self.moved_by, label))


@dataclass(frozen=True)
class Outcome:
    """The list after the rules, and the rules that were skipped with why."""

    items: list[Candidate]
    skipped: list[tuple[Rule, str]]


def _matches(rule: Rule, item: Candidate) -> bool:
    if rule.product_id is not None:
        return item.product_id == rule.product_id
    if rule.category_id is not None:
        return item.category_id == rule.category_id
    return False


def _scaled(score: float, factor: float) -> float:
    # Multiplying a negative score by a boost would push it down: scale its distance instead.
    return score * factor if score >= 0 else score / factor


def apply_rules(
    candidates: Sequence[Candidate],
    rules: Sequence[Rule],
    size: int,
    pinnable: Mapping[int, Candidate] | None = None,
) -> Outcome:
    """Apply the active rules of one placement (already filtered by date and placement).

    `pinnable` holds a candidate for each sellable pinned product that the model did not
    return, so a pin can bring in any sellable product.
    """
    pinnable = pinnable or {}
    skipped: list[tuple[Rule, str]] = []
    removing = [r for r in rules if r.type in ("never", "exclude")]
    items = [c for c in candidates if not any(_matches(r, c) for r in removing)]

    for rule in rules:
        if rule.type not in ("boost", "bury"):
            continue
        if not rule.factor or rule.factor <= 0:
            skipped.append((rule, "the factor must be greater than 0"))
            continue
        factor = rule.factor if rule.type == "boost" else 1 / rule.factor
        items = [
            replace(c, score=_scaled(c.score, factor)).moved(rule.label())
            if _matches(rule, c)
            else c
            for c in items
        ]
    items.sort(key=lambda c: -c.score)
    # A pin may bring back an item that diversity drops.
    pinnable = {**pinnable, **{c.product_id: c for c in items}}

    for rule in rules:
        if rule.type != "diversity":
            continue
        if not rule.max_per_category or rule.max_per_category < 1:
            skipped.append((rule, "the limit per category must be at least 1"))
            continue
        seen: dict[int | None, int] = {}
        kept = []
        for item in items:
            count = seen.get(item.category_id, 0)
            if item.category_id is not None and count >= rule.max_per_category:
                continue
            seen[item.category_id] = count + 1
            kept.append(item)
        items = kept

    items = _pin(items, rules, removing, pinnable, size, skipped)
    return Outcome(items[:size], skipped)


def _pin(
    items: list[Candidate],
    rules: Sequence[Rule],
    removing: Sequence[Rule],
    pinnable: Mapping[int, Candidate],
    size: int,
    skipped: list[tuple[Rule, str]],
) -> list[Candidate]:
    pins: dict[int, Candidate] = {}
    for rule in rules:
        if rule.type != "pin":
            continue
        position = rule.position or 0
        if rule.product_id is None or not 1 <= position <= size:
            skipped.append((rule, f"the position must be between 1 and {size}"))
            continue
        if position in pins:
            skipped.append((rule, f"position {position} is already pinned by an earlier rule"))
            continue
        if any(p.product_id == rule.product_id for p in pins.values()):
            skipped.append((rule, "the product is already pinned by an earlier rule"))
            continue
        found = pinnable.get(rule.product_id)
        if found is None:
            why = "the product is not on sale (inactive, out of stock or not launched yet)"
            skipped.append((rule, why))
            continue
        if any(_matches(r, found) for r in removing):
            skipped.append((rule, "the product is excluded or on the never-recommend list"))
            continue
        pins[position] = found.moved(rule.label())
    if not pins:
        return items
    pinned_ids = {c.product_id for c in pins.values()}
    rest = iter(c for c in items if c.product_id not in pinned_ids)
    merged: list[Candidate] = []
    for slot in range(1, size + 1):
        item = pins.get(slot) or next(rest, None)
        if item is not None:
            merged.append(item)
    return merged
