"""One saved card per member and real card: the database refuses a second entry, and the
migration that adds that rule keeps every entry saved twice before it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.migrate import upgrade
from shop.payments.models import SavedCard
from tests import factories


def _card(user_id: int, payment_method: str, fingerprint: str | None) -> SavedCard:
    return SavedCard(
        user_id=user_id,
        payment_method_id=payment_method,
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2034,
        fingerprint=fingerprint,
    )


def test_the_database_refuses_the_same_card_twice_for_one_member(session: Session) -> None:
    ann, bob = factories.user(session), factories.user(session, "bob@example.com", "Bob")
    session.add_all([_card(ann.id, "pm_1", "fp"), _card(bob.id, "pm_2", "fp")])
    session.add_all([_card(ann.id, "pm_3", None), _card(ann.id, "pm_4", None)])
    session.commit()  # another member's copy and cards without a fingerprint are fine
    session.add(_card(ann.id, "pm_5", "fp"))
    with pytest.raises(IntegrityError):
        session.commit()


def test_the_migration_keeps_cards_saved_twice_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    upgrade(url, "0008")
    engine = create_engine(url)
    with engine.begin() as conn:  # the schema as it was then, not as the models are now
        conn.execute(
            text(
                "INSERT INTO users (id, email, name, tracking_enabled, created_at, phone)"
                " VALUES (1, 'ann@example.com', 'Ann', 1, '2026-11-01 00:00:00', '')"
            )
        )
        for payment_method, fingerprint in (
            ("pm_1", "fp"),
            ("pm_2", "fp"),
            ("pm_3", "fp"),
            ("pm_other", "fp_other"),
        ):
            conn.execute(
                text(
                    "INSERT INTO saved_cards (user_id, payment_method_id, brand, last4,"
                    " exp_month, exp_year, fingerprint, created_at) VALUES (1, :pm, 'visa',"
                    " '4242', 12, 2034, :fp, '2026-11-01 00:00:00')"
                ),
                {"pm": payment_method, "fp": fingerprint},
            )
    upgrade(url)
    with Session(engine) as session:
        rows = session.execute(select(SavedCard.payment_method_id, SavedCard.fingerprint))
        assert sorted(rows) == [
            ("pm_1", None),
            ("pm_2", None),
            ("pm_3", "fp"),
            ("pm_other", "fp_other"),
        ]
    engine.dispose()
