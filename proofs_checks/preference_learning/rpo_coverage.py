r"""RPO against DPO as coverage worsens, on the trap instance (uniform reference).

Paper: Z. Liu, M. Lu, S. Zhang, B. Liu, H. Guo, Y. Yang, J. Blanchet, Z. Wang (2024), *Provably
Mitigating Overoptimization in RLHF: Your SFT Loss is Implicitly an Adversarial Regularizer*,
arXiv 2405.16436 (RPO, ``L_RPO = L_DPO + eta beta E_base[-log pi_theta]``).

Data policies. ``p_t ∝ pi*_beta * (1 on the covered responses 0..7, t on the trap 8, 9)`` for
``t in TRAP_SCALES``: less and less mass on the part of the support of ``pi*_beta`` where the
reward is low, down to ``t = 0`` (the trap: never compared). The x-axis is ``1 / C`` with
``C = task.coverage(pi*_beta, p_t)`` the pair-coverage coefficient (``C = 1`` at ``t = 1``,
``C = inf`` at ``t = 0``).

Which DPO solution is compared. Where coverage is infinite the DPO minimiser is a family; the
members compared are those BFGS reaches from the two stated starts, ``0`` (uniform) and "trap
logits +3" (adversarial), which are ``dpo_member(init)``
(:mod:`proofs_checks.preference_learning._instances`). RPO uses ``eta = ETA_POP`` (population)
and ``eta = 1/sqrt(N)`` (finite ``N``), default baseline (the chosen responses), start ``0``.

Exact facts asserted (tag R; docs/theory/preference_learning.md, section 'rpo.coverage_sweep'):

* finite coverage (``t > 0``): every pair is compared with positive probability, so the
  population DPO loss is strictly convex on the directions that move the policy and, the
  Bradley-Terry model being correct, is minimised at ``theta*`` (its gradient
  ``sum D (sigma(z) - 1{w beats l}) ...`` has zero mean there): DPO's population gap is ``0``
  from *every* start (asserted ``<= GAP_ATOL``). The population is where DPO is at its best: the
  non-uniqueness only appears at ``t = 0``.
* infinite coverage (``t = 0``): the trap logits never move, so DPO's population gap equals the
  exact plateau of ``dpo_member(init)`` (3.906 adversarial, 0.408 uniform; relative ``MEMBER_RTOL``).
* RPO with the default baseline at ``t = 0``: the baseline has no mass on the trap, the SFT
  gradient on a trap logit is ``eta beta rho pi(t) > 0``, so RPO's trap mass goes to 0
  (asserted ``<= TRAP_MASS_ATOL``) and its gap is at least ``beta log(1/pi*(S))``, the floor of
  every policy off the trap; it stays below DPO-adversarial's plateau there.

Not asserted (no theorem): in the population RPO with fixed ``eta`` has an ``O(eta)`` bias, so
at finite coverage its gap is *larger* than DPO's (0); and at finite ``N`` the comparison depends
on how often the trap is compared (``N t pi*(trap)``). Both are reported and drawn.
"""

from __future__ import annotations

import numpy as np

import labkit
from algorithms import preference_learning as pl
from labkit.check import Check, Outcome, register
from proofs_checks.preference_learning._instances import COVERED, TRAP, dpo_member, trap_task

__all__ = ["rpo_coverage_sweep", "data_policy"]

PAPER = "Liu, Lu, Zhang, Liu, Guo, Yang, Blanchet, Wang 2024, arXiv 2405.16436"
TRAP_SCALES = (1.0, 0.3, 0.1, 0.03, 0.01, 0.0)
ETA_POP = 0.1
ADV_RAISE = 3.0
#: DPO's population gap at finite coverage: BFGS stops at gradient sup-norm 1e-10; the trap curvature is
#: about t pi*(trap) >= 1e-5, so the logit error is below 1e-5 and the gap error (quadratic) far below 1e-8
GAP_ATOL = 1e-8
MEMBER_RTOL = 1e-6
TRAP_MASS_ATOL = 1e-6


def data_policy(task, t: float) -> np.ndarray:
    """``p_t ∝ pi* (1 on the covered responses, t on the trap)``, ``(1, K)``."""
    p = np.array(task.optimal_policy(), copy=True)
    p[:, TRAP] *= t
    return p / p.sum(axis=1, keepdims=True)


def _inits():
    adv = np.zeros(10)
    adv[TRAP] = ADV_RAISE
    return {"uniform": np.zeros(10), "adversarial": adv}


def _row(task, result, method, start, cov, t=None):
    out = {} if t is None else {"t": t}
    return out | {"method": method, "start": start, "inv_coverage": 0.0 if np.isinf(cov) else 1.0 / cov,
            "gap": task.suboptimality(result.policy), "kl": task.kl_to_ref(result.policy),
            "trap_mass": float(result.policy[0, TRAP].sum())}


def _finite_run(config, rng):
    task = trap_task()
    t, N = config["t"], config["N"]
    p = data_policy(task, t)
    cov = task.coverage(task.optimal_policy(), p)
    data = task.sample(N, rng=rng, policy=p)
    out = [_row(task, pl.rpo(task, data, 1.0 / np.sqrt(N)), "rpo", "uniform", cov)]
    for name, init in _inits().items():
        out.append(_row(task, pl.dpo_fit(task, data, init=init, method="bfgs"), "dpo", name, cov))
    return out


def _population(task):
    rows = []
    for t in TRAP_SCALES:
        p = data_policy(task, t)
        cov = task.coverage(task.optimal_policy(), p)
        law = task.outcome_distribution(policy=p)
        rows.append(_row(task, pl.rpo(task, law, ETA_POP), "rpo", "uniform", cov, t))
        for name, init in _inits().items():
            rows.append(_row(task, pl.dpo_fit(task, law, init=init, method="bfgs"), "dpo", name, cov, t))
    return rows


def _measure(ctx) -> Outcome:
    import pandas as pd

    task = trap_task()
    pop = pd.DataFrame(_population(task))
    plateau = {k: task.suboptimality(task.policy(dpo_member(v))) for k, v in _inits().items()}
    floor = task.beta * np.log(1.0 / task.optimal_policy()[0, COVERED].sum())
    problems = []
    finite = pop[(pop.method == "dpo") & (pop.t > 0)]
    worst = float(finite.gap.abs().max())
    trap = pop[pop.t == 0].set_index(["method", "start"])
    for name, v in plateau.items():
        got = trap.loc[("dpo", name), "gap"]
        if abs(got - v) > MEMBER_RTOL * v:
            problems.append(f"DPO's population gap at infinite coverage from the {name} start {got:.6g} "
                            f"!= exact member plateau {v:.6g}")
    r0 = trap.loc[("rpo", "uniform")]
    if r0.trap_mass > TRAP_MASS_ATOL or r0.gap < floor - 1e-12 or r0.gap >= plateau["adversarial"]:
        problems.append(f"RPO at infinite coverage: trap mass {r0.trap_mass:.3g}, gap {r0.gap:.4g} "
                        f"(floor {floor:.4g}, DPO-adversarial plateau {plateau['adversarial']:.4g})")
    N = ctx.pick(4000, 16000)
    frame = ctx.sweep(_finite_run, labkit.expand_grid(t=list(TRAP_SCALES), N=[N]), n_seeds=ctx.pick(6, 30))
    med = frame.groupby(["method", "start", "t"])[["gap", "kl"]].median()
    popi = pop.set_index(["method", "start", "t"])
    covs = pop[pop.method == "rpo"].set_index("t").inv_coverage
    details = (
        "; ".join(problems) + ("; " if problems else "")
        + f"population (exact record law), data p_t ∝ pi* x (1 covered, t trap): largest DPO gap at finite "
          f"coverage {worst:.2e} (exact 0, from both starts); per t (1/C; population gap DPO-uniform / "
          f"DPO-adversarial / RPO eta={ETA_POP}; reverse KL of the same; median gap at N = {N}: DPO-adversarial "
          "/ RPO eta=1/sqrt(N)): "
        + "; ".join(
            f"t={t:g} (1/C={covs[t]:.3f}): {popi.loc[('dpo', 'uniform', t), 'gap']:.4f} / "
            f"{popi.loc[('dpo', 'adversarial', t), 'gap']:.4f} / {popi.loc[('rpo', 'uniform', t), 'gap']:.4f}; KL "
            f"{popi.loc[('dpo', 'uniform', t), 'kl']:.3f} / {popi.loc[('dpo', 'adversarial', t), 'kl']:.3f} / "
            f"{popi.loc[('rpo', 'uniform', t), 'kl']:.3f}; N: {med.loc[('dpo', 'adversarial', t), 'gap']:.4f} / "
            f"{med.loc[('rpo', 'uniform', t), 'gap']:.4f}" for t in TRAP_SCALES)
        + f". Exact DPO plateaus at infinite coverage {plateau['uniform']:.4f} (uniform), "
          f"{plateau['adversarial']:.4f} (adversarial); floor off the trap {floor:.4f}."
    )
    extras = {"population": pop.to_dict("records"), "plateau": plateau, "floor": floor, "N": N}
    measured = float("nan") if problems else worst
    return Outcome(measured=measured, ci=(measured, measured), expected=0.0, relation="==", tol=GAP_ATOL,
                   data=frame, details=details, extras=extras)


def _plot(result):
    import pandas as pd

    from labkit.figures import MARKERS, PALETTE, figure_legend, reference_line, subplots

    fig, axes = subplots(1, 2)
    ax, bx = axes[0, 0], axes[0, 1]
    pop = pd.DataFrame(result.extras.get("population", []))
    series = [("dpo", "uniform", "DPO from uniform"), ("dpo", "adversarial", "DPO from trap +3"),
              ("rpo", "uniform", "RPO")]
    d = result.data
    finite = d.inv_coverage[d.inv_coverage > 0]
    c_inf = 10.0 / finite.min()  # where infinite coverage is drawn (tick labelled "inf")

    def xs(inv):
        inv = np.asarray(inv, float)
        return np.where(inv > 0, 1.0 / np.where(inv > 0, inv, 1.0), c_inf)

    for i, (m, s, lab) in enumerate(series):
        if len(pop):
            g = pop[(pop.method == m) & (pop.start == s)].sort_values("inv_coverage", ascending=False)
            ax.plot(xs(g.inv_coverage), g.kl, marker=MARKERS[i], color=PALETTE[i], label=lab)
        g = d[(d.method == m) & (d.start == s)].groupby("inv_coverage")["gap"].median()
        bx.plot(xs(g.index), g.to_numpy(), marker=MARKERS[i], color=PALETTE[i], label=lab)
    for a in (ax, bx):
        a.set_xscale("log")
        ticks = [10.0 ** k for k in range(0, int(np.floor(np.log10(c_inf))))]
        a.set_xticks(ticks + [c_inf], [f"$10^{{{int(np.log10(v))}}}$" for v in ticks] + [r"$\infty$"])
        a.minorticks_off()
    reference_line(bx, result.extras["plateau"]["adversarial"], label="exact DPO plateau, trap +3 start")
    reference_line(bx, result.extras["floor"], color=PALETTE[4], label="floor of policies off the trap")
    ax.set_xlabel(r"coverage $C(\pi^*;\, p_t)$ ($\infty$: trap never compared)")
    ax.set_ylabel(r"$KL(\hat\pi\|\mu)$, population ($\eta=%g$)" % ETA_POP)
    bx.set_yscale("log")
    bx.set_xlabel(r"coverage $C(\pi^*;\, p_t)$")
    bx.set_ylabel(r"median $J_\beta(\pi^*) - J_\beta(\hat\pi)$, $N=%d$" % result.extras.get("N", 0))
    figure_legend(fig, axes, ncols=3, fontsize=6)
    return fig


rpo_coverage_sweep = register(Check(
    name="rpo.coverage_sweep",
    paper=PAPER,
    claim="As the data put less mass on the trap (coverage C(pi*; p_t) from 1 to infinity), DPO's population "
          "gap is exactly 0 at every finite coverage and jumps to the exact plateau of its member at infinite "
          "coverage; RPO's trap mass vanishes there and its gap stays between the off-trap floor and that plateau.",
    tag="R", family="preference_learning", cost=(4, 60),
    measure=_measure, plot=_plot,
))
