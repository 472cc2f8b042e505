"""Where ?next= may send a browser after signing in: only a path on this site."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_NEXT_LENGTH = 2000


def local_path(target: str | None) -> str | None:
    """The target if it is a plain path on this site, else None.

    Browsers drop tabs and line breaks from a Location header and read a backslash as a
    slash, so "/\\t/evil.example" would become "//evil.example", another site. Any control
    character, space, or backslash therefore disqualifies the target, as does anything
    that parses with a scheme or a host.
    """
    if not target or len(target) > MAX_NEXT_LENGTH or not target.startswith("/"):
        return None
    if target.startswith("//") or any(ch <= " " or ch in "\\\x7f" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
