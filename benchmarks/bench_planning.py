"""Planning speed: this lab against QuantEcon's DiscreteDP, pymdptoolbox, mdpsolver and the bandwidth bound.

Two instances:

* a dense Garnet, S = 2000, A = 10 (every row has full support; P is a 320 MB array), and
* a sparse Garnet, S = 100,000, A = 10, 5 successors per state-action pair (CSR, 5e6 nonzeros),

each at gamma = 0.95, 0.99 and 0.999 (``--quick``: S = 500 dense and S = 10,000 sparse). For
each tool we time

1. one Bellman optimality sweep (``T V`` and its greedy policy), against the physical bound:
   one matrix-vector product streaming ``P`` once (BLAS ``gemv`` over the dense ``(S*A, S)``
   array; scipy's CSR product for the sparse one);
2. a solve to a *true* sup-norm error of 1e-8. Each tool has its own stopping rule (QuantEcon's
   VI stops on ``||Tv - v||``, pymdptoolbox's on a span), so we do not trust their epsilons: we
   measure the error of what each returns against V*, and tighten the tool's epsilon by factors
   of 10 until the error is at most 1e-8 (matched true error); then every tool's solve at its
   matched epsilon is timed round-robin (median of 3; the warm-up is the epsilon search). V* is exact: policy iteration
   with linear solves (dense) or inexact policy iteration run to a certified error of 1e-11, or
   to its float64 floor (~3e-10 at gamma = 0.999), required below TARGET / 10 (sparse, where an exact sparse LU would fill in; the certificate is MacQueen's bound from a
   final Bellman backup, see :func:`mdps.inexact_policy_iteration`).

The lab's rows include ``mdps.solve(mdp)`` as a user calls it (the default route, certified to
1e-10, no epsilon search) and ``mdps.solve(mdp, tol=eps)`` on the same epsilon ladder as the
peers. Plain value iteration with a sup-norm rule needs ~log(1/eps)/(1-gamma) sweeps, so the VI
rows of every tool are skipped for gamma > 0.95 (the table says so). mdpsolver (PyPI
``mdpsolver``, C++) takes Python lists: its model set-up (lists and ``model.mdp``) is timed
separately and not charged to its solve, which is read from its own timer
(``model.getRuntime()``, the median over the timed repeats); a fresh model is built before
every solve, because a model warm-starts from its last solution.

Everything runs in one process, side by side, timed with ``time.perf_counter``: sweeps are
the median of repeats taken round-robin (bound, lab, peers, bound, ...) after a warm-up that
also triggers Numba compilation. Ratios > 1 mean slower than the
reference. The peers are optional: ``pip install quantecon pymdptoolbox`` (on Python 3.11 pip
resolves quantecon 0.11.4).

Usage::

    python -m benchmarks.bench_planning            # the full table (tens of minutes, ~3 GB RAM)
    python -m benchmarks.bench_planning --quick    # smaller instances, all three gammas (minutes)
    python -m benchmarks.bench_planning --tiny     # a seconds-long smoke run (used by the tests)
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings

import numpy as np
import scipy.sparse as sp

import mdps
from benchmarks._timing import interleaved_medians
from mdps._backup import bellman_max

TARGET = 1e-8
EPS_LADDER = [10.0 ** -k for k in range(6, 16)]
#: A tool whose single solve takes longer than this (seconds) leaves the epsilon search.
BUDGET_S = 60.0
#: Tools that run plain value iteration with a sup-norm rule, skipped for gamma > 0.95 (module
#: docstring); the span-rule rows stay.
_VI_TOOLS = ("lab VI", "QuantEcon VI", "pymdptoolbox VI")


def _plain_vi(name: str) -> bool:
    return name in _VI_TOOLS or name.startswith("pymdptoolbox VI ")


def _matched(solve_eps, v_star, budget=None):
    """``(epsilon, error, note)``: the loosest epsilon of the ladder at which a tool's returned
    value is within TARGET of v_star and that value's true error; epsilon is None when no
    epsilon gets there, the tool fails or one solve exceeds ``budget`` seconds (default
    BUDGET_S; the note says which)."""
    budget = BUDGET_S if budget is None else budget
    err = float("nan")
    for eps in EPS_LADDER:
        t0 = time.perf_counter()
        try:
            err = float(np.abs(np.asarray(solve_eps(eps)) - v_star).max())
        except MemoryError as exc:
            return None, err, f"fails: {exc}"
        if err <= TARGET:
            return eps, err, ""
        if time.perf_counter() - t0 > budget:
            return None, err, f"one solve > {budget:.0f} s"
    return None, err, "not reached"


# ----------------------------------------------------------------------------------------------
# the tools, each as (sweep, solve-to-epsilon) closures over one instance
# ----------------------------------------------------------------------------------------------
def lab_tools(mdp):
    S = mdp.n_states
    P2, R, g = mdp.P_matrix(), mdp.R, mdp.gamma
    V = np.zeros(S)
    V_out, sig, work = np.empty(S), np.empty(S, dtype=np.int64), np.empty(P2.shape[0])
    tools = {
        "lab solve() default (tol=1e-10)": (None, lambda eps: mdps.solve(mdp).V),
        "lab solve(tol=eps) (auto route)": (None, lambda eps: mdps.solve(mdp, tol=eps).V),
        "lab VI": (lambda: bellman_max(P2, R, V, g, V_out, sig, work),
                   lambda eps: mdps.value_iteration(mdp, tol=eps).V),
        "lab VI (span rule)": (None, lambda eps: mdps.value_iteration(mdp, tol=eps, stopping="span").V),
        "lab MPI(m=10, span rule)": (None, lambda eps: mdps.modified_policy_iteration(
            mdp, m=10, tol=eps, stopping="span").V),
    }
    if not mdp.is_sparse:
        tools["lab PI"] = (None, lambda eps: mdps.policy_iteration(mdp).V)
    return tools


def mdpsolver_tools(mdp, parallel=True):
    """mdpsolver (C++): ``(tools, set-up seconds)``; its sparse list format for both layouts.

    ``parallel`` is passed to ``model.solve`` (mdpsolver's default, True, runs its threaded
    solver; see ``bench_scaling`` for what that costs on a loaded 2-core machine)."""
    if importlib.util.find_spec("mdpsolver") is None:
        return {}, None
    import mdpsolver

    S, A = mdp.n_states, mdp.n_actions
    t0 = time.perf_counter()
    P2 = mdp.P_matrix()
    if mdp.is_sparse:
        ptr, idx, dat = P2.indptr, P2.indices, P2.data
        probs = [[dat[ptr[s * A + a]:ptr[s * A + a + 1]].tolist() for a in range(A)] for s in range(S)]
        cols = [[idx[ptr[s * A + a]:ptr[s * A + a + 1]].tolist() for a in range(A)] for s in range(S)]
    else:
        probs = mdp.P.tolist()
        cols = [[list(range(S))] * A for _ in range(S)]
    rewards = mdp.R.tolist()

    def build():
        model = mdpsolver.model()
        model.mdp(discount=mdp.gamma, rewards=rewards, tranMatProbs=probs, tranMatColumns=cols)
        return model

    build()
    setup = time.perf_counter() - t0

    runtimes = {}

    def make(name, alg):
        def solve(eps):
            model = build()
            model.solve(algorithm=alg, tolerance=eps, verbose=False, parallel=parallel)
            runtimes.setdefault(name, []).append(model.getRuntime() / 1e3)  # its own solve timer (ms)
            return np.asarray(model.getValueVector(), dtype=np.float64)
        return solve

    names = {f"mdpsolver {alg.upper()}": alg for alg in ("vi", "mpi", "pi")}
    return {name: (None, make(name, alg)) for name, alg in names.items()}, (setup, runtimes)


def quantecon_tools(mdp):
    if importlib.util.find_spec("quantecon") is None:
        return {}
    from quantecon.markov import DiscreteDP

    S, A = mdp.n_states, mdp.n_actions
    if mdp.is_sparse:
        s_idx, a_idx = np.repeat(np.arange(S), A), np.tile(np.arange(A), S)
        ddp = DiscreteDP(mdp.R.ravel(), sp.csr_matrix(mdp.P), mdp.gamma, s_idx, a_idx)
    else:
        ddp = DiscreteDP(mdp.R, mdp.P, mdp.gamma)  # the same (S, A, S) layout: no copy
    v, Tv = np.zeros(S), np.empty(S)
    tools = {"QuantEcon VI": (lambda: ddp.bellman_operator(v, Tv=Tv),
                              lambda eps: ddp.solve("value_iteration", epsilon=eps, max_iter=10 ** 6).v),
             "QuantEcon MPI(k=10)": (None, lambda eps: ddp.solve("modified_policy_iteration", epsilon=eps,
                                                                 max_iter=10 ** 6, k=10).v)}
    if not mdp.is_sparse:
        tools["QuantEcon PI"] = (None, lambda eps: ddp.solve("policy_iteration").v)
    return tools


def mdptoolbox_tools(mdp):
    if importlib.util.find_spec("mdptoolbox") is None:
        return {}
    import mdptoolbox.mdp as mtb

    P_tb, R_tb = mdps.to_mdptoolbox(mdp)
    suffix = ""
    if mdp.is_sparse:
        P_tb = [sp.csr_matrix(p) for p in P_tb]
        # pymdptoolbox 4.0b3's input check subtracts a length-S vector from the (S, 1) matrix of
        # row sums, which broadcasts to a dense S x S array (75 GB here; sawcordwell/pymdptoolbox#7).
        # Time its solvers with the check switched off, and say so in the table.
        import mdptoolbox.util as mtb_util

        mtb_util.check = lambda P, R: None
        mtb.MDP.__init__.__globals__["_util"].check = mtb_util.check
        # ValueIteration's constructor computes an a-priori iteration bound by slicing one CSR
        # column per state and action (O(S * A * nnz)); at S = 1e5 it had not finished after 20
        # minutes. Replace it by "no a-priori cap" (its span stopping rule still applies).
        mtb.ValueIteration._boundIter = lambda self, epsilon: setattr(self, "max_iter", 10 ** 6)
        suffix = " (input check and a-priori bound off)"
    g = mdp.gamma
    probe = mtb.ValueIteration(P_tb, R_tb, g, epsilon=1e-8)
    V = np.zeros(mdp.n_states)

    def vi(eps):
        solver = mtb.ValueIteration(P_tb, R_tb, g, epsilon=eps)
        solver.run()
        return np.asarray(solver.V)

    def mpi(eps):
        solver = mtb.PolicyIterationModified(P_tb, R_tb, g, epsilon=eps, max_iter=10 ** 6)
        solver.run()
        return np.asarray(solver.V)

    tools = {f"pymdptoolbox VI{suffix}": (lambda: probe._bellmanOperator(V), vi)}
    if not mdp.is_sparse or mdp.n_states <= 5000:
        # its MPI densifies P_policy (S x S): 0.8 GB and minutes per solve at S = 1e4, 75 GB at 1e5
        tools[f"pymdptoolbox MPI{suffix}"] = (None, mpi)
    if not mdp.is_sparse:
        def pi(eps):
            solver = mtb.PolicyIteration(P_tb, R_tb, g, eval_type=0)
            solver.run()
            return np.asarray(solver.V)
        tools["pymdptoolbox PI"] = (None, pi)
    return tools


# ----------------------------------------------------------------------------------------------
def bandwidth_bound(mdp):
    """Time of one product streaming P once, and the bytes it streams."""
    P2 = mdp.P_matrix()
    V, out = np.random.default_rng(0).random(mdp.n_states), np.empty(P2.shape[0])
    if mdp.is_sparse:
        P_scipy = sp.csr_matrix(P2)
        nbytes = P2.data.nbytes + P2.indices.nbytes + P2.indptr.nbytes
        return (lambda: P_scipy @ V), nbytes, "scipy CSR P @ V"
    return (lambda: np.dot(P2, V, out=out)), P2.nbytes, "BLAS gemv P @ V"


def exact_value(mdp):
    if mdp.is_sparse:  # certified by MacQueen's bound from a final Bellman backup
        with warnings.catch_warnings():  # at gamma = 0.999 the float64 floor is ~3e-10 (reported)
            warnings.simplefilter("ignore", mdps.ConvergenceWarning)
            sol = mdps.inexact_policy_iteration(mdp, tol=1e-11)
        bound = sol.certificate["bound"]
        print(f"V* (sparse): inexact policy iteration, certified ||V - V*|| <= {bound:.1e}")
        assert bound <= TARGET / 10, f"the sparse ground truth proved only {bound:.2g}"
        return sol.V
    return mdps.policy_iteration(mdp).V


def matched_solve_times(tools, v_star, solve_repeats=3, own_timers=None, budget=None):
    """Solve times to a true error of TARGET: ``name -> (seconds, true error, epsilon, note)``.

    ``tools`` maps a name to ``(sweep, solve_eps)`` as the ``*_tools`` functions return. Each
    tool's epsilon is matched first (:func:`_matched`, which also warms it up); then every
    matched solve is timed round-robin, the median of ``solve_repeats``. ``own_timers`` is
    mdpsolver's ``name -> [seconds]`` record (see :func:`mdpsolver_tools`): its tools' times are
    the median of their own timer over the timed repeats. An unmatched tool gets NaN seconds,
    epsilon None and a note saying why."""
    matched = {name: _matched(solve, v_star, budget) for name, (_, solve) in tools.items()}
    # time every solve at its matched epsilon, round-robin, median of `solve_repeats`
    solves = {name: (lambda solve=solve, eps=matched[name][0]: solve(eps))
              for name, (_, solve) in tools.items() if matched[name][0] is not None}
    t_solves = interleaved_medians(solves, solve_repeats) if solves else {}
    if own_timers is not None:  # mdpsolver: the median of its own solve timer over the timed repeats
        for name in t_solves:
            if name.startswith("mdpsolver") and own_timers.get(name):
                t_solves[name] = float(np.median(own_timers[name][-solve_repeats:]))
    return {name: (t_solves.get(name, float("nan")), matched[name][1], matched[name][0], matched[name][2])
            for name in tools}


def run_instance(label, mdp, repeats, include_peers=True, solve_repeats=3, skip=()):
    print(f"\n## {label}: {mdp!r}, gamma = {mdp.gamma}\n")
    ref_fn, nbytes, ref_name = bandwidth_bound(mdp)
    v_star = exact_value(mdp)
    tools = lab_tools(mdp)
    setup = None
    if include_peers:
        tools.update(quantecon_tools(mdp))
        tools.update(mdptoolbox_tools(mdp))
        ms_tools, setup = mdpsolver_tools(mdp, parallel=False)  # its threaded mode is erratic under load
        tools.update(ms_tools)
    skipped = [name for name in tools if any(name.startswith(prefix) for prefix in skip)]
    if mdp.gamma > 0.95:
        skipped += [name for name in tools if _plain_vi(name) and name not in skipped]
    tools = {name: tool for name, tool in tools.items() if name not in skipped}
    sweeps = {"bound": ref_fn, **{name: sw for name, (sw, _) in tools.items() if sw is not None}}
    t = interleaved_medians(sweeps, repeats)
    t_ref = t["bound"]
    print(f"bandwidth bound ({ref_name}): {t_ref * 1e3:.2f} ms per product, "
          f"{nbytes / t_ref / 1e9:.1f} GB/s over {nbytes / 1e6:.0f} MB")
    solved = matched_solve_times(tools, v_star, solve_repeats, None if setup is None else setup[1])
    t_solves = {name: r[0] for name, r in solved.items() if r[2] is not None}
    matched = {name: (r[2], r[1], r[3]) for name, r in solved.items()}
    if setup is not None:
        print(f"mdpsolver model set-up (Python lists + model.mdp, not charged to its solves): {setup[0]:.3f} s")
    if skipped:
        print(f"skipped (plain value iteration for gamma > 0.95, or --skip): {', '.join(skipped)}")
    rows = [(name, t.get(name, float("nan")), t_solves.get(name, float("nan")), matched[name][1],
             matched[name][0], matched[name][2]) for name in tools]
    lab_solve = np.nanmin([r[2] for r in rows if r[0].startswith("lab")])
    peers = [r[2] for r in rows if not r[0].startswith("lab") and r[2] == r[2]]
    if peers and min(peers) > 0:
        best_peer = min(peers)
        auto = t_solves.get("lab solve(tol=eps) (auto route)", float("nan"))
        default = t_solves.get("lab solve() default (tol=1e-10)", float("nan"))
        print(f"fastest peer {best_peer:.3f} s; lab auto route / fastest peer = {auto / best_peer:.2f}; "
              f"lab default (tol=1e-10) / fastest peer = {default / best_peer:.2f}; "
              f"best lab / fastest peer = {lab_solve / best_peer:.2f}\n")
    print("| tool | sweep (ms) | sweep / bound | solve to 1e-8 (s) | solve / best lab | true error | epsilon used |")
    print("|---|---|---|---|---|---|---|")
    for name, t_sweep, t_solve, err, eps, note in rows:
        sweep_txt = "" if t_sweep != t_sweep else f"{t_sweep * 1e3:.2f}"
        ratio_txt = "" if t_sweep != t_sweep else f"{t_sweep / t_ref:.2f}"
        eps_txt = note if eps is None else f"{eps:.0e}"
        print(f"| {name} | {sweep_txt} | {ratio_txt} | {t_solve:.3f} | {t_solve / lab_solve:.2f} | "
              f"{err:.1e} | {eps_txt} |")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="small instances, a smoke run")
    parser.add_argument("--quick", action="store_true", help="S = 500 dense, S = 1e4 sparse, all gammas")
    parser.add_argument("--gammas", type=float, nargs="+", default=None,
                        help="discounts (default 0.95 0.99 0.999; --tiny: 0.95)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--no-peers", action="store_true", help="time this lab only")
    parser.add_argument("--skip", nargs="+", default=(), metavar="PREFIX",
                        help="leave out the tools whose row name starts with any PREFIX (the output says which)")
    parser.add_argument("--only", choices=("dense", "sparse"), default=None, help="one instance only")
    args = parser.parse_args(argv)
    if args.tiny:
        dense = mdps.garnet(60, 4, 60, gamma=0.95, rng=0)
        sparse = mdps.garnet(500, 4, 5, gamma=0.95, sparse=True, rng=1)
        repeats = args.repeats or 3
    elif args.quick:
        dense = mdps.garnet(500, 10, 500, gamma=0.95, rng=0)
        sparse = mdps.garnet(10_000, 10, 5, gamma=0.95, sparse=True, rng=1)
        repeats = args.repeats or 10
    else:
        dense = mdps.garnet(2000, 10, 2000, gamma=0.95, rng=0)
        sparse = mdps.garnet(100_000, 10, 5, gamma=0.95, sparse=True, rng=1)
        repeats = args.repeats or 20
    gammas = args.gammas or ([0.95] if args.tiny else [0.95, 0.99, 0.999])
    out = {}
    for label, base in (("dense", dense), ("sparse", sparse)):
        if args.only in (None, label):
            out[label] = []
            for g in gammas:
                mdp = base.with_criterion(gamma=g)
                out[label] += run_instance(f"{label} Garnet", mdp, repeats, not args.no_peers, skip=tuple(args.skip))
    return out


if __name__ == "__main__":
    main()
