"""Value iteration is the ``m = 1`` preset of modified policy iteration: a pin against the old code.

Before value iteration and modified PI were merged into one loop (issue 7, "composition, not
copies"), this module froze a copy of both old loops (``_old_value_iteration`` and
``_old_modified_policy_iteration`` below, verbatim apart from returning a dict and allocating
their traces as before). The public solvers must reproduce them *bit for bit* -- values,
greedy policies, residual and error traces, iteration counts, convergence flags and the
default iteration cap -- on dense and sparse instances, both stopping rules, with and without
a reference value, and when the cap is hit. The checks read these numbers from the solvers'
traces (``labkit`` fits rates on them), so any drift would silently move a verdict.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

import mdps
from mdps import _backup, _kernels

_VI_SLACK = 10


# -- frozen copy of the pre-refactoring code (mdps/discounted.py at c445955) ------------------------
def _old_default_max_iter(mdp, v0, tol):
    g = mdp.gamma
    if g == 0.0:
        return 1 + _VI_SLACK
    D0 = float(np.abs(v0).max()) + float(np.abs(mdp.R).max()) / (1.0 - g)
    target = 2.0 * g * D0 / ((1.0 - g) * tol)
    k = math.ceil(math.log(target) / math.log(1.0 / g)) if target > 1.0 else 0
    return max(k, 1) + _VI_SLACK


def _old_value_iteration(mdp, *, tol=1e-8, max_iter=None, v0=None, v_star=None, stopping="sup"):
    S = mdp.n_states
    v0 = np.zeros(S) if v0 is None else np.asarray(v0, dtype=np.float64)
    ref = None if v_star is None else np.asarray(v_star, dtype=np.float64)
    if max_iter is None:
        max_iter = _old_default_max_iter(mdp, v0, tol)
    gamma = mdp.gamma
    coef = gamma / (1.0 - gamma)
    P2, R = mdp.P_matrix(), mdp.R
    cur, nxt = v0.copy(), np.empty(S)
    sigma = np.empty(S, dtype=np.int64)
    work = None if sp.issparse(P2) else np.empty(P2.shape[0])
    residuals = np.empty(max_iter)
    errors = np.empty(max_iter + 1) if ref is not None else None
    if ref is not None:
        errors[0] = _kernels.sup_diff(cur, ref)
    converged, n = False, 0
    span_rule = stopping == "span"
    shift = 0.0
    for k in range(max_iter):
        _backup.bellman_max(P2, R, cur, gamma, nxt, sigma, work)
        if span_rule:
            lo, hi = _kernels.diff_range(nxt, cur)
            res, shift = hi - lo, coef * 0.5 * (lo + hi)
            done = coef * 0.5 * res <= tol
        else:
            res = _kernels.sup_diff(nxt, cur)
            done = coef * res <= tol
        residuals[k] = res
        if errors is not None:
            errors[k + 1] = _kernels.sup_diff(nxt, ref)
        cur, nxt = nxt, cur
        n = k + 1
        if done:
            converged = True
            if span_rule:
                cur = cur + shift
            break
    Q = _backup.q_values(P2, R, cur, gamma)
    return {"V": cur, "Q": Q, "policy": Q.argmax(axis=1), "n_iter": n, "converged": converged,
            "residuals": residuals[:n].copy(),
            "errors": errors[: n + 1].copy() if errors is not None else np.empty(0),
            "max_iter": max_iter}


def _old_modified_policy_iteration(mdp, *, m=10, tol=1e-8, max_iter=None, v0=None, v_star=None,
                                   stopping="sup"):
    S, gamma = mdp.n_states, mdp.gamma
    v0 = np.full(S, float(mdp.R.min()) / (1.0 - gamma)) if v0 is None else np.asarray(v0, dtype=np.float64)
    ref = None if v_star is None else np.asarray(v_star, dtype=np.float64)
    if max_iter is None:
        max_iter = _old_default_max_iter(mdp, v0, tol)
    coef = gamma / (1.0 - gamma)
    P2, R = mdp.P_matrix(), mdp.R
    a, b = v0.copy(), np.empty(S)
    sigma = np.empty(S, dtype=np.int64)
    work = None if sp.issparse(P2) else np.empty(P2.shape[0])
    residuals = np.empty(max_iter)
    errors = np.empty(max_iter + 1) if ref is not None else None
    if ref is not None:
        errors[0] = _kernels.sup_diff(a, ref)
    converged, n = False, 0
    span_rule = stopping == "span"
    shift = 0.0
    dense = work is not None
    if dense and m > 1:
        row0 = np.arange(S, dtype=np.int64) * mdp.n_actions
        rows, r_sigma = np.empty(S, dtype=np.int64), np.empty(S)
        R_flat = R.reshape(-1)
    for k in range(max_iter):
        _backup.bellman_max(P2, R, a, gamma, b, sigma, work)
        if span_rule:
            lo, hi = _kernels.diff_range(b, a)
            res, shift = hi - lo, coef * 0.5 * (lo + hi)
            converged = coef * 0.5 * res <= tol
        else:
            res = _kernels.sup_diff(b, a)
            converged = coef * res <= tol
        residuals[k] = res
        n = k + 1
        if not converged and dense and m > 1:
            np.add(row0, sigma, out=rows)
            P_sigma = P2[rows]
            np.take(R_flat, rows, out=r_sigma)
            for _ in range(m - 1):
                np.dot(P_sigma, b, out=a)
                a *= gamma
                a += r_sigma
                a, b = b, a
        elif not converged:
            for _ in range(m - 1):
                _backup.policy_backup(P2, R, b, sigma, gamma, a)
                a, b = b, a
        a, b = b, a
        if errors is not None:
            errors[k + 1] = _kernels.sup_diff(a, ref)
        if converged:
            if span_rule:
                a = a + shift
            break
    Q = _backup.q_values(P2, R, a, gamma)
    return {"V": a, "Q": Q, "policy": Q.argmax(axis=1), "n_iter": n, "converged": converged,
            "residuals": residuals[:n].copy(),
            "errors": errors[: n + 1].copy() if errors is not None else np.empty(0),
            "max_iter": max_iter}


# -- instances --------------------------------------------------------------------------------------
def _instances():
    yield "tight_0.9", mdps.tight_vi_instance(0.9)
    yield "tight_0", mdps.tight_vi_instance(0.0)
    yield "river_swim_0.95", mdps.river_swim(6, gamma=0.95)
    for seed, (S, A, b, g) in enumerate([(7, 3, 2, 0.5), (12, 4, 3, 0.9), (20, 2, 5, 0.99)]):
        m = mdps.garnet(S, A, b, gamma=g, rng=seed)
        yield f"garnet{seed}_dense", m
        yield f"garnet{seed}_sparse", m.to_sparse()
    rng = np.random.default_rng(5)
    P = rng.dirichlet(np.ones(4), size=(4, 3))
    yield "negative_rewards", mdps.TabularMDP(P, rng.normal(size=(4, 3)) * 10, gamma=0.8)


INSTANCES = dict(_instances())
CONFIGS = [
    {},
    {"tol": 1e-12},
    {"stopping": "span", "tol": 1e-10},
    {"max_iter": 3},
    {"tol": 1e-9, "v0": "random"},
    {"tol": 1e-9, "v_star": "pi"},
    {"tol": 1e-6, "stopping": "span", "v_star": "pi", "v0": "random"},
]


def _resolve(mdp, config):
    kw = dict(config)
    if kw.get("v0") == "random":
        kw["v0"] = np.random.default_rng(1).normal(size=mdp.n_states) * 3
    if kw.get("v_star") == "pi":
        kw["v_star"] = mdps.policy_iteration(mdp).V
    return kw


def _assert_same(sol, old):
    np.testing.assert_array_equal(sol.V, old["V"])
    np.testing.assert_array_equal(sol.Q, old["Q"])
    np.testing.assert_array_equal(sol.policy, old["policy"])
    np.testing.assert_array_equal(sol.residuals, old["residuals"])
    np.testing.assert_array_equal(sol.errors, old["errors"])
    assert sol.n_iter == old["n_iter"] and sol.converged == old["converged"]
    assert sol.settings["max_iter"] == old["max_iter"]


@pytest.mark.parametrize("ci", range(len(CONFIGS)), ids=[str(c) for c in CONFIGS])
@pytest.mark.parametrize("name", INSTANCES)
def test_value_iteration_is_bitwise_the_old_loop(name, ci):
    mdp = INSTANCES[name]
    kw = _resolve(mdp, CONFIGS[ci])
    sol = mdps.value_iteration(mdp, **kw)
    assert sol.method == "vi" and "m" not in sol.settings
    _assert_same(sol, _old_value_iteration(mdp, **kw))


@pytest.mark.parametrize("m", [1, 2, 7, 40])
@pytest.mark.parametrize("ci", range(len(CONFIGS)), ids=[str(c) for c in CONFIGS])
@pytest.mark.parametrize("name", INSTANCES)
def test_modified_policy_iteration_is_bitwise_the_old_loop(name, ci, m):
    mdp = INSTANCES[name]
    kw = _resolve(mdp, CONFIGS[ci])
    sol = mdps.modified_policy_iteration(mdp, m=m, **kw)
    assert sol.method == "mpi" and sol.settings["m"] == m
    _assert_same(sol, _old_modified_policy_iteration(mdp, m=m, **kw))


@pytest.mark.parametrize("name", INSTANCES)
def test_vi_equals_mpi_with_m_one_from_the_same_start(name):
    """The preset relation itself: VI from v0 is MPI(m=1) from v0, bit for bit."""
    mdp = INSTANCES[name]
    v0 = np.random.default_rng(2).normal(size=mdp.n_states)
    vi = mdps.value_iteration(mdp, tol=1e-9, v0=v0)
    mpi = mdps.modified_policy_iteration(mdp, m=1, tol=1e-9, v0=v0)
    for field in ("V", "Q", "policy", "residuals"):
        np.testing.assert_array_equal(getattr(vi, field), getattr(mpi, field))
    assert vi.n_iter == mpi.n_iter


@pytest.mark.parametrize("name", ["garnet0_sparse", "garnet1_sparse"])
@pytest.mark.parametrize("m", [1, 7])
def test_parallel_and_serial_sparse_paths_give_the_same_bits(name, m, monkeypatch):
    """Large sparse instances use the parallel kernels and one kernel call per evaluation
    sweep; small ones the serial twins and one fused call. Forcing the large-instance path on
    a small instance must not change a bit."""
    mdp = INSTANCES[name]
    v_star = mdps.policy_iteration(mdp).V
    small = mdps.modified_policy_iteration(mdp, m=m, tol=1e-6, v_star=v_star)
    monkeypatch.setattr(_backup, "PARALLEL_MIN_NNZ", 0)  # each parallel launch costs ~1 ms
    large = mdps.modified_policy_iteration(mdp, m=m, tol=1e-6, v_star=v_star)
    for field in ("V", "Q", "policy", "residuals", "errors"):
        np.testing.assert_array_equal(getattr(large, field), getattr(small, field))


@pytest.mark.parametrize("name", ["garnet1_dense", "garnet1_sparse", "river_swim_0.95"])
@pytest.mark.parametrize("m, stopping", [(1, "sup"), (4, "sup"), (4, "span")])
def test_kept_iterates_reproduce_the_traces_and_change_nothing(name, m, stopping):
    """``keep_iterates`` returns v_0 .. v_n; the errors and residuals the solver reports are
    recomputed from them, and keeping them does not change a bit of the solution."""
    mdp = INSTANCES[name]
    v_star = mdps.policy_iteration(mdp).V
    plain = mdps.modified_policy_iteration(mdp, m=m, tol=1e-9, v_star=v_star, stopping=stopping)
    kept = mdps.modified_policy_iteration(mdp, m=m, tol=1e-9, v_star=v_star, stopping=stopping,
                                          keep_iterates=True)
    for field in ("V", "Q", "policy", "residuals", "errors"):
        np.testing.assert_array_equal(getattr(kept, field), getattr(plain, field))
    it = kept.trace["iterates"]
    assert it.shape == (kept.n_iter + 1, mdp.n_states) and "iterates" not in plain.trace
    np.testing.assert_array_equal(np.abs(it - v_star).max(axis=1), kept.errors)
    T_it = np.array([mdps.bellman_operator(mdp, v) for v in it[:-1]])
    res = (T_it - it[:-1]).max(axis=1) - (T_it - it[:-1]).min(axis=1) if stopping == "span" else \
        np.abs(T_it - it[:-1]).max(axis=1)
    np.testing.assert_allclose(res, kept.residuals, rtol=1e-12, atol=1e-12)
    if m == 1:  # MPI(1) is VI, whose iterates are V_{k+1} = T V_k, bit for bit
        np.testing.assert_array_equal(it[1:], T_it)
        vi = mdps.value_iteration(mdp, tol=1e-9, v0=it[0], stopping=stopping, keep_iterates=True)
        np.testing.assert_array_equal(vi.trace["iterates"], it)
    with pytest.raises(TypeError, match="keep_iterates must be a bool"):
        mdps.value_iteration(mdp, keep_iterates="yes")
