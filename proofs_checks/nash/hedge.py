r"""Hedge self-play on preference games: the average iterate's exploitability bound, and the
last iterate's drift away from an interior equilibrium.

References: N. Cesa-Bianchi and G. Lugosi, *Prediction, Learning, and Games* (2006), Thm 2.2
(exponentially weighted forecaster: regret <= sqrt(T log K / 2) with eta = sqrt(8 log K / T)
for payoffs in [0, 1]); in self-play ``pi_t^T P pi_t = 1/2``, so ``E_0(average) = regret / T``
(docs/theory/nash.md, section 'Hedge'). Bailey & Piliouras 2018 for the last iterate: for Hedge on a
zero-sum game with an interior equilibrium ``pi*``,
``KL(pi*, pi_{t+1}) - KL(pi*, pi_t) = log sum_y pi_t(y) e^{eta (P pi_t)_y} - eta <pi*, P pi_t>``,
which is ``>= 0`` by Jensen's inequality when ``<pi*, P pi_t> = 1/2 = <pi_t, P pi_t>`` (true for
rock-paper-scissors with ``pi*`` uniform).
"""

from __future__ import annotations


import numpy as np
import pandas as pd

import labkit
import mdps
from algorithms import nash
from labkit.check import Check, Outcome, register, worst_case
from mdps import preference_generators as pg
from proofs_checks.nash._instances import game, kl_path

__all__ = ["hedge_average_iterate", "hedge_last_iterate_cycles"]

CL06 = "N. Cesa-Bianchi and G. Lugosi 2006, Thm 2.2"


def _hedge_run(config, rng):
    K, T = config["K"], config["T"]
    g = game(config["game"], K, rng)
    K = g.n_responses
    eta = nash.hedge_step(K, T)
    res = nash.online_mirror_descent(g, 0.0, eta, T, init=np.full(K, 1.0 / K))
    # the average iterate, computed here from the played iterates pi_0 .. pi_{T-1} (constant step)
    average = res.policies[:-1].mean(axis=0)
    return {"K_eff": K, "eta": eta, "avg_exploitability": g.exploitability(average),
            "reported_average_gap": float(np.abs(average - res.average_policy).max()),
            "last_exploitability": g.exploitability(res.policy), "bound": float(nash.hedge_exploitability_bound(K, T))}


def _hedge_measure(ctx) -> Outcome:
    Ts = ctx.pick([100, 1000, 10000], [100, 1000, 10000, 100000])
    grid = labkit.expand_grid(game=["tournament"], K=[3, 10, 50], T=Ts)
    grid += labkit.expand_grid(game=["rps"], K=[3], T=Ts)
    frame = ctx.sweep(_hedge_run, grid, n_seeds=ctx.pick(3, 10))
    ratio = (frame["avg_exploitability"] / frame["bound"]).to_numpy()
    return worst_case(
        ratio, "<=", 1.0, 0.0, frame,
        f"E_0(average of the played iterates) / sqrt(log K / (2T)) for Hedge self-play with eta = "
        f"sqrt(8 log K/T), uniform start, over {len(frame)} runs (uniform tournaments K in {{3, 10, 50}}, "
        f"rock-paper-scissors; T up to {frame['T'].max()}); the average is computed by the check from the "
        f"iterates (the algorithm's own average_policy differs from it by at most "
        f"{frame.reported_average_gap.max():.1e}); the last iterate's exploitability stays up to "
        f"{frame.last_exploitability.max():.3f}.",
    )


def _hedge_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, subplots, theory_line

    fig, axes = subplots()
    ax = axes[0, 0]
    trivial = []
    for i, ((kind, K), g) in enumerate(result.data.groupby(["game", "K"])):
        med = g.groupby("T")["avg_exploitability"].median()
        name = f"{'rock-paper-scissors' if kind == 'rps' else 'tournament'}, K={K}"
        if not (med > 0).any():  # started at its equilibrium: E_0 = 0 cannot be drawn on a log axis
            trivial.append(name)
            continue
        color = PALETTE[i % len(PALETTE)]
        ax.plot(med.index, med.to_numpy(), marker=MARKERS[i % len(MARKERS)], color=color, label=f"{name} (median)")
        theory_line(ax, med.index, nash.hedge_exploitability_bound(K, med.index.to_numpy()), color=color,
                    label=r"theorem: $\sqrt{\log K/(2T)}$" if i == 1 else "_theorem")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("iterations T")
    ax.set_ylabel(r"$E_0(\bar\pi_T)$, average iterate")
    if trivial:
        ax.set_title(f"{', '.join(trivial)}: E0 = 0 at every T (uniform start is its equilibrium)", fontsize=5)
    legend(ax, fontsize=5)
    return fig


hedge_average_iterate = register(Check(
    name="hedge.average_iterate_exploitability",
    paper=CL06 + "; self-play reduction in docs/theory/nash.md, section 'Hedge'",
    claim="Hedge self-play with eta = sqrt(8 log K/T) has average-iterate exploitability at most "
          "sqrt(log K/(2T)) on any preference game.",
    tag="R", family="nash", cost=(3, 30),
    measure=_hedge_measure, plot=_hedge_plot,
))


#: The identity for the KL increment holds to round-off of logs of O(1) numbers.
IDENTITY_TOL = 1e-12


def _cycle_run(config, rng):
    g = pg.rock_paper_scissors(config["p"])
    eta, T = config["eta"], config["T"]
    init = mdps.softmax(rng.standard_normal(3))
    res = nash.online_mirror_descent(g, 0.0, eta, T, init=init)
    pi_star = np.full(3, 1 / 3)
    kl = kl_path(pi_star, res.policies)
    pis = res.policies[:-1]
    v = pis @ np.asarray(g.Pref).T  # (P pi_t)_y
    predicted = np.log((pis * np.exp(eta * v)).sum(axis=1)) - eta * (v @ pi_star)
    ts = labkit.checkpoints(T, 60)
    return pd.DataFrame({"t": ts, "kl": kl[ts], "min_increment": float(np.diff(kl).min()),
                         "identity_error": float(np.abs(np.diff(kl) - predicted).max()),
                         "exploitability": [g.exploitability(res.policies[t]) for t in ts]})


def _cycle_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(p=[1.0, 0.8], eta=[0.05, 0.5], T=[ctx.pick(2000, 20000)])
    frame = ctx.sweep(_cycle_run, grid, n_seeds=ctx.pick(3, 10))
    runs = frame.groupby(["p", "eta", "replicate"])
    incr = runs["min_increment"].first().to_numpy()
    ident = runs["identity_error"].first().to_numpy()
    final_expl = runs["exploitability"].last()
    # every run must have non-decreasing KL, and increments equal to the Jensen gap
    worst = np.maximum(-incr, ident)
    return worst_case(
        worst, "<=", 0.0, IDENTITY_TOL, frame,
        "max over runs of the largest of -(smallest one-step change of KL) and the largest deviation of an "
        "increment from the Jensen-gap identity, for Hedge self-play (beta = 0) on rock-paper-scissors (p in "
        "{1, 0.8}), "
        f"{len(incr)} runs: smallest one-step change of KL(uniform, pi_t) {incr.min():.2e} (>= 0: KL to the "
        "interior equilibrium never decreases, so the last iterate cannot converge); largest deviation of "
        f"each increment from the exact Jensen-gap identity {ident.max():.1e}; final exploitability "
        f"{final_expl.min():.3f}..{final_expl.max():.3f}.",
    )


def _cycle_plot(result):
    from labkit.figures import legend, reference_line, subplots

    fig, axes = subplots()
    ax = axes[0, 0]
    data = result.data.copy()
    first = data.sort_values("t").groupby(["p", "eta", "replicate"])["kl"].transform("first")
    data["rel"] = data["kl"] / first
    for (p, eta), g in data.groupby(["p", "eta"]):
        med = g.groupby("t")["rel"].median()
        ax.plot(med.index, med.to_numpy(), label=rf"$p={p:g}$, $\eta={eta:g}$")
    reference_line(ax, 1.0, label=r"theorem: $KL_t \geq KL_1$ (never decreases)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("iteration t")
    ax.set_ylabel(r"$KL(\pi^*, \pi_t) / KL(\pi^*, \pi_1)$, median")
    legend(ax, outside=True)
    return fig


hedge_last_iterate_cycles = register(Check(
    name="hedge.last_iterate_cycles",
    paper="Bailey & Piliouras 2018 (MWU in zero-sum games, arXiv:1802.07814); identity derived in docs/theory/nash.md, section 'hedge.last_iterate_cycles'",
    claim="Hedge self-play's last iterate never approaches the interior equilibrium of "
          "rock-paper-scissors: each step raises KL(pi*, pi_t) by exactly the Jensen gap "
          "log E_pi exp(eta P pi) - eta/2 >= 0.",
    tag="R", family="nash", cost=(2, 10),
    measure=_cycle_measure, plot=_cycle_plot,
))
