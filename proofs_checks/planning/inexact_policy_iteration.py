r"""Inexact policy iteration's certificate: the returned value is within the proved bound of V*.

``mdps.inexact_policy_iteration`` (the default route of ``mdps.solve`` for discounted MDPs above
300 dense / 100 sparse states) is Newton's method on ``T V = V`` (policy iteration, Puterman &
Brumelle 1979) with each evaluation ``(I - gamma P_sigma) d = T v - v`` solved inexactly (fixed-point
sweeps, then GMRES, Saad & Schultz 1986, then LU). After each backup ``b = T v`` MacQueen's bounds
(M. L. Puterman, *Markov Decision Processes*, Wiley 1994, Thm 6.6.3)

.. math:: v + \frac{\min(b - v)}{1 - \gamma} \le V^* \le v + \frac{\max(b - v)}{1 - \gamma}

certify the returned midpoint within ``sp(b - v) / (2 (1 - gamma))``, to which the solver adds a
floating-point allowance (the backup's rounding, Higham 2002 Lemma 3.1 and Higham & Mary, SIAM J. Sci.
Comput. 41(5), 2019, the probabilistic bound for long rows; the row-sum defect of the stored ``P``). It
reports ``certificate["bound"]`` and ``converged = bound <= tol``, and ``policy_optimal`` when the
minimal action gap of ``Q(V)`` exceeds ``2 gamma bound`` (then ``Q(V)`` is within ``gamma bound``
of ``Q*``, so the greedy action is the unique optimal one).

* ``inexact_policy_iteration.certified_bound`` [R]: on dense and sparse Garnets and on slowly
  mixing chains (``mdps.chain``, ``mdps.river_swim``, both layouts) with gamma up to 0.999
  (0.9999 at full scale), the true error ``||V - V*||_inf`` never exceeds the certified bound;
  a converged run is within ``tol``; a run claiming ``policy_optimal`` returns an optimal policy;
  a run may stop unconverged only at the float64 floor (below).

Ground truth, all computed here: an optimal policy ``sigma*`` by Howard policy iteration
(``mdps.policy_iteration``, a different solver), its value ``V* = (I - gamma P_sigma*)^{-1} r``
by a float64 LU solve refined three times with residuals formed in ``np.longdouble`` (the
value itself is kept in long double), and a long-double Bellman residual
``rho = max_s (max_a Q(V*)(s, a) - V*(s))``. Since ``T V* - V* \in [0, rho]`` MacQueen gives
``0 <= V^opt - V* <= rho / (1 - gamma)``: that figure is the ground truth's own error, and the
check requires it below ``1e-12 max(1, ||V*||)`` (it is ~1e-16 relative on these instances).

The float64 floor. A certificate computed from one float64 backup cannot be smaller than that
backup's rounding error ``delta`` divided by ``1 - gamma`` (MacQueen's ends move by
``delta / (1 - gamma)``). With ``n`` stored entries per row, ``delta <= rho_n (||R|| + ||V*||)``,
``rho_n = min(n + 2, 10 sqrt(n) + 2) u`` (``u = 2^-53``; the worst case, resp. the
probabilistic bound of Higham & Mary for long dense rows), plus the row-sum defect
``eps_P = max_r |sum_k P[r, k] - 1|`` (measured here in long double) acting on values of size
``||V*||``. So the check allows an unconverged run only where ``tol`` is below, and the bound at
most,

.. math:: F = 2\,\frac{\rho_n (\|R\|_\infty + \|V^*\|_\infty) + (\varepsilon_P + 4\epsilon) \|V^*\|_\infty}{1 - \gamma}

(the factor 2 covers the handful of further roundings of the midpoint). With rewards in [0, 1]
``F`` is 1e-9 to 3e-9 at gamma = 0.999 for sparse rows (5 entries), 2e-8 to 4e-8 for dense rows
of 320 entries, and 4e-10 at gamma = 0.99 for the dense 320-state chain, which stops at 1.1e-10,
just above ``tol = 1e-10`` (the solver's allowance for rounding in long dense rows).

Provenance R: MacQueen's bounds and the greedy-policy corollary are textbook (Puterman 1994,
Thm 6.6.3; Singh & Yee 1994); the floor ``F`` is the lab's rounding model.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import lu_factor, lu_solve

import labkit
import mdps
from labkit.check import Check, Outcome, register, worst_case
from proofs_checks.planning._instances import PUTERMAN

__all__ = ["ipi_certified_bound", "exact_policy_value", "bellman_residual_ld", "float64_floor"]

#: Instance families of the sweep: (name in the figure, constructor).
FAMILIES = ("garnet_dense", "garnet_sparse", "chain", "chain_sparse", "river_swim", "river_swim_sparse")
#: A policy claimed optimal must have an exact value equal to V* within this, relative to max(1, ||V*||).
POLICY_RTOL = 1e-9
#: The ground truth's own error bound (from its long-double Bellman residual), relative to max(1, ||V*||).
TRUTH_RTOL = 1e-12
_U = 2.0 ** -53
#: The targets each instance is solved to (the solver's default 1e-10, and a looser one).
TOLS = (1e-8, 1e-10)


def _instance(config, rng):
    fam, S, gamma = config["family"], config["n_states"], config["gamma"]
    if fam == "garnet_dense":
        return mdps.garnet(S, config["n_actions"], S, gamma=gamma, rng=rng)
    if fam == "garnet_sparse":
        return mdps.garnet(S, config["n_actions"], 5, gamma=gamma, sparse=True, rng=rng)
    base = mdps.chain(S, gamma=gamma) if fam.startswith("chain") else mdps.river_swim(S, gamma=gamma)
    return base.to_sparse() if fam.endswith("sparse") else base


def _csr(mdp):
    P2 = mdp.P_matrix()
    return sp.csr_array(P2) if sp.issparse(P2) else sp.csr_array(np.asarray(P2))


def exact_policy_value(mdp, sigma) -> np.ndarray:
    """``V^sigma`` (long double): a float64 LU solve of ``(I - gamma P_sigma) V = r_sigma`` refined
    three times with residuals formed in long double (forming ``I - gamma P_sigma`` in float64 would
    perturb ``V`` by ~eps ||V|| / (1 - gamma), above the certificates being tested)."""
    S, A = mdp.n_states, mdp.n_actions
    sigma = np.asarray(sigma, dtype=np.int64)
    rows = np.arange(S) * A + sigma
    P2 = mdp.P_matrix()
    P_pi = P2[rows].toarray() if sp.issparse(P2) else np.asarray(P2)[rows]
    r = np.asarray(mdp.R)[np.arange(S), sigma]
    M = np.eye(S) - mdp.gamma * P_pi
    lu = lu_factor(M, check_finite=False)
    Ml = np.eye(S, dtype=np.longdouble) - np.longdouble(mdp.gamma) * P_pi.astype(np.longdouble)
    rl = r.astype(np.longdouble)
    V = lu_solve(lu, r, check_finite=False).astype(np.longdouble)
    for _ in range(3):
        V = V + lu_solve(lu, (rl - Ml @ V).astype(np.float64), check_finite=False).astype(np.longdouble)
    return V


def q_values_ld(mdp, V) -> np.ndarray:
    """``Q(V) = R + gamma P V`` in long double over the stored entries of ``P`` (infeasible actions
    at ``-inf``)."""
    P = _csr(mdp)
    S, A = mdp.n_states, mdp.n_actions
    V = np.asarray(V, dtype=np.longdouble)
    prod = P.data.astype(np.longdouble) * V[P.indices]
    PV = np.add.reduceat(prod, P.indptr[:-1]) if prod.size else np.zeros(S * A, dtype=np.longdouble)
    PV[np.diff(P.indptr) == 0] = 0
    Q = np.asarray(mdp.R, dtype=np.longdouble) + np.longdouble(mdp.gamma) * PV.reshape(S, A)
    mask = mdp.action_mask
    return Q if mask is None else np.where(mask, Q, -np.inf)


def bellman_residual_ld(mdp, V) -> float:
    """``max_s (max_a Q(V)(s, a) - V(s))`` in long double (:func:`q_values_ld`)."""
    return float((q_values_ld(mdp, V).max(axis=1) - np.asarray(V, dtype=np.longdouble)).max())


def optimal_value_ld(mdp, sigma0, max_steps: int = 100):
    """``(V*, sigma*)``: Howard policy iteration in long double from ``sigma0`` (policy iteration's
    float64 answer). Its float64 improvement step cannot see gains below ~eps ||V|| (on RiverSwim at
    gamma = 0.9 it stops ~1e-11 short of V*); here an action replaces the current one where its
    long-double ``Q`` is higher by more than ``2^-58 max(1, ||V||)``, and the loop stops when none is."""
    sigma = np.asarray(sigma0, dtype=np.int64).copy()
    idx = np.arange(mdp.n_states)
    for _ in range(max_steps):
        V = exact_policy_value(mdp, sigma)
        Q = q_values_ld(mdp, V)
        best = Q.argmax(axis=1)
        gain = Q[idx, best] - Q[idx, sigma]
        switch = gain > np.longdouble(2.0 ** -58) * max(1.0, float(np.abs(V).max()))
        if not switch.any():
            return V, sigma
        sigma[switch] = best[switch]
    raise RuntimeError(f"long-double policy iteration did not settle within {max_steps} steps")


def row_sum_defect_ld(mdp) -> float:
    """``max_r |sum_k P[r, k] - 1|`` over the stored rows, summed in long double."""
    P = _csr(mdp)
    sums = np.add.reduceat(P.data.astype(np.longdouble), P.indptr[:-1])
    return float(np.abs(sums - 1).max())


def float64_floor(n_row: int, max_R: float, norm_v: float, eps_P: float, gamma: float) -> float:
    """The float64 floor ``F`` of a backup-based certificate (module doc)."""
    rho = min(n_row + 2.0, 10.0 * math.sqrt(n_row) + 2.0) * _U
    return 2.0 * (rho * (max_R + norm_v) + (eps_P + 4 * np.finfo(float).eps) * norm_v) / (1.0 - gamma)


def _run(config, rng):
    mdp = _instance(config, rng)
    gamma = config["gamma"]
    v_star, sigma_star = optimal_value_ld(mdp, mdps.policy_iteration(mdp).policy)
    norm = float(np.abs(v_star).max())
    scale = max(1.0, norm)
    truth_err = max(bellman_residual_ld(mdp, v_star), 0.0) / (1.0 - gamma)
    # entries per stored row: all S for a dense P (its zeros are summed too), the CSR row lengths if sparse
    n_row = int(np.diff(mdp.P_matrix().indptr).max()) if mdp.is_sparse else mdp.n_states
    floor = float64_floor(n_row, float(np.abs(mdp.R).max()), norm, row_sum_defect_ld(mdp), gamma)
    rows = []
    for tol in TOLS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mdps.ConvergenceWarning)
            sol = mdps.inexact_policy_iteration(mdp, tol=tol)
        error = float(np.abs(np.asarray(sol.V, dtype=np.longdouble) - v_star).max())  # recomputed here
        bound = float(sol.certificate["bound"])
        policy = np.asarray(sol.policy)
        loss = 0.0 if np.array_equal(policy, sigma_star) else (
            float(np.abs(exact_policy_value(mdp, policy) - v_star).max()) / scale)
        used = dict(sol.settings.get("evaluations", {}))
        rows.append({
            "tol": tol, "error": error, "bound": bound, "ratio": error / bound if bound > 0 else math.inf,
            "converged": bool(sol.converged), "floor": floor, "truth_error": truth_err / scale,
            "policy_optimal": bool(sol.certificate["policy_optimal"]), "policy_loss": loss,
            "n_iter": int(sol.n_iter), "sweeps": int(used.get("sweeps", 0)), "gmres": int(used.get("gmres", 0)),
            "lu": int(used.get("lu", 0)),
        })
    return rows


def _verdict_frame(frame):
    """Per-run score: e / bound, or inf where another clause of the claim fails (nan: bad ground truth)."""
    conv = frame["converged"].astype(bool)
    bad_conv = conv & (frame["error"] > frame["tol"])
    bad_stop = ~conv & ~((frame["tol"] < frame["floor"]) & (frame["bound"] <= frame["floor"]))
    bad_policy = frame["policy_optimal"].astype(bool) & (frame["policy_loss"] > POLICY_RTOL)
    score = frame["ratio"].to_numpy(dtype=float).copy()
    score[(bad_conv | bad_stop | bad_policy).to_numpy()] = math.inf
    score[(frame["truth_error"] > TRUTH_RTOL).to_numpy()] = math.nan
    return score, bad_conv, bad_stop, bad_policy


def _measure(ctx) -> Outcome:
    gammas = ctx.pick([0.9, 0.99, 0.999], [0.9, 0.99, 0.999, 0.9999])
    garnets = (labkit.expand_grid(family=["garnet_dense"], n_states=ctx.pick([320], [320, 600]), n_actions=[4],
                                  gamma=gammas)
               + labkit.expand_grid(family=["garnet_sparse"], n_states=ctx.pick([300], [300, 1000, 3000]),
                                    n_actions=[4], gamma=gammas))
    # chains and RiverSwim are deterministic: one replicate each
    chains = (labkit.expand_grid(family=["chain", "river_swim"], n_states=ctx.pick([320], [320, 600]),
                                 n_actions=[2], gamma=gammas)
              + labkit.expand_grid(family=["chain_sparse", "river_swim_sparse"],
                                   n_states=ctx.pick([300], [300, 1000, 2000]), n_actions=[2], gamma=gammas))
    frame = pd.concat([ctx.sweep(_run, garnets, n_seeds=ctx.pick(1, 3)),
                       ctx.sweep(_run, chains, n_seeds=1, experiment="inexact_policy_iteration.chains")],
                      ignore_index=True)
    score, bad_conv, bad_stop, bad_policy = _verdict_frame(frame)
    unconv = frame[~frame["converged"].astype(bool)]
    w = frame.loc[frame["ratio"].idxmax()]
    where = f"{w.family} S={w.n_states} gamma={w.gamma:g} tol={w.tol:g}: error {w.error:.3g}, bound {w.bound:.3g}"
    stops = "; ".join(
        f"{fam} gamma={gamma:g}: {len(g)} runs, bounds {g.bound.min():.2g}..{g.bound.max():.2g} "
        f"(at most {(g.bound / g.floor).max():.2g} of the floor)"
        for (fam, gamma), g in unconv.groupby(["family", "gamma"]))
    return worst_case(
        score, "<=", 1.0, 0.0, frame,
        f"worst true error / certified bound over {len(frame)} runs (max ratio {frame['ratio'].max():.4g} at "
        f"{where}; "
        f"errors recomputed against a long-double V*, its own error <= {frame['truth_error'].max():.2g} "
        f"relative); converged runs above tol: {int(bad_conv.sum())}; 'policy_optimal' runs with a "
        f"suboptimal policy: {int(bad_policy.sum())} ({int(frame['policy_optimal'].sum())} claimed); "
        f"unconverged: {len(unconv)}, of which above the float64 floor: {int(bad_stop.sum())} [{stops}]; "
        f"evaluations: {int(frame['sweeps'].sum())} sweep runs, {int(frame['gmres'].sum())} GMRES, "
        f"{int(frame['lu'].sum())} LU.",
    )


def _plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, subplots, theory_line

    fig, axes = subplots()
    ax = axes[0, 0]
    data = result.data
    tiny = 1e-17  # an error of exactly 0 drawn at the bottom
    for i, fam in enumerate(FAMILIES):
        g = data[data["family"] == fam]
        conv = g["converged"].astype(bool)
        style = dict(s=16, marker=MARKERS[i % len(MARKERS)], edgecolors=PALETTE[i], linewidths=0.8)
        ax.scatter(g.loc[conv, "bound"], g.loc[conv, "error"].clip(lower=tiny), facecolors=PALETTE[i],
                   label=fam.replace("_", " "), **style)
        ax.scatter(g.loc[~conv, "bound"], g.loc[~conv, "error"].clip(lower=tiny), facecolors="none", **style)
    if (~data["converged"].astype(bool)).any():  # one legend entry explains the open markers
        ax.scatter([], [], s=16, marker="o", facecolors="none", edgecolors="0.3", linewidths=0.8,
                   label="open: unconverged (float64 floor)")
    x_lo, y_lo = float(data["bound"].min()) / 2, float(data["error"].clip(lower=tiny).min()) / 2
    hi = float(data["bound"].max()) * 2
    xs = np.geomspace(min(x_lo, y_lo), hi, 50)
    theory_line(ax, xs, xs, label="bound = error")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo, hi)
    ax.set_ylim(y_lo, hi)
    ax.set_xlabel(r"certified bound on $\|V - V^*\|_\infty$")
    ax.set_ylabel(r"true error $\|V - V^*\|_\infty$")
    legend(ax, outside=True, fontsize="small")
    return fig


ipi_certified_bound = register(Check(
    name="inexact_policy_iteration.certified_bound",
    paper=PUTERMAN + ", Thm 6.6.3 (MacQueen's bounds); Puterman & Brumelle 1979; Higham & Mary, SIAM J. Sci. "
          "Comput. 2019",
    claim="Inexact policy iteration's certificate holds: ||V - V*||_inf <= certificate['bound'] on every run, "
          "<= tol when converged, an optimal policy when 'policy_optimal', unconverged only at the float64 floor.",
    tag="R", family="planning", cost=(8, 240),
    measure=_measure, plot=_plot,
))
