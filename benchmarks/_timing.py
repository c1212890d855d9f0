"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import time

import numpy as np


def interleaved_medians(fns: dict, repeats: int) -> dict:
    """Median time of each function, timed round-robin so that load changes hit all alike.

    Every function is called once first (warm-up, and Numba compilation)."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(t)) for name, t in times.items()}
