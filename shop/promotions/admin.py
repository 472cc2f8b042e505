"""Discount codes in the console: the list with what each code brought in, creating,
editing, switching off and on, and deleting a code no order ever used.

Plain functions that take a session; every change adds an audit entry to the caller's
transaction, so the change and its record commit (or roll back) together. The rules a
shopper's code is checked against are in `shop.promotions.codes`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.console import audit
from shop.console.catalog_admin import PRICE_RE
from shop.money import format_money, plain_amount
from shop.orders import states
from shop.orders.models import Order
from shop.promotions.codes import (
    ACTIVE,
    CODE_PATTERN,
    CODE_RULE,
    ENDED,
    SCHEDULED,
    SWITCHED_OFF,
    USED_UP,
    describe,
    normalise,
    status,
)
from shop.promotions.models import AMOUNT, FREE_DELIVERY, PERCENT, PromoCode
from shop.wording import percent_text

KINDS = {
    PERCENT: "Percentage off the goods",
    AMOUNT: "Amount off the goods",
    FREE_DELIVERY: "Free standard delivery",
}
DESCRIPTION_MAX = 200
MAX_PERCENT_BP = 10_000  # 100%
MAX_AMOUNT_PENCE = 1_000_000  # £10,000.00
MAX_MIN_SPEND_PENCE = 10_000_000  # £100,000.00, the dearest product price
MAX_USES = 10_000_000
PERCENT_RE = re.compile(r"([0-9]{1,3})(?:\.([0-9]{1,2}))?")

STATUS_LABELS = {
    ACTIVE: "Active",
    SCHEDULED: "Scheduled",
    ENDED: "Ended",
    USED_UP: "Used up",
    SWITCHED_OFF: "Switched off",
}

PERCENT_MESSAGE = "Enter a percentage from 0.01 to 100, such as 10 or 12.5."
AMOUNT_MESSAGE = "Enter an amount from £0.01 to £10,000, such as 5 or 4.50."
MIN_SPEND_MESSAGE = "Enter an amount in pounds, such as 30 or 49.99, or leave it empty."


class PromoInvalid(ValueError):
    """Values a code cannot have; `errors` maps each form field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


class PromoNotFound(LookupError):
    """There is no discount code with that id."""


class PromoInUse(ValueError):
    """A code that orders used (or hold now) cannot be deleted; the message says what to do."""


class PromoChanged(ValueError):
    """The code was saved by someone else after its edit form was opened, so nothing was
    saved. `theirs` are the form fields changed meanwhile that this form left as opened
    (the form should now show the saved value), `clashes` those both changed (the typed
    value stays in the form to be checked)."""

    def __init__(self, theirs: list[str], clashes: list[str]) -> None:
        super().__init__(
            "Someone saved this code after you opened this page, so nothing was saved. The "
            "form now shows their changes and keeps yours: check the fields marked and save "
            "again."
        )
        self.theirs = theirs
        self.clashes = clashes


# --- parsing single values -------------------------------------------------------------


def parse_pounds(text: str) -> int:
    """Pounds as typed ('5', '£4.50', '10.5') to pence, zero allowed; ValueError otherwise.

    The same shape as a product's price in the catalogue (up to two decimal places)."""
    match = PRICE_RE.match(text.strip())
    if not match:
        raise ValueError(f"{text.strip()[:40]!r} is not an amount in pounds")
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def parse_amount(text: str) -> int:
    """The amount off in pence: more than £0 and at most £10,000; ValueError with a message."""
    try:
        pence = parse_pounds(text)
    except ValueError:
        raise ValueError(AMOUNT_MESSAGE) from None
    if not 0 < pence <= MAX_AMOUNT_PENCE:
        raise ValueError(AMOUNT_MESSAGE)
    return pence


def parse_min_spend(text: str) -> int:
    """The minimum spend in pence (empty: none, 0); ValueError with a message."""
    if not text.strip():
        return 0
    try:
        pence = parse_pounds(text)
    except ValueError:
        raise ValueError(MIN_SPEND_MESSAGE) from None
    if pence > MAX_MIN_SPEND_PENCE:
        raise ValueError(f"Use a minimum spend of at most {format_money(MAX_MIN_SPEND_PENCE)}.")
    return pence


def parse_percent(text: str) -> int:
    """A percentage as typed ('10', '12.5', '12.5%') in basis points, from 0.01% to 100%;
    ValueError with a message."""
    match = PERCENT_RE.fullmatch(text.strip().removesuffix("%").strip())
    if not match:
        raise ValueError(PERCENT_MESSAGE)
    basis_points = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if not 0 < basis_points <= MAX_PERCENT_BP:
        raise ValueError(PERCENT_MESSAGE)
    return basis_points


def check_code(raw: str) -> str:
    """The code as stored (see `codes.normalise`); ValueError when it is not a valid one."""
    code = normalise(raw)
    if not code:
        raise ValueError("Enter a code.")
    if not CODE_PATTERN.fullmatch(code):
        raise ValueError(CODE_RULE)
    return code


def percent_input(basis_points: int | None) -> str:
    """Basis points as the form shows them: 1250 is "12.5" ("" for none)."""
    return "" if basis_points is None else percent_text(basis_points).removesuffix("%")


def pounds_input(pence: int | None) -> str:
    """Pence as the form shows them: 450 is "4.50" ("" for none)."""
    return "" if pence is None else plain_amount(pence)


# --- the list --------------------------------------------------------------------------


@dataclass(frozen=True)
class PromoRow:
    """One code on the list, with its paid orders: how many, what the code took off them
    and what the customers paid (totals less refunds)."""

    promo: PromoCode
    gives: str  # what the code gives, in words (see `codes.describe`)
    status: str
    orders: int
    discount_pence: int
    paid_pence: int

    @property
    def status_label(self) -> str:
        """The status as shown."""
        return STATUS_LABELS[self.status]


def promo_rows(session: Session, now: datetime) -> list[PromoRow]:
    """Every code, newest first, with its paid orders' figures (one query)."""
    figures = (
        select(
            Order.promo_code_id.label("promo_id"),
            func.count(Order.id).label("orders"),
            func.sum(Order.promo_discount_pence).label("discount"),
            func.sum(Order.total_pence - Order.refunded_pence).label("paid"),
        )
        .where(Order.promo_code_id.is_not(None), Order.status.in_(states.WERE_PAID))
        .group_by(Order.promo_code_id)
        .subquery()
    )
    rows = session.execute(
        select(PromoCode, figures.c.orders, figures.c.discount, figures.c.paid)
        .outerjoin(figures, figures.c.promo_id == PromoCode.id)
        .order_by(PromoCode.created_at.desc(), PromoCode.id.desc())
    ).all()
    return [
        PromoRow(promo, describe(promo), status(promo, now), n or 0, int(off or 0), int(paid or 0))
        for promo, n, off, paid in rows
    ]


def get_promo(session: Session, promo_id: int) -> PromoCode | None:
    """The code with this id, or None."""
    return session.get(PromoCode, promo_id)


def ever_used(session: Session, promo: PromoCode) -> bool:
    """True when an order holds or used the code, or ever referred to it."""
    if promo.uses > 0:
        return True
    referring = select(Order.id).where(Order.promo_code_id == promo.id).limit(1)
    return session.scalar(referring) is not None


# --- creating and editing --------------------------------------------------------------


@dataclass(frozen=True)
class PromoValues:
    """What a code gives and when: everything but its code and kind, which never change.

    `percent_bp` is set for a percentage code only and `amount_pence` for an amount code
    only; times are naive UTC."""

    description: str = ""
    percent_bp: int | None = None
    amount_pence: int | None = None
    min_subtotal_pence: int = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    max_uses: int | None = None
    once_per_customer: bool = False


def snapshot(promo: PromoCode) -> dict[str, Any]:
    """The audited fields of a code as plain JSON-able values."""
    return {
        "code": promo.code,
        "kind": promo.kind,
        "description": promo.description,
        "percent_bp": promo.percent_bp,
        "amount_pence": promo.amount_pence,
        "min_subtotal_pence": promo.min_subtotal_pence,
        "starts_at": promo.starts_at.isoformat() if promo.starts_at else None,
        "ends_at": promo.ends_at.isoformat() if promo.ends_at else None,
        "max_uses": promo.max_uses,
        "once_per_customer": promo.once_per_customer,
        "active": promo.active,
    }


# The snapshot's editable values and the edit form's field for each.
EDIT_FIELDS = {
    "description": "description",
    "percent_bp": "percent",
    "amount_pence": "amount",
    "min_subtotal_pence": "min_spend",
    "starts_at": "starts_at",
    "ends_at": "ends_at",
    "max_uses": "max_uses",
    "once_per_customer": "once_per_customer",
}


def _editable(saved: dict[str, Any]) -> dict[str, Any]:
    return {name: saved[name] for name in EDIT_FIELDS}


def edit_stamp(promo: PromoCode) -> str:
    """The code's editable values as JSON, carried by the edit form to spot later changes."""
    return json.dumps(_editable(snapshot(promo)), sort_keys=True)


def _conflict(promo: PromoCode, opened: str, typed: PromoValues) -> PromoChanged | None:
    """What was saved since the form showed `opened` (None: nothing), split by whether the
    form changed the same field too. A form that did not say what it showed clashes on
    every field it would change."""
    now = _editable(snapshot(promo))
    draft = PromoCode(code=promo.code, kind=promo.kind)
    _apply(draft, promo.kind, typed)
    mine = _editable(snapshot(draft))
    try:
        then = json.loads(opened)
    except ValueError:
        then = None
    if not isinstance(then, dict):
        clashes = [field for name, field in EDIT_FIELDS.items() if mine[name] != now[name]]
        return PromoChanged([], clashes) if clashes else None
    moved = [name for name in EDIT_FIELDS if then.get(name) != now[name]]
    if not moved:
        return None
    theirs = [EDIT_FIELDS[name] for name in moved if mine[name] == then.get(name)]
    clashes = [EDIT_FIELDS[name] for name in moved if mine[name] != then.get(name)]
    return PromoChanged(theirs, clashes)


def _problems(kind: str, values: PromoValues) -> dict[str, str]:
    """What is wrong with the values for a code of this kind, by form field."""
    errors: dict[str, str] = {}
    if len(values.description) > DESCRIPTION_MAX:
        errors["description"] = f"At most {DESCRIPTION_MAX} characters."
    if kind == PERCENT and not 0 < (values.percent_bp or 0) <= MAX_PERCENT_BP:
        errors["percent"] = PERCENT_MESSAGE
    if kind == AMOUNT and not 0 < (values.amount_pence or 0) <= MAX_AMOUNT_PENCE:
        errors["amount"] = AMOUNT_MESSAGE
    if not 0 <= values.min_subtotal_pence <= MAX_MIN_SPEND_PENCE:
        errors["min_spend"] = MIN_SPEND_MESSAGE
    if values.starts_at and values.ends_at and values.ends_at <= values.starts_at:
        errors["ends_at"] = "The end must be after the start."
    if values.max_uses is not None and not 1 <= values.max_uses <= MAX_USES:
        errors["max_uses"] = f"Use a whole number from 1 to {MAX_USES:,}, or leave it empty."
    return errors


def _apply(promo: PromoCode, kind: str, values: PromoValues) -> None:
    promo.description = values.description
    promo.percent_bp = values.percent_bp if kind == PERCENT else None
    promo.amount_pence = values.amount_pence if kind == AMOUNT else None
    promo.min_subtotal_pence = values.min_subtotal_pence
    promo.starts_at = values.starts_at
    promo.ends_at = values.ends_at
    promo.max_uses = values.max_uses
    promo.once_per_customer = values.once_per_customer


def _taken_message(code: str) -> str:
    return f"There is already a code {code}; choose another."


def _code_taken(session: Session, code: str) -> bool:
    return session.scalar(select(PromoCode.id).where(PromoCode.code == code)) is not None


def create_promo(
    session: Session,
    actor: audit.Actor,
    raw_code: str,
    kind: str,
    values: PromoValues,
    *,
    now: datetime,
) -> PromoCode:
    """Add a switched-on code (the code in any case, with spaces); PromoInvalid otherwise,
    also when another request took the code a moment ago."""
    errors = _problems(kind, values)
    try:
        code = check_code(raw_code)
    except ValueError as exc:
        errors["code"] = str(exc)
        code = ""
    if kind not in KINDS:
        errors["kind"] = "Choose what the code gives."
    if values.ends_at is not None and values.ends_at <= now and "ends_at" not in errors:
        errors["ends_at"] = "That time has passed: choose a later end, or leave it empty."
    if code and _code_taken(session, code):
        errors["code"] = _taken_message(code)
    if errors:
        raise PromoInvalid(errors)
    promo = PromoCode(code=code, kind=kind, active=True, uses=0, created_by_email=actor.email)
    _apply(promo, kind, values)
    try:
        with session.begin_nested():
            session.add(promo)
    except IntegrityError as exc:  # another request created the same code meanwhile
        raise PromoInvalid({"code": _taken_message(code)}) from exc
    audit.record(session, actor, "promotions.create", f"code {code}", None, snapshot(promo))
    return promo


def _locked(session: Session, promo_id: int) -> PromoCode:
    """The code's row, locked until the caller commits (checkouts take uses meanwhile)."""
    promo = session.get(PromoCode, promo_id, with_for_update=True, populate_existing=True)
    if promo is None:
        raise PromoNotFound(promo_id)
    return promo


def update_promo(
    session: Session, actor: audit.Actor, promo_id: int, values: PromoValues, *, opened: str
) -> list[str]:
    """Save an edit of a code and audit the difference; return the changed fields' names.

    `opened` is the code's `edit_stamp` when the form was opened. PromoNotFound for an
    unknown id, PromoChanged when someone saved the code since (then nothing is saved),
    PromoInvalid for values it cannot have (a use limit below the uses so far among
    them)."""
    promo = _locked(session, promo_id)
    conflict = _conflict(promo, opened, values)
    if conflict is not None:
        raise conflict
    errors = _problems(promo.kind, values)
    if values.max_uses is not None and values.max_uses < promo.uses and "max_uses" not in errors:
        errors["max_uses"] = (
            f"{promo.uses:,} {'order has' if promo.uses == 1 else 'orders have'} used this "
            f"code or hold it now: the limit cannot be lower than {promo.uses:,}."
        )
    if errors:
        raise PromoInvalid(errors)
    before = snapshot(promo)
    _apply(promo, promo.kind, values)
    old, new = audit.changed(before, snapshot(promo))
    if new:
        session.flush()
        audit.record(session, actor, "promotions.update", f"code {promo.code}", old, new)
    return list(new)


def switch(
    session: Session, actor: audit.Actor, promo_id: int, *, on: bool
) -> tuple[PromoCode, bool]:
    """Switch the code on or off; return it and whether that changed anything (a
    second click changes nothing and is not audited again).

    Off, it stops applying at once: carts are priced, and orders placed, against `active`."""
    promo = _locked(session, promo_id)
    if promo.active == on:
        return promo, False
    promo.active = on
    session.flush()
    action = "promotions.switch_on" if on else "promotions.switch_off"
    audit.record(session, actor, action, f"code {promo.code}", {"active": not on}, {"active": on})
    return promo, True


def delete_promo(session: Session, actor: audit.Actor, promo_id: int) -> str:
    """Delete a code no order ever used and return it; PromoInUse for any other code."""
    promo = _locked(session, promo_id)
    if ever_used(session, promo):
        raise PromoInUse(
            f"The code {promo.code} has been used on orders, so it stays for their records "
            "and its figures. Switch it off instead: it then stops applying at once."
        )
    code, before = promo.code, snapshot(promo)
    session.delete(promo)
    session.flush()
    audit.record(session, actor, "promotions.delete", f"code {code}", before, None)
    return code
