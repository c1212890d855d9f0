r"""Exact identities of the DPO family on the log-linear preference task.

Two checks, each an identity that must hold to round-off on every instance:

* ``rdpo.unbiased_loss`` -- robust DPO's loss is an unbiased estimate of the clean DPO loss.
  Chowdhury, Kini and Natarajan (2024, *Provably Robust DPO*, arXiv 2403.00409) de-bias DPO
  under symmetric label flips of a known rate ``eps`` with
  ``l_eps(z) = [(1-eps) l(z) - eps l(-z)] / (1-2eps)``, ``l(z) = -log sigmoid(z)``. Solving
  ``(1-eps) l_eps(z) + eps l_eps(-z) = l(z)`` for every ``z`` gives this formula **[R]**, so the
  expectation over flips of the noisy rDPO objective is the clean DPO objective at *every*
  parameter, not only at the optimum. The check evaluates both sides independently: the
  per-margin identity on a grid of margins, and the population identity
  ``sum_{x,w,l} D_eps[x,w,l] l_eps(z_{xwl}(theta)) = sum_{x,w,l} D_0[x,w,l] l(z_{xwl}(theta))``
  (and the same for gradients in ``theta``) at random ``theta``, where ``D_eps`` is the task's
  exact law of one observed record (:meth:`mdps.LogLinearPreferenceTask.outcome_distribution`,
  computed from the preference matrix and the flip model, not from the loss) and
  ``z = beta theta . (phi_w - phi_l)``. ``eps = 0`` must give DPO exactly. Recorded beside it,
  as a negative control that is reported but not asserted here: under class-conditional flips the
  gap between the two objectives is not zero.

* ``dpo.regularised_gap_identity`` -- the ground truth every other check relies on. For the
  KL-regularised objective ``J_beta(pi) = sum_x rho_x [<pi_x, r*_x> - beta KL(pi_x || ref_x)]``
  with optimum ``pi*_beta = softmax(log ref + r*/beta)`` (Rafailov et al. 2023, *Direct
  Preference Optimization*, arXiv 2305.18290, section 4) one has exactly
  ``J_beta(pi*) - J_beta(pi) = beta sum_x rho_x KL(pi_x || pi*_x)`` (proof in
  :mod:`mdps.preference_task`) **[R]**; and for the log-linear class the DPO implicit reward
  margin ``beta [log(pi_theta/ref)(y_w) - log(pi_theta/ref)(y_l)]`` equals
  ``beta theta . (phi_w - phi_l)`` (the per-context partition function cancels: the DPO
  reparametrisation) **[R]**. The check recomputes ``J_beta`` from its definition, ``pi*`` from
  the softmax and the KL from scratch, and compares them with the task's ``suboptimality``,
  ``optimal_policy``, ``optimal_value`` and ``policy``; policies include random log-linear ones,
  random points of the simplex and policies with zeros.

Theory page: docs/theory/preference_learning.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import labkit
import mdps
from algorithms import preference_learning as pl
from labkit.check import Check, Outcome, register, worst_case

__all__ = ["rdpo_unbiased_loss", "regularised_gap_identity"]

CKN24 = "Chowdhury, Kini, Natarajan 2024, Provably Robust DPO, arXiv 2403.00409"
RAF23 = "Rafailov et al. 2023, Direct Preference Optimization, arXiv 2305.18290, section 4"

#: Both sides are sums of O(K^2 X) terms of size O(1 + |z|): relative round-off ~ 1e-15 per term.
IDENTITY_TOL = 1e-11


def _task(config, rng):
    """Random features, a random full-support reference and random context weights (a uniform
    reference would hide a reference dropped from the policy: it cancels from every margin)."""
    X, K, d = config["X"], config["K"], config["d"]
    base = mdps.LogLinearPreferenceTask.random(X, K, d, norm_bound=1.0, theta_norm=config["theta_norm"],
                                               beta=config["beta"], rng=rng)
    ref = rng.dirichlet(np.ones(K), size=X) * 0.9 + 0.1 / K
    return mdps.LogLinearPreferenceTask(base.features, ref, base.theta_star, base.beta,
                                        weights=rng.dirichlet(np.ones(X)))


def _margins(task, theta):
    """``z[x, w, l] = beta theta . (phi[x, w] - phi[x, l])``, written out here."""
    s = task.features @ theta
    return task.beta * (s[:, :, None] - s[:, None, :])


def _objective(D, task, theta, loss, grad=None):
    """Population objective for outcome law ``D``, and its gradient in ``theta`` if ``grad``."""
    z = _margins(task, theta)
    value = float(np.sum(D * loss(z)))
    if grad is None:
        return value, None
    phi = task.features
    dphi = phi[:, :, None, :] - phi[:, None, :, :]
    return value, task.beta * np.einsum("xwl,xwld->d", D * grad(z), dphi)


def _unbiased_run(config, rng):
    task = _task(config, rng)
    eps = config["eps"]
    clean = task.outcome_distribution()
    noisy = task.outcome_distribution(eps=eps)
    asym = task.outcome_distribution(eps=eps, flips="asymmetric", eps_minus=eps / 4)
    rows = []
    zgrid = np.concatenate([-np.geomspace(1e-6, 60, 40)[::-1], [0.0], np.geomspace(1e-6, 60, 40)])
    per_margin = np.abs((1 - eps) * pl.losses.rdpo(zgrid, eps) + eps * pl.losses.rdpo(-zgrid, eps)
                        - pl.losses.dpo(zgrid)) / (1.0 + np.abs(zgrid))
    eps0 = float(np.max(np.abs(pl.losses.rdpo(zgrid, 0.0) - pl.losses.dpo(zgrid))))

    def rdpo(z):
        return pl.losses.rdpo(z, eps)

    def rdpo_grad(z):
        return pl.losses.rdpo_grad(z, eps)

    for k in range(config["n_theta"]):
        theta = rng.standard_normal(task.dim) * (2.0 * (k + 1) / config["n_theta"])
        v_clean, g_clean = _objective(clean, task, theta, pl.losses.dpo, pl.losses.dpo_grad)
        v_noisy, g_noisy = _objective(noisy, task, theta, rdpo, rdpo_grad)
        v_asym, _ = _objective(asym, task, theta, rdpo, rdpo_grad)
        v_dpo_noisy, _ = _objective(noisy, task, theta, pl.losses.dpo, pl.losses.dpo_grad)
        scale = 1.0 + abs(v_clean)
        rows.append({
            "theta_norm_eval": float(np.linalg.norm(theta)),
            "value_error": abs(v_noisy - v_clean) / scale,
            "grad_error": float(np.abs(g_noisy - g_clean).max()) / (1.0 + float(np.abs(g_clean).max())),
            "per_margin_error": float(per_margin.max()),
            "eps0_error": eps0,
            "asymmetric_gap": abs(v_asym - v_clean) / scale,
            "dpo_under_noise_gap": abs(v_dpo_noisy - v_clean) / scale,
        })
    return rows


def _unbiased_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(X=[1, 5], K=[2, 8], d=[3], eps=[0.0, 0.1, 0.3, 0.45], beta=[0.5, 2.0],
                              theta_norm=[1.0], n_theta=[ctx.pick(3, 10)])
    frame = ctx.sweep(_unbiased_run, grid, n_seeds=ctx.pick(2, 5))
    worst = frame[["value_error", "grad_error", "per_margin_error", "eps0_error"]].max(axis=1).to_numpy()
    noisy = frame[frame.eps > 0]
    return worst_case(
        worst, "<=", 0.0, IDENTITY_TOL, frame,
        f"max over {len(frame)} (task, eps, theta) instances of the relative deviation between E_flips[rDPO "
        "objective] (the task's exact observed-record law under symmetric flips) and the clean DPO objective, "
        "value and gradient in theta, and of the per-margin identity (1-eps) l_eps(z) + eps l_eps(-z) = l(z) on "
        f"81 margins in [-60, 60]: value {frame.value_error.max():.1e}, gradient {frame.grad_error.max():.1e}, "
        f"per margin {frame.per_margin_error.max():.1e}, eps = 0 vs DPO {frame.eps0_error.max():.1e}. "
        "Controls (reported, not asserted): DPO under the same flips is off by up to "
        f"{noisy.dpo_under_noise_gap.max():.3f} (relative), rDPO under class-conditional flips (eps_minus = eps/4) "
        f"by up to {noisy.asymmetric_gap.max():.3f}.",
    )


def _population_curve(task, eps, flips, loss, ts):
    D = task.outcome_distribution(eps=eps, flips=flips, eps_minus=eps / 4 if flips == "asymmetric" else None)
    return np.array([_objective(D, task, t * task.theta_star, loss)[0] for t in ts])


def _unbiased_plot(result):
    from labkit.figures import PALETTE, legend, subplots, theory_line

    task = mdps.LogLinearPreferenceTask.random(3, 6, 3, theta_norm=3.0, rng=0)
    ts = np.linspace(-1.0, 3.0, 81)
    eps = 0.3
    fig, axes = subplots()
    ax = axes[0, 0]
    clean = _population_curve(task, 0.0, "symmetric", pl.losses.dpo, ts)
    theory_line(ax, ts, clean, label="clean DPO objective (= E[rDPO], theorem)")
    curves = [
        ("rDPO, symmetric flips", "symmetric", lambda z: pl.losses.rdpo(z, eps), PALETTE[0], "-"),
        ("DPO, symmetric flips", "symmetric", pl.losses.dpo, PALETTE[1], "-"),
        ("rDPO, class-conditional flips", "asymmetric", lambda z: pl.losses.rdpo(z, eps), PALETTE[2], ":"),
    ]
    for label, flips, loss, color, ls in curves:
        y = _population_curve(task, eps, flips, loss, ts)
        ax.plot(ts, y, color=color, ls=ls, lw=2.5 if flips == "symmetric" and loss is not pl.losses.dpo else 1.2,
                alpha=0.6 if ls == "-" and loss is not pl.losses.dpo else 1.0, label=f"E[{label}]")
        ax.plot(ts[np.argmin(y)], y.min(), marker="o", color=color, ms=3)
    ax.axvline(1.0, color="0.5", lw=0.6)
    ax.set_xlabel(r"$t$ (objective at $\theta = t\,\theta^*$)")
    ax.set_ylabel("expected loss")
    ax.set_title(rf"expected objectives under label flips, $\epsilon = {eps}$", fontsize=7)
    legend(ax, fontsize=5)
    return fig


rdpo_unbiased_loss = register(Check(
    name="rdpo.unbiased_loss",
    paper=CKN24 + "; docs/theory/preference_learning.md",
    claim="Under symmetric label flips of the known rate eps, the expected rDPO objective equals the clean DPO "
          "objective at every parameter (value and gradient), and eps = 0 gives DPO.",
    tag="R", family="preference_learning", cost=(2, 10),
    measure=_unbiased_measure, plot=_unbiased_plot,
))


def _gap_run(config, rng):
    task = _task(config, rng)
    X, K = task.n_contexts, task.n_responses
    beta, rho, ref = task.beta, task.weights, task.ref
    r_star = beta * (task.features @ task.theta_star)  # the true reward, from its definition
    log_star = np.log(ref) + r_star / beta
    log_star -= np.log(np.exp(log_star - log_star.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)) \
        + log_star.max(axis=1, keepdims=True)
    pi_star = np.exp(log_star)

    def J(pi):  # J_beta by its definition
        with np.errstate(divide="ignore", invalid="ignore"):
            kl_ref = np.where(pi > 0, pi * np.log(pi / ref), 0.0).sum(axis=1)
        return float(rho @ ((pi * r_star).sum(axis=1) - beta * kl_ref))

    def kl_star(pi):
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(rho @ np.where(pi > 0, pi * (np.log(pi) - log_star), 0.0).sum(axis=1))

    policies = []
    for _ in range(config["n_pi"]):
        theta = rng.standard_normal(task.dim) * 2.0
        policies.append(("log-linear", theta, task.policy(theta)))
        policies.append(("simplex", None, rng.dirichlet(np.ones(K), size=X)))
        sparse = rng.dirichlet(np.ones(K), size=X) * (rng.random((X, K)) < 0.5)
        sparse[:, 0] += sparse.sum(axis=1) == 0
        policies.append(("with zeros", None, sparse / sparse.sum(axis=1, keepdims=True)))
    rows = []
    J_star = J(pi_star)
    opt_err = max(float(np.abs(task.optimal_policy() - pi_star).max()),
                  abs(task.optimal_value() - J_star) / (1 + abs(J_star)))
    for kind, theta, pi in policies:
        gap = J_star - J(pi)
        bkl = beta * kl_star(pi)
        reported = task.suboptimality(pi)
        row = {"kind": kind, "gap": gap, "beta_kl": bkl,
               "gap_vs_kl": abs(gap - bkl) / (1 + abs(gap)),
               "reported_vs_gap": abs(reported - gap) / (1 + abs(gap)),
               "optimum_error": opt_err, "reparam_error": 0.0}
        if theta is not None:
            log_ratio = np.log(task.policy(theta)) - np.log(ref)
            implicit = beta * (log_ratio[:, :, None] - log_ratio[:, None, :])
            s = task.features @ theta
            row["reparam_error"] = float(np.abs(implicit - beta * (s[:, :, None] - s[:, None, :])).max()) \
                / (1 + beta * float(np.abs(s).max()))
        rows.append(row)
    return pd.DataFrame(rows)


#: J_beta sums O(X K) terms of size O(|r*| + beta log K); the identity holds to round-off of those.
GAP_TOL = 1e-10


def _gap_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(X=[1, 4], K=[2, 6, 30], d=[2, 5], beta=[0.1, 1.0, 5.0], theta_norm=[0.5, 3.0],
                              n_pi=[ctx.pick(2, 8)])
    frame = ctx.sweep(_gap_run, grid, n_seeds=ctx.pick(1, 5))
    cols = ["gap_vs_kl", "reported_vs_gap", "optimum_error", "reparam_error"]
    worst = frame[cols].max(axis=1).to_numpy()
    return worst_case(
        worst, "<=", 0.0, GAP_TOL, frame,
        f"max over {len(frame)} (task, policy) instances (log-linear policies, random simplex points, policies "
        "with zeros) of the relative deviations: J_beta(pi*) - J_beta(pi) from the definition vs beta * "
        f"sum_x rho_x KL(pi_x || pi*_x) {frame.gap_vs_kl.max():.1e}; the task's suboptimality vs the gap "
        f"{frame.reported_vs_gap.max():.1e}; the task's optimal policy and value vs softmax(log ref + r*/beta) "
        f"{frame.optimum_error.max():.1e}; DPO implicit-reward margin vs beta theta . (phi_w - phi_l) "
        f"{frame.reparam_error.max():.1e}. Gaps range over {frame.gap.min():.2e} .. {frame.gap.max():.2e}.",
    )


def _gap_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, subplots, theory_line

    fig, axes = subplots()
    ax = axes[0, 0]
    data = result.data[result.data.gap > 0]
    for i, (kind, g) in enumerate(data.groupby("kind")):
        ax.scatter(g.beta_kl, g.gap, s=6, marker=MARKERS[i % len(MARKERS)], color=PALETTE[i % len(PALETTE)],
                   label=kind, alpha=0.7)
    lo, hi = data[["gap", "beta_kl"]].min().min(), data[["gap", "beta_kl"]].max().max()
    theory_line(ax, [lo, hi], [lo, hi], label="identity: gap = beta KL")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\beta\,\sum_x\rho_x\,KL(\pi_x\,\|\,\pi^*_x)$")
    ax.set_ylabel(r"$J_\beta(\pi^*) - J_\beta(\pi)$, by definition")
    legend(ax, fontsize=5)
    return fig


regularised_gap_identity = register(Check(
    name="dpo.regularised_gap_identity",
    paper=RAF23 + "; docs/theory/preference_learning.md",
    claim="On the log-linear task, J_beta(pi*) - J_beta(pi) = beta * sum_x rho_x KL(pi_x || pi*_beta,x) for every "
          "policy, pi*_beta = softmax(log ref + r*/beta), and the DPO implicit-reward margin of pi_theta is "
          "beta theta . (phi_w - phi_l).",
    tag="R", family="preference_learning", cost=(2, 10),
    measure=_gap_measure, plot=_gap_plot,
))
