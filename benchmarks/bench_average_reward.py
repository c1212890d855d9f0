"""UCRL2 batches: ``n_runs`` runs in one parallel call against the same runs one call at a time.

Instance: RiverSwim(S = 20) (average reward), T = 300,000 steps per run, 4 runs. Timed in one process,
round-robin after a warm-up that triggers Numba compilation (``benchmarks._timing.interleaved_medians``):

1. ``ucrl2(mdp, n_steps=T, n_runs=4, rng=0)`` with 1 thread and with 2 threads;
2. the same four runs as four single calls with the child seeds (``rng=SeedSequence(0).spawn(4)[i]``),
   whose outputs are equal bit for bit (asserted here, as in ``tests/test_ucrl_batch.py``).

Printed ratios: batch on 2 threads / batch on 1 thread (the parallel speed-up; the ceiling is the number
of free cores) and four single calls / batch on 1 thread (the per-call overhead: the gain LP and the
tables are computed once per call).

Usage::

    python -m benchmarks.bench_average_reward            # S = 20, T = 300,000
    python -m benchmarks.bench_average_reward --tiny     # a seconds-long smoke run
"""

from __future__ import annotations

import argparse

import numba as nb
import numpy as np

import mdps
from algorithms import average_reward as ar
from benchmarks._timing import interleaved_medians


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    S, T, n = (5, 500, 4) if args.tiny else (20, 300_000, 4)
    mdp = mdps.river_swim(S)
    children = np.random.SeedSequence(0).spawn(n)
    two = min(2, nb.config.NUMBA_NUM_THREADS)
    old = nb.get_num_threads()

    def batch(threads):
        def run():
            nb.set_num_threads(threads)
            return ar.ucrl2(mdp, n_steps=T, n_runs=n, rng=0)
        return run

    def singles():
        nb.set_num_threads(1)
        return [ar.ucrl2(mdp, n_steps=T, rng=c) for c in children]

    b, s = batch(1)(), singles()
    assert all(np.array_equal(b.run(i).states, s[i].states) for i in range(n)), "batch rows differ from single runs"
    try:
        t = interleaved_medians({"b1": batch(1), "b2": batch(two), "singles": singles}, args.repeats)
    finally:
        nb.set_num_threads(old)
    rows = [{"S": S, "T": T, "n_runs": n, "batch1_s": t["b1"], "batch2_s": t["b2"], "singles_s": t["singles"],
             "speedup2": t["b1"] / t["b2"], "singles_over_batch": t["singles"] / t["b1"]}]
    r = rows[0]
    print(f"RiverSwim S={S}, T={T}, {n} runs: batch {r['batch1_s']:.3f} s (1 thread), {r['batch2_s']:.3f} s "
          f"({two} threads; speed-up {r['speedup2']:.2f}); {n} single calls {r['singles_s']:.3f} s "
          f"(ratio to the 1-thread batch {r['singles_over_batch']:.2f}); rows identical bit for bit")
    return rows


if __name__ == "__main__":
    main()
