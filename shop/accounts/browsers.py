"""A name a person recognises for a browser, read from its User-Agent ("Chrome on Windows")."""

from __future__ import annotations

import re

UNKNOWN = "Unknown browser"
Table = tuple[tuple[re.Pattern[str], str], ...]


def _table(*rows: tuple[str, str]) -> Table:
    return tuple((re.compile(pattern), name) for pattern, name in rows)


# First match wins. Browsers built on Chrome add their own token after Chrome's, and Chrome
# adds Safari's, so the specific names are tried before the general ones.
BROWSERS = _table(
    (r"\bEdg(e|A|iOS)?/", "Edge"),
    (r"\b(OPR|Opera|OPiOS)/", "Opera"),
    (r"\bSamsungBrowser/", "Samsung Internet"),
    (r"\b(Firefox|FxiOS)/", "Firefox"),
    (r"\b(Chrome|CriOS|Chromium)/", "Chrome"),
    (r"\bVersion/[\d.]+.*\bSafari/", "Safari"),
)

# iPhones and iPads say "like Mac OS X", and Android says "Linux", so those come first.
SYSTEMS = _table(
    (r"\biPhone\b", "iPhone"),
    (r"\biPad\b", "iPad"),
    (r"\bAndroid\b", "Android"),
    (r"\bCrOS\b", "ChromeOS"),
    (r"\bWindows\b", "Windows"),
    (r"\b(Macintosh|Mac OS X)\b", "Mac"),
    (r"\bLinux\b", "Linux"),
)


def _first(table: Table, user_agent: str) -> str | None:
    return next((name for pattern, name in table if pattern.search(user_agent)), None)


def describe(user_agent: str | None) -> str:
    """The browser and system named in a User-Agent header, as "Firefox on Mac", "Safari on
    iPhone" or "Chrome"; "Unknown browser" when it names neither."""
    user_agent = (user_agent or "").strip()
    browser, system = _first(BROWSERS, user_agent), _first(SYSTEMS, user_agent)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or f"A browser on {system}"
    return UNKNOWN
