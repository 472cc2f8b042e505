"""Page-number parsing and page arithmetic shared by listings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_PAGE = 100_000


class PageError(ValueError):
    """A page number that is not a whole number, or is past the last page."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def parse_page(raw: str | None) -> int:
    """Parse a ?page= value; raise PageError(400) unless it is a whole number from 1 to
    MAX_PAGE."""
    if raw is None or raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) < 1 or int(raw) > MAX_PAGE:
        raise PageError(f"The page number must be a whole number from 1 to {MAX_PAGE:,}.", 400)
    return int(raw)


def page_count(total: int, size: int) -> int:
    """Number of pages needed for `total` items (at least one, so an empty list has a page)."""
    return max(1, -(-total // size))


def check_page(page: int, total: int, size: int) -> None:
    """Raise PageError(404) when `page` is past the last page."""
    pages = page_count(total, size)
    if page > pages:
        count = "only one page" if pages == 1 else f"{pages:,} pages"
        raise PageError(f"There is no page {page:,}; this list has {count}.", 404)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing."""

    items: list[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        """Total number of pages."""
        return page_count(self.total, self.size)

    @property
    def has_prev(self) -> bool:
        """True when there is a page before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """True when there is a page after this one."""
        return self.page < self.pages
