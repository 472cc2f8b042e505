"""Address book: unticking "Use as my default address" on the default is explained."""

from __future__ import annotations

from html import unescape

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import Address
from tests import factories
from tests.helpers import csrf_token, sign_in

ADDRESS = {
    "name": "Ann Example",
    "line1": "1 High Street",
    "city": "York",
    "postcode": "YO1 7HH",
    "country": "United Kingdom",
}
KEEPS = "Your default address stays the default until you choose another one as default"


def test_unticking_default_on_the_default_address_says_it_stays(
    app: Flask, session: Session
) -> None:
    ann = factories.user(session)
    home = Address(user_id=ann.id, is_default=True, **ADDRESS)
    other = Address(user_id=ann.id, is_default=False, **{**ADDRESS, "line1": "2 Low Road"})
    session.add_all([home, other])
    session.commit()
    home_id, other_id = home.id, other.id
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)

    path = f"/account/addresses/{home_id}/edit"
    form = unescape(client.get(path).get_data(as_text=True))
    assert "This is your default address. It stays the default until you choose another" in form
    token = csrf_token(client, path)
    # The checkbox left unticked (not sent), with a changed street.
    response = client.post(path, data={"csrf_token": token, **ADDRESS, "line1": "1A High Street"})
    assert response.status_code == 302
    page = unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "The address was saved." in page
    assert f"{KEEPS}: use “Make default” next to it in your address book." in page
    session.rollback()
    book = {a.id: (a.line1, a.is_default) for a in session.scalars(select(Address))}
    assert book == {home_id: ("1A High Street", True), other_id: ("2 Low Road", False)}

    # Another address saved without the tick says nothing about the default.
    other_path = f"/account/addresses/{other_id}/edit"
    assert KEEPS not in client.get(other_path).get_data(as_text=True)
    response = client.post(other_path, data={"csrf_token": token, **ADDRESS, "line1": "3 Lane"})
    assert response.status_code == 302
    assert KEEPS not in unescape(client.get(response.headers["Location"]).get_data(as_text=True))
