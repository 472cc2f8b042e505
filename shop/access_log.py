"""Access logs without working secret links.

The shop e-mails links that carry a secret in their path (a password reset, an e-mail
change and its undoing, an order's page and payment, a marketing opt-in, an unsubscribe,
a visitor's back-in-stock alert), and a signed-out click on some of them goes on to
`/account/login?next=<the link>`. An access log would keep each of them ready to use, so
every request line, path, query and Referer is logged with the secret replaced:
`/account/password/reset/[redacted]`.

- gunicorn: `--logger-class shop.access_log.RedactingLogger` (gunicorn stays optional: the
  class exists only where it is installed).
- the dev server (`make run`): `RedactingRequestHandler`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from werkzeug.serving import WSGIRequestHandler

REDACTED = "[redacted]"

# Every route whose next path segment is a secret token: the `<token>` routes of the
# blueprints (tests/unit/test_access_log.py checks the app's URL map against this list).
SECRET_ROUTES: tuple[str, ...] = (
    "/account/email/confirm/",
    "/account/email/undo/",
    "/account/email/verify/",
    "/account/password/reset/",
    "/checkout/pay/",
    "/checkout/pending/",
    "/orders/",
    "/preferences/confirm/",
    "/preferences/unsubscribe/",
    "/stock-alerts/",
)

_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")


@lru_cache(maxsize=8)
def _secret_path(script_name: str) -> re.Pattern[str]:
    # Anchored: /account/orders/<number> is not /orders/<token>. Repeated slashes still
    # reach the route (werkzeug redirects them), so they match too.
    routes = "|".join(re.escape(route).replace("/", "/+") for route in SECRET_ROUTES)
    root = re.escape(script_name.rstrip("/"))
    return re.compile(rf"^((?:{root})?(?:{routes}))[^/]+")


def _redact_path(path: str, script_name: str) -> str:
    # Matched decoded, so that %2F for a slash or an encoded token is caught as well.
    plain = unquote(path) if "%" in path else path
    redacted, found = _secret_path(script_name).subn(
        lambda match: match.group(1) + REDACTED, plain, count=1
    )
    return redacted if found else path


def redact_query(query: str, script_name: str = "") -> str:
    """A query string with every value that is a secret link (`?next=/orders/...`) redacted."""
    pairs = query.split("&")
    for i, pair in enumerate(pairs):
        name, equals, value = pair.partition("=")
        plain = unquote_plus(value)
        redacted = redact(plain, script_name)
        if redacted != plain:
            pairs[i] = name + equals + quote(redacted, safe="/:[]")
    return "&".join(pairs)


def redact(target: str, script_name: str = "") -> str:
    """A request target (path and query) or an absolute URL (a Referer) with the secret of
    every e-mailed link replaced by [redacted]; anything else is returned as it was.
    `script_name` is the prefix the shop is mounted under, if any."""
    origin = _ORIGIN.match(target)
    head = origin.group() if origin else ""
    path, question, query = target[len(head) :].partition("?")
    if query:
        query = redact_query(query, script_name)
    return head + _redact_path(path, script_name) + question + query


class RedactingRequestHandler(WSGIRequestHandler):
    """The dev server's request handler, logging each request with its secret redacted."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log the request as werkzeug does, with `redact`ed path and query."""
        path = getattr(self, "path", None)  # unset when the request line was unreadable
        if path is None:
            super().log_request(code, size)
            return
        self.path = redact(path)
        try:
            super().log_request(code, size)
        finally:
            self.path = path


# gunicorn's access log atoms that hold the request's address or another address on the
# shop (see gunicorn.glogging.Logger.atoms); "q" and the request line are handled apart.
_ADDRESS_ATOMS = (
    "U",
    "f",
    "{referer}i",
    "{location}o",
    "{raw_uri}e",
    "{path_info}e",
    "{request_uri}e",
    "{http_referer}e",
)

try:
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # gunicorn is optional (the dev extra has it); the shop runs without it
    pass
else:

    class RedactingLogger(_GunicornLogger):
        """gunicorn's logger, with the secret of every e-mailed link redacted from the
        access log (`--logger-class shop.access_log.RedactingLogger`)."""

        def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
            """gunicorn's atoms, with the request line, path, query, Referer and Location
            redacted."""
            atoms = super().atoms(resp, req, environ, request_time)
            root = str(environ.get("SCRIPT_NAME") or "")
            for key in _ADDRESS_ATOMS:
                if isinstance(atoms.get(key), str):
                    atoms[key] = redact(atoms[key], root)
            for key in ("q", "{query_string}e"):
                if isinstance(atoms.get(key), str):
                    atoms[key] = redact_query(atoms[key], root)
            if isinstance(atoms.get("r"), str):
                method, _, rest = atoms["r"].partition(" ")
                target, _, protocol = rest.rpartition(" ")
                atoms["r"] = f"{method} {redact(target, root)} {protocol}"
            return atoms
