"""Linear learning speed: the per-step cost of LSVI-UCB's statistics with rank-one updates against a
direct solve, at d = 10, 50, 200, and the throughput of the public OFUL and LSVI-UCB runs.

a. **One step of the ridge statistics** [the issue's benchmark]. A step of LSVI-UCB (and of OFUL)
   adds one feature vector ``phi`` to the Gram matrix and then needs the weights
   ``w = Lambda^{-1} b`` and the widths ``||phi(s, a)||_{Lambda^{-1}}`` of the ``m`` candidate
   feature vectors (``m = S A``; here ``m = 100``). Two ways, both compiled with Numba in this file
   and timed side by side on the same stream of features:

   * ``rank-one`` (what :mod:`algorithms.linear` does): the Sherman-Morrison update of
     ``Lambda^{-1}`` (``O(d^2)``), ``w = Lambda^{-1} b`` (``O(d^2)``) and the squared widths of the
     fixed candidate set updated by the same correction,
     ``||q||^2 -= (q . z)^2 / (1 + phi . z)`` (``O(m d)``);
   * ``direct``: ``Lambda += phi phi^T``, a Cholesky factorisation (``O(d^3 / 3)``), ``w`` and the
     widths by triangular solves (``O(m d^2)``).

   Both give the same numbers (the largest relative difference of ``w`` and the widths is printed).
   The ratio is direct / rank-one: how much the rank-one updates save per step.
b. **Public runs**: episodes (rounds) per second of ``algorithms.linear.lsvi_ucb`` on a random
   low-rank linear MDP (S = 20, A = 5, H = 5) and of ``linucb`` on 100 random unit actions, d = 10, 50.

Usage::

    python -m benchmarks.bench_linear           # the tables (about a minute here)
    python -m benchmarks.bench_linear --tiny    # a seconds-long smoke run (used by the tests)
"""

from __future__ import annotations

import argparse
import os
import time

if __name__ == "__main__":  # one BLAS thread unless the caller says otherwise
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import numba as nb
import numpy as np

import mdps
from algorithms import linear
from algorithms.linear._lsvi_kernels import _quad  # x^T M x without temporaries, the kernel's own
from benchmarks._timing import interleaved_medians


@nb.njit(cache=True)
def rank_one_steps(Phi, Q, y, lam, Linv, b, w, widths):
    """``len(Phi)`` steps: Sherman-Morrison update, weights, widths of the rows of ``Q`` (their
    squares kept and updated by the same rank-one correction)."""
    d = Phi.shape[1]
    w2 = np.empty(Q.shape[0])
    for j in range(Q.shape[0]):
        w2[j] = _quad(Linv, Q[j])
    for t in range(Phi.shape[0]):
        f = Phi[t]
        z = Linv @ f
        den = 1.0 + f @ z
        for p in range(d):
            for q in range(d):
                Linv[p, q] -= z[p] * z[q] / den
            b[p] += y[t] * f[p]
        w[:] = Linv @ b
        for j in range(Q.shape[0]):  # ||q||^2 drops by (q . z)^2 / den: O(m d), no d^2 per candidate
            qz = Q[j] @ z
            w2[j] -= qz * qz / den
            widths[j] = np.sqrt(max(w2[j], 0.0))


@nb.njit(cache=True)
def direct_steps(Phi, Q, y, lam, Lam, b, w, widths):
    """The same steps with a Cholesky factorisation of the Gram matrix at every step."""
    d = Phi.shape[1]
    for t in range(Phi.shape[0]):
        f = Phi[t]
        for p in range(d):
            for q in range(d):
                Lam[p, q] += f[p] * f[q]
            b[p] += y[t] * f[p]
        L = np.linalg.cholesky(Lam)
        u = np.linalg.solve(L, b)
        w[:] = np.linalg.solve(L.T, u)
        Z = np.linalg.solve(L, Q.T)  # columns: L^{-1} q_j, so ||q_j||^2_{Lam^{-1}} = ||column||^2
        for j in range(Q.shape[0]):
            widths[j] = np.sqrt(Z[:, j] @ Z[:, j])


def step_row(d: int, n_steps: int, m: int, repeats: int, rng) -> tuple:
    Phi = rng.dirichlet(np.ones(d), size=n_steps)
    Q = rng.dirichlet(np.ones(d), size=m)
    y = rng.random(n_steps)
    lam = 1.0
    out = {}

    def run_rank_one():
        Linv, b, w, wid = np.eye(d) / lam, np.zeros(d), np.zeros(d), np.zeros(m)
        rank_one_steps(Phi, Q, y, lam, Linv, b, w, wid)
        out["rank_one"] = (w, wid)

    def run_direct():
        Lam, b, w, wid = lam * np.eye(d), np.zeros(d), np.zeros(d), np.zeros(m)
        direct_steps(Phi, Q, y, lam, Lam, b, w, wid)
        out["direct"] = (w, wid)

    t = interleaved_medians({"rank_one": run_rank_one, "direct": run_direct}, repeats)
    (w1, s1), (w2, s2) = out["rank_one"], out["direct"]
    diff = max(float(np.abs(w1 - w2).max() / np.abs(w2).max()), float(np.abs(s1 - s2).max() / np.abs(s2).max()))
    return d, n_steps, t["rank_one"] / n_steps, t["direct"] / n_steps, diff


def run_steps(ds, n_steps, m, repeats) -> list:
    print("\n## a. One step of the ridge statistics: rank-one updates vs a direct solve\n")
    print(f"m = {m} candidate feature vectors per step (S A); features on the simplex; lambda = 1; the stream "
          f"of steps is the same for both; per-step time = median over {repeats} round-robin repeats / steps. "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset (default)')}.\n")
    print("| d | steps | rank-one per step (us) | direct per step (us) | direct / rank-one | max rel. difference |")
    print("|---|---|---|---|---|---|")
    rows = []
    for d, s in zip(ds, np.random.SeedSequence(7).spawn(len(ds))):
        r = step_row(d, n_steps[d], m, repeats, np.random.default_rng(s))
        d, n, t1, t2, diff = r
        print(f"| {d} | {n} | {t1 * 1e6:.2f} | {t2 * 1e6:.2f} | {t2 / t1:.2f} | {diff:.1e} |")
        rows.append(r)
    return rows


def run_public(tiny: bool) -> list:
    print("\n## b. Public runs (one run, one core)\n")
    print("| what | d | units | time (s) | units per second |")
    print("|---|---|---|---|---|")
    rows = []
    K = 50 if tiny else 500
    T = 500 if tiny else 20_000
    for d in ((5,) if tiny else (10, 50)):
        lm = mdps.LinearMDP.random(20, 5, d, 5, rng=0)
        linear.lsvi_ucb(lm, n_episodes=2, rng=0)  # compile
        t0 = time.perf_counter()
        linear.lsvi_ucb(lm, n_episodes=K, bonus_scale=0.05, rng=0)
        el = time.perf_counter() - t0
        print(f"| lsvi_ucb, S = 20, A = 5, H = 5 | {d} | {K} episodes | {el:.3f} | {K / el:.1f} |")
        rows.append(("lsvi_ucb", d, K, el))
        A = np.random.default_rng(1).normal(size=(100, d))
        A /= np.linalg.norm(A, axis=1, keepdims=True)
        band = mdps.LinearBandit(A, A[0], noise=0.1)
        linear.linucb(band, n_rounds=2, rng=0)
        t0 = time.perf_counter()
        linear.linucb(band, n_rounds=T, rng=0)
        el = time.perf_counter() - t0
        print(f"| linucb, 100 actions | {d} | {T} rounds | {el:.3f} | {T / el:.0f} |")
        rows.append(("linucb", d, T, el))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    if args.tiny:
        ds, n_steps, m, repeats = (10,), {10: 50}, 20, args.repeats or 2
    else:
        ds, n_steps, m, repeats = (10, 50, 200), {10: 5000, 50: 2000, 200: 200}, 100, args.repeats or 7
    return {"steps": run_steps(ds, n_steps, m, repeats), "public": run_public(args.tiny)}


if __name__ == "__main__":
    main()
