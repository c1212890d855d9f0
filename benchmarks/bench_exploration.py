"""Exploration engine throughput: UCBVI episodes per second on the chain MDP (S = 50, A = 2,
H = 50), against the compute bound, two threads, and rlberry-scool measured side by side.

a. One core: episodes/second of ``algorithms.exploration.ucbvi`` (Hoeffding and Bernstein,
   bonus_scale = 1) on ``mdps.chain(50, horizon=50)``; medians of interleaved repeats.
b. The compute bound: one dense optimistic planning pass, ``H S A S`` multiply-adds on a full
   empirical kernel, timed alone in this process (a Numba loop); its inverse is the episodes per
   second a dense planner could reach at best. The engine backs up only the successors seen so
   far, so it may beat this bound on sparse instances.
c. Two threads (Numba ``prange`` over runs) for a batch of seeds against one, next to the
   machine's own ceiling at that moment: the same 1-vs-2-thread ratio of a pure arithmetic
   ``prange`` loop (no memory traffic) timed interleaved with the engine. On a shared machine
   the ceiling falls below 2 when other jobs hold a core; the load average is printed.
d. rlberry-scool's ``UCBVIAgent`` (its default "simplified Bernstein" bonus, stationary
   estimates, full backward induction each episode) on the same chain built as rlberry's
   ``FiniteMDP``: run by the interpreter of a separate environment holding rlberry-scool
   (``--rlberry-python``, default ``$RLBERRY_PYTHON``, e.g. made by
   ``python3 -m venv rlb && rlb/bin/pip install rlberry-scool``) in a subprocess
   with one BLAS thread, ``K = 30`` episodes per repeat (:mod:`benchmarks.rlberry_ucbvi`).
   Skipped, with a message, when that interpreter does not exist or under ``--tiny``.

Run: ``python -m benchmarks.bench_exploration`` (``--tiny`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numba as nb
import numpy as np

import mdps
from algorithms import exploration
from benchmarks._timing import interleaved_medians

DEFAULT_RLBERRY_PYTHON = ""  # no default location: name the interpreter


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


@nb.njit(cache=True, parallel=True)
def arithmetic_prange(n, out):
    """The machine's parallel ceiling: ``out.shape[0]`` independent arithmetic loops."""
    for i in nb.prange(out.shape[0]):
        acc = 0.0
        for k in range(n):
            acc += math_sqrt(k + i + 1.0)
        out[i] = acc


@nb.njit(cache=True)
def math_sqrt(x):
    return np.sqrt(x)


def rlberry_episodes_per_s(python, mdp, n_episodes, repeats):
    """Median episodes/s of rlberry-scool's UCBVIAgent on ``mdp`` (stationary), in a subprocess."""
    script = Path(__file__).with_name("rlberry_ucbvi.py")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", OMP_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "chain.npz")
        np.savez(path, P=mdp.P, R=mdp.R, s0=int(np.argmax(mdp.rho)))
        out = subprocess.run([python, str(script), path, str(mdp.horizon), str(n_episodes), str(repeats)],
                             capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"rlberry-scool run failed:\n{out.stderr[-2000:]}")
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    return float(np.median(rec["episodes_per_s"])), rec["version"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rlberry-python", default=os.environ.get("RLBERRY_PYTHON", DEFAULT_RLBERRY_PYTHON))
    p.add_argument("--rlberry-episodes", type=int, default=30)
    args = p.parse_args(argv)
    S, H = (10, 10) if args.tiny else (50, 50)
    K = 50 if args.tiny else 2000
    mdp = mdps.chain(S, horizon=H)
    rows = {}
    nb.set_num_threads(1)
    exploration.ucbvi(mdp, n_episodes=2, rng=0)  # compile / load the cache
    load = os.getloadavg()
    print(f"## Exploration engine, chain S={S}, A=2, H={H}, K={K}; medians of {args.repeats} interleaved "
          f"repeats; load average {load[0]:.2f} / {load[1]:.2f} (1 / 5 min) on {os.cpu_count()} cores\n")
    t = interleaved_medians({b: (lambda b=b: exploration.ucbvi(mdp, n_episodes=K, bonus=b, rng=0))
                             for b in ("hoeffding", "bernstein")}, args.repeats)
    for bonus in ("hoeffding", "bernstein"):
        rows[bonus] = K / t[bonus]
        print(f"a. one core, {bonus:9s}: {rows[bonus]:10.0f} episodes/s")
    rng = np.random.default_rng(0)
    Phat = rng.random((H, S, 2, S))
    Phat /= Phat.sum(axis=-1, keepdims=True)
    R, bon, V = rng.random((H, S, 2)), rng.random((H, S, 2)), np.zeros((H + 1, S))
    n_pass = 20 if args.tiny else 200
    t_pass = interleaved_medians({"pass": lambda: [dense_plan_pass(Phat, R, bon, V) for _ in range(n_pass)]},
                                 args.repeats)["pass"] / n_pass
    rows["bound"] = 1.0 / t_pass
    rows["bound_ratio_bernstein"] = rows["bernstein"] * t_pass
    rows["bound_ratio_hoeffding"] = rows["hoeffding"] * t_pass
    print(f"b. compute bound (one dense pass, {H * S * 2 * S} multiply-adds): {1 / t_pass:10.0f} passes/s; "
          f"engine / bound = {rows['bound_ratio_bernstein']:.2f} (Bernstein), "
          f"{rows['bound_ratio_hoeffding']:.2f} (Hoeffding)")
    n_runs = 4
    two = min(2, nb.config.NUMBA_NUM_THREADS)
    out = np.zeros(n_runs)
    n_arith = 200_000 if args.tiny else 20_000_000

    def at(threads, fn):
        def timed():
            nb.set_num_threads(threads)
            fn()
        return timed

    batch = lambda: exploration.ucbvi(mdp, n_episodes=K, n_runs=n_runs, rng=0)  # noqa: E731
    arith = lambda: arithmetic_prange(n_arith, out)  # noqa: E731
    t = interleaved_medians({"e1": at(1, batch), "e2": at(two, batch), "c1": at(1, arith), "c2": at(two, arith)},
                            args.repeats)
    nb.set_num_threads(1)
    rows["speedup2"] = t["e1"] / t["e2"]
    rows["ceiling2"] = t["c1"] / t["c2"]
    print(f"c. batch of {n_runs} seeds, {two} threads vs 1: speed-up {rows['speedup2']:.2f}; the machine's "
          f"ceiling now (arithmetic prange loop): {rows['ceiling2']:.2f}; engine / ceiling "
          f"{rows['speedup2'] / rows['ceiling2']:.2f}")
    rows["rlberry"] = None
    if args.tiny:
        print("d. rlberry-scool UCBVIAgent: skipped (--tiny)")
    elif not os.path.exists(args.rlberry_python):
        print(f"d. rlberry-scool UCBVIAgent: skipped (no interpreter at {args.rlberry_python}; "
              f"pass --rlberry-python or set RLBERRY_PYTHON)")
    else:
        k_rl = args.rlberry_episodes
        eps_rl, version = rlberry_episodes_per_s(args.rlberry_python, mdp, k_rl, max(1, min(args.repeats, 3)))
        rows["rlberry"] = eps_rl
        rows["rlberry_ratio"] = rows["bernstein"] / eps_rl
        rows["rlberry_ratio_hoeffding"] = rows["hoeffding"] / eps_rl
        print(f"d. rlberry-scool {version} UCBVIAgent, same chain, K={k_rl}, measured side by side: "
              f"{eps_rl:.1f} episodes/s; engine / rlberry = {rows['rlberry_ratio']:.0f}x (Bernstein), "
              f"{rows['rlberry_ratio_hoeffding']:.0f}x (Hoeffding)")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
