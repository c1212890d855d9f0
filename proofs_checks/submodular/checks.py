r"""Submodular RL checks: the objectives, greedy's curvature bound, SubPO's stationary-point
bound, the unbiasedness of the SubPO estimator and its reduction to policy gradient.

References: M. Prajapat, M. Mutný, M. N. Zeilinger, A. Krause, "Submodular Reinforcement
Learning", ICLR 2024, arXiv:2307.13372 (setting, SubPO) [A]; G. L. Nemhauser, L. A. Wolsey,
M. L. Fisher 1978 and M. Conforti, G. Cornuéjols 1984 (greedy: ``(1 - e^{-c})/c`` for total
curvature ``c``, ``>= 1 - 1/e``) [R]; H. Hassani, M. Soltanolkotabi, A. Karbasi 2017,
arXiv:1708.03949 (stationary points of monotone DR-submodular functions on convex sets:
``>= OPT/2``, ``>= OPT/(1+c)``) [R]. Theorems, expected figures and tolerances:
docs/theory/submodular.md. Every figure is recomputed here from what the algorithms return:
OPT by exact DP cross-checked by brute force over subsets, policy values by exact recursion over
(stage, state, visited set), exact gradients by trajectory enumeration and by the policy
gradient theorem on backward-induction Q-values.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

import labkit
import mdps
from algorithms import submodular as sm
from labkit.check import Check, Outcome, register, worst_case

__all__ = ["objectives_checker", "greedy_curvature", "subpo_stationary", "subpo_unbiased", "subpo_modular"]

PAPER = "Prajapat, Mutný, Zeilinger, Krause 2024, arXiv:2307.13372"


def _objective(kind: str, n: int, rng, n_zero: int = 0):
    """A random objective on ``n`` elements; the first ``n_zero`` cover / weigh nothing."""
    M = 12
    if kind in ("coverage", "weighted_coverage"):
        fp = rng.random((n, M)) < 0.3
        fp[:n_zero] = False
        w = None if kind == "coverage" else rng.exponential(1.0, M)
        return mdps.coverage_objective(fp, w)
    if kind == "facility_location":
        W = rng.random((n, M)) ** 2
        W[:n_zero] = 0.0
        return mdps.facility_location_objective(W)
    if kind == "logdet":
        X = rng.standard_normal((n, 3))
        X[:n_zero] = 0.0
        K = np.exp(-0.5 * ((X[:, None] - X[None]) ** 2).sum(-1)) * (np.abs(X).sum(1)[:, None] > 0) * (np.abs(X).sum(1)[None] > 0)
        return mdps.logdet_objective(K, 0.5)
    if kind == "modular":
        return mdps.modular_objective(rng.random((3, max(1, n // 3))))
    raise ValueError(kind)


# ---------------------------------------------------------------- 1. the objectives pass the checker

KINDS = ("coverage", "weighted_coverage", "facility_location", "logdet", "modular")


def _checker_run(config, rng):
    f = _objective(config["kind"], config["n"], rng)
    rep = mdps.check_submodular(f, config["trials"], rng)
    return {"violations": rep.monotone_violations + rep.diminishing_violations + int(abs(rep.f_empty) > rep.tol),
            "worst_monotone": rep.worst_monotone, "worst_diminishing": rep.worst_diminishing,
            "curvature": mdps.curvature(f)}


def _negative_control(trials: int) -> int:
    """The checker must flag a supermodular function (a squared modular one): violations found."""
    w = np.random.default_rng(7).random(8)
    f = mdps.set_function(lambda m: float(w @ m) ** 2, 8)
    rep = mdps.check_submodular(f, trials, 0)
    return rep.monotone_violations + rep.diminishing_violations


def _checker_measure(ctx) -> Outcome:
    trials = ctx.pick(400, 5000)
    grid = labkit.expand_grid(kind=list(KINDS), n=[6, 12], trials=[trials])
    frame = ctx.sweep(_checker_run, grid, n_seeds=ctx.pick(4, 20))
    caught = _negative_control(trials)
    per_run = frame["violations"].to_numpy(dtype=float)
    if caught == 0:  # a checker that finds nothing anywhere proves nothing
        per_run = np.append(per_run, np.nan)
    return worst_case(
        per_run, "<=", 0.0, 0.0, frame,
        f"violations of F(empty) = 0, monotonicity F(X) <= F(Y) and diminishing returns Delta(x|X) >= Delta(x|Y) "
        f"(X subset of Y, x outside Y) found by mdps.check_submodular in {trials} random trials per instance, over "
        f"{len(frame)} random instances of {', '.join(KINDS)} (6 and 12 elements): {int(frame.violations.sum())} "
        f"in total; it is a random test, not a proof ({len(frame) * trials} trials). Negative control: on squared "
        f"modular (supermodular) it finds {caught} violations. Curvature of the instances "
        f"{frame.curvature.min():.2f}..{frame.curvature.max():.2f}.",
    )


def _checker_plot(result):
    from labkit.figures import legend, reference_line, subplots

    fig, axes = subplots()
    ax = axes[0, 0]
    d = result.data
    tol = 1e-9
    for i, kind in enumerate(KINDS):
        g = d[d.kind == kind]
        worst = np.maximum(g["worst_diminishing"], g["worst_monotone"]).clip(lower=0.0).to_numpy()
        ax.plot(np.full(len(g), i), worst, "o", ms=3, color="C0", mfc="none")
    reference_line(ax, tol, label=r"theorem: $F(X)-F(Y)$, $\Delta(x|Y)-\Delta(x|X) \leq 0$ (tolerance $10^{-9}$)")
    ax.set_ylim(-0.05 * tol, 1.3 * tol)
    ax.set_xticks(range(len(KINDS)))
    ax.set_xticklabels([k.replace("_", "\n") for k in KINDS], fontsize=5)
    ax.set_ylabel("largest violation per instance")
    legend(ax, fontsize=5, outside=True)
    return fig


objectives_checker = register(Check(
    name="submodular.objectives_checker",
    paper=PAPER + "; Krause & Golovin 2014 (survey)",
    claim="Coverage, weighted coverage, facility location, 0.5 log det(I + K/sigma^2) and nonnegative modular "
          "functions are normalised, monotone and submodular: the random-trial checker finds no violation.",
    tag="R", family="submodular", cost=(2, 20),
    measure=_checker_measure, plot=_checker_plot,
))


# ---------------------------------------------------------------- 2. greedy on bandit SMDPs

GREEDY_KINDS = ("coverage", "weighted_coverage", "facility_location", "logdet")


def _brute_force(f, K, H):
    return max(f([0, *c]) for c in itertools.combinations(range(1, K + 1), min(H, K)))


def _bandit_instance(config, rng):
    K, H = config["K"], config["H"]
    mdp = mdps.bandit_mdp(K, H)
    f = _objective(config["kind"], K + 1, rng, n_zero=1)
    return mdp, f


def _greedy_run(config, rng):
    mdp, f = _bandit_instance(config, rng)
    opt = sm.submodular_optimum(mdp, f).value
    brute = _brute_force(f, config["K"], config["H"])
    J = sm.history_policy_value(mdp, f, sm.greedy_policy(mdp, f))
    c = mdps.curvature(f)
    bound = 1.0 - np.exp(-1.0) if c < 1e-9 else (1.0 - np.exp(-c)) / c
    return {"opt": opt, "dp_vs_brute": abs(opt - brute), "J": J, "c": c, "bound": bound, "ratio": J / opt}


def _greedy_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(kind=list(GREEDY_KINDS), K=[6, 8], H=[2, 3, 4])
    frame = ctx.sweep(_greedy_run, grid, n_seeds=ctx.pick(5, 40))
    rel = (frame["ratio"] / frame["bound"]).to_numpy()
    rel = np.where(frame["dp_vs_brute"] > 1e-9, np.nan, rel)  # the DP must equal brute force
    return worst_case(
        rel, ">=", 1.0, 0.0, frame,
        f"(J_greedy / OPT) / ((1 - e^-c)/c) for the greedy marginal-gain policy on {len(frame)} deterministic "
        f"bandit SMDPs (K in {{6, 8}} arms, H in {{2, 3, 4}}; {', '.join(GREEDY_KINDS)}), c = total curvature; "
        f"J_greedy exact, OPT by the (stage, state, visited set) DP, equal to brute force over subsets to "
        f"{frame.dp_vs_brute.max():.1e}. Smallest J_greedy/OPT {frame.ratio.min():.3f} "
        f"(= {frame.ratio.min() / (1 - np.exp(-1)):.3f} x (1 - 1/e)).",
    )


def _ratio_scatter(result, *, ylabel: str, ylim):
    """``J / OPT`` against total curvature, one marker per objective kind (both curvature checks)."""
    from labkit.figures import MARKERS, subplots

    fig, axes = subplots()
    ax = axes[0, 0]
    d = result.data
    for i, kind in enumerate(GREEDY_KINDS):
        g = d[d.kind == kind]
        ax.plot(g["c"], g["ratio"], MARKERS[i % len(MARKERS)], ms=4, mfc="none", linestyle="none",
                label=kind.replace("_", " "))
    ax.set_xlabel("total curvature c")
    ax.set_ylabel(ylabel)
    ax.set_ylim(*ylim)
    return fig, ax


def _greedy_plot(result):
    from labkit.figures import legend, theory_line

    fig, ax = _ratio_scatter(result, ylabel=r"$J_{greedy} / OPT$", ylim=(0.55, 1.02))
    c = np.linspace(1e-3, 1, 100)
    theory_line(ax, c, (1 - np.exp(-c)) / c, label=r"theorem: $(1-e^{-c})/c$")
    legend(ax, fontsize=5, outside=True)
    return fig


greedy_curvature = register(Check(
    name="submodular.greedy_curvature",
    paper="Nemhauser, Wolsey, Fisher 1978; Conforti, Cornuéjols 1984; setting of " + PAPER,
    claim="On deterministic bandit SMDPs the greedy marginal-gain policy reaches at least (1 - e^-c)/c >= 1 - 1/e "
          "of the exact optimum (c: total curvature).",
    tag="R", family="submodular", cost=(3, 40),
    measure=_greedy_measure, plot=_greedy_plot,
))


# ---------------------------------------------------------------- 3. SubPO's stationary-point bound


def _subpo_run(config, rng):
    mdp, f = _bandit_instance(config, rng)
    opt = sm.submodular_optimum(mdp, f).value
    res = sm.subpo(mdp, f, n_iter=config["n_iter"], batch_size=config["batch"], lr=config["lr"],
                   state_independent=True, rng=int(rng.integers(2 ** 31)))
    pi = res.policy
    if not np.allclose(pi, pi[:, :1]):
        return {"opt": opt, "J": np.nan, "gap": np.nan, "c": np.nan, "ratio": np.nan, "rel": np.nan}
    J = sm.markov_value(mdp, f, pi)  # exact value of the returned policy
    # first-order stationarity gap over the product of simplices: J is linear in each stage's p_h, so
    # dJ/dp_h(a) = J(p with p_h = e_a) and gap = sum_h (max_a J(p_h <- e_a) - J(p))
    gap = 0.0
    for h in range(pi.shape[0]):
        best = -np.inf
        for a in range(pi.shape[2]):
            q = pi.copy()
            q[h] = 0.0
            q[h, :, a] = 1.0
            best = max(best, sm.markov_value(mdp, f, q))
        gap += best - J
    c = mdps.curvature(f)
    return {"opt": opt, "J": J, "gap": gap, "c": c, "ratio": J / opt, "rel": J / ((opt - gap) / 2.0)}


def _subpo_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(kind=list(GREEDY_KINDS), K=[6], H=[3], n_iter=[ctx.pick(150, 600)],
                              batch=[ctx.pick(32, 128)], lr=[1.0])
    frame = ctx.sweep(_subpo_run, grid, n_seeds=ctx.pick(3, 20))
    above = int((frame["ratio"] >= 1.0 / (1.0 + frame["c"])).sum())
    return worst_case(
        frame["ratio"].to_numpy(), ">=", 0.5, 0.0, frame,
        f"J(SubPO) / OPT (theorem: >= (OPT - gap) / (2 OPT) for any per-stage policy, gap = its exact "
        f"first-order stationarity gap over the product of simplices, so >= 1/2 once converged; the bound with "
        f"the measured gap holds with margin J / ((OPT - gap)/2) >= {frame.rel.min():.2f}), after {frame.n_iter.iloc[0]} iterations of batch "
        f"{frame.batch.iloc[0]} (lr 1, leave-one-out baseline, per-stage softmax pi^h(a)) on {len(frame)} "
        f"deterministic bandit SMDPs (6 arms, H = 3; {', '.join(GREEDY_KINDS)}); J exact for the returned "
        f"policy (no Monte Carlo error), OPT by exact DP. Gaps up to {frame.gap.max() / frame.opt.min():.2e} OPT. "
        f"J/OPT: smallest {frame.ratio.min():.3f} (= {frame.ratio.min() / (1 - np.exp(-1)):.3f} x (1 - 1/e)), "
        f"median {frame.ratio.median():.3f}; J/OPT >= 1/(1+c) (curvature form, not tested: see the theory "
        f"page) on {above} of {len(frame)} runs.",
    )


def _subpo_plot(result):
    from labkit.figures import legend, theory_line

    fig, ax = _ratio_scatter(result, ylabel=r"$J_{SubPO} / OPT$", ylim=(0.45, 1.02))
    c = np.linspace(0, 1, 100)
    theory_line(ax, c, np.full_like(c, 0.5), label=r"theorem at a stationary point: $1/2$")
    ax.plot(c, 1 / (1 + c), ":", color="0.5", label=r"$1/(1+c)$ (reported, not tested)")
    legend(ax, fontsize=5, outside=True)
    return fig


subpo_stationary = register(Check(
    name="submodular.subpo_stationary_bound",
    paper="Hassani, Soltanolkotabi, Karbasi 2017, arXiv:1708.03949; " + PAPER,
    claim="Converged SubPO on deterministic bandit SMDPs (per-stage softmax) reaches at least 1/2 of the exact "
          "optimum (J >= (OPT - gap)/2 with gap its first-order stationarity gap).",
    tag="R", family="submodular", cost=(5, 60),
    measure=_subpo_measure, plot=_subpo_plot,
))


# ---------------------------------------------------------------- 4. the estimator is unbiased


def _zscores(estimates, exact):
    mean = estimates.mean(axis=0)
    se = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    diff = np.abs(mean - exact)
    z = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff > 1e-12, np.inf, 0.0))
    return z.ravel()


def _z_threshold(d: int, alpha: float = 1e-3) -> float:
    return float(stats.norm.ppf(1 - alpha / (2 * d)))


def _unbiased_run(config, rng):
    mdp = mdps.random_finite_horizon(3, 2, 3, rng=rng)
    f = _objective(config["kind"], 3, rng)
    theta = rng.standard_normal((3, 3, 2))
    _, exact = sm.exact_gradient(mdp, f, theta)
    seed = int(rng.integers(2 ** 31))
    est = np.stack([sm.subpo_gradient(mdp, f, theta, config["batch"], rng=seed + b, baseline=config["baseline"])
                    for b in range(config["n_batches"])])
    z = _zscores(est, exact)
    return {"max_z": float(z.max()), "threshold": _z_threshold(z.size), "max_abs_grad": float(np.abs(exact).max())}


def _unbiased_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(kind=["coverage", "facility_location", "logdet"], baseline=["loo", "none"],
                              batch=[200], n_batches=[ctx.pick(100, 1000)])
    frame = ctx.sweep(_unbiased_run, grid, n_seeds=ctx.pick(2, 10))
    rel = (frame["max_z"] / frame["threshold"]).to_numpy()
    return worst_case(
        rel, "<=", 1.0, 0.0, frame,
        f"max over the 18 softmax coordinates of |mean estimate - exact gradient| / standard error, divided by the "
        f"Bonferroni two-sided z quantile at family-wise level 1e-3 ({frame.threshold.iloc[0]:.2f}), for the SubPO "
        f"estimator (reward-to-go of marginal gains, with and without leave-one-out baseline) on {len(frame)} "
        f"random stochastic MDPs (S = 3, A = 2, H = 3; coverage, facility location, log det), "
        f"{frame.n_batches.iloc[0]} batches of 200 episodes each; exact gradient by enumerating every trajectory. "
        f"Largest z {frame.max_z.max():.2f}.",
    )


def _z_plot(result):
    from labkit.figures import legend, reference_line, subplots

    fig, axes = subplots()
    ax = axes[0, 0]
    d = result.data.reset_index(drop=True)
    keys = [c for c in ("kind", "baseline") if c in d]
    groups = d.groupby(keys) if keys else [(("modular objective",), d)]
    for key, g in groups:
        label = ", ".join(str(k) for k in (key if isinstance(key, tuple) else (key,))).replace("_", " ")
        ax.plot(g.index, g["max_z"], "o", ms=3, label=label)
    reference_line(ax, float(d["threshold"].iloc[0]), label="theorem: unbiased (Bonferroni z, level 1e-3)")
    ax.set_xlabel("run")
    ax.set_ylabel("largest |z| over coordinates")
    ax.set_ylim(0, None)
    legend(ax, fontsize=5, outside=True)
    return fig


subpo_unbiased = register(Check(
    name="submodular.subpo_gradient_unbiased",
    paper=PAPER + " (gradient identity; derivation in docs/theory/submodular.md)",
    claim="The SubPO estimator (score times reward-to-go of marginal gains, leave-one-out baseline) has mean equal "
          "to the exact gradient of E[F(tau)] for tabular softmax policies.",
    tag="R", family="submodular", cost=(4, 40),
    measure=_unbiased_measure, plot=_z_plot,
))


# ---------------------------------------------------------------- 5. modular objective = policy gradient


def _pg_theorem(mdp, w, theta):
    """Exact policy gradient of the additive MDP ``R_h(s,a) = sum_s' P_h(s'|s,a) w[h+1, s']``
    (plus the constant ``w[0, s_0]``): ``d_h(s) pi_h(a|s) (Q_h(s,a) - V_h(s))``, Q from backward induction."""
    H, S, A = theta.shape
    P = np.stack([np.asarray(mdp.P_stage(h)) for h in range(H)])
    R = np.einsum("hsat,ht->hsa", P, w[1:])
    add = mdps.TabularMDP(P, R, horizon=H, rho=mdp.rho)
    pi = sm.softmax_policy(theta)
    V = mdps.evaluate_finite_horizon(add, pi)
    Vn = np.vstack([V[1:], np.zeros((1, S))])
    Q = R + np.einsum("hsat,ht->hsa", P, Vn)
    d = np.empty((H, S))
    d[0] = mdp.rho
    for h in range(1, H):
        d[h] = np.einsum("s,sa,sat->t", d[h - 1], pi[h - 1], P[h - 1])
    return d[:, :, None] * pi * (Q - V[:, :, None])


def _modular_run(config, rng):
    mdp = mdps.random_finite_horizon(3, 2, 3, rng=rng)
    w = rng.random((4, 3))
    f = mdps.modular_objective(w)
    theta = rng.standard_normal((3, 3, 2))
    exact = _pg_theorem(mdp, w, theta)
    _, enum = sm.exact_gradient(mdp, f, theta)
    seed = int(rng.integers(2 ** 31))
    est = np.stack([sm.subpo_gradient(mdp, f, theta, 200, rng=seed + b) for b in range(config["n_batches"])])
    z = _zscores(est, exact)
    return {"max_z": float(z.max()), "threshold": _z_threshold(z.size),
            "enumeration_gap": float(np.abs(enum - exact).max())}


def _modular_measure(ctx) -> Outcome:
    frame = ctx.sweep(_modular_run, [{"n_batches": ctx.pick(100, 1000)}], n_seeds=ctx.pick(6, 30))
    rel = (frame["max_z"] / frame["threshold"]).to_numpy()
    rel = np.where(frame["enumeration_gap"] > 1e-10, np.nan, rel)
    return worst_case(
        rel, "<=", 1.0, 0.0, frame,
        f"for a nonnegative modular objective on (stage, state) pairs (an ordinary additive reward, revisits "
        f"counted), max |z| of the SubPO estimator's mean against the policy gradient theorem's exact gradient "
        f"d_h(s) pi(a|s,h) A_h(s,a) (Q from backward induction on the additive MDP), over the Bonferroni z at "
        f"level 1e-3, on {len(frame)} random MDPs (S = 3, A = 2, H = 3), {frame.n_batches.iloc[0]} batches of 200; "
        f"trajectory enumeration of d E[F]/d theta equals it to {frame.enumeration_gap.max():.1e} (must be "
        f"<= 1e-10). Largest z {frame.max_z.max():.2f}.",
    )


subpo_modular = register(Check(
    name="submodular.subpo_modular_is_policy_gradient",
    paper="Williams 1992 (REINFORCE); Sutton et al. 2000 (policy gradient theorem); " + PAPER,
    claim="With a modular objective on (stage, state) pairs SubPO's estimator is REINFORCE with reward-to-go: "
          "its mean is the policy gradient theorem's exact gradient.",
    tag="R", family="submodular", cost=(2, 20),
    measure=_modular_measure, plot=_z_plot,
))
