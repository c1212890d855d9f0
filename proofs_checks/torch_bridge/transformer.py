r"""A tiny causal transformer trained with Nash-MD, Nash-MP and INPO reduces its exact exploitability.

Claim [U] (docs/theory/torch_bridge.md, section 'torch_bridge.transformer_exploitability'): the
policy is a :class:`algorithms.torch.TinyCausalTransformer` over responses of ``L = 3`` tokens from
``V = 3`` tokens (27 responses, enumerated), the game a random Bradley-Terry plus intransitive
preference game over them (:func:`algorithms.torch.sequence.sequence_preference_game`), the
reference another random tiny transformer's induced policy. Trained by
:func:`algorithms.torch.train_sequence_policy`, i.e. each outer step fits the network by 20 Adam
steps (learning rate 0.005) on ``KL(target || model)`` to the exact tabular update of Nash-MD (Munos et al. 2023, arXiv
2312.00886), Nash-MP (Tiapkin et al. 2025, arXiv 2505.19731) or INPO (Zhang et al. 2024, arXiv
2407.00617) of its current enumerated policy (the exact-oracle regime, not sampled RLHF), the
exact regularised exploitability ``E_beta`` of the model's enumerated policy after
``T = 20`` steps is at most half its initial value: ``E_beta(pi_T) / E_beta(pi_0) <= 1/2`` on every
run.

Why 1/2 (tag U, a lab construction): for the exact tabular iterates the papers prove convergence
to the regularised equilibrium (Nash-MP: ``KL(pi*, pi_t) <= (1 + eta beta)^{-t} KL(pi*, pi_0)``,
a factor ``1.1^{-20} = 0.15`` here; Nash-MD and INPO: convergence for these steps), and
``E_beta(pi) = 0`` exactly at ``pi*``. The network only approximates each step, so no bound
transfers to it; the issue asks for a clear reduction, and 1/2 is that margin, chosen before
the runs. The exact tabular algorithm from the same start is drawn as a reference (computed by
:mod:`algorithms.nash`, independently of the torch loop).

Discrepancy (docs/theory/torch_bridge.md): with learning rate 0.02 the full scale failed on one
game of ten (ratio 1.2, the exact tabular iterates 0.03 to 0.06); 0.005 was chosen after that run,
the bound unchanged. The distillation is not guaranteed to track the exact step.

Measured here: ``E_beta`` recomputed by ``game.exploitability`` (the tabular lab's closed form)
from the enumerated policy of the trained model itself (``response_log_policy``), not from the
loop's record. torch is imported only inside the measurement.
"""

from __future__ import annotations

import numpy as np

import labkit
from labkit.check import Check, register, worst_case

__all__ = ["transformer_exploitability"]

#: The documented bound on E_beta(pi_T) / E_beta(pi_0) (module docstring).
RATIO_BOUND = 0.5
BETA, ETA, N_STEPS, N_FIT, LR = 0.1, 1.0, 20, 20, 0.005
VOCAB, LENGTH = 3, 3

PAPER = ("R. Munos et al. 2023 (arXiv:2312.00886); D. Tiapkin et al. 2025 (arXiv:2505.19731); Y. Zhang et al. "
         "2024 (arXiv:2407.00617); distillation of the exact step: docs/theory/torch_bridge.md")

#: the torch algorithm name -> the tabular lab's function
TABULAR = {"nash_md": "nash_md", "nash_mp": "nash_mirror_prox", "inpo": "inpo"}


def _run(config, rng):
    import torch

    from algorithms import nash
    from algorithms.torch import sequence as sq

    seeds = rng.integers(0, 2**31 - 1, size=2)
    game = sq.sequence_preference_game(VOCAB, LENGTH, rng=int(seeds[0]))
    ref = sq.TinyCausalTransformer(VOCAB, LENGTH, seed=int(seeds[1]), init_scale=3.0, device="cpu")
    model = sq.TinyCausalTransformer(VOCAB, LENGTH, seed=int(seeds[1]), init_scale=3.0, device="cpu")  # = ref

    def enumerated(m):
        with torch.no_grad():
            p = sq.response_log_policy(m, LENGTH).exp().numpy()
        return p / p.sum()

    mu, pi0 = enumerated(ref), enumerated(model)
    res = sq.train_sequence_policy(model, game, ref, algorithm=config["algorithm"], beta=BETA, eta=ETA,
                                   n_steps=N_STEPS, n_fit=N_FIT, lr=LR, device="cpu", dtype=torch.float32)
    e0 = game.exploitability(pi0, beta=BETA, ref=mu)
    eT = game.exploitability(enumerated(model), beta=BETA, ref=mu)  # the trained model itself
    tab = getattr(nash, TABULAR[config["algorithm"]])(game, BETA, ETA, N_STEPS, ref=mu, init=pi0).policies
    curve = [game.exploitability(p, beta=BETA, ref=mu) for p in res.policies]
    exact = [game.exploitability(p, beta=BETA, ref=mu) for p in np.asarray(tab)]
    return [{"t": t, "model": curve[t] / e0, "tabular": exact[t] / e0, "e0": e0,
             "ratio": eT / e0} for t in range(N_STEPS + 1)]


def _measure(ctx):
    grid = labkit.expand_grid(algorithm=list(TABULAR))
    frame = ctx.sweep(_run, grid, n_seeds=ctx.pick(1, 10))
    final = frame[frame.t == N_STEPS]
    worst = final.groupby("algorithm")["ratio"].max()
    tab = final.groupby("algorithm")["tabular"].max()
    return worst_case(
        final["ratio"].to_numpy(), "<=", RATIO_BOUND, 0.0, frame,
        f"E_beta(pi_T) / E_beta(pi_0) of the tiny transformer's enumerated policy (V = {VOCAB}, L = {LENGTH}: "
        f"{VOCAB ** LENGTH} responses), T = {N_STEPS} outer steps of {N_FIT} Adam steps (lr {LR}) distilling the "
        f"exact update, beta = {BETA}, eta = {ETA}, over {len(final)} runs (random games and references, the "
        f"model starting as a copy of the reference; E_beta(pi_0) in [{final.e0.min():.3f}, "
        f"{final.e0.max():.3f}]). Worst per algorithm: "
        + "; ".join(f"{k} {v:.3f}" for k, v in worst.items())
        + ". The exact tabular iterates from the same start reach: "
        + "; ".join(f"{k} {v:.3f}" for k, v in tab.items()) + f". Bound {RATIO_BOUND} (a lab choice, tag U).",
    )


def _plot(result):
    from matplotlib.ticker import MaxNLocator

    from labkit.figures import MARKERS, PALETTE, figure_legend, reference_line, subplots

    data = result.data
    names = {"nash_md": "Nash-MD", "nash_mp": "Nash-MP", "inpo": "INPO"}
    fig, axes = subplots(1, 3, panel_aspect=1.0, sharey=True)
    lo = float(np.nanmin(data[["model", "tabular"]].to_numpy()))
    for i, (alg, ax) in enumerate(zip(names, axes[0])):
        grp = data[data.algorithm == alg]
        for j, (_, run) in enumerate(grp.groupby("replicate")):
            run = run.sort_values("t")
            ax.plot(run.t, run.model, color=PALETTE[0], marker=MARKERS[0], ms=2, lw=0.8, alpha=0.7,
                    **({"label": "tiny transformer (distilled)"} if j == 0 else {}))
            ax.plot(run.t, run.tabular, color=PALETTE[1], ls=":", lw=0.9, alpha=0.8,
                    **({"label": "exact tabular iterates, same start"} if j == 0 else {}))
        reference_line(ax, RATIO_BOUND, label=r"claimed at $T=%d$: ratio $\leq 1/2$" % N_STEPS)
        ax.set_yscale("log")
        ax.set_ylim(10 ** np.floor(np.log10(lo)), 1.5)
        ax.set_xlim(0, N_STEPS)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        ax.set_title(names[alg])
        ax.set_xlabel(r"outer step $t$")
    axes[0, 0].set_ylabel(r"$E_\beta(\pi_t) / E_\beta(\pi_0)$")
    figure_legend(fig, axes)
    return fig


transformer_exploitability = register(Check(
    name="torch_bridge.transformer_exploitability",
    paper=PAPER,
    claim="A tiny causal transformer over 27 enumerated 3-token responses, started at the reference and trained "
          "with Nash-MD, Nash-MP and INPO by distillation of the exact mirror step (exact-oracle regime), reduces "
          "its exact regularised exploitability to at most half its initial value in 20 steps.",
    tag="U", family="torch", requires=("torch",), install='pip install "rl-theory-lab[torch]"', cost=(5, 60),
    measure=_measure, plot=_plot,
))
