r"""Nash learning from human feedback: the theorems of Nash-MD, Nash Mirror Prox, INPO and Hedge
self-play on tabular preference games, checked against exact equilibria.

Ground truth is exact: the beta-regularised equilibrium ``pi*`` is certified by its fixed-point
residual and zero regularised exploitability (:meth:`mdps.PreferenceGame.regularized_nash`),
the unregularised one comes from an LP. Distances are ``KL(pi*, pi_t)`` (equilibrium first)
and exploitability in closed form. Rates are read against *preference queries* (one
win-rate-vector evaluation ``Pref @ pi``; Nash-MP spends two per iteration), so every
algorithm is compared on one axis.

Provenance (theory notes ``theory/preference.md``): [abs] read in the paper's abstract, [mem]
recalled from the paper body (constants not re-read: the checks test the *form* with the
stated constant and say so), [der] derived in the notes from the update equations and
confirmed numerically there. The ``tag`` of each check maps these onto the lab's tags:
[abs] -> ``"A"``, [mem] -> ``"U"``, [der] -> ``"R"`` (an exact derivation, recalled).

References
----------
.. [M23] R. Munos et al., "Nash Learning from Human Feedback", ICML 2024, arXiv:2312.00886.
.. [T25] D. Tiapkin et al., "Accelerating Nash Learning from Human Feedback via Mirror Prox",
   arXiv:2505.19731 (v1).
.. [Z24] Y. Zhang et al., "Iterative Nash Policy Optimization", ICLR 2025, arXiv:2407.00617.
.. [CL06] N. Cesa-Bianchi and G. Lugosi, *Prediction, Learning, and Games*, 2006, Thm 2.2
   (exponentially weighted forecaster) and Sec. 7.2 (self-play in zero-sum games).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import labkit
import mdps
from algorithms import nash
from labkit.check import Check, Outcome, register
from mdps import preference_generators as pg
from proofs_checks._common import worst_case

__all__ = [
    "omd_stability",
    "nash_mp_linear_rate",
    "nash_md_plateau",
    "nash_md_decaying_rate",
    "omd_exact_convergence",
    "hedge_average_iterate",
    "hedge_last_iterate_cycles",
    "fixed_point_of_every_update",
    "inpo_loss_equals_omd",
    "sampled_monte_carlo_rate",
]

#: Float64 KL bottoms out near 1e-15 (theory notes 3.6): rates are read above this floor.
KL_FLOOR = 1e-12


def _game(kind: str, K: int, rng):
    if kind == "tournament":
        return pg.uniform_tournament(K, rng=rng)
    if kind == "rps":
        return pg.rock_paper_scissors(1.0)
    if kind == "cycle":
        return pg.cycle(K, 0.9)
    raise ValueError(f"unknown game kind {kind!r}")


def _random_ref(K: int, rng) -> np.ndarray:
    """mu = softmax(N(0, 4 I)): a non-uniform, full-support reference (theory notes 2.1, 2.2)."""
    return mdps.softmax(2.0 * rng.standard_normal(K))


def _kl_path(pi_star, policies) -> np.ndarray:
    """KL(pi*, pi_t) for every iterate t (round-off negatives, ~1e-16, clipped to 0)."""
    return np.maximum(mdps.kl(pi_star[None, :], policies), 0.0)


# ---------------------------------------------------------------------------------------------
# Nash Mirror Prox: linear rate (1 + 2 beta)^(-N/2) in N queries at eta = 2, for every K
# ---------------------------------------------------------------------------------------------
def _head_to_head_run(config, rng):
    """Nash-MP (eta = 2) and, on the same query budget, Nash-MD (decaying step), OMD/INPO and
    Nash-EMA: KL to pi* and regularised exploitability per query."""
    K, beta = config["K"], config["beta"]
    game = _game("tournament", K, rng)
    ref = _random_ref(K, rng)
    pi_star = game.regularized_nash(beta, ref=ref)
    kl0 = float(mdps.kl(pi_star, ref))
    # iterations until the theorem's bound reaches the float floor, plus a margin
    k_max = int(math.ceil(math.log(kl0 / KL_FLOOR) / math.log(1 + 2 * beta))) + 5
    budget = 2 * k_max
    runs = {
        "Nash-MP (eta=2)": nash.nash_mirror_prox(game, beta, 2.0, k_max, ref=ref),
        "Nash-MD (eta_t=2/(beta(t+2)))": nash.nash_md(game, beta, 1.0 / beta, budget, ref=ref,
                                                         schedule="decaying"),
        "OMD/INPO (eta=beta)": nash.online_mirror_descent(game, beta, min(beta, 1.0 / beta), budget,
                                                            ref=ref),
        "Nash-EMA (gamma_t=1/(t+1))": nash.nash_ema(game, beta, 1.0, budget, ref=ref, schedule="decaying"),
    }
    frames = []
    for name, res in runs.items():
        kl = _kl_path(pi_star, res.policies)
        # thin long single-query runs to at most ~400 points on a log-spaced query grid
        idx = np.unique(np.concatenate([np.arange(min(len(kl), 50)),
                                        np.geomspace(1, len(kl) - 1, 350).astype(int)]))
        if name.startswith("Nash-MP"):
            idx = np.arange(len(kl))  # every iterate: the verdict reads all of them
        expl = np.array([game.exploitability(res.policies[i], beta=beta, ref=ref) for i in idx])
        frames.append(pd.DataFrame({"algorithm": name, "k": idx, "queries": res.queries[idx],
                                    "kl": kl[idx], "exploitability": expl, "kl0": kl0}))
    return pd.concat(frames, ignore_index=True)


def _nash_mp_frame(ctx):
    grid = labkit.expand_grid(K=ctx.pick([10, 100], [10, 100, 1000]), beta=[0.01, 0.1, 1.0])
    return labkit.sweep(_head_to_head_run, grid, n_seeds=ctx.pick(3, 10), seed=ctx.seed, store=ctx.store,
                        backend=ctx.backend, progress=ctx.progress)


#: KL_0 is computed from ``ref`` and from the normalised initial iterate: ratios at N = 0 may
#: exceed 1 by a few ulps.
ROUNDOFF = 1e-9


def nash_mp_bound(beta: float, queries) -> np.ndarray:
    """The theorem's envelope ``(1 + 2 beta)^(-N/2)`` (KL relative to KL_0) after N queries [T25]."""
    return (1.0 + 2.0 * beta) ** (-np.asarray(queries, dtype=float) / 2.0)


def _nash_mp_measure(ctx) -> Outcome:
    frame = _nash_mp_frame(ctx)
    mp = frame[frame["algorithm"].str.startswith("Nash-MP")]
    env = nash_mp_bound(mp["beta"].to_numpy(), mp["queries"].to_numpy()) * mp["kl0"].to_numpy()
    usable = env >= KL_FLOOR  # compare only above the float64 floor of KL
    ratio = mp["kl"].to_numpy()[usable] / env[usable]
    per_run = pd.Series(ratio).groupby(
        [mp["K"].to_numpy()[usable], mp["beta"].to_numpy()[usable], mp["replicate"].to_numpy()[usable]]).max()
    slopes = []
    for (beta,), g in mp.groupby(["beta"]):
        for _, run in g.groupby(["K", "replicate"]):
            tail = run[(run["kl"] > KL_FLOOR) & (run["kl"] < 1e-4 * run["kl0"])]
            if len(tail) >= 3:
                slopes.append((beta, np.polyfit(tail["queries"], np.log(tail["kl"]), 1)[0]))
    parts = [f"beta={b:g}: asymptotic log-KL slope per query {np.mean([s for bb, s in slopes if bb == b]):.4f} "
             f"(theorem {-math.log(1 + 2 * b) / 2:.4f})" for b in sorted({b for b, _ in slopes})]
    return worst_case(
        per_run.to_numpy(), "<=", 1.0, ROUNDOFF, frame,
        f"max over queries N of KL(pi*, pi_N) / ((1+2 beta)^(-N/2) KL_0) on {len(per_run)} runs "
        f"(uniform tournaments, K in {sorted(frame.K.unique().tolist())}, beta in "
        f"{sorted(frame.beta.unique().tolist())}, mu = softmax(N(0, 4I))), read while the envelope is "
        f"above {KL_FLOOR:g}; " + "; ".join(parts)
        + ". Observed: KL falls about twice as fast as the envelope (it is quadratic in the "
          "log-probability error), as the theory notes predict.",
    )


def _nash_mp_plot(result):
    import matplotlib.pyplot as plt

    data = result.data
    betas = sorted(data["beta"].unique())
    fig, axes = plt.subplots(2, len(betas), figsize=(2.6 * len(betas), 4.6), sharex="col", squeeze=False)
    K = data["K"].max()
    for j, beta in enumerate(betas):
        sub = data[(data["beta"] == beta) & (data["K"] == K)]
        for row, metric in enumerate(["kl", "exploitability"]):
            ax = axes[row, j]
            for name, g in sub.groupby("algorithm", sort=False):
                med = g.groupby("queries")[metric].median()
                ax.plot(med.index, med.clip(lower=1e-16).to_numpy(), lw=1, label=name)
            n = np.arange(0, sub["queries"].max() + 1)
            if metric == "kl":
                kl0 = sub["kl0"].median()
                ax.plot(n, kl0 * nash_mp_bound(beta, n), "k--", lw=0.8, label=r"$(1+2\beta)^{-N/2}\,KL_0$")
            ax.set_yscale("log")
            ax.set_ylim(1e-16, None)
            if row == 0:
                ax.set_title(rf"$\beta={beta:g}$, K={K}", fontsize=8)
            if row == 1:
                ax.set_xlabel("preference queries N")
            if j == 0:
                ax.set_ylabel(r"$KL(\pi^*_\beta, \pi)$" if metric == "kl" else r"$E_\beta(\pi)$")
    axes[0, 0].legend(fontsize=5, loc="lower left")
    return fig


nash_mp_linear_rate = register(Check(
    name="nash_mirror_prox.kl_linear_rate",
    paper="D. Tiapkin et al. 2025, arXiv:2505.19731 (v1), main theorem",
    claim="Nash Mirror Prox at eta = 2 has KL(pi*_beta, pi) <= (1+2 beta)^(-N/2) KL_0 after N "
          "preference queries, independently of the number of responses K.",
    tag="A",
    measure=_nash_mp_measure,
    plot=_nash_mp_plot,
))


# ---------------------------------------------------------------------------------------------
# Nash-MD: constant-step plateau proportional to eta^2; decaying step O(1/T)
# ---------------------------------------------------------------------------------------------
MD_ETAS = (0.01, 0.03, 0.1, 0.3, 1.0)


def _nash_md_plateau_run(config, rng):
    beta = config["beta"]
    game = _game("tournament", config["K"], rng)
    ref = _random_ref(config["K"], rng)
    pi_star = game.regularized_nash(beta, ref=ref)
    rows = []
    for eta in MD_ETAS:
        # (1 - eta beta)^n <= 1e-16: the run sits on its fixed point, the plateau
        n_iter = int(math.ceil(37.0 / (eta * beta))) + 10
        res = nash.nash_md(game, beta, eta, n_iter, ref=ref)
        drift = float(np.abs(res.policies[-1] - res.policies[-2]).max())
        rows.append({"eta": eta, "plateau_kl": float(mdps.kl(pi_star, res.policy)), "last_step": drift})
    return rows


def _nash_md_plateau_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(K=[10], beta=[0.1])
    frame = labkit.sweep(_nash_md_plateau_run, grid, n_seeds=ctx.pick(5, 20), seed=ctx.seed,
                         store=ctx.store, backend=ctx.backend, progress=ctx.progress)
    Y = frame.pivot(index="replicate", columns="eta", values="plateau_kl").to_numpy()
    fit = labkit.fit_power_law(np.array(MD_ETAS), Y, tail_decades=3.0, rng=ctx.seed)
    return Outcome(
        measured=fit.estimate, ci=fit.ci, expected=2.0, relation="==", tol=0.1, data=frame,
        details=f"log-log slope of the constant-step plateau KL(pi*, pi_inf) against eta over "
                f"eta in {list(MD_ETAS)} (beta=0.1, K=10, {Y.shape[0]} random tournaments; 90% "
                f"bootstrap CI over games). The fixed point of constant-step Nash-MD is biased, so "
                f"pi*_beta is not its fixed point; largest final step {frame.last_step.max():.1e}.",
    )


def _nash_md_plateau_plot(result):
    from labkit.figures import rate_plot

    frame = result.data
    Y = frame.pivot(index="replicate", columns="eta", values="plateau_kl").to_numpy()
    fit = labkit.fit_power_law(np.array(MD_ETAS), Y, tail_decades=3.0)
    return rate_plot(np.array(MD_ETAS), Y, fit=fit, theory_slope=2.0, xlabel=r"step size $\eta$",
                     ylabel=r"plateau $KL(\pi^*_\beta, \pi_\infty)$", tail_decades=3.0)


nash_md_plateau = register(Check(
    name="nash_md.constant_step_plateau",
    paper="R. Munos et al. 2023, arXiv:2312.00886, Nash-MD last-iterate theorem; theory notes 2.1",
    claim="Nash-MD with a constant step eta converges to a biased fixed point whose KL to the "
          "regularised equilibrium grows like eta^2 (log-log slope 2).",
    tag="R",
    measure=_nash_md_plateau_measure,
    plot=_nash_md_plateau_plot,
))


def _nash_md_decay_run(config, rng):
    K, beta, T = config["K"], config["beta"], config["T"]
    game = _game("tournament", K, rng)
    ref = _random_ref(K, rng)
    pi_star = game.regularized_nash(beta, ref=ref)
    res = nash.nash_md(game, beta, 1.0 / beta, T, ref=ref, schedule="decaying")  # eta_t = 2/(beta(t+2))
    kl = _kl_path(pi_star, res.policies)
    ts = np.unique(np.geomspace(1, T, 25).astype(int))
    bound = np.maximum(2 * kl[0], 8 / beta**2) / (ts + 2)
    return pd.DataFrame({"t": ts, "kl": kl[ts], "bound": bound})


def _nash_md_decay_measure(ctx) -> Outcome:
    T = ctx.pick(3000, 30000)
    grid = labkit.expand_grid(K=[20], beta=[0.1, 1.0], T=[T])
    frame = labkit.sweep(_nash_md_decay_run, grid, n_seeds=ctx.pick(5, 20), seed=ctx.seed, store=ctx.store,
                         backend=ctx.backend, progress=ctx.progress)
    fits, worst_bound = [], float((frame["kl"] / frame["bound"]).max())
    for beta, g in frame.groupby("beta"):
        Y = g.pivot(index="replicate", columns="t", values="kl").to_numpy()
        fits.append((beta, labkit.fit_power_law(np.sort(g["t"].unique()), Y, tail_decades=1.0, rng=ctx.seed)))
    beta_w, fit_w = max(fits, key=lambda bf: bf[1].ci_high)
    return Outcome(
        measured=fit_w.estimate, ci=fit_w.ci, expected=-1.0, relation="<=", tol=0.1, data=frame,
        details="tail (last decade) log-log slope of KL(pi*, pi_T) in T with eta_t = 2/(beta(t+2)); "
                "the theorem gives O(1/T) (slope -1); worst case over beta shown ("
                + ", ".join(f"beta={b:g}: {f.estimate:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}]" for b, f in fits)
                + f"). The [mem] bound max(2 KL_0, 8/beta^2)/(T+2) holds with ratio at most {worst_bound:.2e}. "
                  "In the exact setting the slope is about -2 (the bias is quadratic in eta), as the "
                  "theory notes predict.",
    )


def _nash_md_decay_plot(result):
    from labkit.figures import rate_plot

    import matplotlib.pyplot as plt

    betas = sorted(result.data["beta"].unique())
    fig, axes = plt.subplots(1, len(betas), figsize=(3.2 * len(betas), 3.0), squeeze=False)
    for ax, beta in zip(axes[0], betas):
        g = result.data[result.data["beta"] == beta]
        Y = g.pivot(index="replicate", columns="t", values="kl").to_numpy()
        x = np.sort(g["t"].unique())
        rate_plot(x, Y, fit=labkit.fit_power_law(x, Y), theory_slope=-1.0, ax=ax, xlabel="iteration T",
                  ylabel=r"$KL(\pi^*_\beta, \pi_T)$", title=rf"$\beta={beta:g}$")
    return fig


nash_md_decaying_rate = register(Check(
    name="nash_md.decaying_step_rate",
    paper="R. Munos et al. 2023, arXiv:2312.00886, Nash-MD last-iterate theorem",
    claim="Nash-MD with eta_t = 2/(beta (t+2)) has KL(pi*_beta, pi_T) = O(1/T) (constant "
          "recalled: max(2 KL_0, 8/beta^2)/(T+2)); checked as a tail slope <= -1.",
    tag="U",
    measure=_nash_md_decay_measure,
    plot=_nash_md_decay_plot,
))


# ---------------------------------------------------------------------------------------------
# OMD / INPO: exact convergence with a game-dependent stability limit
# ---------------------------------------------------------------------------------------------
def omd_stability(game, beta: float, ref=None):
    r"""Linearisation of the regularised OMD/INPO map at ``pi*`` (theory notes 2.2, 2.3) [der].

    In logits the step is ``z' = (1 - eta beta) z + eta beta log mu + eta Pref softmax(z)``;
    at ``pi*`` its Jacobian is ``(1 - eta beta) I + eta A D`` with ``A = Pref - 1/2`` (the
    constant part drops because ``1^T D = 0``) and ``D = diag(pi*) - pi* pi*^T``. ``A D`` is
    similar to the antisymmetric ``D^{1/2} A D^{1/2}``, whose eigenvalues are ``+-i omega_j``,
    so the Jacobian's moduli are ``sqrt((1 - eta beta)^2 + eta^2 omega_j^2)``. KL is quadratic
    in the logit error, so it contracts per iteration by
    ``rho^2 = (1 - eta beta)^2 + eta^2 omega^2`` with ``omega = max_j omega_j``, and the
    iteration is stable iff ``eta < 2 beta / (beta^2 + omega^2)``.

    Returns ``(pi_star, omega, eta_limit)``.
    """
    pi_star = game.regularized_nash(beta, ref=ref)
    sq = np.sqrt(pi_star)
    D_half = np.diag(sq) - np.outer(pi_star, sq)  # D = D_half @ D_half.T with D_half = (I - pi 1^T) diag(sqrt pi)
    A = game.Pref - 0.5
    M = D_half.T @ A @ D_half  # antisymmetric, similar to A D on the relevant subspace
    omega = float(np.abs(np.linalg.eigvals(M).imag).max())
    return pi_star, omega, 2 * beta / (beta**2 + omega**2)


#: Linear-rate bound checks compare a fitted factor with the theorem's to 1e-3 (the shared
#: methodology of theory/mdp.md section 0.3). KL is a sum of modes decaying at rho_j^2 <= rho^2,
#: so the fitted factor is at most rho^2 and equals it once the slowest mode dominates.
RATE_TOL = 1e-3


def _omd_run(config, rng):
    beta = config["beta"]
    game = _game(config["game"], config["K"], rng)
    K = game.n_responses
    ref = _random_ref(K, rng)
    pi_star, omega, limit = omd_stability(game, beta, ref)
    rows = []
    # a stable step at a quarter of the limit (rho^2 >= 1/4, so the window holds many iterates)
    # and an unstable one at 1.5 times the limit
    for frac in (0.25, 1.5):
        eta = frac * limit
        if eta * beta > 1:
            continue  # outside the step's domain
        rho2 = (1 - eta * beta) ** 2 + eta**2 * omega**2
        n_iter = int(min(20000, math.ceil(30.0 / max(-math.log(rho2), 1e-3))))
        res = nash.inpo(game, beta, eta, n_iter, ref=ref)  # closed-form INPO = regularised OMD
        kl = _kl_path(pi_star, res.policies)
        converged = bool(kl[-1] < 1e-3 * kl[0])
        factor = float("nan")
        if frac < 1:
            # a local (linearisation) rate: read it where KL is small, above the float floor
            factor = labkit.fit_linear_rate(kl, window=(max(1e-13, KL_FLOOR / kl[0]), 1e-4)).estimate
        rows.append({"eta_over_limit": frac, "eta": eta, "omega": omega, "rho2": rho2, "factor": factor,
                     "rate_error": abs(math.log(factor) / math.log(rho2) - 1) if frac < 1 else float("nan"),
                     "final_kl": float(kl[-1]), "kl0": float(kl[0]), "converged": converged})
    return rows


def _omd_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(game=["tournament"], K=ctx.pick([5, 20], [5, 20, 100]), beta=[0.05, 0.3])
    grid += labkit.expand_grid(game=["rps", "cycle"], K=[5], beta=[0.05, 0.3])
    frame = labkit.sweep(_omd_run, grid, n_seeds=ctx.pick(3, 10), seed=ctx.seed, store=ctx.store,
                         backend=ctx.backend, progress=ctx.progress)
    stable = frame[frame["eta_over_limit"] < 1]
    unstable = frame[frame["eta_over_limit"] > 1]
    excess = (stable["factor"] - stable["rho2"]).to_numpy()
    # an unstable step that converges would contradict the limit: count it as a full violation
    violations = unstable["converged"].astype(float).to_numpy()
    return worst_case(
        np.concatenate([excess, violations]), "<=", 0.0, RATE_TOL, frame,
        f"fitted per-iteration KL factor minus rho^2 at eta = limit/4 on {len(stable)} runs (worst "
        f"{excess.max():.1e}; median relative error of the rate exponent "
        f"{np.median(stable.rate_error):.1e}, the largest {stable.rate_error.max():.2f} where the slowest "
        f"mode has not yet taken over the window; final KL down to {stable.final_kl.max():.1e}, i.e. "
        f"pi* is reached exactly, "
        f"no bias), where rho^2 = (1 - eta beta)^2 + eta^2 omega^2 and limit = 2 beta/(beta^2 + "
        f"omega^2) is game dependent ({frame.eta.min():.3g}..{frame.eta.max():.3g}); at eta = 1.5 x "
        f"limit {int(unstable.converged.sum())} of {len(unstable)} runs converged (0 expected).",
    )


def _omd_plot(result):
    import matplotlib.pyplot as plt

    data = result.data[result.data["eta_over_limit"] < 1]
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.scatter(data["rho2"], data["factor"], s=12)
    lo, hi = data[["rho2", "factor"]].min().min(), data[["rho2", "factor"]].max().max()
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label=r"theory $\rho^2$")
    ax.set_xlabel(r"$\rho^2 = (1-\eta\beta)^2 + \eta^2\omega^2$")
    ax.set_ylabel("fitted KL factor per iteration")
    ax.legend()
    return fig


omd_exact_convergence = register(Check(
    name="inpo.exact_convergence_stability_limit",
    paper="Y. Zhang et al. 2024, arXiv:2407.00617 (INPO's OMD step); theory notes 2.3",
    claim="INPO / regularised OMD converges linearly to the exact regularised equilibrium (no bias) "
          "with per-iteration KL factor at most (1-eta beta)^2 + eta^2 omega^2, and does not converge "
          "beyond the game-dependent step limit 2 beta/(beta^2 + omega^2).",
    tag="R",
    measure=_omd_measure,
    plot=_omd_plot,
))


# ---------------------------------------------------------------------------------------------
# Hedge self-play: average iterate sqrt(log K / (2T)); last iterate cycles
# ---------------------------------------------------------------------------------------------
def hedge_bound(K: int, T) -> np.ndarray:
    """Exploitability bound of Hedge self-play's average iterate with eta = sqrt(8 log K / T):
    regret <= sqrt(T log K / 2) for payoffs in [0, 1] [CL06, Thm 2.2], and in self-play
    E_0(avg) = regret / T because pi_t^T P pi_t = 1/2."""
    return np.sqrt(math.log(K) / (2 * np.asarray(T, dtype=float)))


def _hedge_run(config, rng):
    K, T = config["K"], config["T"]
    game = _game(config["game"], K, rng)
    K = game.n_responses
    eta = math.sqrt(8 * math.log(K) / T)
    res = nash.online_mirror_descent(game, 0.0, eta, T, init=np.full(K, 1.0 / K))
    return {"K_eff": K, "eta": eta, "avg_exploitability": game.exploitability(res.average_policy),
            "last_exploitability": game.exploitability(res.policy), "bound": float(hedge_bound(K, T))}


def _hedge_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(game=["tournament"], K=[3, 10, 50], T=ctx.pick([100, 1000, 10000], [100, 1000, 10000, 100000]))
    grid += labkit.expand_grid(game=["rps"], K=[3], T=ctx.pick([100, 1000, 10000], [100, 1000, 10000, 100000]))
    frame = labkit.sweep(_hedge_run, grid, n_seeds=ctx.pick(3, 10), seed=ctx.seed, store=ctx.store,
                         backend=ctx.backend, progress=ctx.progress)
    ratio = (frame["avg_exploitability"] / frame["bound"]).to_numpy()
    return worst_case(
        ratio, "<=", 1.0, 0.0, frame,
        f"E_0(average iterate) / sqrt(log K / (2T)) for Hedge self-play with eta = sqrt(8 log K/T), "
        f"uniform start, over {len(frame)} runs (uniform tournaments K in {{3, 10, 50}}, rock-paper-"
        f"scissors; T up to {frame['T'].max()}); the last iterate's exploitability stays up to "
        f"{frame.last_exploitability.max():.3f}.",
    )


def _hedge_plot(result):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.8, 3.2))
    for (game, K), g in result.data.groupby(["game", "K"]):
        med = g.groupby("T")["avg_exploitability"].median()
        ax.plot(med.index, med.to_numpy(), "o-", ms=3, lw=1, label=f"{game} K={K} (average)")
        ax.plot(med.index, hedge_bound(K, med.index.to_numpy()), "--", lw=0.8, color=ax.lines[-1].get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("T")
    ax.set_ylabel(r"$E_0(\bar\pi_T)$ (dashed: $\sqrt{\log K/(2T)}$)")
    ax.legend(fontsize=5)
    return fig


hedge_average_iterate = register(Check(
    name="hedge.average_iterate_exploitability",
    paper="N. Cesa-Bianchi and G. Lugosi 2006, Thm 2.2; SPO/DNO self-play (theory notes 2.5, 2.6, 3.4)",
    claim="Hedge self-play with eta = sqrt(8 log K/T) has average-iterate exploitability at most "
          "sqrt(log K/(2T)) on any preference game.",
    tag="R",
    measure=_hedge_measure,
    plot=_hedge_plot,
))


def _cycle_run(config, rng):
    game = pg.rock_paper_scissors(config["p"])
    init = mdps.softmax(rng.standard_normal(3))
    res = nash.online_mirror_descent(game, 0.0, config["eta"], config["T"], init=init)
    kl = _kl_path(np.full(3, 1 / 3), res.policies)
    ts = np.unique(np.geomspace(1, config["T"], 60).astype(int))
    return pd.DataFrame({"t": ts, "kl": kl[ts], "min_increment": float(np.diff(kl).min()),
                         "exploitability": [game.exploitability(res.policies[t]) for t in ts]})


def _cycle_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(p=[1.0, 0.8], eta=[0.05, 0.5], T=[ctx.pick(2000, 20000)])
    frame = labkit.sweep(_cycle_run, grid, n_seeds=ctx.pick(3, 10), seed=ctx.seed, store=ctx.store,
                         backend=ctx.backend, progress=ctx.progress)
    runs = frame.groupby(["p", "eta", "replicate"])
    incr = runs["min_increment"].first().to_numpy()
    final_expl = runs["exploitability"].last()
    return worst_case(
        incr, ">=", 0.0, 1e-12, frame,
        "smallest one-step change of KL(uniform, pi_t) along Hedge self-play (beta = 0) on "
        f"rock-paper-scissors (p in {{1, 0.8}}), {len(incr)} runs: KL to the interior equilibrium never "
        "decreases, so the last iterate cannot converge; final exploitability "
        f"{final_expl.min():.3f}..{final_expl.max():.3f}.",
    )


def _cycle_plot(result):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.8, 3.2))
    for (p, eta), g in result.data.groupby(["p", "eta"]):
        med = g.groupby("t")["kl"].median()
        ax.plot(med.index, med.to_numpy(), lw=1, label=f"p={p:g}, eta={eta:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("iteration t")
    ax.set_ylabel(r"$KL(\pi^*, \pi_t)$, last iterate")
    ax.legend(fontsize=6)
    return fig


hedge_last_iterate_cycles = register(Check(
    name="hedge.last_iterate_cycles",
    paper="Theory notes 3.1, 3.5 (invariant 8); Bailey & Piliouras 2018 (MWU in zero-sum games)",
    claim="Hedge self-play's last iterate never approaches the interior equilibrium of "
          "rock-paper-scissors: KL(pi*, pi_t) is non-decreasing in t.",
    tag="R",
    measure=_cycle_measure,
    plot=_cycle_plot,
))


# ---------------------------------------------------------------------------------------------
# fixed points and loss identities
# ---------------------------------------------------------------------------------------------
def _fixed_point_run(config, rng):
    K, beta = config["K"], config["beta"]
    game = _game("tournament", K, rng)
    ref = _random_ref(K, rng)
    pi_star = game.regularized_nash(beta, ref=ref)
    eta = min(0.5, 1 / beta)
    one_step = {
        "Nash-MP eta=2": nash.nash_mirror_prox(game, beta, 2.0, 1, ref=ref, init=pi_star),
        "Nash-MP eta=0.5": nash.nash_mirror_prox(game, beta, 0.5, 1, ref=ref, init=pi_star),
        # inner mirror ascent on a (1 + eta beta)-strongly concave prox objective: a stable step
        "approximate Nash-MP (20 inner steps)": nash.nash_mirror_prox(game, beta, 2.0, 1, ref=ref, init=pi_star,
                                                                      inner_steps=20, inner_lr=0.5 / (1 + 2 * beta)),
        "OMD (linearised prox)": nash.online_mirror_descent(game, beta, eta, 1, ref=ref, init=pi_star),
        "OMD (exact prox)": nash.online_mirror_descent(game, beta, eta, 1, ref=ref, init=pi_star, prox="exact"),
        "INPO closed form": nash.inpo(game, beta, eta, 1, ref=ref, init=pi_star),
        "INPO pair loss (population)": nash.inpo(game, beta, eta, 1, ref=ref, init=pi_star, fit="pair_loss"),
        "Nash-EMA": nash.nash_ema(game, beta, 0.5, 1, ref=ref, init=pi_star),
    }
    rows = [{"update": k, "displacement": float(np.abs(r.policy - pi_star).max()), "counted": True}
            for k, r in one_step.items()]
    # unregularised self-play at the interior Nash equilibrium of the intransitive 3x3 game
    intrans = mdps.PreferenceGame(np.array([[.5, .9, .3], [.1, .5, .6], [.7, .4, .5]]))
    nash0 = intrans.nash()
    for name, res in {"Hedge (beta=0)": nash.online_mirror_descent(intrans, 0.0, 0.5, 1, init=nash0),
                      "SPO": nash.spo(intrans, 0.5, 1, init=nash0),
                      "DNO": nash.dno(intrans, 0.5, 1, init=nash0)}.items():
        rows.append({"update": name, "displacement": float(np.abs(res.policy - nash0).max()), "counted": True})
    # Nash-MD with a constant step is *not* expected to fix pi* (biased): recorded, not counted
    md = nash.nash_md(game, beta, eta, 1, ref=ref, init=pi_star)
    rows.append({"update": "Nash-MD constant step (biased)", "displacement": float(np.abs(md.policy - pi_star).max()),
                 "counted": False})
    return rows


#: One update from an exact fixed point moves it by round-off only: O(K eps) in the logits.
FIXED_POINT_TOL = 1e-12


def _fixed_point_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(K=[3, 10, 30], beta=[0.05, 0.5, 2.0])
    frame = labkit.sweep(_fixed_point_run, grid, n_seeds=ctx.pick(2, 10), seed=ctx.seed, store=ctx.store,
                         backend=ctx.backend, progress=ctx.progress)
    counted = frame[frame["counted"]]
    worst = counted.groupby("update")["displacement"].max()
    md = frame[~frame["counted"]]["displacement"]
    return worst_case(
        counted["displacement"].to_numpy(), "<=", 0.0, FIXED_POINT_TOL, frame,
        "sup-norm move of one update started at the exact equilibrium (regularised updates at "
        "pi*_beta; Hedge/SPO/DNO at the interior Nash (1/7, 2/7, 4/7)); worst by update: "
        + ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
        + f". Constant-step Nash-MD is not included: it moves pi* by {md.min():.1e}..{md.max():.1e} "
          "(its fixed point is biased, theory notes 2.1).",
    )


def _fixed_point_plot(result):
    import matplotlib.pyplot as plt

    worst = result.data.groupby("update")["displacement"].max().clip(lower=1e-18).sort_values()
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    ax.barh(worst.index, worst.to_numpy())
    ax.axvline(FIXED_POINT_TOL, color="k", ls="--", lw=0.8, label="tolerance")
    ax.set_xscale("log")
    ax.set_xlabel(r"$\|\pi_1 - \pi^*\|_\infty$ from $\pi_0 = \pi^*$")
    ax.tick_params(axis="y", labelsize=5)
    ax.legend(fontsize=6)
    return fig


fixed_point_of_every_update = register(Check(
    name="nash.equilibrium_fixed_point",
    paper="Theory notes 3.1 and 3.5 (invariant 4); Tiapkin et al. 2025; Zhang et al. 2024",
    claim="The exact regularised equilibrium is a fixed point of every regularised update "
          "(Nash-MP for any eta, approximate Nash-MP, OMD, INPO closed form and pair loss, "
          "Nash-EMA), and the interior Nash equilibrium of Hedge, SPO and DNO.",
    tag="R",
    measure=_fixed_point_measure,
    plot=_fixed_point_plot,
))


def _inpo_loss_run(config, rng):
    K, beta = config["K"], config["beta"]
    game = _game("tournament", K, rng)
    ref = _random_ref(K, rng)
    init = mdps.softmax(rng.standard_normal(K))
    eta = 0.5 / beta if beta > 0.5 else 1.0
    closed = nash.inpo(game, beta, eta, 1, ref=ref, init=init)
    fitted = nash.inpo(game, beta, eta, 1, ref=ref, init=init, fit="pair_loss")
    return {"gap": float(np.abs(closed.policy - fitted.policy).max())}


#: The population loss is minimised by a linear least-squares solve: agreement to 1e-8 (notes 2.3).
INPO_TOL = 1e-8


def _inpo_loss_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(K=[2, 5, 20], beta=[0.1, 1.0])
    frame = labkit.sweep(_inpo_loss_run, grid, n_seeds=ctx.pick(3, 10), seed=ctx.seed, store=ctx.store,
                         backend=ctx.backend, progress=ctx.progress)
    return worst_case(
        frame["gap"].to_numpy(), "<=", 0.0, INPO_TOL, frame,
        f"sup-norm gap between the minimiser of INPO's exact population pair loss and the closed-form "
        f"OMD step, over {len(frame)} random games and starting policies.",
    )


def _inpo_loss_plot(result):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 3.0))
    for beta, g in result.data.groupby("beta"):
        ax.scatter(g["K"], g["gap"].clip(lower=1e-18), s=12, label=rf"$\beta={beta:g}$")
    ax.axhline(INPO_TOL, color="k", ls="--", lw=0.8, label="tolerance")
    ax.set_yscale("log")
    ax.set_xlabel("K")
    ax.set_ylabel("|loss minimiser - OMD step|")
    ax.legend(fontsize=6)
    return fig


inpo_loss_equals_omd = register(Check(
    name="inpo.loss_minimizer_is_omd_step",
    paper="Y. Zhang et al. 2024, arXiv:2407.00617; theory notes 2.3 and 3.1 (IPO identity)",
    claim="The minimiser of INPO's population pair loss is exactly the online-mirror-descent step.",
    tag="R",
    measure=_inpo_loss_measure,
    plot=_inpo_loss_plot,
))


# ---------------------------------------------------------------------------------------------
# sampled duels approach the exact updates at the Monte Carlo rate
# ---------------------------------------------------------------------------------------------
MC_SAMPLES = (10, 100, 1000, 10000)


def _mc_run(config, rng):
    K, beta, T = 10, 0.2, 5
    game_rng, run_rng = rng.spawn(2)
    game = _game("tournament", K, game_rng)
    ref = _random_ref(K, game_rng)
    exact = {"Nash-MP": nash.nash_mirror_prox(game, beta, 2.0, T, ref=ref),
             "Nash-MD": nash.nash_md(game, beta, 1.0, T, ref=ref)}
    rows = []
    for n in MC_SAMPLES:
        for name, ex in exact.items():
            fn = nash.nash_mirror_prox if name == "Nash-MP" else nash.nash_md
            eta = 2.0 if name == "Nash-MP" else 1.0
            res = fn(game, beta, eta, T, ref=ref, oracle="sampled", n_samples=n, rng=run_rng)
            rows.append({"algorithm": name, "n_samples": n, "duels": int(res.duels[-1]),
                         "error": float(np.abs(res.policy - ex.policy).max())})
    return rows


def _mc_measure(ctx) -> Outcome:
    frame = labkit.sweep(_mc_run, [{"K": 10}], n_seeds=ctx.pick(20, 100), seed=ctx.seed, store=ctx.store,
                         backend=ctx.backend, progress=ctx.progress)
    fits = {}
    for name, g in frame.groupby("algorithm"):
        Y = g.pivot(index="replicate", columns="n_samples", values="error").to_numpy()
        fits[name] = labkit.fit_power_law(np.array(MC_SAMPLES), Y, tail_decades=3.0, rng=ctx.seed)
    name, fit = max(fits.items(), key=lambda kv: abs(kv[1].estimate + 0.5))
    return Outcome(
        measured=fit.estimate, ci=fit.ci, expected=-0.5, relation="==", tol=0.1, data=frame,
        details="log-log slope of the sup-norm gap between sampled and exact runs (5 iterations, "
                "K=10, beta=0.2) in the number of duels per response per query, 90% bootstrap CI over "
                "seeds; the farthest from -1/2 shown ("
                + ", ".join(f"{k}: {f.estimate:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}]" for k, f in fits.items())
                + ").",
    )


def _mc_plot(result):
    from labkit.figures import rate_plot

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.8, 3.2))
    for name, g in result.data.groupby("algorithm"):
        Y = g.pivot(index="replicate", columns="n_samples", values="error").to_numpy()
        x = np.array(MC_SAMPLES)
        rate_plot(x, Y, fit=labkit.fit_power_law(x, Y, tail_decades=3.0), theory_slope=-0.5, ax=ax,
                  xlabel="duels per response per query", ylabel=r"$\|\pi_T^{sampled} - \pi_T^{exact}\|_\infty$",
                  label=name, tail_decades=3.0)
    return fig


sampled_monte_carlo_rate = register(Check(
    name="nash.sampled_monte_carlo_rate",
    paper="Theory notes 2.1 (check 3) and 3.2: sampled duel oracles are unbiased",
    claim="Nash-MP and Nash-MD run on sampled duels approach the exact runs at the Monte Carlo rate "
          "n^(-1/2) in the number of duels per query.",
    tag="R",
    measure=_mc_measure,
    plot=_mc_plot,
))
