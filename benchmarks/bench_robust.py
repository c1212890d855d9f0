"""Robust planning speed: one (s,a)-rectangular L1 robust sweep against a nominal sweep and cvxpy.

Instance: a dense Garnet, S = 1000, A = 10 (full-support rows), gamma = 0.95, L1 radius 0.1.
Timed, in one process, round-robin after a warm-up that triggers Numba compilation
(``benchmarks._timing.interleaved_medians``):

1. the nominal Bellman sweep ``max_a R + gamma P V`` (the lab's dense backup, BLAS ``gemv``);
2. one robust sweep ``max_a R + gamma sigma_{s,a}(V)`` (:func:`mdps.robust_q_values`: ``V`` sorted
   once, then one ``O(S)`` pass per pair);
3. cvxpy (Clarabel) on the inner problems of a sample of pairs, extrapolated linearly to all
   ``S * A`` pairs (solving 10,000 LPs takes minutes; every inner problem has the same size).

Printed ratios: robust / nominal (target <= 3) and cvxpy / robust (target >= 1000).

Usage::

    python -m benchmarks.bench_robust            # S = 1000, A = 10
    python -m benchmarks.bench_robust --tiny     # a seconds-long smoke run
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mdps
from benchmarks._timing import interleaved_medians
from mdps import _backup


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--cvxpy-pairs", type=int, default=20)
    args = ap.parse_args(argv)
    S, A = (50, 4) if args.tiny else (1000, 10)
    mdp = mdps.garnet(S, A, S, gamma=0.95, rng=0)
    rm = mdps.RobustMDP(mdp, kind="l1", radius=0.1)
    V = np.random.default_rng(1).uniform(0, 1 / (1 - mdp.gamma), S)
    P2 = mdp.P_matrix()
    t = interleaved_medians({"nominal": lambda: _backup.bellman_max(P2, mdp.R, V, mdp.gamma),
                             "robust": lambda: mdps.robust_q_values(rm, V).max(axis=1)}, args.repeats)
    from proofs_checks.robust.inner import cvxpy_value

    n = min(args.cvxpy_pairs, S * A)
    rows_idx = np.random.default_rng(2).choice(S * A, n, replace=False)
    t0 = time.perf_counter()
    for row in rows_idx:
        cvxpy_value(P2[row], V, 0.1, "l1")
    t_cvx = (time.perf_counter() - t0) / n * S * A
    rows = [{"S": S, "A": A, "nominal_s": t["nominal"], "robust_s": t["robust"], "cvxpy_s": t_cvx,
             "robust_over_nominal": t["robust"] / t["nominal"], "cvxpy_over_robust": t_cvx / t["robust"]}]
    r = rows[0]
    print(f"S={S} A={A}: nominal sweep {r['nominal_s'] * 1e3:.2f} ms, robust L1 sweep {r['robust_s'] * 1e3:.2f} ms "
          f"(ratio {r['robust_over_nominal']:.2f}, target <= 3); cvxpy on all pairs ~{t_cvx:.1f} s "
          f"(extrapolated from {n} pairs; ratio {r['cvxpy_over_robust']:.0f}, target >= 1000)")
    return rows


if __name__ == "__main__":
    main()
