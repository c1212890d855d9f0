r"""HyPO against DPO on the trap instance: DPO's reverse KL grows like log(1/ref(trap)) from an
adversarial start while HyPO's stays under an exact bound, and HyPO's estimate approaches its
population minimiser at rate N^(-1/2).

Paper: Y. Song, G. Swamy, A. Singh, J. A. Bagnell, W. Sun (2024), *The Importance of Online Data:
Understanding Preference Fine-tuning via Coverage*, arXiv 2406.01462 (abstract: under partial
coverage offline DPO can return policies with unbounded reverse KL; the hybrid method controls it).
Exact facts used (tag R, derivations in docs/theory/preference_learning.md, section
'hypo.reverse_kl_trap'):

* gradient descent on DPO from ``init`` converges to ``dpo_member(init)`` (trap logits untouched);
  with trap logits ``log(1/ref_t) +- 1`` its reverse KL grows linearly in ``log(1/ref_t)``;
* HyPO's minimiser has reverse KL at most ``KL* = -log(ref(S) exp(-KL(pi*_S || ref_S)) + ref(T))``
  (the smallest KL of a DPO minimiser), bounded as ``ref(T) -> 0``, and keeps the two trap
  responses in their reference proportions;
* for fixed ``lam`` the estimate is consistent for the population minimiser ``theta_lam`` and
  asymptotically normal (an M-estimator: the KL term is deterministic on one context, the DPO term
  an average over records). The error is measured in the fixed Fisher norm of the population
  minimiser, ``||delta||_F^2 = delta^T F delta`` with ``F = sum_x rho_x Cov_{pi_lam(.|x)}(phi)``
  (``2 KL(pi_lam || pi_hat)`` to second order; blind to the directions that do not move the
  policy), and ``N E||theta_hat_N - theta_lam||_F^2 -> tr(F H^+ G H^+)`` (sandwich), with ``H``
  the Hessian of the population objective and ``G`` the covariance of one record's score. The
  RMS error over seeds therefore falls with slope exactly -1/2, with a relative correction
  O(1/N), and its level is the sandwich constant, both computed here. (The Euclidean norm of the
  centred logits has the same rate but is dominated by two directions, about 4 effective degrees
  of freedom against about 7 for the Fisher norm, so its seed average is noisier.)

Why not ``|sub(pi_hat_N) - sub(pi_lam)|`` (the metric this check used first): that deviation is
``g . delta + delta^T S delta / 2`` with ``delta = theta_hat - theta_lam`` and ``g != 0`` the
gradient of ``sub`` at ``theta_lam`` (``pi_lam != pi*``). Its mean is a bias of order 1/N (the
quadratic term, and the O(1/N) bias of ``delta``), its spread of order N^(-1/2); the mean of its
absolute value mixes the two, falls like 1/N while the bias dominates (about 5/N against
0.15/sqrt(N) here, i.e. up to N ~ 1000) and then bends to N^(-1/2): a fit through both regimes
over-states the slope and the curve looked like it flattened at the tail. Measured (20 seeds):
mean deviation 1.1e-2, 2.0e-3, 7.7e-4, 2.3e-4 at N = 500, 2000, 8000, 32000 against spreads
7.4e-3, 3.4e-3, 1.4e-3, 8.3e-4. Both solvers were accurate (gradient sup-norms below 4e-9; the
former finite-difference population solve was within 2.5e-6 of the exact one in theta), so no
solver caused the bend.

``theta_lam``, ``H`` and ``G`` are computed here independently of the library: damped Newton with
the exact gradient and Hessian (the DPO part from the logistic formulas, the KL part
``grad KL = Cov_pi(phi, s)``, ``Hess KL = Cov_pi(phi) + E_pi[(phi - m)(phi - m)^T (s - E s)]``,
``s = theta . phi``, ``m = E_pi phi``; derivation in docs/theory/preference_learning.md), to a
Newton decrement below 1e-24.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

import labkit
from algorithms import preference_learning as pl
from labkit.check import Check, Outcome, register
from labkit.rates import fit_power_law
from mdps import kl
from proofs_checks.preference_learning._instances import (
    COVERED,
    DATA_POLICY,
    TRAP,
    covered_optimum,
    dpo_member,
    trap_task,
)

__all__ = ["hypo_reverse_kl_trap"]

PAPER = "Song, Swamy, Singh, Bagnell, Sun 2024, arXiv 2406.01462"
REF_TRAPS = (1e-2, 1e-4, 1e-6)
LAM = 0.1
RATE_REF_TRAP = 1e-2
RATE = -0.5
#: slack on the RMS slope (exact -1/2 up to a relative O(1/N) correction): seed noise on the tail fit
SLOPE_TOL = 0.1
#: relative agreement of DPO's reverse KL with the exact member's (the solver stops at gradient 1e-10)
MEMBER_RTOL = 1e-6
#: the trap proportions pi(8)/pi(9) vs ref(8)/ref(9): the trap gradient is lam pi(t) (theta_t - E theta),
#: with pi(t) down to ~1e-6, so a gradient tolerance of 1e-9 leaves logit differences up to ~1e-2; we
#: ask for 1e-3
PROPORTION_RTOL = 1e-3
#: the pooled tail level sqrt(mean N ||theta_hat_N - theta_lam||_F^2 / tr(F H^+ G H^+)) must lie in
#: [1 - LEVEL_TOL, 1 + LEVEL_TOL]: about 7 effective degrees of freedom per fit, 20 seeds, 4 tail values of N,
#: so a relative standard deviation of about 3%; the O(1/N) correction is below 1% on the tail
LEVEL_TOL = 0.2


def adversarial_init(ref_t: float) -> np.ndarray:
    init = np.zeros(10)
    init[TRAP] = np.log(1.0 / ref_t) + np.array([1.0, -1.0])
    return init


def kl_family_min(task) -> float:
    """The smallest reverse KL of a population DPO minimiser (module docstring)."""
    ref = task.ref[0]
    ps = covered_optimum(task)[0, COVERED]
    ref_s = ref[COVERED].sum()
    kls = float(kl(ps, ref[COVERED] / ref_s))
    return float(-np.log(ref_s * np.exp(-kls) + ref[TRAP].sum()))


def _pairs(task) -> np.ndarray:
    phi = task.features
    return phi[:, :, None, :] - phi[:, None, :, :]           # dphi[x, w, l] = phi_w - phi_l


def population_derivatives(task, law, lam, theta):
    """``(grad, H, G)`` of ``L_DPO(theta; law) + lam sum_x rho_x KL_x(theta)`` at ``theta``:
    gradient, Hessian, and the covariance of one record's score (module docstring)."""
    b, phi = task.beta, task.features
    dphi = _pairs(task)
    z = b * dphi @ theta
    rho = law.sum(axis=(1, 2))
    s = phi @ theta
    logits = np.log(task.ref) + s
    pi = np.exp(logits - logits.max(axis=1, keepdims=True))
    pi /= pi.sum(axis=1, keepdims=True)
    m = np.einsum("xk,xkd->xd", pi, phi)
    c = phi - m[:, None, :]
    sc = s - np.sum(pi * s, axis=1, keepdims=True)
    kgrad = np.einsum("xk,xkd->xd", pi * sc, c)               # Cov_pi(phi, s), per context
    khess = np.einsum("xk,xkd,xke->xde", pi, c, c) + np.einsum("xk,xkd,xke->xde", pi * sc, c, c)
    rec = -b * expit(-z)[..., None] * dphi + lam * kgrad[:, None, None, :]   # one record's score
    grad = np.einsum("xwl,xwld->d", law, rec)
    H = b * b * np.einsum("xwl,xwld,xwle->de", law * expit(z) * expit(-z), dphi, dphi) \
        + lam * np.einsum("x,xde->de", rho, khess)
    G = np.einsum("xwl,xwld,xwle->de", law, rec, rec) - np.outer(grad, grad)
    return grad, H, G


def population_hypo_truth(task, law, lam, *, tol=1e-24, max_iter=100) -> np.ndarray:
    """``theta_lam``: damped Newton from 0 with the exact gradient and Hessian written here (the
    Hessian is singular along directions that do not move the policy; the pseudo-inverse step
    stays in its range)."""
    dphi = _pairs(task)
    w = law > 0

    def f(th):
        z = task.beta * dphi @ th
        return float(law[w] @ np.logaddexp(0.0, -z[w])) + lam * task.kl_to_ref(task.policy(th))

    theta = np.zeros(task.dim)
    for _ in range(max_iter):
        g, H, _ = population_derivatives(task, law, lam, theta)
        step = np.linalg.pinv(H, rcond=1e-12) @ g
        dec = float(g @ step)
        if dec < tol:
            return theta
        t, f0 = 1.0, f(theta)
        while f(theta - t * step) > f0 - 0.25 * t * dec and t > 1e-12:
            t *= 0.5
        theta = theta - t * step
    raise RuntimeError("population Newton for HyPO did not converge")


def fisher_norm_matrix(task, theta) -> np.ndarray:
    """``F = sum_x rho_x Cov_{pi_theta(.|x)}(phi)`` (task's context weights)."""
    pi, phi = task.policy(theta), task.features
    m = np.einsum("xk,xkd->xd", pi, phi)
    c = phi - m[:, None, :]
    return np.einsum("x,xk,xkd,xke->de", task.weights, pi, c, c)


def sandwich_error(task, law, lam, theta_lam):
    """``(F, tr(F H^+ G H^+))``: the Fisher norm matrix at ``theta_lam`` and the limit of
    ``N E||theta_hat_N - theta_lam||_F^2`` (module docstring)."""
    _, H, G = population_derivatives(task, law, lam, theta_lam)
    Hp = np.linalg.pinv(H, rcond=1e-12)
    F = fisher_norm_matrix(task, theta_lam)
    return F, float(np.trace(F @ Hp @ G @ Hp))


def _rate_run(config, rng):
    task = trap_task(RATE_REF_TRAP)
    data = task.sample(config["N"], rng=rng, policy=DATA_POLICY)
    h = pl.hypo(task, data, LAM)
    return {f"theta_{i}": float(v) for i, v in enumerate(h.theta)}


def _measure(ctx) -> Outcome:
    problems = []
    rows = []
    for ref_t in REF_TRAPS:
        task = trap_task(ref_t)
        law = task.outcome_distribution(DATA_POLICY)
        init = adversarial_init(ref_t)
        d = pl.dpo_fit(task, law, init=init)
        h = pl.hypo(task, law, LAM, init=init)
        kl_member = task.kl_to_ref(task.policy(dpo_member(init)))
        kl_dpo, kl_h, bound = task.kl_to_ref(d.policy), task.kl_to_ref(h.policy), kl_family_min(task)
        prop = (h.policy[0, 8] / h.policy[0, 9]) / (task.ref[0, 8] / task.ref[0, 9])
        rows.append({"ref_trap": ref_t, "kl_dpo": kl_dpo, "kl_member": kl_member, "kl_hypo": kl_h,
                     "kl_bound": bound, "proportion": prop})
        if abs(kl_dpo - kl_member) > MEMBER_RTOL * kl_member:
            problems.append(f"DPO's reverse KL {kl_dpo:.6g} != exact member's {kl_member:.6g} at ref_t={ref_t:g}")
        if kl_h > bound + 1e-9:
            problems.append(f"HyPO's reverse KL {kl_h:.6g} > bound {bound:.6g} at ref_t={ref_t:g}")
        if abs(prop - 1.0) > PROPORTION_RTOL:
            problems.append(f"HyPO's trap proportions off by {prop - 1:.2e} at ref_t={ref_t:g}")
    slope_kl = np.polyfit(np.log(1 / np.array(REF_TRAPS)), [r["kl_dpo"] for r in rows], 1)[0]
    task = trap_task(RATE_REF_TRAP)
    law = task.outcome_distribution(DATA_POLICY)
    theta_lam = population_hypo_truth(task, law, LAM)
    F, trace = sandwich_error(task, law, LAM, theta_lam)
    sub_lam = task.suboptimality(task.policy(theta_lam))
    Ns = ctx.pick([1000, 2000, 4000, 8000, 16000, 32000],
                  [250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000])
    frame = ctx.sweep(_rate_run, labkit.expand_grid(N=Ns), n_seeds=ctx.pick(20, 40))
    th = frame[[f"theta_{i}" for i in range(task.dim)]].to_numpy()
    diff = th - theta_lam
    frame["error"] = np.sqrt(np.einsum("nd,de,ne->n", diff, F, diff))
    frame["sq_error"] = frame["error"] ** 2
    Y = frame.pivot_table(index="replicate", columns="N", values="sq_error").to_numpy()
    sq = fit_power_law(np.asarray(Ns, float), Y, tail_decades=1.0, rng=ctx.seed)
    # RMS = sqrt(mean squared error): its slope and interval are half the squared error's
    fit = {"estimate": sq.estimate / 2, "ci_low": sq.ci_low / 2, "ci_high": sq.ci_high / 2}
    rms = np.sqrt(Y.mean(axis=0))
    level = rms * np.sqrt(np.asarray(Ns, float)) / np.sqrt(trace)
    tail = np.asarray(Ns, float) >= max(Ns) / 10.0
    pooled = float(np.sqrt(np.mean(Y[:, tail] * np.asarray(Ns, float)[tail]) / trace))
    if abs(pooled - 1.0) > LEVEL_TOL:
        problems.append(f"pooled tail level N ||theta_hat - theta_lam||_F^2 / sandwich = {pooled:.3f}, "
                        f"outside 1 +- {LEVEL_TOL}")
    details = (
        "; ".join(problems) + ("; " if problems else "")
        + f"slope of the RMS over seeds of ||theta_hat_N - theta_lam||_F (Fisher norm at pi_lam; lam = {LAM}, ref(trap) = "
        f"{RATE_REF_TRAP:g}, N in {Ns}, fit on the last decade): {fit['estimate']:.3f} [{fit['ci_low']:.3f}, "
        f"{fit['ci_high']:.3f}]; RMS x sqrt(N) / sandwich constant sqrt(tr(F H^+ G H^+)) = {np.sqrt(trace):.4f}: "
        + ", ".join(f"{r:.2f}" for r in level)
        + f" (N = {Ns[0]} .. {Ns[-1]}), pooled over the last decade {pooled:.3f} (1 +- {LEVEL_TOL}); sub(pi_lam) = {sub_lam:.4f}. Population, "
        "adversarial start (trap logits log(1/ref_t) +- 1): "
        + ", ".join(f"ref_t={r['ref_trap']:g}: DPO KL {r['kl_dpo']:.3f} (exact member {r['kl_member']:.3f}), "
                    f"HyPO KL {r['kl_hypo']:.4f} <= {r['kl_bound']:.4f}, trap proportion ratio "
                    f"{r['proportion']:.6f}" for r in rows)
        + f"; DPO's KL grows by {slope_kl:.3f} per unit of log(1/ref_t)."
    )
    extras = {"fit": fit, "population": rows, "sub_lam": sub_lam, "sandwich_trace": trace,
              "theta_lam": theta_lam.tolist(), "rms_level": level.tolist(), "pooled_level": pooled}
    if problems:
        return Outcome(measured=float("nan"), ci=(float("nan"), float("nan")), expected=RATE, relation="==",
                       tol=SLOPE_TOL, data=frame, details=details, extras=extras)
    return Outcome(measured=fit["estimate"], ci=(fit["ci_low"], fit["ci_high"]), expected=RATE, relation="==", tol=SLOPE_TOL, data=frame,
                   details=details, extras=extras)


def _bootstrap_rms(frame, n_resamples=1000):
    """90% bootstrap interval of the RMS error over seeds, per ``N`` (resampling seeds)."""
    gen = np.random.default_rng(0)
    lo, hi = [], []
    for _, e in frame.groupby("N")["sq_error"]:
        sq = e.to_numpy()
        boot = np.sqrt(gen.choice(sq, size=(n_resamples, sq.size)).mean(axis=1))
        lo.append(np.quantile(boot, 0.05))
        hi.append(np.quantile(boot, 0.95))
    return np.array(lo), np.array(hi)


def _plot(result):
    from labkit.figures import BAND_CI, MARKERS, PALETTE, figure_legend, subplots, theory_line

    fig, axes = subplots(1, 2)
    ax, bx = axes[0, 0], axes[0, 1]
    pop = result.extras.get("population", [])
    if pop:
        x = np.log(1 / np.array([r["ref_trap"] for r in pop]))
        ax.plot(x, [r["kl_dpo"] for r in pop], marker=MARKERS[0], color=PALETTE[0], label="DPO, adversarial start")
        theory_line(ax, x, [r["kl_member"] for r in pop], label="exact DPO member")
        ax.plot(x, [r["kl_hypo"] for r in pop], marker=MARKERS[1], color=PALETTE[1], label=rf"HyPO, $\lambda={LAM}$")
        theory_line(ax, x, [r["kl_bound"] for r in pop], color=PALETTE[1], linestyle=":",
                    label="bound: min KL over DPO minimisers")
    ax.set_xlabel(r"$\log(1/\mu(\mathrm{trap}))$")
    ax.set_ylabel(r"$KL(\hat\pi \| \mu)$ (population)")
    data = result.data
    rms = np.sqrt(data.groupby("N")["sq_error"].mean())
    x = np.asarray(rms.index, float)
    lo, hi = _bootstrap_rms(data)
    bx.plot(x, rms.to_numpy(), marker=MARKERS[2], color=PALETTE[2], label=r"HyPO, RMS $\|\hat\theta_N-\theta_\lambda\|_F$")
    bx.fill_between(x, lo, hi, color=PALETTE[2], alpha=0.2, linewidth=0, label=BAND_CI)
    trace = result.extras.get("sandwich_trace")
    if trace is not None:
        theory_line(bx, x, np.sqrt(trace / x), label=r"exact asymptotic $\sqrt{\mathrm{tr}(FH^+GH^+)/N}$")
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set_xlabel("pairs N")
    bx.set_ylabel(r"RMS $\|\hat\theta_N - \theta_\lambda\|_F$ over seeds")
    figure_legend(fig, axes, ncols=3, fontsize=6)
    return fig


hypo_reverse_kl_trap = register(Check(
    name="hypo.reverse_kl_trap",
    paper=PAPER,
    claim="On the trap instance DPO from an adversarial start reaches reverse KL growing with log(1/ref(trap)) "
          "while HyPO's stays below the smallest KL of a DPO minimiser with the trap in reference proportions; "
          "HyPO's estimate approaches its population minimiser at rate N^(-1/2) (RMS, exact sandwich level).",
    tag="A", family="preference_learning", cost=(5, 90),
    measure=_measure, plot=_plot,
))
