r"""Conservative exploration under the episode-wise constraint: StepMix and EpsMix.

Reference: D. Li, R. Huang, C. Shen, J. Yang, *Near-optimal Conservative Exploration in
Reinforcement Learning under Episode-wise Constraints*, ICML 2023, arXiv:2306.06265 (the
mechanism [A]; the bonus, threshold and search details are reconstructions [U], see
:mod:`algorithms.exploration.conservative`). Derivations and instances:
docs/theory/exploration.md, part "Conservative exploration".

The checks never read the values the agents report about themselves: they rebuild each played
policy from the optimistic policy (``keep_policies=True``) and the weight of the episode, and
evaluate it exactly on the true model (:func:`exact_values`, a vectorised backward evaluation;
EpsMix's episode-level mixture as ``w V^{pi_o} + (1 - w) V^b``). ``V^b`` and ``V*`` come from
:func:`mdps.evaluate_finite_horizon` and :func:`mdps.backward_induction`.

* ``conservative.never_unsafe`` -- with the valid pessimistic bonus (``pessimism_scale = 1``) the
  constraint ``V^{pi_k} >= (1 - kappa) V^b`` holds in every episode of a run w.p. ``>= 1 - delta``:
  the fraction of runs with a violation is at most ``delta`` plus a binomial margin.
* ``conservative.extra_regret_plateau`` -- the extra regret over UCBVI (same optimistic bonus),
  ``D(K) = E Reg_cons(K) - E Reg_UCBVI(K)``, stops growing: ``(D(K) - D(K/2)) / D(K/2) <= 0.25``
  (bounded cost: -> 0; linear growth gives 1, sqrt(K) growth 0.41).
* ``stepmix.paper_experiment`` -- the paper's experiment (S = A = 5, H = 3, random rewards,
  one random MDP per seed): the regret of StepMix and EpsMix has tail slope <= 1/2 (+ tol), the
  order of the constraint-free bound; the figure shows the regret curves of UCBVI, StepMix and
  EpsMix with bands and the per-episode constraint margin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import labkit
import mdps
from algorithms import exploration
from labkit.check import Check, Outcome, register
from labkit.rates import fit_power_law

__all__ = ["never_unsafe", "extra_regret_plateau", "paper_experiment", "exact_values", "audited_values"]

LHSY23 = ("D. Li, R. Huang, C. Shen, J. Yang 2023, Near-optimal Conservative Exploration in RL under "
          "Episode-wise Constraints, arXiv:2306.06265")
#: the practical optimistic bonus scale of docs/theory/exploration.md (theory scale 1 never
#: certifies the optimistic policy within affordable K on these instances)
PRACTICAL_BONUS = 0.005
#: round-off allowance of the constraint (values are O(H))
ROUND_OFF = 1e-9
#: logged episodes of the given baseline from which the offline baseline is cloned
OFFLINE_EPISODES = 50
PLATEAU_RATIO = 0.25
SLOPE_TOL = 0.1
AGENTS = ("stepmix", "epsmix")


def paper_instance(seed: int) -> mdps.TabularMDP:
    """The paper's synthetic MDP: S = A = 5, H = 3, P_h(.|s,a) ~ Dirichlet(1), R_h ~ U[0, 1]."""
    return mdps.random_finite_horizon(5, 5, 3, rng=seed)


def exact_values(mdp, policies: np.ndarray) -> np.ndarray:
    """Exact values from ``rho`` of ``M`` stochastic policies ``(M, H, S, A)`` on the true model
    (``V_H = 0``, ``V_h = sum_a pi_h(a|s) [R_h + P_h V_{h+1}]``), vectorised over policies."""
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    dense = mdp.to_dense()
    P = np.broadcast_to(dense.P, (H, S, A, S))
    R = np.broadcast_to(np.asarray(mdp.R, dtype=float), (H, S, A))
    V = np.zeros((policies.shape[0], S))
    for h in range(H - 1, -1, -1):
        Q = R[h][None] + np.einsum("sat,mt->msa", P[h], V)
        V = (policies[:, h] * Q).sum(axis=-1)
    return V @ np.asarray(mdp.rho, dtype=float)


def audited_values(mdp, batch) -> np.ndarray:
    """``(n_runs, K)`` exact values of the played policies, rebuilt from the optimistic policies and
    the weights (StepMix: the per-step mixture; EpsMix: ``w V^{pi_o} + (1 - w) V^b``)."""
    n, K, H, S = batch.policies.shape
    A = mdp.n_actions
    v_b = float(mdp.rho @ mdps.evaluate_finite_horizon(mdp, np.asarray(batch.baseline))[0])
    out = np.empty((n, K))
    for i in range(n):
        onehot = np.zeros((K, H, S, A))
        np.put_along_axis(onehot, batch.policies[i][..., None].astype(np.intp), 1.0, axis=-1)
        w = batch.weights[i][:, None, None, None]
        if batch.settings.algorithm == "stepmix":
            out[i] = exact_values(mdp, w * onehot + (1.0 - w) * np.asarray(batch.baseline)[None])
        else:
            out[i] = batch.weights[i] * exact_values(mdp, onehot) + (1.0 - batch.weights[i]) * v_b
    return out


def _agent(name):
    return exploration.stepmix if name == "stepmix" else exploration.epsmix


# ------------------------------------------------------------------------------- never_unsafe


def _safety_run(config, rng):
    mdp = paper_instance(config["instance_seed"])
    pib = exploration.baseline_with_quality(mdp, config["quality"], floor="worst")
    known = "known"
    if config.get("baseline", "given") == "offline":
        # the baseline learned from an offline dataset: behaviour cloning of OFFLINE_EPISODES logged
        # episodes of the given policy; its value is unknown to the agent (estimated pessimistically)
        logged = mdps.rollout(mdp, pib, OFFLINE_EPISODES, rng=rng)
        pib = exploration.behaviour_cloning(logged, mdp.n_states, mdp.n_actions, mdp.horizon, smoothing=1.0)
        known = "estimated"
    batch = _agent(config["agent"])(mdp, baseline=pib, kappa=config["kappa"], n_episodes=config["n_episodes"],
                                    bonus_scale=config["bonus_scale"], pessimism_scale=1.0, delta=config["delta"],
                                    baseline_value=known, keep_policies=True, n_runs=config["n_runs"], rng=rng)
    values = audited_values(mdp, batch)
    v_b = float(mdp.rho @ mdps.evaluate_finite_horizon(mdp, pib)[0])
    margin = values - (1.0 - config["kappa"]) * v_b
    violating = int((margin.min(axis=1) < -ROUND_OFF).sum())
    return pd.DataFrame({
        "episode": np.arange(1, margin.shape[1] + 1), "margin_min": margin.min(axis=0),
        "margin_q05": np.quantile(margin, 0.05, axis=0), "margin_median": np.median(margin, axis=0),
        "weight_mean": batch.weights.mean(axis=0), "threshold": (1.0 - config["kappa"]) * v_b,
        "runs_violating": violating, "runs": margin.shape[0],
        "self_report_gap": float(np.abs(values - batch.values).max()),
    })


def _safety_measure(ctx) -> Outcome:
    delta = 0.1
    grid = labkit.expand_grid(agent=list(AGENTS), baseline=["given", "offline"], instance_seed=[0], quality=[0.9],
                              kappa=[0.1],
                              n_episodes=[ctx.pick(1500, 5000)], bonus_scale=[PRACTICAL_BONUS],
                              n_runs=[ctx.pick(48, 400)], delta=[delta])
    frame = ctx.sweep(_safety_run, grid, n_seeds=1)
    per = frame.groupby(["agent", "baseline"])[["runs_violating", "runs"]].first()
    n = int(per["runs"].sum())
    bad = int(per["runs_violating"].sum())
    frac = bad / n
    margin = 2.0 * np.sqrt(delta * (1 - delta) / n)  # two binomial standard deviations at delta
    left = {f"{a}/{b}": float((g["weight_mean"] > 0).mean()) for (a, b), g in frame.groupby(["agent", "baseline"])}
    return Outcome(
        measured=frac, ci=(frac, frac), expected=delta, relation="<=", tol=margin, data=frame, interval="exact",
        details=f"runs with at least one episode below (1 - kappa) V^b: {bad} of {n} (StepMix and EpsMix, each with "
                f"the given baseline (value known) and with a baseline cloned from {OFFLINE_EPISODES} logged episodes "
                f"of it (value estimated by the agent; V^b its exact value), "
                f"pessimism_scale = 1, delta = {delta}, kappa = 0.1, baseline quality V^b/V* = 0.9, optimistic "
                f"bonus_scale = {PRACTICAL_BONUS}); allowed delta + 2 binomial sd = {delta + margin:.3f}. "
                f"Values rebuilt from the played policies and evaluated exactly (largest gap to the agents' "
                f"own values {frame.self_report_gap.max():.1e}); smallest margin "
                f"{frame.margin_min.min():.3g}. Fraction of episodes with a positive mean weight on the "
                f"optimistic policy: {left} (the check is not vacuous).",
        extras={"violating": bad, "runs": n, "left_baseline": left},
    )


def _safety_plot(result):
    from labkit.figures import MARKERS, PALETTE, figure_legend, reference_line, subplots

    data = result.data if "baseline" in result.data else result.data.assign(baseline="given")
    bases = [b for b in ("given", "offline") if b in set(data.baseline)]
    fig, axes = subplots(1, len(bases), sharey=True)
    titles = {"given": "given baseline (value known)",
              "offline": f"baseline cloned from {OFFLINE_EPISODES} logged episodes"}
    for j, base in enumerate(bases):
        ax = axes[0, j]
        for i, (name, g) in enumerate(data[data.baseline == base].groupby("agent")):
            color = PALETTE[i % len(PALETTE)]
            ax.plot(g["episode"], g["margin_median"], color=color, marker=MARKERS[i], markevery=max(1, len(g) // 8),
                    label=f"{name}: median over runs")
            ax.fill_between(g["episode"], g["margin_min"], g["margin_median"], color=color, alpha=0.2, linewidth=0,
                            label=f"{name}: min to median")
        reference_line(ax, 0.0, label=r"constraint $V^{\pi_k} = (1-\kappa)V^b$")
        ax.set_xscale("log")
        ax.set_xlabel("episode k")
        ax.set_title(titles[base], fontsize=8)
        if j == 0:
            ax.set_ylabel(r"margin $V^{\pi_k} - (1-\kappa)V^b$")
    figure_legend(fig, axes, ncols=3)
    return fig


never_unsafe = register(Check(
    name="conservative.never_unsafe",
    paper=LHSY23 + " (episode-wise guarantee); docs/theory/exploration.md, section 'conservative.never_unsafe'",
    claim="With a valid pessimistic bonus, StepMix and EpsMix never play a policy whose exact (mixture) value "
          "is below (1 - kappa) V^b, in all but a delta fraction of runs.",
    tag="A", family="exploration", cost=(4, 120),
    measure=_safety_measure, plot=_safety_plot,
))


# ----------------------------------------------------------------------- extra_regret_plateau


def _regret_run(config, rng):
    mdp = paper_instance(config["instance_seed"])
    K = config["n_episodes"]
    v_star = float(mdp.rho @ mdps.backward_induction(mdp).V[0])
    if config["agent"] == "ucbvi":
        batch = exploration.ucbvi(mdp, n_episodes=K, bonus="hoeffding", bonus_scale=config["bonus_scale"],
                                  delta=0.1, keep_policies=True, n_runs=config["n_runs"], rng=rng)
        pols = batch.policies
        n, _, H, S = pols.shape
        values = np.empty((n, K))
        for i in range(n):
            onehot = np.zeros((K, H, S, mdp.n_actions))
            np.put_along_axis(onehot, pols[i][..., None].astype(np.intp), 1.0, axis=-1)
            values[i] = exact_values(mdp, onehot)
        weights = np.ones((n, K))
    else:
        pib = exploration.baseline_with_quality(mdp, config["quality"], floor="worst")
        batch = _agent(config["agent"])(mdp, baseline=pib, kappa=config["kappa"], n_episodes=K,
                                        bonus_scale=config["bonus_scale"], pessimism_scale=1.0, delta=0.1,
                                        keep_policies=True, n_runs=config["n_runs"], rng=rng)
        values = audited_values(mdp, batch)
        weights = batch.weights
    ks = labkit.checkpoints(K, 40, first=10)
    cum = (v_star - values).cumsum(axis=1)[:, ks - 1]
    v_b = np.nan
    if config["agent"] != "ucbvi":
        v_b = batch.v_baseline
    rows = [pd.DataFrame({"run": i, "K": ks, "regret": cum[i], "weight": weights[i, ks - 1],
                          "v_star": v_star, "v_baseline": v_b}) for i in range(cum.shape[0])]
    return pd.concat(rows, ignore_index=True)


def _mean_curves(frame):
    out = {}
    for name, g in frame.groupby("agent"):
        Y = g.pivot_table(index=["replicate", "run"], columns="K", values="regret")
        out[name] = (Y.columns.to_numpy(dtype=int), Y.to_numpy())
    return out


def _plateau_measure(ctx) -> Outcome:
    K = ctx.pick(8000, 100_000)
    grid = labkit.expand_grid(agent=["ucbvi", *AGENTS], instance_seed=[0], quality=[0.6], kappa=[0.1],
                              n_episodes=[K], bonus_scale=[PRACTICAL_BONUS], n_runs=[ctx.pick(32, 128)])
    frame = ctx.sweep(_regret_run, grid, n_seeds=1)
    curves = _mean_curves(frame)
    ks, Yu = curves["ucbvi"]
    half = int(np.searchsorted(ks, K // 2))
    ratios, extra = {}, {}
    rng = np.random.default_rng(0)
    boots = []
    for a in AGENTS:
        _, Yc = curves[a]
        D = Yc.mean(axis=0) - Yu.mean(axis=0)
        ratios[a] = float((D[-1] - D[half]) / D[half])
        extra[a] = [float(D[half]), float(D[-1])]
        b = []
        for _ in range(200):
            ic = rng.integers(0, Yc.shape[0], Yc.shape[0])
            iu = rng.integers(0, Yu.shape[0], Yu.shape[0])
            Db = Yc[ic].mean(axis=0) - Yu[iu].mean(axis=0)
            b.append((Db[-1] - Db[half]) / Db[half])
        boots.append(np.quantile(b, [0.05, 0.95]))
    worst = max(ratios, key=ratios.get)
    ci = tuple(float(x) for x in boots[AGENTS.index(worst)])
    return Outcome(
        measured=ratios[worst], ci=ci, expected=PLATEAU_RATIO, relation="<=", tol=0.0, data=frame,
        details=f"D(K) = mean Reg_cons(K) - mean Reg_UCBVI(K) (UCBVI-CH, same optimistic bonus_scale = "
                f"{PRACTICAL_BONUS}; pessimism_scale = 1; kappa = 0.1; baseline quality 0.6; paper instance seed 0); "
                f"growth over the second half relative to D(K/2), K = {K}: "
                + ", ".join(f"{a}: {ratios[a]:.3f} (D(K/2) = {extra[a][0]:.1f}, D(K) = {extra[a][1]:.1f})"
                            for a in AGENTS)
                + f"; worst {worst}, 90% bootstrap CI over runs {ci[0]:.3f}..{ci[1]:.3f}. Bounded cost: ratio -> 0; "
                  f"linear growth gives 1, sqrt(K) 0.41. With bonus_scale = 1 the agents would never certify the "
                  f"optimistic policy within affordable K (docs).",
        extras={"ratios": ratios, "D": extra},
    )


def _plateau_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    fig, axes = subplots()
    ax = axes[0, 0]
    curves = _mean_curves(result.data)
    ks, Yu = curves["ucbvi"]
    for i, a in enumerate(AGENTS):
        _, Yc = curves[a]
        D = Yc.mean(axis=0) - Yu.mean(axis=0)
        se = np.sqrt(Yc.var(axis=0, ddof=1) / Yc.shape[0] + Yu.var(axis=0, ddof=1) / Yu.shape[0])
        color = PALETTE[i % len(PALETTE)]
        ax.plot(ks, D, color=color, marker=MARKERS[i], markevery=6, label=f"{a} - UCBVI")
        ax.fill_between(ks, D - 1.645 * se, D + 1.645 * se, color=color, alpha=0.25, linewidth=0,
                        label="90% CI of the mean")
        half = int(np.searchsorted(ks, ks[-1] // 2))
        if i == 0:
            reference_line(ax, D[half] * (1 + PLATEAU_RATIO), label=f"allowed level: (1 + {PLATEAU_RATIO}) D(K/2)",
                           color=color)
    ax.set_xscale("log")
    ax.set_xlabel("episodes K")
    ax.set_ylabel("extra regret over UCBVI")
    legend(ax, outside=True)
    return fig


extra_regret_plateau = register(Check(
    name="conservative.extra_regret_plateau",
    paper=LHSY23 + " (regret = constraint-free order + K-independent term); docs/theory/exploration.md, "
          "section 'conservative.extra_regret_plateau'",
    claim="The cost of conservatism, E Reg_cons(K) - E Reg_UCBVI(K) with the same optimistic bonus, stops "
          "growing in K: its growth over the second half of K is at most a quarter of its value at K/2.",
    tag="U", family="exploration", cost=(5, 300),
    measure=_plateau_measure, plot=_plateau_plot,
))


# ---------------------------------------------------------------------------- paper_experiment


def _paper_measure(ctx) -> Outcome:
    K = ctx.pick(20_000, 200_000)
    seeds = list(range(ctx.pick(3, 10)))
    grid = labkit.expand_grid(agent=["ucbvi", *AGENTS], instance_seed=seeds, quality=[0.6], kappa=[0.1],
                              n_episodes=[K], bonus_scale=[PRACTICAL_BONUS], n_runs=[ctx.pick(8, 32)])
    frame = ctx.sweep(_regret_run, grid, n_seeds=1)
    fits = {}
    for a in AGENTS:
        g = frame[frame.agent == a]
        Y = g.pivot_table(index=["instance_seed", "replicate", "run"], columns="K", values="regret").to_numpy()
        ks = np.sort(g["K"].unique())
        fits[a] = fit_power_law(ks, np.maximum(Y, 1e-12), tail_decades=1.0)
    worst = max(fits, key=lambda a: fits[a].ci[1])
    fit = fits[worst]
    return Outcome(
        measured=fit.estimate, ci=fit.ci, expected=0.5, relation="<=", tol=SLOPE_TOL, data=frame,
        details=f"paper's experiment: S = A = 5, H = 3, P ~ Dirichlet(1), R ~ U[0, 1], one random MDP per instance "
                f"seed ({len(seeds)} instances), baseline quality 0.6, kappa = 0.1, K = {K}, optimistic "
                f"bonus_scale = {PRACTICAL_BONUS}, pessimism_scale = 1. Tail slope (last decade, 90% bootstrap CI) "
                f"of the mean cumulative regret: "
                + ", ".join(f"{a}: {f.estimate:.3f} [{f.ci[0]:.3f}, {f.ci[1]:.3f}]" for a, f in fits.items())
                + ". On fixed instances with a gap the regret is eventually logarithmic, so the slope is an "
                  "upper-bound statement (the constraint-free order sqrt(K)).",
        extras={"slopes": {a: [f.estimate, *f.ci] for a, f in fits.items()}},
    )


def _paper_plot(result):
    from labkit.figures import MARKERS, PALETTE, figure_legend, subplots, theory_line

    fig, axes = subplots(1, 2, layout="constrained")
    ax = axes[0, 0]
    data = result.data
    for i, (name, g) in enumerate(data.groupby("agent")):
        Y = g.pivot_table(index=["instance_seed", "replicate", "run"], columns="K", values="regret")
        ks = Y.columns.to_numpy(dtype=float)
        Y = Y.to_numpy()
        mean = Y.mean(axis=0)
        se = Y.std(axis=0, ddof=1) / np.sqrt(Y.shape[0])
        color = PALETTE[i % len(PALETTE)]
        ax.plot(ks, mean, color=color, marker=MARKERS[i], markevery=6, label=name)
        ax.fill_between(ks, np.maximum(mean - 1.645 * se, 1e-2), mean + 1.645 * se, color=color, alpha=0.25,
                        linewidth=0, label="90% CI of the mean")
        if name == "stepmix":
            sel = ks >= ks[-1] / 10
            theory_line(ax, ks[sel], mean[-1] * (ks[sel] / ks[-1]) ** 0.5, label="slope 1/2 (bound's order)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("episodes K")
    ax.set_ylabel("cumulative pseudo-regret")
    ax = axes[0, 1]
    for i, (name, g) in enumerate(data.groupby("agent")):
        if name == "ucbvi":
            continue
        W = g.pivot_table(index=["instance_seed", "replicate", "run"], columns="K", values="weight")
        ks = W.columns.to_numpy(dtype=float)
        ax.plot(ks, W.to_numpy().mean(axis=0), color=PALETTE[i % len(PALETTE)], marker=MARKERS[i], markevery=6,
                label=name)
    ax.set_xscale("log")
    ax.set_xlabel("episode k")
    ax.set_ylabel("mean weight on the optimistic policy")
    figure_legend(fig, axes)
    return fig


paper_experiment = register(Check(
    name="stepmix.paper_experiment",
    paper=LHSY23 + " (Section 'Experiments': S = A = 5, H = 3, random rewards); docs/theory/exploration.md, "
          "section 'stepmix.paper_experiment'",
    claim="On the paper's random MDPs (S = A = 5, H = 3) StepMix and EpsMix have regret of the constraint-free "
          "order: tail slope of the mean cumulative regret at most 1/2.",
    tag="U", family="exploration", cost=(6, 300),
    measure=_paper_measure, plot=_paper_plot,
))
