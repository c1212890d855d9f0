r"""Exact planning: the textbook theorems behind value, policy and relative value iteration.

Each check states its theorem, builds instances whose answer is known exactly (policy
iteration with linear solves, the LP, or a closed form), measures the solver's *true* error
against that answer (never its own stopping statistic), fits the rate, and compares it with
the theorem's figure. Provenance: all claims here are textbook results [R] (theory notes,
``theory/mdp.md`` Part A); the constants used are the ones listed there.

References
----------
.. [P94] M. L. Puterman, *Markov Decision Processes*, Wiley 1994: Thm 6.2.3 (VI contraction),
   Thm 6.3.1 (stopping rule), Thm 6.4.2 (PI), Thm 6.5.5 (modified PI), Sec. 8.5 (RVI).
.. [S16] B. Scherrer, "Improved and generalized upper bounds on the complexity of policy
   iteration", Math. Oper. Res. 2016 (arXiv:1306.0386).
.. [PS78] M. L. Puterman and M. C. Shin, "Modified policy iteration algorithms for
   discounted Markov decision problems", Management Science 1978.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import labkit
import mdps
from labkit.check import Check, Outcome, register
from proofs_checks._common import worst_case

__all__ = [
    "vi_tight_rate",
    "vi_garnet_contraction",
    "pi_iteration_bound",
    "pi_matches_lp",
    "mpi_same_optimum",
    "rvi_span_contraction",
    "rvi_gain_matches_lp",
]

PUTERMAN = "M. L. Puterman, Markov Decision Processes (Wiley, 1994)"
#: Methodology tolerance for linear-rate checks (theory/mdp.md section 0.3): a fitted factor is
#: compared with the theorem's to 1e-3, far above the fitting error on exact traces.
RATE_TOL = 1e-3
#: The window of true errors, relative to the initial error, over which linear rates are fitted.
RATE_WINDOW = (1e-11, 1e-2)


def _errors_by_run(frame: pd.DataFrame, keys=("gamma", "replicate"), value="error"):
    """Group a tidy per-iteration frame into one error curve per run, in iteration order."""
    out = []
    for key, g in frame.sort_values("k").groupby(list(keys), sort=True):
        out.append((key, g[value].to_numpy()))
    return out


# ---------------------------------------------------------------------------------------------
# value iteration: rate exactly gamma on the tight instance
# ---------------------------------------------------------------------------------------------
def _vi_tight_run(config, rng):
    gamma = config["gamma"]
    mdp = mdps.tight_vi_instance(gamma)
    v_star = np.array([1.0 / (1.0 - gamma)])  # closed form: V* = sum_t gamma^t
    sol = mdps.value_iteration(mdp, v0=np.zeros(1), v_star=v_star, tol=1e-13 * v_star[0])
    return [{"k": k, "error": float(e)} for k, e in enumerate(sol.errors)]


def _vi_tight_measure(ctx) -> Outcome:
    gammas = ctx.pick(quick=[0.5, 0.9, 0.99], full=[0.5, 0.9, 0.95, 0.99, 0.999])
    frame = labkit.sweep(_vi_tight_run, labkit.expand_grid(gamma=gammas), n_seeds=1, seed=ctx.seed,
                         store=ctx.store, backend=ctx.backend, progress=ctx.progress)
    devs, parts = [], []
    for (gamma, _), errs in _errors_by_run(frame):
        fit = labkit.fit_linear_rate(errs, window=RATE_WINDOW)
        devs.append(abs(fit.estimate - gamma))
        parts.append(f"gamma={gamma}: fitted {fit.estimate:.9f}")
    return worst_case(
        devs, "<=", 0.0, RATE_TOL, frame,
        "max over gamma of |fitted factor - gamma| on the one-state instance (deterministic, so "
        "the interval is the range over gammas); " + "; ".join(parts),
    )


def _plot_error_curves(result, ylabel, theory):
    from labkit.figures import convergence_plot

    curves, refs = {}, {}
    for (gamma, _), errs in _errors_by_run(result.data):
        label = f"gamma={gamma:g}"
        curves.setdefault(label, []).append(errs)
        refs[label] = theory(gamma, errs)
    curves = {k: (v[0] if len(v) == 1 else v) for k, v in curves.items()}
    return convergence_plot(curves, theory=refs, ylabel=ylabel)


def _vi_tight_plot(result):
    return _plot_error_curves(
        result, r"$\|V_k - V^*\|_\infty$",
        lambda g, errs: g ** np.arange(errs.size) / (1 - g),
    )


vi_tight_rate = register(Check(
    name="value_iteration.tight_rate",
    paper=PUTERMAN + ", Thm 6.2.3",
    claim="Value iteration's sup-norm error contracts at rate exactly gamma on the one-state "
          "instance R=1, V_0=0 (error gamma^k/(1-gamma)).",
    tag="R",
    measure=_vi_tight_measure,
    plot=_vi_tight_plot,
))


# ---------------------------------------------------------------------------------------------
# value iteration: rate at most gamma on Garnets
# ---------------------------------------------------------------------------------------------
def _vi_garnet_run(config, rng):
    mdp = mdps.garnet(config["n_states"], config["n_actions"], config["branching"],
                      gamma=config["gamma"], rng=rng)
    v_star = mdps.policy_iteration(mdp).V
    scale = max(float(np.abs(v_star).max()), 1.0)
    sol = mdps.value_iteration(mdp, v_star=v_star, tol=1e-13 * scale)
    errs = sol.errors
    return [{"k": k, "error": float(e)} for k, e in enumerate(errs)]


def _vi_garnet_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(n_states=[50], n_actions=[5], branching=[5],
                              gamma=ctx.pick(quick=[0.9, 0.99], full=[0.9, 0.99]))
    frame = labkit.sweep(_vi_garnet_run, grid, n_seeds=ctx.pick(10, 50), seed=ctx.seed,
                         store=ctx.store, backend=ctx.backend, progress=ctx.progress)
    excess, parts = [], []
    for gamma, g in frame.groupby("gamma"):
        curves = [e for _, e in _errors_by_run(g)]
        fit = labkit.fit_linear_rate(curves, window=RATE_WINDOW)
        excess.extend(np.asarray(fit.per_seed) - gamma)
        parts.append(f"gamma={gamma}: factors {min(fit.per_seed):.4f}..{max(fit.per_seed):.4f} "
                     f"(mean {fit.estimate:.4f}, 90% CI [{fit.ci_low:.4f}, {fit.ci_high:.4f}])")
    return worst_case(
        excess, "<=", 0.0, RATE_TOL, frame,
        "fitted factor - gamma on each Garnet(50, 5, 5) instance; the bound must hold on every "
        "instance, so measured is the worst and the interval the range; " + "; ".join(parts),
    )


def _vi_garnet_plot(result):
    from labkit.figures import convergence_plot

    curves, refs = {}, {}
    for gamma, g in result.data.groupby("gamma"):
        runs = [e / e[0] for _, e in _errors_by_run(g)]
        n = min(len(r) for r in runs)
        curves[f"gamma={gamma:g}"] = np.array([r[:n] for r in runs])
        refs[f"gamma={gamma:g}"] = gamma ** np.arange(n)
    return convergence_plot(curves, theory=refs, ylabel=r"$\|V_k - V^*\|_\infty / \|V_0 - V^*\|_\infty$")


vi_garnet_contraction = register(Check(
    name="value_iteration.garnet_contraction",
    paper=PUTERMAN + ", Thm 6.2.3",
    claim="Value iteration's true sup-norm error contracts at a linear rate of at most gamma on "
          "Garnet(50, 5, 5) instances.",
    tag="R",
    measure=_vi_garnet_measure,
    plot=_vi_garnet_plot,
))


# ---------------------------------------------------------------------------------------------
# policy iteration: iteration bound and agreement with the LP
# ---------------------------------------------------------------------------------------------
def pi_iteration_bound_value(n_states: int, n_actions: int, gamma: float) -> int:
    """The lab's assertion for Howard PI (theory/mdp.md A.1, after [S16]):
    policy-changing iterations <= 2 S (A-1) (1 + ceil(log(1/(1-gamma)) / (1-gamma)))."""
    return 2 * n_states * (n_actions - 1) * (1 + math.ceil(math.log(1 / (1 - gamma)) / (1 - gamma)))


def _pi_run(config, rng):
    mdp = mdps.garnet(config["n_states"], config["n_actions"], config["branching"],
                      gamma=config["gamma"], rng=rng)
    sol = mdps.policy_iteration(mdp)
    lp = mdps.linear_programming(mdp)
    v_pi = mdps.evaluate_policy(mdp, sol.policy)
    scale = max(float(np.abs(lp.V).max()), 1.0)
    changing = int(np.count_nonzero(np.asarray(sol.residuals) > 0))
    return {
        "n_iter": sol.n_iter,
        "changing_iterations": changing,
        "bound": pi_iteration_bound_value(mdp.n_states, mdp.n_actions, mdp.gamma),
        "lp_gap": float(np.abs(sol.V - lp.V).max() / scale),
        "policy_value_gap": float(np.abs(v_pi - lp.V).max() / scale),
    }


def _pi_frame(ctx):
    grid = labkit.expand_grid(n_states=ctx.pick([20, 50], [20, 50, 100]), n_actions=[2, 5],
                              branching=[3], gamma=ctx.pick([0.9, 0.99, 0.999], [0.9, 0.99, 0.999, 0.9999]))
    return labkit.sweep(_pi_run, grid, n_seeds=ctx.pick(5, 20), seed=ctx.seed, store=ctx.store,
                        backend=ctx.backend, progress=ctx.progress)


def _pi_bound_measure(ctx) -> Outcome:
    frame = _pi_frame(ctx)
    ratio = frame["changing_iterations"] / frame["bound"]
    return worst_case(
        ratio, "<=", 1.0, 0.0, frame,
        f"policy-changing iterations / bound over {len(frame)} Garnets (S in "
        f"{sorted(frame.n_states.unique().tolist())}, A in {sorted(frame.n_actions.unique().tolist())}, gamma up to "
        f"{frame.gamma.max()}); most iterations seen: {frame.changing_iterations.max()}, smallest bound "
        f"{frame.bound.min()}. The bound is [R] with a recalled constant.",
    )


def _pi_plot(result):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for (S, A), g in result.data.groupby(["n_states", "n_actions"]):
        ax.scatter(g["gamma"].map(lambda x: 1 / (1 - x)), g["changing_iterations"], s=10,
                   label=f"S={S}, A={A}")
    x = np.array(sorted(result.data.gamma.unique()))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"effective horizon $1/(1-\gamma)$")
    ax.set_ylabel("policy-changing iterations")
    for (S, A), _ in result.data.groupby(["n_states", "n_actions"]):
        ax.plot(1 / (1 - x), [pi_iteration_bound_value(S, A, g) for g in x], "--", lw=0.8)
    ax.legend(fontsize=6)
    return fig


pi_iteration_bound = register(Check(
    name="policy_iteration.iteration_bound",
    paper="B. Scherrer 2016 (arXiv:1306.0386); Ye 2011; Hansen, Miltersen & Zwick 2013",
    claim="Howard policy iteration stops within 2 S (A-1) (1 + ceil(log(1/(1-gamma))/(1-gamma))) "
          "policy-changing iterations (strongly polynomial bound, constant recalled).",
    tag="R",
    measure=_pi_bound_measure,
    plot=_pi_plot,
))


#: LP (HiGHS, feasibility tolerance ~1e-7) against exact linear solves: relative sup-norm gap
#: (theory/mdp.md 0.3: dual-vs-primal checks to 1e-7 relative).
LP_TOL = 1e-7


def _pi_lp_measure(ctx) -> Outcome:
    frame = _pi_frame(ctx)
    gaps = np.maximum(frame["lp_gap"], frame["policy_value_gap"])
    return worst_case(
        gaps, "<=", 0.0, LP_TOL, frame,
        "relative sup-norm gap between policy iteration's value (and the exact value of its "
        f"policy) and the LP's optimal value, over {len(frame)} Garnets.",
    )


def _pi_lp_plot(result):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    gaps = np.maximum(result.data["lp_gap"], result.data["policy_value_gap"]).clip(lower=1e-17)
    ax.scatter(1 / (1 - result.data["gamma"]), gaps, s=10)
    ax.axhline(LP_TOL, ls="--", color="k", lw=0.8, label="tolerance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$1/(1-\gamma)$")
    ax.set_ylabel(r"$\|V_{PI} - V_{LP}\|_\infty / \|V_{LP}\|_\infty$")
    ax.legend()
    return fig


pi_matches_lp = register(Check(
    name="policy_iteration.matches_lp",
    paper=PUTERMAN + ", Thm 6.4.2 and Sec. 6.9",
    claim="Policy iteration's value, and the exact value of its policy, equal the LP's optimal "
          "value (both are V*).",
    tag="R",
    measure=_pi_lp_measure,
    plot=_pi_lp_plot,
))


# ---------------------------------------------------------------------------------------------
# modified policy iteration and value iteration reach the same optimum
# ---------------------------------------------------------------------------------------------
MPI_TOL = 1e-8


def _mpi_run(config, rng):
    mdp = mdps.garnet(config["n_states"], config["n_actions"], config["branching"],
                      gamma=config["gamma"], rng=rng)
    v_star = mdps.policy_iteration(mdp).V
    rows = []
    for method, m in [("vi", 1), ("mpi", 5), ("mpi", 20)]:
        if method == "vi":
            sol = mdps.value_iteration(mdp, tol=MPI_TOL, v_star=v_star)
        else:
            sol = mdps.modified_policy_iteration(mdp, m=m, tol=MPI_TOL, v_star=v_star)
        v_greedy = mdps.evaluate_policy(mdp, sol.policy)
        for k, e in enumerate(sol.errors):
            rows.append({"solver": f"{method}(m={m})", "k": k, "error": float(e),
                         "final": k == len(sol.errors) - 1,
                         "greedy_gap": float(np.abs(v_greedy - v_star).max())})
    return rows


def _mpi_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(n_states=[50], n_actions=[5], branching=[5], gamma=ctx.pick([0.9, 0.99], [0.9, 0.99, 0.999]))
    frame = labkit.sweep(_mpi_run, grid, n_seeds=ctx.pick(5, 20), seed=ctx.seed, store=ctx.store,
                         backend=ctx.backend, progress=ctx.progress)
    final = frame[frame["final"]]
    by_solver = final.groupby("solver")["error"].max()
    return worst_case(
        final["error"], "<=", 0.0, MPI_TOL, frame,
        f"true error ||v - V*|| of the stopped iterate (stopping rule targets {MPI_TOL:g}); worst by "
        "solver: " + ", ".join(f"{k} {v:.2e}" for k, v in by_solver.items())
        + f"; worst exact loss of the greedy policies: {final['greedy_gap'].max():.2e}.",
    )


def _mpi_plot(result):
    from labkit.figures import convergence_plot

    data = result.data[result.data["gamma"] == result.data["gamma"].max()]
    curves = {}
    for (solver, _), g in data.sort_values("k").groupby(["solver", "replicate"]):
        curves.setdefault(solver, []).append(g["error"].to_numpy())
    curves = {k: np.array([c[: min(map(len, v))] for c in v]) for k, v in curves.items()}
    return convergence_plot(curves, ylabel=r"$\|v_k - V^*\|_\infty$",
                            xlabel="improvement step (VI: sweep)")


mpi_same_optimum = register(Check(
    name="modified_policy_iteration.same_optimum",
    paper="M. L. Puterman and M. C. Shin 1978; " + PUTERMAN + ", Thm 6.5.5",
    claim="Modified policy iteration (m = 5, 20) and value iteration stop within their target "
          "error of the same optimum V* (computed exactly by policy iteration).",
    tag="R",
    measure=_mpi_measure,
    plot=_mpi_plot,
))


# ---------------------------------------------------------------------------------------------
# relative value iteration (average reward)
# ---------------------------------------------------------------------------------------------
TAU = 0.5  # aperiodicity transform, theory/mdp.md C.5


def _rvi_instance(config, rng):
    kind = config["instance"]
    if kind == "garnet_full":
        # full-support rows: every policy is irreducible and aperiodic, hence unichain
        n = config["n_states"]
        return mdps.garnet(n, 4, n, rng=rng)
    if kind == "river_swim":
        return mdps.river_swim(config["n_states"])
    if kind == "jao":
        return mdps.jao(0.1, 0.05, 2)
    raise ValueError(f"unknown instance {kind!r}")


def _rvi_run(config, rng):
    mdp = _rvi_instance(config, rng)
    lp = mdps.average_reward_lp(mdp)
    sol = mdps.relative_value_iteration(mdp, tol=1e-12, tau=TAU, gain_star=lp.gain)
    coeff = mdps.span_contraction_coefficient(mdps.aperiodic_transform(mdp, TAU))
    rows = [{"k": k, "span_residual": float(r)} for k, r in enumerate(sol.residuals)]
    for row, (lo, hi) in zip(rows, zip(sol.trace["gain_lower"], sol.trace["gain_upper"])):
        row["gain_lower"], row["gain_upper"] = float(lo), float(hi)
    for row in rows:
        row.update(gain_rvi=sol.gain, gain_lp=lp.gain, coefficient=coeff)
    return rows


def _rvi_frame(ctx, instances):
    return labkit.sweep(_rvi_run, instances, n_seeds=ctx.pick(5, 20), seed=ctx.seed, store=ctx.store,
                        backend=ctx.backend, progress=ctx.progress)


def _rvi_span_measure(ctx) -> Outcome:
    grid = labkit.expand_grid(instance=["garnet_full"], n_states=ctx.pick([10, 30], [10, 30, 100]))
    frame = _rvi_frame(ctx, grid)
    excess, parts = [], []
    for (n, rep), g in frame.sort_values("k").groupby(["n_states", "replicate"]):
        fit = labkit.fit_linear_rate(g["span_residual"].to_numpy(), window=RATE_WINDOW)
        coeff = float(g["coefficient"].iloc[0])
        excess.append(fit.estimate - coeff)
    parts.append(f"coefficients {frame.coefficient.min():.3f}..{frame.coefficient.max():.3f}")
    return worst_case(
        excess, "<=", 0.0, RATE_TOL, frame,
        "fitted linear rate of sp(T u_k - u_k) minus the Dobrushin span-contraction coefficient of "
        f"the aperiodicity-transformed MDP (tau={TAU}), per full-support Garnet; " + "; ".join(parts),
    )


def _rvi_span_plot(result):
    from labkit.figures import convergence_plot

    curves, refs = {}, {}
    for n, g in result.data.groupby("n_states"):
        runs = [h.sort_values("k")["span_residual"].to_numpy() for _, h in g.groupby("replicate")]
        m = min(map(len, runs))
        curves[f"S={n}"] = np.array([r[:m] / r[0] for r in runs])
        refs[f"S={n}"] = float(g["coefficient"].max()) ** np.arange(m)
    return convergence_plot(curves, theory=refs, ylabel=r"$sp(Tu_k - u_k)/sp(Tu_0 - u_0)$")


rvi_span_contraction = register(Check(
    name="relative_value_iteration.span_contraction",
    paper=PUTERMAN + ", Sec. 8.5 and Thm 8.5.2",
    claim="Relative value iteration's span residual sp(T u_k - u_k) contracts at a linear rate at "
          "most the span-contraction (Dobrushin) coefficient of the aperiodicity-transformed MDP.",
    tag="R",
    measure=_rvi_span_measure,
    plot=_rvi_span_plot,
))

#: RVI stops at span residual 1e-12; the gain estimate then lies in the Odoni bracket of that
#: width, and HiGHS solves the gain LP to ~1e-9 (its default tolerances).
GAIN_TOL = 1e-8


def _rvi_gain_measure(ctx) -> Outcome:
    grid = [{"instance": "garnet_full", "n_states": n} for n in ctx.pick([10, 30], [10, 30, 100])]
    grid += [{"instance": "river_swim", "n_states": n} for n in ctx.pick([6], [6, 12, 20])]
    grid += [{"instance": "jao", "n_states": 2}]
    frame = _rvi_frame(ctx, grid)
    runs = frame.groupby(["instance", "n_states", "replicate"]).first()
    gaps = (runs["gain_rvi"] - runs["gain_lp"]).abs()
    # how far g* falls outside the Odoni bracket, worst iteration of each run (0 when inside)
    outside = np.maximum(frame["gain_lower"] - frame["gain_lp"], frame["gain_lp"] - frame["gain_upper"])
    violation = outside.clip(lower=0.0).groupby([frame["instance"], frame["n_states"], frame["replicate"]]).max()
    return worst_case(
        np.concatenate([gaps.to_numpy(), violation.to_numpy()]), "<=", 0.0, GAIN_TOL, frame,
        f"max of |g_RVI - g_LP| and of the Odoni-bracket violation over {len(runs)} unichain "
        f"instances (full-support Garnets, RiverSwim, JAO); worst gap {gaps.max():.2e}, worst "
        f"bracket violation {violation.max():.2e}.",
    )


def _rvi_gain_plot(result):
    import matplotlib.pyplot as plt

    runs = result.data.groupby(["instance", "n_states", "replicate"]).first().reset_index()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for inst, g in runs.groupby("instance"):
        ax.scatter(g["gain_lp"], (g["gain_rvi"] - g["gain_lp"]).abs().clip(lower=1e-17), s=10, label=inst)
    ax.axhline(GAIN_TOL, ls="--", color="k", lw=0.8, label="tolerance")
    ax.set_yscale("log")
    ax.set_xlabel("optimal gain (LP)")
    ax.set_ylabel(r"$|g_{RVI} - g_{LP}|$")
    ax.legend(fontsize=6)
    return fig


rvi_gain_matches_lp = register(Check(
    name="relative_value_iteration.gain_matches_lp",
    paper=PUTERMAN + ", Sec. 8.5 and 8.8; A. Odoni 1969",
    claim="On unichain instances relative value iteration's gain equals the optimal gain of the "
          "stationary-occupancy LP, and the Odoni bracket min(Tu-u) <= g* <= max(Tu-u) holds.",
    tag="R",
    measure=_rvi_gain_measure,
    plot=_rvi_gain_plot,
))
