"""Brute-force protection: Flask-Limiter caps the POSTs of the forms that check a password
or send mail, and card payments, per client address. The limits and the storage come from
the config."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import Flask, current_app
from flask_limiter import Limiter, RouteLimit
from flask_limiter.util import get_remote_address
from limits import parse_many

# The config keys holding limit strings such as "10 per minute;50 per hour".
LIMIT_SETTINGS = (
    "SIGN_IN_RATE_LIMIT",
    "REGISTER_RATE_LIMIT",
    "PASSWORD_RESET_RATE_LIMIT",
    "PASSWORD_CHECK_RATE_LIMIT",
    "PAY_RATE_LIMIT",
    "STOCK_ALERT_RATE_LIMIT",
    "PROMO_CODE_RATE_LIMIT",
)

log = logging.getLogger(__name__)

# One limiter per process, as Flask-Limiter intends with app factories; init_app points it
# at the storage (and the on/off switch) of the app built last.
limiter = Limiter(key_func=get_remote_address)


def too_many_attempts() -> str:
    """The message of a 429: how long to wait, from the limit that was hit."""
    breached = limiter.current_limit
    minutes = round((breached.reset_at - time.time()) / 60) if breached is not None else 1
    if minutes <= 1:
        return "Too many attempts. Please wait a minute and try again."
    return f"Too many attempts. Please wait {minutes} minutes and try again."


def _configured(setting: str) -> Callable[[], str]:
    return lambda: str(current_app.config[setting])


def post_limit(setting: str, scope: str | None = None) -> RouteLimit:
    """A decorator limiting a view's POSTs (never its GETs) to config[setting].

    With a scope, every view it decorates draws on one shared budget.
    """
    if scope is None:
        return limiter.limit(
            _configured(setting), methods=["POST"], error_message=too_many_attempts
        )
    return limiter.shared_limit(
        _configured(setting), scope, methods=["POST"], error_message=too_many_attempts
    )


def init_app(app: Flask) -> None:
    """Check the configured limits, then start counting in RATELIMIT_STORAGE_URI."""
    for setting in LIMIT_SETTINGS:
        value = str(app.config.get(setting) or "")
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"{setting} is not a rate limit: {value!r} ({exc})") from exc
    _warn_of_counts_per_process(app)
    limiter.init_app(app)


def _warn_of_counts_per_process(app: Flask) -> None:
    """In production, say that memory:// counts per process. The shop always names a
    storage, which silences Flask-Limiter's own warning about it."""
    storage = str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if (
        app.config.get("ENV_NAME") == "production"
        and app.config.get("RATELIMIT_ENABLED", True)
        and storage.startswith("memory://")
    ):
        log.warning(
            "RATELIMIT_STORAGE_URI is memory://: each server process counts on its own, so "
            "with N worker processes (or hosts) every limit lets N times as many attempts "
            "through; install the redis extra and set RATELIMIT_STORAGE_URI=redis://..."
        )
