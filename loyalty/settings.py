"""Programme-wide settings: earning, redemption, expiry and the tier basis.

Stored as one JSON row (loyalty_settings, id 1) that admins edit; missing keys take the
defaults below, so the programme works before anyone configures it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sqlalchemy.orm import Session

from loyalty.models import LoyaltySettings

SETTINGS_ID = 1
TERMS_VERSION = "2026-11"


@dataclass(frozen=True)
class ProgrammeSettings:
    """The numbers of the programme. Money is in pence, rates are whole numbers."""

    points_per_pound: int = 1  # base earning rate before the tier multiplier
    point_value_pence: int = 1  # what one redeemed point takes off (100 points = £1)
    min_redeem_points: int = 500
    max_redeem_points: int = 20_000
    max_redeem_share_pct: int = 50  # at most this share of the goods' price
    expiry_months: int = 24
    expiry_reminder_days: int = 30
    tier_basis: str = "spend"  # "spend": pence over a rolling 12 months; or "points"
    downgrade_grace_days: int = 30
    early_access_hours: int = 48  # how long before a launch early-access tiers may buy
    terms_version: str = TERMS_VERSION

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ProgrammeSettings:
        """Read the stored JSON; unknown keys are ignored, missing ones take the defaults."""
        known = {f.name for f in fields(cls)}
        return replace(cls(), **{k: v for k, v in (data or {}).items() if k in known})


def load_settings(session: Session, *, for_update: bool = False) -> ProgrammeSettings:
    """The programme's settings (the defaults until an admin saves some). `for_update`
    reads the latest committed row and locks it until the transaction ends (PostgreSQL)."""
    row = session.get(
        LoyaltySettings, SETTINGS_ID, with_for_update=for_update, populate_existing=for_update
    )
    return ProgrammeSettings.from_dict(row.data if row else None)


def save_settings(session: Session, settings: ProgrammeSettings) -> None:
    """Store the settings (in the caller's transaction)."""
    row = session.get(LoyaltySettings, SETTINGS_ID)
    if row is None:
        session.add(LoyaltySettings(id=SETTINGS_ID, data=settings.as_dict()))
    else:
        row.data = settings.as_dict()
    session.flush()
