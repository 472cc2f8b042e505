"""The console's order search names customers as the recommendation preview does: "#12"
is an account id, "customer 12" an imported customer number."""

from __future__ import annotations

from html import unescape
from urllib.parse import quote

from flask import Flask
from sqlalchemy.orm import Session

from shop.accounts.customer_refs import CustomerRef, parse_customer_ref
from shop.accounts.models import User
from shop.catalog.models import Product
from tests import factories
from tests.console_support import client_as


def _numbers(html: str) -> list[str]:
    return [
        part.split("</a>")[0].split(">")[-1]
        for part in html.split('href="/console/orders/')[1:]
        if part.split('"')[0].isdigit()
    ]


def test_the_order_search_takes_account_ids_and_customer_numbers_explicitly(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session, "ann@example.com", "Ann")
    # An imported customer whose customer number is Ann's account id.
    imported = User(name=f"Customer {ann.id}", external_ref=str(ann.id))
    session.add(imported)
    session.flush()
    factories.order(session, ann, "W-ANN-1", [(items["heart"], 1)])
    factories.order(session, imported, "536365", [(items["jumbo"], 1)])
    ann_id, imported_id = ann.id, imported.id
    session.commit()
    client = client_as(app, session, "merchandiser")

    def found(text: str) -> list[str]:
        response = client.get(f"/console/orders/?customer={quote(text)}")
        assert response.status_code == 200, text
        return sorted(_numbers(response.get_data(as_text=True)))

    assert found(str(ann_id)) == ["536365", "W-ANN-1"]  # a bare number: both, as before
    for text in (f"#{ann_id}", f"# {ann_id}", f"account {ann_id}", f"Account #{ann_id}"):
        assert found(text) == ["W-ANN-1"], text
    for text in (f"customer {ann_id}", f"Customer number {ann_id}", f"customer #{ann_id}"):
        assert found(text) == ["536365"], text
    assert found(f"#{imported_id}") == ["536365"]
    assert found("customer 999999") == [] and found("#999999") == []
    # E-mails and order numbers still work.
    assert found(" ANN@example.com ") == ["W-ANN-1"]
    assert found("w-ann-1") == ["W-ANN-1"]
    assert found("536365") == ["536365"]

    response = client.get("/console/orders/?customer=%23W-ANN-1")
    assert response.status_code == 400
    assert (
        "'W-ANN-1' is not an account id: after # comes the account's number (e.g. #12). "
        "Type an order number without the #."
    ) in unescape(response.get_data(as_text=True))


def test_the_parser_is_the_one_the_preview_uses() -> None:
    assert parse_customer_ref(" Ann@Example.com ") == CustomerRef("email", "Ann@Example.com")
    assert parse_customer_ref("#12") == CustomerRef("account", "12")
    assert parse_customer_ref("account #12") == CustomerRef("account", "12")
    assert parse_customer_ref("customer number 12") == CustomerRef("customer", "12")
    assert parse_customer_ref("CUSTOMER 12748") == CustomerRef("customer", "12748")
    assert parse_customer_ref(" 12 ") == CustomerRef("other", "12")
    assert parse_customer_ref("HP-2001") == CustomerRef("other", "HP-2001")
