"""Recommendations in the shop: placements with reasons, impressions and click attribution,
fallbacks when the model is missing or broken, and hot-swapped versions."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.cart.models import CartItem
from shop.cart.services import CartOwner
from shop.catalog.models import Product
from shop.config import TestConfig
from shop.db import db, utcnow
from shop.merchandising.config import PlacementSettings
from shop.orders.models import OrderLine
from shop.personalization import service
from shop.recommendation_data import Shopper
from shop.recommendation_models import Impression
from shop.recommendation_types import PLACEMENTS, Serving
from shop.tracking.models import Event
from tests import factories
from tests.helpers import csrf_token, sign_in, sqlite_plans
from tests.recommendation_support import catalogue, history


def _section(html: str, placement: str) -> str:
    match = re.search(rf'data-testid="recs-{placement}".*?</section>', html, re.S)
    return match.group(0) if match else ""


def _sign_in(client: FlaskClient, email: str) -> None:
    token = csrf_token(client, "/account/login")
    response = client.post(
        "/account/login",
        data={"csrf_token": token, "email": email, "password": factories.PASSWORD},
    )
    assert response.status_code == 302


def test_a_new_visitor_sees_popular_items_and_a_customer_personal_ones(
    app: Flask, client: FlaskClient, shop: dict[str, Product], trained: list[User]
) -> None:
    home = _section(client.get("/").get_data(as_text=True), "home")
    assert "Popular right now" in home
    assert "Lunch Bag Red Retrospot" not in home  # out of stock: never recommended
    assert "Retired" not in home

    _sign_in(client, trained[0].email)
    page = client.get("/").get_data(as_text=True)
    personal = _section(page, "home")
    assert "Recommended for you" in personal
    assert re.search(r'rec-reason">Because you bought [A-Z]', personal)
    again = _section(page, "buy_again")
    assert "Buy it again" in again
    shown = re.findall(r'rec-reason">([^<]+)<', again)
    assert shown and set(shown) == {"You bought this before"}


def test_the_home_pages_two_lists_read_the_shoppers_history_once(
    app: Flask,
    client: FlaskClient,
    shop: dict[str, Product],
    trained: list[User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shop.recommendations as module

    reads: list[Shopper] = []
    real = module.shopper_interactions

    def counted(session: Session, shopper: Shopper, *args: Any) -> Any:
        reads.append(shopper)
        return real(session, shopper, *args)

    monkeypatch.setattr(module, "shopper_interactions", counted)
    _sign_in(client, trained[0].email)
    page = client.get("/").get_data(as_text=True)

    # Both lists were computed (neither was cached) from one read of the history.
    assert "Recommended for you" in _section(page, "home")
    assert "Buy it again" in _section(page, "buy_again")
    assert [shopper.user_id for shopper in reads] == [trained[0].id]
    client.get(f"/products/{shop['heart'].id}")  # a click: both lists are computed again
    assert "Recommended for you" in _section(client.get("/").get_data(as_text=True), "home")
    assert len(reads) == 2


def test_product_and_cart_placements_use_co_purchases(
    app: Flask, client: FlaskClient, shop: dict[str, Product], trained: list[User]
) -> None:
    page = client.get(f"/products/{shop['jumbo'].id}").get_data(as_text=True)
    also = _section(page, "product")
    assert "Canvas Tote" in also or "Lunch Box" in also
    assert "Often bought with Jumbo Bag Red Retrospot" in also
    # Co-purchases run short in this small shop, so similar items fill the list, and the
    # heading does not claim that shoppers bought them.
    assert "Similar to Jumbo Bag Red Retrospot" in also
    assert "You may also like" in also and "Shoppers who bought this also bought" not in also
    # Co-purchases first, then similar items; a list short enough for the co-purchases
    # alone keeps the heading.
    reasons = re.findall(r'rec-reason">([^<]+)<', also)
    assert reasons[:2] == ["Often bought with Jumbo Bag Red Retrospot"] * 2, reasons
    with app.app_context():
        recs = service()
        live = recs.default_config()
        two = replace(live, placements={**live.placements, "product": PlacementSettings(2)})
        short = recs.for_product(
            db.session, Shopper("v-short"), shop["jumbo"].id, serving=Serving(two, recs.model())
        )
    assert short.title == "Shoppers who bought this also bought"
    assert [item.reason_code for item in short.items] == ["bought_together"] * 2
    token = csrf_token(client, f"/products/{shop['heart'].id}")
    client.post(
        "/cart/add", data={"csrf_token": token, "product_id": shop["heart"].id, "quantity": 1}
    )
    cart = _section(client.get("/cart").get_data(as_text=True), "cart")
    assert "Frequently bought together" in cart
    assert "Pillar Candle" in cart or "White Metal Lantern" in cart
    assert 'product-name">White Hanging Heart' not in cart  # in the cart already


def test_product_and_cart_lists_leave_out_what_the_member_bought(
    app: Flask, client: FlaskClient, shop: dict[str, Product], trained: list[User]
) -> None:
    visitor = app.test_client()
    heart_page = f"/products/{shop['heart'].id}"
    anonymous = _section(visitor.get(heart_page).get_data(as_text=True), "product")
    assert "White Metal Lantern" in anonymous and "Pillar Candle" in anonymous
    _sign_in(client, trained[0].email)  # bought the heart, the lantern and the candle
    mine = _section(client.get(heart_page).get_data(as_text=True), "product")
    assert "White Metal Lantern" not in mine and "Pillar Candle" not in mine

    bags = app.test_client()
    _sign_in(bags, trained[4].email)  # bought the jumbo bag, the tote and the lunch box
    for shopper in (visitor, bags):
        token = csrf_token(shopper, "/cart")
        shopper.post(
            "/cart/add", data={"csrf_token": token, "product_id": shop["jumbo"].id, "quantity": 1}
        )
    assert "Canvas Tote" in _section(visitor.get("/cart").get_data(as_text=True), "cart")
    assert "Canvas Tote" not in _section(bags.get("/cart").get_data(as_text=True), "cart")


def test_a_product_deactivated_or_sold_out_leaves_the_lists_at_once(
    client: FlaskClient, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    heart_page = f"/products/{shop['heart'].id}"
    listed = _section(client.get(heart_page).get_data(as_text=True), "product")
    assert "White Metal Lantern" in listed and "Pillar Candle" in listed
    session.rollback()
    session.get(Product, shop["lantern"].id).active = False
    session.get(Product, shop["candle"].id).stock_qty = 0
    session.commit()
    listed = _section(client.get(heart_page).get_data(as_text=True), "product")
    assert "White Metal Lantern" not in listed and "Pillar Candle" not in listed


def test_a_history_the_model_does_not_know_gets_popular_items_so_titled(
    client: FlaskClient, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    newer = factories.product(session, shop["heart"].category, sku="NEW-1", name="Brand New Mug")
    session.commit()  # added after the model was trained
    assert client.get(f"/products/{newer.id}").status_code == 200
    home = _section(client.get("/").get_data(as_text=True), "home")
    assert "Popular right now" in home and "Recommended for you" not in home
    session.rollback()
    shown = session.scalar(
        select(Impression).where(Impression.placement == "home").order_by(Impression.id.desc())
    )
    assert shown is not None and shown.strategy == "popular"


def test_a_failed_add_to_cart_shows_the_product_page_with_its_list(
    client: FlaskClient, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    token = csrf_token(client, f"/products/{shop['heart'].id}")
    response = client.post(
        "/cart/add", data={"csrf_token": token, "product_id": shop["heart"].id, "quantity": 0}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Often bought with White Hanging Heart" in _section(page, "product")
    # The list is logged once the request has let go of the database, not while its write
    # transaction is open (on SQLite the impression would wait for the lock, then fail).
    rec_id = re.search(r"\?rec=([0-9a-f]{32})", _section(page, "product"))
    assert rec_id
    session.rollback()
    assert session.scalar(select(Impression.placement).where(Impression.rec_id == rec_id[1])) == (
        "product"
    )


def test_impressions_and_clicks_are_attributed_to_the_list(
    client: FlaskClient, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    page = client.get(f"/products/{shop['jumbo'].id}").get_data(as_text=True)
    link = re.search(r'href="/products/(\d+)\?rec=([0-9a-f]{32})"', _section(page, "product"))
    assert link
    product_id, rec_id = int(link.group(1)), link.group(2)
    session.rollback()
    impression = session.scalar(select(Impression).where(Impression.rec_id == rec_id))
    assert impression is not None
    assert impression.placement == "product" and product_id in impression.product_ids
    assert impression.model_version not in ("", "fallback-popularity")

    assert client.get(f"/products/{product_id}?rec={rec_id}").status_code == 200
    assert client.get(f"/products/{product_id}?rec={rec_id}").status_code == 200  # a reload
    token = csrf_token(client, "/cart")
    client.post("/cart/add", data={"csrf_token": token, "product_id": product_id, "quantity": 1})
    session.rollback()
    tagged = session.execute(
        select(Event.kind, Event.product_id).where(Event.rec_id == rec_id).order_by(Event.id)
    ).all()
    assert tagged == [  # one click, however often its page is reloaded
        ("rec_click", product_id),
        ("product_view", product_id),
        ("product_view", product_id),
        ("cart_add", product_id),
    ]
    assert client.get(f"/products/{product_id}?rec=not-an-id").status_code == 200

    # A made-up id, or a real one on a product its list did not show, is not a click; nor
    # is a link copied to another browser, which never saw the list.
    elsewhere = next(p.id for p in shop.values() if p.id not in impression.product_ids)
    for path in (f"/products/{product_id}?rec={'aa' * 16}", f"/products/{elsewhere}?rec={rec_id}"):
        assert client.get(path).status_code == 200
    stranger = client.application.test_client()
    assert stranger.get(f"/products/{product_id}?rec={rec_id}").status_code == 200
    session.rollback()
    clicks = session.scalars(select(Event.rec_id).where(Event.kind == "rec_click")).all()
    assert clicks == [rec_id]


def test_a_missing_or_corrupt_model_falls_back_to_best_sellers(
    app: Flask, client: FlaskClient, session: Session, shop: dict[str, Product]
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Popular right now" in _section(page.get_data(as_text=True), "home")
    heart = shop["heart"].id
    product = client.get(f"/products/{heart}")
    assert product.status_code == 200
    also = _section(product.get_data(as_text=True), "product")
    # Best sellers, not claimed to be co-purchases, and never the product itself.
    assert "Popular right now" in also and "Shoppers who bought" not in also
    assert "?rec=" in also and f'href="/products/{heart}?rec=' not in also
    token = csrf_token(client, f"/products/{heart}")
    client.post("/cart/add", data={"csrf_token": token, "product_id": heart, "quantity": 1})
    cart = _section(client.get("/cart").get_data(as_text=True), "cart")
    assert "Popular right now" in cart and "Frequently bought together" not in cart
    assert "?rec=" in cart and f'href="/products/{heart}?rec=' not in cart

    session.rollback()  # end the read snapshot taken before the requests wrote events
    users = [factories.user(session, f"b{i}@example.com") for i in range(3)]
    session.commit()
    history(session, shop, users)
    with app.app_context():
        version = service().train(db.session)
        artifact = next(service().store.directory.glob(f"versions/{version}/*.npz"), None)
    assert artifact is not None
    artifact.write_bytes(b"not a model")
    app.extensions["recommendations"].active._version = None  # as in a fresh process
    page = client.get("/")
    assert page.status_code == 200
    assert "Popular right now" in _section(page.get_data(as_text=True), "home")
    # A customer still finds what they bought before, from their own history.
    _sign_in(client, users[0].email)
    home = client.get("/").get_data(as_text=True)
    again = _section(home, "buy_again")
    bought = set(
        session.scalars(
            select(Event.product_id).where(Event.user_id == users[0].id, Event.kind == "purchase")
        )
    )
    shown = {int(i) for i in re.findall(r'href="/products/(\d+)\?rec=', again)}
    assert shown and shown <= bought, (shown, bought)
    assert "You bought this before" in again
    versions = set(session.scalars(select(Impression.model_version)))
    assert versions == {"fallback-popularity"}


def test_each_time_the_model_becomes_unusable_again_it_is_logged_again(
    app: Flask, client: FlaskClient, trained: list[User], caplog: pytest.LogCaptureFixture
) -> None:
    recs = app.extensions["recommendations"]
    version = recs.store.active()
    pointer = recs.store.directory / "ACTIVE"
    fallback = "recommendations fall back to best sellers: no active model version"

    def warnings() -> int:
        return sum(fallback in r.getMessage() for r in caplog.records)

    caplog.set_level("INFO", logger="shop.recommendations")
    pointer.unlink()  # e.g. a deployment that replaced the model folder
    for _ in range(2):  # once per incident, not on every page
        assert "Popular right now" in _section(client.get("/").get_data(as_text=True), "home")
    assert warnings() == 1
    recs.store.activate(version)
    client.get("/")
    assert recs.model() is not None and recs.model()[0] == version
    assert f"recommendations use model version {version} again" in caplog.text
    pointer.unlink()  # the same fault a second time is news again
    assert client.get("/").status_code == 200
    assert warnings() == 2


def test_a_new_version_is_picked_up_without_a_restart(
    app: Flask, client: FlaskClient, trained: list[User], shop: dict[str, Product]
) -> None:
    recs = app.extensions["recommendations"]
    first = recs.store.active()
    client.get("/")
    with app.app_context():
        second = recs.train(db.session)
    assert second != first
    client.get("/")
    assert recs.model()[0] == second
    recs.store.rollback()
    client.get("/")
    assert recs.model()[0] == first


def _pays_for(
    app: Flask,
    session: Session,
    items: list[tuple[Product, int]],
    owner: CartOwner,
    rec_id: str | None = None,
) -> int:
    """An order of what is in the owner's cart plus `items`, paid (the confirmation e-mail
    is queued)."""
    from shop.payments.gateway import Intent
    from shop.payments.services import apply_intent
    from tests.checkout_support import fresh, placed_order, settings

    order_id = placed_order(app, items, owner=owner, rec_id=rec_id)
    total = fresh(session, order_id).total_pence
    metadata = {"order_id": str(order_id)}
    intent = Intent(f"pi_{order_id}", "succeeded", total, "GBP", metadata=metadata)
    with app.app_context(), db.transaction() as tx:
        assert apply_intent(tx, settings(app), intent, source="test") == "paid"
    session.rollback()
    return order_id


def _guest_pays_for(
    app: Flask, session: Session, product: Product, visitor_id: str, rec_id: str | None = None
) -> int:
    """A guest visitor's order for one item, paid."""
    return _pays_for(app, session, [(product, 1)], CartOwner(visitor_id=visitor_id), rec_id)


def _purchase_rec_ids(session: Session, order_id: int) -> list[str | None]:
    return list(
        session.scalars(
            select(Event.rec_id).where(Event.kind == "purchase", Event.order_id == order_id)
        )
    )


def test_a_purchase_is_credited_to_the_list_its_cart_line_was_added_from_once(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    account = factories.user(session, "cleo@example.com", "Cleo")
    session.commit()
    owner = CartOwner(user_id=account.id)
    first = app.test_client()
    sign_in(first, "cleo@example.com", factories.PASSWORD)
    page = first.get(f"/products/{shop['jumbo'].id}").get_data(as_text=True)
    link = re.search(r'href="/products/(\d+)\?rec=([0-9a-f]{32})"', _section(page, "product"))
    assert link
    product_id, rec_id = int(link.group(1)), link.group(2)
    first.get(f"/products/{product_id}?rec={rec_id}")
    token = csrf_token(first, "/cart")
    first.post("/cart/add", data={"csrf_token": token, "product_id": product_id, "quantity": 1})
    session.rollback()
    assert session.scalars(select(CartItem.rec_id)).all() == [rec_id]
    order_id = _pays_for(app, session, [], owner)
    assert session.scalars(
        select(OrderLine.rec_id).where(OrderLine.order_id == order_id)
    ).all() == [rec_id]
    assert _purchase_rec_ids(session, order_id) == [rec_id]

    # The same product again, straight from its page in another browser: not the list's.
    second = app.test_client()
    sign_in(second, "cleo@example.com", factories.PASSWORD)
    token = csrf_token(second, f"/products/{product_id}")
    second.post("/cart/add", data={"csrf_token": token, "product_id": product_id, "quantity": 1})
    assert _purchase_rec_ids(session, _pays_for(app, session, [], owner)) == [None]

    # Added from the list, then again some other way: the last addition decides.
    first.post("/cart/add", data={"csrf_token": token, "product_id": product_id, "quantity": 1})
    second.post("/cart/add", data={"csrf_token": token, "product_id": product_id, "quantity": 1})
    session.rollback()
    assert session.scalars(select(CartItem.rec_id)).all() == [None]


def test_a_product_page_opened_some_other_way_takes_the_credit_from_the_list(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    account = factories.user(session, "dora@example.com", "Dora")
    session.commit()
    owner = CartOwner(user_id=account.id)
    client = app.test_client()
    sign_in(client, "dora@example.com", factories.PASSWORD)
    page = client.get(f"/products/{shop['jumbo'].id}").get_data(as_text=True)
    link = re.search(r'href="/products/(\d+)\?rec=([0-9a-f]{32})"', _section(page, "product"))
    assert link
    product_id, rec_id = int(link.group(1)), link.group(2)
    token = csrf_token(client, f"/products/{product_id}?rec={rec_id}")
    client.post("/cart/add", data={"csrf_token": token, "product_id": product_id, "quantity": 1})
    assert _purchase_rec_ids(session, _pays_for(app, session, [], owner)) == [rec_id]

    # Days later, in the same browser, the shopper finds it again by search and buys it
    # again from its page: neither the addition nor the order is the list's.
    token = csrf_token(client, f"/products/{product_id}")
    client.post("/cart/add", data={"csrf_token": token, "product_id": product_id, "quantity": 1})
    session.rollback()
    assert session.scalars(select(CartItem.rec_id)).all() == [None]
    added = session.scalars(
        select(Event.rec_id).where(Event.kind == "cart_add").order_by(Event.id)
    ).all()
    assert added == [rec_id, None]
    assert _purchase_rec_ids(session, _pays_for(app, session, [], owner)) == [None]


def test_a_purchase_carries_the_recommendation_and_the_e_mail_suggests_more(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    from tests.checkout_support import emails

    rec_id = "ab" * 16
    order_id = _guest_pays_for(app, session, shop["heart"], "visitor-1", rec_id)
    assert _purchase_rec_ids(session, order_id) == [rec_id]
    [mail] = emails(session, "order_confirmation")
    assert "You might also like" in mail.text_body
    assert "?rec=" in mail.html_body
    # Each suggestion says why, in both parts, as on the order page.
    suggested = mail.text_body.split("You might also like", 1)[1]
    reasons = re.findall(r"^  (\S.*)$", suggested, re.M)
    assert reasons and len(reasons) == len(re.findall(r"^- ", suggested, re.M)), reasons
    assert reasons[0] in mail.html_body.replace("&#39;", "'")
    shown = session.scalar(select(Impression).where(Impression.placement == "order_email"))
    assert shown is not None and shop["heart"].id not in shown.product_ids


def test_a_guest_who_refused_personalization_gets_popular_picks_by_e_mail(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    from shop.accounts.models import ConsentRecord
    from tests.checkout_support import emails

    viewed = {  # browsed before switching personalization off
        "kind": "product_view",
        "visitor_id": "visitor-2",
        "product_id": shop["tote"].id,
        "created_at": utcnow(),
    }
    session.execute(insert(Event), [viewed])
    session.add(ConsentRecord(visitor_id="visitor-2", kind="personalization", granted=False))
    session.commit()
    _guest_pays_for(app, session, shop["heart"], "visitor-2")
    [mail] = emails(session, "order_confirmation")
    assert "You might also like" in mail.text_body and "Because you" not in mail.text_body
    shown = session.scalar(select(Impression).where(Impression.placement == "order_email"))
    assert shown is not None and shown.strategy == "popular"
    assert (shown.visitor_id, shown.user_id) == ("anonymous", None)


def test_a_long_history_still_knows_every_old_purchase(
    client: FlaskClient, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    member = trained[0]  # bought the heart, the lantern and the candle a month ago
    since = utcnow() - timedelta(days=1)
    views = [
        {
            "kind": "product_view",
            "visitor_id": "v-long",
            "user_id": member.id,
            "product_id": shop["tote"].id,
            "created_at": since + timedelta(seconds=n),
        }
        for n in range(600)  # far more browsing since then than any cut-off would keep
    ]
    session.execute(insert(Event), views)
    session.commit()
    _sign_in(client, member.email)
    page = client.get("/").get_data(as_text=True)
    home = _section(page, "home")
    assert "Recommended for you" in home
    for bought in ("White Hanging Heart", "White Metal Lantern", "Pillar Candle"):
        assert bought not in home  # no re-purchases on home
        assert bought in _section(page, "buy_again")


def test_todays_clicks_change_the_next_page(
    client: FlaskClient, shop: dict[str, Product], trained: list[User]
) -> None:
    assert "Popular right now" in _section(client.get("/").get_data(as_text=True), "home")
    client.get(f"/products/{shop['jumbo'].id}")
    after_bag = _section(client.get("/").get_data(as_text=True), "home")
    assert "Recommended for you" in after_bag
    assert "Because you viewed Jumbo Bag Red Retrospot" in after_bag
    client.get(f"/products/{shop['heart'].id}")
    client.get(f"/products/{shop['heart'].id}")
    after_heart = _section(client.get("/").get_data(as_text=True), "home")
    assert "Because you viewed White Hanging Heart T-Light Holder" in after_heart
    assert after_heart != after_bag


def test_a_product_taken_back_out_of_the_cart_no_longer_counts_as_added(
    client: FlaskClient, shop: dict[str, Product], trained: list[User]
) -> None:
    bag = shop["jumbo"]
    token = csrf_token(client, f"/products/{bag.id}")  # opening its page is a view
    form = {"csrf_token": token, "product_id": bag.id, "quantity": 1}
    added = client.post("/cart/add", data=form)
    assert added.status_code == 302
    in_cart = _section(client.get("/").get_data(as_text=True), "home")
    assert "Because you added Jumbo Bag Red Retrospot to your cart" in in_cart

    removed = client.post("/cart/remove", data={"csrf_token": token, "product_id": bag.id})
    assert removed.status_code == 302
    after = _section(client.get("/").get_data(as_text=True), "home")
    assert "Because you added" not in after
    assert "Because you viewed Jumbo Bag Red Retrospot" in after


def test_after_signing_out_the_browser_is_a_new_visitor(
    client: FlaskClient, shop: dict[str, Product], trained: list[User]
) -> None:
    _sign_in(client, trained[0].email)
    client.get(f"/products/{shop['jumbo'].id}")
    assert "Recommended for you" in _section(client.get("/").get_data(as_text=True), "home")
    before = client.get_cookie("vid")
    token = csrf_token(client, "/")
    assert client.post("/account/logout", data={"csrf_token": token}).status_code == 302
    after = client.get_cookie("vid")
    assert before is not None and after is not None and after.value != before.value
    # The next person at this computer sees nothing of what the member browsed.
    home = _section(client.get("/").get_data(as_text=True), "home")
    assert "Popular right now" in home and "Because you viewed" not in home


def test_an_empty_shop_and_unknown_products_never_fail(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert 'data-testid="recs-home"' not in page.get_data(as_text=True)
    assert client.get("/products/999999").status_code == 404
    assert client.get("/cart").status_code == 200


def test_placements_are_configurable(config: TestConfig) -> None:
    from shop import create_app

    for wrong, message in (
        ({"nowhere": {"size": 1}}, "unknown placement 'nowhere'"),
        ({"home": {"size": "abc"}}, "size must be a whole number from 1 to 24, not 'abc'"),
        ({"home": {"size": 0}}, "size must be a whole number from 1 to 24, not 0"),
        ({"home": {"size": True}}, "size must be a whole number"),
        ({"home": {"allow_repurchase": "yes"}}, "allow_repurchase must be true or false"),
        ({"home": {"strategy": "random"}}, "strategy must be one of personal, popular"),
        ({"home": {"colour": "red"}}, "unknown setting 'colour'"),
        ({"home": 3}, "'home' needs an object of settings"),
    ):
        config.RECOMMENDER_PLACEMENTS = wrong
        with pytest.raises(ValueError, match=re.escape(message)):
            create_app(config)
        db.dispose()  # the engine that create_app made before it refused
    config.RECOMMENDER_PLACEMENTS = {"home": {"size": 2, "allow_repurchase": True}}
    app = create_app(config)
    try:
        with app.app_context():
            shop = catalogue(db.session)
            users = [factories.user(db.session, f"p{i}@example.com") for i in range(8)]
            db.session.commit()
            history(db.session, shop, users)
            service().train(db.session)
            assert service().placements["home"] == replace(
                PLACEMENTS["home"], size=2, allow_repurchase=True
            )
            email = users[0].email
        client = app.test_client()
        _sign_in(client, email)
        home = _section(client.get("/").get_data(as_text=True), "home")
        assert home.count('class="product-card"') == 2
    finally:
        db.session.remove()
        db.dispose()


def test_without_personalization_consent_lists_are_popular_and_labelled(
    app: Flask, client: FlaskClient, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    _sign_in(client, trained[0].email)
    assert "Recommended for you" in client.get("/").get_data(as_text=True)
    session.rollback()
    session.get(User, trained[0].id).tracking_enabled = False
    session.commit()
    page = client.get("/").get_data(as_text=True)
    home = _section(page, "home")
    assert "Popular right now" in home and "Because you" not in home
    assert _section(page, "buy_again") == ""
    session.rollback()
    newest = session.scalar(select(Impression).order_by(Impression.id.desc()).limit(1))
    assert newest is not None and newest.user_id is None and newest.visitor_id == "anonymous"
    visitor = app.test_client()
    visitor.set_cookie("tracking", "off")
    assert "Popular right now" in _section(visitor.get("/").get_data(as_text=True), "home")


def test_with_recording_switched_off_lists_are_counted_but_not_linked(
    app: Flask, client: FlaskClient, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    _sign_in(client, trained[0].email)
    app.config["TRACKING_ENABLED"] = False  # SHOP_TRACKING=off
    assert "Recommended for you" in _section(client.get("/").get_data(as_text=True), "home")
    session.rollback()
    newest = session.scalar(select(Impression).order_by(Impression.id.desc()).limit(1))
    assert newest is not None and newest.user_id is None and newest.visitor_id == "anonymous"


def test_a_members_favourite_categories_are_boosted(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    from shop.db import db as database
    from shop.recommendation_data import Shopper

    bags = shop["jumbo"].category_id
    member = Shopper("v-fav", trained[0].id)  # a candle buyer
    with app.app_context():
        recs = service()
        plain = {i.product.id: i for i in recs.for_home(database.session, member).items}
        recs.favourites = lambda _session, user_id: frozenset({bags} if user_id else ())
        boosted = {i.product.id: i for i in recs.for_home(database.session, member).items}
    moved = [i for i in boosted.values() if i.moved_by]
    assert moved and all(i.product.category_id == bags for i in moved)
    for item in moved:
        assert item.moved_by == (f"boost x1.5 category {bags} (rule favourite-{bags})",)
        if item.product.id in plain and plain[item.product.id].score > 0:
            assert item.score == pytest.approx(plain[item.product.id].score * 1.5)
    assert not any(i.moved_by for i in plain.values())


def test_favourites_chosen_by_a_member_reach_serving(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    from loyalty.models import FavouriteCategory

    session.add(FavouriteCategory(user_id=trained[0].id, category_id=shop["jumbo"].category_id))
    session.commit()
    with app.app_context():
        favourites = service().favourites(db.session, trained[0].id)
    assert favourites == frozenset({shop["jumbo"].category_id})


def test_popular_lists_leave_out_what_the_customer_bought_unless_re_purchases_are_on(
    app: Flask, shop: dict[str, Product], trained: list[User]
) -> None:
    from shop.merchandising.config import Rule

    with app.app_context():
        recs = service()
        live = recs.default_config()
        customer = Shopper("v-regular", trained[0].id)
        bought = {r.product.id for r in recs.buy_again(db.session, customer).items}
        assert bought  # the heart, the lantern and the candle

        def ids(shown: object) -> set[int]:
            return {item.product.id for item in shown.items}  # type: ignore[attr-defined]

        for allow in (False, True):
            settings = PlacementSettings(8, allow_repurchase=allow, strategy="popular")
            config = replace(
                live, placements={**live.placements, "home": settings, "order": settings}
            )
            for model in (recs.model(), None):  # the model's popularity, or best sellers
                serving = Serving(config, model, record=False)
                home = recs.for_home(db.session, customer, serving=serving)
                order = recs.for_order(db.session, customer, [shop["tote"].id], serving=serving)
                for shown in (home, order):
                    assert shown.items and shown.strategy == "popular"
                    assert bool(ids(shown) & bought) is allow, (allow, model, shown.placement)
                    assert shop["tote"].id not in ids(order)

        # A pin on every placement may reorder "Buy it again" but never adds to it.
        never_bought = shop["tote"].id
        pins = live.with_rules((Rule("r1", "pin", product_id=never_bought, position=1),))
        again = recs.buy_again(db.session, customer, serving=Serving(pins, recs.model()))
        assert ids(again) == bought
        home = recs.for_home(db.session, customer, serving=Serving(pins, recs.model()))
        assert home.items[0].product.id == never_bought


def test_a_returning_guests_older_purchases_stay_out_of_their_personal_lists(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    # A guest bought the heart in this browser three days ago and today looks at the
    # lantern: their personal lists read only today's history, but the home page and the
    # order page (and e-mail) leave re-purchases out, so the heart must not come back.
    now = utcnow()
    guest = "v-returning-guest"
    rows = [
        {"kind": "purchase", "visitor_id": guest, "product_id": shop["heart"].id,
         "order_id": None, "quantity": 1, "created_at": now - timedelta(days=3)},
        {"kind": "product_view", "visitor_id": guest, "product_id": shop["lantern"].id,
         "created_at": now - timedelta(minutes=5)},
    ]  # fmt: skip
    session.execute(insert(Event), rows)
    session.commit()
    with app.app_context():
        recs = service()
        shopper = Shopper(guest)
        home = recs.for_home(db.session, shopper)
        order = recs.for_order(db.session, shopper, [shop["tote"].id])
        email = recs.for_order(db.session, shopper, [shop["tote"].id], "order_email")
        for shown in (home, order, email):
            assert shown.items and shown.strategy == "personal", shown.placement
            assert shop["heart"].id not in {item.product.id for item in shown.items}


def test_a_product_new_since_training_gets_popular_items_on_its_page_and_in_the_cart(
    client: FlaskClient, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    fresh = factories.product(
        session, shop["heart"].category, sku="NEW1", name="Brand New Lamp", stock=5
    )
    session.commit()
    page = _section(client.get(f"/products/{fresh.id}").get_data(as_text=True), "product")
    assert "Popular right now" in page and "Shoppers who bought this also bought" not in page
    shown = {int(i) for i in re.findall(r'href="/products/(\d+)\?rec=', page)}
    assert shown and fresh.id not in shown
    token = csrf_token(client, f"/products/{fresh.id}")
    client.post("/cart/add", data={"csrf_token": token, "product_id": fresh.id, "quantity": 1})
    cart = _section(client.get("/cart").get_data(as_text=True), "cart")
    assert "Popular right now" in cart
    in_cart = {int(i) for i in re.findall(r'href="/products/(\d+)\?rec=', cart)}
    assert in_cart and fresh.id not in in_cart


def test_a_shoppers_purchases_are_read_by_the_database_from_an_index(
    session: Session, shop: dict[str, Product]
) -> None:
    from shop.recommendation_data import bought_products

    member = factories.user(session, email="busy@example.com")
    now = utcnow()
    rows = [
        {"kind": "product_view", "visitor_id": "v-busy", "product_id": shop["tote"].id}
        for _ in range(300)
    ] + [
        {"kind": "purchase", "visitor_id": "v-busy", "product_id": shop["heart"].id},
        {"kind": "purchase", "visitor_id": "v-busy", "product_id": shop["heart"].id},
        {"kind": "purchase", "visitor_id": "v-other", "product_id": shop["lantern"].id},
        {"kind": "search", "visitor_id": "v-busy", "product_id": None},
        {
            "kind": "purchase",
            "visitor_id": "v-m",
            "user_id": member.id,
            "product_id": shop["tote"].id,
        },
        {
            "kind": "cart_add",
            "visitor_id": "v-m",
            "user_id": member.id,
            "product_id": shop["heart"].id,
        },
    ]
    session.execute(insert(Event), [{"user_id": None, **row, "created_at": now} for row in rows])
    session.commit()
    assert bought_products(session, Shopper("v-busy")) == {shop["heart"].id}
    assert bought_products(session, Shopper("v-nobody")) == set()
    assert bought_products(session, Shopper("v-any", user_id=member.id)) == {shop["tote"].id}
    if session.get_bind().dialect.name == "sqlite":
        # A visitor's rows are filtered on the visitor index, not by Python; a member's
        # products come from the covering index without reading a single row.
        (visitor,) = sqlite_plans(session, lambda: bought_products(session, Shopper("v-busy")))
        assert "ix_events_visitor_time" in visitor
        (member_plan,) = sqlite_plans(
            session, lambda: bought_products(session, Shopper("v-any", user_id=member.id))
        )
        assert "COVERING INDEX ix_events_user_kind_product" in member_plan
