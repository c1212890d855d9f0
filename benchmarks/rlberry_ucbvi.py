"""Time rlberry-scool's ``UCBVIAgent`` on a given finite MDP (run by *rlberry-scool's* interpreter).

This file imports only NumPy and rlberry / rlberry-scool, so that the interpreter of a separate
environment holding rlberry-scool can run it; :mod:`benchmarks.bench_exploration` calls it in a
subprocess and reads the one JSON line it prints last.

Usage: ``python rlberry_ucbvi.py MODEL.npz HORIZON N_EPISODES REPEATS``, where ``MODEL.npz`` holds
the stationary kernel ``P`` ``(S, A, S)``, the mean rewards ``R`` ``(S, A)`` and the initial
state ``s0``. The MDP is rlberry's ``FiniteMDP(R, P, initial_state_distribution=s0)`` and the
agent ``UCBVIAgent(env, gamma=1.0, horizon=H, bonus_scale_factor=1.0, stage_dependent=False)``
(its default "simplified_bernstein" bonus, full backward induction after every episode). Each
repeat builds a fresh agent and times ``agent.fit(N_EPISODES)``; the line printed is
``{"episodes_per_s": [...], "version": ...}``.
"""

import json
import logging
import sys
import time

import numpy as np


def main(argv):
    path, horizon, n_episodes, repeats = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    import rlberry_scool
    from rlberry.envs.finite_mdp import FiniteMDP
    from rlberry_scool.agents.ucbvi import UCBVIAgent

    logging.getLogger("rlberry_logger").setLevel(logging.WARNING)
    model = np.load(path)
    rates = []
    for rep in range(repeats):
        env = FiniteMDP(model["R"].copy(), model["P"].copy(), initial_state_distribution=int(model["s0"]))
        agent = UCBVIAgent(env, gamma=1.0, horizon=horizon, bonus_scale_factor=1.0, stage_dependent=False,
                           seeder=rep)
        t0 = time.perf_counter()
        agent.fit(n_episodes)
        rates.append(n_episodes / (time.perf_counter() - t0))
    print(json.dumps({"episodes_per_s": rates, "version": getattr(rlberry_scool, "__version__", "unknown")}))


if __name__ == "__main__":
    main(sys.argv[1:])
