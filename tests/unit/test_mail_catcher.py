"""The development mail catcher's file naming and saving (no server involved)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shop.mail.catcher import SaveToDirectory, subject_slug

RAW = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Order HP-1 confirmed!\r\n\r\nHi\r\n"


@pytest.mark.parametrize(
    ("subject", "slug"),
    [
        ("Order HP-1001 confirmed!", "order-hp-1001-confirmed"),
        ("Café crème \u2013 £5", "cafe-creme-5"),
        ("../../etc/passwd", "etc-passwd"),
        ("", "no-subject"),
        ("!!!", "no-subject"),
        ("x" * 200, "x" * 60),
    ],
)
def test_subject_slug_is_short_and_safe(subject: str, slug: str) -> None:
    assert subject_slug(subject) == slug


def test_save_writes_the_raw_message_under_a_readable_unique_name(tmp_path: Path) -> None:
    handler = SaveToDirectory(tmp_path / "mail")
    when = datetime(2026, 11, 1, 10, 30, 5, 123456, tzinfo=UTC)

    first = handler.save(RAW, when)
    second = handler.save(RAW, when)

    assert first.name == "20261101-103005-123456-order-hp-1-confirmed.eml"
    assert second.name == "20261101-103005-123456-order-hp-1-confirmed-1.eml"
    assert first.read_bytes() == RAW
    assert second.read_bytes() == RAW
