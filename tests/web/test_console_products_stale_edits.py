"""The product edit page when someone else saves the product while a form is open.

The tests post back what the page's form holds (hidden fields included), as a browser would.
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.console.models import AuditEntry
from tests.console_support import client_as
from tests.web.page_forms import open_form, read_form


def stored(session: Session, product_id: int) -> Product:
    session.rollback()  # a fresh snapshot: see what the requests committed
    product = session.get(Product, product_id)
    assert product is not None
    session.refresh(product)
    return product


def audit_actors(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.actor_email)
            .where(AuditEntry.action == "product.update")
            .order_by(AuditEntry.id)
        )
    )


def _price(form: dict[str, str], _items: dict[str, Product]) -> None:
    form["price"] = "3.50"


def _active(form: dict[str, str], _items: dict[str, Product]) -> None:
    form.pop("active", None)  # untick the checkbox


def _category(form: dict[str, str], items: dict[str, Product]) -> None:
    form["category"] = str(items["jumbo"].category_id)


def _description(form: dict[str, str], _items: dict[str, Product]) -> None:
    form["description"] = "Now with a longer chain."


@pytest.mark.parametrize(
    ("change", "attr", "shown"),
    [
        (_price, "price_pence", ("price", "3.50")),
        (_active, "active", ("active", None)),
        (_category, "category_id", ("category", "bags")),
        (_description, "description", ("description", "Now with a longer chain.")),
    ],
)
def test_a_stale_form_does_not_undo_what_someone_saved_meanwhile(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    change,  # type: ignore[no-untyped-def]
    attr: str,
    shown: tuple[str, str | None],
) -> None:
    heart_id = items["heart"].id
    path = f"/console/products/{heart_id}"
    merchandiser = client_as(app, session, "merchandiser")
    stale = open_form(merchandiser, path)
    admin = client_as(app, session, "admin")
    theirs = open_form(admin, path)
    change(theirs, items)
    assert admin.post(path, data=theirs).status_code == 302
    saved_by_admin = getattr(stored(session, heart_id), attr)

    # The merchandiser saves the form opened before the admin's change, with a new name.
    mine = {**stale, "name": "Heart holder"}
    response = merchandiser.post(path, data=mine)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "nothing was saved" in html
    heart = stored(session, heart_id)
    assert getattr(heart, attr) == saved_by_admin  # the admin's change stands
    assert heart.name == "White Hanging Heart T-Light Holder"  # and nothing else was saved
    assert audit_actors(session) == ["admin@example.com"]

    # The form comes back with what the merchandiser typed and the admin's saved value.
    again = read_form(html).values
    assert again["name"] == "Heart holder"
    field, value = shown
    if field == "category":
        value = str(items["jumbo"].category_id)
    assert again.get(field) == value
    assert again["price"] == ("3.50" if field == "price" else "2.95")

    # Saving that form keeps both changes.
    assert merchandiser.post(path, data=again).status_code == 302
    heart = stored(session, heart_id)
    assert heart.name == "Heart holder"
    assert getattr(heart, attr) == saved_by_admin
    assert audit_actors(session) == ["admin@example.com", "merchandiser@example.com"]


def test_a_conflict_shows_the_value_then_now_and_typed(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    heart_id = items["heart"].id
    path = f"/console/products/{heart_id}"
    merchandiser = client_as(app, session, "merchandiser")
    stale = open_form(merchandiser, path)
    admin = client_as(app, session, "admin")
    assert admin.post(path, data={**open_form(admin, path), "price": "3.50"}).status_code == 302

    # Both changed the price: the form keeps the merchandiser's, and says what is saved.
    response = merchandiser.post(path, data={**stale, "price": "4.00"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    page = read_form(html)
    assert page.values["price"] == "4.00"
    assert any("£3.50" in error for error in page.errors), page.errors
    conflict = html.split('data-testid="edit-conflict"')[1].split("</section>")[0]
    assert "Price" in conflict and "£2.95" in conflict and "£3.50" in conflict
    assert "£4.00" in conflict
    assert stored(session, heart_id).price_pence == 350

    # Saving again, having seen the admin's price, replaces it deliberately.
    assert merchandiser.post(path, data=page.values).status_code == 302
    assert stored(session, heart_id).price_pence == 400


def test_saving_an_unchanged_stale_form_changes_nothing(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    heart_id = items["heart"].id
    path = f"/console/products/{heart_id}"
    merchandiser = client_as(app, session, "merchandiser")
    stale = open_form(merchandiser, path)
    admin = client_as(app, session, "admin")
    assert admin.post(path, data={**open_form(admin, path), "name": "Heart"}).status_code == 302
    response = merchandiser.post(path, data=stale)
    assert response.status_code == 409
    assert read_form(response.get_data(as_text=True)).values["name"] == "Heart"
    assert stored(session, heart_id).name == "Heart"


def test_a_sale_while_the_form_is_open_does_not_block_other_edits(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    lantern_id = items["lantern"].id
    path = f"/console/products/{lantern_id}"
    client = client_as(app, session, "merchandiser")
    form = open_form(client, path)
    assert form["stock"] == "3"
    session.execute(update(Product).where(Product.id == lantern_id).values(stock_qty=2))
    session.commit()  # a checkout sold one
    response = client.post(path, data={**form, "price": "3.49"})
    assert response.status_code == 302
    lantern = stored(session, lantern_id)
    assert (lantern.price_pence, lantern.stock_qty) == (349, 2)  # the sale is not undone


def test_a_stock_edit_racing_a_sale_asks_again_with_the_new_level(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    lantern_id = items["lantern"].id
    path = f"/console/products/{lantern_id}"
    client = client_as(app, session, "merchandiser")
    form = open_form(client, path)
    session.execute(update(Product).where(Product.id == lantern_id).values(stock_qty=2))
    session.commit()
    response = client.post(path, data={**form, "stock": "30"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "The stock changed to 2 while you were editing" in html
    assert stored(session, lantern_id).stock_qty == 2
    # The form keeps the 30 typed; saving it again now sets the stock.
    again = read_form(html).values
    assert again["stock"] == "30"
    assert client.post(path, data=again).status_code == 302
    assert stored(session, lantern_id).stock_qty == 30


def test_a_form_without_its_opened_values_is_not_saved(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    heart_id = items["heart"].id
    path = f"/console/products/{heart_id}"
    client = client_as(app, session, "merchandiser")
    form = open_form(client, path)
    for broken in ("", "not json", '{"name": "x"}', "[1, 2]"):
        response = client.post(path, data={**form, "opened": broken, "price": "9.99"})
        assert response.status_code == 409, broken
        html = response.get_data(as_text=True)
        assert "nothing was saved" in html
        assert read_form(html).values["price"] == "9.99"
    no_field = {k: v for k, v in form.items() if k != "opened"}
    assert client.post(path, data={**no_field, "price": "9.99"}).status_code == 409
    assert stored(session, heart_id).price_pence == 295
    assert audit_actors(session) == []


def test_the_same_edit_sent_twice_is_saved_once_without_a_conflict(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    heart_id = items["heart"].id
    path = f"/console/products/{heart_id}"
    merchandiser = client_as(app, session, "merchandiser")
    form = {**open_form(merchandiser, path), "price": "7.77"}
    first, second = merchandiser.post(path, data=form), merchandiser.post(path, data=form)
    assert (first.status_code, second.status_code) == (302, 302)
    assert stored(session, heart_id).price_pence == 777
    assert len(audit_actors(session)) == 1
    # A form that differs from what is saved now is still a conflict.
    response = merchandiser.post(path, data={**form, "price": "7.78"})
    assert response.status_code == 409
