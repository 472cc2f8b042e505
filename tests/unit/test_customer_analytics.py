"""RFM scores and segments, cohorts and customer value, as plain functions."""

from __future__ import annotations

from datetime import date

import pytest

from shop.analytics import cohorts, rfm
from shop.analytics.customers import best_spenders_first

TODAY = date(2026, 3, 15)


def _totals(key: object, orders: int, last: date = TODAY, spent: int = 1000) -> rfm.CustomerTotals:
    return rfm.CustomerTotals(key, orders, last, spent)


def test_equal_figures_get_equal_scores_and_scores_follow_the_share_beaten() -> None:
    orders = [1, 1, 1, 1, 2, 2, 3, 4, 5, 10]
    scored = rfm.score([_totals(i, n) for i, n in enumerate(orders)], TODAY)
    assert [row.f for row in scored] == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]


def test_recent_customers_score_high_on_recency_and_big_spenders_on_monetary() -> None:
    rows = [
        _totals("old", 1, date(2025, 3, 15), 100),
        _totals("mid", 1, date(2026, 1, 1), 500),
        _totals("new", 1, date(2026, 3, 14), 900),
    ]
    by_key = {row.totals.key: row for row in rfm.score(rows, TODAY)}
    assert [by_key[k].r for k in ("old", "mid", "new")] == [1, 2, 4]
    assert [by_key[k].m for k in ("old", "mid", "new")] == [1, 2, 4]
    assert by_key["old"].recency_days == 365 and by_key["new"].recency_days == 1


def test_a_single_customer_scores_one_everywhere() -> None:
    (only,) = rfm.score([_totals("a", 3)], TODAY)
    assert (only.r, only.f, only.m) == (1, 1, 1)
    assert only.segment.slug == "lost"


@pytest.mark.parametrize(
    ("r", "f", "m", "slug"),
    [
        (5, 5, 5, "champions"),
        (4, 5, 4, "loyal"),
        (5, 1, 1, "new"),
        (4, 1, 1, "promising"),
        (5, 2, 3, "potential-loyalists"),
        (3, 3, 3, "need-attention"),
        (3, 1, 2, "about-to-sleep"),
        (2, 4, 3, "at-risk"),
        (1, 5, 5, "cant-lose"),
        (2, 1, 1, "hibernating"),
        (1, 2, 1, "lost"),
    ],
)
def test_segments_read_recency_against_the_mean_of_frequency_and_money(
    r: int, f: int, m: int, slug: str
) -> None:
    row = rfm.Scored(_totals("x", 1), recency_days=1, r=r, f=f, m=m)
    assert row.segment.slug == slug


def test_every_cell_of_the_grid_has_a_segment_and_bad_scores_are_refused() -> None:
    seen = {rfm.segment_of(r, fm).slug for r in range(1, 6) for fm in range(1, 6)}
    assert seen == set(rfm.SEGMENTS)
    with pytest.raises(ValueError, match="scores run from 1 to 5"):
        rfm.segment_of(0, 3)
    assert rfm.Scored(_totals("x", 1), 1, 3, 4, 3).fm == 4  # 3.5 rounds up


def test_segment_summaries_cover_every_segment_with_shares_and_means() -> None:
    rows = [
        _totals("a", 10, TODAY, 9000),
        _totals("b", 1, date(2025, 1, 1), 1000),
        _totals("c", 1, date(2025, 1, 2), 0),
    ]
    summaries = rfm.summarise(rfm.score(rows, TODAY))
    assert [s.segment.slug for s in summaries] == [s.slug for s in rfm.SEGMENT_LIST]
    assert sum(s.customers for s in summaries) == 3
    assert sum(s.share for s in summaries) == pytest.approx(1.0)
    busy = [s for s in summaries if s.customers]
    assert sum(s.revenue_share or 0 for s in busy) == pytest.approx(1.0)
    empty = next(s for s in summaries if not s.customers)
    assert (empty.share, empty.revenue_share, empty.mean_spent_pence) == (0.0, 0.0, 0)


def test_no_revenue_share_when_returns_outweigh_sales() -> None:
    summaries = rfm.summarise(rfm.score([_totals("a", 1, TODAY, -500)], TODAY))
    assert all(s.revenue_share is None for s in summaries)


def _m(customer: str, day: date, sales: int, net: int) -> cohorts.MonthRow:
    return cohorts.MonthRow(customer, cohorts.month_index(day), sales, net)


def _rows() -> list[cohorts.MonthRow]:
    return [
        # January: a (back in February and March, twice), b (gone)
        _m("a", date(2026, 1, 3), 1, 1000),
        _m("b", date(2026, 1, 20), 1, 3000),
        _m("a", date(2026, 2, 10), 1, 500),
        _m("a", date(2026, 3, 2), 2, 300),
        # February: c, who returns part of it in March
        _m("c", date(2026, 2, 1), 1, 4000),
        _m("c", date(2026, 3, 1), 0, -1000),
        # December: d, the first month of the records
        _m("d", date(2025, 12, 24), 1, 600),
        # Only a return: bought before the records began, so in no cohort
        _m("ghost", date(2026, 1, 9), 0, -700),
    ]


def test_cohorts_count_who_came_back_each_month_and_their_value_so_far() -> None:
    found = cohorts.cohorts(_rows(), TODAY, 3)
    assert [c.month for c in found] == [date(2026, 2, 1), date(2026, 1, 1)]
    february, january = found
    assert january.customers == 2
    assert january.retention == [1.0, 0.5, 0.5]
    assert january.value_pence == [2000, 2250, 2400]  # (1000 + 3000) / 2, + 500 / 2, + 300 / 2
    assert january.partial_offset == 2 and not january.first_of_records
    assert february.retention == [1.0, 0.0, None]  # a return is not coming back to buy
    assert february.value_pence == [4000, 3000, None]
    assert february.partial_offset == 1


def test_the_records_first_month_is_marked_and_older_cohorts_are_cut() -> None:
    found = cohorts.cohorts(_rows(), TODAY, 4)
    assert found[-1].month == date(2025, 12, 1) and found[-1].first_of_records
    assert found[-1].retention == [1.0, 0.0, 0.0, 0.0]  # March is running, but shown
    assert len(cohorts.cohorts(_rows(), TODAY, 1)) == 0  # nobody's first order was in March
    assert cohorts.cohorts([], TODAY, 12) == []


def test_the_average_row_weighs_cohorts_and_leaves_out_running_months() -> None:
    found = cohorts.cohorts(_rows(), TODAY, 3)
    mean = cohorts.average(found, 3)
    # Month 0: both cohorts ended (3 customers); month 1: only January's has ended.
    assert mean.retention == [pytest.approx(1.0), pytest.approx(0.5), None]
    assert mean.value_pence == [round((2000 * 2 + 4000) / 3), 2250, None]


def test_customer_value_counts_repeat_buyers_and_the_best_fifths_share() -> None:
    totals = [
        _totals("a", 4, spent=1800),
        _totals("b", 1, spent=3000),
        _totals("c", 1, spent=3000),
        _totals("d", 1, spent=600),
    ]
    value = cohorts.customer_value(totals, 29.0)
    assert value is not None
    assert value.customers == 4
    assert value.repeat_share == 0.25  # only a
    assert value.median_days_between_orders == 29.0
    assert (value.mean_value_pence, value.median_value_pence) == (2100, 2400)
    assert value.top_fifth_revenue_share == pytest.approx(3000 / 8400)
    assert cohorts.customer_value([], None) is None
    losses = cohorts.customer_value([_totals("r", 1, spent=-50)], None)
    assert losses is not None and losses.top_fifth_revenue_share is None


def test_tied_customers_go_by_account_id_as_a_number_then_guests() -> None:
    rows = rfm.score([_totals(k, 1) for k in ("b@x.com", 100, 11, "a@x.com")], TODAY)
    ordered = sorted(rows, key=best_spenders_first)
    assert [row.totals.key for row in ordered] == [11, 100, "a@x.com", "b@x.com"]


def test_moves_count_who_changed_segment_biggest_first() -> None:
    def scored(key: str, r: int, f: int, m: int) -> rfm.Scored:
        return rfm.Scored(_totals(key, 1), recency_days=1, r=r, f=f, m=m)

    then = [scored("a", 5, 5, 5), scored("b", 5, 5, 5), scored("c", 3, 3, 3), scored("d", 1, 1, 1)]
    now = [
        scored("a", 2, 4, 4),  # champions -> at risk
        scored("b", 2, 4, 3),  # champions -> at risk
        scored("c", 3, 3, 3),  # stays: left out
        scored("d", 1, 5, 5),  # lost -> can't lose them
        scored("e", 5, 1, 1),  # no order then -> new
    ]
    found = [
        (m.before.slug if m.before else None, m.after.slug, m.customers)
        for m in rfm.moves(then, now)
    ]
    assert found == [("champions", "at-risk", 2), (None, "new", 1), ("lost", "cant-lose", 1)]
