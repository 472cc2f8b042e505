"""The loyalty programme's pure rules: earning, tiers, refunds, expiry, tier configuration."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from loyalty import rules
from loyalty.rules import LedgerLine, TierSpec

TIERS = [
    TierSpec("Member", 1, 0),
    TierSpec("Silver", 2, 10_000, discount_bp=300, multiplier_pct=125),
    TierSpec("Gold", 3, 50_000, discount_bp=500, multiplier_pct=150, free_shipping=True),
    TierSpec("Platinum", 4, 150_000, discount_bp=800, multiplier_pct=200),
]
NOW = datetime(2026, 11, 23, 12, 0)


# Earning ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("goods", "rate", "multiplier", "points"),
    [
        (1_000, 1, 100, 10),  # £10 at 1 point per pound
        (1_099, 1, 100, 10),  # rounded down
        (1_000, 1, 150, 15),
        (999, 1, 125, 12),  # 12.4875 -> 12
        (1_000, 3, 200, 60),
        (99, 1, 100, 0),
        (0, 1, 100, 0),
        (-500, 1, 100, 0),
        (1_000, 0, 150, 0),
    ],
)
def test_points_for_order(goods: int, rate: int, multiplier: int, points: int) -> None:
    assert rules.points_for_order(goods, rate, multiplier) == points


def test_shipping_earns_nothing() -> None:
    assert rules.goods_paid_pence(total_pence=2_395, shipping_pence=395) == 2_000
    assert rules.goods_paid_pence(total_pence=395, shipping_pence=395) == 0
    assert rules.goods_paid_pence(total_pence=100, shipping_pence=395) == 0


# Tiers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spend", "tier"),
    [
        (0, "Member"),
        (9_999, "Member"),
        (10_000, "Silver"),
        (49_999, "Silver"),
        (50_000, "Gold"),
        (150_000, "Platinum"),
        (10**9, "Platinum"),
        (-100, "Member"),
    ],
)
def test_tier_for_a_spend(spend: int, tier: str) -> None:
    assert rules.tier_for(spend, TIERS).name == tier


def test_tier_for_ignores_the_order_tiers_are_given_in() -> None:
    assert rules.tier_for(60_000, list(reversed(TIERS))).name == "Gold"


def test_tier_for_without_tiers_is_an_error() -> None:
    with pytest.raises(ValueError):
        rules.tier_for(100, [])


def test_next_tier_and_progress() -> None:
    silver = TIERS[1]
    gold = rules.next_tier(silver, TIERS)
    assert gold is not None and gold.name == "Gold"
    assert rules.next_tier(TIERS[3], TIERS) is None
    progress = rules.progress(30_000, gold)
    assert progress.remaining == 20_000
    assert progress.percent == 60  # 30,000 of 50,000, as the page says it
    assert progress.next_threshold == 50_000


def test_progress_at_the_top_is_complete() -> None:
    progress = rules.progress(200_000, None)
    assert (progress.percent, progress.remaining, progress.next_threshold) == (100, 0, None)


def test_progress_is_clamped_while_in_grace() -> None:
    # A Gold member whose spend fell below Gold's threshold: 20,000 of Platinum's 150,000.
    assert rules.progress(20_000, TIERS[3]).percent == 13
    assert rules.progress(-500, TIERS[1]).percent == 0
    assert rules.progress(10**9, TIERS[1]).percent == 100


# Tier configuration -------------------------------------------------------------------


def test_a_valid_configuration_has_no_errors() -> None:
    assert rules.validate_tiers(TIERS) == []


def test_overlapping_thresholds_are_refused() -> None:
    bad = [*TIERS[:2], TierSpec("Gold", 3, 10_000), TIERS[3]]
    errors = rules.validate_tiers(bad)
    assert any("overlap" in e and "Gold" in e for e in errors)


def test_thresholds_must_increase_with_rank() -> None:
    bad = [TIERS[0], TierSpec("Silver", 2, 60_000), TierSpec("Gold", 3, 50_000)]
    assert any("Gold" in e for e in rules.validate_tiers(bad))


def test_the_first_tier_starts_at_zero() -> None:
    errors = rules.validate_tiers([TierSpec("Member", 1, 100), TierSpec("Silver", 2, 500)])
    assert any("threshold of 0" in e for e in errors)


def test_duplicate_names_and_ranks_are_refused() -> None:
    errors = rules.validate_tiers([TierSpec("Member", 1, 0), TierSpec("member", 1, 500)])
    assert any("unique" in e and "called" in e for e in errors)
    assert any("rank 1" in e for e in errors)


@pytest.mark.parametrize(
    "spec",
    [
        TierSpec("Silver", 2, 100, discount_bp=-1),
        TierSpec("Silver", 2, 100, discount_bp=5_001),
        TierSpec("Silver", 2, 100, multiplier_pct=99),
        TierSpec("Silver", 2, 100, multiplier_pct=1_001),
        TierSpec("", 2, 100),
        TierSpec("Silver", 2, -5),
    ],
)
def test_benefits_and_names_out_of_range(spec: TierSpec) -> None:
    assert rules.validate_tiers([TierSpec("Member", 1, 0), spec])


def test_no_tiers_is_invalid() -> None:
    assert rules.validate_tiers([])


# Refunds ------------------------------------------------------------------------------


def test_a_full_refund_reverses_every_point() -> None:
    assert rules.points_to_reverse(37, 0, 2_395, 2_395) == 37


def test_a_partial_refund_reverses_in_proportion() -> None:
    assert rules.points_to_reverse(100, 0, 2_500, 10_000) == 25
    assert rules.points_to_reverse(10, 0, 333, 1_000) == 3  # 3.33 -> 3
    assert rules.points_to_reverse(10, 0, 350, 1_000) == 4  # 3.5 rounds half up


def test_several_partial_refunds_never_reverse_more_than_awarded() -> None:
    awarded, total = 7, 1_000
    reversed_so_far = 0
    refunded = 0
    for part in (333, 333, 333, 1):
        refunded += part
        reversed_so_far += rules.points_to_reverse(awarded, reversed_so_far, refunded, total)
        assert reversed_so_far <= awarded
    assert reversed_so_far == awarded


def test_refunds_handled_out_of_order_still_add_up() -> None:
    awarded, total = 50, 1_000
    first = rules.points_to_reverse(awarded, 0, 1_000, total)  # the later, cumulative one
    second = rules.points_to_reverse(awarded, first, 400, total)
    assert (first, second) == (50, 0)


def test_nothing_to_reverse() -> None:
    assert rules.points_to_reverse(0, 0, 500, 1_000) == 0
    assert rules.points_to_reverse(10, 0, 0, 1_000) == 0
    assert rules.points_to_reverse(10, 10, 1_000, 1_000) == 0
    assert rules.points_to_reverse(10, 0, 500, 0) == 10  # a zero total: all of it


# Expiry -------------------------------------------------------------------------------


def _earn(points: int, days_ago: int, months: int = 24) -> LedgerLine:
    created = NOW - timedelta(days=days_ago)
    return LedgerLine(points, created + timedelta(days=30 * months), created)


def test_points_past_their_date_expire() -> None:
    lines = [_earn(100, 800), _earn(50, 10)]
    assert rules.points_to_expire(lines, NOW) == 100


def test_debits_consume_the_oldest_points_first() -> None:
    lines = [_earn(100, 800), _earn(50, 10), LedgerLine(-70)]
    assert rules.points_to_expire(lines, NOW) == 30


def test_points_already_spent_do_not_expire() -> None:
    lines = [_earn(100, 800), _earn(50, 10), LedgerLine(-120)]
    assert rules.points_to_expire(lines, NOW) == 0


def test_points_that_expired_once_do_not_expire_again() -> None:
    lines = [_earn(100, 800), _earn(50, 10), LedgerLine(-100)]  # the earlier "expire" entry
    assert rules.points_to_expire(lines, NOW) == 0
    assert rules.points_to_expire(lines, NOW + timedelta(days=1)) == 0


def test_credits_without_a_date_never_expire() -> None:
    lines = [LedgerLine(40, None, NOW - timedelta(days=900))]
    assert rules.points_to_expire(lines, NOW) == 0


def test_what_expires_within_some_days_by_date() -> None:
    soon = NOW + timedelta(days=10)
    lines = [
        LedgerLine(100, soon, NOW - timedelta(days=700)),
        LedgerLine(20, soon.replace(hour=23), NOW - timedelta(days=699)),
        LedgerLine(70, NOW + timedelta(days=60), NOW - timedelta(days=650)),
        LedgerLine(-30),
    ]
    assert rules.expiring_within(lines, NOW, 30) == {soon.date().isoformat(): 90}
    assert rules.expiring_within(lines, NOW, 90) == {
        soon.date().isoformat(): 90,
        (NOW + timedelta(days=60)).date().isoformat(): 70,
    }
    assert rules.expiring_within(lines, NOW, 5) == {}


def test_returned_points_keep_the_latest_expiry_of_the_points_spent() -> None:
    first, second, third = _earn(600, 300), _earn(600, 200), _earn(600, 100)
    spent = 1_000  # all of the first lot and 400 of the second
    expiry = rules.returned_expiry([first, second, third], spent, NOW, 30)
    assert expiry == second.expires_at
    # Points already used by an earlier debit are not the ones this debit spent.
    earlier = LedgerLine(-600)
    assert rules.returned_expiry([first, second, third, earlier], 100, NOW, 30) == (
        second.expires_at
    )
    assert rules.returned_expiry([first, second, third, earlier], 700, NOW, 30) == (
        third.expires_at
    )


def test_returned_points_are_not_due_before_a_reminder_could_go_out() -> None:
    nearly_gone = LedgerLine(500, NOW + timedelta(days=3), NOW - timedelta(days=700))
    assert rules.returned_expiry([nearly_gone], 500, NOW, 30) == NOW + timedelta(days=30)
    assert rules.returned_expiry([nearly_gone], 500, NOW, 0) == NOW + timedelta(days=3)


def test_returned_points_spent_from_undated_credits_never_expire() -> None:
    gift = LedgerLine(100, None, NOW - timedelta(days=5))
    assert rules.returned_expiry([_earn(50, 10), gift], 120, NOW, 30) is None
    assert rules.returned_expiry([], 120, NOW, 30) is None


def test_add_months_clamps_the_day() -> None:
    assert rules.add_months(datetime(2026, 1, 31, 9), 1) == datetime(2026, 2, 28, 9)
    assert rules.add_months(datetime(2026, 11, 23), 24) == datetime(2028, 11, 23)
    assert rules.add_months(datetime(2026, 12, 5), 1) == datetime(2027, 1, 5)


# Default tiers ------------------------------------------------------------------------


def test_thresholds_are_calibrated_to_percentiles_in_whole_pounds() -> None:
    spends = [i * 100 + 37 for i in range(1, 101)]  # £1.37 .. £100.37
    found = rules.calibrated_thresholds(spends, (0, 50, 80, 95), (0, 1, 2, 3), 50)
    assert found[0] == 0
    assert all(t % 100 == 0 for t in found)
    assert found == [0, 5_100, 8_100, 9_500]


def test_few_customers_fall_back_to_fixed_thresholds() -> None:
    fallback = (0, 10_000, 50_000, 150_000)
    assert rules.calibrated_thresholds([500] * 10, (0, 50, 80, 95), fallback, 50) == list(fallback)


def test_a_flat_distribution_falls_back() -> None:
    fallback = (0, 10_000, 50_000, 150_000)
    assert rules.calibrated_thresholds([500] * 80, (0, 50, 80, 95), fallback, 50) == list(fallback)
