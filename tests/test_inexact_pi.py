"""Inexact policy iteration (``mdps.inexact_policy_iteration``) and the discounted default route
of ``mdps.solve``: certified bounds against an exact V*, equality with policy iteration (the old
default), the pick itself, and bad inputs.

The exact V* of a test is the value of the optimal policy (found by Howard policy iteration) by
an LU solve refined three times with residuals computed in extended precision (``np.longdouble``;
the check ``inexact_policy_iteration.certified_bound``'s ``exact_policy_value``), so its own error
is far below the 1e-10 the solvers certify, also at gamma = 0.999.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import mdps
from mdps import _kernels
from mdps.discounted import IPI_DIRECT_MAX_STATES
from proofs_checks.planning.inexact_policy_iteration import exact_policy_value as exact_value
#: The float64 floor of the certificate near gamma = 1 (module doc of mdps.discounted: the row-sum
#: defect eps_P ~ 3e-16 of the stored P times c^2 max|b - v|, ~1.7e-10..3.3e-10 at gamma = 0.999
#: with rewards in [0, 1]); a certificate may stop above tol only below this, and says so.
FLOOR_0999 = 1e-9

from mdps.solvers import AUTO_PI_MAX_STATES, AUTO_SPARSE_PI_MAX_STATES, AUTO_TOL, auto_method


def solve_quiet(fn, *args, **kwargs):
    """Run a solver with ConvergenceWarning (the float64 floor near gamma = 1) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mdps.ConvergenceWarning)
        return fn(*args, **kwargs)


def check_certificate(sol, tol):
    """Converged within tol, or (only at the float64 floor) unconverged, saying so, below it."""
    bound = sol.certificate["bound"]
    if sol.converged:
        assert bound <= tol
    else:
        assert tol < FLOOR_0999 and tol < bound <= FLOOR_0999
    return bound


def v_star(mdp):
    sigma = mdps.policy_iteration(mdp).policy
    return exact_value(mdp, sigma), sigma


def _masked_garnet(S, A, gamma, rng, sparse=False):
    base = mdps.garnet(S, A, min(S, 4), gamma=gamma, rng=rng)
    mask = np.random.default_rng(rng).random((S, A)) < 0.7
    mask[np.arange(S), np.random.default_rng(rng + 1).integers(A, size=S)] = True
    P = base.P.copy()
    R = base.R.copy()
    if sparse:
        return mdps.TabularMDP(sp.csr_array(P.reshape(S * A, S)), R, gamma=gamma, feasible=mask)
    return mdps.TabularMDP(P, R, gamma=gamma, feasible=mask)


# -- the certificate against the exact V* -------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("S, sparse", [(40, True), (IPI_DIRECT_MAX_STATES + 20, False), (60, False)])
def test_certified_bound_holds_against_exact_v_star(S, sparse, gamma):
    mdp = mdps.garnet(S, 3, 5, gamma=gamma, sparse=sparse, rng=S)
    V, sigma = v_star(mdp)
    sol = solve_quiet(mdps.inexact_policy_iteration, mdp)
    assert sol.method == "ipi"
    bound = check_certificate(sol, 1e-10)
    assert sol.converged or gamma == 0.999  # only the gamma = 0.999 instances meet the floor
    assert np.abs(sol.V - V).max() <= bound
    assert sol.certificate["policy_optimal"]
    np.testing.assert_array_equal(sol.policy, sigma)
    assert sol.settings["evaluation"] == ("lu" if (not sparse and S <= IPI_DIRECT_MAX_STATES) else "sweeps+gmres")


@settings(max_examples=25, deadline=None)
@given(S=st.integers(1, 30), A=st.integers(1, 4), gamma=st.floats(0.5, 0.999), sparse=st.booleans(),
       seed=st.integers(0, 10_000), tol=st.sampled_from([1e-6, 1e-8, 1e-10]))
def test_hypothesis_garnets_certificate_and_optimal_policy(S, A, gamma, sparse, seed, tol):
    mdp = mdps.garnet(S, A, min(S, 3), gamma=gamma, sparse=sparse, rng=seed)
    V, _ = v_star(mdp)
    sol = solve_quiet(mdps.inexact_policy_iteration, mdp, tol=tol)
    check_certificate(sol, tol)
    assert np.abs(sol.V - V).max() <= sol.certificate["bound"]
    # the greedy policy of a value within eps of V* loses at most 2 gamma eps / (1 - gamma)
    # (Singh & Yee 1994); with a certified action gap it is optimal outright
    loss = np.abs(exact_value(mdp, sol.policy) - V).max()
    if sol.certificate["policy_optimal"]:
        assert loss <= 1e-9 * max(1.0, np.abs(V).max())
    else:
        assert loss <= 2 * gamma * sol.certificate["bound"] / (1 - gamma) + 1e-9 * max(1.0, np.abs(V).max())


def test_traces_are_consistent():
    mdp = mdps.garnet(80, 3, 5, gamma=0.95, sparse=True, rng=3)
    V, _ = v_star(mdp)
    sol = mdps.inexact_policy_iteration(mdp, v_star=V)
    n = sol.n_iter
    assert sol.residuals.shape == sol.trace["bounds"].shape == sol.errors.shape == (n,)
    assert sol.trace["krylov_iterations"].shape == (n - 1,)
    # the k-th certified bound covers the k-th midpoint's true error (measured here, not trusted)
    assert np.all(sol.errors <= sol.trace["bounds"])
    assert sol.certificate["bound"] == sol.trace["bounds"].min()


def test_gamma_zero_and_one_state():
    mdp = mdps.garnet(5, 3, 2, gamma=0.0, rng=0)
    sol = mdps.inexact_policy_iteration(mdp)
    np.testing.assert_allclose(sol.V, mdp.R.max(axis=1), rtol=0, atol=1e-15)
    assert sol.n_iter == 1
    one = mdps.TabularMDP(np.ones((1, 1, 1)), np.array([[1.0]]), gamma=0.9)
    s1 = mdps.inexact_policy_iteration(one)
    assert abs(s1.V[0] - 10.0) <= s1.certificate["bound"] + 1e-14


def test_reward_shift_moves_v_by_k_over_one_minus_gamma():
    mdp = mdps.garnet(50, 3, 4, gamma=0.99, sparse=True, rng=7)
    shifted = mdps.TabularMDP(mdp.P_matrix(), mdp.R + 2.0, gamma=0.99)
    a, b = solve_quiet(mdps.inexact_policy_iteration, mdp), solve_quiet(mdps.inexact_policy_iteration, shifted)
    tol = a.certificate["bound"] + b.certificate["bound"]
    assert np.abs(b.V - a.V - 2.0 / (1 - 0.99)).max() <= tol + 1e-12
    np.testing.assert_array_equal(a.policy, b.policy)


@pytest.mark.parametrize("sparse", [False, True])
def test_infeasible_actions_are_never_chosen_and_values_match_pi(sparse):
    mdp = _masked_garnet(40, 4, 0.95, 11, sparse=sparse)
    pi = mdps.policy_iteration(mdp)
    sol = mdps.inexact_policy_iteration(mdp)
    assert mdp.feasible[np.arange(40), sol.policy].all()
    np.testing.assert_array_equal(sol.policy, pi.policy)
    assert np.abs(sol.V - pi.V).max() <= 1e-10


# -- kernels against NumPy references ------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True])
def test_centred_policy_matvec_matches_numpy(sparse):
    mdp = mdps.garnet(30, 3, 4, gamma=0.9, sparse=sparse, rng=2)
    rng = np.random.default_rng(0)
    sigma, x, out = rng.integers(3, size=30), rng.standard_normal(30), np.empty(30)
    P2 = mdp.P_matrix()
    Pd = P2.toarray() if sparse else P2
    ref = x - 0.9 * Pd[np.arange(30) * 3 + sigma] @ x
    ref -= ref.mean()
    if sparse:
        args = (P2.indptr, P2.indices, P2.data, np.empty((0, 0)))
    else:
        args = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), P2)
    _kernels.policy_residual_matvec(*args, sigma, 3, 0.9, x, out)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-13)


def test_gmres_solves_the_centred_policy_equation():
    mdp = mdps.garnet(50, 2, 5, gamma=0.99, sparse=True, rng=4)
    P2 = mdp.P_matrix()
    rng = np.random.default_rng(1)
    sigma = rng.integers(2, size=50)
    b = rng.standard_normal(50)
    b -= b.mean()
    x = np.zeros(50)
    its, res = _kernels.policy_gmres(P2.indptr, P2.indices, P2.data, np.empty((0, 0)), sigma, 2, 0.99, b, x,
                                     10, 500, 1e-12, 0.0, np.empty((11, 50)), np.empty(50))
    Pd = P2.toarray()[np.arange(50) * 2 + sigma]
    M = np.eye(50) - 0.99 * Pd
    z = M @ x
    assert res <= 1e-12 and np.linalg.norm(b - (z - z.mean())) <= 1e-11
    assert 0 < its <= 500


# -- the default route of mdps.solve --------------------------------------------------------------
def test_auto_picks_pi_small_and_ipi_large():
    small = mdps.garnet(AUTO_SPARSE_PI_MAX_STATES, 2, 3, gamma=0.9, sparse=True, rng=0)
    large = mdps.garnet(AUTO_SPARSE_PI_MAX_STATES + 1, 2, 3, gamma=0.9, sparse=True, rng=0)
    assert auto_method(mdps.garnet(AUTO_PI_MAX_STATES, 2, 3, gamma=0.9, rng=0))[0] == "pi"
    large_dense = mdps.garnet(AUTO_PI_MAX_STATES + 1, 2, 3, gamma=0.999, rng=0)
    assert auto_method(mdps.river_swim(6, gamma=0.9))[0] == "pi"
    assert auto_method(small)[0] == "pi"
    assert auto_method(large)[0] == "ipi" and auto_method(large_dense)[0] == "ipi"
    sol = mdps.solve(mdps.river_swim(6, gamma=0.9))
    assert sol.method == "pi" and sol.settings["auto"] and "exact policy iteration" in sol.settings["route"]
    sol = mdps.solve(large)  # gamma = 0.9: far from the float64 floor
    assert sol.method == "ipi" and sol.settings["tol"] == AUTO_TOL and sol.certificate["bound"] <= AUTO_TOL


@pytest.mark.parametrize("gamma", [0.9, 0.99, 0.999])
@pytest.mark.parametrize("kind", ["sparse", "dense", "masked"])
def test_default_equals_old_default_pi(kind, gamma):
    S = AUTO_PI_MAX_STATES + 50
    if kind == "masked":
        mdp = _masked_garnet(S, 2, gamma, 5, sparse=True)
    else:
        mdp = mdps.garnet(S, 2, 4, gamma=gamma, sparse=(kind == "sparse"), rng=9)
    new, old = solve_quiet(mdps.solve, mdp), mdps.solve(mdp, method="pi")
    assert new.method == "ipi" and old.method == "pi"
    np.testing.assert_array_equal(new.policy, old.policy)
    V = exact_value(mdp, old.policy)
    bound = check_certificate(new, 1e-10)
    assert np.abs(new.V - V).max() <= bound
    # the old default's LU has round-off of order cond * eps * ||V||; both agree to the bound plus it
    assert np.abs(new.V - old.V).max() <= bound + float(np.abs(old.V - V).max())


def test_default_keywords():
    small, large = mdps.river_swim(6, gamma=0.9), mdps.garnet(AUTO_PI_MAX_STATES + 1, 2, 3, gamma=0.9,
                                                              sparse=True, rng=1)
    assert mdps.solve(small, tol=1e-6).method == "pi"  # exact meets any tol
    assert mdps.solve(large, tol=1e-6).settings["tol"] == 1e-6
    with pytest.raises(ValueError, match="takes no keyword 'm'"):
        mdps.solve(large, m=3)
    with pytest.raises(ValueError, match="tol"):
        mdps.solve(small, tol=-1.0)
    assert mdps.solve(large, method="pi").method == "pi"  # every method stays selectable
    assert mdps.solve(small, method="ipi").method == "ipi"


# -- bad inputs --------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"tol": 0.0}, "tol"), ({"tol": -1e-3}, "tol"), ({"tol": float("nan")}, "tol"),
    ({"max_iter": 0}, "max_iter"), ({"v0": np.zeros(3)}, "v0"), ({"v_star": "nope"}, "v_star"),
])
def test_bad_inputs_name_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        mdps.inexact_policy_iteration(mdps.river_swim(5, gamma=0.9), **kwargs)


def test_refuses_other_criteria():
    with pytest.raises(ValueError):
        mdps.inexact_policy_iteration(mdps.river_swim(5, horizon=3))


# -- narrow sparse indices -----------------------------------------------------------------------
def test_sparse_indices_are_int32_and_sweeps_give_the_same_bits_as_int64():
    from mdps import _backup

    mdp = mdps.garnet(200, 3, 5, gamma=0.9, sparse=True, rng=8)
    P2 = mdp.P_matrix()
    assert P2.indices.dtype == np.int32 and P2.indptr.dtype == np.int32
    P64 = sp.csr_array((P2.data, P2.indices.astype(np.int64), P2.indptr.astype(np.int64)), shape=P2.shape)
    V = np.random.default_rng(0).standard_normal(200)
    a, sa = _backup.bellman_max(P2, mdp.R, V, 0.9)
    b, sb = _backup.bellman_max(P64, mdp.R, V, 0.9)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sa, sb)
    np.testing.assert_array_equal(_backup.apply_P(P2, V), P2 @ V)


def test_unreachable_tol_warns_and_reports_the_bound_it_proved():
    mdp = mdps.garnet(40, 3, 4, gamma=0.999, sparse=True, rng=2)
    with pytest.warns(mdps.ConvergenceWarning, match="certified bound"):
        sol = mdps.inexact_policy_iteration(mdp, tol=1e-18)  # below the float64 floor
    assert not sol.converged and sol.certificate["bound"] > 1e-18
    V, _ = v_star(mdp)
    assert np.abs(sol.V - V).max() <= sol.certificate["bound"]
    with pytest.warns(mdps.ConvergenceWarning, match="max_iter"):
        mdps.inexact_policy_iteration(mdp, max_iter=1)


# -- the evaluation: sweeps, GMRES, the direct fallback (issue 12) ------------------------------
def _policy_rows(mdp, sigma):
    P2 = mdp.P_matrix()
    rows = np.arange(mdp.n_states) * mdp.n_actions + sigma
    return (P2.toarray() if sp.issparse(P2) else P2)[rows]


@settings(max_examples=30, deadline=None)
@given(S=st.integers(1, 40), A=st.integers(1, 4), k=st.integers(1, 6), seed=st.integers(0, 10**6))
def test_csr_gather_rows_equals_scipy_row_selection(S, A, k, seed):
    mdp = mdps.garnet(S, A, min(k, S), gamma=0.9, sparse=True, rng=seed)
    P2 = mdp.P_matrix()
    sigma = np.random.default_rng(seed).integers(A, size=S)
    rows = np.arange(S, dtype=np.int64) * A + sigma
    nnz = int(np.diff(P2.indptr).max()) * S
    ip, ix, dt = np.empty(S + 1, P2.indptr.dtype), np.empty(nnz, P2.indices.dtype), np.empty(nnz)
    _kernels.csr_gather_rows(P2.indptr, P2.indices, P2.data, rows, ip, ix, dt)
    ref = sp.csr_array(P2)[rows]
    np.testing.assert_array_equal(ip, ref.indptr)
    np.testing.assert_array_equal(ix[: ip[-1]], ref.indices)
    np.testing.assert_array_equal(dt[: ip[-1]], ref.data)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 37), seed=st.integers(0, 10**6))
def test_dense_row_dot_is_a_dot_product_within_the_rounding_bound(n, seed):
    rng = np.random.default_rng(seed)
    P, x = rng.random((3, n)), rng.standard_normal(n)
    exact = np.dot(P[1].astype(np.longdouble), x.astype(np.longdouble))
    bound = (n + 2) * 2.0**-53 * float(np.abs(P[1]) @ np.abs(x))
    assert abs(float(_kernels.dense_row_dot(P, 1, x) - exact)) <= bound


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("gamma", [0.5, 0.99])
def test_richardson_sweeps_solve_the_policy_equation_and_report_the_residual_span(sparse, gamma):
    mdp = mdps.garnet(60, 3, 6, gamma=gamma, sparse=sparse, rng=7)
    rng = np.random.default_rng(3)
    sigma, r = rng.integers(3, size=60), rng.standard_normal(60)
    P2 = mdp.P_matrix()
    args = ((P2.indptr, P2.indices, P2.data, np.empty((0, 0))) if sparse
            else (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), P2))
    d, y = r.copy(), np.empty(60)
    n, span, ratio = _kernels.policy_richardson(*args, sigma, 3, gamma, r, d, 1e-12, 1.0, 10_000, y)
    M = np.eye(60) - gamma * _policy_rows(mdp, sigma)
    res = r - M @ d  # the residual of the returned d is gamma P_sigma times the last one reported
    assert span <= 1e-12 and np.ptp(res) <= gamma * span + 1e-14
    # the constant mode converges at rate gamma only, but the certificate needs the span alone
    exact = np.linalg.solve(M, r)
    assert np.ptp(d - exact) <= 1e-12 / (1 - gamma)
    assert 0 < n < 10_000 and 0.0 <= ratio <= 1.0


def test_richardson_stops_when_the_contraction_is_slow():
    mdp = mdps.chain(50, gamma=0.999).to_sparse()  # a deterministic chain mixes slowly
    P2 = mdp.P_matrix()
    sigma = np.zeros(50, dtype=np.int64)
    r = np.linspace(-1, 1, 50)
    d, y = r.copy(), np.empty(50)
    n, span, ratio = _kernels.policy_richardson(P2.indptr, P2.indices, P2.data, np.empty((0, 0)), sigma,
                                                mdp.n_actions, 0.999, r, d, 1e-12, 0.75, 100, y)
    assert span > 1e-12 and (ratio > 0.75 or n == 100)


@pytest.mark.parametrize("make", [lambda g: mdps.chain(120, gamma=g), lambda g: mdps.chain(120, gamma=g).to_sparse(),
                                  lambda g: mdps.river_swim(150, gamma=g).to_sparse()],
                         ids=["chain-dense", "chain-sparse", "riverswim-sparse"])
@pytest.mark.parametrize("gamma", [0.99, 0.999])
def test_slowly_mixing_chains_are_certified_and_match_policy_iteration(make, gamma, monkeypatch):
    # below IPI_DIRECT_MAX_STATES a dense instance would be solved by LU outright: lower the
    # threshold so that the iterative evaluation (sweeps, GMRES, direct fallback) runs
    import mdps.discounted as disc

    monkeypatch.setattr(disc, "IPI_DIRECT_MAX_STATES", 10)
    mdp = make(gamma)
    V, sigma = v_star(mdp)
    sol = solve_quiet(mdps.inexact_policy_iteration, mdp)
    bound = check_certificate(sol, 1e-10)
    assert float(np.abs(sol.V - V).max()) <= bound
    np.testing.assert_array_equal(sol.policy, sigma)
    used = sol.settings["evaluations"]
    assert sum(used.values()) == sol.n_iter - 1


def test_gmres_stall_falls_back_to_a_direct_solve(monkeypatch):
    import mdps.discounted as disc

    monkeypatch.setattr(disc, "IPI_DIRECT_MAX_STATES", 10)
    monkeypatch.setattr(disc, "IPI_KRYLOV_BUDGET", 2)  # GMRES gets two steps, then LU takes over
    mdp = mdps.chain(80, gamma=0.999).to_sparse()
    V, _ = v_star(mdp)
    sol = solve_quiet(mdps.inexact_policy_iteration, mdp)
    assert sol.settings["evaluations"]["lu"] >= 1
    assert float(np.abs(sol.V - V).max()) <= check_certificate(sol, 1e-10)
    monkeypatch.setattr(disc, "IPI_FALLBACK_SPARSE_MAX_STATES", 10)  # too large to factor: GMRES only
    sol2 = solve_quiet(mdps.inexact_policy_iteration, mdp)
    assert sol2.settings["evaluations"]["lu"] == 0
    assert float(np.abs(sol2.V - V).max()) <= check_certificate(sol2, 1e-10)


@pytest.mark.parametrize("sparse", [False, True])
def test_returned_q_is_q_of_the_returned_value(sparse):
    mdp = mdps.garnet(400, 4, 6, gamma=0.95, sparse=sparse, rng=11)
    sol = mdps.inexact_policy_iteration(mdp)
    Q = mdps.q_values(mdp, sol.V)
    np.testing.assert_allclose(sol.Q, Q, rtol=0, atol=1e-12 * float(np.abs(Q).max()))
    np.testing.assert_array_equal(sol.policy, Q.argmax(axis=1))


def test_gamma_small_returns_the_macqueen_midpoint_after_one_backup():
    # v + shift is certified only to sp / (2 (1 - gamma)); the midpoint to gamma times that
    mdp = mdps.garnet(400, 3, 4, gamma=0.0, rng=5)
    sol = mdps.inexact_policy_iteration(mdp)
    assert sol.n_iter == 1 and sol.converged
    np.testing.assert_allclose(sol.V, mdp.R.max(axis=1), rtol=0, atol=1e-15)


def test_row_sum_defect_is_measured_once_and_survives_pickling():
    import pickle

    for mdp in (mdps.garnet(30, 3, 30, gamma=0.9, rng=1), mdps.garnet(30, 3, 4, gamma=0.9, sparse=True, rng=1)):
        P2 = mdp.P_matrix()
        exact = float(np.abs(P2.astype(np.longdouble).sum(axis=1) - 1).max()) if not mdp.is_sparse else None
        d = mdp.row_sum_defect()
        assert 0.0 <= d < 1e-14 and mdp.row_sum_defect() is d  # cached: the same object back
        if exact is not None:
            assert abs(d - exact) <= 1e-18
        assert pickle.loads(pickle.dumps(mdp)).row_sum_defect() == d
    with pytest.raises(ValueError, match="stationary"):
        mdps.TabularMDP(np.full((2, 1, 1, 1), 1.0), np.zeros((2, 1, 1)), horizon=2).row_sum_defect()
