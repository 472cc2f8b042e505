"""Pure parts of the mail sender: the backoff schedule and the MIME message it builds."""

from __future__ import annotations

from datetime import datetime

import pytest

from shop.mail.sender import Outgoing, SendReport, backoff_seconds, build_message


def _no_jitter(low: float, high: float) -> float:
    return 1.0


@pytest.mark.parametrize(
    ("attempts", "expected"), [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 960)]
)
def test_backoff_doubles_from_the_base(attempts: int, expected: float) -> None:
    assert backoff_seconds(attempts, 30, cap_s=3600, rng=_no_jitter) == expected


def test_backoff_is_capped_even_for_huge_attempt_counts() -> None:
    assert backoff_seconds(8, 30, cap_s=3600, rng=_no_jitter) == 3600
    assert backoff_seconds(10_000, 30, cap_s=3600, rng=_no_jitter) == 3600


def test_backoff_jitter_stays_within_ten_percent() -> None:
    assert backoff_seconds(1, 30, rng=lambda low, high: low) == pytest.approx(27)
    assert backoff_seconds(1, 30, rng=lambda low, high: high) == pytest.approx(33)
    delays = {backoff_seconds(3, 30) for _ in range(50)}
    assert all(108 <= d <= 132 for d in delays)
    assert len(delays) > 1  # two senders that failed together do not retry in lockstep


@pytest.mark.parametrize(("attempts", "base"), [(0, 30), (1, 0), (-1, 30)])
def test_backoff_rejects_nonsense(attempts: int, base: float) -> None:
    with pytest.raises(ValueError):
        backoff_seconds(attempts, base)


def _outgoing(**overrides: object) -> Outgoing:
    fields: dict[str, object] = {
        "id": 7,
        "message_id": "<abc123@shop.example>",
        "to_address": "ann@example.com",
        "subject": "Your order £12.50 \u2013 thank you",
        "text_body": "Hello Ann,\nTotal £12.50\n",
        "html_body": "<p>Hello Ann, total <strong>£12.50</strong></p>",
        "headers": {"List-Unsubscribe": "<https://shop.example/u/1>"},
        "attempts": 0,
        "created_at": datetime(2026, 11, 1, 10, 30, 0),
    }
    fields.update(overrides)
    return Outgoing(**fields)  # type: ignore[arg-type]


def test_build_message_is_multipart_alternative_with_stable_headers() -> None:
    message = build_message(_outgoing(), "Hearth & Parcel <orders@shop.example>")

    assert message["From"] == "Hearth & Parcel <orders@shop.example>"
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "Your order £12.50 \u2013 thank you"
    assert message["Message-ID"] == "<abc123@shop.example>"
    assert message["Date"] == "Sun, 01 Nov 2026 10:30:00 +0000"
    assert message["MIME-Version"] == "1.0"
    assert message["List-Unsubscribe"] == "<https://shop.example/u/1>"
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert "£12.50" in text.get_content()
    assert "<strong>£12.50</strong>" in html.get_content()
    assert message.as_bytes()  # serialisable for SMTP


def test_build_message_ignores_extra_headers_that_would_change_its_structure() -> None:
    message = build_message(
        _outgoing(headers={"Content-Type": "text/plain", "Bcc": "x@example.com"}),
        "orders@shop.example",
    )
    assert message.get_content_type() == "multipart/alternative"
    assert message["Bcc"] is None


def test_send_report_summary_and_adding() -> None:
    total = SendReport()
    total.add(SendReport(claimed=3, sent=2, retrying=1, errors=["1: refused"]))
    total.add(SendReport(claimed=1, failed=1, errors=["2: 550"]))
    assert (total.claimed, total.sent, total.retrying, total.failed) == (4, 2, 1, 1)
    assert total.summary() == "sent 2, retrying 1, failed 1"
    assert total.errors == ["1: refused", "2: 550"]


def test_a_long_list_unsubscribe_url_stays_readable() -> None:
    url = "<https://shop.example/preferences/unsubscribe/" + "A1b2C3d4" * 6 + ">"
    message = build_message(_outgoing(headers={"List-Unsubscribe": url}), "orders@shop.example")
    raw = message.as_bytes().decode()
    assert f"List-Unsubscribe: {url}\r\n" in raw  # not =?utf-8?q?...?= encoded
    assert "Subject: Your order =?utf-8?" in raw  # a non-ASCII subject is still encoded
