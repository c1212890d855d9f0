r"""Sampled duels: the win-rate oracle is unbiased at every sample size, and sampled runs approach
the exact ones at the Monte Carlo rate.

docs/theory/nash.md, section 'Sampled oracle': a sampled query draws, for every response ``y``,
``n`` opponents ``y' ~ pi`` and one Bernoulli duel ``1[y > y'] ~ Bern(Pref[y, y'])`` each (with
flip noise ``nu``, each outcome flipped with probability ``nu``). Each outcome is then
``Bern(q_y)`` with ``q_y = (1 - nu) (P pi)_y + nu (1 - (P pi)_y)``, independently, so the
estimate is ``Binomial(n, q_y) / n``: unbiased for ``q_y`` with variance ``q_y (1 - q_y) / n``.

* ``nash.sampled_oracle_unbiased``: at fixed ``n`` the mean of ``M`` independent estimates is
  compared with ``q_y`` by a z-test with the exact standard error, Bonferroni-corrected over
  all responses and sample sizes (family-wise level 1e-3). A bias that shrinks like ``1/n``
  (win rates divided by ``n + 1``) is invisible to a rate check but fails this one.
* ``nash.sampled_monte_carlo_rate``: the sup-norm gap between sampled and exact runs falls
  like ``n^{-1/2}``.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

import labkit
import mdps
from algorithms import nash
from labkit.check import Check, Outcome, register, worst_case
from labkit.rates import RateFit
from proofs_checks.nash._instances import game, random_ref

__all__ = ["sampled_oracle_unbiased", "sampled_monte_carlo_rate"]

NOTES = "Sampled duel oracles are unbiased: docs/theory/nash.md, section 'Sampled oracle'"
#: Family-wise false-alarm probability of the bias test (per run of the check).
ALPHA = 1e-3
ORACLE_SAMPLES = (1, 10, 100)
ORACLE_NOISE = (0.0, 0.2)


def _oracle_run(config, rng):
    K, M = config["K"], config["M"]
    g = game("tournament", K, rng)
    pi = mdps.softmax(rng.standard_normal(K))
    exact = np.asarray(g.Pref) @ pi
    rows = []
    for nu in ORACLE_NOISE:
        q = (1 - nu) * exact + nu * (1 - exact)
        for n in ORACLE_SAMPLES:
            est = np.array([g.empirical_win_rates(pi, n, rng=rng, noise=nu) for _ in range(M)])
            se = np.sqrt(q * (1 - q) / (n * M))
            z = (est.mean(axis=0) - q) / se
            for y in range(K):
                rows.append({"noise": nu, "n": n, "response": y, "q": float(q[y]), "mean": float(est[:, y].mean()),
                             "z": float(z[y])})
    return rows


def _oracle_measure(ctx) -> Outcome:
    frame = ctx.sweep(_oracle_run, [{"K": 8, "M": ctx.pick(2000, 20000)}], n_seeds=ctx.pick(2, 5))
    tests = len(frame)
    z_crit = float(norm.ppf(1 - ALPHA / (2 * tests)))
    return worst_case(
        frame["z"].abs().to_numpy(), "<=", z_crit, 0.0, frame,
        f"largest |z| of the mean of M={int(frame.M.iloc[0])} sampled win-rate vectors against the exact "
        f"(noisy) win rate q_y, with the exact standard error sqrt(q(1-q)/(nM)), over {tests} tests "
        f"(K=8 tournaments, n in {list(ORACLE_SAMPLES)} duels per response, flip noise in {list(ORACLE_NOISE)}); "
        f"the Bonferroni critical value {z_crit:.2f} holds every test at family-wise level {ALPHA:g}. "
        "Largest |mean - q|: " f"{(frame['mean'] - frame['q']).abs().max():.1e}.",
    )


def _oracle_plot(result):
    from labkit.figures import legend, reference_line, subplots

    data = result.data
    z_crit = float(norm.ppf(1 - ALPHA / (2 * len(data))))
    fig, axes = subplots()
    ax = axes[0, 0]
    for i, (nu, g) in enumerate(data.groupby("noise")):
        ax.scatter(g["n"] * (0.93 if i == 0 else 1.08), g["z"], s=6, label=f"flip noise {nu:g}")
    reference_line(ax, z_crit, label=f"Bonferroni limits (level {ALPHA:g})")
    reference_line(ax, -z_crit, label=f"Bonferroni limits (level {ALPHA:g})")
    ax.set_xscale("log")
    ax.set_xlabel("duels per response n")
    ax.set_ylabel("z of the mean estimate")
    legend(ax, outside=True)
    return fig


sampled_oracle_unbiased = register(Check(
    name="nash.sampled_oracle_unbiased",
    paper=NOTES,
    claim="At every sample size n the sampled win-rate oracle is an unbiased estimate of the exact "
          "(noisy) win rates: no z-statistic exceeds the Bonferroni limit at family-wise level 1e-3.",
    tag="R", family="nash", cost=(2, 15),
    measure=_oracle_measure, plot=_oracle_plot,
))


MC_SAMPLES = (10, 100, 1000, 10000)


def _mc_run(config, rng):
    K, beta, T = 10, 0.2, 5
    game_rng, run_rng = rng.spawn(2)
    g = game("tournament", K, game_rng)
    ref = random_ref(K, game_rng)
    exact = {"Nash-MP": nash.nash_mirror_prox(g, beta, 2.0, T, ref=ref),
             "Nash-MD": nash.nash_md(g, beta, 1.0, T, ref=ref)}
    rows = []
    for n in MC_SAMPLES:
        for name, ex in exact.items():
            fn = nash.nash_mirror_prox if name == "Nash-MP" else nash.nash_md
            eta = 2.0 if name == "Nash-MP" else 1.0
            res = fn(g, beta, eta, T, ref=ref, oracle="sampled", n_samples=n, rng=run_rng)
            rows.append({"algorithm": name, "n_samples": n, "duels": int(res.duels[-1]),
                         "error": float(np.abs(res.policy - ex.policy).max())})
    return rows


def _mc_measure(ctx) -> Outcome:
    frame = ctx.sweep(_mc_run, [{"K": 10}], n_seeds=ctx.pick(20, 100))
    fits = {}
    for name, g in frame.groupby("algorithm"):
        Y = g.pivot(index="replicate", columns="n_samples", values="error").to_numpy()
        fits[name] = labkit.fit_power_law(np.array(MC_SAMPLES), Y, tail_decades=3.0, rng=ctx.seed)
    name, fit = max(fits.items(), key=lambda kv: abs(kv[1].estimate + 0.5))
    return Outcome(
        measured=fit.estimate, ci=fit.ci, expected=-0.5, relation="==", tol=0.1, data=frame,
        interval=f"{fit.confidence:.0%} bootstrap CI over seeds", extras={"fits": {k: f.as_dict() for k, f in fits.items()}},
        details="log-log slope of the sup-norm gap between sampled and exact runs (5 iterations, "
                "K=10, beta=0.2) in the number of duels per response per query; the farthest from -1/2 shown ("
                + ", ".join(f"{k}: {f.estimate:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}]" for k, f in fits.items())
                + "). A bias that vanishes faster than n^(-1/2) is invisible here; nash.sampled_oracle_unbiased "
                  "tests the bias at each n.",
    )


def _mc_plot(result):
    from labkit.figures import PALETTE, legend, rate_plot, subplots

    fig, axes = subplots()
    ax = axes[0, 0]
    for i, (name, g) in enumerate(result.data.groupby("algorithm")):
        Y = g.pivot(index="replicate", columns="n_samples", values="error").to_numpy()
        rate_plot(np.array(MC_SAMPLES), Y, fit=RateFit.from_dict(result.extras["fits"][name]), theory_slope=-0.5,
                  ax=ax, xlabel="duels per response per query n",
                  ylabel=r"$\|\pi_T^{sampled} - \pi_T^{exact}\|_\infty$", label=name, tail_decades=3.0,
                  color=PALETTE[i])
    legend(ax, outside=True, ncols=2)  # two series with fits and theory lines: below the axes
    return fig


sampled_monte_carlo_rate = register(Check(
    name="nash.sampled_monte_carlo_rate",
    paper=NOTES,
    claim="Nash-MP and Nash-MD run on sampled duels approach the exact runs at the Monte Carlo rate "
          "n^(-1/2) in the number of duels per query.",
    tag="R", family="nash", cost=(3, 20),
    measure=_mc_measure, plot=_mc_plot,
))
