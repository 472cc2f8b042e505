"""The anonymous visitor id (a signed cookie) and the per-visitor tracking switch."""

from __future__ import annotations

import uuid

from flask import Flask, Response, current_app, g, request
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer

from shop.tracking.robots import is_robot

ONE_YEAR = 365 * 24 * 3600


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="visitor-id")


def read_visitor_id(cookie: str | None) -> str | None:
    """Return the visitor id inside a signed cookie value, or None if it is missing or forged."""
    if not cookie:
        return None
    try:
        value = _serializer().loads(cookie)
    except BadSignature:
        return None
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None


def tracking_allowed() -> bool:
    """Tracking is on unless switched off globally, by cookie, or in the account."""
    if not current_app.config.get("TRACKING_ENABLED", True):
        return False
    if request.cookies.get(current_app.config["TRACKING_COOKIE"]) == "off":
        return False
    return not (current_user.is_authenticated and not current_user.tracking_enabled)


def staff_signed_in() -> bool:
    """True when a staff account makes the request: what staff browse is neither recorded
    nor counted as a list shown, so checking the shop does not lift products' popularity,
    train the model or skew online metrics and A/B tests."""
    return bool(current_user.is_authenticated and current_user.is_staff)


def start_new_visitor() -> None:
    """From this response on, this browser is a new anonymous visitor (used at sign-out, so
    the next person at a shared computer is not shown what the member browsed)."""
    g.visitor_id = uuid.uuid4().hex
    g.new_visitor = True


def init_app(app: Flask) -> None:
    """Give every visitor an id and decide, per request, whether to record events."""

    @app.before_request
    def _load_visitor() -> None:
        # robots.txt and the sitemaps are for crawlers and shared caches: no cookie.
        if request.endpoint == "static" or request.blueprint == "seo":
            return
        cookie_name = current_app.config["VISITOR_COOKIE"]
        visitor_id = read_visitor_id(request.cookies.get(cookie_name))
        g.new_visitor = visitor_id is None
        g.visitor_id = visitor_id or uuid.uuid4().hex
        g.robot = is_robot(request.user_agent.string)
        g.tracking_on = tracking_allowed() and not g.robot

    @app.after_request
    def _set_visitor_cookie(response: Response) -> Response:
        if g.get("new_visitor"):
            response.set_cookie(
                current_app.config["VISITOR_COOKIE"],
                _serializer().dumps(g.visitor_id),
                max_age=ONE_YEAR,
                httponly=True,
                samesite="Lax",
                secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
            )
        return response
