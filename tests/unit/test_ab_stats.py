"""A/B statistics against textbook values and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from shop.merchandising.abstats import (
    Summary,
    mean_interval,
    normal_p_value,
    proportion,
    two_proportion_ztest,
    welch_ttest,
    wilson_interval,
    z_value,
)


def test_z_for_95_percent_is_1_96() -> None:
    assert z_value() == pytest.approx(1.959964, abs=1e-6)
    assert z_value(0.90) == pytest.approx(1.644854, abs=1e-6)
    with pytest.raises(ValueError):
        z_value(1.0)


def test_wilson_interval_for_50_of_100() -> None:
    # Textbook: 0.4038 to 0.5962.
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.40383, abs=1e-5)
    assert high == pytest.approx(0.59617, abs=1e-5)


def test_wilson_interval_for_no_successes_is_not_degenerate() -> None:
    # Textbook: 0 of 10 gives 0 to 0.2775 (the Wald interval would be 0 to 0).
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.27753, abs=1e-5)
    assert wilson_interval(10, 10)[0] == pytest.approx(1 - 0.27753, abs=1e-5)


@pytest.mark.parametrize(("k", "n"), [(1, 3), (7, 250), (81, 263), (999, 1000), (12, 40_000)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    expected = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_proportion_without_trials_is_all_uncertainty() -> None:
    found = proportion(0, 0)
    assert (found.rate, found.low, found.high) == (0.0, 0.0, 1.0)
    with pytest.raises(ValueError):
        proportion(5, 4)
    with pytest.raises(ValueError):
        proportion(-1, 4)


def test_two_proportion_z_test_by_hand() -> None:
    # 200/1000 vs 250/1000: pooled p = 0.225, SE = sqrt(0.225 * 0.775 * 2/1000) = 0.018675,
    # z = 0.05 / 0.018675 = 2.6774, two-sided p = 2 * (1 - Phi(2.6774)) = 0.00742.
    result = two_proportion_ztest(proportion(200, 1000), proportion(250, 1000))
    assert result is not None
    assert result.difference == pytest.approx(0.05)
    assert result.statistic == pytest.approx(2.6774, abs=1e-4)
    assert result.p_value == pytest.approx(0.00742, abs=1e-5)
    assert result.significant
    assert result.relative == pytest.approx(0.25)
    # Unpooled interval: 0.05 ± 1.96 * sqrt(0.2*0.8/1000 + 0.25*0.75/1000) = 0.05 ± 0.036536.
    assert result.low == pytest.approx(0.05 - 0.036536, abs=1e-6)
    assert result.high == pytest.approx(0.05 + 0.036536, abs=1e-6)


def test_z_test_agrees_with_the_uncorrected_chi_square_test() -> None:
    table = [[30, 470], [45, 455]]
    chi2, p_value, _dof, _expected = stats.chi2_contingency(table, correction=False)
    result = two_proportion_ztest(proportion(30, 500), proportion(45, 500))
    assert result is not None
    assert result.statistic**2 == pytest.approx(chi2)
    assert result.p_value == pytest.approx(p_value)
    assert not result.significant  # p = 0.075


def test_a_difference_whose_interval_includes_zero_is_not_called_significant() -> None:
    # Few events: the pooled test says p = 0.026, but the unpooled interval includes 0.
    result = two_proportion_ztest(proportion(0, 26), proportion(3, 17))
    assert result is not None
    assert result.p_value == pytest.approx(0.026, abs=5e-4)
    assert result.low < 0 < result.high
    assert not result.significant


def test_the_interval_of_a_difference_of_rates_stays_within_100_points() -> None:
    # 6 of 8 against 0 of 4: -0.75 ± 1.96 * sqrt(0.75 * 0.25 / 8) = -0.75 ± 0.30 would end
    # at -1.05, a rate 105 points below the control's 75%.
    result = two_proportion_ztest(proportion(6, 8), proportion(0, 4))
    assert result is not None
    assert result.difference == pytest.approx(-0.75)
    assert result.low == -1.0
    assert result.high == pytest.approx(-0.75 + 0.300057, abs=1e-5)
    assert result.significant
    mirrored = two_proportion_ztest(proportion(0, 4), proportion(6, 8))
    assert mirrored is not None and mirrored.high == 1.0


def test_z_test_edge_cases() -> None:
    assert two_proportion_ztest(proportion(0, 0), proportion(3, 10)) is None
    one_sided = two_proportion_ztest(proportion(0, 50), proportion(3, 60))
    assert one_sided is not None and one_sided.relative is None  # no rate to compare with
    assert one_sided.low < one_sided.difference < one_sided.high
    assert normal_p_value(0.0) == 1.0
    assert normal_p_value(1.959964) == pytest.approx(0.05, abs=1e-6)


def test_summary_of_values_and_from_sums_agree() -> None:
    values = [0, 0, 0, 1250, 399, 0, 2999]
    summary = Summary.of(values)
    assert summary == Summary(7, 4648, 0 + 1250**2 + 399**2 + 2999**2)
    assert summary.mean == pytest.approx(np.mean(values))
    assert summary.variance == pytest.approx(np.var(values, ddof=1))
    assert Summary(0, 0, 0).mean == 0.0
    assert Summary(1, 5, 25).variance == 0.0


def test_mean_interval_is_normal_approximation() -> None:
    values = [0, 0, 500, 1000, 0, 250, 0, 0, 750, 1500]
    found = mean_interval(Summary.of(values))
    sd = float(np.std(values, ddof=1))
    half = 1.959964 * sd / math.sqrt(len(values))
    assert found.mean == pytest.approx(400.0)
    assert found.sd == pytest.approx(sd)
    assert found.low == pytest.approx(400.0 - half, abs=1e-3)
    assert found.high == pytest.approx(400.0 + half, abs=1e-3)
    single = mean_interval(Summary.of([300]))
    assert (single.mean, single.low, single.high) == (300.0, None, None)


def test_a_revenue_interval_never_goes_below_zero() -> None:
    skewed = Summary.of([0] * 40 + [800])  # one buyer among 41 visitors
    plain = mean_interval(skewed)
    assert plain.low is not None and plain.low < 0  # what the approximation alone gives
    cut = mean_interval(skewed, floor=0.0)
    assert (cut.low, cut.high, cut.mean) == (0.0, plain.high, plain.mean)


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        ([19.1, 21.3, 20.0, 18.7, 22.4], [23.5, 25.1, 21.9, 26.3, 24.0, 22.8]),
        ([0, 0, 0, 500, 0, 1200, 0, 0], [0, 350, 0, 0, 0, 0, 990, 400, 0, 0, 2100]),
        ([1, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 30]),
    ],
)
def test_welch_matches_scipy(control: list[float], treatment: list[float]) -> None:
    expected = stats.ttest_ind(treatment, control, equal_var=False)
    result = welch_ttest(Summary.of(control), Summary.of(treatment))
    assert result is not None
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.difference == pytest.approx(np.mean(treatment) - np.mean(control))
    ci = expected.confidence_interval(0.95)
    assert result.low == pytest.approx(ci.low, rel=1e-9)
    assert result.high == pytest.approx(ci.high, rel=1e-9)
    assert result.significant == (expected.pvalue < 0.05)


def test_welch_textbook_example() -> None:
    # The example on Wikipedia's "Welch's t-test" page: t = -2.46, df = 24.99, p = 0.021.
    a1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
    a2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]
    result = welch_ttest(Summary.of(a2), Summary.of(a1))
    assert result is not None and result.significant
    assert result.statistic == pytest.approx(-2.46, abs=0.005)
    assert result.p_value == pytest.approx(0.021, abs=0.0005)


def test_welch_on_large_samples_is_close_to_a_z_test() -> None:
    rng = np.random.default_rng(7)
    a = rng.exponential(1000, 20_000).round()
    b = rng.exponential(1030, 20_000).round()
    result = welch_ttest(Summary.of(a.tolist()), Summary.of(b.tolist()))
    assert result is not None
    assert result.p_value == pytest.approx(normal_p_value(result.statistic), rel=1e-3)


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        ((0, 50), (0, 60)),  # no clicks in either arm
        ((0, 5000), (0, 5000)),  # however many visitors
        ((40, 40), (25, 25)),  # every list clicked in both
        ((0, 30), (30, 30)),  # each arm all one way: both variances are 0
        ((1, 1), (3, 10)),  # one trial: that arm's variance is unknown
        ((0, 0), (0, 0)),
    ],
)
def test_a_difference_without_spread_or_data_is_not_estimated(
    control: tuple[int, int], treatment: tuple[int, int]
) -> None:
    # Not "+0.0 pp (+0.0 to +0.0), p = 1.000": a zero-width interval would claim certainty.
    assert two_proportion_ztest(proportion(*control), proportion(*treatment)) is None


def test_welch_needs_two_values_each_and_some_spread() -> None:
    assert welch_ttest(Summary.of([1]), Summary.of([1, 2, 3])) is None
    assert welch_ttest(Summary.of([1, 2, 3]), Summary.of([])) is None
    # Nobody bought in either arm: not "+£0.00 (+£0.00 to +£0.00)" with p = 1.
    assert welch_ttest(Summary.of([0, 0, 0]), Summary.of([0, 0])) is None
    assert welch_ttest(Summary(400, 0, 0), Summary(380, 0, 0)) is None
    assert welch_ttest(Summary.of([1, 1]), Summary.of([2, 2])) is None
    # One arm without spread is fine: the other arm's variance carries the test.
    result = welch_ttest(Summary.of([0, 0, 0, 0]), Summary.of([0, 500, 0, 900]))
    expected = stats.ttest_ind([0, 500, 0, 900], [0, 0, 0, 0], equal_var=False)
    assert result is not None
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.low < result.difference < result.high


def test_a_mean_without_spread_has_no_interval() -> None:
    nobody_bought = mean_interval(Summary.of([0] * 200))
    assert (nobody_bought.n, nobody_bought.mean, nobody_bought.sd) == (200, 0.0, 0.0)
    assert (nobody_bought.low, nobody_bought.high) == (None, None)
