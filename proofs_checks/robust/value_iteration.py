r"""Robust value iteration on (s,a)-rectangular balls: contraction, ordering in the radius, saddle point.

Iyengar (2005, Math. Oper. Res. 30(2), Thm 3.2) and Nilim & El Ghaoui (2005, Oper. Res. 53(5)): the
robust Bellman operator :math:`(T_U V)(s) = \max_a R(s,a) + \gamma \min_{p \in U_{s,a}} \langle p, V\rangle`
is a :math:`\gamma`-contraction in the sup norm; its fixed point :math:`V^*_U` is the robust optimum.

* ``robust_vi.contraction`` **[R]**: over random Garnets, every ball and random per-pair radii,
  :math:`\|T_U U - T_U V\|_\infty \le \gamma \|U - V\|_\infty` for random pairs ``(U, V)``; measured
  the largest ratio :math:`\|T_U U - T_U V\| / (\gamma \|U - V\|)`, expected ``<= 1`` within 1e-12.
* ``robust_vi.value_vs_radius`` **[R]**: with :math:`V^*_U` from :func:`mdps.solve` (robust VI to
  ``1e-10``): (i) :math:`V^*_U \le V^*_{\hat P}` (the nominal model is in ``U``), (ii) :math:`V^*_U` is
  non-increasing along the radius grid, (iii) at radius 0 it equals the nominal optimum (exact
  policy iteration), and (iv) the returned worst-case model :math:`P^w` lies in ``U`` (each row's
  divergence recomputed here) and its own optimal value :math:`V^*_{P^w}` (exact policy iteration
  on :math:`P^w`) equals :math:`V^*_U` -- the fixed-point equation of :math:`T_U` is the Bellman
  equation of :math:`P^w`. Measured: the largest violation over all of these, expected ``<= 0``
  within 1e-8 (VI's certified 1e-10 times the number of comparisons' round-off margin).
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from proofs_checks.robust.inner import IYENGAR05, KINDS, divergence

__all__ = ["contraction", "value_vs_radius"]

#: round-off of the operator on values of size ||V|| ~ 1 / (1 - gamma)
CONTRACTION_TOL = 1e-12
#: robust VI is run to a certified sup error of VI_TOL; comparisons of two such values, and the
#: exact value of the worst model, agree within a few VI_TOL
VI_TOL = 1e-10
VALUE_TOL = 1e-8
RADII = {"l1": (0.0, 0.05, 0.1, 0.2, 0.4, 0.8), "tv": (0.0, 0.025, 0.05, 0.1, 0.2, 0.4),
         "linf": (0.0, 0.01, 0.02, 0.05, 0.1, 0.2), "kl": (0.0, 0.01, 0.03, 0.1, 0.3, 1.0),
         "chi2": (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)}


def _garnet(config, rng):
    return mdps.garnet(config["S"], config["A"], config["branching"], gamma=config["gamma"], rng=rng)


def _contraction_run(config, rng):
    mdp = _garnet(config, rng)
    rows = []
    for kind in KINDS:
        radius = rng.uniform(0.0, RADII[kind][-1], size=(mdp.n_states, mdp.n_actions))
        rm = mdps.RobustMDP(mdp, kind=kind, radius=radius)
        scale = 1.0 / (1.0 - mdp.gamma)
        for _ in range(config["pairs"]):
            U = rng.uniform(-scale, scale, mdp.n_states)
            V = U + rng.normal(size=mdp.n_states) * scale * 10.0 ** rng.uniform(-6, 0)
            lhs = np.abs(mdps.robust_bellman_operator(rm, U) - mdps.robust_bellman_operator(rm, V)).max()
            rows.append({"kind": kind, "ratio": lhs / (mdp.gamma * np.abs(U - V).max())})
    return rows


def _contraction_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(S=[8, 30], A=[2, 4], branching=[3], gamma=[0.5, 0.9, 0.99], pairs=[ctx.pick(10, 50)])
    frame = ctx.sweep(_contraction_run, grid, n_seeds=ctx.pick(1, 5))
    by = frame.groupby("kind").ratio.max()
    return worst_case(
        frame.ratio.to_numpy() - 1.0, "<=", 0.0, CONTRACTION_TOL, frame,
        f"max over {len(frame)} random pairs (U, V) on Garnets (S in {{8, 30}}, A in {{2, 4}}, gamma in "
        "{0.5, 0.9, 0.99}, random per-pair radii) of ||T_U U - T_U V||_inf / (gamma ||U - V||_inf) - 1; "
        "largest ratio per ball: " + "; ".join(f"{k}: {x:.6f}" for k, x in by.items()),
    )


def _contraction_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    for i, kind in enumerate(KINDS):
        g = frame[frame.kind == kind].ratio.to_numpy()
        ax.scatter(np.full(g.size, i) + np.linspace(-0.3, 0.3, g.size), g, s=5, marker=MARKERS[i % len(MARKERS)],
                   color=PALETTE[i % len(PALETTE)], alpha=0.5, label=kind)
    reference_line(ax, 1.0, label=r"theorem: ratio $\leq 1$")
    ax.set_xticks(range(len(KINDS)), KINDS)
    ax.set_ylim(0.0, 1.15)
    ax.set_xlabel("ball")
    ax.set_ylabel(r"$\|T_U U - T_U V\|_\infty / (\gamma \|U - V\|_\infty)$")
    legend(ax, outside=True, ncols=5)
    return fig


def _value_run(config, rng):
    mdp = _garnet(config, rng)
    nominal = mdps.solve(mdp, method="pi").V
    rows = []
    for kind in KINDS:
        prev = None
        for r in RADII[kind]:
            rm = mdps.RobustMDP(mdp, kind=kind, radius=r)
            sol = mdps.solve(rm, method="vi", tol=VI_TOL)
            V = np.asarray(sol.V)
            Pw = np.asarray(sol.P_worst)
            outside = max(divergence(kind, Pw[s, a], mdp.P[s, a]) - r
                          for s in range(mdp.n_states) for a in range(mdp.n_actions))
            v_worst = mdps.solve(mdps.TabularMDP(Pw, mdp.R, gamma=mdp.gamma), method="pi").V
            rows.append({
                "kind": kind, "radius": r, "value": float(mdp.rho @ V), "nominal": float(mdp.rho @ nominal),
                "above_nominal": float((V - nominal).max()),
                "increase": float((V - prev).max()) if prev is not None else -np.inf,
                "at_zero": float(np.abs(V - nominal).max()) if r == 0.0 else -np.inf,
                "worst_model_gap": float(np.abs(v_worst - V).max()), "outside_ball": float(outside),
                "converged": bool(sol.converged)})
            prev = V
    return rows


COLUMNS = ("above_nominal", "increase", "at_zero", "worst_model_gap", "outside_ball")


def _value_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(S=[6, 20], A=[3], branching=[4], gamma=[0.9])
    frame = ctx.sweep(_value_run, grid, n_seeds=ctx.pick(2, 10))
    worst = frame[list(COLUMNS)].max(axis=1).to_numpy()
    worst = np.where(frame.converged.to_numpy(), worst, np.nan)  # an unconverged run fails the verdict
    top = frame[list(COLUMNS)].max()
    return worst_case(
        worst, "<=", 0.0, VALUE_TOL, frame,
        f"max over {len(frame)} (Garnet, ball, radius) runs (S in {{6, 20}}, A = 3, gamma = 0.9, radius grids per "
        "ball) of the largest of: max_s V_U - V_nominal (" f"{top.above_nominal:.1e}), the increase of V_U from "
        f"one radius to the next ({top.increase:.1e}), |V_U - V_nominal| at radius 0 ({top.at_zero:.1e}), "
        f"|V*_(P_worst) - V_U| with V*_(P_worst) by exact PI ({top.worst_model_gap:.1e}), and the worst "
        f"model's divergence beyond the radius ({top.outside_ball:.1e}); robust VI to a certified 1e-10.",
    )


def _value_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    for i, kind in enumerate(KINDS):
        g = frame[frame.kind == kind].assign(ratio=lambda d: d.value / d.nominal)
        stats = g.groupby("radius").ratio.agg(["mean", "min", "max"])
        x = stats.index.to_numpy()
        ax.fill_between(x, stats["min"], stats["max"], color=PALETTE[i % len(PALETTE)], alpha=0.15, linewidth=0,
                        label="range over instances" if i == 0 else "_range")
        ax.plot(x, stats["mean"], marker=MARKERS[i % len(MARKERS)], markersize=3, color=PALETTE[i % len(PALETTE)],
                label=kind)
    reference_line(ax, 1.0, label="nominal value (theorem: robust value below it)")
    ax.set_xlabel("radius r (in each ball's own divergence)")
    ax.set_ylabel(r"$\rho^\top V^*_U / \rho^\top V^*_{\hat P}$")
    ax.set_ylim(0.0, 1.1)
    legend(ax, outside=True, ncols=3)
    return fig


contraction = register(Check(
    name="robust_vi.contraction",
    paper=IYENGAR05 + " (Thm 3.2 of Iyengar)",
    claim="The (s,a)-rectangular robust Bellman operator is a gamma-contraction in the sup norm for every ball.",
    tag="R", family="robust", cost=(2, 30),
    measure=_contraction_measure, plot=_contraction_plot,
))

value_vs_radius = register(Check(
    name="robust_vi.value_vs_radius",
    paper=IYENGAR05,
    claim="The robust optimum is at most the nominal one, non-increasing in the radius, equal to it at radius 0, "
          "and equal to the optimal value of the returned worst-case model, which lies in the ball.",
    tag="R", family="robust", cost=(3, 60),
    measure=_value_measure, plot=_value_plot,
))
