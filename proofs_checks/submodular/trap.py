r"""The failure witness: without the bandit structure the greedy marginal-gain policy has no
constant-factor guarantee.

Prajapat, Mutný, Zeilinger & Krause (2024), *Submodular Reinforcement Learning*, ICLR,
arXiv:2307.13372: submodular RL is hard to approximate in general (Theorem 1, **[A]**), and the
constant factors hold on (epsilon-)bandit SMDPs only. On the deterministic trap family
:func:`mdps.trap_instance` (a near branch of ``n_near`` rewarding states ending in a dead end, a far
branch of ``n_far`` rewarding states behind a zero-weight corridor) the exact facts are **[R]**
(derivation in :func:`mdps.trap_instance`): ``OPT = n_far`` and greedy's value is ``n_near``, so
its ratio is ``n_near / n_far`` for ``n_far >= n_near``: below ``1 - 1/e`` from ``n_far = 4`` on
and to 0 as the instance grows.

``submodular.greedy_trap`` measures, from the lab's greedy policy evaluated by the exact recursion
over (stage, state, visited set) and the exact DP optimum, the largest deviation of the ratio from
``n_near / n_far`` over the family (expected 0 to ``1e-12``), and reports the smallest ratio.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import labkit
import mdps
from algorithms import submodular as sm
from labkit.check import Check, Outcome, register

__all__ = ["greedy_trap"]

PAPER = "Prajapat, Mutny, Zeilinger, Krause, Submodular Reinforcement Learning, ICLR 2024, arXiv:2307.13372"
N_NEAR = 2


def _trap_run(config, rng):
    mdp, f = mdps.trap_instance(N_NEAR, config["n_far"])
    opt = sm.submodular_optimum(mdp, f).value
    greedy = sm.history_policy_value(mdp, f, sm.greedy_policy(mdp, f))
    return {"opt": opt, "greedy": greedy, "ratio": greedy / opt, "theory": N_NEAR / config["n_far"]}


def _trap_measure(ctx) -> Outcome:
    fars = ctx.pick([2, 4, 8, 16, 32], [2, 4, 8, 16, 32, 64, 128])
    frame = ctx.sweep(_trap_run, labkit.expand_grid(n_far=fars), n_seeds=1)
    dev = float(np.abs(frame.ratio - frame.theory).max())
    smallest = float(frame.ratio.min())
    return Outcome(
        measured=dev, ci=(dev, dev), expected=0.0, relation="<=", tol=1e-12, data=frame, interval="exact",
        details=f"trap family, n_near = {N_NEAR}, n_far = {fars}: greedy / OPT = "
                f"{', '.join(f'{r:.4g}' for r in frame.ratio)} against n_near / n_far (largest deviation {dev:.1e}); "
                f"smallest ratio {smallest:.4g}, below 1 - 1/e = {1 - 1 / np.e:.4f} from n_far = 4 on: no constant "
                "factor without the bandit structure. OPT by the exact DP over (stage, state, visited set), greedy "
                "by the exact recursion.",
        extras={"smallest_ratio": smallest},
    )


def _trap_plot(result):
    from labkit.figures import PALETTE, legend, reference_line, subplots, theory_line

    frame = result.data.sort_values("n_far")
    fig, axes = subplots()
    ax = axes[0, 0]
    x = frame.n_far.to_numpy(dtype=float)
    ax.plot(x, frame.ratio, color=PALETTE[0], marker="o", linestyle="none", label="greedy / OPT (exact)")
    theory_line(ax, x, N_NEAR / x, label=r"$n_{near}/n_{far}$")
    reference_line(ax, 1 - 1 / np.e, label=r"$1 - 1/e$ (bandit SMDPs only)", color=PALETTE[2], linestyle=":")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel(r"far region size $n_{far}$")
    ax.set_ylabel("greedy / OPT")
    legend(ax, outside=True, ncols=2)
    return fig


greedy_trap = register(Check(
    name="submodular.greedy_trap",
    paper=PAPER + " (Theorem 1, hardness; the bandit structure of the positive results)",
    claim="Without the bandit structure greedy has no constant factor: on the deterministic trap family its "
          "ratio to the exact optimum is exactly n_near / n_far, below 1 - 1/e from n_far = 4 and going to 0.",
    tag="R", family="submodular", cost=(1, 5),
    measure=_trap_measure, plot=_trap_plot,
))
