"""RVI's Odoni certificate and the exact per-state gain of a (possibly multichain) policy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from tests.strategies import unichain_average_mdp


def _not_weakly_communicating():
    """State 0: stay with reward 1 (action 0) or move to state 1 (action 1); state 1 absorbing, reward 0.
    One set ({1}) is closed under every policy, so RVI's multichain refusal lets it through, but
    g*(0) = 1 != g*(1) = 0: no single gain is right."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = 1.0
    P[1, :, 1] = 1.0
    R = np.array([[1.0, 0.0], [0.0, 0.0]])
    return mdps.TabularMDP(P, R)


@pytest.mark.parametrize("s_ref", [0, 1])
def test_wrong_gain_is_never_silent(s_ref):
    mdp = _not_weakly_communicating()
    assert mdps.multichain_gain(mdp).round(9).tolist() == [1.0, 0.0]
    with pytest.warns(mdps.GainCertificateWarning, match="not weakly communicating.*holds=False"):
        sol = mdps.relative_value_iteration(mdp, max_iter=200, s_ref=s_ref)
    c = sol.certificate
    assert not sol.converged and not c["holds"]
    # the bracket still contains every g*(s) (Odoni holds in any finite MDP), but it does not shrink
    assert c["gain_lower"] <= 0.0 and c["gain_upper"] >= 1.0
    assert c["policy_gain"].tolist() == [1.0, 0.0]
    assert sol.gain in (0.0, 1.0)  # one of the two gains: wrong for the other state
    assert issubclass(mdps.GainCertificateWarning, mdps.ConvergenceWarning)


@pytest.mark.parametrize("make", [
    lambda: mdps.river_swim(6),
    lambda: mdps.jao(0.1, 0.05, 2),
    lambda: mdps.TabularMDP(np.array([[[0.0, 1.0]], [[1.0, 0.0]]]), np.array([[1.0], [0.0]])),  # period 2
    lambda: mdps.garnet(8, 3, 3, rng=4).with_criterion(),
])
def test_certificate_holds_and_brackets_the_lp_gain(make):
    mdp = make()
    g_star = mdps.average_reward_lp(mdp).gain
    tol = 1e-9
    with warnings.catch_warnings():
        warnings.simplefilter("error", mdps.ConvergenceWarning)
        sol = mdps.relative_value_iteration(mdp, tol=tol)
    c = sol.certificate
    assert c["holds"] and sol.converged
    slack = 1e-9 * (1 + np.ptp(mdp.R))
    assert c["gain_lower"] - slack <= g_star <= c["gain_upper"] + slack
    assert c["width"] == c["gain_upper"] - c["gain_lower"] < tol
    # the greedy policy is tol-gain-optimal at every state, by its exact gain
    assert np.abs(np.asarray(c["policy_gain"]) - g_star).max() <= tol + slack
    assert c["gain_lower"] == sol.trace["gain_lower"][-1] and c["gain_upper"] == sol.trace["gain_upper"][-1]
    with pytest.raises(ValueError):
        c["policy_gain"][0] = 0.0  # read-only


def test_certificate_recomputed_from_the_bias():
    mdp = mdps.garnet(10, 3, 4, rng=1).with_criterion()
    sol = mdps.relative_value_iteration(mdp, tol=1e-8)
    u = np.asarray(sol.bias)
    Tu = (mdp.R + (mdp.P @ u)).max(axis=1)
    assert sol.certificate["gain_lower"] == pytest.approx((Tu - u).min(), abs=1e-13)
    assert sol.certificate["gain_upper"] == pytest.approx((Tu - u).max(), abs=1e-13)


def test_policy_gain_multichain_by_hand():
    # 0 -> {1, 2} half-half; 1 and 2 absorbing with rewards 1 and 3; 3 -> 0 (reward 5, transient)
    P = np.zeros((4, 1, 4))
    P[0, 0] = [0.0, 0.5, 0.5, 0.0]
    P[1, 0, 1] = P[2, 0, 2] = P[3, 0, 0] = 1.0
    R = np.array([[0.0], [1.0], [3.0], [5.0]])
    mdp = mdps.TabularMDP(P, R)
    g = mdps.policy_gain(mdp, np.zeros(4, dtype=int))
    assert g.tolist() == [2.0, 1.0, 3.0, 2.0]
    gs = mdps.policy_gain(mdps.TabularMDP(sp.csr_array(P.reshape(4, 4)), R), np.zeros(4, dtype=int))
    assert np.abs(gs - g).max() <= 1e-15
    with pytest.raises(ValueError, match="not unichain"):
        mdps.gain_bias(mdp, np.zeros(4, dtype=int))


@settings(max_examples=40, deadline=None)
@given(mdp=unichain_average_mdp(), seed=st.integers(0, 2**31))
def test_policy_gain_equals_gain_bias_on_unichain(mdp, seed):
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(mdp.n_actions), size=mdp.n_states)
    g = mdps.policy_gain(mdp, pi)
    scale = 1e-10 * (1 + np.abs(mdp.R).max())
    assert np.abs(g - mdps.gain_bias(mdp, pi).gain).max() <= scale


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), S=st.integers(2, 7), A=st.integers(1, 3))
def test_policy_gain_is_a_fixed_point_and_scales(seed, S, A):
    # P_pi g = g (the Cesaro limit is invariant), gain is linear in R, and shifting R by c shifts g by c
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(S, 0.3), size=(S, A)) * (rng.random((S, A, S)) < 0.5)
    P[P < 1e-3] = 0.0  # entries >= 1e-3: the stationary and transient solves have condition <~ 1e3 S (tolerances)
    P[np.arange(S), :, np.arange(S)] += 1e-3  # no empty row
    P /= P.sum(axis=2, keepdims=True)
    R = rng.random((S, A))
    pi = rng.integers(0, A, size=S)
    mdp = mdps.TabularMDP(P, R)
    g = mdps.policy_gain(mdp, pi)
    P_pi = P[np.arange(S), pi]
    assert np.abs(P_pi @ g - g).max() <= 1e-10
    assert np.abs(mdps.policy_gain(mdps.TabularMDP(P, 3.0 * R - 2.0), pi) - (3.0 * g - 2.0)).max() <= 1e-9


def test_policy_gain_bad_input():
    mdp = mdps.river_swim(4)
    with pytest.raises(ValueError, match="pi"):
        mdps.policy_gain(mdp, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="criterion|average"):
        mdps.policy_gain(mdps.river_swim(4, gamma=0.9), np.zeros(4, dtype=int))
