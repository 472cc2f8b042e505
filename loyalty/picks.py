"""The "Personal recommendations" e-mail: once a month at most, products picked for each
person who confirmed that topic, member or not.

Only people with personal picks get it: someone who switched personalization off, or
whose history the model cannot use yet, would only get popular items, which is not what
they asked for; they are left out and counted (and tried again on the next run).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from loyalty.campaigns import (
    BATCH_SIZE,
    CampaignError,
    Mailing,
    SendReport,
    Transaction,
    send_mailing,
)
from loyalty.preferences import MailLinks

TOPIC = "recommendations"
KIND = "personal_picks"
MONTH_RE = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Month:
    """A calendar month."""

    year: int
    month: int

    @property
    def key(self) -> str:
        """The campaign key, e.g. "picks-2026-11"."""
        return f"picks-{self.year}-{self.month:02d}"

    @property
    def name(self) -> str:
        """The month in words, e.g. "November 2026"."""
        return date(self.year, self.month, 1).strftime("%B %Y")

    @classmethod
    def of(cls, day: date) -> Month:
        """The month a day falls in."""
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> Month:
        """Parse "YYYY-MM"; raise CampaignError when it is not a real month."""
        match = MONTH_RE.fullmatch(text.strip())
        if not match:
            raise CampaignError(f"{text!r} is not a month like 2026-11")
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12 or year < 1:
            raise CampaignError(f"{text!r} is not a month like 2026-11")
        return cls(year, month)


def picks_mailing(month: Month) -> Mailing:
    """The personal recommendations e-mail of one month."""
    return Mailing(
        key=month.key,
        kind=KIND,
        topic=TOPIC,
        subject=f"Picked for you: {month.name}",
        template="personal_picks",
        placement="picks_email",
        members_only=False,
        personal_only=True,
        context={"month": month.name},
    )


def send_picks(
    transaction: Transaction,
    month: Month,
    links: MailLinks,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> SendReport:
    """Queue the month's personal picks for everyone who confirmed them and has personal
    picks, once per person and month. Safe to re-run and to run twice at once."""
    return send_mailing(
        transaction, picks_mailing(month), links, batch_size=batch_size, progress=progress
    )
