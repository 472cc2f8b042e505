"""Console fixes found by QA: each test fails without its fix."""

from __future__ import annotations

import io
from html import escape

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.form_fields import CONTROL_MESSAGE, MULTILINE_CONTROL_MESSAGE
from tests.console_support import client_as, console_token


def upload(client: FlaskClient, data: bytes):  # type: ignore[no-untyped-def]
    token = console_token(client, "/console/products/import")
    return client.post(
        "/console/products/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), "catalogue.csv")},
        content_type="multipart/form-data",
    )


def test_an_import_refuses_the_control_characters_the_product_form_refuses(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = client_as(app, session, "merchandiser")
    rows = [
        ("BAD-1", "Tab\there", ""),
        ("BAD-2", '"Two\nlines"', ""),
        ("BAD-3", "Line\u2028separator", ""),
        ("BAD-4", "evil\u202egpj.exe", ""),
        ("BAD-5", "Escape\x1bname", ""),
        ("BAD-6", "Bell", "rings\x07"),
        ("BAD-7", "Backwards", "text\u202ehere"),
        ("GOOD-1", "Clean name", '"Two\nlines\r\nand\ta tab"'),
    ]
    body = "sku,name,description,price\n" + "".join(
        f"{sku},{name},{description},1.00\n" for sku, name, description in rows
    )
    response = upload(client, body.encode())
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 created, 0 updated, 0 unchanged, 7 rows with errors" in html
    assert html.count(escape(CONTROL_MESSAGE)) == 5
    assert html.count(escape(MULTILINE_CONTROL_MESSAGE)) == 2
    session.rollback()
    skus = set(session.scalars(select(Product.sku).where(Product.sku.like("%-_"))))
    assert skus == {"GOOD-1"}
    good = session.scalar(select(Product).where(Product.sku == "GOOD-1"))
    assert good is not None and good.description.startswith("Two\nlines")
