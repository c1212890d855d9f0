r"""DR-RPO: policy-regularised distributionally robust policy optimisation on d-rectangular
linear MDPs (Gu, He, Liu, Xu 2025, arXiv:2510.14246; reconstruction, :mod:`algorithms.linear.drrpo`).

Only the paper's abstract was read: the algorithm is the lab's reconstruction **[U]**; two of its
steps are exact identities the lab can verify **[R]**.

* ``dr_rpo.mirror_step_identity`` **[R]**: the closed-form step
  :math:`\pi_{k+1} \propto \pi_k^{1/(1+\eta\beta)}\pi_{\mathrm{ref}}^{\eta\beta/(1+\eta\beta)}
  e^{\eta Q/(1+\eta\beta)}` equals the numerical maximiser over the simplex of
  :math:`\eta\langle q, Q\rangle - \eta\beta\,\mathrm{KL}(q\|\pi_{\mathrm{ref}}) - \mathrm{KL}(q\|\pi_k)`
  (BFGS on unconstrained logits with the analytic gradient, then Newton steps on that gradient
  with a finite-difference Hessian; a different computation), within :math:`10^{-8}` in every coordinate, on random
  :math:`(Q, \pi_k, \pi_{\mathrm{ref}}, \eta, \beta)`; the closed form's objective is never below the
  numerical one by more than :math:`10^{-12}`.
* ``dr_rpo.robust_regression_cvxpy`` **[R]**: (a) the TV dual :func:`~algorithms.linear.tv_dual` with a
  nominal law in the simplex equals the cvxpy primal LP
  :math:`\min\{\langle\mu, v\rangle: \mu\in\Delta_S, \tfrac12\|\mu-\mu^0\|_1\le\rho\}`; (b) the robust
  regression step :func:`~algorithms.linear.tv_regression` on sampled data of a random
  simplex-feature linear MDP equals the maximum over :math:`\alpha` (every breakpoint and a grid)
  of cvxpy's ridge regression of :math:`\min(v(s'), \alpha)`, coordinate by coordinate, minus
  :math:`\rho(\alpha - \min v)`. Both to ``1e-6`` relative (cvxpy's accuracy).
* ``dr_rpo.regret_slope`` **[U]**: on a one-hot (tabular) Garnet, DR-RPO run for ``K`` episodes with
  the step size tuned to ``K`` (:func:`~algorithms.linear.dr_rpo_eta`); the check recomputes the
  regret :math:`\sum_k V^*_0(s_0) - V^{\pi_k}_0(s_0)` from the played policies with the exact
  regularised robust DP (:mod:`mdps.policy_regularized_robust`); the fitted exponent of the final
  regret in ``K`` (90% bootstrap CI over runs) must be at most 1/2 plus ``SLOPE_TOL``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import labkit
import mdps
from algorithms import linear
from labkit.check import Check, Outcome, register, worst_case
from labkit.rates import fit_power_law

__all__ = ["mirror_step_identity", "robust_regression_cvxpy", "regret_slope", "numerical_mirror_step",
           "cvxpy_tv_primal", "cvxpy_ridge", "regret_instance"]

GHLX25 = ("J. Gu, Y. He, Z. Liu, P. Xu, Policy Regularized Distributionally Robust Markov Decision Processes with "
          "Linear Function Approximation, arXiv:2510.14246 (2025)")
MD_TOL = 1e-8           # closed form vs BFGS maximiser, per coordinate
DUAL_RTOL = 1e-6        # cvxpy / Clarabel accuracy on these small programs
SLOPE_TOL = 0.1         # the lab's slope tolerance


# ---------------------------------------------------------------------------------------------
# mirror step identity
# ---------------------------------------------------------------------------------------------
def _md_objective(q, Q, pi, ref, eta, beta):
    return float(eta * q @ Q - eta * beta * mdps.kl(q, ref) - mdps.kl(q, pi))


def numerical_mirror_step(pi, ref, Q, eta: float, beta: float) -> np.ndarray:
    """The maximiser of the MD objective by BFGS on logits ``z`` (``q = softmax(z)``, ``z[0] = 0``),
    with the analytic gradient ``J^T g``, ``g = eta Q - eta beta (log q - log ref + 1) - (log q - log pi + 1)``."""
    from scipy.optimize import minimize

    A = Q.size

    def f(zf):
        z = np.concatenate([[0.0], zf])
        lq = z - np.logaddexp.reduce(z)
        q = np.exp(lq)
        val = eta * q @ Q - eta * beta * q @ (lq - np.log(ref)) - q @ (lq - np.log(pi))
        g = eta * Q - eta * beta * (lq - np.log(ref) + 1.0) - (lq - np.log(pi) + 1.0)
        grad = q * (g - q @ g)  # d val / d z
        return -val, -grad[1:]

    res = minimize(f, np.zeros(A - 1), jac=True, method="BFGS", options={"gtol": 1e-13, "maxiter": 10_000})
    x = res.x
    # Newton polish on the analytic gradient (Hessian by central differences of it): the fixed point
    # is the gradient's zero, whatever the Hessian's round-off
    for _ in range(20):
        g = f(x)[1]
        if np.abs(g).max() < 1e-16:
            break
        Hm = np.empty((A - 1, A - 1))
        for j in range(A - 1):
            e = np.zeros(A - 1)
            e[j] = 1e-6
            Hm[:, j] = (f(x + e)[1] - f(x - e)[1]) / 2e-6
        x = x - np.linalg.solve(0.5 * (Hm + Hm.T), g)
    z = np.concatenate([[0.0], x])
    return np.exp(z - np.logaddexp.reduce(z))


def _md_run(config, rng):
    rows = []
    for _ in range(config["n_trials"]):
        A = int(rng.integers(2, 9))
        pi = rng.dirichlet(np.full(A, 1.0))
        ref = rng.dirichlet(np.full(A, 1.0))
        Q = 3.0 * rng.random(A)
        eta = float(10 ** rng.uniform(-2, 0.5))
        beta = float(10 ** rng.uniform(-2, 1))
        closed = linear.mirror_step(pi, ref, Q, eta=eta, beta_reg=beta)
        num = numerical_mirror_step(pi, ref, Q, eta, beta)
        rows.append({"A": A, "eta": eta, "beta": beta, "gap": float(np.abs(closed - num).max()),
                     "obj_deficit": _md_objective(num, Q, pi, ref, eta, beta)
                     - _md_objective(closed, Q, pi, ref, eta, beta)})
    return pd.DataFrame(rows)


def _md_measure(ctx) -> Outcome:
    frame = ctx.sweep(_md_run, labkit.expand_grid(n_trials=[ctx.pick(20, 100)]), n_seeds=ctx.pick(3, 10))
    deficit = float(frame.obj_deficit.max())
    values = frame.gap.to_numpy()
    if deficit > 1e-12:
        values = np.append(values, np.inf)
    return worst_case(values, "<=", 0.0, MD_TOL, frame,
                      f"{len(frame)} random steps (A in 2..8, eta in [0.01, 3.2], beta_reg in [0.01, 10]): largest "
                      f"|closed form - BFGS maximiser| in any coordinate {frame.gap.max():.1e} (tolerance {MD_TOL:g}); "
                      f"largest objective deficit of the closed form {deficit:.1e} (<= 1e-12 required).")


def _md_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    ax.scatter(frame.eta * frame.beta, np.maximum(frame.gap, 1e-17), color=PALETTE[0], marker=MARKERS[0], s=12,
               label="random steps")
    reference_line(ax, MD_TOL, label=f"tolerance {MD_TOL:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\eta\,\beta_{\mathrm{reg}}$")
    ax.set_ylabel(r"$\|\pi_{\mathrm{closed}} - \pi_{\mathrm{BFGS}}\|_\infty$")
    legend(ax, outside=True, ncols=2)
    return fig


# ---------------------------------------------------------------------------------------------
# robust regression vs cvxpy
# ---------------------------------------------------------------------------------------------
def cvxpy_tv_primal(p0, v, rho: float) -> float:
    """``min <mu, v>`` over ``mu`` in the simplex with ``|mu - p0|_1 / 2 <= rho``, by cvxpy (Clarabel)."""
    import cvxpy as cp

    mu = cp.Variable(p0.size, nonneg=True)
    prob = cp.Problem(cp.Minimize(v @ mu), [cp.sum(mu) == 1, 0.5 * cp.norm1(mu - p0) <= rho])
    prob.solve(solver="CLARABEL")
    return float(prob.value)


def cvxpy_ridge(phis, y, lam: float) -> np.ndarray:
    """``argmin_w |phis w - y|^2 + lam |w|^2`` by cvxpy (Clarabel)."""
    import cvxpy as cp

    w = cp.Variable(phis.shape[1])
    cp.Problem(cp.Minimize(cp.sum_squares(phis @ w - y) + lam * cp.sum_squares(w))).solve(solver="CLARABEL")
    return np.asarray(w.value)


def _reg_run(config, rng):
    rows = []
    for _ in range(config["n_laws"]):  # (a) the TV dual on a law in the simplex
        S = int(rng.integers(2, 9))
        p0 = rng.dirichlet(np.full(S, 0.5))
        v = 3.0 * rng.random(S)
        rho = float(rng.uniform(0.0, 1.0))
        dual = linear.tv_dual(p0, v, rho)
        primal = cvxpy_tv_primal(p0, v, rho)
        rows.append({"part": "dual", "rel_gap": abs(dual - primal) / max(1.0, abs(primal))})
    # (b) the regression step on data of a random simplex-feature linear MDP
    lmdp = mdps.LinearMDP.random(6, 3, 4, 2, rng=rng)
    N = int(config["n_samples"])
    s = rng.integers(6, size=N)
    a = rng.integers(3, size=N)
    P = np.asarray(lmdp.P)[0]
    s2 = np.array([rng.choice(6, p=P[si, ai]) for si, ai in zip(s, a)])
    phis = np.asarray(lmdp.phi)[s, a]
    v = 2.0 * rng.random(6)
    for rho in (0.0, 0.1, 0.5):
        nu = linear.tv_regression(phis, s2, v, rho, lam=1.0)
        alphas = np.union1d(v, np.linspace(v.min(), v.max(), 25))
        best = np.full(4, -np.inf)
        for alpha in alphas:
            w = cvxpy_ridge(phis, np.minimum(v[s2], alpha), 1.0)
            best = np.maximum(best, w - rho * (alpha - v.min()))
        for i in range(4):
            rows.append({"part": "regression", "rel_gap": abs(nu[i] - best[i]) / max(1.0, abs(best[i]))})
    return pd.DataFrame(rows)


def _reg_measure(ctx) -> Outcome:
    frame = ctx.sweep(_reg_run, labkit.expand_grid(n_laws=[ctx.pick(10, 40)], n_samples=[ctx.pick(60, 400)]),
                      n_seeds=ctx.pick(2, 8))
    per = frame.groupby("part").rel_gap.max()
    return worst_case(frame.rel_gap, "<=", 0.0, DUAL_RTOL, frame,
                      f"{len(frame)} comparisons: (a) TV dual on random laws (S in 2..8, rho in [0, 1]) vs the cvxpy "
                      f"primal LP, largest relative gap {per.get('dual', np.nan):.1e}; (b) the robust regression "
                      f"step (ridge lambda = 1, d = 4, S = 6, rho in 0, 0.1, 0.5) vs cvxpy ridge regressions maximised "
                      f"over every breakpoint and a grid of alpha, largest relative gap "
                      f"{per.get('regression', np.nan):.1e} (tolerance {DUAL_RTOL:g}).")


def _reg_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    for i, (part, g) in enumerate(frame.groupby("part")):
        ax.scatter(np.arange(len(g)), np.maximum(g.rel_gap, 1e-16), color=PALETTE[i], marker=MARKERS[i], s=12,
                   label={"dual": "TV dual vs LP", "regression": "regression step vs cvxpy ridge"}[part])
    reference_line(ax, DUAL_RTOL, label=f"tolerance {DUAL_RTOL:g}")
    ax.set_yscale("log")
    ax.set_xlabel("comparison")
    ax.set_ylabel("relative gap")
    legend(ax, outside=True, ncols=2)
    return fig


# ---------------------------------------------------------------------------------------------
# regret slope
# ---------------------------------------------------------------------------------------------
RHO, BETA_REG, BONUS = 0.2, 1.0, 0.05


def regret_instance() -> mdps.LinearMDP:
    """One-hot linear MDP of a Garnet (``S = 4``, ``A = 3``, branching 2, ``H = 3``, seed 1): ``d = 12``."""
    return mdps.LinearMDP.from_tabular(mdps.garnet(4, 3, 2, horizon=3, rng=1))


def _regret_run(config, rng):
    lmdp = regret_instance()
    K = int(config["n_episodes"])
    run = linear.dr_rpo(lmdp, n_episodes=K, rho=RHO, beta_reg=BETA_REG, bonus_scale=BONUS, exact_values=False,
                        rng=int(rng.integers(2**63)))
    # ground truth recomputed here from the played policies
    v_star = mdps.policy_regularized_robust_dp(lmdp, rho=RHO, beta_reg=BETA_REG).value(lmdp.rho)
    values = mdps.policy_regularized_robust_values(lmdp, run.policies, rho=RHO, beta_reg=BETA_REG)
    values = values @ np.asarray(lmdp.rho)
    per = v_star - values
    return pd.DataFrame({"regret": [float(per.sum())], "min_episode_regret": [float(per.min())],
                         "eta": [run.settings.eta]})


def _regret_measure(ctx) -> Outcome:
    Ks = ctx.pick([125, 250, 500, 1000, 2000], [250, 500, 1000, 2000, 4000, 8000, 16000])
    n_seeds = ctx.pick(4, 12)
    frame = ctx.sweep(_regret_run, labkit.expand_grid(n_episodes=Ks), n_seeds=n_seeds)
    Y = frame.pivot_table(index="replicate", columns="n_episodes", values="regret")
    fit = fit_power_law(Y.columns.to_numpy(dtype=float), Y.to_numpy(), tail_decades=10.0)
    negative = float(frame.min_episode_regret.min())
    measured, ci = fit.estimate, fit.ci
    if negative < -1e-9:
        measured, ci = float("inf"), (float("inf"), float("inf"))
    return Outcome(
        measured=measured, ci=ci, expected=0.5, relation="<=", tol=SLOPE_TOL, data=frame,
        details=f"one-hot Garnet (S = 4, A = 3, H = 3, d = 12), rho = {RHO}, beta_reg = {BETA_REG}, bonus scale "
                f"{BONUS}, eta = sqrt(log A / (K H^2)) tuned to each K in {Ks}: exponent in K of the final regret "
                f"(90% bootstrap CI over {n_seeds} runs) {fit.estimate:.3f} [{fit.ci[0]:.3f}, {fit.ci[1]:.3f}]. Regret "
                f"recomputed from the played policies with the exact regularised robust DP; smallest per-episode "
                f"regret {negative:.1e} (>= 0 required).",
        extras={"mean_regret": {str(k): float(v) for k, v in Y.mean(axis=0).items()}},
    )


def _regret_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, subplots, theory_line

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    Y = frame.pivot_table(index="replicate", columns="n_episodes", values="regret")
    Ks = Y.columns.to_numpy(dtype=float)
    mean = Y.mean(axis=0).to_numpy()
    ax.errorbar(Ks, mean, yerr=Y.std(axis=0).to_numpy() / np.sqrt(len(Y)), color=PALETTE[0], marker=MARKERS[0],
                capsize=2, label="DR-RPO, Reg(K) (mean ± s.e.)")
    theory_line(ax, Ks, mean[-1] * np.sqrt(Ks / Ks[-1]), label=r"slope 1/2 ($\sqrt{K}$)")
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(Ks))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    lo_y, hi_y = ax.get_ylim()
    if hi_y / lo_y < 10.0:  # less than a decade: plain numbers on the value axis
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_locator(FixedLocator(np.unique(np.round(np.geomspace(lo_y, hi_y, 5), 1))))
    ax.set_xlabel("episodes K (step size tuned to K)")
    ax.set_ylabel("regret")
    legend(ax, outside=True, ncols=2)
    return fig


mirror_step_identity = register(Check(
    name="dr_rpo.mirror_step_identity",
    paper=GHLX25 + "; docs/theory/linear.md, section 'dr_rpo.mirror_step_identity'",
    claim="DR-RPO's closed-form regularised mirror-descent step equals the numerical maximiser over the simplex of "
          "eta<q, Q> - eta beta KL(q||pi_ref) - KL(q||pi_k) to 1e-8 in every coordinate (exact identity).",
    tag="R", family="linear", cost=(3, 20), measure=_md_measure, plot=_md_plot,
))

robust_regression_cvxpy = register(Check(
    name="dr_rpo.robust_regression_cvxpy",
    paper=GHLX25 + "; docs/theory/linear.md, section 'dr_rpo.robust_regression_cvxpy'",
    claim="DR-RPO's per-coordinate TV dual equals the cvxpy primal LP on laws in the simplex, and its robust "
          "regression step equals cvxpy ridge regressions maximised over alpha, to 1e-6 relative.",
    tag="R", family="linear", cost=(6, 90), measure=_reg_measure, plot=_reg_plot,
))

regret_slope = register(Check(
    name="dr_rpo.regret_slope",
    paper=GHLX25 + "; docs/theory/linear.md, section 'dr_rpo.regret_slope'",
    claim="DR-RPO (reconstruction) with its step size tuned to K has regret against the exact regularised robust "
          "optimum growing no faster than sqrt(K) on a one-hot Garnet (fitted exponent <= 1/2 + tol).",
    tag="U", family="linear", cost=(4, 120), measure=_regret_measure, plot=_regret_plot,
))
