"""Nash learning speed and correctness: exact Nash-MP against its matvec bound, sampled duels,
and a cross-check of the Nash value and exploitability against OpenSpiel.

Three parts (issue goals in brackets):

a. **One exact iteration vs its physical bound** [within 2x, K = 10 .. 5000]. An iteration of
   online mirror descent or Nash-MD needs one ``K x K`` matrix-vector product, one of Nash
   Mirror Prox two (``Pref pi_k`` and ``Pref pi_{k+1/2}``), plus ``O(K)`` prox steps; the
   bound is the time of those matvecs alone, as BLAS ``gemv`` calls made from a compiled loop
   (so it carries no Python call overhead either). ``public`` is the public function over
   ``n_iter`` iterations divided by ``n_iter``, nothing subtracted (validation, set-up and
   result assembly are charged to the iterations); the exact-oracle runs go through the
   compiled whole-run loops of :mod:`algorithms.nash._loops`, bitwise equal to the Python
   loops (``tests/test_nash_loops.py``).
b. **Sampled duels** [10^6 duels in under a second]. ``game.duel(i, j, rng=...)`` on 10^6
   pre-drawn index pairs (one call; it draws 10^6 uniforms and runs the compiled comparison
   kernel ``mdps._pref_kernels.duel_outcomes``, a plain serial ``njit`` loop - no
   ``parallel=True`` - so it runs on one core whatever ``NUMBA_NUM_THREADS`` is), beside its
   floors (drawing the 10^6 uniforms; the kernel alone on pre-drawn uniforms); and one sampled
   Nash-MP run (``oracle="sampled"``) whose oracle draws 10^6 duels in total
   (``2 * K * n_samples * n_iter``). Printed as duels per second.
c. **Cross-check against OpenSpiel** (optional peer). On RPS, the 3x3 intransitive game
   ``[[.5,.9,.3],[.1,.5,.6],[.7,.4,.5]]`` and uniform tournaments K = 5, 20, 50, with the
   zero-sum game ``A = Pref - 1/2`` loaded as ``pyspiel.create_matrix_game(A, -A)``:

   * value: ours is ``-E_0(pi*)`` for the LP equilibrium ``pi* = game.nash()`` (the value
     ``min_j (pi*^T A)_j`` it guarantees; the constant-sum game's value is 1/2 plus this),
     against both values returned by ``lp_solver.solve_zero_sum_matrix_game`` (exact: 0);
   * exploitability: for policies uniform, a random Dirichlet one, our Nash and OpenSpiel's LP
     strategy, ``exploitability.nash_conv`` and ``exploitability.exploitability`` on
     ``pyspiel.convert_to_turn_based`` of the matrix game with a ``TabularPolicy`` holding
     the profile. Relation used (exact, from the antisymmetry ``A^T = -A``): for a profile
     ``(x, y)``, player 0 gains ``max_i (A y)_i - x^T A y`` and player 1 gains
     ``max_j (A x)_j + x^T A y``, so **NashConv(x, y) = E_0(x) + E_0(y)**; for the symmetric
     profile ``(pi, pi)``: NashConv = 2 E_0(pi) = ``game.duality_gap(pi)`` and OpenSpiel's
     exploitability (NashConv / 2) = E_0(pi) = ``game.exploitability(pi)`` exactly.

   Exploitability of a given policy is plain arithmetic on both sides, so it agrees to
   round-off (~1e-15). The values and OpenSpiel's LP strategy come from ECOS with
   ``abstol = reltol = feastol = 1e-7`` (``lp_solver.DEFAULT_ECOS_SOLVER_KWARGS``), so they
   agree with our HiGHS vertex solution to that tolerance (typically ~1e-9 .. 1e-8).
   OpenSpiel 2.0.2's LP needs ``cvxpy`` and ``ecos`` (not declared by its wheel):
   ``pip install open_spiel cvxpy ecos``; without them part (c) is skipped.

Everything runs in one process, side by side, timed with ``time.perf_counter``: the median of
repeats taken round-robin (bound, public, raw, bound, ...) after a warm-up that also triggers
Numba compilation. Ratios > 1 mean slower than the bound (the bound and the lab's products
call the same BLAS ``gemv``). Run as a script, BLAS is pinned to **one thread**
(``OPENBLAS_NUM_THREADS=1`` etc., unless already set in the environment): on a small shared
machine a second BLAS thread that has to wait for a busy core costs a scheduler time slice
(observed here on 2 cores at load ~2: two 8 MB ``gemv`` took 16 ms with 2 threads, 0.3 ms with
one), which would make the bound, not the lab, the thing measured. Imported (as by the smoke
test) the thread count is whatever the process already has; the table header prints it.

Usage::

    python -m benchmarks.bench_nash              # the full tables (~20 s here, ~1.5 GB RAM)
    python -m benchmarks.bench_nash --tiny       # a seconds-long smoke run (used by the tests)
    python -m benchmarks.bench_nash --no-peers   # skip the OpenSpiel cross-check
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time

if __name__ == "__main__":  # one BLAS thread unless the caller says otherwise (docstring)
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import numba as nb
import numpy as np

import mdps
from benchmarks._timing import interleaved_medians
from algorithms.nash import nash_md, nash_mirror_prox, online_mirror_descent
from mdps import _pref_kernels as _pk

BETA = 0.1
ETA = 2.0
INTRANSITIVE = [[0.5, 0.9, 0.3], [0.1, 0.5, 0.6], [0.7, 0.4, 0.5]]


# ----------------------------------------------------------------------------------------------
# a. one exact iteration vs its matvecs
# ----------------------------------------------------------------------------------------------
#: the algorithms with a compiled whole-run loop, and the K x K matvecs one iteration needs
ALGORITHMS = {
    "online_mirror_descent": (lambda g, n: online_mirror_descent(g, BETA, 1.0, n), 1),
    "nash_md": (lambda g, n: nash_md(g, BETA, 1.0, n), 1),
    "nash_mirror_prox": (lambda g, n: nash_mirror_prox(g, BETA, ETA, n), 2),
}


@nb.njit(cache=True)
def _gemv_loop(P, a, b, out, n):
    """``n`` BLAS gemv calls (``P a`` and ``P b`` alternately) in compiled code: the bound."""
    for i in range(n):
        np.dot(P, a if i % 2 == 0 else b, out)


def iteration_rows(K: int, n_iter: int, repeats: int, rng) -> list:
    game = mdps.uniform_tournament(K, rng=rng)
    P = np.ascontiguousarray(game.Pref)
    pi_a, pi_b = np.random.default_rng(0).dirichlet(np.ones(K), size=2)
    out = np.empty(K)
    fns = {"bound": lambda: _gemv_loop(P, pi_a, pi_b, out, n_iter)}
    for name, (run, _) in ALGORITHMS.items():
        fns[name] = (lambda r: lambda: r(game, n_iter))(run)
    t = interleaved_medians(fns, repeats)
    gemv = t["bound"] / n_iter
    return [(K, name, m, n_iter, m * gemv, t[name] / n_iter, P.nbytes) for name, (_, m) in ALGORITHMS.items()]


def run_iterations(Ks, n_iters, repeats) -> list:
    print("\n## a. One exact iteration vs its K x K matvecs (uniform tournaments)\n")
    print(f"beta = {BETA}; eta = 1 (OMD, Nash-MD), {ETA} (Nash-MP); public = the public function "
          "over n_iter iterations / n_iter (nothing subtracted: validation, set-up and the result "
          "are charged to the iterations); bound = the iteration's matvecs as BLAS gemv calls in a "
          "compiled loop. Goal: public / bound <= 2. "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset (default)')}.\n")
    print("| K | algorithm | matvecs / iter | n_iter | bound (us) | public per iter (us) | public / bound |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    ss = np.random.SeedSequence(2024).spawn(len(Ks))
    for K, n_iter, s in zip(Ks, n_iters, ss):
        for r in iteration_rows(K, n_iter, repeats, np.random.default_rng(s)):
            K, name, m, n, tb, tp, _ = r
            print(f"| {K} | {name} | {m} | {n} | {tb * 1e6:.3f} | {tp * 1e6:.3f} | {tp / tb:.2f} |")
            rows.append(r)
    return rows


# ----------------------------------------------------------------------------------------------
# b. sampled duels
# ----------------------------------------------------------------------------------------------
def run_duels(K: int, n_duels: int, repeats: int, mp_K: int, mp_samples: int, mp_iter: int) -> list:
    print(f"\n## b. Sampled duels (one core; uniform tournament K = {K})\n")
    game = mdps.uniform_tournament(K, rng=7)
    gen = np.random.default_rng(11)
    i = gen.integers(0, K, n_duels)
    j = gen.integers(0, K, n_duels)
    P3 = np.ascontiguousarray(game.Pref)[None]
    ctx = np.zeros(n_duels, dtype=np.int64)
    u = gen.random(n_duels)
    out = np.empty(n_duels, dtype=np.bool_)
    rng_floor, rng_duel = np.random.default_rng(1), np.random.default_rng(2)
    fns = {
        "floor: draw the uniforms (rng.random)": lambda: rng_floor.random(n_duels),
        "floor: kernel duel_outcomes (pre-drawn uniforms)": lambda: _pk.duel_outcomes(P3, ctx, i, j, u, 0.0, out),
        "game.duel(i, j, rng=rng) (public)": lambda: game.duel(i, j, rng=rng_duel),
    }
    t = interleaved_medians(fns, repeats)

    mp_game = mdps.uniform_tournament(mp_K, rng=8)
    mp_duels = 2 * mp_K * mp_samples * mp_iter

    def sampled_mp():
        return nash_mirror_prox(mp_game, BETA, ETA, mp_iter, oracle="sampled", n_samples=mp_samples, rng=3)

    res = sampled_mp()  # warm-up
    assert int(res.duels[-1]) == mp_duels
    t_mp = [0.0] * max(1, repeats // 2)
    for r in range(len(t_mp)):
        t0 = time.perf_counter()
        sampled_mp()
        t_mp[r] = time.perf_counter() - t0
    t_mp = float(np.median(t_mp))
    rows = [(name, n_duels, sec) for name, sec in t.items()]
    rows.append((f"sampled Nash-MP run (K={mp_K}, n_samples={mp_samples}, n_iter={mp_iter})", mp_duels, t_mp))
    print(f"Goal: 10^6 duels in under a second (here {n_duels:,} per call).\n")
    print("| what | duels | time (s) | duels per second |")
    print("|---|---|---|---|")
    for name, n, sec in rows:
        print(f"| {name} | {n:,} | {sec:.4f} | {n / sec:.3g} |")
    return rows


# ----------------------------------------------------------------------------------------------
# c. OpenSpiel cross-check
# ----------------------------------------------------------------------------------------------
def openspiel_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("pyspiel", "cvxpy", "ecos"))


def cross_check_instances(tiny: bool) -> list:
    """``(label, PreferenceGame)`` pairs of the cross-check."""
    out = [("RPS", mdps.rock_paper_scissors(1.0)),
           ("intransitive 3x3", mdps.PreferenceGame(INTRANSITIVE))]
    Ks = (5,) if tiny else (5, 20, 50)
    ss = np.random.SeedSequence(31).spawn(len(Ks))
    out += [(f"uniform tournament K={K}", mdps.uniform_tournament(K, rng=np.random.default_rng(s)))
            for K, s in zip(Ks, ss)]
    return out


def openspiel_check(game, rng) -> dict:
    """Our value / exploitability against OpenSpiel's on one game; returns absolute differences."""
    import pyspiel
    from open_spiel.python import policy as policy_lib
    from open_spiel.python.algorithms import exploitability as os_expl
    from open_spiel.python.algorithms import lp_solver

    K = game.n_responses
    A = np.asarray(game.Pref) - 0.5  # exactly antisymmetric (the game stores Pref projected)
    mg = pyspiel.create_matrix_game(A.tolist(), (-A).tolist())
    sol = lp_solver.solve_zero_sum_matrix_game(mg)
    if sol is None or sol[0] is None:
        raise RuntimeError("OpenSpiel's LP returned None (is ecos installed? pip install cvxpy ecos)")
    p0, p1, v0, v1 = (np.asarray(s, dtype=np.float64) for s in sol)
    p_os = np.clip(p0, 0.0, None)
    p_os /= p_os.sum()

    nash = game.nash()
    our_value = -game.exploitability(nash)  # min_j (pi*^T A)_j, the value pi* guarantees
    tb = pyspiel.convert_to_turn_based(mg)
    tab = policy_lib.TabularPolicy(tb)
    key0, key1 = tab.states_per_player[0][0], tab.states_per_player[1][0]

    def os_metrics(x, y):
        tab.policy_for_key(key0)[:] = x
        tab.policy_for_key(key1)[:] = y
        return float(os_expl.nash_conv(tb, tab)), float(os_expl.exploitability(tb, tab))

    policies = {"uniform": np.full(K, 1.0 / K), "random": rng.dirichlet(np.ones(K)),
                "our Nash": nash, "OpenSpiel LP": p_os}
    d_sym_nc = d_sym_ex = d_asym = 0.0
    names = list(policies)
    for a, name in enumerate(names):
        x = policies[name]
        e = game.exploitability(x)
        nc, ex = os_metrics(x, x)
        d_sym_nc = max(d_sym_nc, abs(nc - 2.0 * e), abs(nc - game.duality_gap(x)))
        d_sym_ex = max(d_sym_ex, abs(ex - e))
        y = policies[names[(a + 1) % len(names)]]
        nc_xy, _ = os_metrics(x, y)
        d_asym = max(d_asym, abs(nc_xy - (e + game.exploitability(y))))
    return {
        "value_diff": max(abs(our_value - float(v0)), abs(our_value - float(v1))),
        "our_value_const_sum": 0.5 + our_value,
        "os_value": float(v0),
        "strategy_diff": float(np.abs(nash - p_os).max()),
        "os_lp_exploitability": game.exploitability(p_os),
        "nashconv_sym_diff": d_sym_nc,
        "expl_sym_diff": d_sym_ex,
        "nashconv_asym_diff": d_asym,
    }


def run_openspiel(tiny: bool) -> list | None:
    print("\n## c. Cross-check against OpenSpiel (zero-sum A = Pref - 1/2)\n")
    if not openspiel_available():
        print("skipped: OpenSpiel peer not installed (pip install open_spiel cvxpy ecos)")
        return None
    from importlib.metadata import version as _version

    version = _version("open_spiel")
    print(f"OpenSpiel {version}; LP = lp_solver.solve_zero_sum_matrix_game (ECOS, tol 1e-7); "
          "NashConv / exploitability on convert_to_turn_based(matrix game) with a TabularPolicy. "
          "Relations checked: NashConv(pi, pi) = 2 E_0(pi) = duality_gap(pi); "
          "exploitability(pi, pi) = E_0(pi); NashConv(x, y) = E_0(x) + E_0(y).\n")
    print("| game | our value (const-sum) | OS value (zero-sum) | abs diff of values | "
          "max abs diff of strategies | E_0(OS LP strategy) | NashConv(pi,pi) vs 2 E_0 | "
          "OS exploitability vs E_0 | NashConv(x,y) vs E_0(x)+E_0(y) |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    rng = np.random.default_rng(5)
    for label, game in cross_check_instances(tiny):
        r = openspiel_check(game, rng)
        rows.append((label, r))
        print(f"| {label} | {r['our_value_const_sum']:.12f} | {r['os_value']:.3e} | {r['value_diff']:.1e} | "
              f"{r['strategy_diff']:.1e} | {r['os_lp_exploitability']:.1e} | {r['nashconv_sym_diff']:.1e} | "
              f"{r['expl_sym_diff']:.1e} | {r['nashconv_asym_diff']:.1e} |")
    keys = ("value_diff", "strategy_diff", "nashconv_sym_diff", "expl_sym_diff", "nashconv_asym_diff")
    print("\nmax over games: " + ", ".join(f"{k} = {max(r[k] for _, r in rows):.1e}" for k in keys))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="small instances, a smoke run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--no-peers", action="store_true", help="skip the OpenSpiel cross-check")
    args = parser.parse_args(argv)
    if args.tiny:
        Ks, n_iters, repeats = (10, 200), (20, 3), args.repeats or 3
        duel_args = dict(K=100, n_duels=10_000, mp_K=20, mp_samples=10, mp_iter=5)
    else:
        Ks, n_iters, repeats = (10, 100, 1000, 5000), (20_000, 5_000, 200, 10), args.repeats or 15
        duel_args = dict(K=1000, n_duels=1_000_000, mp_K=100, mp_samples=100, mp_iter=50)
    out = {"iteration": run_iterations(Ks, n_iters, repeats),
           "duels": run_duels(repeats=repeats, **duel_args),
           "openspiel": None if args.no_peers else run_openspiel(args.tiny)}
    return out


if __name__ == "__main__":
    main()
