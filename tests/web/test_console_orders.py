"""The console's order pages (list, detail, ship, cancel, refund) and the mail outbox.

Refunds go through a real localstripe server, as in tests/integration/test_payments.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from loyalty.models import Tier
from shop.accounts.models import User
from shop.cart.services import CartOwner
from shop.catalog.models import Product
from shop.console.models import AuditEntry
from shop.mail.models import OutboxEmail
from shop.orders.models import Order, OrderLine
from shop.payments.models import Refund
from shop.payments.stripe_gateway import StripeGateway
from tests import factories
from tests.checkout_support import emails, fresh, paid_order, placed_order, stock
from tests.console_support import client_as, console_token, review_lines
from tests.helpers import sign_in
from tests.stripe_support import config, localstripe_url  # noqa: F401
from tests.web.page_forms import read_form


def order_numbers(html: str) -> list[str]:
    return [
        part.split("</a>")[0].split(">")[-1]
        for part in html.split('href="/console/orders/')[1:]
        if part.split('"')[0].isdigit()
    ]


def test_the_list_filters_by_status_date_and_customer(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session, "ann@example.com", "Ann")
    ann.external_ref = "12748"  # an imported customer's number
    old = factories.order(session, ann, "536365", [(items["heart"], 1)])
    old.placed_at = datetime(2026, 10, 1, 9, 0)
    paid = factories.paid_order_with_address(session, "HP-2001", "zoe@example.com")
    paid.placed_at = datetime(2026, 11, 20, 12, 0)
    session.commit()
    client = client_as(app, session, "merchandiser")
    response = client.get("/console/orders/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert order_numbers(html) == ["HP-2001", "536365"] and "2 orders." in html
    assert "£11.80" in html  # 2 x 2.95 + 1.95 + 3.95 shipping
    for query, expected in (
        ("status=paid", ["HP-2001"]),
        ("status=delivered", ["536365"]),
        ("placed_from=2026-11-01&placed_to=2026-11-30", ["HP-2001"]),
        ("placed_to=2026-10-01", ["536365"]),
        ("customer=ann%40example.com", ["536365"]),
        ("customer=zoe%40example.com", ["HP-2001"]),
        (f"customer={ann.id}", ["536365"]),
        ("customer=12748", ["536365"]),
        ("customer=HP-2001", ["HP-2001"]),
        ("customer=nobody%40example.com", []),
    ):
        got = order_numbers(client.get(f"/console/orders/?{query}").get_data(as_text=True))
        assert got == expected, query
    for bad in (
        "placed_from=yesterday",
        "status=lost",
        "placed_from=2026-11-02&placed_to=2026-11-01",
    ):
        response = client.get(f"/console/orders/?{bad}")
        assert response.status_code == 400, bad
        assert "Please fix the following" in response.get_data(as_text=True)
    assert "before the start date" in client.get(
        "/console/orders/?placed_from=2026-11-02&placed_to=2026-11-01"
    ).get_data(as_text=True)
    for far in ("placed_to=9999-12-31", "placed_from=0001-01-01"):
        response = client.get(f"/console/orders/?{far}")
        assert response.status_code == 400, far
        assert "Choose a date from 1 January 1900" in response.get_data(as_text=True)
    assert client.get("/console/orders/?page=x").status_code == 400
    assert client.get("/console/orders/?page=2").status_code == 404


def test_an_imported_customer_without_an_e_mail_shows_no_none(app: Flask, session: Session) -> None:
    order = factories.paid_order_with_address(session)
    owner = session.get(User, order.user_id)
    assert owner is not None
    owner.email = None
    session.commit()
    client = client_as(app, session, "merchandiser")
    html = client.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert re.search(rf"Account {owner.id}</a>: Ann\s*<", html) and "(None)" not in html
    assert f'href="/console/customers/account/{owner.id}"' in html  # the customer's page


def test_the_detail_page_shows_the_whole_order(app: Flask, session: Session) -> None:
    order = factories.paid_order_with_address(session)
    session.commit()
    client = client_as(app, session, "merchandiser")
    response = client.get(f"/console/orders/{order.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in (
        "Order HP-1001",
        "White Hanging Heart T-Light Holder",
        "Jumbo Bag Red Retrospot",
        "1 High Street",
        "YO1 7HH",
        "£11.80",
        "ann@example.com",
        "No card payments.",
        "No refunds.",
        "Mark shipped",
    ):
        assert text in html, text
    assert "Refund…</button>" not in html  # nothing was paid by card
    assert client.get("/console/orders/999").status_code == 404


def test_shipping_from_the_console(app: Flask, session: Session) -> None:
    order = factories.paid_order_with_address(session)
    session.commit()
    client = client_as(app, session, "merchandiser")
    path = f"/console/orders/{order.id}"
    token = console_token(client, path)
    response = client.post(
        f"{path}/ship", data={"ship-csrf_token": token, "ship-tracking": "DPD 1234"}
    )
    assert response.status_code == 302
    html = client.get(path).get_data(as_text=True)
    assert "is marked shipped" in html and "Shipped (DPD 1234)" in html
    assert fresh(session, order.id).status == "shipped"
    [shipped] = emails(session, "order_shipped")
    assert "Tracking reference: DPD 1234" in shipped.text_body
    assert "DPD 1234" in shipped.html_body
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "order.ship"))
    assert entry is not None and entry.actor_email == "merchandiser@example.com"
    again = client.post(f"{path}/ship", data={"ship-csrf_token": token})
    assert again.status_code == 400
    assert "has been shipped already" in again.get_data(as_text=True)
    assert len(emails(session, "order_shipped")) == 1
    long = client.post(f"{path}/ship", data={"ship-csrf_token": token, "ship-tracking": "x" * 200})
    assert long.status_code == 400


def test_cancel_only_where_the_state_machine_allows(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    paid = factories.paid_order_with_address(session)
    session.commit()
    client = client_as(app, session, "merchandiser")
    token = console_token(client, f"/console/orders/{paid.id}")
    refused = client.post(f"/console/orders/{paid.id}/cancel", data={"cancel-csrf_token": token})
    assert refused.status_code == 400
    assert "only unpaid orders can be cancelled" in refused.get_data(as_text=True)
    assert fresh(session, paid.id).status == "paid"

    unpaid_id = placed_order(app, [(items["lantern"], 2)])
    assert stock(session, items["lantern"]) == 1
    assert "Cancel the order" in client.get(f"/console/orders/{unpaid_id}").get_data(as_text=True)
    response = client.post(
        f"/console/orders/{unpaid_id}/cancel",
        data={"cancel-csrf_token": token, "cancel-reason": "duplicate", "cancel-confirm": "1"},
    )
    assert response.status_code == 302
    assert fresh(session, unpaid_id).status == "cancelled"
    assert stock(session, items["lantern"]) == 3
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is cancelled and its stock is back; the customer&#39;s e-mail is queued." in shown
    assert "Refundable" not in shown  # never paid: nothing to refund
    [told] = emails(session, "order_cancelled")
    assert told.order_id == unpaid_id and told.to_address == "guest@example.com"
    actions = session.scalars(select(AuditEntry.action)).all()
    assert actions == ["order.cancel"]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "order.cancel"))
    assert entry is not None
    assert entry.after["stock_returned"] == {items["lantern"].sku: 2}


def seen(refunded_pence: int) -> dict[str, str]:
    """The refund form's record of what had been refunded when the page was opened."""
    return {"refund-refunded_before": str(refunded_pence)}


SEEN_NOTHING = seen(0)
CONFIRMED = {"refund-confirm": "1"}  # the button of the confirmation page


def _hearts_and_a_bag(
    app: Flask, session: Session, items: dict[str, Product], base_url: str
) -> tuple[int, Order, OrderLine, FlaskClient]:
    """A visitor's paid order of two hearts and a bag, its heart line, and a merchandiser
    signed in to the console."""
    order_id = paid_order(app, [(items["heart"], 2), (items["jumbo"], 1)], base_url)
    order = fresh(session, order_id)
    heart_line = next(line for line in order.lines if line.sku == "85123A")
    return order_id, order, heart_line, client_as(app, session, "merchandiser")


def test_refunds_in_part_with_restock_and_clear_errors(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id, order, heart_line, client = _hearts_and_a_bag(app, session, items, localstripe_url)
    path = f"/console/orders/{order_id}"
    page = client.get(path).get_data(as_text=True)
    assert 'value="11.80"' in page and "succeeded" in page  # prefilled with what is left
    assert 'data-testid="order-refundable">£11.80<' in page
    token = console_token(client, path)
    for amount, message in (
        ("abc", "Enter an amount in pounds"),
        (".", "Enter an amount in pounds"),
        ("£.", "Enter an amount in pounds"),
        ("١٢", "Enter an amount in pounds"),
        ("0", "more than zero"),
        ("-5", "Enter an amount in pounds"),
        ("1.234", "at most two decimal places"),
        ("11.81", "At most £11.80 of order"),
        ("", "Enter an amount in pounds"),
    ):
        response = client.post(
            f"{path}/refund",
            data={"refund-csrf_token": token, "refund-amount": amount, **SEEN_NOTHING},
        )
        assert response.status_code == 400, amount
        assert message in response.get_data(as_text=True), amount
    too_many = client.post(
        f"{path}/refund",
        data={
            "refund-csrf_token": token,
            "refund-amount": "1",
            f"refund-restock_{heart_line.id}": "3",
            **SEEN_NOTHING,
        },
    )
    assert too_many.status_code == 400 and "Between 0 and 2." in too_many.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(Refund)) is None

    response = client.post(
        f"{path}/refund",
        data={
            "refund-csrf_token": token,
            "refund-amount": "2.95",
            "refund-reason": "arrived broken",
            f"refund-restock_{heart_line.id}": "1",
            **SEEN_NOTHING,
            **CONFIRMED,
        },
    )
    assert response.status_code == 302
    html = client.get(path).get_data(as_text=True)
    assert "Refunded £2.95." in html and "arrived broken" in html
    order = fresh(session, order_id)
    assert (order.status, order.refunded_pence) == ("partially_refunded", 295)
    assert stock(session, items["heart"]) == 49
    assert len(emails(session, "order_refunded")) == 1
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "order.refund"))
    assert entry is not None and entry.after["amount_pence"] == 295
    assert entry.before == {"refunded_pence": 0, "status": "paid"}
    assert entry.after["restocked"] == {items["heart"].sku: 1}
    assert entry.after["status"] == "partially_refunded"

    real = app.extensions["payment_gateway"]
    app.extensions["payment_gateway"] = StripeGateway(
        secret_key="sk_test_suite",
        publishable_key="pk",
        webhook_secret="",
        api_base="http://127.0.0.1:9",
        timeout_s=2,
    )
    try:
        failed = client.post(
            f"{path}/refund",
            data={"refund-csrf_token": token, "refund-amount": "1.00", **seen(295), **CONFIRMED},
        )
    finally:
        app.extensions["payment_gateway"] = real
    assert failed.status_code == 400
    assert "The payment provider refused the refund" in failed.get_data(as_text=True)
    assert fresh(session, order_id).refunded_pence == 295

    rest = client.post(
        f"{path}/refund",
        data={"refund-csrf_token": token, "refund-amount": "8.85", **seen(295), **CONFIRMED},
    )
    assert rest.status_code == 302
    order = fresh(session, order_id)
    assert (order.status, order.refunded_pence) == ("refunded", order.total_pence)
    assert len(session.scalars(select(AuditEntry)).all()) == 2


def test_the_outbox_lists_failed_mail_and_retries_it(app: Flask, session: Session) -> None:
    order = factories.paid_order_with_address(session)
    session.commit()
    client = client_as(app, session, "merchandiser")
    token = console_token(client, f"/console/orders/{order.id}")
    assert (
        client.post(f"/console/orders/{order.id}/ship", data={"ship-csrf_token": token}).status_code
        == 302
    )
    session.rollback()
    session.execute(
        update(OutboxEmail).values(status="failed", attempts=5, last_error="550 mailbox full")
    )
    session.commit()
    email_id = session.scalar(select(OutboxEmail.id))
    response = client.get("/console/orders/outbox")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<td class="num" data-status="failed">1</td>' in html
    assert "550 mailbox full" in html and "ann@example.com" in html
    assert "Your order HP-1001 is on its way" in html
    retried = client.post(f"/console/orders/outbox/{email_id}/retry", data={"csrf_token": token})
    assert retried.status_code == 302
    html = client.get("/console/orders/outbox").get_data(as_text=True)
    assert "queued again" in html and "No failed e-mails." in html
    assert '<td class="num" data-status="pending">1</td>' in html
    session.rollback()
    row = session.get(OutboxEmail, email_id)
    assert row is not None and (row.status, row.attempts) == ("pending", 0)
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "mail.retry"))
    assert entry is not None and entry.before["last_error"] == "550 mailbox full"
    again = client.post(
        f"/console/orders/outbox/{email_id}/retry",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert again.status_code == 200
    assert "only failed e-mails can be retried" in again.get_data(as_text=True)


def test_the_outbox_lists_mail_being_sent_and_flags_a_stopped_sender(
    app: Flask, session: Session
) -> None:
    order = factories.paid_order_with_address(session)
    session.commit()
    client = client_as(app, session, "merchandiser")
    token = console_token(client, f"/console/orders/{order.id}")
    client.post(f"/console/orders/{order.id}/ship", data={"ship-csrf_token": token})
    session.rollback()
    now = datetime.now(UTC).replace(tzinfo=None)
    session.execute(
        update(OutboxEmail).values(
            status="sending", claimed_by="host:41:dead", claimed_at=now - timedelta(minutes=11)
        )
    )
    session.commit()
    app.config["MAIL_CLAIM_TIMEOUT_S"] = 600
    html = client.get("/console/orders/outbox").get_data(as_text=True)
    sending = html.split('data-testid="outbox-sending"')[1].split("</table>")[0]
    assert "Your order HP-1001 is on its way" in sending and "host:41:dead" in sending
    assert "Sender stopped" in sending
    app.config["MAIL_CLAIM_TIMEOUT_S"] = 3600
    sending = client.get("/console/orders/outbox").get_data(as_text=True)
    sending = sending.split('data-testid="outbox-sending"')[1].split("</table>")[0]
    assert "Being sent" in sending and "Sender stopped" not in sending


def test_the_order_page_shows_the_customers_tier_and_priority_support(
    app: Flask, session: Session
) -> None:
    from loyalty.models import Membership, Tier

    order = factories.paid_order_with_address(session)
    tier = Tier(name="Platinum", rank=4, threshold=0, priority_support=True)
    session.add(tier)
    session.flush()
    session.add(
        Membership(user_id=order.user_id, number="HP-00000042", tier_id=tier.id, terms_version="t")
    )
    session.commit()
    client = client_as(app, session, "merchandiser")
    html = client.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert "Member: Platinum · priority support" in html


def test_an_order_that_never_took_its_stock_offers_no_restock(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = paid_order(app, [(items["heart"], 2)], localstripe_url)
    line_id = fresh(session, order_id).lines[0].id
    # As when money arrived after the hold had ended and the stock was sold meanwhile.
    session.execute(update(Order).where(Order.id == order_id).values(stock_reserved=False))
    session.commit()
    client = client_as(app, session, "merchandiser")
    path = f"/console/orders/{order_id}"
    page = client.get(path).get_data(as_text=True)
    assert "Nothing can go back in stock" in page
    assert f"refund-restock_{line_id}" not in page
    token = console_token(client, path)
    response = client.post(
        f"{path}/refund",
        data={
            "refund-csrf_token": token,
            "refund-amount": "1.00",
            f"refund-restock_{line_id}": "2",  # a stale form still asking for it
            **SEEN_NOTHING,
            **CONFIRMED,
        },
    )
    assert response.status_code == 302
    assert stock(session, items["heart"]) == 48
    assert fresh(session, order_id).lines[0].restocked_qty == 0


def test_a_refund_form_sent_again_after_it_was_made_refunds_nothing_more(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = paid_order(app, [(items["heart"], 2)], localstripe_url)
    session.rollback()
    client = client_as(app, session, "merchandiser")
    path = f"/console/orders/{order_id}"
    page = client.get(path).get_data(as_text=True)
    assert 'name="refund-refunded_before" type="hidden" value="0"' in page
    assert page.count("data-once") >= 2  # ship and refund forms send once
    assert "js/forms.js" in page
    token = console_token(client, path)
    form = {"refund-csrf_token": token, "refund-amount": "2.00", **SEEN_NOTHING, **CONFIRMED}
    assert client.post(f"{path}/refund", data=form).status_code == 302

    again = client.post(f"{path}/refund", data=form)  # a re-post, or a second click
    assert again.status_code == 400
    html = again.get_data(as_text=True)
    assert "was refunded since this page was opened (£2.00 refunded in all now)" in html
    assert 'name="refund-refunded_before" type="hidden" value="200"' in html
    session.rollback()
    assert [r.amount_pence for r in session.scalars(select(Refund))] == [200]
    assert fresh(session, order_id).refunded_pence == 200

    # Checked and sent again on purpose, from the page that said so: a second refund.
    assert client.post(f"{path}/refund", data={**form, **seen(200)}).status_code == 302
    assert fresh(session, order_id).refunded_pence == 400

    stale = {"refund-csrf_token": token, "refund-amount": "1.00"}  # no record of the page
    response = client.post(f"{path}/refund", data=stale)
    assert response.status_code == 400
    assert "This form is out of date" in response.get_data(as_text=True)
    assert fresh(session, order_id).refunded_pence == 400


def test_the_list_flags_members_and_filters_priority_support_orders(
    app: Flask, session: Session
) -> None:
    items = factories.small_catalogue(session)
    platinum = factories.member(session, "pia@example.com", tier="Platinum")
    silver = factories.member(session, "sid@example.com", tier="Silver")
    shopper = factories.user(session, "sam@example.com")
    session.execute(update(Tier).where(Tier.name == "Platinum").values(priority_support=True))
    for number, owner in (("PL-1", platinum), ("SI-1", silver), ("SA-1", shopper)):
        factories.order(session, owner, number, [(items["heart"], 1)]).status = "paid"
    session.commit()
    client = client_as(app, session, "merchandiser")

    rows = client.get("/console/orders/").get_data(as_text=True).split("<tr>")
    row = {
        number: next(r for r in rows if f">{number}<" in r) for number in ("PL-1", "SI-1", "SA-1")
    }
    assert (
        'class="badge moved" data-testid="member-badge">Platinum · priority support' in row["PL-1"]
    )
    assert 'class="badge" data-testid="member-badge">Silver<' in row["SI-1"]
    assert "member-badge" not in row["SA-1"]

    only = client.get("/console/orders/?status=paid&priority=y")
    assert only.status_code == 200
    assert order_numbers(only.get_data(as_text=True)) == ["PL-1"]
    assert '<input checked id="priority" name="priority"' in only.get_data(as_text=True)


def test_a_refund_is_shown_before_it_is_made_and_can_be_changed(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id, order, heart_line, client = _hearts_and_a_bag(app, session, items, localstripe_url)
    number = order.number
    path = f"/console/orders/{order_id}"
    token = console_token(client, path)
    asked = {
        "refund-csrf_token": token,
        "refund-amount": "2.95",
        "refund-reason": "arrived broken",
        f"refund-restock_{heart_line.id}": "1",
        **SEEN_NOTHING,
    }
    review = client.post(f"{path}/refund", data=asked)
    assert review.status_code == 200
    html = review.get_data(as_text=True)
    assert f"Refund £2.95 of order {number}?" in html
    assert review_lines(html) == [
        f"£2.95 goes back to the card order {number} was paid with.",
        "It was paid £11.80.",
        "The order is then partly refunded: £8.85 left to refund.",
        f"Back in stock: 1 \N{MULTIPLICATION SIGN} {heart_line.name} (85123A).",
        "Reason, noted for staff only: arrived broken",
        "The customer is e-mailed at guest@example.com.",
    ]
    assert ">Refund £2.95</button>" in html and ">Change the refund</button>" in html
    assert session.scalar(select(Refund)) is None and stock(session, items["heart"]) == 48

    # Back to the order page with what was typed.
    carried = read_form(html).values
    assert carried["refund-amount"] == "2.95" and carried["refund-reason"] == "arrived broken"
    back = client.post(f"{path}/refund", data={**carried, "refund-edit": "1"})
    assert back.status_code == 200
    page = read_form(back.get_data(as_text=True)).values
    assert page["refund-amount"] == "2.95"
    assert page[f"refund-restock_{heart_line.id}"] == "1"
    assert session.scalar(select(Refund)) is None

    done = client.post(f"{path}/refund", data={**carried, "refund-confirm": "1"})
    assert done.status_code == 302
    order = fresh(session, order_id)
    assert (order.status, order.refunded_pence) == ("partially_refunded", 295)
    assert stock(session, items["heart"]) == 49
    # Shipped afterwards, the order still says it was partly refunded.
    assert client.post(f"{path}/ship", data={"ship-csrf_token": token}).status_code == 302
    assert 'data-testid="order-status">Shipped, partly refunded<' in client.get(path).get_data(
        as_text=True
    )
    assert "Shipped, partly refunded" in client.get("/console/orders/").get_data(as_text=True)

    # The rest: the whole order is then refunded, nothing more.
    whole = client.post(
        f"{path}/refund",
        data={"refund-csrf_token": token, "refund-amount": "8.85", **seen(295)},
    )
    lines = review_lines(whole.get_data(as_text=True))
    assert "It was paid £11.80, and £2.95 of it was refunded before." in lines
    assert "The order is then fully refunded." in lines
    assert "Nothing goes back in stock." in lines
    too_much = client.post(
        f"{path}/refund",
        data={"refund-csrf_token": token, "refund-amount": "8.86", **seen(295)},
    )
    assert too_much.status_code == 400
    assert "At most £8.85 of order" in too_much.get_data(as_text=True)


def test_a_cancellation_reason_is_for_staff_and_not_on_the_shoppers_order_page(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session, "ann@example.com")
    session.commit()
    order_id = placed_order(app, [(items["lantern"], 1)], owner=CartOwner(user_id=ann.id))
    number = fresh(session, order_id).number
    client = client_as(app, session, "merchandiser")
    path = f"/console/orders/{order_id}"
    token = console_token(client, path)
    done = client.post(
        f"{path}/cancel",
        data={
            "cancel-csrf_token": token,
            "cancel-reason": "suspected fraud",
            "cancel-confirm": "1",
        },
    )
    assert done.status_code == 302
    step = fresh(session, order_id).history[-1]
    assert (step.to_status, step.note, step.staff_note) == (
        "cancelled",
        "Cancelled",
        "suspected fraud",
    )
    console_page = client.get(path).get_data(as_text=True)
    assert "<td>Cancelled</td><td>suspected fraud</td>" in console_page

    shopper = app.test_client()
    sign_in(shopper, "ann@example.com", factories.PASSWORD)
    page = shopper.get(f"/account/orders/{number}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "— Cancelled</li>" in html
    assert "suspected fraud" not in html


def test_cancelling_an_order_is_shown_before_it_is_done(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    unpaid_id = placed_order(app, [(items["lantern"], 2)])
    order = fresh(session, unpaid_id)
    number, name = order.number, order.lines[0].name
    client = client_as(app, session, "merchandiser")
    path = f"/console/orders/{unpaid_id}"
    token = console_token(client, path)
    review = client.post(f"{path}/cancel", data={"cancel-csrf_token": token})
    assert review.status_code == 200
    html = review.get_data(as_text=True)
    assert f"Cancel order {number}?" in html
    assert review_lines(html) == [
        f"Order {number} (£{order.total_pence / 100:.2f}, not paid) is cancelled, and its "
        "payment link stops working.",
        f"Back in stock: 2 \N{MULTIPLICATION SIGN} {name} ({items['lantern'].sku}).",
        "The customer is e-mailed at guest@example.com.",
    ]
    carried = read_form(html).values
    kept = client.post(f"{path}/cancel", data={**carried, "cancel-edit": "1"})
    assert kept.status_code == 200 and "Cancel the order…</button>" in kept.get_data(as_text=True)
    assert fresh(session, unpaid_id).status == "pending_payment"
    assert stock(session, items["lantern"]) == 1

    done = client.post(f"{path}/cancel", data={**carried, "cancel-confirm": "1"})
    assert done.status_code == 302
    assert fresh(session, unpaid_id).status == "cancelled"
    assert stock(session, items["lantern"]) == 3
