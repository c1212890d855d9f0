r"""Conservative exploration under an episode-wise constraint: StepMix and EpsMix.

Paper: D. Li, R. Huang, C. Shen, J. Yang, *Near-optimal Conservative Exploration in
Reinforcement Learning under Episode-wise Constraints*, ICML 2023, arXiv:2306.06265.
The mechanism is the paper's (provenance [A]); the exact bonus, threshold and search details
could not be read and are reconstructed here behind documented options (provenance [U]).

Setting. A finite-horizon :class:`mdps.TabularMDP` (rewards in ``[0, 1]``, initial
distribution ``rho``), ``K`` episodes and a *baseline* Markov policy :math:`\pi^b` (stochastic
``(S, A)`` stationary or ``(H, S, A)`` stage dependent, or deterministic ``(S,)``/``(H, S)``),
of exact value :math:`V^b = \rho^\top V^{\pi^b}_0`. Episode-wise conservative constraint, for
every episode ``k``:

.. math:: V^{\pi_k} \ge (1 - \kappa) V^b, \qquad \kappa \in (0, 1),

where :math:`\pi_k` is the (possibly randomised) policy of episode ``k``; for a mixture the
constraint is on the mixture's expected value, so the realised branch of an EpsMix episode may
fall below the threshold by design.

Each episode (rewards known to the agent, as in :func:`~algorithms.exploration.ucbvi`'s default):

1. **Optimistic plan** (UCBVI-CH, Azar et al. 2017, arXiv:1703.05449, the engine's Hoeffding
   bonus :math:`c \cdot 7 H L/\sqrt{\max(1,N)}`, ``c = bonus_scale``) gives :math:`\pi^o_k`.
2. **Pessimistic evaluation** of a Markov policy :math:`\pi` on the empirical model
   :math:`\hat P` (uniform where ``N = 0``): :math:`\underline V_H = 0`,

   .. math:: \underline V_h(s) = \max\Big(0, \sum_a \pi_h(a|s)\big[R_h(s,a)
             + \hat P_h \underline V_{h+1}(s,a) - b_h(s,a)\big]\Big),\quad
             b_h(s,a) = c_p\,\tfrac{\mathrm{sp}(\underline V_{h+1})}{2}
             \min\Big(2, \sqrt{2 L_p / N_h(s,a)}\Big)

   (2 where ``N = 0``), ``c_p = pessimism_scale``, :math:`L_p = S\ln 2 + \ln(S' A N_{\max}/\delta)`
   with ``S' = S H`` and ``N_max = K`` for stage-dependent estimates, ``S' = S``, ``N_max = K H``
   when pooled. Derivation [V]: for any ``V``, :math:`|(\hat P - P)V| \le \|\hat P - P\|_1
   \mathrm{sp}(V)/2`, and Weissman et al. (2003) give :math:`\Pr(\|\hat P_n - P\|_1 \ge \epsilon)
   \le (2^S - 2) e^{-n\epsilon^2/2}`; a union bound over ``(h, s, a)`` and ``n <= N_max`` makes
   :math:`\|\hat P - P\|_1 \le \sqrt{2 L_p/N}` hold everywhere w.p. ``>= 1 - delta``. On that
   event, by induction on ``h``, :math:`\underline V^\pi_h \le V^\pi_h` for **every** policy at
   once (the width does not depend on ``V``), which is what the safety argument needs. With
   ``c_p = 1`` the constraint holds in every episode w.p. ``>= 1 - delta``; ``c_p < 1`` is a
   practical setting without that guarantee.
3. **Threshold** :math:`\tau_k = (1-\kappa)V^b` when ``baseline_value="known"`` (the agent is
   told :math:`V^b`), or :math:`(1-\kappa)\bar V^{\pi^b}` with :math:`\bar V^{\pi^b}` the
   optimistic evaluation (same recursion, ``+b``, clipped at ``H - h``) when ``"estimated"``.
4. **Weight** ``w_k`` on :math:`\pi^o_k`: 1 if :math:`\underline V^{\pi^o_k} \ge \tau_k`;
   otherwise

   * *StepMix* (per-step mixture :math:`\pi^w_h = w \pi^o_{k,h} + (1-w)\pi^b_h`): 0 when
     :math:`\underline V^{\pi^b} < \tau_k`, else the largest certified ``w`` found by bisection
     (``n_bisect`` halvings, the lower end always certified: :math:`\underline V^{\pi^w} \ge
     \tau_k`);
   * *EpsMix* (episode-level mixture: follow :math:`\pi^o_k` for the whole episode w.p. ``w``,
     else :math:`\pi^b`; its value is exactly :math:`w V^{\pi^o_k} + (1-w) V^b`): with
     :math:`\ell_b = V^b` (known) or :math:`\underline V^{\pi^b}` (estimated),
     :math:`w = (\ell_b - \tau_k)/(\ell_b - \underline V^{\pi^o_k})` if :math:`\ell_b \ge \tau_k`,
     else 0. With :math:`V^b` known this is :math:`\kappa V^b/(V^b - \underline V^{\pi^o_k})`.

   ``w = 0`` plays the baseline, safe by definition.

Records: ``values[k]`` is the exact value of the policy played in episode ``k`` (StepMix: exact
evaluation of the per-step mixture on the true model; EpsMix: :math:`w V^{\pi^o_k} + (1-w)V^b`),
``weights[k] = w_k``, ``thresholds[k] = tau_k`` (the agent's), ``policies[k]`` the optimistic
:math:`\pi^o_k` (``keep_policies=True``), so a check can rebuild every played policy.

Departures [U]: StepMix's exact mixture family (per-step mixture, the note's primary reading),
the pessimistic bonus (an L1/Weissman width valid for all value functions, instead of the
paper's unread constants) and the optimistic bonus (Hoeffding only: the Bernstein bonus is not
offered here) are reconstructions. A baseline learned from an offline dataset is a stochastic
baseline like any other: clone it from logged episodes with
:func:`algorithms.exploration.behaviour_cloning` and pass ``baseline_value="estimated"`` (the
agent knows the cloned policy but not its value); ``conservative.never_unsafe`` runs both forms.
Offline data is not used to warm-start the agent's model (the paper's use of it was not read).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import mdps
from mdps.validation import as_stochastic_policy, check_choice, check_int, check_mdp, check_policy, check_real

from algorithms.exploration import _conservative_kernels as _ck
from algorithms.exploration.engine import _model_tables, _single_seed, log_term, run_seeds

__all__ = ["ConservativeSettings", "ConservativeRun", "ConservativeBatch", "stepmix", "epsmix",
           "pessimistic_log_term", "mixture_policy", "baseline_with_quality"]

MIXES = ("stepmix", "epsmix")


@dataclass(frozen=True)
class ConservativeSettings:
    """The settings a run used (typed and frozen)."""

    algorithm: str
    n_episodes: int
    kappa: float
    bonus_scale: float
    pessimism_scale: float
    delta: float
    baseline_value: str
    stage_dependent_estimates: bool
    log_term: float
    pessimistic_log_term: float
    n_bisect: int


@dataclass(frozen=True, eq=False)
class ConservativeRun:
    """One run: ``values[k]`` exact value of the (mixture) policy of episode ``k``; ``weights[k]``
    its weight on the optimistic policy; ``v_baseline`` the exact baseline value."""

    values: np.ndarray
    returns: np.ndarray
    weights: np.ndarray
    thresholds: np.ndarray
    v_star: float
    v_baseline: float
    baseline: np.ndarray
    policies: np.ndarray
    settings: ConservativeSettings
    seed: int

    @property
    def regret(self) -> np.ndarray:
        """Per-episode pseudo-regret ``v_star - values``."""
        return self.v_star - self.values

    @property
    def margin(self) -> np.ndarray:
        """Per-episode constraint margin ``values - (1 - kappa) v_baseline`` (``>= 0``: safe)."""
        return self.values - (1.0 - self.settings.kappa) * self.v_baseline


@dataclass(frozen=True, eq=False)
class ConservativeBatch:
    """``n_runs`` runs: ``(n_runs, K)`` arrays; ``.run(i)`` is run ``i``."""

    values: np.ndarray
    returns: np.ndarray
    weights: np.ndarray
    thresholds: np.ndarray
    v_star: float
    v_baseline: float
    baseline: np.ndarray
    policies: np.ndarray
    settings: ConservativeSettings
    seeds: np.ndarray = field(repr=False)

    @property
    def regret(self) -> np.ndarray:
        return self.v_star - self.values

    @property
    def margin(self) -> np.ndarray:
        return self.values - (1.0 - self.settings.kappa) * self.v_baseline

    def run(self, i: int) -> ConservativeRun:
        pol = self.policies[i] if self.policies.shape[1] else self.policies[0]
        return ConservativeRun(self.values[i], self.returns[i], self.weights[i], self.thresholds[i], self.v_star,
                               self.v_baseline, self.baseline, pol, self.settings, int(self.seeds[i]))


def pessimistic_log_term(n_states, n_actions, horizon, n_episodes, delta, *, stage_dependent: bool) -> float:
    r""":math:`L_p = S \ln 2 + \ln(S' A N_{\max} / \delta)`: Weissman's L1 deviation over ``S``
    outcomes, union over ``(h, s, a)`` (``S' = S H`` stage dependent, else ``S``) and counts
    ``n <= N_max`` (``K``, or ``K H`` pooled)."""
    s_eff = n_states * horizon if stage_dependent else n_states
    n_max = n_episodes if stage_dependent else n_episodes * horizon
    return n_states * math.log(2.0) + math.log(s_eff * n_actions * n_max / delta)


def mixture_policy(optimistic, baseline, weight) -> np.ndarray:
    """The per-step mixture ``weight * onehot(optimistic) + (1 - weight) * baseline``, ``(H, S, A)``.

    ``optimistic`` is a deterministic ``(H, S)`` policy, ``baseline`` ``(H, S, A)`` stochastic."""
    base = np.asarray(baseline, dtype=float)
    onehot = as_stochastic_policy(np.asarray(optimistic, dtype=np.int64), base.shape[-1])
    return weight * onehot + (1.0 - weight) * base


def baseline_with_quality(mdp, quality, *, floor="uniform", tol=1e-10) -> np.ndarray:
    r"""A stage-dependent baseline ``w pi* + (1 - w) pi_floor`` ``(H, S, A)`` of exact value
    ``quality * V*`` (``w`` by bisection on the exact value, which is continuous in ``w``).

    ``floor="uniform"`` mixes with the uniform policy; ``"worst"`` with the value-minimising
    deterministic policy (backward induction on ``1 - R``), which reaches lower qualities.
    ``quality`` must lie between the floor's value ratio ``V^floor / V*`` and 1."""
    check_mdp(mdp, criterion="finite_horizon")
    floor = check_choice(floor, "floor", ("uniform", "worst"))
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    best = mdps.backward_induction(mdp)
    opt = np.broadcast_to(as_stochastic_policy(best.policy, A), (H, S, A))
    if floor == "uniform":
        low_pol = np.full((H, S, A), 1.0 / A)
    else:
        anti = mdps.TabularMDP(mdp.P, 1.0 - np.asarray(mdp.R), horizon=H, rho=mdp.rho)
        low_pol = np.broadcast_to(as_stochastic_policy(mdps.backward_induction(anti).policy, A), (H, S, A))
    v_star = float(mdp.rho @ best.V[0])

    def value(w):
        return float(mdp.rho @ mdps.evaluate_finite_horizon(mdp, w * opt + (1.0 - w) * low_pol)[0])

    low = value(0.0) / v_star if v_star > 0 else 1.0
    q = check_real(quality, "quality", low=low, high=1.0)
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if value(mid) < q * v_star else (lo, mid)
    return np.ascontiguousarray(hi * opt + (1.0 - hi) * low_pol)


def _baseline_table(mdp, baseline):
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    pol = as_stochastic_policy(check_policy(baseline, S, A, horizon=H, name="baseline"), A)
    pib = np.ascontiguousarray(np.broadcast_to(pol, (H, S, A)), dtype=np.float64)
    cdf = np.cumsum(pib, axis=-1)
    for h in range(H):
        for s in range(S):
            cdf[h, s, np.flatnonzero(pib[h, s] > 0)[-1]:] = 2.0  # the last positive action takes round-off
    return pib, cdf


def _run(mdp, algorithm, *, baseline, kappa, n_episodes, bonus_scale, pessimism_scale, delta, baseline_value,
         stage_dependent, n_bisect, keep_policies, n_runs, rng):
    check_mdp(mdp, criterion="finite_horizon")
    K = check_int(n_episodes, "n_episodes", low=1)
    kap = check_real(kappa, "kappa", low=0.0, high=1.0, low_open=True, high_open=True)
    c = check_real(bonus_scale, "bonus_scale", low=0.0)
    cp = check_real(pessimism_scale, "pessimism_scale", low=0.0)
    d = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    baseline_value = check_choice(baseline_value, "baseline_value", ("known", "estimated"))
    nb_ = check_int(n_bisect, "n_bisect", low=0)
    if not isinstance(keep_policies, (bool, np.bool_)):
        raise TypeError(f"keep_policies must be a bool, got {keep_policies!r}")
    if mdp.R.min() < 0.0 or mdp.R.max() > 1.0:
        raise ValueError(f"mdp.R must lie in [0, 1] for the bonuses and clipping, got range "
                         f"[{mdp.R.min():.3g}, {mdp.R.max():.3g}]")
    if stage_dependent is None:
        stage_dependent = bool(mdp.stage_dependent)
    elif not isinstance(stage_dependent, (bool, np.bool_)):
        raise TypeError(f"stage_dependent must be a bool or None, got {stage_dependent!r}")
    pib, pib_cdf = _baseline_table(mdp, baseline)
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    sd = bool(stage_dependent)
    L = log_term(S, A, H, K, d, stage_dependent=sd)
    Lp = pessimistic_log_term(S, A, H, K, d, stage_dependent=sd)
    seeds = _single_seed(rng) if n_runs is None else run_seeds(rng, check_int(n_runs, "n_runs", low=1))
    n = seeds.shape[0]
    indptr, indices, probs, cdf, stages, R, rho, rho_cdf = _model_tables(mdp)
    v_b = float(mdp.rho @ mdps.evaluate_finite_horizon(mdp, pib)[0])
    values = np.empty((n, K))
    returns = np.empty((n, K))
    weights = np.empty((n, K))
    thresholds = np.empty((n, K))
    policies = np.zeros((n, K if keep_policies else 0, H, S), dtype=np.int16)
    mix = _ck.STEPMIX if algorithm == "stepmix" else _ck.EPSMIX
    vb_known = v_b if baseline_value == "known" else -1.0
    _ck.run_conservative(seeds, indptr, indices, probs, cdf, stages, R, rho, rho_cdf, pib, pib_cdf, K, mix, c, L,
                         cp, Lp, not sd, kap, vb_known, v_b, nb_, values, returns, weights, thresholds, policies)
    v_star = float(mdp.rho @ mdps.backward_induction(mdp).V[0])
    settings = ConservativeSettings(algorithm=algorithm, n_episodes=K, kappa=kap, bonus_scale=c, pessimism_scale=cp,
                                    delta=d, baseline_value=baseline_value, stage_dependent_estimates=sd,
                                    log_term=L, pessimistic_log_term=Lp, n_bisect=nb_)
    pib.setflags(write=False)
    if n_runs is None:
        return ConservativeRun(values[0], returns[0], weights[0], thresholds[0], v_star, v_b, pib, policies[0],
                               settings, int(seeds[0]))
    return ConservativeBatch(values, returns, weights, thresholds, v_star, v_b, pib, policies, settings, seeds)


_DOC_PARAMS = """
    Parameters
    ----------
    mdp : TabularMDP
        Finite horizon (a discounted or average-reward instance is refused), rewards in [0, 1].
    baseline : array_like
        The baseline policy: stochastic ``(S, A)`` / ``(H, S, A)`` (rows on the simplex) or
        deterministic int ``(S,)`` / ``(H, S)``.
    kappa : float in (0, 1)
        Conservative level: every episode's value must be at least ``(1 - kappa) V^b``.
    n_episodes : int >= 1
    bonus_scale : float >= 0
        Multiplier of the optimistic (UCBVI-CH) bonus; 1 is the theory bonus.
    pessimism_scale : float >= 0
        Multiplier of the pessimistic L1 bonus; 1 is the valid bonus (the safety guarantee).
    delta : float in (0, 1)
    baseline_value : {"known", "estimated"}
        Whether the agent is told ``V^b`` (default) or uses its optimistic estimate.
    stage_dependent : bool, optional
        Per-stage counts (default: whether ``mdp.P`` is stage dependent).
    n_bisect : int >= 0
        Halvings of StepMix's weight search (EpsMix: unused).
    keep_policies : bool
        Also return the optimistic policies ``(K, H, S)``.
    n_runs : int, optional
        A batch of independent runs (:class:`ConservativeBatch`); run ``i`` equals the single run
        with ``rng=SeedSequence(rng).spawn(n_runs)[i]``.
    rng : int, SeedSequence or Generator
"""


def stepmix(mdp, *, baseline, kappa=0.1, n_episodes, bonus_scale=1.0, pessimism_scale=1.0, delta=0.1,
            baseline_value="known", stage_dependent=None, n_bisect=40, keep_policies=False, n_runs=None, rng=0):
    """StepMix (Li et al. 2023): play the per-step mixture of the optimistic and the baseline policy
    with the largest certified weight.

    Examples
    --------
    >>> import mdps, numpy as np
    >>> m = mdps.random_finite_horizon(3, 2, 3, rng=0)
    >>> run = stepmix(m, baseline=np.full((3, 2), 0.5), kappa=0.2, n_episodes=20, rng=0)
    >>> bool((run.values >= 0.8 * run.v_baseline - 1e-12).all())
    True
    """
    return _run(mdp, "stepmix", baseline=baseline, kappa=kappa, n_episodes=n_episodes, bonus_scale=bonus_scale,
                pessimism_scale=pessimism_scale, delta=delta, baseline_value=baseline_value,
                stage_dependent=stage_dependent, n_bisect=n_bisect, keep_policies=keep_policies, n_runs=n_runs,
                rng=rng)


def epsmix(mdp, *, baseline, kappa=0.1, n_episodes, bonus_scale=1.0, pessimism_scale=1.0, delta=0.1,
           baseline_value="known", stage_dependent=None, n_bisect=40, keep_policies=False, n_runs=None, rng=0):
    """EpsMix (Li et al. 2023): follow the optimistic policy for the whole episode with the largest
    certified probability, else the baseline."""
    return _run(mdp, "epsmix", baseline=baseline, kappa=kappa, n_episodes=n_episodes, bonus_scale=bonus_scale,
                pessimism_scale=pessimism_scale, delta=delta, baseline_value=baseline_value,
                stage_dependent=stage_dependent, n_bisect=n_bisect, keep_policies=keep_policies, n_runs=n_runs,
                rng=rng)


stepmix.__doc__ += _DOC_PARAMS
epsmix.__doc__ += _DOC_PARAMS
