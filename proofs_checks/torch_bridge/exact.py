r"""The torch bridge in exact mode: torch iterates equal the Numba lab's iterates.

Claim [R] (docs/theory/torch_bridge.md, section 'torch_bridge.exact_iterates'): each Nash-learning
update is a closed-form geometric step on log-policies (docs/theory/nash.md, section 'Closed-form
prox steps'). Applied to the logits of a float64 :class:`algorithms.torch.TabularSoftmaxPolicy`
on the CPU, with exact win rates ``Pref pi``, the torch updates of :mod:`algorithms.torch.nash`
must reproduce the iterates of :mod:`algorithms.nash` (compiled with Numba) on the same
preference game, reference, start and step sizes, up to floating-point rounding: the two
evaluate the same formula in a different order, and every update here is a contraction of the
log-policy or close to one, so the gap stays at the rounding level. The theorem's figure is 0;
the tolerance 1e-10 is the issue's (float64 rounding of ~1e3 steps, each adding about 1e-16,
with a margin of 1e3).

Papers: Nash-MP, Tiapkin et al. (2025), arXiv 2505.19731; Nash-MD, Munos et al. (2023),
arXiv 2312.00886; OMD / INPO, Zhang et al. (2024), arXiv 2407.00617.

Measured here: ``max_t max_y |pi_t^torch(y) - pi_t^lab(y)|`` over every iterate of every run,
from the two sets of returned iterates (neither implementation reports a number about itself),
on random tournaments (K = 3, 5, 10), rock-paper-scissors, a 6-cycle and a contextual game
(X = 3 contexts, K = 4), with random non-uniform references, at two regularisations.

torch is imported only inside the measurement: the check is registered without torch and
listed as unavailable (``requires=("torch",)``) where torch is missing.
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from labkit.check import Check, register, worst_case
from mdps import preference_generators as pg
from proofs_checks.nash._instances import game, random_ref

__all__ = ["exact_iterates"]

#: The issue's tolerance on the iterate gap (float64 rounding; module docstring).
ITERATE_TOL = 1e-10

PAPER = ("D. Tiapkin et al. 2025 (arXiv:2505.19731); R. Munos et al. 2023 (arXiv:2312.00886); Y. Zhang et al. "
         "2024 (arXiv:2407.00617); exactness derived in docs/theory/torch_bridge.md")

#: label -> (function name, the same in algorithms.nash and algorithms.torch.nash; keyword arguments; step rule)
ALGORITHMS = {
    "Nash-MP (step 2)": ("nash_mirror_prox", {}, "two"),
    "Nash-MD (decaying)": ("nash_md", {"schedule": "decaying"}, "inverse_beta"),
    "OMD (linearised prox)": ("online_mirror_descent", {}, "half"),
    "OMD (exact prox)": ("online_mirror_descent", {"prox": "exact"}, "two"),
    "INPO (closed form)": ("inpo", {}, "half"),
}


def _eta(rule: str, beta: float) -> float:
    if rule == "two":
        return 2.0
    if rule == "inverse_beta":
        return 1.0 / beta
    return min(0.5, 1.0 / beta)


def _instance(kind: str, K: int, rng):
    if kind == "contextual":
        X = 3
        P = np.stack([pg.uniform_tournament(K, rng=rng).Pref for _ in range(X)])
        ref = np.stack([random_ref(K, rng) for _ in range(X)])
        return mdps.PreferenceGame(P), ref
    g = game(kind, K, rng)
    return g, random_ref(g.n_responses, rng)


def _exact_run(config, rng):
    from algorithms import nash
    from algorithms.torch import nash as tnash

    g, ref = _instance(config["kind"], config["K"], rng)
    beta = config["beta"]
    name, kw, rule = ALGORITHMS[config["algorithm"]]
    eta = _eta(rule, beta)
    lab = np.asarray(getattr(nash, name)(g, beta, eta, config["n_iter"], ref=ref, **kw).policies)
    if lab.ndim == 2:
        lab = lab[:, None, :]
    torch_pis = getattr(tnash, name)(g, beta, eta, config["n_iter"], ref=ref, **kw).numpy()
    gap = np.abs(torch_pis - lab).max(axis=(1, 2))
    return {"max_gap": float(gap.max()), "final_gap": float(gap[-1]), "n_contexts": int(g.n_contexts),
            "n_responses": int(g.n_responses)}


def _measure(ctx):
    grid = [dict(c, n_iter=ctx.pick(100, 1000)) for c in labkit.expand_grid(
        algorithm=list(ALGORITHMS), kind=["tournament", "rps", "cycle", "contextual"], beta=[0.1, 1.0])]
    grid = [dict(c, K={"tournament": 5, "rps": 3, "cycle": 6, "contextual": 4}[c["kind"]]) for c in grid]
    grid += [dict(algorithm=a, kind="tournament", beta=0.3, K=K, n_iter=ctx.pick(100, 1000))
             for a in ALGORITHMS for K in (3, 10)]
    frame = ctx.sweep(_exact_run, grid, n_seeds=ctx.pick(1, 5))
    worst = frame.groupby("algorithm")["max_gap"].max()
    return worst_case(
        frame["max_gap"].to_numpy(), "<=", 0.0, ITERATE_TOL, frame,
        f"max over every iterate t = 0..{int(frame.n_iter.max())} and response of |pi_t(torch) - pi_t(Numba lab)|, "
        f"float64 on the CPU, exact win rates, over {len(frame)} runs ({len(ALGORITHMS)} updates x random "
        f"tournaments K = 3, 5, 10, rock-paper-scissors, a 6-cycle and a contextual game X = 3, K = 4; random "
        f"non-uniform references; beta in 0.1, 0.3, 1). Worst per update: "
        + "; ".join(f"{k} {v:.1e}" for k, v in worst.items()) + f". Tolerance {ITERATE_TOL:g} (rounding).",
    )


def _plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, subplots

    data = result.data
    floor = 1e-18
    gaps = data.assign(gap=data["max_gap"].clip(lower=floor))
    order = gaps.groupby("algorithm")["gap"].max().sort_values().index
    fig, axes = subplots(panel_aspect=0.9)
    ax = axes[0, 0]
    rows = {a: i for i, a in enumerate(order)}
    y = gaps["algorithm"].map(rows).to_numpy(dtype=float)
    ax.scatter(gaps["gap"], y, s=9, color=PALETTE[0], marker=MARKERS[0], alpha=0.5, lw=0,
               label=r"one run (game, $\beta$)")
    worst = gaps.groupby("algorithm")["gap"].max().reindex(order)
    ax.scatter(worst.to_numpy(), np.arange(len(order)), s=28, color=PALETTE[5], marker=MARKERS[4],
               label="worst run")
    eps = ax.axvline(np.finfo(np.float64).eps, color="0.6", ls=":", lw=0.9, label="float64 machine epsilon")
    eps.set_gid("reference")
    line = ax.axvline(ITERATE_TOL, color="0.15", ls="--", lw=0.9, label="tolerance (theorem: gap 0)")
    line.set_gid("theory")
    labels = list(order)
    ax.set_yticks(np.arange(len(order)), labels)
    ax.set_ylim(-0.6, len(order) - 0.4)
    ax.set_xscale("log")
    lo = min(float(gaps["gap"].min()), np.finfo(np.float64).eps)
    ax.set_xlim(lo / 3, 3 * max(ITERATE_TOL, float(worst.max())))
    zero = " (a gap of 0 drawn at 1e-18)" if (data["max_gap"] <= 0).any() else ""
    ax.set_xlabel(r"$\max_t \|\pi_t^{\mathrm{torch}} - \pi_t^{\mathrm{lab}}\|_\infty$" + zero)
    ax.tick_params(axis="y", labelsize=6)
    legend(ax, outside=True)
    return fig


exact_iterates = register(Check(
    name="torch_bridge.exact_iterates",
    paper=PAPER,
    claim="In float64 on the CPU, the torch bridge's Nash-MP, Nash-MD, OMD (both proxes) and INPO updates on a "
          "tabular softmax policy reproduce the Numba lab's iterates on the same preference game (gap 0 up to "
          "rounding, tolerance 1e-10).",
    tag="R", family="torch", requires=("torch",), install='pip install "rl-theory-lab[torch]"', cost=(3, 30),
    measure=_measure, plot=_plot,
))
