"""The clickstream: what is recorded, for whom, and that tracking never breaks a page."""

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.tracking.models import Event
from tests import factories
from tests.helpers import csrf_token


def _events(session: Session) -> list[Event]:
    session.rollback()
    return list(session.scalars(select(Event).order_by(Event.id)))


def test_views_searches_and_cart_adds_are_recorded(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    client.get(f"/products/{items['heart'].id}")
    client.get("/c/bags")
    client.get("/search?q=lantern")
    token = csrf_token(client, "/")
    client.post(
        "/cart/add", data={"csrf_token": token, "product_id": items["heart"].id, "quantity": 2}
    )
    client.post("/cart/remove", data={"csrf_token": token, "product_id": items["heart"].id})
    events = _events(session)
    assert [e.kind for e in events] == [
        "product_view",
        "category_view",
        "search",
        "cart_add",
        "cart_remove",
    ]
    assert len({e.visitor_id for e in events}) == 1
    assert events[0].product_id == items["heart"].id
    assert (events[2].query, events[2].result_count) == ("lantern", 1)
    assert events[3].quantity == 2
    assert all(e.user_id is None for e in events)


def test_visitor_cookie_is_signed(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    client.get("/")
    cookie = client.get_cookie("vid")
    assert cookie is not None and "." in cookie.value
    client.set_cookie("vid", "forged-visitor-id")
    client.get(f"/products/{items['heart'].id}")
    assert _events(session)[0].visitor_id != "forged-visitor-id"


def test_earlier_events_are_linked_at_login(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    ann = factories.user(session, "ann@example.com")
    session.commit()
    client.get(f"/products/{items['heart'].id}")
    token = csrf_token(client, "/account/login")
    client.post(
        "/account/login",
        data={"csrf_token": token, "email": "ann@example.com", "password": factories.PASSWORD},
    )
    events = _events(session)
    assert [(e.kind, e.user_id) for e in events] == [("product_view", ann.id), ("login", ann.id)]


def test_registration_links_events_too(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    client.get(f"/products/{items['lantern'].id}")
    token = csrf_token(client, "/account/register")
    client.post(
        "/account/register",
        data={
            "csrf_token": token,
            "name": "Nia",
            "email": "nia@example.com",
            "password": "a-long-password",
            "confirm": "a-long-password",
        },
    )
    events = _events(session)
    assert [e.kind for e in events] == ["product_view", "register"]
    assert events[0].user_id is not None and events[0].user_id == events[1].user_id


def test_visitor_can_switch_tracking_off(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    token = csrf_token(client, "/")
    response = client.post("/account/tracking", data={"csrf_token": token, "next": "/"})
    assert response.status_code == 302
    client.get(f"/products/{items['heart'].id}")
    client.get("/search?q=bag")
    assert _events(session) == []
    assert "Personalization is off" in client.get("/").get_data(as_text=True)
    client.post("/account/tracking", data={"csrf_token": token, "enabled": "y"})
    client.get(f"/products/{items['heart'].id}")
    assert [e.kind for e in _events(session)] == ["product_view"]


def test_account_setting_switches_tracking_off(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    ann = factories.user(session, "ann@example.com")
    session.commit()
    token = csrf_token(client, "/account/login")
    client.post(
        "/account/login",
        data={"csrf_token": token, "email": "ann@example.com", "password": factories.PASSWORD},
    )
    token = csrf_token(client, "/account")  # signing in gave the session a new token
    client.post("/account/tracking", data={"csrf_token": token})
    session.rollback()
    assert session.get(type(ann), ann.id).tracking_enabled is False
    before = len(_events(session))
    client.get(f"/products/{items['heart'].id}")
    assert len(_events(session)) == before


def test_a_tracking_failure_never_breaks_the_page_and_loses_nothing(
    client: FlaskClient,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = factories.small_catalogue(session)

    def broken(*_args: object) -> int:
        raise RuntimeError("events table is on fire")

    monkeypatch.setattr("shop.tracking.writer.insert", broken)
    response = client.get(f"/products/{items['heart'].id}")
    assert response.status_code == 200
    assert "White Hanging Heart" in response.get_data(as_text=True)
    assert "could not store 1 events rows" in caplog.text
    assert _events(session) == []

    monkeypatch.undo()
    client.get(f"/products/{items['lantern'].id}")
    views = [e for e in _events(session) if e.kind == "product_view"]
    assert sorted(e.product_id for e in views) == sorted([items["heart"].id, items["lantern"].id])


def test_tracking_switch_never_redirects_off_site(client: FlaskClient) -> None:
    token = csrf_token(client, "/")
    response = client.post(
        "/account/tracking", data={"csrf_token": token, "next": "/\t/evil.example"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"


def test_paging_through_search_results_is_one_search(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    client.application.config["PAGE_SIZE"] = 1
    for page in (1, 2, 1):
        assert client.get(f"/search?q=bag&page={page}").status_code == 200
    searches = [e for e in _events(session) if e.kind == "search"]
    assert [(e.query, e.result_count) for e in searches] == [("bag", 2), ("bag", 2)]


def test_sorting_search_results_is_not_a_new_search(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    for sort in ("", "&sort=price_asc", "&sort=name"):
        assert client.get(f"/search?q=bag{sort}").status_code == 200
    searches = [e for e in _events(session) if e.kind == "search"]
    assert [(e.query, e.result_count) for e in searches] == [("bag", 2)]
