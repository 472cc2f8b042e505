"""Access log redaction: every secret link loses its secret, and nothing else changes."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from shop import create_app
from shop.access_log import SECRET_ROUTES, redact, redact_query
from shop.config import PROJECT_ROOT, TestConfig

TOKEN = "Zk3-q_9xSECRET.sig"  # token_urlsafe and itsdangerous characters


@pytest.mark.parametrize(
    ("link", "logged"),
    [
        ("/account/email/confirm/{t}", "/account/email/confirm/[redacted]"),
        ("/account/email/undo/{t}", "/account/email/undo/[redacted]"),
        ("/account/email/verify/{t}", "/account/email/verify/[redacted]"),
        ("/account/password/reset/{t}", "/account/password/reset/[redacted]"),
        ("/checkout/pay/{t}", "/checkout/pay/[redacted]"),
        ("/checkout/pay/{t}/complete", "/checkout/pay/[redacted]/complete"),
        ("/checkout/pending/{t}/cancel", "/checkout/pending/[redacted]/cancel"),
        ("/orders/{t}", "/orders/[redacted]"),
        ("/preferences/confirm/{t}", "/preferences/confirm/[redacted]"),
        ("/preferences/unsubscribe/{t}", "/preferences/unsubscribe/[redacted]"),
        ("/orders/{t}?rec=12", "/orders/[redacted]?rec=12"),
        ("https://shop.example/orders/{t}", "https://shop.example/orders/[redacted]"),
        # Encoded, or with doubled slashes, the link still reaches its page.
        ("/account/password%2Freset%2F{t}", "/account/password/reset/[redacted]"),
        ("//orders//{t}", "//orders//[redacted]"),
    ],
)
def test_the_secret_of_every_link_is_redacted(link: str, logged: str) -> None:
    assert redact(link.format(t=TOKEN)) == logged


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        (
            "/account/login?next=/account/email/verify/{t}",
            "/account/login?next=/account/email/verify/[redacted]",
        ),
        # flask-login's own redirect encodes the slashes
        (
            "/account/login?next=%2Faccount%2Femail%2Fverify%2F{t}",
            "/account/login?next=/account/email/verify/[redacted]",
        ),
        (
            "/account/register?next=/orders/{t}&page=2",
            "/account/register?next=/orders/[redacted]&page=2",
        ),
        (
            "/account/login?next=https%3A%2F%2Fshop.example%2Fcheckout%2Fpay%2F{t}",
            "/account/login?next=https://shop.example/checkout/pay/[redacted]",
        ),
    ],
)
def test_a_secret_link_in_the_query_is_redacted(target: str, logged: str) -> None:
    assert redact(target.format(t=TOKEN)) == logged


def test_a_query_string_alone() -> None:
    assert redact_query(f"next=%2Forders%2F{TOKEN}&x=1") == "next=/orders/[redacted]&x=1"
    assert redact_query("q=orders&page=2") == "q=orders&page=2"


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/account/orders/100234",  # an order number: its page needs the owner signed in
        "/account/password/reset",
        "/account/email/verify",
        "/orders/",
        "/c/christmas?sort=price&page=2",
        "/search?q=orders+reset%2Fpassword&page=2",
        "/products/12?rec=abc",
        "/static/shop.css",
        "/account/login?next=%2Faccount%2Forders%2F100234",
        "https://shop.example/account",
        "-",
        "",
    ],
)
def test_other_addresses_are_logged_as_they_are(target: str) -> None:
    assert redact(target) == target


def test_a_shop_mounted_under_a_path() -> None:
    assert redact(f"/shop/orders/{TOKEN}", "/shop") == "/shop/orders/[redacted]"
    assert redact(f"/shop/orders/{TOKEN}", "/shop/") == "/shop/orders/[redacted]"
    assert redact("/shop/account/orders/100234", "/shop") == "/shop/account/orders/100234"


# Every other string argument of a route, and why it is no secret. A new one fails
# test_every_route_is_either_redacted_or_logged_whole until it is named here or its route
# is added to shop.access_log.SECRET_ROUTES.
PUBLIC_ARGUMENTS = {
    "slug": "a category or a customer segment",
    "number": "an order number: the page needs its owner signed in",
    "return_number": "a return of an order: its page needs the order's owner or secret link",
    "kind": "a sitemap file",
    "filename": "a static file",
    "rule_id": "a console page, staff only",
    "version_id": "a console page, staff only",
}
_ARGUMENT = re.compile(r"<(?:(\w+)(\([^)]*\))?:)?(\w+)>")


def _sample(match: re.Match[str]) -> str:
    converter, options, name = match.groups()
    if converter == "int":
        return "7"
    if converter == "any":
        return re.split(r"[(),\s]+", options)[1]
    return "public" if name in PUBLIC_ARGUMENTS else TOKEN


def test_every_route_is_either_redacted_or_logged_whole() -> None:
    config = TestConfig()
    config.DATABASE_URL = "sqlite://"
    rules = sorted({rule.rule for rule in create_app(config).url_map.iter_rules()})
    secret_rules = []
    for rule in rules:
        url = _ARGUMENT.sub(_sample, rule)
        expected = url.replace(TOKEN, "[redacted]")
        assert redact(url) == expected, (
            f"{rule}: add it to shop.access_log.SECRET_ROUTES if its argument is a secret, "
            "else name the argument in PUBLIC_ARGUMENTS"
        )
        assert redact(f"/account/login?next={url}") == f"/account/login?next={expected}"
        if TOKEN in url:
            secret_rules.append(rule)
    # ... and the list names no route that is gone.
    for route in SECRET_ROUTES:
        assert any(rule.startswith(route + "<") for rule in secret_rules), route


def test_the_shop_needs_no_gunicorn() -> None:
    blocked = (
        "import sys; sys.modules['gunicorn'] = None; "
        "import shop.access_log, shop.devserver; "
        "assert not hasattr(shop.access_log, 'RedactingLogger')"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocked], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
