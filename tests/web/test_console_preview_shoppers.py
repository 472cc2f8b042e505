"""The recommendation preview finds its shopper unambiguously: "#12" is an account id,
"customer 12" an imported customer number, and a bare number that is the id of one account
and the customer number of another is not guessed at: the page names both and how to pick."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.merchandising.editing import EditError
from shop.merchandising.preview import find_shopper
from tests import factories
from tests.console_support import client_as

PREVIEW = "/console/recommendations/preview"


def _two_accounts(session: Session) -> tuple[User, User]:
    """Ann (a web account), and an imported customer whose number is Ann's account id."""
    ann = factories.user(session, "ann@example.com", "Ann")
    imported = User(name=f"Customer {ann.id}", external_ref=str(ann.id))
    session.add(imported)
    session.commit()
    return ann, imported


def test_a_number_that_is_two_accounts_is_not_guessed(session: Session) -> None:
    ann, imported = _two_accounts(session)
    number = str(ann.id)
    with pytest.raises(EditError) as raised:
        find_shopper(session, f" {number} ")
    message = str(raised.value)
    assert raised.value.field == "shopper"
    assert f"account #{ann.id} (ann@example.com)" in message
    assert f"customer number {number} (Customer {number}, account #{imported.id})" in message
    assert f"Type #{number} for the first, or customer {number} for the second." in message

    assert find_shopper(session, f"#{number}").id == ann.id
    assert find_shopper(session, f"account {number}").id == ann.id
    assert find_shopper(session, f"customer {number}").id == imported.id
    assert find_shopper(session, f"Customer number {number}").id == imported.id
    assert find_shopper(session, "  ANN@Example.com ").id == ann.id
    # Numbers that name one account only still work bare.
    assert find_shopper(session, str(imported.id)).id == imported.id
    for unknown in ("#999999", "customer 999999", "#abc", "nobody@example.com", "99999"):
        with pytest.raises(EditError, match="No customer matches"):
            find_shopper(session, unknown)


def test_a_number_that_is_both_for_one_account_finds_it(session: Session) -> None:
    own = User(name="Customer", external_ref="placeholder")
    session.add(own)
    session.flush()
    own.external_ref = str(own.id)
    session.commit()
    assert find_shopper(session, str(own.id)).id == own.id


def test_the_preview_page_names_both_choices(app: Flask, session: Session) -> None:
    merch = client_as(app, session, "merchandiser")
    ann, imported = _two_accounts(session)
    number = str(ann.id)

    both = merch.get(f"{PREVIEW}?shopper={number}")
    assert both.status_code == 400
    html = both.get_data(as_text=True)
    assert f"{number} could be account #{ann.id} (ann@example.com) or customer number" in html
    assert f"Type #{number} for the first, or customer {number} for the second." in html
    assert 'data-testid="preview-row-' not in html

    first = merch.get(PREVIEW, query_string={"shopper": f"#{number}"})
    assert first.status_code == 200
    assert f"For ann@example.com (account #{ann.id})" in first.get_data(as_text=True)

    second = merch.get(PREVIEW, query_string={"shopper": f"customer {number}"})
    assert second.status_code == 200
    label = f"For Customer {number} (account #{imported.id}, customer {number})"
    assert label in second.get_data(as_text=True)
