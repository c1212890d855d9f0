"""IWOCS (algorithms.robust.iwocs): certificate at convergence, agreement with robust VI, the
singleton set, monotone estimates, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from algorithms.robust import IWOCSResult, iwocs


def _rmdp(kind="l1", radius=0.3, S=8, seed=0, gamma=0.9):
    return mdps.RobustMDP(mdps.garnet(S, 3, 3, gamma=gamma, rng=seed), kind=kind, radius=radius)


@pytest.mark.parametrize("kind,radius", [("l1", 0.5), ("tv", 0.2), ("linf", 0.1), ("kl", 0.3), ("chi2", 0.5)])
def test_certificate_vanishes_and_value_equals_robust_vi(kind, radius):
    rm = _rmdp(kind, radius)
    res = iwocs(rm, tol=1e-8)
    assert res.status == "certified"
    assert 0.0 <= res.certificate[-1] <= 1e-8
    rho = rm.mdp.rho
    v_star = rho @ np.asarray(mdps.robust_value_iteration(rm, tol=1e-11).V)
    v_pi = rho @ np.asarray(mdps.robust_evaluate(rm, res.policy, tol=1e-11).V)
    assert abs(res.value - v_star) <= 1e-9
    assert abs(v_pi - v_star) <= 1e-9


def test_singleton_set_gives_the_nominal_optimum_at_iteration_zero():
    rm = _rmdp(radius=0.0)
    res = iwocs(rm)
    nominal = mdps.solve(rm.mdp, method="pi")
    assert res.n_iter == 1 and res.status == "certified" and res.models.shape[0] == 1
    assert np.array_equal(res.policy.argmax(axis=1), np.asarray(nominal.policy))
    assert abs(res.upper[0] - rm.mdp.rho @ np.asarray(nominal.V)) <= 1e-10
    assert res.certificate[0] <= 1e-8


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), kind=st.sampled_from(["l1", "linf", "kl", "chi2"]),
       radius=st.one_of(st.just(0.0), st.floats(1e-6, 1.0)), S=st.integers(2, 10))
def test_estimates_are_monotone_and_bracket_the_robust_value(seed, kind, radius, S):
    rm = mdps.RobustMDP(mdps.garnet(S, 2, min(S, 3), gamma=0.8, rng=seed), kind=kind,
                        radius=radius * (0.3 if kind == "linf" else 1.0))
    res = iwocs(rm, max_iter=20)
    v_star = rm.mdp.rho @ np.asarray(mdps.robust_value_iteration(rm, tol=1e-11).V)
    assert np.all(np.diff(res.upper) <= 1e-12) and np.all(np.diff(res.lower) >= 0.0)
    assert np.all(res.lower <= v_star + 1e-9) and np.all(res.upper >= v_star - 1e-9)
    assert np.allclose(res.certificate, res.upper - res.lower)
    # every model found is a kernel
    assert np.allclose(res.models.sum(axis=-1), 1.0) and (res.models >= -1e-15).all()


def test_unconverged_evaluation_gives_a_vacuous_lower_bound():
    # robust evaluation capped at one sweep does not converge: the lower bound is -inf, not a guess
    rm = _rmdp()
    import importlib

    module = importlib.import_module("algorithms.robust.iwocs")

    res = module.iwocs(rm, max_iter=3)
    assert np.isfinite(res.lower).all()
    original = module.robust_evaluate
    try:
        module.robust_evaluate = lambda r, pi, tol: original(r, pi, tol=tol, max_iter=1)
        res = module.iwocs(rm, max_iter=3)
    finally:
        module.robust_evaluate = original
    assert np.isneginf(res.lower).all() and np.isposinf(res.certificate).all() and res.status != "certified"
    assert res.policy.sum(axis=1).tolist() == [1.0] * rm.n_states


def test_record_is_read_only_and_shaped():
    rm = _rmdp()
    res = iwocs(rm)
    assert isinstance(res, IWOCSResult)
    S, A = rm.n_states, rm.n_actions
    assert res.policy.shape == (S, A) and res.incumbents.shape == (res.n_iter, S)
    assert res.models.shape[1:] == (S, A, S)
    with pytest.raises(ValueError):
        res.upper[0] = 0.0


def test_bad_input_names_the_argument():
    rm = _rmdp()
    with pytest.raises(TypeError, match="rmdp"):
        iwocs(rm.mdp)
    with pytest.raises((TypeError, ValueError), match="max_iter"):
        iwocs(rm, max_iter=0)
    with pytest.raises((TypeError, ValueError), match="tol"):
        iwocs(rm, tol=-1.0)
    with pytest.raises((TypeError, ValueError), match="eval_tol"):
        iwocs(rm, eval_tol=0.0)
