"""A/B test statistics: proportions, means and their differences, with 95% intervals.

No framework and no database: numbers in, numbers out.

- A rate (click-through, conversion) is a `Proportion` with a Wilson score interval, which
  behaves well for small counts and rates near 0 or 1 (unlike the plain Wald interval).
- Two rates are compared with the two-proportion z-test (pooled standard error for the test,
  unpooled for the interval of the difference).
- A mean (revenue per visitor) is summarised by (n, sum, sum of squares), which a database
  can compute with GROUP BY, and gets a normal-approximation interval; two means are
  compared with Welch's t-test (unequal variances), whose t distribution becomes the normal
  one for large samples.

Differences are always treatment minus control. A difference that cannot be estimated is
None, never a zero-width interval with p = 1: when either arm has fewer than MIN_SAMPLE
trials or values, or when there is no spread to measure (no successes in either arm, every
trial a success, zero variance in both samples). The console says "too little data" then.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist

from scipy import special

CONFIDENCE = 0.95
ALPHA = 0.05
# Fewer trials (or values) than this in an arm leave its variance unknown: no comparison.
MIN_SAMPLE = 2


def z_value(confidence: float = CONFIDENCE) -> float:
    """The two-sided standard normal quantile for a confidence level (1.96 for 95%)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def normal_p_value(z: float) -> float:
    """The two-sided p-value of a standard normal statistic."""
    return math.erfc(abs(z) / math.sqrt(2))


def t_p_value(t: float, df: float) -> float:
    """The two-sided p-value of a t statistic with df degrees of freedom."""
    return float(2 * special.stdtr(df, -abs(t)))


@dataclass(frozen=True)
class Proportion:
    """successes out of trials, with the rate's confidence interval (low, high)."""

    successes: int
    trials: int
    rate: float
    low: float
    high: float


def wilson_interval(
    successes: int, trials: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The Wilson score interval of a proportion; (0, 1) when there are no trials."""
    _check_counts(successes, trials)
    if trials == 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def proportion(successes: int, trials: int, confidence: float = CONFIDENCE) -> Proportion:
    """A rate with its Wilson interval (rate 0 when there are no trials)."""
    low, high = wilson_interval(successes, trials, confidence)
    return Proportion(successes, trials, successes / trials if trials else 0.0, low, high)


@dataclass(frozen=True)
class Comparison:
    """Treatment minus control: the difference, its interval, the test and its verdict."""

    difference: float
    low: float
    high: float
    statistic: float
    p_value: float
    significant: bool
    relative: float | None  # difference / control value; None when the control is 0


def two_proportion_ztest(
    control: Proportion, treatment: Proportion, alpha: float = ALPHA
) -> Comparison | None:
    """Two-proportion z-test of treatment vs control; None when it cannot be estimated.

    That is when either arm has fewer than MIN_SAMPLE trials, or when both rates are 0 or 1
    (say no clicks in either arm): the standard error is then 0, and an interval of width 0
    with p = 1 would claim a certainty the data do not have.

    The p-value is the pooled test's (it equals the chi-square test's); the interval uses
    the unpooled standard error. With few events the two can disagree (0/26 against 3/17:
    p = 0.026, interval -0.5 to +35.8 points), so the difference is called significant only
    when p < alpha and the interval excludes 0.
    """
    n1, n2 = control.trials, treatment.trials
    if n1 < MIN_SAMPLE or n2 < MIN_SAMPLE:
        return None
    p1, p2 = control.successes / n1, treatment.successes / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    if se == 0:  # also makes the pooled standard error below greater than 0
        return None
    difference = p2 - p1
    pooled = (control.successes + treatment.successes) / (n1 + n2)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = difference / se_pooled
    p_value = normal_p_value(z)
    half = z_value(1 - alpha) * se
    # Two rates differ by at most 1 either way; the normal approximation does not know that
    # (6/8 against 0/4 gives -105 to -45 points).
    low, high = max(-1.0, difference - half), min(1.0, difference + half)
    return Comparison(
        difference,
        low,
        high,
        z,
        p_value,
        p_value < alpha and not low <= 0 <= high,
        difference / p1 if p1 else None,
    )


@dataclass(frozen=True)
class Summary:
    """A sample as count, sum and sum of squares (what SQL can GROUP BY)."""

    n: int
    total: float
    total_sq: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        """The summary of a list of values."""
        n, total, total_sq = 0, 0, 0
        for value in values:
            n += 1
            total += value
            total_sq += value * value
        return cls(n, total, total_sq)

    @property
    def mean(self) -> float:
        """The sample mean (0 for an empty sample)."""
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """The sample variance (n - 1 denominator); 0 for fewer than two values."""
        if self.n < 2:
            return 0.0
        # n * sum(x^2) - sum(x)^2 is exact for integers (pence), so no cancellation there.
        spread = self.n * self.total_sq - self.total * self.total
        return max(0.0, spread / (self.n * (self.n - 1)))


@dataclass(frozen=True)
class Mean:
    """A sample mean with its normal-approximation interval (None for fewer than MIN_SAMPLE
    values or no spread)."""

    n: int
    mean: float
    sd: float
    low: float | None
    high: float | None


def mean_interval(
    summary: Summary, confidence: float = CONFIDENCE, floor: float | None = None
) -> Mean:
    """The mean with mean ± z * sd / sqrt(n), cut at `floor` when values cannot be lower
    (revenue is never below 0, however skewed the sample makes the approximation).

    No interval for fewer than MIN_SAMPLE values, nor when they are all equal (say nobody
    bought anything): the sample's spread of 0 says nothing about the true one.
    """
    sd = math.sqrt(summary.variance)
    if summary.n < MIN_SAMPLE or sd == 0:
        return Mean(summary.n, summary.mean, sd, None, None)
    half = z_value(confidence) * sd / math.sqrt(summary.n)
    low = summary.mean - half if floor is None else max(floor, summary.mean - half)
    return Mean(summary.n, summary.mean, sd, low, summary.mean + half)


def welch_ttest(control: Summary, treatment: Summary, alpha: float = ALPHA) -> Comparison | None:
    """Welch's t-test of treatment vs control means; None when it cannot be estimated.

    That is when either sample has fewer than MIN_SAMPLE values, or both have no spread
    (say no revenue in either arm): the standard error is then 0.
    """
    if control.n < MIN_SAMPLE or treatment.n < MIN_SAMPLE:
        return None
    difference = treatment.mean - control.mean
    a, b = control.variance / control.n, treatment.variance / treatment.n
    se = math.sqrt(a + b)
    if se == 0:
        return None
    t = difference / se
    df = (a + b) ** 2 / (a * a / (control.n - 1) + b * b / (treatment.n - 1))
    p_value = t_p_value(t, df)
    half = float(special.stdtrit(df, 1 - alpha / 2)) * se
    return Comparison(
        difference,
        difference - half,
        difference + half,
        t,
        p_value,
        p_value < alpha,
        difference / control.mean if control.mean else None,
    )


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
