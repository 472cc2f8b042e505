"""Headers on every response: pages may not be framed (clickjacking on one-click forms),
content types are not sniffed, secret-token URLs do not leak through the Referer header to
other sites, and personal pages are never stored by a browser or proxy cache.

The console, which loads no third-party script, also allows scripts from the shop only.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_login import current_user

BASE_POLICY = "frame-ancestors 'none'; object-src 'none'; base-uri 'self'"
CONSOLE_POLICY = f"script-src 'self'; {BASE_POLICY}"
# Pages reached through a secret link or holding personal data, signed in or not.
PRIVATE_PREFIXES = ("/account", "/checkout", "/orders", "/console", "/cart", "/preferences")


def _private() -> bool:
    if request.endpoint == "static":
        return False
    path = request.path
    if any(path == p or path.startswith(f"{p}/") for p in PRIVATE_PREFIXES):
        return True
    return bool(current_user.is_authenticated)


def add_headers(response: Response) -> Response:
    """Set the security headers a view has not set itself."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    console = (request.blueprint or "").startswith("console")
    headers.setdefault("Content-Security-Policy", CONSOLE_POLICY if console else BASE_POLICY)
    if "Cache-Control" not in headers and _private():
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Add the headers to every response."""
    app.after_request(add_headers)
