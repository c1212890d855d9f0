"""SubPO throughput: the compiled episode sampler and update against the NumPy path, and a batch of
seeds on two threads against one.

Instance: the coverage grid of notebook 07 scaled up, a ``G x G`` grid (five actions: four moves and
stay, deterministic), horizon ``H``, start in a corner, each cell's footprint covering itself and its
four neighbours, ``F`` = cells covered (``mdps.coverage_objective``); also facility location on the
same grid (similarity ``exp(-distance)``).

a. One SubPO run (tabular softmax, batch 64, leave-one-out baseline): iterations per second of
   ``algorithms.submodular.subpo`` (compiled kernel) and of the NumPy loop it replaces
   (``subrl._subpo_python``: ``_rollout`` + ``_estimate``), on the same random stream, and their
   ratio. Medians of interleaved repeats, one thread.
b. Sampling only: episodes per second of the compiled sampler (``subrl._sample``) and of
   ``subrl._rollout`` (marginal gains included), and their ratio.
c. ``n_runs = 8`` seeds on two threads against one (a ``prange`` over runs), next to the machine's
   ceiling at that moment (the exploration benchmark's pure arithmetic ``prange`` loop, timed
   interleaved): on a shared machine it falls below 2 when other jobs hold a core.

Run: ``python -m benchmarks.bench_submodular`` (``--tiny`` for a smoke run). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os

import numba as nb
import numpy as np

import mdps
from algorithms import submodular as sm
from algorithms.submodular import subrl
from benchmarks._timing import interleaved_medians
from benchmarks.bench_exploration import arithmetic_prange


def _grid(G: int, H: int):
    mdp = mdps.gridworld((G, G), horizon=H, start=(0, 0))
    coords = np.array(mdps.gridworld_states((G, G)))
    dist = np.abs(coords[:, None] - coords[None]).sum(-1)
    return mdp, {"coverage": mdps.coverage_objective(dist <= 1),
                 "facility_location": mdps.facility_location_objective(np.exp(-dist))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    G, H = (4, 6) if args.tiny else (10, 30)
    n_iter, batch = (3, 16) if args.tiny else (20, 64)
    mdp, objectives = _grid(G, H)
    rows = {}
    before = nb.get_num_threads()
    load = os.getloadavg()
    print(f"## SubPO, {G}x{G} grid (S={mdp.n_states}, A=5), H={H}, batch {batch}, {n_iter} iterations per run; "
          f"medians of {args.repeats} interleaved repeats; load average {load[0]:.2f} / {load[1]:.2f} "
          f"(1 / 5 min) on {os.cpu_count()} cores\n")
    try:
        nb.set_num_threads(1)
        for name, f in objectives.items():
            _, P = subrl._setup(mdp, f)
            theta0 = np.zeros((H, mdp.n_states, 5)).ravel()
            sm.subpo(mdp, f, n_iter=1, batch_size=2, rng=0)  # compile / load the cache
            t = interleaved_medians({
                "compiled": lambda: sm.subpo(mdp, f, n_iter=n_iter, batch_size=batch, rng=0),
                "numpy": lambda: subrl._subpo_python(mdp, P, f, theta0, None, n_iter, batch, 0.5, "loo", False,
                                                     np.random.default_rng(0)),
            }, args.repeats)
            rows[f"{name}_iter_speedup"] = t["numpy"] / t["compiled"]
            print(f"a. {name:17s} SubPO: compiled {n_iter / t['compiled']:8.1f} it/s, NumPy "
                  f"{n_iter / t['numpy']:8.1f} it/s, ratio {rows[f'{name}_iter_speedup']:.1f}x")
            pi = sm.softmax_policy(np.random.default_rng(1).standard_normal((H, mdp.n_states, 5)))
            n = 4 * batch
            t = interleaved_medians({
                "compiled": lambda: subrl._sample(mdp, P, f, pi, n, np.random.default_rng(0)),
                "numpy": lambda: subrl._rollout(P, mdp.rho, pi, f, n, np.random.default_rng(0)),
            }, args.repeats)
            rows[f"{name}_sample_speedup"] = t["numpy"] / t["compiled"]
            print(f"b. {name:17s} sampling: compiled {n / t['compiled']:10.0f} episodes/s, NumPy "
                  f"{n / t['numpy']:10.0f} episodes/s, ratio {rows[f'{name}_sample_speedup']:.1f}x")
        f = objectives["coverage"]
        two = min(2, nb.config.NUMBA_NUM_THREADS)

        def at(threads):
            def run():
                nb.set_num_threads(threads)
                sm.subpo(mdp, f, n_iter=n_iter, batch_size=batch, n_runs=8, rng=0)
            return run

        out = np.zeros(8)
        n_arith = 200_000 if args.tiny else 20_000_000

        def arith(threads):
            def run():
                nb.set_num_threads(threads)
                arithmetic_prange(n_arith, out)
            return run

        t = interleaved_medians({"one": at(1), "two": at(two), "c1": arith(1), "c2": arith(two)}, args.repeats)
        rows["speedup2"] = t["one"] / t["two"]
        rows["ceiling2"] = t["c1"] / t["c2"]
        print(f"c. 8 seeds (coverage): one thread {t['one']:.3f} s, {two} threads {t['two']:.3f} s, "
              f"speed-up {rows['speedup2']:.2f}; the machine's ceiling now (arithmetic prange loop): "
              f"{rows['ceiling2']:.2f}")
    finally:
        nb.set_num_threads(before)
    return rows


if __name__ == "__main__":
    main()
