r"""RPO against DPO on the trap instance: RPO's regret to the covered optimum falls at least like
N^(-1/2) with eta = 1/sqrt(N), while DPO from an adversarial start keeps its trap mass.

Paper: Z. Liu, M. Lu, S. Zhang, B. Liu, H. Guo, Y. Yang, J. Blanchet, Z. Wang (2024),
*Provably Mitigating Overoptimization in RLHF: Your SFT Loss is Implicitly an Adversarial
Regularizer*, arXiv 2405.16436. Theorem (form recalled, constants not read, tag U): with
eta proportional to 1/sqrt(N), J_beta(pi_target) - J_beta(pi_hat) = O~(N^(-1/2)) for every
target covered by the data relative to the baseline. The trap responses are never compared, so
the optimum pi*_beta (which puts mass on them) is not covered; the covered target is pi*_S
(docs/theory/preference_learning.md, section 'rpo.trap_coverage'). Its regret is measured
exactly: J_beta(pi*_S) - J_beta(pi_hat) = sub(pi_hat) - sub(pi*_S), both from
``task.suboptimality``.

The DPO comparison (exact, tag R): gradient descent on DPO never moves the trap logits and keeps
the mean covered logit, so from the start "trap logits raised by +3" it converges to the member
``dpo_member(init)`` whose exact gap is a plateau independent of N.
"""

from __future__ import annotations

import numpy as np

import labkit
from algorithms import preference_learning as pl
from labkit.check import Check, Outcome, register
from labkit.rates import fit_power_law
from proofs_checks.preference_learning._instances import (
    DATA_POLICY,
    TRAP,
    covered_optimum,
    dpo_member,
    trap_task,
)

__all__ = ["rpo_trap_coverage"]

PAPER = "Liu, Lu, Zhang, Liu, Guo, Yang, Blanchet, Wang 2024, arXiv 2405.16436"
#: the theorem's upper rate
RATE = -0.5
#: slack on the fitted slope (the constants were not read: the form is tested, tag U)
SLOPE_TOL = 0.1
#: DPO's gap at every N must stay above this fraction of the exact plateau of the member it converges
#: to (estimation noise moves the covered logits by O(N^(-1/2)); the trap logits do not move at all)
PLATEAU_FRACTION = 0.5
ADV_RAISE = 3.0


def _inits():
    adv = np.zeros(10)
    adv[TRAP] = ADV_RAISE
    return {"uniform": np.zeros(10), "adversarial": adv}


def _run(config, rng):
    task = trap_task()
    N, eta0 = config["N"], config["eta0"]
    data = task.sample(N, rng=rng, policy=DATA_POLICY)
    comparator = task.suboptimality(covered_optimum(task))
    out = []
    r = pl.rpo(task, data, eta0 / np.sqrt(N))
    out.append({"method": "rpo", "start": "uniform", "gap": task.suboptimality(r.policy),
                "regret_covered": task.suboptimality(r.policy) - comparator, "kl": task.kl_to_ref(r.policy),
                "trap_mass": float(r.policy[0, TRAP].sum())})
    for name, init in _inits().items():
        d = pl.dpo_fit(task, data, init=init)
        out.append({"method": "dpo", "start": name, "gap": task.suboptimality(d.policy),
                    "regret_covered": task.suboptimality(d.policy) - comparator, "kl": task.kl_to_ref(d.policy),
                    "trap_mass": float(d.policy[0, TRAP].sum())})
    return out


def _measure(ctx) -> Outcome:
    Ns = ctx.pick([500, 2000, 8000, 32000], [250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000])
    frame = ctx.sweep(_run, labkit.expand_grid(N=Ns, eta0=[1.0]), n_seeds=ctx.pick(6, 20))
    task = trap_task()
    plateau = {k: task.suboptimality(task.policy(dpo_member(v))) for k, v in _inits().items()}
    rpo = frame[frame.method == "rpo"].pivot_table(index="replicate", columns="N", values="regret_covered")
    bad = ""
    if (rpo.to_numpy() <= 0).any():
        bad = "some RPO regret to pi*_S is <= 0 (cannot fit a log-log slope); "
        fit = None
    else:
        fit = fit_power_law(np.asarray(rpo.columns, float), rpo.to_numpy(), tail_decades=2.0)
    adv = frame[(frame.method == "dpo") & (frame.start == "adversarial")]
    ratio = adv.gap.to_numpy() / plateau["adversarial"]
    if ratio.min() < PLATEAU_FRACTION:
        bad += (f"DPO from the adversarial start fell to {ratio.min():.3f} of its exact plateau "
                f"{plateau['adversarial']:.4f} (floor {PLATEAU_FRACTION}); ")
    med = frame.groupby(["method", "start", "N"])[["gap", "kl", "trap_mass"]].median()
    nmax = max(Ns)
    details = (
        f"{bad}fitted slope of the mean RPO regret J(pi*_S) - J(pi_hat) (eta = 1/sqrt(N)) over N in {Ns}: "
        + (f"{fit.estimate:.3f} [{fit.ci_low:.3f}, {fit.ci_high:.3f}]" if fit else "n/a")
        + f" (the theorem's upper rate -1/2; a consistent estimator's KL gap falls like 1/N). At N = {nmax}: "
        f"RPO gap {med.loc[('rpo', 'uniform', nmax), 'gap']:.4f} (floor for policies off the trap "
        f"{task.suboptimality(covered_optimum(task)):.4f}), reverse KL {med.loc[('rpo', 'uniform', nmax), 'kl']:.3f}; "
        f"DPO (gradient descent) from the uniform start gap {med.loc[('dpo', 'uniform', nmax), 'gap']:.4f} "
        f"(exact plateau {plateau['uniform']:.4f}), from trap logits +{ADV_RAISE:g} gap "
        f"{med.loc[('dpo', 'adversarial', nmax), 'gap']:.4f} (exact plateau {plateau['adversarial']:.4f}), "
        f"reverse KL {med.loc[('dpo', 'adversarial', nmax), 'kl']:.3f}, trap mass "
        f"{med.loc[('dpo', 'adversarial', nmax), 'trap_mass']:.3f}; smallest DPO gap / plateau {ratio.min():.3f}."
    )
    if fit is None or bad:
        return Outcome(measured=float("nan"), ci=(float("nan"), float("nan")), expected=RATE, relation="<=",
                       tol=SLOPE_TOL, data=frame, details=details, extras={"plateau": plateau})
    return Outcome(measured=fit.estimate, ci=fit.ci, expected=RATE, relation="<=", tol=SLOPE_TOL, data=frame,
                   details=details, extras={"fit": fit.as_dict(), "plateau": plateau})


def _plot(result):
    from labkit.figures import MARKERS, PALETTE, figure_legend, reference_line, subplots, theory_line

    fig, axes = subplots(1, 2)
    ax, bx = axes[0, 0], axes[0, 1]
    data = result.data
    rpo = data[data.method == "rpo"].groupby("N")["regret_covered"].mean()
    ax.plot(rpo.index, rpo.to_numpy(), marker=MARKERS[0], color=PALETTE[0], label=r"RPO, $\eta=1/\sqrt{N}$ (mean)")
    fit = result.extras.get("fit")
    if fit:
        x = np.asarray(rpo.index, float)
        theory_line(ax, x, rpo.iloc[0] * (x / x[0]) ** RATE, label=r"theorem: $N^{-1/2}$ (upper rate)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pairs N")
    ax.set_ylabel(r"$J_\beta(\pi^*_S) - J_\beta(\hat\pi)$")
    for i, ((m, s), g) in enumerate(data.groupby(["method", "start"])):
        med = g.groupby("N")["gap"].median()
        bx.plot(med.index, med.to_numpy(), marker=MARKERS[(i + 1) % len(MARKERS)], color=PALETTE[(i + 1) % len(PALETTE)],
                label=f"{m.upper()} from {s} (median)")
    colour = {"adversarial": PALETTE[1], "uniform": PALETTE[2]}  # the DPO series' colours above
    for name, v in result.extras.get("plateau", {}).items():
        reference_line(bx, v, color=colour[name], label="exact DPO plateau of its member (same colour)")
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set_xlabel("pairs N")
    bx.set_ylabel(r"$J_\beta(\pi^*) - J_\beta(\hat\pi)$")
    figure_legend(fig, axes, ncols=3, fontsize=6)
    return fig


rpo_trap_coverage = register(Check(
    name="rpo.trap_coverage",
    paper=PAPER,
    claim="With eta = 1/sqrt(N), RPO's regret to the best policy covered by the data falls at least like "
          "N^(-1/2) on the trap instance, while DPO by gradient descent from trap logits +3 stays at its "
          "exact plateau (form of the rate recalled, constants not read).",
    tag="U", family="preference_learning", cost=(4, 60),
    measure=_measure, plot=_plot,
))
