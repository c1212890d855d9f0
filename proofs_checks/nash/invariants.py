r"""Invariants of every Nash-learning update: the exact equilibrium is a fixed point, and each
step (and each running average) equals the paper's closed form, written out again here.

Fixed points (docs/theory/nash.md, section 'nash.equilibrium_fixed_point'): ``pi*_beta`` is a fixed point of Nash-MP (any
``eta``), approximate Nash-MP, OMD (both prox forms), INPO (closed form and pair loss) and
Nash-EMA; the interior Nash equilibrium of the intransitive 3x3 game is a fixed point of Hedge,
SPO and DNO. Fixed-point and slope checks are blind to step-size bugs, so the second check
recomputes every step from the previous iterate with the update equations of the papers, in
log space, with the documented step-size schedules:

* Nash-MP [Tiapkin et al. 2025]: ``pi_{k+1/2} ∝ pi_k^s mu^{1-s} exp(eta s P pi_k)`` and
  ``pi_{k+1} ∝ pi_k^s mu^{1-s} exp(eta s P pi_{k+1/2})``, ``s = 1/(1 + eta beta)``; the average
  is the ``eta``-weighted mean of the extrapolated points;
* Nash-MD [Munos et al. 2023]: ``pi^mu ∝ pi_t^{1 - eta_t beta} mu^{eta_t beta}``,
  ``pi_{t+1} ∝ pi^mu exp(eta_t P pi^mu)``, with ``eta_t = 2/(beta (t + 2))`` (decaying) or
  constant;
* OMD / INPO [Zhang et al. 2024]: ``pi_{t+1} ∝ pi_t^{1 - eta beta} mu^{eta beta} exp(eta P pi_t)``
  (linearised), ``∝ pi_t^s mu^{1-s} exp(eta s P pi_t)`` (exact prox);
* Hedge: ``pi_{t+1} ∝ pi_t exp(eta_t P pi_t)``, ``eta_t = eta`` or ``eta / sqrt(t + 1)``;
* Nash-EMA (tabular smoothed fictitious play): ``b_t = softmax(log mu + P pibar_t / beta)``,
  ``pibar_{t+1} = (1 - gamma_t) pibar_t + gamma_t b_t``, ``gamma_t = 1/(t + 1)``;

and every ``average_policy`` is ``sum_t eta_t pi_t / sum_t eta_t`` over the played iterates.
"""

from __future__ import annotations

import numpy as np

import labkit
import mdps
from algorithms import nash
from labkit.check import Check, Outcome, register, worst_case
from proofs_checks.nash._instances import game, random_ref

__all__ = ["fixed_point_of_every_update", "one_step_closed_forms"]

def _fixed_point_run(config, rng):
    K, beta = config["K"], config["beta"]
    g = game("tournament", K, rng)
    ref = random_ref(K, rng)
    pi_star = g.regularized_nash(beta, ref=ref)
    eta = min(0.5, 1 / beta)
    one_step = {
        "Nash-MP eta=2": nash.nash_mirror_prox(g, beta, 2.0, 1, ref=ref, init=pi_star),
        "Nash-MP eta=0.5": nash.nash_mirror_prox(g, beta, 0.5, 1, ref=ref, init=pi_star),
        # inner mirror ascent on a (1 + eta beta)-strongly concave prox objective: a stable step
        "approximate Nash-MP (20 inner steps)": nash.nash_mirror_prox(g, beta, 2.0, 1, ref=ref, init=pi_star,
                                                                      inner_steps=20, inner_lr=0.5 / (1 + 2 * beta)),
        "OMD (linearised prox)": nash.online_mirror_descent(g, beta, eta, 1, ref=ref, init=pi_star),
        "OMD (exact prox)": nash.online_mirror_descent(g, beta, eta, 1, ref=ref, init=pi_star, prox="exact"),
        "INPO closed form": nash.inpo(g, beta, eta, 1, ref=ref, init=pi_star),
        "INPO pair loss (population)": nash.inpo(g, beta, eta, 1, ref=ref, init=pi_star, fit="pair_loss"),
        "Nash-EMA": nash.nash_ema(g, beta, 0.5, 1, ref=ref, init=pi_star),
    }
    rows = [{"update": k, "displacement": float(np.abs(r.policy - pi_star).max()), "counted": True}
            for k, r in one_step.items()]
    # unregularised self-play at the interior Nash equilibrium of the intransitive 3x3 game
    entry = mdps.catalogue.get("intransitive_3x3")
    intrans, nash0 = entry.build(), np.asarray(entry.answer.nash)  # (1, 2, 4) / 7, derived by hand
    for name, res in {"Hedge (beta=0)": nash.online_mirror_descent(intrans, 0.0, 0.5, 1, init=nash0),
                      "SPO": nash.spo(intrans, 0.5, 1, init=nash0),
                      "DNO": nash.dno(intrans, 0.5, 1, init=nash0)}.items():
        rows.append({"update": name, "displacement": float(np.abs(res.policy - nash0).max()), "counted": True})
    # Nash-MD with a constant step is *not* expected to fix pi* (biased): recorded, not counted
    md = nash.nash_md(g, beta, eta, 1, ref=ref, init=pi_star)
    rows.append({"update": "Nash-MD constant step (biased)", "displacement": float(np.abs(md.policy - pi_star).max()),
                 "counted": False})
    return rows


#: One update from an exact fixed point moves it by round-off only: O(K eps) in the logits.
FIXED_POINT_TOL = 1e-12


def _fixed_point_measure(ctx) -> Outcome:
    frame = ctx.sweep(_fixed_point_run, labkit.expand_grid(K=[3, 10, 30], beta=[0.05, 0.5, 2.0]),
                      n_seeds=ctx.pick(2, 10))
    counted = frame[frame["counted"]]
    worst = counted.groupby("update")["displacement"].max()
    md = frame[~frame["counted"]]["displacement"]
    return worst_case(
        counted["displacement"].to_numpy(), "<=", 0.0, FIXED_POINT_TOL, frame,
        "sup-norm move of one update started at the exact equilibrium (regularised updates at "
        "pi*_beta; Hedge/SPO/DNO at the interior Nash (1/7, 2/7, 4/7)); worst by update: "
        + ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
        + f". Constant-step Nash-MD is not included: it moves pi* by {md.min():.1e}..{md.max():.1e} "
          "(its fixed point is biased, docs/theory/nash.md, section 'nash_md.constant_step_plateau').",
    )


def _fixed_point_plot(result):
    from labkit.figures import legend, subplots

    worst = result.data.groupby("update")["displacement"].max().clip(lower=1e-18).sort_values()
    fig, axes = subplots(panel_aspect=0.9)
    ax = axes[0, 0]
    counted = result.data.groupby("update")["counted"].first().reindex(worst.index)
    ax.barh(worst.index, worst.to_numpy(), color=["C0" if c else "C1" for c in counted])
    ax.barh([], [], color="C1", label="not a fixed point by design (biased)")
    line = ax.axvline(FIXED_POINT_TOL, color="0.15", ls="--", lw=0.9, label="tolerance (theorem: move 0)")
    line.set_gid("theory")
    ax.set_xscale("log")
    ax.set_xlim(worst.min() / 3, 3 * max(FIXED_POINT_TOL, worst.max()))
    ax.set_xlabel(r"$\|\pi_1 - \pi^*\|_\infty$ from $\pi_0 = \pi^*$, worst instance")
    ax.tick_params(axis="y", labelsize=5)
    legend(ax, outside=True)
    return fig


fixed_point_of_every_update = register(Check(
    name="nash.equilibrium_fixed_point",
    paper="Tiapkin et al. 2025 (arXiv:2505.19731); Zhang et al. 2024 (arXiv:2407.00617); fixed points derived in docs/theory/nash.md, section 'nash.equilibrium_fixed_point'",
    claim="The exact regularised equilibrium is a fixed point of every regularised update "
          "(Nash-MP for any eta, approximate Nash-MP, OMD, INPO closed form and pair loss, "
          "Nash-EMA), and the interior Nash equilibrium of Hedge, SPO and DNO.",
    tag="R", family="nash", cost=(2, 10),
    measure=_fixed_point_measure, plot=_fixed_point_plot,
))


# ---------------------------------------------------------------------------------------------
# every step equals the paper's closed form
# ---------------------------------------------------------------------------------------------
def _geometric(*terms):
    """``softmax(sum_i c_i * l_i)`` for pairs ``(c_i, l_i)`` of weights and log-vectors."""
    z = sum(c * np.asarray(l, dtype=float) for c, l in terms)
    return mdps.softmax(z)


def _weighted_average(policies, weights):
    w = np.asarray(weights, dtype=float)
    return (w[:, None] * np.asarray(policies)).sum(axis=0) / w.sum()


def _closed_form_run(config, rng):
    K, beta, T = config["K"], config["beta"], 6
    g = game("tournament", K, rng)
    P = np.asarray(g.Pref)
    mu = random_ref(K, rng)
    pi0 = mdps.softmax(rng.standard_normal(K))
    log_mu = np.log(mu)
    rows = []

    def record(name, res, expected_policies, expected_average):
        got = np.asarray(res.policies)
        rows.append({"update": name,
                     "step_error": float(np.abs(got - np.asarray(expected_policies)).max()),
                     "average_error": float(np.abs(np.asarray(res.average_policy) - expected_average).max())})

    # Nash-MP at eta = 2 and 0.5
    for eta in (2.0, 0.5):
        s = 1.0 / (1.0 + eta * beta)
        pis, halves = [pi0], []
        for _ in range(T):
            pi = pis[-1]
            half = _geometric((s, np.log(pi)), (1 - s, log_mu), (eta * s, P @ pi))
            pis.append(_geometric((s, np.log(pi)), (1 - s, log_mu), (eta * s, P @ half)))
            halves.append(half)
        res = nash.nash_mirror_prox(g, beta, eta, T, ref=mu, init=pi0)
        record(f"Nash-MP eta={eta:g}", res, pis, _weighted_average(halves, np.full(T, eta)))

    # Nash-MD, constant step and the decaying schedule eta_t = 2/(beta (t + 2))
    for label, eta, schedule, etas in (
            ("constant", min(0.5, 1.0 / beta), "constant", np.full(T, min(0.5, 1.0 / beta))),
            ("decaying", 1.0 / beta, "decaying", 2.0 / (beta * (np.arange(T) + 2.0)))):
        pis = [pi0]
        for t in range(T):
            pi = pis[-1]
            mix = _geometric((1 - etas[t] * beta, np.log(pi)), (etas[t] * beta, log_mu))
            pis.append(_geometric((1.0, np.log(mix)), (etas[t], P @ mix)))
        res = nash.nash_md(g, beta, eta, T, ref=mu, init=pi0, schedule=schedule)
        record(f"Nash-MD {label}", res, pis, _weighted_average(pis[:-1], etas))

    # regularised OMD: linearised prox (= INPO's closed form) and exact prox
    eta = min(0.5, 1.0 / beta)
    s = 1.0 / (1.0 + eta * beta)
    lin, exact = [pi0], [pi0]
    for _ in range(T):
        lin.append(_geometric((1 - eta * beta, np.log(lin[-1])), (eta * beta, log_mu), (eta, P @ lin[-1])))
        exact.append(_geometric((s, np.log(exact[-1])), (1 - s, log_mu), (eta * s, P @ exact[-1])))
    even = np.full(T, eta)
    record("OMD linearised", nash.online_mirror_descent(g, beta, eta, T, ref=mu, init=pi0), lin,
           _weighted_average(lin[:-1], even))
    record("OMD exact prox", nash.online_mirror_descent(g, beta, eta, T, ref=mu, init=pi0, prox="exact"), exact,
           _weighted_average(exact[:-1], even))
    record("INPO closed form", nash.inpo(g, beta, eta, T, ref=mu, init=pi0), lin, _weighted_average(lin[:-1], even))

    # Hedge (beta = 0): constant and anytime eta_t = eta / sqrt(t + 1)
    for label, schedule, etas in (("constant", "constant", np.full(T, 0.3)),
                                  ("decaying", "decaying", 0.3 / np.sqrt(np.arange(T) + 1.0))):
        pis = [pi0]
        for t in range(T):
            pis.append(_geometric((1.0, np.log(pis[-1])), (etas[t], P @ pis[-1])))
        res = nash.online_mirror_descent(g, 0.0, 0.3, T, init=pi0, schedule=schedule)
        record(f"Hedge {label}", res, pis, _weighted_average(pis[:-1], etas))

    # Nash-EMA with gamma_t = 1/(t + 1)
    gammas = 1.0 / (np.arange(T) + 1.0)
    pis = [pi0]
    for t in range(T):
        b = mdps.softmax(log_mu + P @ pis[-1] / beta)
        pis.append((1 - gammas[t]) * pis[-1] + gammas[t] * b)
    res = nash.nash_ema(g, beta, 1.0, T, ref=mu, init=pi0, schedule="decaying")
    record("Nash-EMA decaying", res, pis, _weighted_average(pis[:-1], gammas))
    return rows


#: Two log-space evaluations of the same update agree to a few ulps of O(1) probabilities.
CLOSED_FORM_TOL = 1e-12


def _closed_form_measure(ctx) -> Outcome:
    frame = ctx.sweep(_closed_form_run, labkit.expand_grid(K=[3, 10], beta=[0.1, 1.0]), n_seeds=ctx.pick(3, 10))
    err = np.maximum(frame["step_error"], frame["average_error"])
    worst = frame.assign(err=err).groupby("update")["err"].max()
    return worst_case(
        err.to_numpy(), "<=", 0.0, CLOSED_FORM_TOL, frame,
        "sup-norm gap between each algorithm's iterates (and average_policy) over 6 steps from a random "
        "start and the paper's closed-form update recomputed by the check with the documented step-size "
        "schedule; worst by update: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()) + ".",
    )


def _closed_form_plot(result):
    from labkit.figures import legend, subplots

    data = result.data
    worst = data.assign(step=data["step_error"].clip(lower=1e-18), avg=data["average_error"].clip(lower=1e-18)) \
        .groupby("update")[["step", "avg"]].max().sort_values("step")
    fig, axes = subplots(panel_aspect=0.9)
    ax = axes[0, 0]
    y = np.arange(len(worst))
    ax.barh(y - 0.2, worst["step"], height=0.4, label="iterates")
    ax.barh(y + 0.2, worst["avg"], height=0.4, label="average_policy")
    ax.set_yticks(y, worst.index)
    line = ax.axvline(CLOSED_FORM_TOL, color="0.15", ls="--", lw=0.9, label="tolerance (theorem: gap 0)")
    line.set_gid("theory")
    ax.set_xscale("log")
    ax.set_xlim(worst.min().min() / 3, 3 * max(CLOSED_FORM_TOL, worst.max().max()))
    ax.set_xlabel("largest gap to the closed form, worst instance")
    ax.tick_params(axis="y", labelsize=5)
    legend(ax, outside=True)
    return fig


one_step_closed_forms = register(Check(
    name="nash.updates_equal_closed_forms",
    paper="Tiapkin et al. 2025 (arXiv:2505.19731); Munos et al. 2023 (arXiv:2312.00886); Zhang et al. 2024 "
          "(arXiv:2407.00617); Cesa-Bianchi and Lugosi 2006",
    claim="Every iterate of Nash-MP, Nash-MD (constant and 2/(beta(t+2)) steps), OMD/INPO, Hedge and "
          "Nash-EMA, and every average_policy, equals the paper's closed-form update applied to the previous "
          "iterate.",
    tag="R", family="nash", cost=(1, 3),
    measure=_closed_form_measure, plot=_closed_form_plot,
))
