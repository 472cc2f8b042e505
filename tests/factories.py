"""Small builders for test data, written through the models (never the real dataset)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from loyalty import ledger, membership, tiers
from loyalty.models import Membership, Tier
from shop.accounts.models import User
from shop.catalog.models import Category, Product
from shop.db import db
from shop.mail.models import OutboxEmail
from shop.orders.models import Order, OrderLine
from shop.promotions.models import PERCENT, PromoCode

PASSWORD = "correct horse battery"
# One cheap hash reused by every test user (scrypt is slow by design).
_PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def category(session: Session, slug: str = "candles", name: str = "Candles & holders") -> Category:
    """Create a category."""
    cat = Category(slug=slug, name=name, position=0)
    session.add(cat)
    session.flush()
    return cat


def product(
    session: Session,
    cat: Category | None,
    *,
    sku: str,
    name: str,
    price: int = 295,
    stock: int = 10,
    orders: int = 0,
    description: str = "",
    active: bool = True,
) -> Product:
    """Create a product priced in pence."""
    item = Product(
        sku=sku,
        name=name,
        description=description or f"{name} from our range.",
        category_id=cat.id if cat else None,
        price_pence=price,
        stock_qty=stock,
        order_count=orders,
        active=active,
    )
    session.add(item)
    session.flush()
    return item


def user(session: Session, email: str = "ann@example.com", name: str = "Ann") -> User:
    """Create a customer who can sign in with PASSWORD."""
    account = User(email=email, name=name, password_hash=_PASSWORD_HASH)
    session.add(account)
    session.flush()
    return account


def order(
    session: Session, owner: User | None, number: str, items: list[tuple[Product, int]]
) -> Order:
    """Create a delivered order with the given (product, quantity) lines."""
    placed = Order(
        number=number,
        user_id=owner.id if owner else None,
        status="delivered",
        source="import",
        placed_at=datetime(2026, 11, 1, 10, 0),
    )
    for item, quantity in items:
        placed.lines.append(
            OrderLine(
                product_id=item.id,
                sku=item.sku,
                name=item.name,
                quantity=quantity,
                unit_price_pence=item.price_pence,
                line_total_pence=item.price_pence * quantity,
            )
        )
    placed.subtotal_pence = placed.total_pence = sum(line.line_total_pence for line in placed.lines)
    session.add(placed)
    session.flush()
    return placed


def bare_order(
    session: Session,
    number: str,
    placed_at: datetime,
    total: int,
    *,
    status: str = "paid",
    **fields: Any,
) -> Order:
    """Add an order without lines: a web sale of `total` pence unless `fields` say otherwise
    (kind="return" with a negative total for goods sent back); not committed."""
    values: dict[str, Any] = {"source": "web", "subtotal_pence": total, **fields}
    placed = Order(number=number, status=status, total_pence=total, placed_at=placed_at, **values)
    session.add(placed)
    session.flush()
    return placed


def outbox_email(session: Session, status: str = "sent", **fields: Any) -> OutboxEmail:
    """Add an outbox e-mail (an order confirmation to ann@example.com unless `fields` say
    otherwise) with the given status; not committed."""
    values: dict[str, Any] = {
        "message_id": f"<{uuid.uuid4().hex}@shop.test>",
        "kind": "order_confirmation",
        "to_address": "ann@example.com",
        "subject": "Your order",
        "text_body": "Thanks",
        "html_body": "<p>Thanks</p>",
    }
    email = OutboxEmail(**(values | fields), status=status)
    session.add(email)
    return email


def small_catalogue(session: Session) -> dict[str, Product]:
    """A few products in two categories, committed, for page tests."""
    candles = category(session, "candles", "Candles & holders")
    bags = category(session, "bags", "Bags")
    items = {
        "heart": product(
            session,
            candles,
            sku="85123A",
            name="White Hanging Heart T-Light Holder",
            price=295,
            stock=50,
            orders=120,
        ),
        "lantern": product(
            session, candles, sku="71053", name="White Metal Lantern", price=339, stock=3, orders=60
        ),
        "jumbo": product(
            session,
            bags,
            sku="85099B",
            name="Jumbo Bag Red Retrospot",
            price=195,
            stock=200,
            orders=300,
            description="A roomy red bag with white spots, good for candles too.",
        ),
        "lunch": product(
            session,
            bags,
            sku="20725",
            name="Lunch Bag Red Retrospot",
            price=165,
            stock=0,
            orders=90,
        ),
        "retired": product(
            session,
            bags,
            sku="99999",
            name="Retired Paper Bag",
            price=100,
            stock=5,
            orders=1,
            active=False,
        ),
    }
    session.commit()
    return items


def paid_order_with_address(
    session: Session, number: str = "HP-1001", email: str = "ann@example.com"
) -> Order:
    """Create a customer, two products and a paid web order with a delivery address."""
    owner = user(session, email=email, name="Ann")
    cat = category(session, f"mail-{number.lower()}", "Gifts")
    heart = product(
        session, cat, sku=f"{number}-H", name="White Hanging Heart T-Light Holder", price=295
    )
    bag = product(session, cat, sku=f"{number}-B", name="Jumbo Bag Red Retrospot", price=195)
    placed = order(session, owner, number, [(heart, 2), (bag, 1)])
    placed.status = "paid"
    placed.source = "web"
    placed.email = email
    placed.shipping_method = "standard"
    placed.shipping_pence = 395
    placed.total_pence = placed.subtotal_pence + placed.shipping_pence
    placed.ship_name = "Ann Example"
    placed.ship_line1 = "1 High Street"
    placed.ship_city = "York"
    placed.ship_postcode = "YO1 7HH"
    placed.country = "United Kingdom"
    session.flush()
    return placed


def staff(session: Session, role: str, email: str | None = None) -> User:
    """Create a console user ("admin" or "merchandiser") who signs in with PASSWORD."""
    account = user(session, email or f"{role}@example.com", role.capitalize())
    account.role = role
    session.flush()
    return account


def member(
    session: Session,
    email: str = "mia@example.com",
    *,
    points: int = 0,
    discount_bp: int = 0,
    free_shipping: bool = False,
    tier: str = "Member",
) -> User:
    """A customer with an active loyalty membership of a tier (created when new) and a
    starting points balance, committed."""
    account = user(session, email, email.split("@")[0].title())
    level = session.scalar(select(Tier).where(Tier.name == tier))
    if level is None:
        rank = (session.scalar(select(func.max(Tier.rank))) or 0) + 1
        level = Tier(
            name=tier,
            rank=rank,
            threshold=0,
            discount_bp=discount_bp,
            multiplier_pct=100,
            free_shipping=free_shipping,
        )
        session.add(level)
        session.flush()
    membership = Membership(
        user_id=account.id,
        number=f"M{account.id:07d}",
        tier_id=level.id,
        status="active",
        points_balance=0,
        terms_version="2026-11",
    )
    session.add(membership)
    session.flush()
    if points:
        ledger.append(session, membership.id, points, "adjust", "welcome")
    session.commit()
    return account


def joined(app: Flask, user_id: int) -> int:
    """Join the user to the programme through its own service, with the default tiers
    (£0 / £100 / £500 / £1,500); return the membership id."""
    with app.app_context(), db.transaction() as own:
        tiers.ensure_default_tiers(own)
        return membership.join(own, user_id, consent=True).membership.id


def promo_code(session: Session, code: str = "SAVE10", **fields: Any) -> PromoCode:
    """A switched-on discount code (10% off unless `fields` say otherwise), committed."""
    values: dict[str, Any] = {"kind": PERCENT, "percent_bp": 1000} | fields
    row = PromoCode(code=code, **values)
    session.add(row)
    session.commit()
    return row
