"""Tests for labkit.rates: power-law and linear-rate fits with bootstrap intervals over seeds."""

import dataclasses

import numpy as np
import pytest

from labkit import RateFit, fit_linear_rate, fit_power_law
from labkit.rates import compare

X = np.logspace(1, 4, 24)  # 24 log-spaced checkpoints over 3 decades (theory 0.3 asks >= 20)


# --------------------------------------------------------------------------------------------
# power laws
# --------------------------------------------------------------------------------------------
def test_power_law_ci_covers_true_exponent_for_most_seeds():
    # Seeds 0..19: y = 2 x^-0.5 * lognormal(0, 0.5), 20 rows, fit over the last 1.5 decades.
    # The nominal 90% interval misses about 2 of 20 (observed coverage 89.5% over seeds 0..199);
    # theory 0.3 requires >= 16 of 20.
    alpha, hits = -0.5, 0
    for seed in range(20):
        Y = 2.0 * X**alpha * np.random.default_rng(seed).lognormal(0.0, 0.5, (20, X.size))
        fit = fit_power_law(X, Y, tail_decades=1.5, rng=seed)
        assert fit.ci_low <= fit.ci_high
        assert abs(fit.estimate - alpha) < 0.15
        hits += fit.ci_low <= alpha <= fit.ci_high
    assert hits >= 16


@pytest.mark.parametrize("alpha", [-1.0, -0.5, 0.5, 2.0 / 3.0])
def test_exact_power_law_gives_exact_slope_and_zero_width_ci(alpha):
    Y = np.tile(3.0 * X**alpha, (5, 1))
    fit = fit_power_law(X, Y)
    assert fit.estimate == pytest.approx(alpha, abs=1e-12)
    assert fit.ci_high - fit.ci_low == 0.0
    assert fit.intercept == pytest.approx(np.log(3.0), abs=1e-10)
    assert (fit.kind, fit.n_seeds) == ("power_law", 5)
    one = fit_power_law(X, 3.0 * X**alpha)  # 1-D = one seed, degenerate interval
    assert one.n_seeds == 1 and one.ci == (one.estimate, one.estimate)


def test_tail_selection_ignores_burn_in_with_another_slope():
    x = np.logspace(0, 4, 41)
    y = np.where(x < 100.0, x**1.0, 100.0**0.5 * x**0.5)  # slope 1 for two decades, then 0.5
    fit = fit_power_law(x, y, tail_decades=1.0)
    assert fit.estimate == pytest.approx(0.5, abs=1e-12)
    assert fit.x_range == (1000.0, 10000.0) and fit.n_points == 11
    assert fit_power_law(x, y, tail_decades=4.0).estimate > 0.6  # the whole range is biased


@pytest.mark.parametrize(
    "x, Y, kwargs, match",
    [
        (X[::-1], np.ones(X.size), {}, "x must be strictly increasing"),
        (np.r_[0.0, X[1:]], np.ones(X.size), {}, "x must be positive"),
        (X, -np.ones(X.size), {}, "Y must be positive"),
        (X, np.r_[np.nan, np.ones(X.size - 1)], {}, "Y must be finite"),
        (X, np.ones((2, X.size + 1)), {}, "Y must have shape"),
        (X, np.ones(X.size), dict(tail_decades=0.05), "at least 3"),
        (X, np.ones(X.size), dict(tail_decades=0.0), "tail_decades"),
        (X, np.ones(X.size), dict(confidence=0.0), "confidence"),
        (X, np.ones(X.size), dict(n_resamples=-1), "n_resamples"),
    ],
)
def test_power_law_validation(x, Y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_power_law(x, Y, **kwargs)


def test_power_law_is_reproducible_given_rng():
    Y = X**0.5 * np.random.default_rng(1).lognormal(0, 0.3, (10, X.size))
    assert fit_power_law(X, Y, rng=5) == fit_power_law(X, Y, rng=5)


# --------------------------------------------------------------------------------------------
# linear rates
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("c, C", [(0.9, 1.0), (0.5, 7.0), (0.99, 1e-3)])
def test_exact_geometric_errors_recover_c(c, C):
    k = np.arange(4000)
    fit = fit_linear_rate(C * c**k)
    assert fit.estimate == pytest.approx(c, abs=1e-10)
    assert fit.ci == (fit.estimate, fit.estimate)
    assert fit.kind == "linear" and fit.per_seed == (fit.estimate,)
    # every in-window point is used: err_k / C in [1e-11, 1e-2]
    used = np.flatnonzero((c**k >= 1e-11 * (1 - 1e-12)) & (c**k <= 1e-2 * (1 + 1e-12)))
    assert abs(fit.n_points - used.size) <= 1


def test_window_excludes_round_off_floor_and_transient():
    k = np.arange(600)
    c = 0.93
    clean = 5.0 * c**k
    transient = clean * (1.0 + 3.0 * 0.5**k)  # fast early phase, gone before 1e-2 relative
    floored = np.maximum(transient, 1e-13)  # round-off floor at 1e-13 (relative 2e-14)
    fit = fit_linear_rate(floored)
    assert fit.estimate == pytest.approx(c, abs=1e-10)
    # without the window the floor biases the factor towards 1
    biased = fit_linear_rate(floored, window=(0.0, 10.0))
    assert biased.estimate > c + 1e-3
    # a noisy floor: a 1e-13 additive perturbation only slightly moves the windowed fit
    noisy = clean + 1e-13 * np.random.default_rng(0).random(k.size)
    assert fit_linear_rate(noisy).estimate == pytest.approx(c, abs=1e-4)


def test_absolute_window_and_zero_errors():
    k = np.arange(200)
    e = 100.0 * 0.8**k
    e[150:] = 0.0  # exact convergence: zeros are ignored, not logged
    rel = fit_linear_rate(e)
    ab = fit_linear_rate(e, window=(1e-6, 1.0), relative=False)
    assert rel.estimate == pytest.approx(0.8, abs=1e-10)
    assert ab.estimate == pytest.approx(0.8, abs=1e-10)
    lo, hi = ab.x_range
    assert 100.0 * 0.8**lo <= 1.0 and 100.0 * 0.8**hi >= 1e-6


def test_ragged_seeds_per_seed_factors_and_ci():
    cs = [0.85, 0.9, 0.88, 0.92, 0.87]
    rows = [(1.0 + i) * c ** np.arange(300 + 50 * i) for i, c in enumerate(cs)]
    fit = fit_linear_rate(rows, rng=0)
    np.testing.assert_allclose(fit.per_seed, cs, atol=1e-10)
    assert fit.n_seeds == 5
    assert fit.estimate == pytest.approx(np.mean(cs), abs=1e-10)
    assert min(cs) <= fit.ci_low <= fit.estimate <= fit.ci_high <= max(cs)
    same = fit_linear_rate(np.array([0.9 ** np.arange(400)] * 3))  # 2-D input, equal rows
    assert same.estimate == pytest.approx(0.9, abs=1e-12) and same.ci_high - same.ci_low < 1e-12


def test_too_few_points_in_window_message():
    with pytest.raises(ValueError, match=r"window \[1e-11, 0.01\].*errors seen \[0.0625, 1\]"):
        fit_linear_rate(0.5 ** np.arange(5))


@pytest.mark.parametrize(
    "errors, kwargs, match",
    [
        (np.r_[1.0, np.nan, 0.1], {}, r"errors\[0\] must be finite"),
        (np.r_[1.0, -0.5, 0.1], {}, r"errors\[0\] must be non-negative"),
        (np.ones((2, 2, 2)), {}, "errors must be 1-D, 2-D"),
        ([], {}, "at least one seed"),
        ([np.ones(3), np.ones((2, 2))], {}, r"errors\[1\] must be 1-D"),
        (np.r_[0.0, 0.5, 0.25], {}, "positive initial error"),
        (0.5 ** np.arange(50), dict(window=(1e-2, 1e-3)), "window must satisfy"),
    ],
)
def test_linear_rate_validation(errors, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_linear_rate(errors, **kwargs)


@pytest.mark.parametrize("errors, kwargs, match", [
    (0.5 ** np.arange(50), dict(window=1e-2), "window must be a pair"),
    (0.5 ** np.arange(50), dict(window=("a", 1e-2)), r"window\[0\] must be a real number"),
    (["0.5", "0.25", "0.1"], {}, "errors must be an array of real numbers"),
    (np.array([1 + 0j, 0.5, 0.25]), {}, "errors must be an array of real numbers"),
])
def test_linear_rate_type_errors(errors, kwargs, match):
    with pytest.raises(TypeError, match=match):
        fit_linear_rate(errors, **kwargs)


# --------------------------------------------------------------------------------------------
# RateFit and compare
# --------------------------------------------------------------------------------------------
def test_ratefit_record_and_compare():
    fit = RateFit(estimate=0.52, ci_low=0.45, ci_high=0.58, kind="power_law", n_points=10,
                  n_seeds=20, x_range=(1e3, 1e4), intercept=0.1)
    assert fit.ci == (0.45, 0.58)
    d = fit.as_dict()
    assert d["estimate"] == 0.52 and d["x_range"] == [1e3, 1e4] and d["per_seed"] == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.estimate = 1.0
    with pytest.raises(ValueError, match="kind"):
        RateFit(0.5, 0.4, 0.6, "cubic", 3, 1, (1.0, 2.0), 0.0)
    assert compare(fit, 0.5, "==", 0.1)
    assert compare(fit, 0.65, "==", 0.1)  # CI [0.45, 0.58] meets [0.55, 0.75]
    assert not compare(fit, 0.8, "==", 0.1)
    assert compare(fit, 0.6, "<=", 0.0) and not compare(fit, 0.55, "<=", 0.0)
    assert compare(fit, 0.45, ">=", 0.0)
