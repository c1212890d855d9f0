"""Run the victim sweep until done or killed: ``python -m tests._sweep_victim STORE BACKEND SLEEP``.

tests/test_sweep.py starts this in a subprocess, kills it half way and resumes in-process.
"""

import os
import sys

from labkit.sweep import sweep
from tests._sweep_funcs import VICTIM_CONFIGS, VICTIM_EXPERIMENT, VICTIM_N_SEEDS, VICTIM_SEED, slow_draws

if __name__ == "__main__":
    store_path, backend, sleep = sys.argv[1], sys.argv[2], float(sys.argv[3])
    os.environ["SWEEP_VICTIM_SLEEP"] = str(sleep)  # inherited by worker processes
    sweep(slow_draws, VICTIM_CONFIGS, n_seeds=VICTIM_N_SEEDS, seed=VICTIM_SEED, backend=backend,
          store=store_path, experiment=VICTIM_EXPERIMENT, n_workers=2, progress=False)
