"""Accessibility basics (WCAG 2.1 AA) of every storefront, account and console page, read
from the rendered HTML: language, title, headings, landmarks, skip link, labelled form
controls, image alternatives, named links and buttons, table headers, and errors tied to
their fields after a failed POST."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.tiers import ensure_default_tiers
from shop.catalog.models import Product
from shop.db import db
from tests import factories
from tests.console_support import client_as, console_rules, console_token
from tests.helpers import CHECKOUT_FORM, csrf_token, sign_in, signed_in, signed_in_member

CONTROLS = {"input", "select", "textarea"}
UNLABELLED_INPUT_TYPES = {"hidden", "submit", "button", "reset", "image"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
VAGUE_LINKS = {"click here", "here", "more", "read more", "link", "this"}


@dataclass
class _Open:
    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)


class PageAudit(HTMLParser):
    """What a screen reader user depends on, collected from one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = ""
        self.title = ""
        self.headings: list[tuple[int, str]] = []
        self.landmarks: list[tuple[str, dict[str, str]]] = []
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.controls: list[tuple[dict[str, str], bool]] = []  # (attrs, inside a <label>)
        self.images: list[dict[str, str]] = []
        self.named: list[tuple[str, dict[str, str], str]] = []  # links and buttons with text
        self.header_cells: list[dict[str, str]] = []
        self.tables: list[tuple[dict[str, str], bool]] = []  # (attrs, has a caption)
        self.first_link: dict[str, str] | None = None
        self.alerts: list[dict[str, str]] = []
        self._stack: list[_Open] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.append(a["id"])
        if a.get("role") in ("alert", "status") or tag == "output":
            self.alerts.append(a)
        if tag == "html":
            self.lang = a.get("lang", "")
        elif tag in ("main", "nav", "header", "footer", "aside") or a.get("role") in (
            "main",
            "navigation",
            "search",
        ):
            self.landmarks.append((a.get("role") or tag, a))
        elif tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        elif tag in CONTROLS:
            if tag != "input" or a.get("type", "text") not in UNLABELLED_INPUT_TYPES:
                self.controls.append((a, any(o.tag == "label" for o in self._stack)))
        elif tag == "img":
            self.images.append(a)
            if "alt" in a:
                for o in self._stack:
                    o.text.append(a["alt"])
        elif tag == "a" and self.first_link is None and "href" in a:
            self.first_link = a
        elif tag == "th":
            self.header_cells.append(a)
        elif tag == "caption" and self._stack:
            for o in reversed(self._stack):
                if o.tag == "table":
                    o.attrs["__caption"] = "y"
                    break
        if tag not in VOID:
            self._stack.append(_Open(tag, a))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            o = self._stack.pop()
            text = " ".join("".join(o.text).split())
            if o.tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.headings.append((int(o.tag[1]), text))
            elif o.tag == "title":
                self.title = text
            elif (o.tag == "a" and "href" in o.attrs) or o.tag == "button":
                self.named.append((o.tag, o.attrs, text))
            elif o.tag == "table":
                self.tables.append((o.attrs, "__caption" in o.attrs))
            if self._stack and o.tag not in ("title",):
                self._stack[-1].text.extend(o.text)
            if o.tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._stack:
            self._stack[-1].text.append(data)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)


def audit(html: str) -> PageAudit:
    """Parse one page."""
    page = PageAudit()
    page.feed(html)
    page.close()
    return page


def problems(html: str) -> list[str]:
    """Everything on the page that breaks the basics, as readable sentences."""
    page = audit(html)
    found: list[str] = []
    if not page.lang:
        found.append("<html> has no lang")
    if not page.title:
        found.append("the page has no <title>")
    levels = [level for level, _ in page.headings]
    if levels.count(1) != 1:
        found.append(f"{levels.count(1)} <h1> elements instead of one")
    for (before, _), (level, text) in zip(page.headings, page.headings[1:], strict=False):
        if level > before + 1:
            found.append(f"heading level skipped: h{before} then h{level} {text!r}")
    for level, text in page.headings:
        if not text:
            found.append(f"empty h{level}")
    mains = [a for kind, a in page.landmarks if kind == "main"]
    if len(mains) != 1:
        found.append(f"{len(mains)} <main> landmarks instead of one")
    navs = [a for kind, a in page.landmarks if kind == "nav"]
    if len(navs) > 1:
        names = [a.get("aria-label") or a.get("aria-labelledby") for a in navs]
        if not all(names) or len(set(names)) != len(names):
            found.append(f"several <nav> landmarks without distinct names: {names}")
    first = page.first_link or {}
    target = first.get("href", "")
    if not (target.startswith("#") and target[1:] in page.ids):
        found.append(f"the first link is not a skip link to the content: {first}")
    elif mains and mains[0].get("id") != target[1:]:
        found.append("the skip link does not point at <main>")
    duplicates = sorted({i for i in page.ids if page.ids.count(i) > 1})
    if duplicates:
        found.append(f"duplicate ids: {duplicates}")
    for attrs, wrapped in page.controls:
        labelled = (
            wrapped
            or attrs.get("id") in page.label_for
            or attrs.get("aria-label", "").strip()
            or attrs.get("aria-labelledby")
        )
        if not labelled:
            found.append(f"form control without a label: {attrs}")
        for ref in attrs.get("aria-describedby", "").split():
            if ref not in page.ids:
                found.append(f"aria-describedby points at a missing id {ref!r}: {attrs}")
        if attrs.get("aria-invalid") == "true" and not attrs.get("aria-describedby"):
            found.append(f"invalid field without a description of the error: {attrs}")
    for attrs in page.images:
        if "alt" not in attrs:
            found.append(f"image without alt: {attrs}")
    for tag, attrs, text in page.named:
        name = (attrs.get("aria-label") or attrs.get("title") or text).strip()
        if not name and not attrs.get("aria-labelledby"):
            found.append(f"<{tag}> without an accessible name: {attrs}")
        if name.lower().strip(" .…→") in VAGUE_LINKS:
            found.append(f"<{tag}> with a vague name {name!r}")
    for attrs in page.header_cells:
        if attrs.get("scope") not in ("col", "row", "colgroup", "rowgroup"):
            found.append(f"<th> without scope: {attrs}")
    for attrs, captioned in page.tables:
        if not (captioned or attrs.get("aria-label") or attrs.get("aria-labelledby")):
            found.append(f"table without a caption or name: {attrs}")
    return found


def assert_accessible(client: FlaskClient, path: str, status: int = 200) -> PageAudit:
    """Load a page and fail with every problem found on it."""
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    html = response.get_data(as_text=True)
    assert problems(html) == [], path
    return audit(html)


def assert_titles_unique(titles: dict[str, str]) -> None:
    """Pages of different places never share a title."""
    seen: dict[str, str] = {}
    for path, title in titles.items():
        assert title not in seen, f"{path} and {seen[title]} are both titled {title!r}"
        seen[title] = path


def _add_to_cart(client: FlaskClient, product: Product) -> None:
    token = csrf_token(client, f"/products/{product.id}")
    response = client.post(
        "/cart/add", data={"csrf_token": token, "product_id": product.id, "quantity": 1}
    )
    assert response.status_code == 302


def test_storefront_and_checkout_pages_meet_the_basics(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = app.test_client()
    titles = {}
    for path in (
        "/",
        "/c/candles",
        f"/products/{items['heart'].id}",
        f"/products/{items['lunch'].id}",  # out of stock: no form
        "/search?q=bag",
        "/search?q=nothing-like-this",
        "/cart",
        "/early-access",
        "/account/login",
        "/account/register",
        "/account/password/reset",
    ):
        titles[path] = assert_accessible(client, path).title
    assert_titles_unique(titles)
    assert_accessible(client, "/no-such-page", 404)
    assert_accessible(client, "/products/99999", 404)

    _add_to_cart(client, items["heart"])
    _add_to_cart(client, items["jumbo"])
    cart = assert_accessible(client, "/cart")
    buttons = [text for tag, _a, text in cart.named if tag == "button"]
    updates = [text for text in buttons if text.startswith("Update")]
    assert len(updates) == 2 and len(set(updates)) == 2, updates
    assert_accessible(client, "/checkout")
    token = csrf_token(client, "/checkout")
    assert client.post("/checkout", data={**CHECKOUT_FORM, "csrf_token": token}).status_code
    assert_accessible(client, "/checkout/shipping")
    client.post("/checkout/shipping", data={"csrf_token": token, "method": "standard"})
    assert_accessible(client, "/checkout/review")


def _required(html: str) -> dict[str, bool]:
    """Each text field of the page: is it marked required?"""
    return {
        a["name"]: "required" in a
        for a, _ in audit(html).controls
        if a.get("type") in ("text", "email", "password") and "name" in a
    }


def test_password_confirmations_are_marked_required(app: Flask, session: Session) -> None:
    """Every field without "(optional)" in its label is required, the repeated password too."""
    client = app.test_client()
    register = _required(client.get("/account/register").get_data(as_text=True))
    assert register == {"name": True, "email": True, "password": True, "confirm": True}
    signed = signed_in(app, session)
    change = _required(signed.get("/account/password").get_data(as_text=True))
    assert change == {"current_password": True, "new_password": True, "confirm": True}


def test_later_pages_of_a_list_have_titles_of_their_own(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    app.config["PAGE_SIZE"] = 1
    client = app.test_client()
    first, second = (
        audit(client.get(p).get_data(as_text=True)).title
        for p in ("/c/candles", "/c/candles?page=2")
    )
    assert first == "Candles & holders · Hearth & Parcel"
    assert second == "Candles & holders, page 2 · Hearth & Parcel"


def test_account_pages_meet_the_basics(app: Flask, session: Session) -> None:
    factories.paid_order_with_address(session, "HP-2001", "ann@example.com")
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    titles = {}
    for path in (
        "/account",
        "/account/profile",
        "/account/email",
        "/account/password",
        "/account/delete",
        "/account/addresses",
        "/account/addresses/new",
        "/account/privacy",
        "/account/cards",
        "/account/orders/HP-2001",
        "/account/loyalty",
        "/account/preferences",
    ):
        titles[path] = assert_accessible(client, path).title
    assert_titles_unique(titles)


def test_member_pages_meet_the_basics(app: Flask, session: Session) -> None:
    client, _member_id = signed_in_member(app, session)
    assert_accessible(client, "/account/loyalty")
    assert_accessible(client, "/account/preferences")


@pytest.mark.parametrize("role", ["merchandiser", "admin"])
def test_every_console_page_meets_the_basics(
    app: Flask, session: Session, items: dict[str, Product], role: str
) -> None:
    factories.paid_order_with_address(session, "HP-3001", "buyer@example.com")
    session.commit()
    client = client_as(app, session, role)
    titles = {}
    for rule, _endpoint, methods, admin_only in console_rules(app):
        if "GET" not in methods or "<" in rule or rule.endswith((".json", ".csv")):
            continue
        if admin_only and role != "admin":
            continue
        titles[rule] = assert_accessible(client, rule).title
    assert_titles_unique(titles)
    products = assert_accessible(client, "/console/products/")
    assert products.tables
    assert_accessible(client, f"/console/products/{items['heart'].id}")
    orders = client.get("/console/orders/").get_data(as_text=True)
    order_id = re.search(r'href="/console/orders/(\d+)"', orders)
    assert order_id, orders
    assert_accessible(client, f"/console/orders/{order_id.group(1)}")
    if role == "admin":
        with app.app_context(), db.transaction() as own:
            ensure_default_tiers(own)
        assert_accessible(client, "/console/loyalty/tiers/new")
        tiers = client.get("/console/loyalty/").get_data(as_text=True)
        tier_pages = sorted(set(re.findall(r'href="(/console/loyalty/tiers/\d+)"', tiers)))
        assert len(tier_pages) > 1, tiers
        assert_titles_unique({p: assert_accessible(client, p).title for p in tier_pages})


def assert_errors_tied_to_fields(html: str, fields: list[str], *, summary: bool = True) -> None:
    """After a failed POST: the title says so, a summary is announced and links to each
    field, and each field is invalid and described by its message."""
    page = audit(html)
    assert problems(html) == []
    assert page.title.startswith("Error: "), page.title
    summaries = [a for a in page.alerts if a.get("role") == "alert"]
    assert len(summaries) == 1, f"{len(summaries)} alerts instead of one: {summaries}"
    links = {attrs.get("href") for tag, attrs, _ in page.named if tag == "a"}
    controls = {a.get("id"): a for a, _ in page.controls}
    for name in fields:
        control = controls[name]
        assert control.get("aria-invalid") == "true", control
        described = control.get("aria-describedby", "").split()
        assert described and all(ref in page.ids for ref in described), control
        if summary:
            assert f"#{name}" in links, f"the error summary does not link to {name}"


def test_failed_storefront_forms_tie_errors_to_their_fields(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = app.test_client()
    token = csrf_token(client, "/account/register")
    response = client.post(
        "/account/register",
        data={"csrf_token": token, "name": "", "email": "nope", "password": "short"},
    )
    assert response.status_code in (200, 400)
    assert_errors_tied_to_fields(response.get_data(as_text=True), ["name", "email", "password"])

    response = client.post(
        "/cart/add", data={"csrf_token": token, "product_id": items["heart"].id, "quantity": 0}
    )
    assert response.status_code == 400
    # One field, its error announced next to it: no summary on top of that.
    assert_errors_tied_to_fields(response.get_data(as_text=True), ["quantity"], summary=False)

    _add_to_cart(client, items["heart"])
    response = client.post("/checkout", data={"csrf_token": token, "address_id": "new"})
    assert response.status_code in (200, 400)
    assert_errors_tied_to_fields(
        response.get_data(as_text=True), ["email", "name", "line1", "city", "postcode"]
    )

    token = csrf_token(client, "/checkout")
    assert client.post("/checkout", data={**CHECKOUT_FORM, "csrf_token": token}).status_code
    response = client.post("/checkout/shipping", data={"csrf_token": token, "method": "drone"})
    assert response.status_code in (200, 400)
    assert_errors_tied_to_fields(response.get_data(as_text=True), ["method"])

    session.rollback()
    signed = signed_in(app, session, "ben@example.com")
    token = csrf_token(signed, "/account/delete")
    response = signed.post(
        "/account/delete", data={"csrf_token": token, "password": factories.PASSWORD}
    )
    assert response.status_code in (200, 400)
    assert_errors_tied_to_fields(response.get_data(as_text=True), ["confirm"])

    token = csrf_token(signed, "/account/addresses/new")
    response = signed.post("/account/addresses/new", data={"csrf_token": token})
    assert response.status_code in (200, 400)
    assert_errors_tied_to_fields(response.get_data(as_text=True), ["name", "line1", "city"])


def test_failed_console_forms_tie_errors_to_their_fields(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = client_as(app, session, "merchandiser")
    path = f"/console/products/{items['heart'].id}"
    token = console_token(client, path)
    response = client.post(
        path, data={"csrf_token": token, "name": "", "price": "2.955", "stock": "-3"}
    )
    assert response.status_code == 400
    assert_errors_tied_to_fields(response.get_data(as_text=True), ["name", "price", "stock"])


STATIC_CSS = Path(__file__).resolve().parents[2] / "shop" / "static" / "css"


def _luminance(colour: str) -> float:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, two: str) -> float:
    """The WCAG contrast ratio of two #rrggbb colours."""
    light, dark = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _css(name: str) -> str:
    return (STATIC_CSS / name).read_text(encoding="utf-8")


def _declared(css: str, selector: str, prop: str) -> str:
    """The colour a rule gives a property (var() resolved from :root), e.g. its border."""
    block = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", css)
    assert block, selector
    value = re.search(rf"(?:^|;|\s){prop}\s*:\s*([^;]+)", block.group(1))
    assert value, (selector, prop)
    colour = re.search(r"#[0-9a-fA-F]{3,6}\b|var\((--[\w-]+)\)", value.group(1))
    assert colour, (selector, prop, value.group(1))
    if colour.group(1):
        return _variables(_css("shop.css"))[colour.group(1)]
    return colour.group(0)


def _variables(css: str) -> dict[str, str]:
    root = re.search(r":root\s*\{([^}]*)\}", css)
    assert root
    return dict(re.findall(r"(--[\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})", root.group(1)))


def test_text_colours_have_aa_contrast() -> None:
    """Main, muted, link, button, status and error text: 4.5:1 on the backgrounds they sit on."""
    colours = _variables(_css("shop.css"))
    white = "#ffffff"
    pairs = [
        ("--ink", colours["--paper"]),
        ("--ink", colours["--card"]),
        ("--ink", colours["--line"]),  # badges
        ("--muted", colours["--paper"]),
        ("--muted", colours["--card"]),
        ("--brand", colours["--paper"]),  # links
        ("--brand", colours["--card"]),  # secondary buttons
        ("--brand-dark", colours["--paper"]),  # hovered links
        ("--bad", colours["--paper"]),  # field errors
        ("--bad", "#fbeceb"),  # error flashes
        ("--ok", colours["--paper"]),
    ]
    for name, background in pairs:
        ratio = contrast(colours[name], background)
        assert ratio >= 4.5, f"{name} on {background}: {ratio:.2f}:1"
    assert contrast(white, colours["--brand"]) >= 4.5  # primary buttons, the cart badge
    assert contrast(white, colours["--ink"]) >= 4.5  # the console header


def test_field_borders_and_focus_outlines_can_be_seen() -> None:
    """Non-text contrast (WCAG 1.4.11): 3:1 for input borders and the focus outline, also
    on the console's dark header."""
    shop_css, console_css = _css("shop.css"), _css("console.css")
    colours = _variables(shop_css)
    border = _declared(shop_css, 'input[type="number"], select', "border")
    for background in (colours["--card"], colours["--paper"]):
        assert contrast(border, background) >= 3, f"input border {border}: too faint"
        assert contrast(colours["--focus"], background) >= 3
    assert "outline: none" not in shop_css and "outline:none" not in shop_css
    header_focus = _declared(console_css, ".console-header :focus-visible", "outline-color")
    assert contrast(header_focus, colours["--ink"]) >= 3


def _flash_roles(html: str) -> dict[str, str]:
    """Each flash message's category and the role it is announced with."""
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r'<p class="flash flash-(\w+)" role="(\w+)">', html)
    }


def test_flash_messages_are_announced_and_errors_interrupt(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = app.test_client()
    token = csrf_token(client, f"/products/{items['heart'].id}")
    added = client.post(
        "/cart/add",
        data={"csrf_token": token, "product_id": items["heart"].id, "quantity": 1},
        follow_redirects=True,
    )
    assert _flash_roles(added.get_data(as_text=True)) == {"success": "status"}

    session.rollback()
    console = client_as(app, session, "merchandiser")
    token = console_token(console, "/console/recommendations/versions")
    failed = console.post(
        "/console/recommendations/versions/rollback",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    html = failed.get_data(as_text=True)
    assert "Nothing to roll back to" in html
    assert _flash_roles(html) == {"error": "alert"}
