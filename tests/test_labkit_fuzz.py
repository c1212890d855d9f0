"""Fuzz of labkit's public functions: bad and edge inputs give a ValueError/TypeError that names
the argument, or a finite answer; never a crash, a hang, or a silent NaN.

Hypothesis draws from a pool of hostile values (NaN, inf, huge and tiny floats, negative and
huge ints, bools, strings, complex numbers, None, ragged or empty arrays) for each argument.
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labkit
from labkit.rates import fit_linear_rate, fit_power_law
from labkit.seeding import run_seeds
from labkit.stats import bootstrap_ci, iqm
from labkit.store import ResultStore, canonical_json

HOSTILE = st.sampled_from([
    float("nan"), float("inf"), -float("inf"), 0.0, -1.0, 1e308, 5e-324, -(2**70), 2**70, 0, 1, 3, True, "3", 1j,
    None, [], [[1.0, 2.0], [3.0]], np.array([]), np.array([1.0, np.nan]), np.zeros((2, 0)), object(),
])
ARRAYS = st.one_of(
    HOSTILE,
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=8).map(np.array),
    st.lists(st.floats(min_value=1e-12, max_value=1e3), min_size=1, max_size=8).map(np.array),
)

NAMES = ("x", "Y", "errors", "window", "tail_decades", "confidence", "n_resamples", "rng", "samples", "n",
         "count", "first", "dense", "seed", "root", "values", "relation", "experiment", "config", "key",
         "statistic", "relative", "replicate", "axis", "tol", "expected")


def _outcome(call):
    try:
        out = call()
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        assert any(n in msg for n in NAMES), f"unclear error: {type(exc).__name__}: {msg}"
        return None
    return out


def _finite(v):
    if isinstance(v, tuple):
        return all(_finite(x) for x in v)
    return math.isfinite(float(v))


@settings(max_examples=150, deadline=None)
@given(x=ARRAYS, Y=ARRAYS, tail=HOSTILE, conf=HOSTILE)
def test_fit_power_law(x, Y, tail, conf):
    for kw in ({}, {"tail_decades": tail}, {"confidence": conf}):
        fit = _outcome(lambda: fit_power_law(x, Y, n_resamples=50, **kw))
        if fit is not None:
            assert _finite(fit.estimate) and _finite(fit.ci_low) and _finite(fit.ci_high)


@settings(max_examples=150, deadline=None)
@given(errors=ARRAYS, window=st.one_of(HOSTILE, st.tuples(HOSTILE, HOSTILE)))
def test_fit_linear_rate(errors, window):
    for kw in ({}, {"window": window}):
        fit = _outcome(lambda: fit_linear_rate(errors, n_resamples=50, **kw))
        if fit is not None:
            assert _finite(fit.estimate)


@settings(max_examples=150, deadline=None)
@given(samples=ARRAYS, conf=HOSTILE, n=HOSTILE)
def test_bootstrap_and_iqm(samples, conf, n):
    ci = _outcome(lambda: bootstrap_ci(samples, confidence=conf, n_resamples=n))
    if ci is not None:
        assert _finite(ci)
    v = _outcome(lambda: iqm(samples))
    if v is not None:
        assert _finite(v)


@settings(max_examples=150, deadline=None)
@given(n=HOSTILE, count=HOSTILE, first=HOSTILE, dense=HOSTILE)
def test_checkpoints(n, count, first, dense):
    pts = _outcome(lambda: labkit.checkpoints(n, count, first=first, dense=dense))
    if pts is not None:
        assert pts.dtype == np.int64 and np.all(np.diff(pts) > 0) and pts[-1] == n


@settings(max_examples=150, deadline=None)
@given(values=ARRAYS, relation=st.sampled_from(["<=", ">=", "==", "<", None]), tol=HOSTILE, expected=HOSTILE)
def test_worst_case_and_verdict(values, relation, tol, expected):
    out = _outcome(lambda: labkit.worst_case(values, relation, expected, tol, pd.DataFrame(), "d"))
    if out is not None:
        assert isinstance(labkit.verdict(out.measured, out.ci, out.expected, out.relation, out.tol), bool)


@settings(max_examples=150, deadline=None)
@given(seed=HOSTILE, n=HOSTILE, config=st.one_of(HOSTILE, st.dictionaries(st.text(max_size=3), HOSTILE, max_size=3)))
def test_seeding_and_keys(seed, n, config):
    seeds = _outcome(lambda: run_seeds(seed, n))
    if seeds is not None:
        assert len(seeds) == n
    key = _outcome(lambda: ResultStore.key("exp", config, np.random.SeedSequence(0), code_version="v"))
    if key is not None:
        assert len(key) == 64
    _outcome(lambda: canonical_json(config))


@pytest.mark.timeout(60)
@settings(max_examples=60, deadline=None)
@given(configs=st.one_of(HOSTILE, st.lists(st.dictionaries(st.sampled_from("ab"), HOSTILE, max_size=2), max_size=3)),
       n_seeds=HOSTILE, seed=HOSTILE)
def test_sweep_arguments(configs, n_seeds, seed):
    def fn(config, rng):
        return {"v": 1.0}

    df = _outcome(lambda: labkit.sweep(fn, configs, n_seeds=n_seeds, seed=seed, experiment="fuzz", code_version="v"))
    if df is not None:
        assert isinstance(df, pd.DataFrame)
