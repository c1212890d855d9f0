"""The catalogue's answers are right by their defining equations, checked without the solvers.

Discounted ``V*`` is the fixed point of the Bellman optimality operator (and a given policy
its unique greedy policy); finite-horizon ``V`` satisfies the backward recursion; a gain is
the exact gain of a policy (Poisson equation by a linear solve) and no policy beats it; a Nash
equilibrium wins against every response with probability at most 1/2. The solvers are held to
these answers by ``tests/test_planning_conformance.py``.
"""

from __future__ import annotations

import dataclasses
import doctest
import itertools

import numpy as np
import pytest

import mdps
import mdps.catalogue as cat

ENTRIES = {e.name: e for e in cat.entries()}


def _by_family(family):
    return [pytest.param(e, id=e.name) for e in cat.entries(family)]


def test_doctests():
    res = doctest.testmod(cat, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0


def test_records_lookup_and_families():
    assert len(ENTRIES) == len(cat.entries()) and set(cat.names()) == set(ENTRIES)
    assert {e.family for e in cat.entries()} == set(cat.FAMILIES)
    for family in cat.FAMILIES:
        assert all(e.family == family for e in cat.entries(family))
    assert cat.get("jao") is ENTRIES["jao"] and mdps.catalogue.get("jao") is ENTRIES["jao"]
    for e in cat.entries():
        assert e.source and ("closed form" in e.source or "by hand" in e.source or "19" in e.source
                             or "20" in e.source or "symmetry" in e.source), e.name
        with pytest.raises(dataclasses.FrozenInstanceError):
            e.name = "x"
        a = e.build()
        assert a is not e.build()  # fresh instances
    for arr in (ENTRIES["deterministic_two_state"].answer.V, ENTRIES["intransitive_3x3"].answer.nash):
        with pytest.raises(ValueError):
            arr[0] = 0.0
    with pytest.raises(ValueError, match="name must be one of the catalogue's entries"):
        cat.get("no such instance")
    with pytest.raises(ValueError, match="family must be None or one of"):
        cat.entries("robust")


@pytest.mark.parametrize("entry", _by_family("discounted"))
def test_discounted_answers_are_bellman_fixed_points(entry):
    mdp, a = entry.build(), entry.answer
    P, R, g = np.asarray(mdp.P), mdp.R, mdp.gamma
    if a.V is not None:
        Q = R + g * P @ a.V
        scale = max(1.0, np.abs(a.V).max())
        np.testing.assert_allclose(Q.max(axis=1), a.V, rtol=0, atol=1e-12 * scale)
        if a.Q is not None:
            np.testing.assert_allclose(Q, a.Q, rtol=0, atol=1e-12 * scale)
    if a.policy is not None:
        # the policy is the unique optimum: its exact value is V* (when known) and every other
        # action is strictly worse at its own value
        V_pi = np.linalg.solve(np.eye(mdp.n_states) - g * P[np.arange(mdp.n_states), a.policy],
                               R[np.arange(mdp.n_states), a.policy])
        if a.V is not None:
            np.testing.assert_allclose(V_pi, a.V, rtol=0, atol=1e-10 * max(1.0, np.abs(a.V).max()))
        Q = R + g * P @ V_pi
        gaps = Q[np.arange(mdp.n_states), a.policy][:, None] - Q
        gaps[np.arange(mdp.n_states), a.policy] = np.inf
        assert np.all(gaps > 1e-9), entry.name


@pytest.mark.parametrize("entry", _by_family("finite_horizon"))
def test_finite_horizon_answers_satisfy_backward_recursion(entry):
    mdp, a = entry.build(), entry.answer
    H = mdp.horizon
    V_next = np.zeros(mdp.n_states)
    for h in range(H - 1, -1, -1):
        Q = mdp.R_stage(h) + np.asarray(mdp.P_stage(h)) @ V_next
        np.testing.assert_allclose(Q.max(axis=1), a.V[h], rtol=0, atol=1e-12)
        if a.Q is not None:
            np.testing.assert_allclose(Q, a.Q[h], rtol=0, atol=1e-12)
        if a.policy is not None:
            np.testing.assert_array_equal(Q.argmax(axis=1), a.policy[h])
        V_next = a.V[h]


def _all_deterministic_policies(mdp):
    return (np.array(p, dtype=np.int64) for p in itertools.product(range(mdp.n_actions), repeat=mdp.n_states))


def _cesaro_limit(P):
    """The Cesaro limit of a stochastic matrix, exactly up to round-off: the lazy chain
    (I + P) / 2 has the same limit (same stationary distributions and absorption probabilities)
    and is aperiodic, so its powers converge; 60 squarings take it to the 2^60-th power (rows
    renormalised after each, or the row-sum round-off would grow like (1 + eps)^(2^60))."""
    M = 0.5 * (np.eye(P.shape[0]) + P)
    for _ in range(60):
        M = M @ M
        M /= M.sum(axis=1, keepdims=True)
    return M


@pytest.mark.parametrize("entry", _by_family("average"))
def test_average_answers_are_the_best_gain_over_all_policies(entry):
    """Enumerate every deterministic policy (the instances are tiny): the best gain from each
    state is the answer (an optimal deterministic stationary policy exists; Puterman §9.1)."""
    mdp, a = entry.build(), entry.answer
    S = mdp.n_states
    best = np.full(S, -np.inf)
    for sigma in _all_deterministic_policies(mdp):
        gain = _cesaro_limit(np.asarray(mdp.P)[np.arange(S), sigma]) @ mdp.R[np.arange(S), sigma]
        best = np.maximum(best, gain)
        if a.policy is not None and np.array_equal(sigma, a.policy):
            np.testing.assert_allclose(gain, a.gain, rtol=0, atol=1e-12)
    np.testing.assert_allclose(best, np.broadcast_to(a.gain, (S,)), rtol=0, atol=1e-12)
    if a.policy is not None and np.ndim(a.gain) == 0:
        assert abs(mdps.gain_bias(mdp, a.policy).gain - a.gain) < 1e-12  # exact, by a linear solve
    if a.bias is not None:
        np.testing.assert_allclose(mdps.gain_bias(mdp, a.policy).bias, a.bias, atol=1e-12)


def test_river_swim_gain_closed_form():
    assert cat.river_swim_gain(6) == 2401 / 5602 and cat.river_swim_gain(2) == 0.5
    for n in range(2, 12):
        mdp = cat.river_swim_average(n)
        assert abs(mdps.gain_bias(mdp, np.ones(n, dtype=np.int64)).gain - cat.river_swim_gain(n)) < 1e-12


@pytest.mark.parametrize("entry", _by_family("preference"))
def test_nash_answers_are_equilibria(entry):
    game, a = entry.build(), entry.answer
    pi = a.nash
    assert abs(pi.sum() - 1.0) < 1e-15 and np.all(pi >= 0)
    win = np.asarray(game.Pref) @ pi
    assert np.all(win <= 0.5 + 1e-15)  # no response beats pi
    assert abs(pi @ np.asarray(game.Pref) @ pi - a.value) < 1e-15
    assert game.exploitability(pi) <= 1e-15


def test_rock_paper_scissors_regularised_equilibrium_is_uniform():
    game = cat.rock_paper_scissors()
    for beta in (1e-3, 0.1, 10.0):
        np.testing.assert_allclose(game.regularized_nash(beta), np.full(3, 1 / 3), atol=1e-12)
