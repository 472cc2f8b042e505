"""The number of SQL statements a page sends does not grow with the rows it shows.

Each test builds a page with a few rows (SMALL) of the thing it lists, counts the statements
one request of it sends, adds more rows (to LARGE in all) and counts again. A count that
grows with the rows is an N+1: a query per row where one query (or one per table) would do.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from loyalty import ledger
from loyalty.models import FavouriteCategory, Tier, TierChange
from shop.accounts.models import Address, User
from shop.catalog.models import Category, Product
from shop.console.audit import Actor
from shop.console.models import AuditEntry
from shop.db import db, utcnow
from shop.merchandising import editing
from shop.merchandising.config import PlacementSettings
from shop.merchandising.models import Experiment
from shop.orders.models import Order, OrderStatusChange
from shop.payments.models import SavedCard
from shop.personalization import service
from shop.recommendation_data import Shopper
from shop.recommendation_models import Impression
from shop.recommendation_types import Serving
from shop.tracking.models import Event
from tests import factories
from tests.console_support import client_as
from tests.helpers import CHECKOUT_FORM, csrf_token, sign_in, signed_in, signed_in_member

SMALL = 3
LARGE = 18


@contextmanager
def counted() -> Iterator[list[str]]:
    """Collect every SQL statement the app's engine sends inside the block."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = db.engine
    assert engine is not None
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def statements(client: FlaskClient, path: str, status: int = 200) -> tuple[int, str]:
    """How many statements one GET of `path` sends, and the page."""
    with counted() as seen:
        response = client.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == status, page[:500]
    return len(seen), page


def grows(
    session: Session,
    client: FlaskClient,
    path: str,
    add: Callable[[int], object],
    shown: str | None = None,
) -> list[int]:
    """The statement counts of `path` with SMALL rows added by `add`, then with LARGE; with
    `shown`, the page must show it more often with more rows (the rows really are on it).

    A first GET, before any rows, loads what the app reads once (the recommender's model,
    settings); each counted GET is the first after rows were added, so what is cached per
    shopper or per product is read afresh, as on a real visit after a change.
    """
    statements(client, path)
    counts, seen = [], []
    for more in (SMALL, LARGE - SMALL):
        # SQLite: a snapshot left open since the last request could not write any more.
        session.rollback()
        add(more)
        count, page = statements(client, path)
        counts.append(count)
        seen.append(page.count(shown) if shown else 0)
    if shown:
        assert seen[1] > seen[0] > 0, f"{shown!r} shown {seen[0]}, then {seen[1]} times"
    return counts


def warm(client: FlaskClient, path: str, status: int = 200) -> int:
    """The statements of a second GET of `path` (the first one warms the caches)."""
    statements(client, path, status)
    return statements(client, path, status)[0]


def _products(session: Session, count: int, cat: Category | None = None) -> list[Product]:
    """`count` new sellable products, committed."""
    cat = cat or session.scalar(select(Category).limit(1)) or factories.category(session)
    made = []
    for _ in range(count):
        tag = uuid.uuid4().hex[:8]
        made.append(factories.product(session, cat, sku=f"Q{tag}", name=f"Query item {tag}"))
    session.commit()
    return made


def _user_id(session: Session, email: str = "ann@example.com") -> int:
    found = session.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return found


def _add_to_cart(client: FlaskClient, products: list[Product]) -> None:
    token = csrf_token(client, "/cart")
    for product in products:
        response = client.post(
            "/cart/add", data={"csrf_token": token, "product_id": product.id, "quantity": 1}
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:500]


def _orders(session: Session, owner: User | None, count: int, lines: int = 2) -> list[Order]:
    """`count` delivered orders of `lines` lines each, committed."""
    made = []
    for _ in range(count):
        items = [(product, 1) for product in _products(session, lines)]
        made.append(factories.order(session, owner, f"Q{uuid.uuid4().hex[:10]}", items))
    session.commit()
    return made


# --- storefront ----------------------------------------------------------------------------


def test_home_page_for_a_visitor(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    assert_flat(grows(session, client, "/", lambda n: _products(session, n), "Query item"))


def test_home_page_for_a_member_with_a_history(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    client = app.test_client()
    session.commit()  # SQLite: no read snapshot of ours left open while signing in writes
    sign_in(client, trained[0].email or "", factories.PASSWORD)
    assert "Recommended for you" in client.get("/").get_data(as_text=True)

    def viewed(count: int) -> None:
        rows = [
            {"kind": "product_view", "visitor_id": "v-member", "user_id": trained[0].id,
             "product_id": product.id, "created_at": utcnow()}
            for product in _products(session, count)
        ]  # fmt: skip
        session.execute(insert(Event), rows)
        session.commit()

    assert_flat(grows(session, client, "/", viewed, "Query item"))


def test_category_page(client: FlaskClient, session: Session) -> None:
    cat = factories.category(session)
    session.commit()
    assert_flat(
        grows(session, client, f"/c/{cat.slug}", lambda n: _products(session, n, cat), "Query item")
    )


def test_product_page_with_also_bought(
    client: FlaskClient, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    path = f"/products/{shop['jumbo'].id}"
    assert "Often bought with Jumbo Bag" in client.get(path).get_data(as_text=True)
    assert_flat(grows(session, client, path, lambda n: _products(session, n)))


def test_search_results(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    assert_flat(
        grows(session, client, "/search?q=query", lambda n: _products(session, n), "Query item")
    )


def test_cart_with_many_lines(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    _add_to_cart(client, [items["heart"]])  # so the first GET fills the caches a cart uses
    add = lambda n: _add_to_cart(client, _products(session, n))  # noqa: E731
    assert_flat(grows(session, client, "/cart", add, "Query item"))


def _sign_in_statements(app: Flask, session: Session, lines: int) -> int:
    """Statements of signing in with a visitor cart of `lines` lines (merged into the
    account's cart)."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    session.rollback()
    factories.user(session, email)
    session.commit()
    client = app.test_client()
    _add_to_cart(client, _products(session, lines))
    token = csrf_token(client, "/account/login")
    form = {"csrf_token": token, "email": email, "password": factories.PASSWORD}
    with counted() as seen:
        response = client.post("/account/login", data=form)
    assert response.status_code == 302
    page = client.get("/cart").get_data(as_text=True)
    assert page.count("Query item") >= lines
    return len(seen)


def test_signing_in_merges_a_long_visitor_cart(app: Flask, session: Session) -> None:
    factories.small_catalogue(session)
    _sign_in_statements(app, session, 1)  # the first sign-in reads what is read once
    assert_flat([_sign_in_statements(app, session, n) for n in (SMALL, LARGE)])


def _checkout_counts(app: Flask, session: Session, lines: int) -> dict[str, int]:
    """Statements of each checkout step for a guest with `lines` cart lines: the pages, the
    order placed ("place") and the confirmation page of the order once paid."""
    client = app.test_client()
    session.rollback()
    _add_to_cart(client, _products(session, lines))
    counts = {"/checkout": warm(client, "/checkout")}
    token = csrf_token(client, "/checkout")
    assert client.post("/checkout", data={**CHECKOUT_FORM, "csrf_token": token}).status_code == 302
    counts["/checkout/shipping"] = warm(client, "/checkout/shipping")
    response = client.post("/checkout/shipping", data={"csrf_token": token, "method": "standard"})
    assert response.status_code == 302
    counts["/checkout/review"] = warm(client, "/checkout/review")
    review = client.get("/checkout/review").get_data(as_text=True)
    fields = dict(
        re.findall(r'name="(token|total|fingerprint)" type="hidden" value="([^"]*)"', review)
    )
    with counted() as seen:
        placed = client.post("/checkout/place", data={"csrf_token": token, **fields})
    assert placed.status_code == 302, placed.get_data(as_text=True)[:500]
    counts["place"] = len(seen)
    pay = placed.headers["Location"]
    # No payment gateway in these tests: the page says so (503) after reading the order.
    counts["pay"] = warm(client, pay, status=503)
    session.rollback()
    order = session.scalar(select(Order).order_by(Order.id.desc()).limit(1))
    assert order is not None and len(order.lines) == lines
    order.status = "paid"
    session.commit()
    counts["confirmation"] = warm(client, f"/orders/{order.access_token}")
    return counts


def test_each_checkout_step_and_the_confirmation(app: Flask, session: Session) -> None:
    factories.small_catalogue(session)
    small = _checkout_counts(app, session, SMALL)
    large = _checkout_counts(app, session, LARGE)
    # Placing the order takes each line's stock with its own conditional UPDATE (in product
    # order, so two orders never lock in opposite orders): one statement per line, by design.
    # On SQLite the ORM also sends one INSERT ... RETURNING id per order line; on PostgreSQL
    # one INSERT for them all.
    per_line = 2 if db.is_sqlite else 1
    assert large.pop("place") - small.pop("place") == per_line * (LARGE - SMALL)
    assert small == large


# --- account -------------------------------------------------------------------------------


def test_account_orders_list(app: Flask, session: Session) -> None:
    client = signed_in(app, session)
    owner = session.get(User, _user_id(session))
    assert_flat(
        grows(
            session, client, "/account", lambda n: _orders(session, owner, n), "/account/orders/Q"
        )
    )


def test_one_account_order(app: Flask, session: Session) -> None:
    client = signed_in(app, session)
    owner = session.get(User, _user_id(session))
    small, large = (_orders(session, owner, 1, lines)[0] for lines in (SMALL, LARGE))
    counts = [warm(client, f"/account/orders/{o.number}") for o in (small, large)]
    assert_flat(counts)


def test_address_book(app: Flask, session: Session) -> None:
    client = signed_in(app, session)
    user_id = _user_id(session)

    def add(count: int) -> None:
        for i in range(count):
            session.add(
                Address(user_id=user_id, name=f"A {i}", line1="1 High St", city="York",
                        postcode="YO1 7HH", country="United Kingdom")
            )  # fmt: skip
        session.commit()

    assert_flat(grows(session, client, "/account/addresses", add, "1 High St"))


def test_saved_cards(app: Flask, session: Session) -> None:
    client = signed_in(app, session)
    user_id = _user_id(session)

    def add(count: int) -> None:
        for _ in range(count):
            tag = uuid.uuid4().hex
            session.add(
                SavedCard(user_id=user_id, payment_method_id=f"pm_{tag}", last4="4242",
                          exp_month=12, exp_year=2030, fingerprint=tag)
            )  # fmt: skip
        session.commit()

    assert_flat(grows(session, client, "/account/cards", add, "4242"))


def _history(session: Session, member_id: int) -> Callable[[int], None]:
    """A function adding ledger entries and tier changes to a member's history."""

    def add(count: int) -> None:
        low, high = session.scalars(select(Tier.id).order_by(Tier.rank).limit(2))
        for i in range(count):
            ledger.append(session, member_id, 10, "adjust", uuid.uuid4().hex[:20])
            up = i % 2 == 0
            session.add(
                TierChange(membership_id=member_id, from_tier_id=low if up else high,
                           to_tier_id=high if up else low, reason="review")
            )  # fmt: skip
        session.commit()

    return add


def test_member_page_with_a_long_history(app: Flask, session: Session) -> None:
    client, member_id = signed_in_member(app, session)
    add = _history(session, member_id)
    assert_flat(grows(session, client, "/account/loyalty", add, 'data-testid="points-row"'))


def test_preferences(app: Flask, session: Session) -> None:
    client, _ = signed_in_member(app, session)
    user_id = _user_id(session)

    def add(count: int) -> None:
        for _ in range(count):
            cat = factories.category(session, f"c{uuid.uuid4().hex[:8]}", "Things")
            session.add(FavouriteCategory(user_id=user_id, category_id=cat.id))
        session.commit()

    assert_flat(grows(session, client, "/account/preferences", add, "Things"))


def test_data_export(app: Flask, session: Session) -> None:
    client = signed_in(app, session)
    owner = session.get(User, _user_id(session))
    assert_flat(
        grows(
            session,
            client,
            "/account/privacy/export",
            lambda n: _orders(session, owner, n),
            "Query item",
        )
    )


# --- console -------------------------------------------------------------------------------


def test_console_products_list(app: Flask, session: Session) -> None:
    client = client_as(app, session, "merchandiser")
    assert_flat(
        grows(session, client, "/console/products/", lambda n: _products(session, n), "Query item")
    )


def test_console_orders_list(app: Flask, session: Session) -> None:
    client = client_as(app, session, "admin")
    owner = factories.user(session, "buyer@example.com")
    session.commit()
    assert_flat(
        grows(
            session, client, "/console/orders/", lambda n: _orders(session, owner, n), "customer "
        )
    )


def test_console_order_with_a_long_timeline(app: Flask, session: Session) -> None:
    client = client_as(app, session, "admin")
    (order,) = _orders(session, factories.user(session, "buyer@example.com"), 1)

    def add(count: int) -> None:
        for _ in range(count):
            session.add(OrderStatusChange(order_id=order.id, to_status="delivered", note="step"))
        session.commit()

    assert_flat(grows(session, client, f"/console/orders/{order.id}", add, "<td>step</td>"))
    small, large = (_orders(session, None, 1, lines)[0] for lines in (SMALL, LARGE))
    assert_flat([warm(client, f"/console/orders/{o.id}") for o in (small, large)])


def test_console_mail_outbox(app: Flask, session: Session) -> None:
    client = client_as(app, session, "admin")
    (order,) = _orders(session, None, 1)

    def add(count: int) -> None:
        for _ in range(count):
            factories.outbox_email(session, "failed", order_id=order.id, last_error="refused")
        session.commit()

    assert_flat(grows(session, client, "/console/orders/outbox", add, "Your order"))


def test_console_audit_log(app: Flask, session: Session) -> None:
    client = client_as(app, session, "admin")

    def add(count: int) -> None:
        for i in range(count):
            session.add(
                AuditEntry(actor_email="admin@example.com", action="product.update",
                           target=f"product {i}", before={"price": 1}, after={"price": 2})
            )  # fmt: skip
        session.commit()

    assert_flat(grows(session, client, "/console/audit", add, "product.update"))


def test_console_rules_list(app: Flask, session: Session) -> None:
    client = client_as(app, session, "merchandiser")
    actor = _actor(session, "merchandiser@example.com")

    def add(count: int) -> None:
        with app.app_context():
            for product in _products(session, count):
                rule = editing.RuleInput(type="never", product_id=product.id)
                editing.add_rule(session, actor, rule, {"home": 8})
            session.commit()

    assert_flat(grows(session, client, "/console/recommendations/rules", add, "Query item"))


def test_console_preview_for_one_shopper(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    client = client_as(app, session, "merchandiser")
    buyer = trained[0]

    def add(count: int) -> None:
        rows = [
            {"kind": "product_view", "visitor_id": "v-preview", "user_id": buyer.id,
             "product_id": product.id, "created_at": utcnow()}
            for product in _products(session, count)
        ]  # fmt: skip
        session.execute(insert(Event), rows)
        session.commit()

    path = f"/console/recommendations/preview?shopper={buyer.email}"
    assert_flat(grows(session, client, path, add))


def test_console_online_metrics(app: Flask, session: Session) -> None:
    client = client_as(app, session, "merchandiser")

    def add(count: int) -> None:
        rows = [
            {"rec_id": uuid.uuid4().hex, "placement": f"p{i % 6}", "model_version": "v1",
             "strategy": "personal", "variant": None, "visitor_id": "v", "user_id": None,
             "product_ids": [1, 2], "created_at": utcnow()}
            for i in range(count)
        ]  # fmt: skip
        session.execute(insert(Impression), rows)
        session.commit()

    assert_flat(grows(session, client, "/console/metrics/online", add))


def _experiment(key: str) -> Experiment:
    return Experiment(
        key=key,
        name=f"Test {key}",
        status="stopped",
        placements=["home"],
        variants=[
            {"key": "control", "label": "Best sellers", "kind": "popularity", "weight": 50},
            {"key": "other", "label": "Also best sellers", "kind": "popularity", "weight": 50},
        ],
        stopped_at=utcnow(),
    )


def test_console_experiments_list_and_results(app: Flask, session: Session) -> None:
    client = client_as(app, session, "merchandiser")

    def add(count: int) -> None:
        session.add_all(_experiment(uuid.uuid4().hex[:12]) for _ in range(count))
        session.commit()

    assert_flat(grows(session, client, "/console/experiments/", add, "Test "))
    experiment = _experiment("results")
    session.add(experiment)
    session.commit()

    def shown(count: int) -> None:
        rows = [
            {"rec_id": uuid.uuid4().hex, "placement": "home", "model_version": "popularity",
             "strategy": "popular", "variant": f"results:{('control', 'other')[i % 2]}",
             "visitor_id": f"v{i}", "user_id": None, "product_ids": [1],
             "created_at": experiment.started_at + timedelta(minutes=i)}
            for i in range(count)
        ]  # fmt: skip
        session.execute(insert(Impression), rows)
        session.commit()

    assert_flat(grows(session, client, f"/console/experiments/{experiment.id}", shown))


def test_console_loyalty_member_with_a_long_history(app: Flask, session: Session) -> None:
    _, member_id = signed_in_member(app, session)
    client = client_as(app, session, "admin")
    path = f"/console/loyalty/members/{member_id}"
    add = _history(session, member_id)
    assert_flat(grows(session, client, path, add, 'data-testid="points-row"'))


def test_console_loyalty_members(app: Flask, session: Session) -> None:
    client = client_as(app, session, "admin")

    def add(count: int) -> None:
        for _ in range(count):
            factories.member(session, f"m{uuid.uuid4().hex[:8]}@example.com", points=50)

    assert_flat(grows(session, client, "/console/loyalty/members/", add, "@example.com"))


def test_console_staff_list(app: Flask, session: Session) -> None:
    client = client_as(app, session, "admin")

    def add(count: int) -> None:
        for _ in range(count):
            factories.staff(session, "merchandiser", f"s{uuid.uuid4().hex[:8]}@example.com")
        session.commit()

    assert_flat(grows(session, client, "/console/staff", add, "@example.com"))


def test_console_model_versions(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    client = client_as(app, session, "merchandiser")

    def add(count: int) -> None:
        with app.app_context():
            for _ in range(count):
                service().train(db.session, activate=False)

    assert_flat(grows(session, client, "/console/recommendations/versions", add, "v"))


# --- the recommendation service ------------------------------------------------------------


def test_a_recommendation_list_reads_its_products_at_once(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    counts = []
    with app.app_context():
        recs = service()
        live = recs.default_config()
        model = recs.model()
        for size in (1, 3):
            placements = {**live.placements, "product": PlacementSettings(size)}
            serving = Serving(replace(live, placements=placements), model)
            recs.for_product(db.session, Shopper("v-warm"), shop["jumbo"].id, serving=serving)
            recs._card_cache.clear()  # so the shown products' names and prices are read
            db.session.remove()  # and the list's own product too
            with counted() as seen:
                shown = recs.for_product(
                    db.session, Shopper(f"v-{size}"), shop["jumbo"].id, serving=serving
                )
            assert len(shown.items) == size
            counts.append(len(seen))
    assert_flat(counts)


def _actor(session: Session, email: str) -> Actor:
    return Actor(_user_id(session, email), email)


def assert_flat(counts: list[int]) -> None:
    """The same number of statements with few rows as with many."""
    assert counts[0] == counts[1], f"{counts[0]} statements with few rows, {counts[1]} with many"
