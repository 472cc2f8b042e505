"""Small wording helpers shared by pages, e-mails and command output."""

from __future__ import annotations

from datetime import date


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """The count with thousands separators and the noun in the right number: "1 member",
    "2,000 members", "3 e-mails"."""
    word = noun if count == 1 else (plural or f"{noun}s")
    return f"{count:,} {word}"


def percent_text(basis_points: int) -> str:
    """Basis points as a short percentage: 500 is "5%", 1250 "12.5%"."""
    whole, frac = divmod(basis_points, 100)
    return f"{whole}%" if not frac else f"{whole}.{frac:02d}".rstrip("0") + "%"


def long_date(value: date | str) -> str:
    """A date (or an ISO date text) as the shop writes dates for people: "25 Nov 2028"."""
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return day.strftime("%d %b %Y")


_WITH_THE = frozenset({"United Kingdom", "Netherlands", "United States", "Czech Republic"})


def country_name(country: str) -> str:
    """A country as a sentence names it: "the United Kingdom", "the Netherlands", "France"."""
    return f"the {country}" if country in _WITH_THE else country
