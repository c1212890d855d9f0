"""Robust MDPs: exact inner problems (closed forms, primal twins, random feasible points), robust VI
and evaluation (contraction, nominal at radius 0, worst-case model attains the value), bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from mdps import _robust_reference as ref

KINDS = ("l1", "tv", "linf", "kl", "chi2")


def _divergence(kind, p, p0):
    if kind == "l1":
        return np.abs(p - p0).sum()
    if kind == "tv":
        return 0.5 * np.abs(p - p0).sum()
    if kind == "linf":
        return np.abs(p - p0).max()
    s = p0 > 0
    assert np.all(p[~s] == 0.0), "mass outside the nominal support"
    if kind == "kl":
        t = s & (p > 0)
        return float(np.sum(p[t] * np.log(p[t] / p0[t])))
    return float(np.sum((p[s] - p0[s]) ** 2 / p0[s]))


@st.composite
def instances(draw):
    n = draw(st.integers(1, 7))
    w = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n)))
    zero = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if zero.all():
        zero[draw(st.integers(0, n - 1))] = False
    w[zero] = 0.0
    p0 = w / w.sum()
    v = np.array(draw(st.lists(st.floats(-10, 10), min_size=n, max_size=n)))
    r = draw(st.sampled_from([0.0, 1e-4, 0.01, 0.1, 0.3, 1.0, 3.0]))
    return p0, v, r


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=150, deadline=None)
@given(inst=instances(), seed=st.integers(0, 2**31))
def test_inner_exact_feasible_optimal(kind, inst, seed):
    p0, v, r = inst
    scale = max(1.0, np.abs(v).max())
    val = mdps.robust_inner(p0, v, r, kind=kind)
    p = mdps.robust_argmin(p0, v, r, kind=kind)
    # the fast answer's minimiser is a distribution in the ball with value val
    assert p.min() >= -1e-15 and abs(p.sum() - 1.0) <= 1e-12
    assert _divergence(kind, p, p0) <= r * (1 + 1e-9) + 1e-12
    assert abs(p @ v - val) <= 1e-12 * scale
    # the exact primal construction agrees
    q = ref.ARGMIN[kind](p0, v, r)
    assert abs(q @ v - val) <= 1e-12 * scale
    # no random feasible point does better: mixtures of p0 with random distributions, shrunk into the ball
    rng = np.random.default_rng(seed)
    supp = p0 > 0 if kind in ("kl", "chi2") else np.ones_like(p0, dtype=bool)
    for _ in range(20):
        d = np.where(supp, rng.dirichlet(np.ones(p0.size)), 0.0)
        d /= d.sum()
        t = 1.0
        while _divergence(kind, p0 + t * (d - p0), p0) > r and t > 1e-6:
            t *= 0.5
        x = p0 + t * (d - p0)
        # clearly inside; at r = 0 a computed KL of a point 1e-7 away can round to <= 0, so the
        # ball {p0} is tested by test_radius_zero_gives_nominal instead
        if r > 0 and t > 1e-6 and _divergence(kind, x, p0) <= r:
            assert x @ v >= val - 1e-12 * scale


@pytest.mark.parametrize("kind", KINDS)
def test_radius_zero_gives_nominal(kind):
    p0 = np.array([0.2, 0.0, 0.5, 0.3])
    v = np.array([3.0, -7.0, 1.0, 2.0])
    assert mdps.robust_inner(p0, v, 0.0, kind=kind) == pytest.approx(p0 @ v, abs=1e-14)
    np.testing.assert_allclose(mdps.robust_argmin(p0, v, 0.0, kind=kind), p0, atol=1e-15)


def test_l1_moves_half_radius_from_top_to_bottom():
    p0 = np.array([0.25, 0.25, 0.25, 0.25])
    v = np.array([2.0, 0.0, 5.0, 1.0])
    r = 0.3
    p = mdps.robust_argmin(p0, v, r, kind="l1")
    np.testing.assert_allclose(p, [0.25, 0.40, 0.10, 0.25], atol=1e-15)
    # no-clipping closed form <p0, v> - (r/2) sp(v)
    assert mdps.robust_inner(p0, v, r, kind="l1") == pytest.approx(p0 @ v - r / 2 * 5.0, abs=1e-14)
    assert mdps.robust_inner(p0, v, r / 2, kind="tv") == pytest.approx(p0 @ v - r / 2 * 5.0, abs=1e-14)
    # the top state runs out of mass: the next one gives the rest
    p = mdps.robust_argmin(p0, v, 0.8, kind="l1")
    np.testing.assert_allclose(p, [0.10, 0.65, 0.0, 0.25], atol=1e-15)
    # a large radius puts all mass on argmin v, even where p0 is zero
    assert mdps.robust_inner([0.0, 1.0], [-1.0, 1.0], 2.0, kind="l1") == pytest.approx(-1.0)


def test_chi2_unclipped_closed_form():
    p0 = np.array([0.3, 0.3, 0.4])
    v = np.array([1.0, 2.0, 1.5])
    r = 0.01
    var = p0 @ v**2 - (p0 @ v) ** 2
    assert mdps.robust_inner(p0, v, r, kind="chi2") == pytest.approx(p0 @ v - math.sqrt(r * var), abs=1e-14)


def test_kl_dual_root_vs_brute_force():
    p0 = np.array([0.1, 0.0, 0.4, 0.5])
    v = np.array([0.0, -100.0, 1.0, 3.0])  # the zero of p0 forces p there to 0: -100 is unreachable
    r = 0.2
    lam = np.geomspace(1e-4, 1e4, 200_001)
    s = p0 > 0
    dual = -lam * r - lam * np.log(np.sum(p0[s][None, :] * np.exp(-v[s][None, :] / lam[:, None]), axis=1))
    val = mdps.robust_inner(p0, v, r, kind="kl")
    assert val >= dual.max() - 1e-12  # the kernel's lambda is at least as good as any grid point
    assert val - dual.max() <= 1e-6  # and the grid is fine enough to come close
    assert val >= 0.0  # min over the support, never the unreachable -100
    # large radius: the lambda -> 0 endpoint, min over the support
    assert mdps.robust_inner(p0, v, math.log(10.0), kind="kl") == 0.0


# -- robust VI and evaluation ---------------------------------------------------------------------
def _rmdp(kind="l1", radius=0.2, S=6, A=3, seed=0, gamma=0.9):
    return mdps.RobustMDP(mdps.garnet(S, A, 3, gamma=gamma, rng=seed), kind=kind, radius=radius)


@pytest.mark.parametrize("kind", KINDS)
def test_robust_vi_radius_zero_is_nominal(kind):
    rm = _rmdp(kind, 0.0)
    sol = mdps.solve(rm, method="vi", tol=1e-10)
    np.testing.assert_allclose(sol.V, mdps.solve(rm.mdp).V, atol=1e-9)
    assert sol.policy.shape == (rm.n_states, rm.n_actions)
    np.testing.assert_array_equal(sol.policy.sum(axis=1), 1.0)


@pytest.mark.parametrize("kind", KINDS)
def test_robust_vi_below_nominal_monotone_and_worst_model_attains(kind):
    vals = [mdps.solve(_rmdp(kind, r), tol=1e-10).V for r in (0.0, 0.05, 0.2, 0.5)]
    for a, b in zip(vals, vals[1:]):
        assert np.all(b <= a + 1e-9)
    rm = _rmdp(kind, 0.2)
    sol = mdps.solve(rm, tol=1e-11)
    # the worst-case model is in U and the greedy policy's value under it is the robust value
    worst = mdps.TabularMDP(sol.P_worst, rm.mdp.R, gamma=rm.gamma)
    np.testing.assert_allclose(mdps.evaluate(worst, sol.policy), sol.V, atol=1e-9)
    ev = mdps.robust_evaluate(rm, sol.policy, tol=1e-11)
    np.testing.assert_allclose(ev.V, sol.V, atol=1e-9)
    assert ev.policy.shape == (rm.n_states, rm.n_actions)


@pytest.mark.parametrize("kind", KINDS)
def test_robust_operator_contracts(kind):
    rm = _rmdp(kind, np.random.default_rng(1).uniform(0, 0.5, size=(6, 3)))
    rng = np.random.default_rng(2)
    for _ in range(20):
        U, V = rng.normal(size=6) * 5, rng.normal(size=6) * 5
        lhs = np.abs(mdps.robust_bellman_operator(rm, U) - mdps.robust_bellman_operator(rm, V)).max()
        assert lhs <= rm.gamma * np.abs(U - V).max() * (1 + 1e-12)


def test_kl_zeros_in_nominal_model():
    P = np.zeros((2, 1, 2))
    P[0, 0] = [1.0, 0.0]
    P[1, 0] = [0.0, 1.0]
    mdp = mdps.TabularMDP(P, np.array([[1.0], [0.0]]), gamma=0.5)
    for kind in ("kl", "chi2"):
        sol = mdps.solve(mdps.RobustMDP(mdp, kind=kind, radius=5.0))
        np.testing.assert_allclose(sol.V, [2.0, 0.0], atol=1e-8)  # no mass can leave a deterministic row
    sol = mdps.solve(mdps.RobustMDP(mdp, kind="l1", radius=2.0))
    assert sol.V[0] < 2.0 - 0.5  # the L1 ball can move the whole row


@pytest.mark.parametrize("kind", ["l1", "tv", "linf", "kl", "chi2"])
def test_sparse_nominal_models_equal_their_dense_form(kind):
    # a sparse Garnet (zeros in every row: legal for KL, where they force p = 0) gives the robust
    # value of its dense form, bit for bit
    mdp = mdps.garnet(30, 3, 4, gamma=0.9, rng=4)
    csr = mdps.TabularMDP(sp.csr_array(mdp.P.reshape(90, 30)), mdp.R, gamma=0.9)
    assert csr.is_sparse
    dense = mdps.solve(mdps.RobustMDP(mdp, kind=kind, radius=0.2))
    sparse = mdps.solve(mdps.RobustMDP(csr, kind=kind, radius=0.2))
    np.testing.assert_array_equal(sparse.V, dense.V)
    np.testing.assert_array_equal(sparse.policy, dense.policy)
    assert (sparse.V <= mdps.solve(mdp, method="pi").V + 1e-9).all()


def test_bad_input(monkeypatch):
    mdp = mdps.garnet(4, 2, 2, gamma=0.9, rng=0)
    with pytest.raises(ValueError, match="radius"):
        mdps.RobustMDP(mdp, radius=-0.1)
    with pytest.raises(ValueError, match="radius"):
        mdps.RobustMDP(mdp, radius=np.ones((4, 3)))
    with pytest.raises(ValueError, match="radius"):
        mdps.RobustMDP(mdp, radius=np.full((4, 2), np.nan))
    bad = np.ones((4, 2))
    bad[2, 1] = -1.0
    with pytest.raises(ValueError, match=r"radius\[2, 1\]"):
        mdps.RobustMDP(mdp, radius=bad)
    with pytest.raises(ValueError, match="kind"):
        mdps.RobustMDP(mdp, kind="wasserstein")
    with pytest.raises(NotImplementedError, match="rectangularity"):
        mdps.RobustMDP(mdp, kind="tv", rectangularity="s")
    with pytest.raises(ValueError, match="criterion|discounted"):  # average reward: no robust solver
        mdps.RobustMDP(mdps.river_swim(4))
    with pytest.raises(ValueError, match="robust_backward_induction"):  # finite horizon: its own solver
        mdps.robust_value_iteration(mdps.RobustMDP(mdps.river_swim(4, horizon=3)))
    csr = sp.csr_array(mdp.P.reshape(8, 4))
    monkeypatch.setattr(mdps.robust, "DENSE_LIMIT_BYTES", 100)
    with pytest.raises(ValueError, match="densifies a sparse nominal model"):
        mdps.RobustMDP(mdps.TabularMDP(csr, mdp.R, gamma=0.9))
    with pytest.raises(ValueError, match="radius"):
        mdps.robust_inner([0.5, 0.5], [0.0, 1.0], -1.0)
    with pytest.raises(ValueError, match="p0"):
        mdps.robust_inner([0.5, 0.6], [0.0, 1.0], 0.1)
    with pytest.raises(ValueError, match="v"):
        mdps.robust_inner([0.5, 0.5], [0.0, 1.0, 2.0], 0.1)
    with pytest.raises(ValueError, match="method"):
        mdps.solve(mdps.RobustMDP(mdp), method="lp")
    with pytest.raises(ValueError, match="keyword"):
        mdps.solve(mdps.RobustMDP(mdp), m=3)


@pytest.mark.parametrize("r", [1e-300, 1e-20, 1e-16, 1e-14, 1e-12, 1e-11, 1e-10])
def test_kl_ball_at_tiny_radii_matches_the_second_order_expansion(r):
    # at tiny radii the dual's lambda is huge and KL(p_lam || p0) = -mean/lam - log Z cancelled
    # catastrophically: r = 1e-20 returned 29.1 for values in [0, 10] (above the nominal mean), and
    # robust VI stopped converging below r ~ 1e-12; the kernel now centres the values and sums
    # e^{-x} - 1 + x by its series. sigma(r) = <p0, v> - sqrt(2 r Var_p0(v)) + O(r).
    rng = np.random.default_rng(0)
    p0 = rng.dirichlet(np.ones(6))
    v = rng.random(6) * 10
    m, var = p0 @ v, p0 @ (v - p0 @ v) ** 2
    s = mdps.robust_inner(p0, v, r, kind="kl")
    assert s <= m
    assert abs(s - (m - np.sqrt(2 * r * var))) <= 1e-11 * 10 + 10 * r * 10


def test_robust_vi_converges_with_a_tiny_kl_radius():
    mdp = mdps.garnet(10, 3, 3, gamma=0.9, rng=0)
    sol = mdps.solve(mdps.RobustMDP(mdp, kind="kl", radius=1e-14), method="vi")
    assert sol.converged
    assert np.abs(sol.V - mdps.solve(mdp, method="pi").V).max() <= 1e-5


@pytest.mark.parametrize("p0, v", [
    (np.full(7, 1 / 7), np.array([0, 0, 0, 0, 0, 1.0, 6.71967347e-253])),
    (np.full(5, 0.2), np.array([0, 0, 0, 1.0, 6.71967347e-253])),
])
def test_kl_ball_with_a_near_tie_at_the_minimum(p0, v):
    # Hypothesis found these after the small-radius fix: the root lies at lambda ~ 1e-254, where a
    # centred formula overflows (nan minimiser, division by zero); the kernel uses the uncentred
    # values there
    val = mdps.robust_inner(p0, v, 0.3, kind="kl")
    p = mdps.robust_argmin(p0, v, 0.3, kind="kl")
    assert np.isfinite(p).all() and abs(p.sum() - 1) <= 1e-12 and p.min() >= 0
    assert abs(p @ v - val) <= 1e-12 and abs(val) <= 1e-12
    assert float(np.sum(p[p > 0] * np.log(p[p > 0] / p0[p > 0]))) <= 0.3 * (1 + 1e-9)


# -- tiny and subnormal nominal masses (KL and chi-square kernels) ------------------------------------
def _ball_and_value_ok(kind, p0, v, r):
    """The kernel's contract on any input: the minimiser is a distribution in the ball (divergence
    <= r (1 + 1e-9) + 1e-12, evaluated exactly for chi2 and with log differences for KL, whose round-off
    is below 1e-13 here) and its expected value is the returned value to 1e-12 max(1, |v|)."""
    from fractions import Fraction

    val = mdps.robust_inner(p0, v, r, kind=kind)
    p = mdps.robust_argmin(p0, v, r, kind=kind)
    assert np.isfinite(p).all() and p.min() >= 0.0 and abs(p.sum() - 1.0) <= 1e-12
    assert np.all(p[p0 == 0] == 0.0)
    s = p0 > 0
    if kind == "chi2":
        div = float(sum((Fraction(a) - Fraction(b)) ** 2 / Fraction(b) for a, b in zip(p[s], p0[s])))
    else:
        t = s & (p > 0)
        div = math.fsum(p[t] * (np.log(p[t]) - np.log(p0[t])))
    assert div <= r * (1 + 1e-9) + 1e-12, (div, r)
    assert abs(math.fsum(p * v) - val) <= 1e-12 * max(1.0, np.abs(v).max())
    return val, p


def test_chi2_tiny_nominal_mass_closed_form():
    # Hypothesis found it: the minimiser was 8e-6 outside the ball, its small entry 1e-4 (relative) off, because
    # the variance came from 1 - mu with mu = 1 - 1e-15 rounded at the scale of |v|. On the two-point support
    # {a, b} (a + b = 1) the minimiser moves delta = sqrt(r a b) onto the lower value: chi2 = delta^2 / (a b) = r.
    p0 = np.array([1e-15, 0.0, 1.0 - 1e-15])
    v = np.array([0.0, 0.0, 1.0])
    r = 0.01
    val, p = _ball_and_value_ok("chi2", p0, v, r)
    a, b = p0[0] / (p0[0] + p0[2]), p0[2] / (p0[0] + p0[2])
    delta = math.sqrt(r * a * b)
    assert abs((p[0] - p0[0]) / delta - 1.0) <= 1e-12
    assert abs(val - (b - delta)) <= 1e-15


def test_kl_tiny_nominal_mass_value_is_its_minimisers():
    # Hypothesis found value and <argmin, v> 1.4e-8 apart on such rows (the value was the dual objective at a
    # lambda whose KL was off the radius); the value is now the minimiser's own tilted mean
    _ball_and_value_ok("kl", np.array([1e-15, 0.0, 1.0 - 1e-15]), np.array([0.0, 0.0, 1.0]), 0.01)
    _ball_and_value_ok("kl", np.array([1e-15, 0.0, 1.0 - 1e-15]), np.array([1.0, 0.0, 0.0]), 0.01)


@pytest.mark.parametrize("kind, p0, v, r", [
    # subnormal nominal masses: p0 / max p0 and p0 e^{-d/lam} lost their digits (minimisers far outside the
    # ball, values 0.1 off their minimisers'), and the chi2 variance underflowed
    ("chi2", [1.515105443338649e-300, 1.515105443338649e-300, 1.0, 1e-323, 1.515105443338649e-300],
     [0.4652144364938673, 0.038980639827442966, 0.5031386008598768, -0.006798935140857277, 0.288436255780573], 1e-6),
    ("chi2", [1.5097192627901087e-300, 1.0, 1.5097192627901086e-200, 1.5097192627901087e-300],
     [-25.414953251565645, 22.53119869363516, -6.90506662481628, -5.762210220632286], 1e-12),
    ("chi2", [0.6337854740458996, 5e-324, 0.3662145259541004], [2.0, -2.0, 0.0], 30.0),
    ("chi2", [1.0, 0.0, 1.5e-323], [1.0, -2.0, -1.0], 30.0),
    ("kl", [1.0, 2e-323], [-0.03282688408495184, -0.06367758044327379], 1e-6),
    ("kl", [1.0, 5e-324], [-0.04944982166603513, -0.1434476379206598], 0.1),
    # Hypothesis found it: a subnormal spread of v made 1 / lam overflow (inf * 0 = NaN); the KL kernel now
    # rescales the spread to 1.
    ("kl", [0.0, 1.0, 5e-324], [-2.0, 2.22507386e-309, 0.0], 1e-20),
    ("kl", [0.5, 0.5], [0.0, 5e-324], 1e-3),
    ("chi2", [0.0, 1.0, 5e-324], [-2.0, 2.22507386e-309, 0.0], 1e-20),
    ("chi2", [0.5, 0.5], [0.0, 5e-324], 1e-3),
])
def test_subnormal_nominal_masses(kind, p0, v, r):
    _ball_and_value_ok(kind, np.array(p0), np.array(v), r)


@st.composite
def tiny_instances(draw):
    n = draw(st.integers(2, 6))
    w = np.array(draw(st.lists(st.sampled_from([0.0, 5e-324, 1e-320, 1e-300, 1e-200, 1e-15, 1e-12, 1e-8]) | st.floats(
        1e-3, 1.0), min_size=n, max_size=n)))
    if w.max() < 1e-3:
        w[draw(st.integers(0, n - 1))] = 1.0
    p0 = w / w.sum()
    v = np.array(draw(st.lists(st.sampled_from([-2.0, 0.0, 1.0]) | st.floats(-100, 100), min_size=n, max_size=n)))
    r = draw(st.sampled_from([1e-20, 1e-12, 1e-6, 1e-4, 0.01, 0.1, 0.3, 1.0, 3.0, 30.0, 1e3]))
    return p0, v, r


@pytest.mark.parametrize("kind", ["kl", "chi2"])
@settings(max_examples=300, deadline=None)
@given(inst=tiny_instances())
def test_tiny_nominal_masses_argmin_in_ball_with_the_value(kind, inst):
    p0, v, r = inst
    val, _ = _ball_and_value_ok(kind, p0, v, r)
    s = p0 > 0
    assert v[s].min() - 1e-12 * max(1.0, np.abs(v).max()) <= val <= p0 @ v + 1e-12 * max(1.0, np.abs(v).max())
