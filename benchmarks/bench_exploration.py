"""Exploration engine throughput: UCBVI episodes per second on the chain MDP (S = 50, A = 2,
H = 50), against the compute bound and the peer figure.

a. One core: episodes/second of ``algorithms.exploration.ucbvi`` (Hoeffding and Bernstein,
   bonus_scale = 1) on ``mdps.chain(50, horizon=50)``.
b. The compute bound: one dense optimistic planning pass, ``H S A S`` multiply-adds on a full
   empirical kernel, timed alone in this process (a Numba loop); its inverse is the episodes per
   second a dense planner could reach at best. The engine backs up only the successors seen so
   far, so it may beat this bound on sparse instances.
c. Two threads (Numba ``prange`` over runs) for a batch of seeds against one.
d. rlberry-scool's UCBVIAgent: measured side by side only if a separate environment with
   rlberry-scool is given (``--rlberry-python``); otherwise the ratio is against the figure a
   previous reviewer recorded on this machine (about 17 episodes/second), not measured here.

Run: ``python -m benchmarks.bench_exploration`` (``--tiny`` for a smoke run).
"""

from __future__ import annotations

import argparse
import time

import numba as nb
import numpy as np

import mdps
from algorithms import exploration

#: rlberry-scool UCBVIAgent on the same chain, episodes/second, recorded by a previous reviewer
RLBERRY_RECORDED_EPS = 17.0


@nb.njit(cache=True)
def dense_plan_pass(Phat, R, b, V):
    """One optimistic backward pass on a dense empirical kernel ``(H, S, A, S)``."""
    H, S, A, _ = Phat.shape
    for h in range(H - 1, -1, -1):
        for s in range(S):
            best = -1.0
            for a in range(A):
                acc = 0.0
                for y in range(S):
                    acc += Phat[h, s, a, y] * V[h + 1, y]
                q = min(R[h, s, a] + acc + b[h, s, a], H - h)
                if q > best:
                    best = q
            V[h, s] = best


def _best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    S, H = (10, 10) if args.tiny else (50, 50)
    K = 50 if args.tiny else 2000
    mdp = mdps.chain(S, horizon=H)
    rows = {}
    nb.set_num_threads(1)
    exploration.ucbvi(mdp, n_episodes=2, rng=0)  # compile / load the cache
    print(f"## Exploration engine, chain S={S}, A=2, H={H}, K={K}\n")
    for bonus in ("hoeffding", "bernstein"):
        t = _best_of(lambda: exploration.ucbvi(mdp, n_episodes=K, bonus=bonus, rng=0), args.repeats)
        rows[bonus] = K / t
        print(f"a. one core, {bonus:9s}: {K / t:10.0f} episodes/s")
    rng = np.random.default_rng(0)
    Phat = rng.random((H, S, 2, S))
    Phat /= Phat.sum(axis=-1, keepdims=True)
    R, bon, V = rng.random((H, S, 2)), rng.random((H, S, 2)), np.zeros((H + 1, S))
    dense_plan_pass(Phat, R, bon, V)
    n_pass = 20 if args.tiny else 200
    t_pass = _best_of(lambda: [dense_plan_pass(Phat, R, bon, V) for _ in range(n_pass)], args.repeats) / n_pass
    rows["bound"] = 1.0 / t_pass
    print(f"b. compute bound (one dense pass, {H * S * 2 * S} multiply-adds): {1 / t_pass:10.0f} passes/s; "
          f"engine / bound = {rows['bernstein'] * t_pass:.2f} (Bernstein), {rows['hoeffding'] * t_pass:.2f} (Hoeffding)")
    n_runs = 4
    t1 = _best_of(lambda: exploration.ucbvi(mdp, n_episodes=K, n_runs=n_runs, rng=0), args.repeats)
    nb.set_num_threads(min(2, nb.config.NUMBA_NUM_THREADS))
    t2 = _best_of(lambda: exploration.ucbvi(mdp, n_episodes=K, n_runs=n_runs, rng=0), args.repeats)
    rows["speedup2"] = t1 / t2
    print(f"c. batch of {n_runs} seeds, 2 threads vs 1: speed-up {t1 / t2:.2f}")
    rows["rlberry_ratio"] = rows["bernstein"] / RLBERRY_RECORDED_EPS
    print(f"d. against rlberry-scool UCBVIAgent's recorded {RLBERRY_RECORDED_EPS:g} episodes/s (recorded figure, "
          f"not measured side by side): {rows['rlberry_ratio']:.0f}x")
    return rows


if __name__ == "__main__":
    main()
