r"""State-dependent action sets: every planner solves the MDP restricted to the feasible actions.

``planning.infeasible_actions`` [R]. With action sets :math:`A(s)` (Puterman 1994, sec 2.1 and
4.6.1; QuantEcon's ``DiscreteDP`` marks :math:`a \notin A(s)` by the reward ``-inf``), the
optimal value is the unique fixed point of the restricted Bellman operator

.. math:: (T V)(s) = \max_{a \in A(s)} \big[ r(s, a) + \gamma \textstyle\sum_{s'} P(s' \mid s, a) V(s') \big]

(Banach: :math:`T` is a :math:`\gamma`-contraction for any nonempty :math:`A(s)`), and an optimal
policy picks :math:`\sigma(s) \in A(s)`. In finite horizon, backward induction
:math:`V_h(s) = \max_{a \in A(s)} r_h(s, a) + P_h V_{h+1}(s, a)`, :math:`V_H = 0`, is exact
(Puterman Thm 4.5.1). The expected figures are those of the theorems: the error of each method
is at most its certified bound, and no returned action lies outside :math:`A(s)`.

What the check measures, for every method of :func:`mdps.solve` (``vi``, ``pi``, ``mpi``,
``lp``; dense and sparse; backward induction in finite horizon):

* ``||V - V*||_inf`` against ground truth computed here from the raw arrays (the ``-inf``
  reward table and the dense kernel): Howard policy iteration over :math:`A(s)` with NumPy
  linear solves (discounted), backward induction over :math:`A(s)` (finite horizon), and, when
  QuantEcon is importable, its ``DiscreteDP`` solution of the same ``-inf`` problem;
* the Bellman residual ``||T V - V||_inf`` of the returned value, with :math:`T` written out here;
* the value of the returned policy by a linear solve here (its loss against ``V*``), and
  whether every returned action is feasible (an infeasible one is an infinite error).

Each figure is divided by its bound: ``tol = 1e-8 max(1, ||V*||)`` for VI and MPI (their
certified stopping rule), ``2 gamma tol / (1 - gamma)`` for the loss of their greedy policy
(Singh & Yee 1994), each plus a round-off allowance ``1e-14 (1 + gamma) / (1 - gamma)
||V*||``; ``(1 + gamma)`` times the value bound for the residual (``||TV - V|| <= (1 + gamma)
||V - V*||``); ``1e-9`` relative (round-off of exact linear solves) for PI and backward
induction; ``1e-7`` relative for the LP (HiGHS's feasibility tolerance). The check passes when
the worst ratio is at most 1.

Instances: random masked Garnet-like MDPs (Dirichlet kernels, U[0, 1] rewards, each action
feasible with probability ``density``, one random action always feasible), Puterman's inventory
model (:func:`mdps.inventory`), and stage-dependent finite-horizon instances, where an action
that cannot be taken could be worth taking (the discounted problems are stationary, so the
container's self-loop placeholder for an infeasible action is dominated there: see
``docs/theory/planning.md``).
"""

from __future__ import annotations

import importlib.util

import numpy as np

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from proofs_checks.planning._instances import PUTERMAN

__all__ = ["infeasible_actions"]

#: Target error handed to value iteration and modified policy iteration, relative to max(1, ||V*||).
VI_RTOL = 1e-8
#: Floating-point allowance on top of a certified bound: a few dozen ulps of ||V*|| times the
#: condition number (1 + gamma) / (1 - gamma) of the linear solves behind the reference.
ROUNDOFF = 1e-14
#: Round-off of exact linear solves and backward induction, relative to max(1, ||V*||).
EXACT_RTOL = 1e-9
#: HiGHS's feasibility tolerance: the LP's relative accuracy (as in policy_iteration.matches_lp).
LP_RTOL = 1e-7


def _masked_instance(S, A, density, rng, *, gamma=None, horizon=None):
    """``(P, R_masked)``: dense Dirichlet kernel(s), U[0, 1] rewards, -inf off the action sets."""
    shape = (S, A) if horizon is None else (horizon, S, A)
    P = rng.dirichlet(np.ones(S), size=shape)
    R = rng.random(shape)
    mask = rng.random((S, A)) < density
    mask[np.arange(S), rng.integers(0, A, S)] = True
    return P, np.where(mask, R, -np.inf)


def _exact_pi(P, Rm, gamma):
    """Howard policy iteration over the feasible actions, written out here: ``(V*, sigma*)``."""
    S = P.shape[0]
    idx = np.arange(S)
    sigma = Rm.argmax(axis=1)  # feasible: -inf rewards are never the row max
    for _ in range(10_000):
        V = np.linalg.solve(np.eye(S) - gamma * P[idx, sigma], Rm[idx, sigma])
        Q = np.where(np.isfinite(Rm), np.nan_to_num(Rm, neginf=0.0) + gamma * P @ V, -np.inf)
        best = Q.max(axis=1)
        keep = Q[idx, sigma] >= best - 1e-12 * max(1.0, float(np.abs(V).max()))
        new = np.where(keep, sigma, Q.argmax(axis=1))
        if np.array_equal(new, sigma):
            return V, sigma
        sigma = new
    raise RuntimeError("reference policy iteration did not stop")


def _bellman(P, Rm, gamma, V):
    """Restricted optimality operator, written out here (no ``-inf`` arithmetic)."""
    feas = np.isfinite(Rm)
    Q = np.nan_to_num(Rm, neginf=0.0) + gamma * P @ V
    return np.where(feas, Q, -np.inf).max(axis=1)


def _policy_value(P, Rm, gamma, sigma):
    S = P.shape[0]
    idx = np.arange(S)
    return np.linalg.solve(np.eye(S) - gamma * P[idx, sigma], Rm[idx, sigma])


def _quantecon_value(P, Rm, gamma):
    if importlib.util.find_spec("quantecon") is None:
        return None
    from quantecon.markov import DiscreteDP

    return np.asarray(DiscreteDP(Rm, P, gamma).solve(method="policy_iteration").v)


def _discounted_rows(P, Rm, gamma):
    """One row per (method, layout): errors divided by their bounds, measured here."""
    S = P.shape[0]
    V_star, _ = _exact_pi(P, Rm, gamma)
    scale = max(1.0, float(np.abs(V_star).max()))
    V_qe = _quantecon_value(P, Rm, gamma)
    qe_gap = float("nan") if V_qe is None else float(np.abs(V_qe - V_star).max()) / (EXACT_RTOL * scale)
    feas = np.isfinite(Rm)
    base = mdps.TabularMDP(P, Rm, gamma=gamma)
    rows = []
    tol = VI_RTOL * scale
    floor = ROUNDOFF * (1 + gamma) / (1 - gamma) * scale
    for layout, mdp in (("dense", base), ("sparse", base.to_sparse())):
        for method in ("vi", "pi", "mpi", "lp"):
            kw = {"tol": tol} if method in ("vi", "mpi") else {}
            sol = mdps.solve(mdp, method=method, **kw)
            V, sigma = np.asarray(sol.V), np.asarray(sol.policy)
            bound = {"vi": tol + floor, "mpi": tol + floor, "pi": EXACT_RTOL * scale, "lp": LP_RTOL * scale}[method]
            # Singh & Yee (1994): the greedy policy of a tol-accurate value loses <= 2 gamma tol / (1 - gamma)
            loss_bound = 2 * gamma * tol / (1 - gamma) + floor if method in ("vi", "mpi") else bound
            feasible = bool(feas[np.arange(S), sigma].all())
            loss = float((V_star - _policy_value(P, Rm, gamma, sigma)).max()) if feasible else np.inf
            err = float(np.abs(V - V_star).max())
            resid = float(np.abs(_bellman(P, Rm, gamma, V) - V).max())
            rows.append({
                "method": method, "layout": layout,
                "infeasible_actions": int((~feas[np.arange(S), sigma]).sum()),
                "error_ratio": err / bound, "loss_ratio": loss / loss_bound,
                "residual_ratio": resid / ((1 + gamma) * bound),
                "quantecon_gap_ratio": qe_gap,
            })
    return rows


def _finite_horizon_rows(P, Rm):
    """Backward induction (dense and sparse) against backward induction written out here."""
    H, S, A = Rm.shape
    feas = np.isfinite(Rm[0])
    V_ref = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        Q = np.nan_to_num(Rm[h], neginf=0.0) + P[h] @ V_ref[h + 1]
        V_ref[h] = np.where(feas, Q, -np.inf).max(axis=1)
    scale = max(1.0, float(np.abs(V_ref).max()))
    rows = []
    mdp = mdps.TabularMDP(P, Rm, horizon=H)
    sol = mdps.solve(mdp)
    sigma = np.asarray(sol.policy)
    ok = feas[np.arange(S)[None, :], sigma]
    V_pol = np.zeros((H + 1, S))  # the value of the returned policy, here
    if ok.all():
        for h in range(H - 1, -1, -1):
            V_pol[h] = Rm[h][np.arange(S), sigma[h]] + P[h][np.arange(S), sigma[h]] @ V_pol[h + 1]
        loss = float(np.abs(V_ref[:H] - V_pol[:H]).max())
    else:
        loss = np.inf
    err = float(np.abs(np.asarray(sol.V) - V_ref[:H]).max())
    bound = EXACT_RTOL * scale
    rows.append({
        "method": "backward_induction", "layout": "dense",
        "infeasible_actions": int((~ok).sum()), "error_ratio": err / bound, "loss_ratio": loss / bound,
        "residual_ratio": 0.0, "quantecon_gap_ratio": float("nan"),
    })
    return rows


def _run(config, rng):
    kind = config["instance"]
    if kind == "inventory":
        m = mdps.inventory(config["S"] - 1, gamma=config["gamma"])
        return _discounted_rows(np.asarray(m.P), m.R_masked, config["gamma"])
    if kind == "finite_horizon":
        P, Rm = _masked_instance(config["S"], 4, config["density"], rng, horizon=6)
        return _finite_horizon_rows(P, Rm)
    P, Rm = _masked_instance(config["S"], 4, config["density"], rng)
    return _discounted_rows(P, Rm, config["gamma"])


def _frame(ctx):
    sizes = ctx.pick([10, 30], [10, 30, 100])
    gammas = ctx.pick([0.9, 0.99], [0.9, 0.99, 0.999])
    grid = (labkit.expand_grid(instance=["garnet"], S=sizes, density=[0.3, 0.7], gamma=gammas)
            + labkit.expand_grid(instance=["finite_horizon"], S=sizes, density=[0.3, 0.7], gamma=[1.0])
            + labkit.expand_grid(instance=["inventory"], S=ctx.pick([4], [4, 11, 31]), density=[1.0], gamma=gammas))
    return ctx.sweep(_run, grid, n_seeds=ctx.pick(2, 10))


def _measure(ctx) -> Outcome:
    frame = _frame(ctx)
    cols = ["error_ratio", "loss_ratio", "residual_ratio", "quantecon_gap_ratio"]
    ratio = frame[cols].max(axis=1, skipna=True).to_numpy()
    n_bad = int(frame["infeasible_actions"].sum())
    qe = "QuantEcon's DiscreteDP also solved each discounted instance (its gap is in the ratio)" \
        if frame["quantecon_gap_ratio"].notna().any() else "QuantEcon not importable: reference PI only"
    return worst_case(
        ratio, "<=", 1.0, 0.0, frame,
        f"worst over {len(frame)} (instance, method, layout) runs of max(||V - V*||, policy loss, Bellman residual) "
        f"divided by the method's bound (VI/MPI tol {VI_RTOL:g}, PI and backward induction {EXACT_RTOL:g}, LP "
        f"{LP_RTOL:g}, all relative to max(1, ||V*||)); V* by policy iteration over the feasible actions written out in "
        f"the check; {qe}. Infeasible actions returned: {n_bad} (each one is an infinite ratio).",
    )


#: Ratios below this are drawn on it (PI, LP and backward induction are often exact: ratio 0).
PLOT_FLOOR = 1e-6


def _plot(result):
    from labkit.figures import MARKERS, legend, reference_line, subplots

    fig, axes = subplots()
    ax = axes[0, 0]
    data = result.data
    ratio = data[["error_ratio", "loss_ratio", "residual_ratio", "quantecon_gap_ratio"]].max(axis=1, skipna=True)
    ratio = ratio.replace(np.inf, 1e3).clip(lower=PLOT_FLOOR)
    methods = ["vi", "mpi", "pi", "lp", "backward_induction"]
    for i, method in enumerate(methods):
        sel = (data["method"] == method).to_numpy()
        if not sel.any():
            continue
        x = i + np.linspace(-0.3, 0.3, int(sel.sum()))  # runs side by side, none hidden under another
        ax.scatter(x, ratio[sel], s=9, marker=MARKERS[i % len(MARKERS)])
    reference_line(ax, 1.0, label="theorem: error = bound")
    ax.set_yscale("log")
    ax.set_xticks(range(len(methods)))
    ax.set_xticklabels(["VI", "MPI", "PI", "LP", "backward\ninduction"])
    ax.set_xlabel("method (one marker per instance and layout)")
    ax.set_ylabel(f"worst error / its bound\n(drawn at {PLOT_FLOOR:g} when smaller)")
    legend(ax, outside=True)
    return fig


infeasible_actions = register(Check(
    name="planning.infeasible_actions",
    paper=PUTERMAN + ", sec 4.5-4.6 (action sets A(s)), Thm 6.2.3, 6.4.2; Singh & Yee 1994",
    claim="With state-dependent action sets every planner (VI, PI, MPI, LP, dense and sparse; backward "
          "induction) returns V* of the MDP restricted to A(s), within its certified bound, a Bellman fixed "
          "point of the restricted operator, and a policy that never leaves A(s).",
    tag="R", family="planning", cost=(3, 190),
    measure=_measure, plot=_plot,
))
