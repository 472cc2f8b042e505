"""One e-mail address, one stored form: case, Unicode composition and punycode domains."""

from __future__ import annotations

import pytest

from shop.accounts.services import normalise_email


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (" Ann@Example.COM ", "ann@example.com"),
        ("Zoë@Exämple.com", "zoë@exämple.com"),
        ("zoe\u0308@xn--exmple-cua.com", "zoë@exämple.com"),  # decomposed, punycode
        ("a@XN--BCHER-KVA.de", "a@bücher.de"),
        ("x@xn--zz", "x@xn--zz"),  # not valid punycode: kept as typed
        ("no-at-sign", "no-at-sign"),
    ],
)
def test_one_mailbox_has_one_stored_form(typed: str, stored: str) -> None:
    assert normalise_email(typed) == stored
