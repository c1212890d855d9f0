r"""Behaviour cloning's trajectory-KL rate and the exact bias bound of KL-regularised planning.

Paper: D. Tiapkin et al., *Demonstration-Regularized RL*, ICLR 2024, arXiv 2310.17303.
Derivations: :mod:`algorithms.exploration.demonstrations` and docs/theory/exploration.md.

* ``bc.kl_rate`` **[A]**: the forward trajectory KL of the add-kappa clone,
  ``KL(P^{pi_E} || P^{pi_BC})``, falls like ``1/N_E`` (tail log-log slope ``-1``, 90% bootstrap CI
  over seeds, tolerance 0.1) on a random episodic MDP and on a chain, with a soft expert
  (softmax of ``Q*`` at temperature ``tau``, full support).
* ``bc.kl_expected_value`` **[R]**: the mean KL over seeds equals the exact expectation over the
  demonstrations (a finite sum over binomial laws, :func:`algorithms.exploration.bc_expected_kl`,
  computed from the theorem's formula, not from a run) at *every* ``N_E``: the largest
  ``|z|``-score over (instance, ``N_E``) cells is at most the Bonferroni quantile of a 1%
  family-wise test. The ratio of the measured mean to the leading term
  ``(A - 1) |{(h, s): d_h(s) > 0}| / (2 N_E)`` at the largest ``N_E`` is reported (it tends to 1).
* ``demo_regularized.bias_bound`` **[R]**: for the exact KL-regularised optimum ``pi_lam`` towards a
  reference ``pi_ref`` (a clone), ``V* - V^{pi_lam} <= lam [KL(pi* || pi_ref) - KL(pi_lam || pi_ref)]
  <= lam KL(pi* || pi_ref)`` and ``V* - V^{pi_lam} <= (V* - V^{pi_E}) + lam [KL(pi_E || pi_ref) -
  KL(pi_lam || pi_ref)]`` (trajectory KLs), with the exact identity behind them (the gap in the
  first is ``-lam KL(pi* || pi_lam)``), over random instances and ``lam`` in ``{0.01, ..., 10}``.
  Every value and KL is recomputed here from the returned policy with :func:`mdps.evaluate` and
  :func:`mdps.trajectory_kl`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

import labkit
import mdps
from algorithms import exploration
from labkit.check import Check, Outcome, register, worst_case

__all__ = ["kl_rate", "kl_expected_value", "bias_bound"]

TIAPKIN24 = ("D. Tiapkin, D. Belomestny, D. Calandriello, E. Moulines, R. Munos, A. Naumov, P. Perrault, "
             "M. Valko, P. Menard 2024, Demonstration-Regularized RL, ICLR 2024, arXiv 2310.17303")

#: The two instances: a random episodic MDP (S=5, A=3, H=4, fixed seed) and the advance/reset
#: chain (S=5, H=5); the expert is the softmax of Q* at temperature TAU (full support).
INSTANCES = {"random": dict(S=5, A=3, H=4, seed=20231027), "chain": dict(S=5, H=5)}
TAU = 0.5
KAPPA = 1.0
#: family-wise level of the z-test over all (instance, N_E) cells (Bonferroni)
FAMILY_LEVEL = 0.01


def build(name: str) -> mdps.TabularMDP:
    """The check's instance ``name`` (fixed: every seed draws demonstrations from the same truth)."""
    c = INSTANCES[name]
    if name == "random":
        return mdps.random_finite_horizon(c["S"], c["A"], c["H"], rng=c["seed"])
    return mdps.chain(c["S"], horizon=c["H"])


def _ns(ctx) -> list[int]:
    top = ctx.pick(10_000, 100_000)
    return sorted({int(n) for n in np.rint(np.geomspace(2, top, ctx.pick(16, 20)))})


def _bc_run(config, rng):
    """One seed: ``N_max`` expert trajectories, the clone of every prefix, its exact trajectory KL."""
    mdp = build(config["instance"])
    expert = exploration.soft_expert(mdp, TAU)
    ns = [int(n) for n in config["ns"].split(",")]
    tr = mdps.rollout(mdp, expert, max(ns), rng=rng)
    rows = []
    for n in ns:
        data = {"states": tr.states[:n], "actions": tr.actions[:n]}
        pi_bc = exploration.behaviour_cloning(data, mdp.n_states, mdp.n_actions, mdp.horizon, smoothing=KAPPA)
        rows.append({"N": n, "kl": mdps.trajectory_kl(mdp, expert, pi_bc)})
    return rows


def _bc_frame(ctx) -> pd.DataFrame:
    ns = ",".join(str(n) for n in _ns(ctx))
    grid = labkit.expand_grid(instance=list(INSTANCES), ns=[ns])
    return ctx.sweep(_bc_run, grid, n_seeds=ctx.pick(150, 400), experiment="bc.kl_sweep")


def _theory(frame) -> pd.DataFrame:
    """Exact expected KL and its leading term per (instance, N), from the formulas."""
    rows = []
    for inst in frame.instance.unique():
        mdp = build(inst)
        expert = exploration.soft_expert(mdp, TAU)
        for n in sorted(frame.N.unique()):
            rows.append({"instance": inst, "N": int(n),
                         "exact": exploration.bc_expected_kl(mdp, expert, int(n), smoothing=KAPPA),
                         "leading": exploration.bc_kl_leading_term(mdp, expert, int(n), smoothing=KAPPA)})
    return pd.DataFrame(rows)


def _fit(g, ctx):
    Y = g.pivot(index="replicate", columns="N", values="kl")
    return labkit.fit_power_law(Y.columns.to_numpy(dtype=float), Y.to_numpy(), tail_decades=1.0, rng=ctx.seed)


def _rate_measure(ctx) -> Outcome:
    frame = _bc_frame(ctx)
    fits = {inst: _fit(g, ctx) for inst, g in frame.groupby("instance")}
    inst, fit = max(fits.items(), key=lambda kv: abs(kv[1].estimate + 1.0))
    return Outcome(
        measured=fit.estimate, ci=fit.ci, expected=-1.0, relation="==", tol=0.1, data=frame,
        interval=f"{fit.confidence:.0%} bootstrap CI over seeds",
        extras={"fits": {k: f.as_dict() for k, f in fits.items()}},
        details="log-log slope in N_E of the mean over seeds of the exact trajectory KL(P^{pi_E} || P^{pi_BC}) of "
                f"the add-kappa clone (kappa = {KAPPA:g}) over the last decade of N_E (up to {frame.N.max()}), "
                f"soft expert softmax(Q*/{TAU:g}); the farthest from -1 shown ("
                + ", ".join(f"{k}: {f.estimate:.3f} [{f.ci_low:.3f}, {f.ci_high:.3f}]" for k, f in fits.items())
                + f"), {frame.replicate.nunique()} seeds per instance.",
    )


def _z_table(frame) -> pd.DataFrame:
    stats = frame.groupby(["instance", "N"]).kl.agg(["mean", "std", "count"]).reset_index()
    table = stats.merge(_theory(frame), on=["instance", "N"])
    table["z"] = (table["mean"] - table["exact"]) / (table["std"] / np.sqrt(table["count"]))
    return table


def _expected_measure(ctx) -> Outcome:
    frame = _bc_frame(ctx)
    table = _z_table(frame)
    m = len(table)
    zcrit = float(norm.ppf(1.0 - FAMILY_LEVEL / (2 * m)))
    absz = table.z.abs().to_numpy()
    worst = table.iloc[int(absz.argmax())]
    ratios = []
    gen = np.random.default_rng(ctx.seed)
    for inst, g in frame[frame.N == frame.N.max()].groupby("instance"):
        lead = table[(table.instance == inst) & (table.N == frame.N.max())].leading.iloc[0]
        kl = g.kl.to_numpy()
        boot = gen.choice(kl, size=(2000, kl.size)).mean(axis=1) / lead
        ratios.append(f"{inst}: {kl.mean() / lead:.3f} [{np.quantile(boot, 0.05):.3f}, {np.quantile(boot, 0.95):.3f}]")
    return worst_case(
        absz, "<=", zcrit, 0.0, frame,
        f"largest |z| over {m} (instance, N_E) cells of (mean KL over seeds - exact expected KL) / standard error, "
        f"against the Bonferroni quantile {zcrit:.2f} of a {FAMILY_LEVEL:.0%} family-wise two-sided test; worst "
        f"cell {worst.instance}, N_E = {int(worst.N)}: mean {worst['mean']:.4g} vs exact {worst.exact:.4g}. "
        f"Measured / leading term (A-1)|reached (h,s)|/(2 N_E) at N_E = {frame.N.max()} (90% bootstrap CI): "
        + "; ".join(ratios) + ".",
        z_critical=zcrit,
    )


def _bc_plot(result):
    from labkit.figures import MARKERS, PALETTE, figure_legend, reference_line, subplots, theory_line

    frame = result.data
    theory = _theory(frame)
    fig, axes = subplots(1, 2)
    for i, (inst, g) in enumerate(frame.groupby("instance")):
        color = PALETTE[i % len(PALETTE)]
        t = theory[theory.instance == inst].sort_values("N")
        Y = g.pivot(index="replicate", columns="N", values="kl")
        ns = Y.columns.to_numpy(dtype=float)
        mean = Y.mean(axis=0).to_numpy()
        se = Y.std(axis=0).to_numpy() / np.sqrt(len(Y))
        lo, hi = mean - 1.645 * se, mean + 1.645 * se
        for ax, scale in ((axes[0, 0], np.ones_like(ns)), (axes[0, 1], 1.0 / t.leading.to_numpy())):
            ax.fill_between(ns, np.maximum(lo, 1e-300) * scale, hi * scale, color=color, alpha=0.25, linewidth=0,
                            label="90% CI of the mean (normal)" if i == 0 else "_band")
            ax.plot(ns, mean * scale, marker=MARKERS[i], markersize=3, color=color, linewidth=0,
                    label=f"{inst}: mean over seeds")
            theory_line(ax, ns, t.exact.to_numpy() * scale, color=color,
                        label="exact expectation" if i == 0 else "_exact")
        theory_line(axes[0, 0], ns, t.leading.to_numpy(), color=color, linestyle=":",
                    label=r"leading term $(A-1)|\{(h,s)\}|/(2N_E)$" if i == 0 else "_leading")
    reference_line(axes[0, 1], 1.0, label="_one", linestyle=":")
    ax = axes[0, 0]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"demonstrations $N_E$")
    ax.set_ylabel(r"KL$(P^{\pi_E}\,\|\,P^{\pi_{BC}})$")
    ax = axes[0, 1]
    ax.set_xscale("log")
    ax.set_xlabel(r"demonstrations $N_E$")
    ax.set_ylabel("KL / leading term")
    figure_legend(fig, axes)
    return fig


kl_rate = register(Check(
    name="bc.kl_rate",
    paper=TIAPKIN24 + " (behaviour cloning, tabular)",
    claim="The trajectory KL(P^{pi_E} || P^{pi_BC}) of add-kappa behaviour cloning falls like 1/N_E "
          "(log-log slope -1 on the tail) for a full-support expert.",
    tag="A", family="exploration", cost=(3, 60),
    measure=_rate_measure, plot=_bc_plot,
))

kl_expected_value = register(Check(
    name="bc.kl_expected_value",
    paper=TIAPKIN24 + "; exact expectation derived in docs/theory/exploration.md, section 'bc.kl_expected_value'",
    claim="The mean trajectory KL of the add-kappa clone equals its exact expectation over the demonstrations "
          "(a sum over binomial laws) at every N_E, tending to (A-1)|{(h,s) reached}|/(2 N_E).",
    tag="R", family="exploration", cost=(3, 60),
    measure=_expected_measure, plot=_bc_plot,
))


# ------------------------------------------------------------------------- KL-regularised bias
#: Values are sums of at most H = 4 rewards in [0, 1] and lam * KL with KL <= H log(N + kappa A):
#: round-off of a few dozen flops on numbers below ~100.
BIAS_TOL = 1e-10
LAMS = (0.01, 0.1, 1.0, 10.0)


def _bias_run(config, rng):
    S, A, H = config["S"], config["A"], config["H"]
    mdp = mdps.random_finite_horizon(S, A, H, rng=rng)
    expert = exploration.soft_expert(mdp, config["tau"])
    tr = mdps.rollout(mdp, expert, config["N"], rng=rng)
    ref = exploration.behaviour_cloning(tr, S, A, H, smoothing=KAPPA)
    star = mdps.backward_induction(mdp)
    v_star = float(mdp.rho @ star.V[0])
    v_exp = float(mdp.rho @ mdps.evaluate(mdp, expert)[0])
    kl_star, kl_exp = mdps.trajectory_kl(mdp, star.policy, ref), mdps.trajectory_kl(mdp, expert, ref)
    rows = []
    for lam in LAMS:
        pi = exploration.kl_regularized_optimum(mdp, ref, lam).policy
        v_pi = float(mdp.rho @ mdps.evaluate(mdp, pi)[0])
        kl_pi = mdps.trajectory_kl(mdp, pi, ref)
        bias = v_star - v_pi
        excess = bias - lam * (kl_star - kl_pi)
        rows.append({"lam": lam, "bias": bias, "bound": lam * kl_star, "excess": excess,
                     "identity": excess + lam * mdps.trajectory_kl(mdp, star.policy, pi),
                     "expert_excess": bias - (v_star - v_exp) - lam * (kl_exp - kl_pi)})
    return rows


def _bias_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(S=[2, 5], A=[2, 3], H=[2, 4], tau=[0.1, 1.0], N=[5, 100])
    frame = ctx.sweep(_bias_run, grid, n_seeds=ctx.pick(3, 20))
    worst = np.maximum.reduce([frame.excess.to_numpy(), frame.expert_excess.to_numpy(),
                               frame.identity.abs().to_numpy()])
    return worst_case(
        worst, "<=", 0.0, BIAS_TOL, frame,
        f"max over {len(frame)} (instance, lam) pairs (random episodic MDPs S in {{2, 5}}, A in {{2, 3}}, H in {{2, 4}}, "
        f"reference = add-kappa clone of N_E in {{5, 100}} demonstrations of softmax(Q*/tau), lam in {list(LAMS)}) of "
        "the largest of: V* - V^{pi_lam} - lam[KL(pi*||ref) - KL(pi_lam||ref)] (largest "
        f"{frame.excess.max():.2e}, <= 0 is the bound), the same with the expert in place of pi* (largest "
        f"{frame.expert_excess.max():.2e}), and |that gap + lam KL(pi*||pi_lam)| (the exact identity, largest "
        f"{frame.identity.abs().max():.1e}); every value and trajectory KL recomputed from the returned policy. "
        f"bias / (lam KL(pi*||ref)) reaches {(frame.bias / frame.bound).max():.3f}.",
    )


def _bias_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    for i, (n, g) in enumerate(frame.groupby("N")):
        ratio = (g.bias / g.bound).to_numpy()
        jitter = np.exp(0.08 * (i - 0.5))
        ax.scatter(g.lam.to_numpy() * jitter, ratio, s=6, marker=MARKERS[i], color=PALETTE[i], alpha=0.6,
                   label=rf"reference: clone of $N_E={n}$")
    reference_line(ax, 1.0, label=r"theorem: ratio $\leq 1$")
    ax.set_xscale("log")
    ax.set_ylim(-0.05, 1.3)
    ax.set_xlabel(r"regularisation $\lambda$")
    ax.set_ylabel(r"$(V^*-V^{\pi_\lambda}) / (\lambda\,$KL$(\pi^*\|\pi_{ref}))$")
    legend(ax, outside=True, ncols=1)
    return fig


bias_bound = register(Check(
    name="demo_regularized.bias_bound",
    paper=TIAPKIN24 + "; exact bound derived in docs/theory/exploration.md, section 'demo_regularized.bias_bound'",
    claim="The exact KL-regularised optimum towards a reference pi_ref loses at most "
          "lam [KL(pi*||pi_ref) - KL(pi_lam||pi_ref)] <= lam KL(pi*||pi_ref) of value (trajectory KLs), with "
          "equality up to -lam KL(pi*||pi_lam).",
    tag="R", family="exploration", cost=(2, 20),
    measure=_bias_measure, plot=_bias_plot,
))
