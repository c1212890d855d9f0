"""Finite-horizon robust DP with radii that vary by stage: shapes (H, S, A) ((s,a)-rectangular) and (H, S)
(s-rectangular); equal stage radii reproduce the common radius bit for bit; the robust value is non-increasing
in each stage's radius; bad shapes and entries raise errors naming the radius."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps

CASES = [(k, "sa") for k in ("l1", "tv", "linf", "kl", "chi2")] + [(k, "s") for k in ("l1", "linf", "kl", "chi2")]


def _model(seed, S=4, A=3, H=4):
    return mdps.random_finite_horizon(S, A, H, rng=seed)


def _shape(mdp, rect):
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    return (H, S, A) if rect == "sa" else (H, S)


@pytest.mark.parametrize("kind,rect", CASES)
@pytest.mark.parametrize("r", [0.0, 0.07, 0.6])
def test_equal_stage_radii_match_the_common_radius_bit_for_bit(kind, rect, r):
    mdp = _model(1)
    common = mdps.robust_backward_induction(mdps.RobustMDP(mdp, kind=kind, radius=r, rectangularity=rect))
    staged = mdps.robust_backward_induction(
        mdps.RobustMDP(mdp, kind=kind, radius=np.full(_shape(mdp, rect), r), rectangularity=rect))
    for name in ("V", "Q", "policy", "P_worst"):
        assert np.array_equal(np.asarray(getattr(common, name)), np.asarray(getattr(staged, name))), name


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), case=st.sampled_from(CASES), h=st.integers(0, 3),
       base=st.sampled_from([0.0, 0.05, 0.2]), bump=st.sampled_from([0.01, 0.1, 0.5]))
def test_value_non_increasing_in_each_stage_radius(seed, case, h, base, bump):
    kind, rect = case
    mdp = _model(seed)
    shape = _shape(mdp, rect)
    rng = np.random.default_rng(seed)
    rad = base * rng.uniform(0.5, 1.5, size=shape)
    lo = mdps.robust_backward_induction(mdps.RobustMDP(mdp, kind=kind, radius=rad, rectangularity=rect))
    bigger = rad.copy()
    bigger[h] += bump  # only stage h's balls grow
    hi = mdps.robust_backward_induction(mdps.RobustMDP(mdp, kind=kind, radius=bigger, rectangularity=rect))
    V_lo, V_hi = np.asarray(lo.V), np.asarray(hi.V)
    assert (V_hi <= V_lo + 1e-12).all()
    # later stages do not see the change
    assert np.array_equal(V_hi[h + 1:], V_lo[h + 1:])


def test_stage_radius_is_used_at_its_stage():
    # radius zero at every stage but h: stages after h are nominal, stage h is robust
    mdp = _model(3)
    nominal = np.asarray(mdps.solve(mdp).V)
    rad = np.zeros((4, 4, 3))
    rad[2] = 0.3
    sol = mdps.robust_backward_induction(mdps.RobustMDP(mdp, kind="l1", radius=rad))
    V = np.asarray(sol.V)
    assert np.array_equal(V[3], nominal[3])
    assert (V[2] <= nominal[2] + 1e-12).all() and (V[2] < nominal[2] - 1e-6).any()


def test_bad_stage_radius():
    mdp = _model(0)
    with pytest.raises(ValueError, match=r"radius must be .*\(H, S, A\) = \(4, 4, 3\)"):
        mdps.RobustMDP(mdp, kind="l1", radius=np.ones((5, 4, 3)))
    with pytest.raises(ValueError, match=r"radius must be .*\(H, S\) = \(4, 4\)"):
        mdps.RobustMDP(mdp, kind="kl", radius=np.ones((3, 4)), rectangularity="s")
    bad = np.ones((4, 4, 3))
    bad[2, 1, 0] = -0.5
    with pytest.raises(ValueError, match=r"radius\[2, 1, 0\] = -0.5 is negative"):
        mdps.RobustMDP(mdp, kind="chi2", radius=bad)
    bad = np.ones((4, 4))
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"radius\[1, 3\] is nan"):
        mdps.RobustMDP(mdp, kind="linf", radius=bad, rectangularity="s")
    # a discounted model has no stages: a stage array is refused
    disc = mdps.garnet(4, 3, 2, gamma=0.9, rng=0)
    with pytest.raises(ValueError, match=r"radius must be a scalar or have shape \(S, A\) = \(4, 3\) for"):
        mdps.RobustMDP(disc, kind="l1", radius=np.ones((4, 4, 3)))
    with pytest.raises(ValueError, match=r"radius must be a scalar or have shape \(S,\) = \(4,\) for"):
        mdps.RobustMDP(disc, kind="l1", radius=np.ones((4, 4)), rectangularity="s")
