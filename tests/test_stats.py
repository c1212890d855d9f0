"""Tests for labkit.stats: percentile bootstrap interval and interquartile mean."""

import warnings

import numpy as np
import pytest

from labkit import bootstrap_ci, iqm


def test_bootstrap_ci_covers_normal_mean_for_most_seeds():
    # Seeds 0..49, n = 30 draws from N(0, 1): the nominal 90% interval should miss the true
    # mean about 5 times (percentile intervals under-cover slightly at small n: 88% over
    # seeds 0..199). Requiring >= 40 of 50 leaves ~2 binomial standard deviations of slack.
    hits = 0
    for seed in range(50):
        sample = np.random.default_rng(seed).normal(size=30)
        lo, hi = bootstrap_ci(sample, rng=seed)
        assert lo <= sample.mean() <= hi
        hits += lo <= 0.0 <= hi
    assert hits >= 40


def test_bootstrap_ci_is_reproducible_and_narrows_with_confidence():
    sample = np.random.default_rng(3).normal(size=40)
    assert bootstrap_ci(sample, rng=7) == bootstrap_ci(sample, rng=7)
    lo50, hi50 = bootstrap_ci(sample, confidence=0.5)
    lo99, hi99 = bootstrap_ci(sample, confidence=0.99)
    assert lo99 < lo50 < hi50 < hi99


def test_bootstrap_ci_accepts_non_vectorized_statistic():
    sample = np.arange(20.0)
    lo, hi = bootstrap_ci(sample, lambda a: float(np.median(a)), n_resamples=300)
    assert lo <= 9.5 <= hi


@pytest.mark.parametrize("sample", [[3.5], [2.0, 2.0, 2.0, 2.0]])
def test_bootstrap_ci_degenerate_samples_give_point_interval_without_warnings(sample):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bootstrap_ci(sample) == (sample[0], sample[0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(samples=[1.0, np.nan, 2.0]), "samples must be finite"),
        (dict(samples=[1.0, np.inf]), "samples must be finite"),
        (dict(samples=[]), "samples must contain"),
        (dict(samples=np.ones((2, 2))), "samples must be 1-D"),
        (dict(samples=[1.0, 2.0], confidence=1.0), "confidence"),
        (dict(samples=[1.0, 2.0], n_resamples=0), "n_resamples"),
    ],
)
def test_bootstrap_ci_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(**kwargs)


def test_iqm_known_values():
    # trim_mean(x, 0.25) drops 2 of 8 values at each end: mean(3, 4, 5, 6) = 4.5.
    assert iqm([1, 2, 3, 4, 5, 6, 7, 100]) == 4.5
    assert iqm(np.arange(100.0)) == pytest.approx(49.5)  # mean of 25..74
    assert iqm([7.0]) == 7.0
    with pytest.raises(ValueError, match="x must be finite"):
        iqm([1.0, np.nan])
