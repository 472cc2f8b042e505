"""The discount code of the demo shop, so that `make run` has one to try."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.promotions.codes import describe
from shop.promotions.models import PERCENT, PromoCode

DEMO_CODE = "WELCOME10"


def create_demo_code(session: Session) -> str:
    """Create the demo code unless a code of that name exists (left as staff changed it);
    return how `make run` describes it."""
    code = session.scalar(select(PromoCode).where(PromoCode.code == DEMO_CODE))
    if code is None:
        code = PromoCode(
            code=DEMO_CODE,
            description="Demo shop: 10% off a first order of £20 or more",
            kind=PERCENT,
            percent_bp=1000,
            min_subtotal_pence=2000,
            once_per_customer=True,
            created_by_email="demo",
        )
        session.add(code)
        session.flush()
    return f"{code.code}: {describe(code)} orders of £20 or more, once per customer"
