r"""R2PVI on d-rectangular linear robust regularised MDPs: the penalised inner problems' duals, the
offline rate of the pessimism gap, and monotonicity of the regularised value in the penalty strength.

Tang, Liu & Xu (2025), *Robust Offline Reinforcement Learning with Linearly Structured
f-Divergence Regularization*, ICML 2025, arXiv:2411.18612 (Algorithms 1-2; the TV / KL / chi-square
duals; the instance-dependent upper bound). Theory page: docs/theory/linear.md, section "R2PVI".

* ``rrpvi.dual_equals_primal`` **[R]**: for random nominal laws (some with zeros), values in
  ``[0, H]`` and ``lam`` in ``{0.01, 0.1, 1, 10}``, the closed forms / 1-D duals of
  :func:`mdps.penalized_inner` equal the primal :math:`\min_{p\in\Delta}\langle p, v\rangle + \lambda D(p\|p_0)`
  solved by cvxpy (Clarabel) to ``1e-6`` relative (the solver's accuracy), for TV, KL and chi-square.
* ``rrpvi.offline_rate`` **[A]** (rate; the theorem's constants are [U]): on a random linear MDP with
  simplex features (``S = 10, A = 4, d = 4, H = 3``) and on a one-hot tabular MDP (``S = 4, A = 3,
  H = 3``), with uniform-behaviour data of ``N`` episodes, the
  pessimism gap :math:`V^{*,\lambda}_1(s_1) - \hat V_1(s_1)` falls like :math:`N^{-1/2}` (90% bootstrap CI
  upper end of the log-log slope over seeds at most ``-1/2 + SLOPE_TOL``, every instance and divergence), and on every run
  :math:`\mathrm{SubOpt}(\hat\pi) = V^{*,\lambda}_1 - V^{\hat\pi,\lambda}_1` stays below that gap (the
  pessimism :math:`\hat V \le V^{\hat\pi,\lambda}`). Both values are computed here by the exact
  robust-regularised DP of the true model (:func:`mdps.robust_regularized_dp` /
  :func:`mdps.robust_regularized_evaluate`); the run's own ``V_hat`` enters only as the estimate whose
  gap is measured. Reported, not asserted: the paper's own setting on its simulated MDP
  (:func:`mdps.liu_xu_linear_mdp`, ``lam = 0.1``, ``beta = 1``), where R2PVI-KL is not pessimistic (the
  regression of :math:`e^{-V/\lambda}` estimates a ``1e-3``-sized mass whose relative error the
  logarithm turns into an additive error above the penalty; docs/theory/linear.md).
* ``rrpvi.monotone_in_lambda`` **[R]**: with exact dynamic programming on one-hot features (tabular
  (s,a)-rectangular RRMDPs), the regularised optimum :math:`V^{*,\lambda}(\rho)` is non-decreasing in
  ``lam``, lies between the worst case (computed here: each factor's minimum of the next value over the
  divergence's domain) and the nominal optimum (tabular backward induction), and approaches the nominal
  as ``lam`` grows within the exact bound :math:`c \sum_h (H-h-1)^2/\lambda` (``c = 1/8`` KL by Hoeffding's
  lemma, ``1/16`` chi-square, ``0`` TV once ``lam >= H``); for TV also within ``H lam`` of the worst case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import labkit
import mdps
from algorithms import linear
from labkit.check import Check, Outcome, register, worst_case
from labkit.rates import fit_power_law

__all__ = ["dual_equals_primal", "offline_rate", "monotone_in_lambda", "cvxpy_penalized", "worst_case_dp"]

TLX25 = ("C. Tang, Z. Liu, P. Xu, Robust Offline Reinforcement Learning with Linearly Structured f-Divergence "
         "Regularization, ICML 2025, arXiv:2411.18612")
KINDS = ("tv", "kl", "chi2")
LAMS = (0.01, 0.1, 1.0, 10.0)
DUAL_RTOL = 1e-6        # cvxpy / Clarabel accuracy on these small conic programs
SLOPE_TOL = 0.1
RATE_LAM = 0.3
EXACT_TOL = 1e-10       # floating-point slack of exact inequalities between DP values
HOEFFDING = {"tv": 0.0, "kl": 1.0 / 8.0, "chi2": 1.0 / 16.0}


def cvxpy_penalized(p0, v, lam: float, kind: str) -> float:
    """The primal of :func:`mdps.penalized_inner` by cvxpy (Clarabel): independent ground truth."""
    import cvxpy as cp

    p0, v = np.asarray(p0, float), np.asarray(v, float)
    p = cp.Variable(p0.size, nonneg=True)
    cons = [cp.sum(p) == 1]
    sup = p0 > 0
    if kind == "tv":
        obj = v @ p + lam * 0.5 * cp.norm1(p - p0)
    else:
        if (~sup).any():
            cons.append(p[~sup] == 0)
        if kind == "kl":
            obj = v @ p + lam * cp.sum(cp.kl_div(p[sup], p0[sup]))
        else:
            obj = v @ p + lam * cp.sum(cp.multiply(1.0 / p0[sup], cp.square(p[sup] - p0[sup])))
    prob = cp.Problem(cp.Minimize(obj), cons)
    prob.solve(solver="CLARABEL")
    return float(prob.value)


def _dual_run(config, rng):
    S = int(rng.integers(2, 9))
    p0 = rng.dirichlet(np.full(S, 0.5))
    if config["zeros"]:
        p0[rng.integers(S)] = 0.0
        p0 /= p0.sum()
    v = 3.0 * rng.random(S)
    rows = []
    for kind in KINDS:
        for lam in LAMS:
            dual = mdps.penalized_inner(p0, v, lam, kind)
            primal = cvxpy_penalized(p0, v, lam, kind)
            rows.append({"kind": kind, "lam": lam, "dual": dual, "primal": primal,
                         "rel_gap": abs(dual - primal) / max(1.0, abs(primal))})
    return pd.DataFrame(rows)


def _dual_measure(ctx) -> Outcome:
    frame = ctx.sweep(_dual_run, labkit.expand_grid(zeros=[False, True]), n_seeds=ctx.pick(3, 25))
    per = frame.groupby("kind").rel_gap.max()
    return worst_case(frame.rel_gap, "<=", 0.0, DUAL_RTOL, frame,
                      f"{len(frame)} inner problems (random p0 with and without zeros, v in [0, 3]^S, S in 2..8, "
                      f"lam in {LAMS}): largest |dual - cvxpy primal| / max(1, |primal|): "
                      + ", ".join(f"{k} {per[k]:.1e}" for k in KINDS) + f" (tolerance {DUAL_RTOL:g}).")


def _dual_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    for i, kind in enumerate(KINDS):
        g = frame[frame.kind == kind]
        ax.scatter(g.lam * (1.0 + 0.12 * (i - 1)), np.maximum(g.rel_gap, 1e-16), color=PALETTE[i], marker=MARKERS[i],
                   s=12, label=kind)
    reference_line(ax, DUAL_RTOL, label=f"tolerance {DUAL_RTOL:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"penalty strength $\lambda$")
    ax.set_ylabel("|dual - primal| (relative)")
    legend(ax, outside=True, ncols=4)
    return fig


# ---------------------------------------------------------------------------------------------
# offline rate
# ---------------------------------------------------------------------------------------------
INSTANCES = {"random": "random linear MDP (S = 10, A = 4, d = 4, H = 3)",
             "one_hot": "one-hot tabular MDP (S = 4, A = 3, d = 12, H = 3)"}


def _rate_instance(name: str):
    if name == "one_hot":
        return mdps.LinearMDP.from_tabular(mdps.random_finite_horizon(4, 3, 3, rng=7))
    return mdps.LinearMDP.random(10, 4, 4, 3, rng=3)


def _rate_run(config, rng):
    lin = _rate_instance(config["instance"])
    kind, lam = config["kind"], RATE_LAM
    v_star = mdps.robust_regularized_dp(lin, lam, kind).value(lin.rho)
    rows = []
    for n in _grid(config["n_max"], config["n_points"]):
        data = linear.collect_offline_data(lin, int(n), rng=rng)
        res = linear.r2pvi(lin, data, kind=kind, lam=lam, beta=1.0, ridge=0.1)
        v_pi = mdps.robust_regularized_evaluate(lin, np.asarray(res.policy), lam, kind).value(lin.rho)
        gap = v_star - float(lin.rho @ res.V_hat[0])
        rows.append({"n": int(n), "gap": gap, "subopt": v_star - v_pi})
    return pd.DataFrame(rows)


LIU_XU_LAM = 0.1  # the paper's experimental setting on its simulated MDP (lam = 0.1, beta = 1, ridge = 0.1)


def _liu_xu_run(config, rng):
    """Reported, not asserted: R2PVI at the paper's own setting on its simulated MDP."""
    lin = mdps.liu_xu_linear_mdp(0.0)
    kind = config["kind"]
    v_star = mdps.robust_regularized_dp(lin, LIU_XU_LAM, kind).value(lin.rho)
    rows = []
    for n in (100, 1000, 10_000):
        res = linear.r2pvi(lin, linear.collect_offline_data(lin, n, rng=rng), kind=kind, lam=LIU_XU_LAM, beta=1.0,
                           ridge=0.1)
        v_pi = mdps.robust_regularized_evaluate(lin, np.asarray(res.policy), LIU_XU_LAM, kind).value(lin.rho)
        rows.append({"n": n, "gap": v_star - float(lin.rho @ res.V_hat[0]), "subopt": v_star - v_pi})
    return pd.DataFrame(rows)


def _grid(n_max: int, n_points: int) -> np.ndarray:
    return np.unique(np.geomspace(20, n_max, n_points).astype(int))


def _rate_measure(ctx) -> Outcome:
    n_max, n_points, tail = ctx.pick(20_000, 200_000), ctx.pick(13, 17), ctx.pick(1.3, 2.0)
    ns = _grid(n_max, n_points)
    frame = ctx.sweep(_rate_run, labkit.expand_grid(instance=list(INSTANCES), kind=list(KINDS), n_max=[n_max],
                                                    n_points=[n_points]), n_seeds=ctx.pick(6, 20))
    fits, parts = {}, []
    for (inst, kind), g in frame.groupby(["instance", "kind"]):
        key = f"{inst}/{kind}"
        Y = g.pivot_table(index="replicate", columns="n", values="gap").to_numpy()
        if not np.all(Y > 0):
            fits[key] = None
            parts.append(f"{key}: a non-positive gap (min {Y.min():.2e}), no fit")
            continue
        f = fit_power_law(ns.astype(float), Y, tail_decades=tail)
        fits[key] = f
        parts.append(f"{key} {f.estimate:.3f} [{f.ci[0]:.3f}, {f.ci[1]:.3f}]")
    violations = frame[frame.subopt > frame.gap + EXACT_TOL]
    lx = ctx.sweep(_liu_xu_run, labkit.expand_grid(kind=list(KINDS)), n_seeds=ctx.pick(6, 20),
                   experiment="rrpvi.offline_rate.liu_xu")
    lx_rows = []
    for (kind, n), g in lx.groupby(["kind", "n"]):
        lx_rows.append(f"{kind} N = {n}: SubOpt > gap on {int((g.subopt > g.gap + EXACT_TOL).sum())}/{len(g)}, "
                       f"mean SubOpt {g.subopt.mean():.3f}")
    ok = [f for f in fits.values() if f is not None]
    if len(ok) < len(fits) or len(violations):
        measured, ci = float("inf"), (float("inf"), float("inf"))
    else:
        worst = max(ok, key=lambda f: f.ci[1])
        measured, ci = worst.estimate, (min(f.ci[0] for f in ok), max(f.ci[1] for f in ok))
    return Outcome(
        measured=measured, ci=ci, expected=-0.5, relation="<=", tol=SLOPE_TOL, data=frame,
        details=f"{INSTANCES['random']} and {INSTANCES['one_hot']}, uniform behaviour, lam = {RATE_LAM}, "
                f"beta = 1, ridge = 0.1, N = {ns[0]}..{ns[-1]}: slope of the mean pessimism gap V*,lam - V_hat "
                f"on N >= {ns[-1] / 10**tail:.0f} (the smaller N are clipped at V_hat = 0; 90% bootstrap CI over "
                f"{frame.replicate.nunique()} seeds): " + "; ".join(parts)
                + f". SubOpt (exact evaluation of the returned policy) exceeds the gap on {len(violations)} of "
                f"{len(frame)} runs (0 required); mean SubOpt {frame[frame.n == ns[0]].subopt.mean():.3g} at N = {ns[0]}, "
                f"largest SubOpt at N >= 200: {frame[frame.n >= 200].subopt.max():.3g}. Reported, not asserted: the "
                f"paper's simulated MDP (liu_xu_linear_mdp) at its setting lam = {LIU_XU_LAM}, beta = 1: "
                + "; ".join(lx_rows) + ".",
        extras={"fits": {k: (f.as_dict() if f is not None else None) for k, f in fits.items()},
                "violations": int(len(violations)),
                "liu_xu_violations": {k: int((g.subopt > g.gap + EXACT_TOL).sum()) for k, g in lx.groupby("kind")}},
    )


def _rate_plot(result):
    from labkit.figures import MARKERS, PALETTE, figure_legend, subplots, theory_line

    frame = result.data
    fig, axes = subplots(1, 2)
    for ax, inst in zip(axes[0], INSTANCES):
        sub_frame = frame[frame.instance == inst]
        for i, (kind, g) in enumerate(sub_frame.groupby("kind")):
            m = g.groupby("n").gap.mean()
            sub = g.groupby("n").subopt.mean()
            ns = m.index.to_numpy(dtype=float)
            ax.plot(ns, np.maximum(m.to_numpy(), 1e-6), color=PALETTE[i], marker=MARKERS[i], markersize=3,
                    label=f"gap, {kind}")
            pos = sub.to_numpy() > 0
            if pos.any():
                ax.plot(ns[pos], sub.to_numpy()[pos], color=PALETTE[i], marker=MARKERS[i], markersize=3,
                        linestyle=":", fillstyle="none", label=f"SubOpt, {kind}")
            if i == 0:
                fit = (result.extras.get("fits") or {}).get(f"{inst}/{kind}")
                x0 = fit["x_range"][0] if fit else ns[0]
                tail = ns[ns >= x0]
                theory_line(ax, tail, m.iloc[-1] * np.sqrt(ns[-1] / tail), label=r"slope $-1/2$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(inst.replace("_", "-"), fontsize=8)
        ax.set_xlabel("episodes in the dataset N")
    axes[0, 0].set_ylabel(r"$V^{*,\lambda}_1 - \hat V_1$ and SubOpt")
    figure_legend(fig, axes, ncols=4)
    return fig


# ---------------------------------------------------------------------------------------------
# monotone in lambda (exact DP, one-hot features)
# ---------------------------------------------------------------------------------------------
def worst_case_dp(lin, kind: str) -> float:
    """``rho . V`` of the lam -> 0 limit, computed here: each factor's value is the minimum of the
    next value over all states (TV) or over the factor's support (KL, chi-square)."""
    H, S = lin.horizon, lin.n_states
    phi = np.asarray(lin.phi)
    mus = np.broadcast_to(lin.mu, (H, lin.d, S))
    thetas = np.broadcast_to(lin.theta, (H, lin.d))
    v = np.zeros(S)
    for h in range(H - 1, -1, -1):
        if kind == "tv":
            w = np.full(lin.d, v.min())
        else:
            w = np.array([v[mus[h, i] > 0].min() for i in range(lin.d)])
        v = (phi @ (thetas[h] + w)).max(axis=1)
    return float(lin.rho @ v)


def _mono_run(config, rng):
    tab = mdps.random_finite_horizon(4, 3, 4, rng=rng)
    lin = mdps.LinearMDP.from_tabular(tab)
    v_nom = float(tab.rho @ mdps.backward_induction(tab).V[0])
    rows = []
    for kind in KINDS:
        v_wc = worst_case_dp(lin, kind)
        for lam in np.geomspace(1e-3, 1e3, config["n_lams"]):
            rows.append({"kind": kind, "lam": float(lam), "value": mdps.robust_regularized_dp(lin, lam, kind).value(lin.rho),
                         "v_nominal": v_nom, "v_worst": v_wc, "horizon": lin.horizon})
    return pd.DataFrame(rows)


_VIOLATIONS = ("decrease", "below_worst", "above_nominal", "limit_excess", "small_excess")


def _mono_violations(g: pd.DataFrame) -> dict:
    """The violations of one (instance, kind) curve, recomputed from its values."""
    g = g.sort_values("lam")
    vals, lams = g.value.to_numpy(), g.lam.to_numpy()
    kind, H = g.kind.iloc[0], int(g.horizon.iloc[0])
    v_nom, v_wc = float(g.v_nominal.iloc[0]), float(g.v_worst.iloc[0])
    big = HOEFFDING[kind] * sum((H - h - 1) ** 2 for h in range(H)) / lams[-1]
    small = H * lams[0] if kind == "tv" else np.inf
    return {"decrease": float(np.maximum(vals[:-1] - vals[1:], 0.0).max()),
            "below_worst": float(max(v_wc - vals.min(), 0.0)),
            "above_nominal": float(max(vals.max() - v_nom, 0.0)),
            "limit_excess": float(max(v_nom - vals[-1] - big, 0.0)),
            "small_excess": float(max(vals[0] - v_wc - small, 0.0))}


def _mono_measure(ctx) -> Outcome:
    n_lams = ctx.pick(25, 61)
    frame = ctx.sweep(_mono_run, labkit.expand_grid(n_lams=[n_lams]), n_seeds=ctx.pick(4, 20))
    viol = pd.DataFrame([_mono_violations(g) for _, g in frame.groupby(["replicate", "kind"])])
    per = {c: float(viol[c].max()) for c in _VIOLATIONS}
    return worst_case(viol.max(axis=1), "<=", 0.0, EXACT_TOL, frame,
                      f"{frame.replicate.nunique()} random tabular MDPs (S = 4, A = 3, H = 4) as one-hot linear MDPs, "
                      f"exact DP at {n_lams} values of lam in [1e-3, 1e3], TV / KL / chi-square: largest violation of "
                      + ", ".join(f"{k} {v:.1e}" for k, v in per.items()) + f" (each 0 up to {EXACT_TOL:g}).")


def _mono_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    first = frame[frame.replicate == frame.replicate.min()]
    fig, axes = subplots()
    ax = axes[0, 0]
    for i, kind in enumerate(KINDS):
        g = first[first.kind == kind].sort_values("lam")
        ax.plot(g.lam, g.value, color=PALETTE[i], marker=MARKERS[i], markevery=4, label=kind)
    worst = first.groupby("kind").v_worst.first()
    for i, kind in enumerate(KINDS):
        shared = np.ptp(worst.to_numpy()) == 0
        ax.axhline(float(worst[kind]), color="0.45" if shared else PALETTE[i], linestyle=":", linewidth=1.0,
                   label=r"worst case ($\lambda \to 0$)" if shared else f"worst case, {kind}")
    reference_line(ax, float(first.v_nominal.iloc[0]), label="nominal optimum")
    ax.set_xscale("log")
    ax.set_xlabel(r"penalty strength $\lambda$")
    ax.set_ylabel(r"regularised optimum $V^{*,\lambda}(\rho)$")
    legend(ax, outside=True, ncols=3)
    return fig


dual_equals_primal = register(Check(
    name="rrpvi.dual_equals_primal",
    paper=TLX25 + "; docs/theory/linear.md, section 'rrpvi.dual_equals_primal'",
    claim="The TV, KL and chi-square penalised inner problems' closed forms / 1-D duals (chi-square maximised over "
          "alpha) equal the cvxpy primal to 1e-6 relative.",
    tag="R", family="linear", cost=(5, 60), measure=_dual_measure, plot=_dual_plot,
))

offline_rate = register(Check(
    name="rrpvi.offline_rate",
    paper=TLX25 + "; docs/theory/linear.md, section 'rrpvi.offline_rate'",
    claim="R2PVI's pessimism gap V*,lam - V_hat falls like N^(-1/2) under uniform coverage (TV, KL, chi-square) "
          "and its suboptimality, evaluated exactly, stays below that gap on every run.",
    tag="A", family="linear", cost=(5, 120), measure=_rate_measure, plot=_rate_plot,
))

monotone_in_lambda = register(Check(
    name="rrpvi.monotone_in_lambda",
    paper=TLX25 + "; docs/theory/linear.md, section 'rrpvi.monotone_in_lambda'",
    claim="Under exact DP on one-hot features the robust-regularised optimum is non-decreasing in lam, lies between "
          "the worst case and the nominal optimum, and reaches the nominal within c sum_h (H-h-1)^2 / lam.",
    tag="R", family="linear", cost=(3, 60), measure=_mono_measure, plot=_mono_plot,
))
