"""Error pages: every error is a clear page (or JSON for JSON routes), never a traceback."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from shop.access_log import redact
from shop.db import db

log = logging.getLogger(__name__)

MESSAGES = {
    400: "We couldn't understand that request.",
    403: "You don't have access to that page.",
    404: "We couldn't find that page. It may have moved, or the link may be mistyped.",
    405: "That action isn't allowed here.",
    413: "That upload is too large.",
    429: "Too many requests. Please wait a moment and try again.",
    500: "Something went wrong on our side. Nothing you entered was lost; please try again.",
}


# Routes that speak only JSON, as (path pattern, methods; empty: any method): their errors
# (a wrong method, a missing CSRF token) are JSON whatever the request looked like.
_JSON_ROUTES: list[tuple[re.Pattern[str], frozenset[str]]] = []


def json_route(pattern: str, methods: Collection[str] = ()) -> None:
    """Declare the paths matching `pattern` (with these methods) JSON-only."""
    _JSON_ROUTES.append((re.compile(pattern), frozenset(methods)))


def wants_json() -> bool:
    """True for API routes (and `.json` ones) and clients that ask for JSON rather than HTML."""
    path = request.path
    if path.startswith(("/api/", "/webhooks/")) or path.endswith(".json") or request.is_json:
        return True
    for pattern, methods in _JSON_ROUTES:
        if pattern.fullmatch(path) and (not methods or request.method in methods):
            return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, message: str | None = None) -> tuple[Response | str, int]:
    """Render an error page, or JSON {"error": ...}, with the given status."""
    text = message or MESSAGES.get(status, "Something went wrong.")
    if wants_json():
        return jsonify(error=text), status
    return render_template("errors/error.html", status=status, message=text), status


NUL_MESSAGE = "That request contained a NUL character, which no field can hold."


def _refuse_nul() -> tuple[Response | str, int] | None:
    # PostgreSQL cannot store NUL in text, so one in any field would be a 500 there.
    if request.path.startswith("/webhooks/"):
        return None  # signed raw bodies: read once, by the webhook itself
    values = request.args.listvalues()
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values = [*values, *request.form.listvalues()]
    for listed in values:
        if any("\x00" in value for value in listed):
            return error_response(400, NUL_MESSAGE)
    return None


class ShopJSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a body nested too deeply to parse is invalid JSON (a
    ValueError, so `get_json(silent=True)` returns None) rather than a RecursionError (a 500)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON text; ValueError for text nested beyond the interpreter's recursion limit."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def init_app(app: Flask) -> None:
    """Register handlers for HTTP errors, CSRF failures and unexpected exceptions, refuse
    requests with a NUL character in a field, and read JSON bodies safely."""

    app.json = ShopJSONProvider(app)
    app.before_request(_refuse_nul)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> tuple[Response | str, int]:
        return error_response(
            400,
            "This form has expired or was not sent from our site. "
            "Please go back, reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response | str, int] | HTTPException:
        if exc.code is None or exc.code < 400:
            return exc
        # Werkzeug's stock descriptions are generic; only show a message a view chose.
        custom = exc.description != type(exc).description
        return error_response(exc.code, exc.description if custom else None)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response | str, int]:
        if isinstance(exc, HTTPException):
            return _http(exc)  # type: ignore[return-value]
        log.exception("unhandled error on %s %s", request.method, redact(request.path))
        db.session.rollback()
        return error_response(InternalServerError.code)
