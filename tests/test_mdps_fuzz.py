"""Fuzz of every public ``mdps`` constructor and solver with hostile and edge inputs (issue 6).

Each example calls one public function with arguments a careless or hostile caller would pass
(wrong shapes; NaN, inf, complex, string, masked and object arrays; malformed CSR structures;
extreme ``gamma``, ``tol``, ``max_iter``, rewards, ``atol`` and ``rng``). The outcome must be
one of two things:

* a ``ValueError`` or ``TypeError`` whose message names an argument of the call (so never a
  raw NumPy / SciPy / Python message, which names none of them), or
* an answer in which every number is finite (no silent NaN or inf).

Anything else -- another exception, a crash, a hang (``pytest-timeout`` stops each test) --
fails. Sizes stay small and iteration caps bounded: value iteration at ``gamma = 1 - 1e-9``
legitimately needs ~1e10 sweeps (the bound is documented; ``method="pi"`` is the tool), so the
fuzz hands iterative solvers at extreme discounts a bounded ``max_iter`` (memory then follows
the sweeps done; the regression tests of hostile review D4 cover the huge caps). The
preference games (``mdps.preference``) are fuzzed with their own module.
"""

from __future__ import annotations

import math
import os
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mdps
import mdps.catalogue as cat
from mdps.average_reward import GainBias
from mdps.simulate import Trajectories
from tests.strategies import (
    EXTREME_FLOATS,
    finite,
    hostile_array,
    hostile_scalar,
    malformed_csr,
    stochastic_kernel,
)

#: Examples per test in the default run; a long campaign: ``MDPS_FUZZ_EXAMPLES=5000 pytest ...``.
FUZZ = settings(max_examples=int(os.environ.get("MDPS_FUZZ_EXAMPLES", "120")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])
pytestmark = pytest.mark.timeout(120)

MDP_PARTS = ("mdp", "P", "R", "gamma", "horizon", "rho")


# -- the property ---------------------------------------------------------------------------------
def _assert_finite(obj, where="result"):
    if isinstance(obj, (bool, np.bool_, int, np.integer, str)) or obj is None:
        return
    if isinstance(obj, (float, np.floating)):
        assert math.isfinite(obj), f"{where} is {obj}"
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc":
            assert np.all(np.isfinite(obj)), f"{where} has non-finite entries: {obj}"
    elif sp.issparse(obj):
        _assert_finite(obj.data, where)
    elif isinstance(obj, mdps.Solution):
        for f in ("V", "errors", "residuals", "gain", "bias"):
            _assert_finite(getattr(obj, f), f"{where}.{f}")
        if obj.Q is not None:  # Q is -inf exactly at infeasible pairs (QuantEcon's convention): no NaN, no +inf
            Q = np.asarray(obj.Q)
            assert not np.isnan(Q).any() and not np.isposinf(Q).any(), f"{where}.Q has NaN or +inf entries: {Q}"
            assert np.isfinite(Q).any(axis=-1).all(), f"{where}.Q has a state with no finite action value: {Q}"
        for k, v in obj.trace.items():
            _assert_finite(v, f"{where}.trace[{k!r}]")
    elif isinstance(obj, GainBias):
        for f in ("gain", "bias", "stationary"):
            _assert_finite(getattr(obj, f), f"{where}.{f}")
    elif isinstance(obj, Trajectories):
        _assert_finite(obj.rewards, f"{where}.rewards")
    elif isinstance(obj, mdps.TabularMDP):
        _assert_finite(obj.P, f"{where}.P")
        _assert_finite(obj.R, f"{where}.R")
        _assert_finite(obj.rho, f"{where}.rho")
    elif isinstance(obj, (list, tuple)):
        for i, x in enumerate(obj):
            _assert_finite(x, f"{where}[{i}]")
    elif isinstance(obj, dict):
        for k, x in obj.items():
            _assert_finite(x, f"{where}[{k!r}]")
    else:
        raise AssertionError(f"unexpected result type {type(obj).__name__}")


def _names_an_argument(message: str, names) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message) for n in names)


def check(call, names):
    """Run ``call``: a clear error naming one of ``names``, or a finite answer (returned)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning, LinAlgWarning: the result is checked
            out = call()
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert message and _names_an_argument(message, names), (
            f"{type(exc).__name__} does not name any of {sorted(set(names))}: {message!r}")
        return None
    _assert_finite(out)
    return out


# -- strategies -----------------------------------------------------------------------------------
@st.composite
def small_kernel(draw, max_states=4, max_actions=3):
    S = draw(st.integers(1, max_states))
    A = draw(st.integers(1, max_actions))
    return draw(stochastic_kernel(S, A)), draw(hnp.arrays(np.float64, (S, A), elements=st.floats(0, 1, **finite)))


@st.composite
def hostile_P(draw, P0):
    S, A, _ = P0.shape
    kind = draw(st.sampled_from(["dense", "dense", "csr", "malformed", "other_format", "complex_sparse"]))
    if kind == "dense":
        return draw(hostile_array(P0.shape, good=P0))
    if kind == "csr":
        return sp.csr_array(P0.reshape(S * A, S))
    if kind == "malformed":
        return draw(malformed_csr(P0.reshape(S * A, S)))
    if kind == "other_format":
        return sp.csr_array(P0.reshape(S * A, S)).asformat(draw(st.sampled_from(["coo", "csc", "lil", "dia"])))
    return sp.csr_array(P0.reshape(S * A, S).astype(complex))


def gamma_values():
    return st.one_of(st.floats(0.0, 0.99, **finite), st.sampled_from([0.0, 5e-324, 0.5, 1 - 1e-9, 1 - 1e-16]))


@st.composite
def discounted_instance(draw):
    """A valid discounted MDP, sometimes with huge rewards or an extreme discount."""
    P, R = draw(small_kernel())
    scale = draw(st.sampled_from([1.0, 1.0, 1.0, -1.0, 1e20, 1e300, 1.7e308]))
    mdp = mdps.TabularMDP(P, R * scale, gamma=draw(gamma_values()))
    return mdp.to_sparse() if draw(st.booleans()) else mdp


def bounded_iterations():
    """``max_iter`` as hostile callers pass it, but never an astronomically large valid cap."""
    return st.one_of(st.integers(1, 300), st.sampled_from([0, -1, 2.5, True, "3", np.int64(40), float("nan")]))


@st.composite
def policy_argument(draw, S, A, H=None):
    """A policy argument: a valid deterministic or stochastic one, or a spoiled one."""
    kind = draw(st.sampled_from(["det", "sto", "stage_det", "stage_sto", "hostile", "int_range", "bool",
                                 "float_actions", "int_probabilities"]))
    if kind == "det":
        return np.array(draw(st.lists(st.integers(0, A - 1), min_size=S, max_size=S)), dtype=np.int64)
    if kind == "sto":
        return np.full((S, A), 1.0 / A)
    if kind == "stage_det":
        return np.zeros((H or 2, S), dtype=np.int64)
    if kind == "stage_sto":
        return np.full((H or 2, S, A), 1.0 / A)
    if kind == "int_range":
        sigma = np.zeros(S, dtype=np.int64)
        sigma[draw(st.integers(0, S - 1))] = draw(st.sampled_from([-1, A, 2**40]))
        return sigma
    if kind == "bool":
        return np.ones(S, dtype=bool)
    if kind == "float_actions":
        return np.zeros(S)
    if kind == "int_probabilities":
        return np.ones((S, A), dtype=np.int64)
    return draw(hostile_array((S, A), good=np.full((S, A), 1.0 / A)))


# -- the container ------------------------------------------------------------------------------
@FUZZ
@given(st.data())
def test_tabular_mdp_constructor(data):
    P0, R0 = data.draw(small_kernel())
    S, A = R0.shape
    P = data.draw(hostile_P(P0))
    R = data.draw(hostile_array((S, A), good=R0))
    gamma = data.draw(st.one_of(st.none(), hostile_scalar(typical=st.floats(0, 0.99, **finite))))
    horizon = data.draw(st.one_of(st.none(), hostile_scalar(typical=st.integers(1, 4))))
    rho = data.draw(st.one_of(st.none(), hostile_array((S,), good=np.full(S, 1.0 / S))))
    atol = data.draw(st.one_of(st.just(1e-9), hostile_scalar(typical=st.sampled_from([0.0, 1e-12, 1e-6]))))
    mdp = check(lambda: mdps.TabularMDP(P, R, gamma=gamma, horizon=horizon, rho=rho, atol=atol),
                MDP_PARTS + ("atol",))
    if mdp is not None:
        Pm = mdp.P.toarray() if mdp.is_sparse else np.asarray(mdp.P)
        assert np.all(Pm >= 0) and np.all(np.abs(Pm.sum(-1) - 1) <= 1e-3)
        assert abs(mdp.rho.sum() - 1) <= 1e-3 and np.all(mdp.rho >= 0)


# -- discounted planning --------------------------------------------------------------------------
DISCOUNTED_NAMES = MDP_PARTS + ("tol", "max_iter", "v0", "v_star", "stopping", "m", "solver", "pi0", "pi", "keep_iterates",
                                "V", "method", "values", "iterates", "sweep", "Q")


@FUZZ
@given(discounted_instance(), st.data())
def test_discounted_solvers(mdp, data):
    S, A = mdp.n_states, mdp.n_actions
    extreme = mdp.gamma > 0.999
    which = data.draw(st.sampled_from(["vi", "mpi", "pi", "lp", "solve", "evaluate_policy", "q_values",
                                       "bellman_operator", "greedy_policy"]))
    tol = data.draw(st.one_of(st.just(1e-8), hostile_scalar(typical=st.sampled_from([1e-2, 1e-6, 1e-10]))))
    max_iter = data.draw(bounded_iterations() if extreme else st.one_of(st.none(), bounded_iterations()))
    v0 = data.draw(st.one_of(st.none(), hostile_array((S,), good=np.zeros(S))))
    v_star = data.draw(st.one_of(st.none(), st.just("exact"), st.just("optimal"), hostile_array((S,), good=np.zeros(S))))
    stopping = data.draw(st.sampled_from(["sup", "sup", "span", "", None, 3]))
    m = data.draw(st.one_of(st.integers(1, 8), st.sampled_from([0, -2, 1.5, True, "5"] + ([10**6] if mdp.is_sparse else []))))
    keep = data.draw(st.sampled_from([False, True, "yes", None]))
    if which == "vi":
        call = lambda: mdps.value_iteration(mdp, tol=tol, max_iter=max_iter, v0=v0, v_star=v_star,  # noqa: E731
                                            stopping=stopping, keep_iterates=keep)
    elif which == "mpi":
        call = lambda: mdps.modified_policy_iteration(mdp, m=m, tol=tol, max_iter=max_iter, v0=v0,  # noqa: E731
                                                      v_star=v_star, stopping=stopping, keep_iterates=keep)
    elif which == "pi":
        pi0 = data.draw(st.one_of(st.none(), policy_argument(S, A)))
        call = lambda: mdps.policy_iteration(mdp, max_iter=max_iter, pi0=pi0)  # noqa: E731
    elif which == "lp":
        solver = data.draw(st.sampled_from(["highs", "highs-ds", "highs-ipm", "glpk", None, 1]))
        call = lambda: mdps.linear_programming(mdp, solver=solver)  # noqa: E731
    elif which == "solve":
        method = data.draw(st.sampled_from(["vi", "pi", "mpi", "lp", None, "bi", 0]))
        kwargs = data.draw(st.sampled_from([{}, {"tol": tol}, {"max_iter": 50}, {"m": 3}, {"horizon": 3}]))
        if method in ("vi", "mpi") and extreme:
            kwargs = {**kwargs, "max_iter": 50}
        call = lambda: mdps.solve(mdp, method=method, **kwargs)  # noqa: E731
    elif which == "evaluate_policy":
        pi = data.draw(policy_argument(S, A))
        call = lambda: mdps.evaluate_policy(mdp, pi)  # noqa: E731
    else:
        V = data.draw(hostile_array((S,), good=np.zeros(S)))
        if which == "bellman_operator":
            pi = data.draw(st.one_of(st.none(), policy_argument(S, A)))
            call = lambda: mdps.bellman_operator(mdp, V, pi)  # noqa: E731
        else:
            f = getattr(mdps, which)
            call = lambda: f(mdp, V)  # noqa: E731
    check(call, DISCOUNTED_NAMES)


# -- policies under every criterion ---------------------------------------------------------------
@FUZZ
@given(small_kernel(), st.sampled_from(["discounted", "finite_horizon", "average"]), st.data())
def test_policy_evaluation_and_occupancy(kernel, criterion, data):
    P, R = kernel
    S, A = R.shape
    kw = {"discounted": {"gamma": 0.9}, "finite_horizon": {"horizon": 3}, "average": {}}[criterion]
    mdp = mdps.TabularMDP((0.9 * P + 0.1 / S), R, **kw)  # full support: every policy unichain
    pi = data.draw(policy_argument(S, A, H=3))
    which = data.draw(st.sampled_from(["evaluate", "occupancy_measure", "gain_bias", "evaluate_finite_horizon",
                                       "rollout"]))
    if which == "rollout":
        n = data.draw(st.one_of(st.integers(0, 20), st.sampled_from([-1, 2.5, "3", True, 10**30])))
        horizon = None if criterion == "finite_horizon" else data.draw(
            st.one_of(st.integers(1, 4), st.sampled_from([0, -1, 2.5, None])))
        rng = data.draw(st.one_of(st.integers(0, 2**32), hostile_scalar()))
        call = lambda: mdps.rollout(mdp, pi, n, horizon=horizon, rng=rng)  # noqa: E731
        names = ("policy", "n_episodes", "horizon", "rng", "mdp")
    else:
        f = getattr(mdps, which)
        call = lambda: f(mdp, pi)  # noqa: E731
        names = ("pi", "mdp", "criterion")
    check(call, names)


# -- average reward and finite horizon ------------------------------------------------------------
@st.composite
def average_instance(draw):
    kind = draw(st.sampled_from(["unichain", "garnet", "catalogue", "scaled"]))
    if kind == "catalogue":
        return draw(st.sampled_from([e.build for e in cat.entries("average")]))()
    if kind == "garnet":
        return mdps.garnet(draw(st.integers(2, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 2)),
                           rng=draw(st.integers(0, 100)), sparse=draw(st.booleans()))
    P, R = draw(small_kernel())
    S = P.shape[0]
    scale = draw(st.sampled_from([1.0, 1e20, 1e300, -1.7e308])) if kind == "scaled" else 1.0
    return mdps.TabularMDP(0.8 * P + 0.2 / S, R * scale)


@FUZZ
@given(average_instance(), st.data())
def test_average_reward_solvers(mdp, data):
    which = data.draw(st.sampled_from(["rvi", "lp", "multichain_gain", "span_contraction_coefficient",
                                       "is_communicating", "aperiodic_transform", "solve"]))
    S = mdp.n_states
    if which == "rvi":
        kw = dict(tol=data.draw(st.one_of(st.just(1e-9), hostile_scalar(typical=st.sampled_from([1e-3, 1e-12])))),
                  max_iter=data.draw(st.one_of(st.integers(1, 2000), st.sampled_from([0, -1, 2.5, True]))),
                  s_ref=data.draw(st.one_of(st.integers(0, S - 1), st.sampled_from([-1, S, 1.0, True, "0"]))),
                  tau=data.draw(st.one_of(st.sampled_from([0.5, 1.0]), hostile_scalar(typical=st.floats(0.01, 1.0)))),
                  gain_star=data.draw(st.one_of(st.none(), st.just("exact"), hostile_scalar())))
        call = lambda: mdps.relative_value_iteration(mdp, **kw)  # noqa: E731
    elif which == "lp":
        call = lambda: mdps.average_reward_lp(mdp)  # noqa: E731
    elif which == "aperiodic_transform":
        tau = data.draw(hostile_scalar(typical=st.floats(0.01, 1.0)))
        call = lambda: mdps.aperiodic_transform(mdp, tau)  # noqa: E731
    elif which == "solve":
        method = data.draw(st.sampled_from(["rvi", "lp", "vi", None]))
        kwargs = data.draw(st.sampled_from([{}, {"tau": 0.5, "max_iter": 500}, {"tol": 1e-6, "max_iter": 500},
                                            {"gamma": 0.9}]))
        if method == "rvi" and "max_iter" not in kwargs:
            kwargs = {**kwargs, "max_iter": 2000}
        call = lambda: mdps.solve(mdp, method=method, **kwargs)  # noqa: E731
    else:
        f = getattr(mdps, which)
        call = lambda: f(mdp)  # noqa: E731
    check(call, MDP_PARTS + ("tol", "max_iter", "s_ref", "tau", "gain_star", "method", "iterates", "bias",
                             "weakly communicating", "pi"))


@FUZZ
@given(st.data())
def test_finite_horizon_solvers(data):
    entry = data.draw(st.sampled_from(cat.entries("finite_horizon")))
    mdp = data.draw(st.sampled_from([entry.build(), mdps.random_finite_horizon(3, 2, 3, rng=data.draw(st.integers(0, 9)))]))
    if data.draw(st.booleans()):
        factor = data.draw(st.sampled_from([1e300, 1.7e308, -1.7e308]))
        scaled = check(lambda: mdps.TabularMDP(mdp.P, mdp.R * factor, horizon=mdp.horizon, feasible=mdp.feasible),
                       MDP_PARTS)  # rewards that overflow to inf are refused by name
        if scaled is None:
            return
        mdp = scaled
    which = data.draw(st.sampled_from(["backward_induction", "solve", "evaluate_finite_horizon"]))
    if which == "backward_induction":
        call = lambda: mdps.backward_induction(mdp)  # noqa: E731
    elif which == "solve":
        kwargs = data.draw(st.sampled_from([{}, {"tol": 1e-8}, {"max_iter": 3}]))
        call = lambda: mdps.solve(mdp, method=data.draw(st.sampled_from(["vi", "pi", None, "rvi"])), **kwargs)  # noqa: E731
    else:
        pi = data.draw(policy_argument(mdp.n_states, mdp.n_actions, H=mdp.horizon))
        call = lambda: mdps.evaluate_finite_horizon(mdp, pi)  # noqa: E731
    check(call, MDP_PARTS + ("pi", "method", "values", "Q"))


# -- Markov chains and occupancy helpers -----------------------------------------------------------
@FUZZ
@given(st.data())
def test_chain_functions(data):
    S = data.draw(st.integers(1, 4))
    M0 = data.draw(stochastic_kernel(S, 1))[:, 0, :]
    kind = data.draw(st.sampled_from(["dense", "csr", "malformed"]))
    M = {"dense": lambda: data.draw(hostile_array((S, S), good=M0)), "csr": lambda: sp.csr_array(M0),
         "malformed": lambda: data.draw(malformed_csr(M0))}[kind]()
    which = data.draw(st.sampled_from(["stationary_distribution", "recurrent_classes", "policy_from_occupancy"]))
    if which == "policy_from_occupancy":
        atol = data.draw(st.one_of(st.just(0.0), hostile_scalar()))
        call = lambda: mdps.policy_from_occupancy(M if kind == "dense" else M0, atol=atol)  # noqa: E731
        names = ("d", "atol")
    else:
        f = getattr(mdps, which)
        call = lambda: f(M)  # noqa: E731
        names = ("P_pi",)
    check(call, names)


# -- generators ------------------------------------------------------------------------------------
def size_argument(low=1, high=6):
    """Sizes as hostile callers pass them, without absurd allocations (those are honest MemoryErrors)."""
    return st.one_of(st.integers(low, high), st.sampled_from([0, -1, 2.5, True, "3", None, np.int64(3), float("nan")]))


@FUZZ
@given(st.data())
def test_generators(data):
    which = data.draw(st.sampled_from(["garnet", "river_swim", "chain", "gridworld", "random_finite_horizon",
                                       "jao", "tight_vi_instance", "hard_episodic_tree", "pi_iteration_bound",
                                       "TabularEnv", "with_criterion"]))
    rng = data.draw(st.one_of(st.integers(0, 2**32), hostile_scalar()))
    crit = data.draw(st.sampled_from([{}, {"gamma": 0.9}, {"horizon": 4},
                                      {"gamma": data.draw(hostile_scalar())}, {"horizon": data.draw(hostile_scalar())}]))
    prob = hostile_scalar(typical=st.floats(0.0, 1.0, **finite))
    if which == "garnet":
        S = data.draw(size_argument())
        call = lambda: mdps.garnet(S, data.draw(size_argument()), data.draw(size_argument()),  # noqa: E731
                                   sparse=data.draw(st.sampled_from([True, False, 1, "yes"])), rng=rng, **crit)
    elif which in ("river_swim", "chain"):
        f = getattr(mdps, which)
        call = lambda: f(data.draw(size_argument()), **crit)  # noqa: E731
    elif which == "gridworld":
        shape = data.draw(st.sampled_from([(3, 2), (1, 1), (0, 2), "3x3", (2.0, 2), (2,)]))
        call = lambda: mdps.gridworld(shape, slip=data.draw(prob), rng=rng, **crit)  # noqa: E731
    elif which == "random_finite_horizon":
        call = lambda: mdps.random_finite_horizon(data.draw(size_argument()), data.draw(size_argument()),  # noqa: E731
                                                  data.draw(size_argument()), rng=rng)
    elif which == "jao":
        call = lambda: mdps.jao(data.draw(prob), data.draw(prob), data.draw(size_argument()), **crit)  # noqa: E731
    elif which == "pi_iteration_bound":
        call = lambda: mdps.pi_iteration_bound(data.draw(size_argument()), data.draw(size_argument()),  # noqa: E731
                                               data.draw(hostile_scalar(typical=st.floats(0, 0.99))))
    elif which == "TabularEnv":
        env_h = data.draw(hostile_scalar(typical=st.integers(1, 5)))
        call = lambda: mdps.TabularEnv(mdps.river_swim(3, horizon=4), horizon=env_h).reset(seed=0)  # noqa: E731
    elif which == "with_criterion":
        call = lambda: mdps.river_swim(3).with_criterion(**crit)  # noqa: E731
    elif which == "tight_vi_instance":
        call = lambda: mdps.tight_vi_instance(data.draw(hostile_scalar(typical=st.floats(0, 0.99))))  # noqa: E731
    else:
        call = lambda: mdps.hard_episodic_tree(data.draw(size_argument(2, 3)), data.draw(size_argument(4, 6)),  # noqa: E731
                                               data.draw(size_argument(1, 2)), data.draw(prob), rng=rng)
    check(call, MDP_PARTS + ("n_states", "n_actions", "branching", "sparse", "rng", "graph_or_shape", "width",
                             "height", "slip", "delta", "epsilon", "depth", "wait", "stage_dependent",
                             "n_actions"))


# -- adapters --------------------------------------------------------------------------------------
@FUZZ
@given(small_kernel(), st.data())
def test_adapters(kernel, data):
    P0, R0 = kernel
    S, A = R0.shape
    which = data.draw(st.sampled_from(["from_mdptoolbox", "from_quantecon", "from_gymnasium", "to_all"]))
    if which == "from_mdptoolbox":
        if data.draw(st.booleans()):
            P = data.draw(hostile_array((A, S, S), good=P0.transpose(1, 0, 2)))
        else:  # pymdptoolbox's sparse form: a list of A matrices, possibly malformed CSR
            P = [data.draw(st.one_of(st.just(sp.csr_array(P0[:, a, :])), malformed_csr(P0[:, a, :])))
                 for a in range(A)]
        R = data.draw(st.one_of(hostile_array((S, A), good=R0),
                                st.just([sp.csr_array(np.ones((S, S)))] * A),
                                st.builds(lambda M: [M] * A, malformed_csr(np.ones((S, S)))),
                                st.just([np.ones((S, S + 1))] * A)))
        call = lambda: mdps.from_mdptoolbox(P, R, gamma=data.draw(gamma_values()))  # noqa: E731
    elif which == "from_quantecon":
        R = data.draw(hostile_array((S, A), good=R0))
        Q = data.draw(hostile_array((S, A, S), good=P0))
        beta = data.draw(hostile_scalar(typical=st.floats(0, 0.99)))
        call = lambda: mdps.from_quantecon(R, Q, beta)  # noqa: E731
    elif which == "from_gymnasium":
        table = mdps.to_gymnasium(mdps.TabularMDP(P0, R0, gamma=0.9))
        if data.draw(st.booleans()):
            s, a = data.draw(st.integers(0, S - 1)), data.draw(st.integers(0, A - 1))
            p, nxt, r, done = table[s][a][0]
            table[s][a][0] = data.draw(st.sampled_from([(float("nan"), nxt, r, done), (p, S + 3, r, done),
                                                        (p, nxt, float("inf"), done), (p, -1, r, done),
                                                        ("x",), (p, 1.5, r, done), (1j, nxt, r, done)]))
        call = lambda: mdps.from_gymnasium(table, gamma=0.9, terminal=data.draw(st.sampled_from(["absorbing", "keep", "x"])))  # noqa: E731
    else:
        mdp = mdps.TabularMDP(P0, R0, gamma=0.9)
        call = lambda: (mdps.to_mdptoolbox(mdp), mdps.to_quantecon(mdp), mdps.to_gymnasium(mdp))  # noqa: E731
    check(call, MDP_PARTS + ("Q", "beta", "P_dict", "terminal", "mdp") + tuple(f"P[{a}]" for a in range(A))
          + tuple(f"R[{a}]" for a in range(A)))


# -- spot checks the property would miss if the strategies drifted ----------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda: mdps.value_iteration(cat.tight_vi(0.9), tol=float("nan")), "tol"),
    (lambda: mdps.garnet(3, 2, 2, rng="abc"), "rng"),
    (lambda: mdps.TabularMDP(np.ones((1, 1, 1)), np.ones((1, 1)), gamma=0.5, atol=float("inf")), "atol"),
    (lambda: mdps.solve(cat.two_arms_horizon3(), method="vi", tol=1e-8), "tol"),
    (lambda: mdps.rollout(cat.two_arms_horizon3(), np.ones(1, dtype=int), 10**30, rng=0), "n_episodes"),
])
def test_the_property_on_known_reproducers(call, name):
    with pytest.raises((ValueError, TypeError), match=rf"\b{name}\b"):
        call()


def test_extreme_floats_cover_the_review():
    assert {5e-324, 1.7e308, 1.0 - 1e-9}.issubset(set(EXTREME_FLOATS))
