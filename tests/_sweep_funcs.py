"""Sweep targets for tests/test_sweep.py: module-level, so worker processes can import them."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd


def draws(config, rng):
    """A few random numbers per run, as a tidy frame (one row per step)."""
    n = int(config.get("n", 3))
    x = rng.normal(loc=float(config.get("mu", 0.0)), size=n)
    return pd.DataFrame({"step": np.arange(n, dtype=np.int64), "x": x, "u": rng.random(n)})


def one_row(config, rng):
    return {"value": float(rng.random()) * config["scale"], "label": f"s{config['scale']}"}


def rows(config, rng):
    return [{"t": t, "y": float(rng.standard_normal())} for t in range(config["T"])]


def slow_draws(config, rng):
    """Sleeps ``$SWEEP_VICTIM_SLEEP`` seconds (default 0) so a sweep can be killed half way, then draws.

    The sleep is read from the environment, not the config, so that it does not enter the run
    keys: the victim sleeps, the in-process resume and reference runs do not.
    """
    time.sleep(float(os.environ.get("SWEEP_VICTIM_SLEEP", "0")))
    return draws(config, rng)


def fails_on_three(config, rng):
    if config["k"] == 3:
        raise ValueError("k = 3 is unlucky")
    return {"k2": config["k"] * 2, "r": float(rng.random())}


def sometimes_empty(config, rng):
    return [] if config["k"] % 2 else [{"count": config["k"], "r": float(rng.random())}]


def bad_output(config, rng):
    return np.zeros(3)


#: The sweep that tests/_sweep_victim.py runs and tests/test_sweep.py interrupts: 40 runs.
VICTIM_EXPERIMENT = "victim.slow_draws"
VICTIM_SEED = 7
VICTIM_N_SEEDS = 4


VICTIM_CONFIGS = [{"n": 3, "mu": float(mu)} for mu in range(10)]


def blas_threads(config, rng):
    """The thread caps a worker process sees (the parent sets them before spawning workers)."""
    return {"openblas": os.environ.get("OPENBLAS_NUM_THREADS", ""), "omp": os.environ.get("OMP_NUM_THREADS", ""),
            "pid": os.getpid()}


def sleepy_pid(config, rng):
    """Writes this worker's pid to ``$SWEEP_PID_DIR`` and sleeps: a target for killing the parent."""
    with open(os.path.join(os.environ["SWEEP_PID_DIR"], f"{os.getpid()}.pid"), "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(60)
    return {"pid": os.getpid()}
