"""Server-side checkout latency in process, without the payment provider's round trips.

Each checkout is a fresh visitor (its own test client) buying one of the best sellers.
The cart, details, delivery and review steps are set up through the test client outside
the timed section; then two requests are timed:

1. `POST /checkout/place`: the order is written and its stock reserved;
2. `POST /checkout/pay/<token>`: paid through an in-memory gateway that answers at once,
   so the figure is the shop's own work (attempt row, marking paid, outbox e-mail, events).

A bare Flask endpoint is timed in the same loop (before or after each checkout, in turn)
as the framework's floor.
"""

from __future__ import annotations

import gc
import itertools
import random
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bench.common import (
    CSRF_RE,
    LatencyStats,
    bench_config,
    copy_database,
    ensure_imported_database,
    latency_row,
    log,
    sqlite_url,
    verdict,
)
from bench.pages_bench import bare_app
from shop.payments.gateway import (
    CardDetails,
    GatewayEvent,
    Intent,
    PaymentGateway,
    RefundResult,
)

CHECKOUTS = 300  # measured checkouts
WARMUP = 20  # unmeasured checkouts first (templates, caches, pools)
POPULAR_PRODUCTS = 200  # the product is drawn from this many best sellers
MIN_STOCK = 50  # ... that have at least this much stock, so none sells out during the run
SEED = 20111209
TARGET_P50_MS = 50.0  # place + pay, median

PLACE_FORM_RE = re.compile(r'<form method="post" action="/checkout/place".*?</form>', re.S)
HIDDEN_RE = re.compile(r'<input id="[^"]*" name="([^"]+)" type="hidden" value="([^"]*)">')
ADDRESS = {
    "address_id": "new",
    "name": "Grace Bench",
    "line1": "1 Market Street",
    "city": "York",
    "postcode": "YO1 7HH",
    "country": "United Kingdom",
    "phone": "01904 000000",
}


class FakeGateway:
    """An in-memory payment gateway: every payment succeeds at once, nothing is stored."""

    publishable_key = "pk_bench_fake"
    js_url = "/static/js/no-stripe-in-the-bench.js"

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.payments = 0

    def create_setup(self, customer: str | None) -> str:
        """A client secret that no browser will use."""
        return f"seti_bench_{next(self._ids)}_secret_bench"

    def pay(
        self,
        *,
        amount: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
        customer: str | None = None,
    ) -> Intent:
        """A payment intent that has already succeeded, for exactly what was asked."""
        self.payments += 1
        return Intent(
            id=f"pi_bench_{next(self._ids)}",
            status="succeeded",
            amount=amount,
            currency=currency,
            client_secret=None,
            metadata=dict(metadata),
            payment_method=payment_method,
        )

    def retrieve(self, intent_id: str) -> Intent:
        """Not used by the benchmark."""
        raise NotImplementedError

    def find_by_metadata(self, key: str, value: str) -> list[Intent]:
        """Not used by the benchmark."""
        raise NotImplementedError

    def cancel(self, intent_id: str) -> Intent:
        """Not used by the benchmark."""
        raise NotImplementedError

    def refund(self, *, intent_id: str, amount: int, idempotency_key: str) -> RefundResult:
        """Not used by the benchmark."""
        raise NotImplementedError

    def create_customer(self, *, email: str, name: str) -> str:
        """Not used by the benchmark."""
        raise NotImplementedError

    def card(self, payment_method: str) -> CardDetails:
        """Not used by the benchmark."""
        raise NotImplementedError

    def attach(self, payment_method: str, customer: str) -> None:
        """Not used by the benchmark."""
        raise NotImplementedError

    def detach(self, payment_method: str) -> None:
        """Not used by the benchmark."""
        raise NotImplementedError

    def parse_webhook(self, payload: bytes, signature: str) -> GatewayEvent:
        """Not used by the benchmark."""
        raise NotImplementedError


def _as_gateway(fake: FakeGateway) -> PaymentGateway:
    """The fake, checked against the protocol by the type checker."""
    return fake


@dataclass
class CheckoutResult:
    """Latency of placing and paying orders, and what the run left in the database."""

    place: LatencyStats
    pay: LatencyStats
    total: LatencyStats
    bare: LatencyStats
    checkouts: int
    warmup: int
    products_sampled: int
    orders_paid: int  # paid web orders the run created (warm-up included)
    emails_queued: int  # order confirmations in the outbox
    gateway_payments: int  # calls to the fake gateway's pay()

    @property
    def consistent(self) -> bool:
        """True when every checkout made one payment, one paid order and one e-mail."""
        expected = self.checkouts + self.warmup
        return self.orders_paid == self.emails_queued == self.gateway_payments == expected

    @property
    def fast(self) -> bool:
        """True when the median of place + pay is under the target."""
        return self.total.p50_ms < TARGET_P50_MS

    @property
    def ok(self) -> bool:
        """True when the run is consistent and fast enough."""
        return self.consistent and self.fast


@dataclass
class Checkout:
    """A visitor at the review step, ready to place the order."""

    client: FlaskClient
    csrf: str
    place_fields: dict[str, str]  # the review page's hidden fields, posted as a browser would


def shop_app(database: Path, instance: Path, gateway: FakeGateway) -> Flask:
    """A shop app on the given database that pays through the fake gateway."""
    from shop import create_app

    app = create_app(bench_config(sqlite_url(database), instance))
    app.extensions["payment_gateway"] = _as_gateway(gateway)
    return app


def stocked_best_sellers(app: Flask, limit: int = POPULAR_PRODUCTS) -> list[int]:
    """Ids of the best-selling active products with enough stock for the whole run."""
    from shop.catalog.models import Product
    from shop.db import db

    with app.app_context():
        query = (
            select(Product.id)
            .where(Product.active.is_(True), Product.stock_qty >= MIN_STOCK)
            .order_by(Product.order_count.desc(), Product.id)
            .limit(limit)
        )
        return list(db.session.scalars(query))


def _csrf(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    match = CSRF_RE.search(response.get_data(as_text=True))
    if response.status_code != 200 or not match:
        raise RuntimeError(f"checkout bench: no CSRF token on {path} ({response.status_code})")
    return match.group(1)


def _expect(response_code: int, wanted: int, what: str) -> None:
    if response_code != wanted:
        raise RuntimeError(f"checkout bench: {what} -> {response_code}, expected {wanted}")


def prepare(app: Flask, product_id: int, n: int) -> Checkout:
    """A fresh visitor with one product in the cart, details and delivery chosen, at review."""
    client = app.test_client()
    csrf = _csrf(client, f"/products/{product_id}")
    added = client.post(
        "/cart/add", data={"csrf_token": csrf, "product_id": product_id, "quantity": 1}
    )
    _expect(added.status_code, 302, "POST /cart/add")
    details = client.post(
        "/checkout", data={**ADDRESS, "email": f"bench-{n}@example.com", "csrf_token": csrf}
    )
    _expect(details.status_code, 302, "POST /checkout")
    method = "express" if n % 3 == 0 else "standard"
    shipping = client.post("/checkout/shipping", data={"csrf_token": csrf, "method": method})
    _expect(shipping.status_code, 302, "POST /checkout/shipping")
    review = client.get("/checkout/review")
    _expect(review.status_code, 200, "GET /checkout/review")
    form = PLACE_FORM_RE.search(review.get_data(as_text=True))
    fields = dict(HIDDEN_RE.findall(form.group(0))) if form else {}
    if "token" not in fields or "fingerprint" not in fields:
        raise RuntimeError("checkout bench: no place-order form on the review page")
    return Checkout(client, csrf, fields)


def place_and_pay(checkout: Checkout, n: int) -> tuple[float, float]:
    """Place the order, then pay it; return the two latencies in seconds."""
    client = checkout.client
    began = time.perf_counter()
    placed = client.post(
        "/checkout/place", data={**checkout.place_fields, "csrf_token": checkout.csrf}
    )
    place_s = time.perf_counter() - began
    _expect(placed.status_code, 302, "POST /checkout/place")
    location = placed.headers["Location"]
    if not location.startswith("/checkout/pay/"):
        raise RuntimeError(f"checkout bench: placing the order went to {location}")
    began = time.perf_counter()
    paid = client.post(
        location,
        json={"payment_method": f"pm_bench_{n}"},
        headers={"X-CSRFToken": checkout.csrf},
    )
    pay_s = time.perf_counter() - began
    _expect(paid.status_code, 200, f"POST {location}")
    body = paid.get_json()
    if not body or body.get("status") != "paid":
        raise RuntimeError(f"checkout bench: payment answered {body}")
    return place_s, pay_s


def bare_request(client: FlaskClient) -> float:
    """One request to the bare Flask endpoint, in seconds."""
    began = time.perf_counter()
    response = client.get("/")
    elapsed = time.perf_counter() - began
    _expect(response.status_code, 200, "bare GET /")
    return elapsed


def database_counts(app: Flask) -> tuple[int, int]:
    """Paid web orders and queued order confirmations in the database."""
    from shop.db import db
    from shop.mail.models import OutboxEmail
    from shop.orders.models import Order

    with app.app_context():
        paid = db.session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.source == "web", Order.status == "paid")
        )
        emails = db.session.scalar(
            select(func.count())
            .select_from(OutboxEmail)
            .where(OutboxEmail.kind == "order_confirmation")
        )
        return int(paid or 0), int(emails or 0)


def run(checkouts: int = CHECKOUTS, warmup: int = WARMUP) -> CheckoutResult:
    """Run the checkout benchmark on a copy of the imported database."""
    from shop.db import db

    source = ensure_imported_database()
    with tempfile.TemporaryDirectory(prefix="shop-bench-checkout-") as tmp:
        database = copy_database(source, Path(tmp))
        gateway = FakeGateway()
        app = shop_app(database, Path(tmp) / "instance", gateway)
        try:
            before_paid, before_emails = database_counts(app)
            ids = stocked_best_sellers(app)
            rng = random.Random(SEED)
            products = [rng.choice(ids) for _ in range(warmup + checkouts)]
            bare = bare_app().test_client()

            log(f"checkout: {warmup} warm-up checkouts")
            for n in range(warmup):
                place_and_pay(prepare(app, products[n], n), n)
                bare_request(bare)
            gc.collect()
            log(f"checkout: {checkouts} checkouts by fresh visitors, place and pay timed")
            place: list[float] = []
            pay: list[float] = []
            floor: list[float] = []
            for i in range(checkouts):
                n = warmup + i
                checkout = prepare(app, products[n], n)
                if i % 2 == 0:
                    floor.append(bare_request(bare))
                place_s, pay_s = place_and_pay(checkout, n)
                if i % 2 == 1:
                    floor.append(bare_request(bare))
                place.append(place_s)
                pay.append(pay_s)
                if (i + 1) % max(1, checkouts // 4) == 0:
                    log(f"  checkouts: {i + 1}/{checkouts}")
            paid, emails = database_counts(app)
        finally:
            db.session.remove()
            db.dispose()
        return CheckoutResult(
            place=LatencyStats.of(place),
            pay=LatencyStats.of(pay),
            total=LatencyStats.of([a + b for a, b in zip(place, pay, strict=True)]),
            bare=LatencyStats.of(floor),
            checkouts=checkouts,
            warmup=warmup,
            products_sampled=len(set(products[warmup:])),
            orders_paid=paid - before_paid,
            emails_queued=emails - before_emails,
            gateway_payments=gateway.payments,
        )


def report(result: CheckoutResult) -> str:
    """Return the checkout section of the markdown report."""
    bare = result.bare

    expected = result.checkouts + result.warmup
    return "\n".join(
        [
            "## Checkout latency (in process, `app.test_client()`, imported database)",
            "",
            f"{result.checkouts} checkouts, each by a fresh visitor buying one of the "
            f"{POPULAR_PRODUCTS} best sellers ({result.products_sampled} distinct), after "
            f"{result.warmup} warm-up checkouts. Cart, details, delivery and review are set "
            "up outside the timed section. Payment goes through an in-memory gateway that "
            "succeeds at once, so no Stripe round trip is included. One bare Flask request "
            "is timed before or after each checkout, in turn.",
            "",
            "| step | requests | p50 ms | p99 ms | mean ms | p50 / bare | mean / bare |",
            "|---|---:|---:|---:|---:|---:|---:|",
            latency_row("place order `POST /checkout/place`", result.place, bare),
            latency_row("pay `POST /checkout/pay/<token>`", result.pay, bare),
            latency_row("place + pay", result.total, bare),
            latency_row("bare Flask endpoint", result.bare, bare),
            "",
            "| check | value | target | result |",
            "|---|---:|---:|---|",
            f"| place + pay p50 | {result.total.p50_ms:.2f} ms | < {TARGET_P50_MS:.0f} ms "
            f"| {verdict(result.fast)} |",
            f"| paid orders / confirmations queued / gateway payments "
            f"| {result.orders_paid} / {result.emails_queued} / {result.gateway_payments} "
            f"| {expected} each | {verdict(result.consistent)} |",
            "",
            f"Overall: {verdict(result.ok)}.",
        ]
    )


def main() -> None:
    """Run the checkout benchmark alone and print its report."""
    print(report(run()))


if __name__ == "__main__":
    main()
