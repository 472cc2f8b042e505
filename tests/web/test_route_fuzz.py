"""Every route, for every caller, answers odd input with a clear 4xx (or its normal page),
never a 500 or a traceback; JSON routes answer JSON {"error": ...} when they refuse.

The test walks `app.url_map`: one test per (rule, method), each on a fresh shop with
products, an address book, orders (a shopper's and a guest's pending one), a loyalty
membership, a merchandising rule and a running experiment, so routes reach their deeper
code with real ids as well as with odd ones. Bodies start from the forms the pages really
show (hidden fields and real ids included) and are then broken field by field.
Deterministic: the odd values are fixed and picked with a seeded generator.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from loyalty.models import Tier
from shop import create_app
from shop.accounts.models import Address, User
from shop.cart.services import CartOwner
from shop.config import TestConfig
from shop.console.models import AuditEntry
from shop.errors import wants_json
from shop.mail.models import OutboxEmail
from shop.merchandising.models import Experiment
from shop.orders import states
from shop.orders.models import Order
from shop.returns.models import ReturnLine, ReturnRequest
from tests import factories
from tests.checkout_support import placed_order
from tests.console_support import ROLES, client_as
from tests.helpers import ADDRESS_FORM, CSRF_RE

HUGE = str(10**30)
ODD_VALUES = [
    HUGE,
    str(2**63),
    "-1",
    "0",
    "abc",
    "",
    " ",
    "1e400",
    "nan",
    "1.5",
    "2026-02-30",
    "9999-99-99",
    "\u202eevil",
    "Zoë ☃ 漢字",
    "\x01\x1b",
    "x" * 5000,
    "' OR 1=1 --",
    "<script>",
    "../../etc/passwd",
]
# Query keys the shop's pages read (request.args and the GET filter forms), and a few more.
# One of each kind, for the requests that set every field at once.
EACH_KIND = [HUGE, "-1", "abc", "", "1e400", "9999-99-99", "Zoë ☃ \u202e\x01", "x" * 5000]
QUERY_KEYS = [
    "page",
    "per_page",
    "sort",
    "q",
    "next",
    "rec",
    "since",
    "action",
    "status",
    "placed_from",
    "placed_to",
    "customer",
    "category",
    "active",
    "stock",
    "shopper",
    "viewed",
    "placement",
    "date",
    "from",
    "to",
    "days",
    "version",
]
# Who gets the full query and body fuzz of a route; the others only its odd URLs.
STOREFRONT_ROLES = ("anonymous", "shopper")
CONSOLE_ROLES = ("merchandiser", "admin")
ODD_INTS = ["0", HUGE, str(2**63), str(2**31)]
ODD_STRINGS = ["unknown", "Zoë☃", "x" * 300, "1e400", "%2e%2e", "-1", "\u202e"]


def _app_for_rules() -> Flask:
    config = TestConfig()
    config.DATABASE_URL = "sqlite://"
    return create_app(config)


def _rule_cases() -> list[Any]:
    cases = []
    for rule in sorted(_app_for_rules().url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(set(rule.methods or ()) - {"HEAD", "OPTIONS"}):
            cases.append(pytest.param(rule.rule, method, id=f"{method} {rule.rule}"))
    return cases


class _Forms(HTMLParser):
    """Every POST form of a page as (action, fields); fields as a browser would send them."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, list[str]]]] = []
        self._fields: dict[str, list[str]] | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._fields = {}
            self.forms.append((a.get("action", ""), self._fields))
            return
        fields = self._fields
        if fields is None:
            return
        name = a.get("name")
        if tag in ("input", "button") and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                fields.setdefault(name, [])
                return
            if tag == "button" or kind == "submit":
                return
            fields.setdefault(name, []).append(a.get("value", "") or _sample(name))
        elif tag == "textarea" and name:
            self._textarea = name
            fields.setdefault(name, []).append("")
        elif tag == "select" and name:
            self._select, self._select_first = name, None
            fields.setdefault(name, [])
        elif tag == "option" and self._select and (self._select_first is None or "selected" in a):
            self._select_first = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._fields = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select and self._fields is not None:
            if self._select_first is not None:
                self._fields[self._select] = [self._select_first]
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self._fields is not None:
            self._fields[self._textarea][-1] += data


def _sample(name: str) -> str:
    """A plausible value for an empty text field, so the untouched form mostly validates."""
    samples = {
        "email": "fuzz@example.com",
        "password": factories.PASSWORD,
        "current_password": factories.PASSWORD,
        "confirm": factories.PASSWORD,
        "name": "Fuzz",
        "quantity": "1",
        "points": "10",
        "reason": "fuzz",
        "note": "fuzz",
    }
    return samples.get(name, "")


def _forms(html: str) -> list[tuple[str, dict[str, list[str]]]]:
    reader = _Forms()
    reader.feed(html)
    reader.close()
    return [(action, {k: v for k, v in fields.items() if v}) for action, fields in reader.forms]


@dataclass
class FuzzShop:
    app: Flask
    clients: dict[str, FlaskClient]
    ids: dict[str, list[str]]
    tokens: dict[str, str] = field(default_factory=dict)


def _token(client: FlaskClient) -> str:
    match = CSRF_RE.search(client.get("/cart").get_data(as_text=True))
    assert match
    return match.group(1)


@pytest.fixture
def config(config: TestConfig) -> TestConfig:
    """The usual test settings with a webhook secret, so the Stripe webhook reaches its
    signature check."""
    config.STRIPE_WEBHOOK_SECRET = "whsec_fuzz"
    return config


@pytest.fixture
def fuzz_shop(app: Flask, session: Session) -> Iterator[FuzzShop]:
    """A shop with one of everything, and a signed-in client per role, each with a cart."""
    items = factories.small_catalogue(session)
    clients = {role: client_as(app, session, role) for role in ROLES}
    shopper = session.scalar(select(User).where(User.email == "shopper@example.com"))
    assert shopper is not None
    member_id = factories.joined(app, shopper.id)
    session.rollback()
    shopper = session.get(User, shopper.id)
    assert shopper is not None
    own = factories.order(session, shopper, "FZ-1001", [(items["heart"], 2)])
    own.status, own.source, own.access_token = "paid", "web", "fz-own-order-token"
    sent = factories.order(session, shopper, "FZ-1002", [(items["heart"], 3)])
    sent.status, sent.source, sent.access_token = "paid", "web", "fz-sent-order-token"
    states.transition(sent, states.SHIPPED, "Shipped")
    session.flush()
    sent_return = ReturnRequest(
        number="FZ-1002-R1",
        order_id=sent.id,
        status="requested",
        reason="changed_mind",
        expected_pence=295,
        lines=[ReturnLine(order_line_id=sent.lines[0].id, quantity=1)],
    )
    session.add(sent_return)
    session.commit()
    guest_order = placed_order(app, [(items["jumbo"], 1)], owner=CartOwner(visitor_id="fz"))
    session.rollback()
    for client in clients.values():
        token = _token(client)
        client.post(
            "/cart/add", data={"csrf_token": token, "product_id": items["heart"].id, "quantity": 1}
        )
    shop_client, admin, merch = clients["shopper"], clients["admin"], clients["merchandiser"]
    shop_client.post(
        "/account/addresses/new", data={"csrf_token": _token(shop_client)} | ADDRESS_FORM
    )
    admin.post(
        "/console/recommendations/rules",
        data={
            "csrf_token": _token(admin),
            "type": "pin",
            "placements": ["home"],
            "product": items["heart"].sku,
            "position": 1,
        },
    )
    merch.post(
        "/console/experiments/new",
        data={
            "csrf_token": _token(merch),
            "name": "Fuzz test",
            "placements": ["home"],
            "variants-0-key": "control",
            "variants-0-label": "Best sellers",
            "variants-0-kind": "popularity",
            "variants-0-weight": "50",
            "variants-1-key": "other",
            "variants-1-label": "Also best sellers",
            "variants-1-kind": "popularity",
            "variants-1-weight": "50",
        },
    )
    session.rollback()
    guest = session.get(Order, guest_order)
    assert guest is not None and guest.access_token
    merch_user = session.scalar(select(User).where(User.email == "merchandiser@example.com"))
    assert merch_user is not None

    def first(model: Any) -> list[str]:
        found = session.scalar(select(model.id).order_by(model.id))
        return [str(found)] if found is not None else []

    ids = {
        "product_id": [str(items["heart"].id), str(items["retired"].id)],
        "address_id": first(Address),
        "order_id": [str(own.id), str(guest.id), str(sent.id)],
        "number": [own.number, sent.number],
        "token": [own.access_token or "", guest.access_token, sent.access_token or ""],
        "return_id": [str(sent_return.id)],
        "return_number": [sent_return.number],
        "slug": ["candles"],
        "membership_id": [str(member_id)],
        "tier_id": first(Tier),
        "experiment_id": first(Experiment),
        "entry_id": first(AuditEntry),
        "email_id": first(OutboxEmail),
        "rule_id": ["r1"],
        "user_id": [str(merch_user.id)],
        "kind": ["products", "categories"],
        "filename": ["css/shop.css"],
    }
    assert all(ids[key] for key in ("address_id", "experiment_id", "tier_id", "entry_id"))
    yield FuzzShop(app, clients, ids)
    for thread in threading.enumerate():
        if thread.name.startswith("train-"):  # a retrain a console POST started
            thread.join(timeout=60)


def _urls(rule: Rule, ids: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """URLs for the rule: with real ids (or a first odd value), and with odd ones."""
    names = [name for _, name in re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule.rule)]
    kinds = {
        name: conv for conv, name in re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule.rule)
    }

    def build(values: dict[str, str]) -> str:
        return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", lambda m: values[m.group(1)], rule.rule)

    def odd(name: str) -> list[str]:
        return ODD_INTS if kinds[name] == "int" else ODD_STRINGS

    real = {name: (ids.get(name) or odd(name))[0] for name in names}
    good = [build(real)]
    for name in names:
        for value in (ids.get(name) or [])[1:]:
            good.append(build(real | {name: value}))
    bad = []
    for name in names:
        for value in odd(name):
            quoted = value.replace("%", "%25").replace("/", "%2F").replace("?", "%3F")
            bad.append(build(real | {name: quoted}))
    return good, bad


def _queries(rng: random.Random) -> list[str]:
    """Odd query strings: every known key set to each odd value, and a few shapes."""
    queries = [urlencode(dict.fromkeys(QUERY_KEYS, value)) for value in EACH_KIND]
    queries.append(urlencode([(key, value) for key in QUERY_KEYS for value in ("1", "2", HUGE)]))
    queries.append("page=&sort=&per_page=&q=&since=&placed_from=&placed_to=")
    queries.append("page&sort&q&&=&==&%ff=%fe&page[]=1&sort[x]=y")
    shuffled = ODD_VALUES[:]
    rng.shuffle(shuffled)
    queries.append(urlencode(dict(zip(QUERY_KEYS, shuffled, strict=False))))
    return queries


def _bodies(base: dict[str, list[str]], rng: random.Random) -> list[dict[str, list[str]]]:
    """A form's body broken every way: empty, each field missing, odd values, duplicated."""
    names = [name for name in base if name != "csrf_token"]
    bodies: list[dict[str, list[str]]] = [{}, dict(base)]
    for name in names:
        bodies.append({k: v for k, v in base.items() if k != name})
        for value in rng.sample(ODD_VALUES, 1):
            bodies.append(base | {name: [value]})
    for value in EACH_KIND:
        bodies.append(base | {name: [value] for name in names})
    bodies.append({name: [*values, HUGE, "x"] for name, values in base.items()})
    return bodies


def _json_bodies(base: dict[str, list[str]]) -> list[Any]:
    flat = {k: v[0] if v else "" for k, v in base.items() if k != "csrf_token"}
    return [
        b"{not json",
        b'{"a": ',
        b"[" * 5000,
        [flat],
        [1, 2, 3],
        "text",
        None,
        dict.fromkeys(flat, 10**30),
        dict.fromkeys(flat, -(2**63) - 1),
        dict.fromkeys(flat, 1e308),
        {key: [1, {"a": None}] for key in flat},
        {key: {"nested": True} for key in flat},
        dict.fromkeys(flat, True),
        {key: value + "\u0000" for key, value in flat.items()},
        flat,
    ]


@dataclass
class Checker:
    json_route: bool
    failures: list[str] = field(default_factory=list)

    def check(self, label: str, response: TestResponse) -> None:
        body = response.get_data(as_text=True)
        response.close()
        status = response.status_code
        problem = None
        # 503 is how the pay and order-cancelling pages say card payments are not set up (as
        # in these tests): the server's configuration, not the caller's input.
        payments_off = status == 503 and (
            "Card payments are not set up" in body or "Card refunds are not available" in body
        )
        if status >= 500 and not payments_off:
            problem = f"status {status}"
        elif "Traceback" in body:
            problem = "a traceback in the body"
        elif self.json_route and 400 <= status < 500:
            data = response.get_json(silent=True)
            if not isinstance(data, dict) or "error" not in data:
                problem = f"{status} without JSON {{'error'}}: {body[:120]!r}"
        if problem:
            self.failures.append(f"{label} -> {problem}")


def _is_json_route(app: Flask, url: str, method: str) -> bool:
    with app.test_request_context(url, method=method, headers={"Accept": "text/html"}):
        return wants_json()


def _form_pages(url: str, good_gets: list[str]) -> list[str]:
    """Pages likely to show the form that posts to `url`: itself, its parents, the rest."""
    pages = [url]
    parts = url.rstrip("/").split("/")
    while len(parts) > 2:
        parts = parts[:-1]
        pages += ["/".join(parts), "/".join(parts) + "/"]
    return [*pages, *good_gets]


def _refused(client: FlaskClient, url: str, method: str, token: str) -> bool:
    """True when the caller may not use the route at all (sent to sign in, or forbidden)."""
    response = client.open(url, method=method, data={"csrf_token": token})
    response.close()
    location = response.headers.get("Location", "")
    return response.status_code in (401, 403) or "/account/login" in location


@pytest.mark.parametrize(("path", "method"), _rule_cases())
def test_route_answers_odd_input_without_a_500(fuzz_shop: FuzzShop, path: str, method: str) -> None:
    app = fuzz_shop.app
    rule = next(r for r in app.url_map.iter_rules() if r.rule == path)
    good, bad = _urls(rule, fuzz_shop.ids)
    rng = random.Random(f"{method} {path}")
    checker = Checker(_is_json_route(app, good[0], method))
    extra_pages = ["/", f"/products/{fuzz_shop.ids['product_id'][0]}", "/checkout/review"]
    for role, client in fuzz_shop.clients.items():

        def send(
            url: str, label: str, client: FlaskClient = client, role: str = role, **kw: Any
        ) -> None:
            checker.check(f"{role} {method} {label}", client.open(url, method=method, **kw))

        token = _token(client)
        for url in good + bad:
            send(url, url, data={"csrf_token": token} if method != "GET" else None)
        if _refused(client, good[0], method, token):
            continue  # the access check answers before any input is read
        if role not in (CONSOLE_ROLES if path.startswith("/console") else STOREFRONT_ROLES):
            continue  # staff shop like any shopper; shoppers never get past the console's door
        if method == "GET":
            for query in _queries(rng):
                send(f"{good[0]}?{query}", f"{good[0]}?{query[:150]}")
            continue
        bases: dict[frozenset[str], dict[str, list[str]]] = {}
        for page in _form_pages(good[0], extra_pages):
            html = client.get(page).get_data(as_text=True)
            for action, fields in _forms(html):
                if action.split("?")[0] in good:
                    bases.setdefault(frozenset(fields), fields | {"csrf_token": [token]})
        for base in bases.values() or [{"csrf_token": [token]}]:
            for body in _bodies(base, rng):
                body = {"csrf_token": [token]} | body
                send(good[0], f"{good[0]} form {body!r:.300}", data=body)
            for raw in _json_bodies(base):
                headers = {"X-CSRFToken": token}
                if isinstance(raw, bytes):
                    send(
                        good[0],
                        f"{good[0]} raw {raw[:40]!r}",
                        data=raw,
                        headers=headers,
                        content_type="application/json",
                    )
                else:
                    send(good[0], f"{good[0]} json {raw!r:.300}", json=raw, headers=headers)
        send(
            good[0],
            f"{good[0]} multipart",
            data={"csrf_token": token, "file": (b"", "")},
            content_type="multipart/form-data",
        )
    assert not checker.failures, "\n".join(checker.failures[:40])


def test_shipping_a_paid_order_without_a_delivery_address_is_a_form_error(
    app: Flask, session: Session
) -> None:
    order = factories.paid_order_with_address(session)
    order.ship_line1 = None
    session.commit()
    client = client_as(app, session, "merchandiser")
    path = f"/console/orders/{order.id}"
    token = CSRF_RE.search(client.get(path).get_data(as_text=True))
    assert token
    response = client.post(f"{path}/ship", data={"ship-csrf_token": token.group(1)})
    assert response.status_code == 400
    assert "has no delivery address; it cannot be shipped." in response.get_data(as_text=True)
    session.rollback()
    assert session.get(Order, order.id).status == "paid"  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(OutboxEmail)) == 0


def test_completing_a_payment_while_card_payments_are_not_set_up_is_a_json_503(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Any]
) -> None:
    order_id = placed_order(app, [(items["jumbo"], 1)])
    session.rollback()
    order = session.get(Order, order_id)
    assert order is not None and order.access_token
    response = client.post(
        f"/checkout/pay/{order.access_token}/complete", headers={"X-CSRFToken": _token(client)}
    )
    assert response.status_code == 503
    assert "Card payments are not set up" in response.get_json()["error"]
    session.rollback()
    assert session.get(Order, order_id).status == "pending_payment"  # type: ignore[union-attr]
