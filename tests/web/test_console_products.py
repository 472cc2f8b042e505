"""The console's product pages: list and filters, edit, create, CSV export and import."""

from __future__ import annotations

import csv
import io

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.console.models import AuditEntry
from tests.console_support import client_as, console_token
from tests.web.page_forms import open_form


def table_skus(html: str) -> list[str]:
    return [
        part.split("</a>")[0].split(">")[-1]
        for part in html.split('href="/console/products/')[1:]
        if part.split('"')[0].isdigit()
    ]


def test_the_list_searches_filters_and_pages(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = client_as(app, session, "merchandiser")
    page = client.get("/console/products/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert table_skus(html) == ["20725", "71053", "85099B", "85123A", "99999"]
    assert "5 products." in html and "£2.95" in html
    assert table_skus(client.get("/console/products/?q=retro").get_data(as_text=True)) == [
        "20725",
        "85099B",
    ]
    bags = items["jumbo"].category_id
    html = client.get(f"/console/products/?category={bags}&active=yes&stock=in").get_data(
        as_text=True
    )
    assert table_skus(html) == ["85099B"]
    assert table_skus(client.get("/console/products/?stock=low").get_data(as_text=True)) == [
        "71053",
        "99999",
    ]
    assert table_skus(client.get("/console/products/?active=no").get_data(as_text=True)) == [
        "99999"
    ]
    bad = client.get("/console/products/?stock=plenty")
    assert bad.status_code == 400 and "Not a valid choice" in bad.get_data(as_text=True)
    assert client.get("/console/products/?page=0").status_code == 400
    assert client.get("/console/products/?page=2").status_code == 404


def test_the_list_pages_keep_the_filters(app: Flask, session: Session) -> None:
    from tests import factories

    cat = factories.category(session)
    for n in range(55):
        factories.product(session, cat, sku=f"P{n:03d}", name=f"Paper thing {n}")
    session.commit()
    client = client_as(app, session, "merchandiser")
    html = client.get("/console/products/?q=paper").get_data(as_text=True)
    assert "Page 1 of 2" in html and "q=paper" in html and "page=2" in html
    second = client.get("/console/products/?q=paper&page=2").get_data(as_text=True)
    assert table_skus(second) == ["P050", "P051", "P052", "P053", "P054"]


def test_editing_a_product_saves_pence_and_audits(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = client_as(app, session, "merchandiser")
    heart = items["heart"]
    path = f"/console/products/{heart.id}"
    form = open_form(client, path)
    assert (form["price"], form["stock"], form["active"]) == ("2.95", "50", "y")
    form.pop("active")  # untick the checkbox
    response = client.post(
        path,
        data={
            **form,
            "name": "Heart holder",
            "description": "White.",
            "price": "3.10",
            "stock": "44",
            "category": str(items["jumbo"].category_id),
        },
    )
    assert response.status_code == 302
    assert "Saved 85123A" in client.get(path).get_data(as_text=True)
    session.rollback()
    stored = session.get(Product, heart.id)
    assert stored is not None
    assert (stored.name, stored.price_pence, stored.stock_qty, stored.active) == (
        "Heart holder",
        310,
        44,
        False,  # the checkbox was left unticked
    )
    assert stored.category_id == items["jumbo"].category_id
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "product.update"))
    assert entry is not None and entry.actor_email == "merchandiser@example.com"
    assert entry.before["price_pence"] == 295 and entry.after["price_pence"] == 310


def test_a_bad_edit_is_a_form_error_and_changes_nothing(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = client_as(app, session, "merchandiser")
    heart = items["heart"]
    path = f"/console/products/{heart.id}"
    token = console_token(client, path)
    base = {"csrf_token": token, "name": "Heart", "price": "2.95", "stock": "50", "active": "y"}
    for change, message in (
        ({"price": "2.955"}, "not a price in pounds"),
        ({"price": "\u0663.\u0665"}, "not a price in pounds"),  # Arabic-Indic 3.5
        ({"price": "-1"}, "not a price in pounds"),
        ({"price": "0"}, "more than zero"),
        ({"price": ""}, "Enter a price."),
        ({"stock": "-3"}, "Use a whole number from 0"),
        ({"stock": "many"}, "Not a valid integer"),
        ({"name": ""}, "Enter a name."),
        ({"category": "999"}, "Not a valid choice"),
    ):
        response = client.post(path, data={**base, **change})
        assert response.status_code == 400, change
        assert message in response.get_data(as_text=True), change
    assert client.post("/console/products/99999", data=base).status_code == 404
    session.rollback()
    stored = session.get(Product, heart.id)
    assert stored is not None and (stored.name, stored.price_pence) == (heart.name, 295)
    assert session.scalar(select(AuditEntry)) is None


def test_creating_a_product_and_a_duplicate_sku(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = client_as(app, session, "merchandiser")
    assert client.get("/console/products/new").status_code == 200
    data = {
        "csrf_token": console_token(client, "/console/products/new"),
        "sku": "NEW-1",
        "name": "Paper star",
        "price": "1.25",
        "stock": "12",
        "category": str(items["heart"].category_id),
        "active": "y",
    }
    response = client.post("/console/products/new", data=data)
    assert response.status_code == 302
    session.rollback()
    made = session.scalar(select(Product).where(Product.sku == "NEW-1"))
    assert made is not None and (made.price_pence, made.stock_qty, made.active) == (125, 12, True)
    assert response.headers["Location"].endswith(f"/console/products/{made.id}")
    again = client.post("/console/products/new", data={**data, "name": "Other"})
    assert again.status_code == 400
    assert "A product with SKU NEW-1 already exists." in again.get_data(as_text=True)
    lower = client.post("/console/products/new", data={**data, "sku": "new-1", "name": "Other"})
    assert lower.status_code == 400
    assert "A product with SKU NEW-1 already exists." in lower.get_data(as_text=True)
    blank = client.post("/console/products/new", data={**data, "sku": "NEW-2", "name": "   "})
    assert blank.status_code == 400 and "Enter a name." in blank.get_data(as_text=True)
    session.rollback()
    assert len(session.scalars(select(Product).where(Product.sku == "NEW-1")).all()) == 1
    actions = session.scalars(select(AuditEntry.action)).all()
    assert actions == ["product.create"]


def test_the_export_is_a_csv_of_the_catalogue(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = client_as(app, session, "merchandiser")
    response = client.get("/console/products/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "sku",
        "name",
        "description",
        "category",
        "price",
        "stock",
        "active",
        "launches_at",
    ]
    assert rows[4][:2] == ["85123A", "White Hanging Heart T-Light Holder"]
    assert rows[4][3:] == ["candles", "2.95", "50", "yes", ""]
    assert len(rows) == 6


def test_exporting_then_importing_changes_nothing(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    heart = session.get(Product, items["heart"].id)
    assert heart is not None
    heart.name, heart.description = "'=quoted name", '\'+desc, "with" quotes'
    jumbo = session.get(Product, items["jumbo"].id)
    assert jumbo is not None
    jumbo.name = "=SUM(A1)"
    session.commit()
    client = client_as(app, session, "merchandiser")
    exported = client.get("/console/products/export.csv").get_data()
    response = upload(client, exported)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    session.rollback()
    again = session.get(Product, items["heart"].id)
    assert again is not None
    assert (again.name, again.description) == ("'=quoted name", '\'+desc, "with" quotes')
    assert session.get(Product, items["jumbo"].id).name == "=SUM(A1)"  # type: ignore[union-attr]
    assert client.get("/console/products/export.csv").get_data() == exported


def upload(client, data: bytes, name: str = "catalogue.csv"):  # type: ignore[no-untyped-def]
    token = console_token(client, "/console/products/import")
    return client.post(
        "/console/products/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_importing_a_csv_applies_good_rows_and_lists_bad_ones(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = client_as(app, session, "merchandiser")
    assert client.get("/console/products/import").status_code == 200
    response = upload(
        client,
        b"sku,name,price,stock,active,category\n"
        b"85123A,,3.00,,,\n"
        b"NEW-9,Tin robot,4.50,3,yes,bags\n"
        b",Nameless,1.00,1,yes,bags\n"
        b"71053,,2.999,,,\n"
        b"20725,,,ten,,\n"
        b"85099B,,,,sometimes,\n"
        b"99999,,,,,shoes\n",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 created, 1 updated, 0 unchanged, 5 rows with errors" in html
    for row, message in (
        (4, "the SKU is missing"),
        (5, "bad price"),
        (6, "bad stock"),
        (7, "bad active flag"),
        (8, "unknown category"),
    ):
        assert f'<td class="num">{row}</td>' in html and message in html
    session.rollback()
    assert session.get(Product, items["heart"].id).price_pence == 300  # type: ignore[union-attr]
    assert session.get(Product, items["lantern"].id).price_pence == 339  # type: ignore[union-attr]
    robot = session.scalar(select(Product).where(Product.sku == "NEW-9"))
    assert robot is not None and robot.category_id == items["jumbo"].category_id
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "product.import"))
    assert entry is not None and entry.after["created"] == ["NEW-9"]
    assert entry.after["changes"]["NEW-9"] == {
        "name": "Tin robot",
        "description": "",
        "price_pence": 450,
        "stock_qty": 3,
        "category_id": items["jumbo"].category_id,
        "active": True,
        "launches_at": None,
    }


def test_unreadable_uploads_get_a_clear_message(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = client_as(app, session, "merchandiser")
    for data, message in (
        ("sku,name\n85123A,Caf\xe9\n".encode("cp1252"), "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not a CSV text file"),
        (b"name,price\nx,1\n", "header with a sku column"),
        (
            b"sku,name\n85123A,A\n71053,B\n20725,C\n85099B," + b"x" * 140_000 + b"\n",
            "Row 5: a value is longer than 131072 characters, so nothing was imported.",
        ),
    ):
        response = upload(client, data, "upload.bin")
        assert response.status_code == 400, message
        assert message in response.get_data(as_text=True)
    token = console_token(client, "/console/products/import")
    missing = client.post("/console/products/import", data={"csrf_token": token})
    assert missing.status_code == 400
    assert "Choose a CSV file" in missing.get_data(as_text=True)
    # A hand-made multipart body (the test client would spool a large one to a temp file).
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="csrf_token"\r\n\r\n' + token.encode() + b"\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + b"sku\n" + b"X" * (3 * 1024 * 1024) + b"\r\n--XyZ--\r\n"
    )
    huge = client.post(
        "/console/products/import",
        data=body,
        content_type="multipart/form-data; boundary=XyZ",
    )
    assert huge.status_code == 413
    assert "larger than 2 MB" in huge.get_data(as_text=True)
    session.rollback()
    assert session.get(Product, items["heart"].id).name == items["heart"].name  # type: ignore[union-attr]
    assert session.scalar(select(AuditEntry)) is None
