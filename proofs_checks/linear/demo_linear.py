r"""Demonstration-regularised RL on linear MDPs: the one-hot identity of the soft optimistic backup,
and the 1/N_E rate of log-linear behaviour cloning.

Tiapkin, Belomestny, Calandriello, Moulines, Munos, Naumov, Perrault, Valko & Menard (2024),
*Demonstration-Regularized RL*, ICLR 2024, arXiv 2310.17303 (linear-MDP part); LSVI-UCB: Jin, Yang,
Wang & Jordan (2020), arXiv:1907.05388. Algorithms: :mod:`algorithms.linear.demo`.

* ``linear_demo.tabular_identity`` **[R]**: on the one-hot linear MDP of RiverSwim(4, H = 6),
  :math:`\Lambda_h = \mathrm{diag}(N_h(s,a) + \text{ridge})`, so every episode's optimistic
  :math:`\bar Q_h` of :func:`algorithms.linear.demo_regularized_lsvi` must equal the tabular soft
  backup :math:`\bar Q_h = \min\{(\sum r + \sum_{s'} n_h(s,a,s')\bar V_{h+1}(s'))/(N_h(s,a)+\text{ridge})
  + \beta/\sqrt{N_h(s,a)+\text{ridge}}, H\}`, :math:`\bar V_h = \lambda\log\sum_a\tilde\pi_h e^{\bar Q_h/\lambda}`
  that the check replays itself from the counts of the trajectories the run returned (same ridge,
  bonus, clipping), and the played policy must be the soft-greedy
  :math:`\tilde\pi e^{(\bar Q - \bar V)/\lambda}` of the replay. Measured: the largest absolute
  difference over episodes, stages, states, actions, references, :math:`\lambda` and bonus scales
  of :math:`\bar Q`, of the played policy and of :math:`\rho^\top\bar V_0`; expected 0 (tolerance
  ``1e-9``: a few hundred flops of round-off on numbers below ``H``).
* ``linear_demo.bc_kl_rate`` **[A]**: with the expert inside the log-linear class
  (:math:`\pi^E_h \propto e^{\langle\phi, w^*_h\rangle}`) on a random low-rank linear MDP, the exact
  forward trajectory KL :math:`\mathrm{KL}(\mathbb P^{\pi^E}\|\mathbb P^{\pi^{BC}})` of
  :func:`algorithms.linear.linear_behaviour_cloning` falls like :math:`1/N_E`: the tail log-log slope
  of its mean over seeds (90% bootstrap CI over seeds) must meet :math:`[-1.2, -0.8]` (the paper's
  rate is a slope -1; the slack is for the finite-sample curvature of a parametric MLE). The ratio of
  the mean to the parametric leading term :math:`\sum_h \mathrm{rank}(F_h)/(2N_E)` (Fisher information
  of stage ``h`` under the expert's state law) at the largest :math:`N_E` is reported.
* ``linear_demo.regret_vs_unregularized`` **[U]** (the paper's benefit of a good reference, stated
  for its own algorithm; ours is a reconstruction): with a reference cloned (log-linear BC) from 500
  demonstrations of a near-optimal soft expert, :math:`\lambda = 0.05` and the same bonus scale 0.1
  and seeds, the mean cumulative (unregularised) regret of demonstration-regularised LSVI over ``K``
  episodes is below LSVI-UCB's, on a random low-rank linear MDP and on one-hot RiverSwim(5, H = 8):
  the ratio of the means (90% paired bootstrap CI over seeds, worst instance) is at most 1. Regret is
  recomputed here from the played policies (:func:`policy_values`, a batched backward recursion
  independent of the algorithms' own records).
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from algorithms import exploration, linear
from labkit.check import Check, Outcome, register

__all__ = ["soft_replay", "fisher_ranks", "policy_values", "tabular_identity", "bc_kl_rate",
           "regret_vs_unregularized"]

TIAPKIN24 = ("D. Tiapkin, D. Belomestny, D. Calandriello, E. Moulines, R. Munos, A. Naumov, P. Perrault, "
             "M. Valko, P. Menard 2024, Demonstration-Regularized RL, ICLR 2024, arXiv 2310.17303 (linear MDPs); "
             "C. Jin, Z. Yang, Z. Wang, M. I. Jordan 2020, arXiv:1907.05388")
IDENTITY_TOL = 1e-9
LAMS = (0.05, 0.3)
SCALES = (0.0, 0.02, 1.0)
SLOPE_TOL = 0.2
#: BC instance: a random low-rank linear MDP and an expert inside the log-linear class.
BC_INSTANCE = dict(S=6, A=3, d=4, H=4, seed=20240117, w_scale=1.5)
BC_RIDGE = 1.0


# ----------------------------------------------------------------------------- tabular identity
def _identity_mdp():
    return mdps.river_swim(4, horizon=6)


def _references(mdp) -> dict:
    """A clone of 20 soft-expert demonstrations (add-1) and the uniform policy."""
    expert = exploration.soft_expert(mdp, 0.5)
    tr = mdps.rollout(mdp, expert, 20, rng=7)
    clone = exploration.behaviour_cloning({"states": tr.states, "actions": tr.actions}, mdp.n_states,
                                          mdp.n_actions, mdp.horizon)
    uniform = np.full((mdp.horizon, mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)
    return {"clone": clone, "uniform": uniform}


def soft_replay(mdp, ref, states, actions, lam: float, ridge: float, beta: float):
    r"""Tabular replay of the soft optimistic backup from the counts of the episodes before each one:
    ``(values (K,), policies (K, H, S, A), Q (K, H, S, A))`` (independent of :mod:`algorithms.linear`)."""
    K, H = actions.shape
    S, A = mdp.n_states, mdp.n_actions
    R = np.broadcast_to(mdp.R, (H, S, A))
    with np.errstate(divide="ignore"):
        log_ref = np.log(np.broadcast_to(ref, (H, S, A)))
    N = np.zeros((H, S, A))
    Rsum = np.zeros((H, S, A))
    Nsas = np.zeros((H, S, A, S))
    values, pols, Qs = np.empty(K), np.empty((K, H, S, A)), np.empty((K, H, S, A))
    for k in range(K):
        Vn = np.zeros(S)
        for h in range(H - 1, -1, -1):
            Q = np.minimum((Rsum[h] + Nsas[h] @ Vn) / (N[h] + ridge) + beta / np.sqrt(N[h] + ridge), float(H))
            logits = log_ref[h] + Q / lam
            lse = mdps.logsumexp(logits, axis=-1)
            Qs[k, h], pols[k, h] = Q, np.exp(logits - lse[:, None])
            Vn = lam * lse
        values[k] = float(mdp.rho @ Vn)
        for h in range(H):
            s, a, s2 = states[k, h], actions[k, h], states[k, h + 1]
            N[h, s, a] += 1
            Rsum[h, s, a] += R[h, s, a]
            Nsas[h, s, a, s2] += 1
    return values, pols, Qs


def _identity_run(config, rng):
    mdp = _identity_mdp()
    lin = mdps.LinearMDP.from_tabular(mdp)
    ref = _references(mdp)[config["reference"]]
    run = linear.demo_regularized_lsvi(lin, ref, config["lam"], n_episodes=config["n_episodes"],
                                       bonus_scale=config["bonus_scale"], keep_q=True,
                                       rng=int(rng.integers(2**63)))
    vals, pols, Qs = soft_replay(mdp, ref, run.states, run.actions, config["lam"], run.settings.ridge,
                                 run.settings.beta)
    return {"q_gap": float(np.abs(Qs - run.Q).max()), "policy_gap": float(np.abs(pols - run.policies).max()),
            "value_gap": float(np.abs(vals - run.optimistic_values).max())}


def _identity_measure(ctx) -> Outcome:
    K = ctx.pick(150, 2000)
    grid = labkit.expand_grid(reference=["clone", "uniform"], lam=list(LAMS), bonus_scale=list(SCALES),
                              n_episodes=[K])
    frame = ctx.sweep(_identity_run, grid, n_seeds=ctx.pick(1, 5))
    gaps = frame[["q_gap", "policy_gap", "value_gap"]].max()
    measured = float(gaps.max())
    return Outcome(
        measured=measured, ci=(measured, measured), expected=0.0, relation="<=", tol=IDENTITY_TOL, data=frame,
        interval="exact",
        details=f"one-hot RiverSwim(4, H = 6), ridge 1, lambda in {list(LAMS)}, bonus scales {list(SCALES)}, "
                f"references "
                f"clone (add-1, 20 soft-expert demos) and uniform, K = {K}, {len(frame)} runs: largest |difference| to "
                f"the tabular soft replay of Q-bar {gaps.q_gap:.2e}, of the played policy {gaps.policy_gap:.2e}, of "
                f"rho.V-bar_0 {gaps.value_gap:.2e}.",
    )


def _identity_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, reference_line, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    cells = frame.groupby(["reference", "lam", "bonus_scale"], sort=True)
    labels = []
    for j, (col, name) in enumerate((("q_gap", r"$\bar Q$"), ("policy_gap", "played policy"),
                                     ("value_gap", r"$\rho^\top \bar V_0$"))):
        xs, ys = [], []
        for i, (key, g) in enumerate(cells):
            xs.append(i + 0.2 * (j - 1))
            ys.append(max(float(g[col].max()), 3e-17))
            if j == 0:
                labels.append(f"{key[0][:1]}, {key[1]:g}, {key[2]:g}")
        ax.scatter(xs, ys, color=PALETTE[j], marker=MARKERS[j], label=name)
    reference_line(ax, IDENTITY_TOL, label="tolerance 1e-9")
    ax.set_yscale("log")
    ax.set_xticks(range(len(labels)), labels, rotation=60, fontsize=7)
    ax.set_xlabel(r"reference (c: clone, u: uniform), $\lambda$, bonus scale")
    ax.set_ylabel("max |linear - tabular replay|")
    legend(ax, outside=True, ncols=4)
    return fig


# --------------------------------------------------------------------------------- BC rate
def bc_instance():
    """The BC check's linear MDP, expert weights ``(H, d)`` and expert policy ``(H, S, A)``."""
    c = BC_INSTANCE
    lin = mdps.LinearMDP.random(c["S"], c["A"], c["d"], c["H"], rng=c["seed"])
    w_star = c["w_scale"] * np.random.default_rng(c["seed"] + 1).standard_normal((c["H"], c["d"]))
    return lin, w_star, linear.log_linear_policy(lin, w_star)


def fisher_ranks(lin, expert) -> np.ndarray:
    r"""``rank(F_h)``, :math:`F_h = \sum_s d^E_h(s)\,\mathrm{Cov}_{\pi^E_h(\cdot|s)}\phi(s,\cdot)` (the
    per-trajectory Fisher information of stage ``h``), relative tolerance ``1e-9``."""
    tab = lin.to_tabular()
    d = mdps.occupancy_measure(tab, expert).sum(axis=-1)
    ranks = []
    for h in range(lin.horizon):
        mean = np.einsum("sa,sad->sd", expert[h], lin.phi)
        cov = np.einsum("sa,sad,sae->sde", expert[h], lin.phi, lin.phi) - np.einsum("sd,se->sde", mean, mean)
        F = np.einsum("s,sde->de", d[h], cov)
        ev = np.linalg.eigvalsh(F)
        ranks.append(int((ev > 1e-9 * max(ev.max(), 1e-300)).sum()))
    return np.array(ranks)


def _ns(ctx) -> list[int]:
    top = ctx.pick(3000, 30_000)
    return sorted({int(n) for n in np.rint(np.geomspace(10, top, ctx.pick(12, 16)))})


def _bc_run(config, rng):
    lin, _, expert = bc_instance()
    tab = lin.to_tabular()
    ns = [int(n) for n in config["ns"].split(",")]
    tr = mdps.rollout(tab, expert, max(ns), rng=rng)
    rows = []
    for n in ns:
        fit = linear.linear_behaviour_cloning(lin, {"states": tr.states[:n], "actions": tr.actions[:n]},
                                              ridge=BC_RIDGE)
        grad = linear.linear_bc_gradient(lin, {"states": tr.states[:n], "actions": tr.actions[:n]}, fit.weights,
                                         ridge=BC_RIDGE)
        rows.append({"N": n, "kl": mdps.trajectory_kl(tab, expert, fit.policy),
                     "grad_rel": float(np.linalg.norm(grad, axis=1).max() / (1.0 + n))})
    return rows


def _bc_measure(ctx) -> Outcome:
    ns = ",".join(str(n) for n in _ns(ctx))
    frame = ctx.sweep(_bc_run, labkit.expand_grid(ns=[ns]), n_seeds=ctx.pick(40, 200))
    Y = frame.pivot(index="replicate", columns="N", values="kl")
    x = Y.columns.to_numpy(dtype=float)
    fit = labkit.fit_power_law(x, Y.to_numpy(), tail_decades=1.0, rng=ctx.seed)
    lin, _, expert = bc_instance()
    ranks = fisher_ranks(lin, expert)
    lead = float(ranks.sum()) / 2.0
    ratio = float(Y[Y.columns[-1]].mean() * x[-1] / lead)
    c = BC_INSTANCE
    return Outcome(
        measured=fit.estimate, ci=fit.ci, expected=-1.0, relation="==", tol=SLOPE_TOL, data=frame,
        interval=f"{fit.confidence:.0%} bootstrap CI over seeds",
        extras={"fit": fit.as_dict(), "leading_constant": lead, "ratio_at_max": ratio},
        details=f"random linear MDP (S = {c['S']}, A = {c['A']}, d = {c['d']}, H = {c['H']}), expert log-linear "
                f"(w* ~ {c['w_scale']:g} N(0, I)), ridge {BC_RIDGE:g}: tail slope (last decade, N_E up to "
                f"{int(x[-1])}) "
                f"of the mean exact trajectory KL(P^{{pi_E}} || P^{{pi_BC}}) {fit.estimate:.3f} "
                f"[{fit.ci_low:.3f}, {fit.ci_high:.3f}], {len(Y)} seeds; mean KL x N_E / (sum_h rank F_h / 2 = "
                f"{lead:g}) at "
                f"the largest N_E: {ratio:.3f} (parametric leading term, tends to 1); largest Newton gradient "
                f"certificate ||g_h|| / (1 + N_E), recomputed: {frame.grad_rel.max():.1e}.",
    )


def _bc_plot(result):
    from labkit.figures import PALETTE, legend, subplots, theory_line

    frame = result.data
    lead = result.extras["leading_constant"]
    Y = frame.pivot(index="replicate", columns="N", values="kl")
    ns = Y.columns.to_numpy(dtype=float)
    mean = Y.mean(axis=0).to_numpy()
    se = Y.std(axis=0).to_numpy() / np.sqrt(len(Y))
    fig, axes = subplots()
    ax = axes[0, 0]
    ax.fill_between(ns, np.maximum(mean - 1.645 * se, mean * 1e-2), mean + 1.645 * se, color=PALETTE[0],
                    alpha=0.25, linewidth=0, label="90% CI of the mean (normal)")
    ax.plot(ns, mean, color=PALETTE[0], marker="o", markersize=3, label="log-linear BC: mean over seeds")
    theory_line(ax, ns, lead / ns, label=r"parametric leading term $\sum_h \mathrm{rank}\,F_h/(2N_E)$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"demonstrations $N_E$")
    ax.set_ylabel(r"KL$(P^{\pi_E}\,\|\,P^{\pi_{BC}})$")
    legend(ax, outside=True, ncols=2)
    return fig


# ------------------------------------------------------------------------ regret vs LSVI-UCB
REG_LAM = 0.05
REG_SCALE = 0.1
REG_DEMOS = 500
EXPERT_TAU = 0.05


def _regret_instance(name: str):
    if name == "random":
        return mdps.LinearMDP.random(8, 3, 5, 5, rng=11)
    return mdps.LinearMDP.from_tabular(mdps.river_swim(5, horizon=8))


def policy_values(tab, policies) -> np.ndarray:
    """``rho . V^{pi_k}_0`` of every policy ``(K, H, S, A)`` (or deterministic ``(K, H, S)``) by backward recursion."""
    pol = np.asarray(policies)
    if pol.ndim == 3:
        pol = np.eye(tab.n_actions)[pol.astype(np.int64)]
    K, H, S, A = pol.shape
    P = np.broadcast_to(tab.to_dense().P, (H, S, A, S))
    R = np.broadcast_to(np.asarray(tab.R), (H, S, A))
    Vk = np.zeros((K, S))
    for h in range(H - 1, -1, -1):
        Vk = np.einsum("ksa,ksa->ks", pol[:, h], R[h][None] + np.einsum("sat,kt->ksa", P[h], Vk))
    return Vk @ np.asarray(tab.rho)


def _regret_run(config, rng):
    lin = _regret_instance(config["instance"])
    tab = lin.to_tabular()
    expert = exploration.soft_expert(tab, EXPERT_TAU)
    tr = mdps.rollout(tab, expert, REG_DEMOS, rng=rng)
    clone = linear.linear_behaviour_cloning(lin, {"states": tr.states, "actions": tr.actions}).policy
    v_star = float(tab.rho @ mdps.backward_induction(tab).V[0])
    K = config["n_episodes"]
    seed = int(rng.integers(2**63))
    demo = linear.demo_regularized_lsvi(lin, clone, REG_LAM, n_episodes=K, bonus_scale=REG_SCALE, rng=seed)
    plain = linear.lsvi_ucb(lin, n_episodes=K, bonus_scale=REG_SCALE, keep_policies=True, rng=seed)
    return {"demo_regret": float(np.sum(v_star - policy_values(tab, demo.policies))),
            "lsvi_regret": float(np.sum(v_star - policy_values(tab, plain.policies))),
            "clone_gap": float(v_star - policy_values(tab, np.asarray(clone)[None])[0])}


def _ratio_ci(g, seed):
    d, p = g.demo_regret.to_numpy(), g.lsvi_regret.to_numpy()
    gen = np.random.default_rng(seed)
    idx = gen.integers(0, len(d), size=(2000, len(d)))
    boot = d[idx].mean(axis=1) / p[idx].mean(axis=1)
    return float(d.mean() / p.mean()), (float(np.quantile(boot, 0.05)), float(np.quantile(boot, 0.95)))


def _regret_measure(ctx) -> Outcome:
    K = ctx.pick(1000, 5000)
    grid = labkit.expand_grid(instance=["random", "river_swim"], n_episodes=[K])
    frame = ctx.sweep(_regret_run, grid, n_seeds=ctx.pick(8, 32))
    ratios = {inst: _ratio_ci(g, ctx.seed) for inst, g in frame.groupby("instance")}
    inst, (ratio, ci) = max(ratios.items(), key=lambda kv: kv[1][1][1])
    return Outcome(
        measured=ratio, ci=ci, expected=1.0, relation="<=", tol=0.0, data=frame,
        interval="90% paired bootstrap CI over seeds",
        extras={"ratios": {k: [r, *c] for k, (r, c) in ratios.items()}},
        details=f"lambda = {REG_LAM:g}, bonus scale {REG_SCALE:g} for both, reference cloned from {REG_DEMOS} demos of "
                f"softmax(Q*/{EXPERT_TAU:g}), K = {K}, {frame.replicate.nunique()} paired seeds: mean regret ratio "
                f"demo-regularised / LSVI-UCB (worst instance shown) "
                + ", ".join(f"{k}: {r:.3f} [{c[0]:.3f}, {c[1]:.3f}]" for k, (r, c) in ratios.items())
                + "; the clone's own per-episode gap "
                + ", ".join(f"{k}: {g.clone_gap.mean():.3f}" for k, g in frame.groupby("instance")) + ".",
    )


def _regret_plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, subplots

    frame = result.data
    fig, axes = subplots()
    ax = axes[0, 0]
    for i, (inst, g) in enumerate(frame.groupby("instance")):
        ax.scatter(g.lsvi_regret, g.demo_regret, color=PALETTE[i], marker=MARKERS[i],
                   label={"random": "random linear MDP (d = 5)", "river_swim": "one-hot RiverSwim(5)"}[inst])
    lo = float(min(frame.lsvi_regret.min(), frame.demo_regret.min())) * 0.9
    hi = float(max(frame.lsvi_regret.max(), frame.demo_regret.max())) * 1.1
    xs = np.array([lo, hi])
    ax.plot(xs, xs, color="0.15", linestyle="--", gid="theory", label="equal regret")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("LSVI-UCB cumulative regret")
    ax.set_ylabel("demo-regularised cumulative regret")
    legend(ax, outside=True, ncols=3)
    return fig


tabular_identity = register(Check(
    name="linear_demo.tabular_identity",
    paper=TIAPKIN24 + "; docs/theory/linear.md, section 'linear_demo.tabular_identity'",
    claim="On a one-hot linear MDP, demonstration-regularised LSVI's optimistic Q-bar, soft-greedy policy and "
          "optimistic value equal, episode by episode, a tabular KL-regularised soft backup replayed from the same "
          "trajectories (same ridge, bonus and clipping).",
    tag="R", family="linear", cost=(4, 60),
    measure=_identity_measure, plot=_identity_plot,
))

bc_kl_rate = register(Check(
    name="linear_demo.bc_kl_rate",
    paper=TIAPKIN24 + "; docs/theory/linear.md, section 'linear_demo.bc_kl_rate'",
    claim="With the expert inside the log-linear class, the trajectory KL(P^{pi_E} || P^{pi_BC}) of maximum-likelihood "
          "log-linear behaviour cloning falls like 1/N_E (tail log-log slope -1).",
    tag="A", family="linear", cost=(5, 120),
    measure=_bc_measure, plot=_bc_plot,
))

regret_vs_unregularized = register(Check(
    name="linear_demo.regret_vs_unregularized",
    paper=TIAPKIN24 + "; docs/theory/linear.md, section 'linear_demo.regret_vs_unregularized'",
    claim="With a reference cloned from good demonstrations, demonstration-regularised LSVI has lower cumulative "
          "regret than LSVI-UCB with the same bonus and seeds (reconstruction).",
    tag="U", family="linear", cost=(5, 120),
    measure=_regret_measure, plot=_regret_plot,
))
