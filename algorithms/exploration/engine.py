r"""The compiled exploration engine: UCBVI (Hoeffding / Bernstein), the greedy control and PSRL.

UCBVI: M. G. Azar, I. Osband, R. Munos, *Minimax Regret Bounds for Reinforcement Learning*,
ICML 2017, arXiv:1703.05449 (Algorithms 1-4). PSRL: I. Osband, D. Russo, B. Van Roy, *(More)
Efficient Reinforcement Learning via Posterior Sampling*, NeurIPS 2013, arXiv:1306.0940.

Setting: a finite-horizon :class:`mdps.TabularMDP` (stages ``h = 0..H-1``, rewards in
``[0, 1]``), ``K`` episodes, ``T = K H`` steps. Each episode the agent plans on its statistics,
plays the resulting deterministic policy :math:`\pi_k` for one episode in the true model, and
updates its counts. The engine records per episode the **exact** value
:math:`V^{\pi_k}_0(\rho)` of the played policy (backward evaluation on the true model,
``O(H S nnz)``) and the realised return; ``v_star`` comes from :func:`mdps.backward_induction`.
Pseudo-regret is ``v_star - values``. It also records the plan's own value
:math:`\rho \cdot \bar V_{k,0}` per episode (``optimistic_values``: what the algorithm claims,
for a check to audit) and, on request (``keep_trajectories=True``), the visited states.

Optimistic planning (UCBVI, Algorithm 1), :math:`\bar V_H = 0`, for :math:`h = H-1, \dots, 0`:

.. math::

    \bar Q_h(s,a) = \min\big(H - h,\; \hat r_h(s,a) + \hat P_h \bar V_{h+1}(s,a) + b_h(s,a)\big),
    \qquad \bar V_h(s) = \max_a \bar Q_h(s,a), \qquad \pi_{k,h}(s) = \arg\max_a \bar Q_h(s,a),

with :math:`\hat P` the empirical kernel (uniform where :math:`N = 0`), :math:`n = \max(1, N)`,
:math:`L = \ln(5 S' A T / \delta)` and ``bonus_scale`` :math:`c` multiplying the theory bonus:

* ``"hoeffding"`` (UCBVI-CH, Algorithm 3): :math:`b = c \cdot 7 H L \sqrt{1/n}`;
* ``"bernstein"`` (UCBVI-BF, Algorithm 4):
  :math:`b = c\,[\sqrt{8 L \mathrm{Var}_{\hat P}(\bar V_{h+1}) / n} + 14 H L / (3 n)
  + \sqrt{8 \sum_y \hat P(y) \min(84^2 H^3 S'^2 A L^2 / \max(1, N'_{h+1}(y)), H^2) / n}]`,
  :math:`N'_{h+1}(y)` the visits to ``y`` at stage ``h + 1``;
* ``"none"``: :math:`b = 0`, certainty-equivalence planning (the greedy control, :func:`greedy`).

Stationary vs stage-dependent estimates. The paper's model is stationary (``P`` shared by all
stages; counts pooled over stages, ``S' = S``). For stage-dependent estimates (``N_h``, the
default when the MDP's ``P`` is stage dependent) the engine runs the paper's algorithm on the
layered MDP whose states are the pairs ``(h, s)``: then ``S' = S H`` inside ``L`` and the bound
(:func:`ucbvi_regret_bound`). Departure: the Bernstein constants ``8, 14/3, 84^2`` and the
Hoeffding constant ``7`` are recalled from the paper's Algorithms 3-4 without the PDF at hand
(provenance tag [U]); the structure (variance term, ``1/n`` term, correction for
:math:`\bar V \ne V^*`) is the paper's.

Rewards: the environment pays the expected reward ``R_h(s, a)`` (deterministic). ``rewards=
"known"`` (the paper's assumption) plans with the true ``R``; ``"estimated"`` with the observed
mean (0 before the first visit).

PSRL: each episode, per ``(h, s, a)`` (or ``(s, a)`` pooled) a kernel is drawn from the
posterior ``Dirichlet(prior + N_h(s, a, .))`` (prior ``prior`` per next state, default 1, the
uniform prior), and the agent plays the optimal policy of the draw. Rewards are known (PSRL on
``P`` only; documented departure from the paper, which also samples rewards).

Reproducibility: run ``i`` of a batch with root ``rng`` uses the child
``SeedSequence(rng).spawn(n_runs)[i]`` (its first ``uint64`` seeds a SplitMix64 stream owned by
the run), so ``ucbvi(mdp, rng=child)`` equals row ``i`` of ``ucbvi(mdp, n_runs=n, rng=rng)`` bit
for bit, whatever ``n`` and the thread count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import mdps
from mdps.validation import check_choice, check_int, check_mdp, check_real

from algorithms.exploration import _kernels as _k

__all__ = ["ExplorationRun", "ExplorationBatch", "ExplorationSettings", "ucbvi", "greedy", "psrl",
           "log_term", "ucbvi_regret_bound", "hoeffding_bonus", "run_seeds"]

BONUSES = ("hoeffding", "bernstein", "none")
_BONUS_CODE = {"none": _k.NO_BONUS, "hoeffding": _k.HOEFFDING, "bernstein": _k.BERNSTEIN}


@dataclass(frozen=True)
class ExplorationSettings:
    """The settings a run used (typed and frozen)."""

    algorithm: str
    n_episodes: int
    bonus: str
    bonus_scale: float
    delta: float
    rewards: str
    stage_dependent_estimates: bool
    log_term: float
    prior: float


@dataclass(frozen=True, eq=False)
class ExplorationRun:
    """One learning run: ``values[k]`` exact value of the policy played in episode ``k``.

    ``policies`` is ``(K, H, S)`` int when asked for (``keep_policies=True``), else ``(0, H, S)``.
    ``optimistic_values[k]`` is the plan's own value ``rho . Vbar_{k,0}`` of episode
    ``k`` (UCBVI: the optimistic, clipped value; greedy: the certainty-equivalent value; PSRL:
    the optimum of the sampled model), as the algorithm computed it. It is what the algorithm
    *claims*, not a measurement: a check compares it with a ground truth it computes itself.
    ``states`` is ``(K, H + 1)`` (the states ``s_0..s_H`` visited in each episode; the actions
    are ``policies[k, h, states[k, h]]``) when asked for (``keep_trajectories=True``), else
    ``(0, H + 1)``.
    """

    values: np.ndarray
    returns: np.ndarray
    v_star: float
    policies: np.ndarray
    settings: ExplorationSettings
    seed: int
    optimistic_values: np.ndarray = field(default=None, repr=False)
    states: np.ndarray = field(default=None, repr=False)

    @property
    def regret(self) -> np.ndarray:
        """Per-episode pseudo-regret ``v_star - values`` (cumulative: ``.cumsum()``)."""
        return self.v_star - self.values


@dataclass(frozen=True, eq=False)
class ExplorationBatch:
    """``n_runs`` independent runs: ``values``, ``returns``, ``optimistic_values`` ``(n_runs, K)``."""

    values: np.ndarray
    returns: np.ndarray
    v_star: float
    policies: np.ndarray
    settings: ExplorationSettings
    seeds: np.ndarray = field(repr=False)
    optimistic_values: np.ndarray = field(default=None, repr=False)
    states: np.ndarray = field(default=None, repr=False)

    @property
    def regret(self) -> np.ndarray:
        return self.v_star - self.values

    def run(self, i: int) -> ExplorationRun:
        pol = self.policies[i] if self.policies.shape[1] else self.policies[0]
        opt = None if self.optimistic_values is None else self.optimistic_values[i]
        st = None if self.states is None else (self.states[i] if self.states.shape[1] else self.states[0])
        return ExplorationRun(self.values[i], self.returns[i], self.v_star, pol, self.settings, int(self.seeds[i]),
                              opt, st)


def log_term(n_states, n_actions, horizon, n_episodes, delta, *, stage_dependent: bool) -> float:
    r""":math:`L = \ln(5 S' A T / \delta)`, ``T = K H``, ``S' = S H`` for stage-dependent estimates."""
    s_eff = n_states * horizon if stage_dependent else n_states
    return math.log(5.0 * s_eff * n_actions * n_episodes * horizon / delta)


def hoeffding_bonus(n, *, horizon, log_term, bonus_scale=1.0):
    r"""UCBVI-CH's bonus :math:`c \cdot 7 H L \sqrt{1/\max(1, n)}` (Azar et al. 2017, Alg. 3) [U]."""
    n = np.maximum(1, np.asarray(n))
    return bonus_scale * 7.0 * horizon * log_term * np.sqrt(1.0 / n)


def ucbvi_regret_bound(n_states, n_actions, horizon, n_episodes, *, delta, stage_dependent: bool):
    r"""UCBVI-CH's high-probability regret bound (Azar et al. 2017, Theorem 1) [U: constants recalled].

    .. math:: \mathrm{Reg}(K) \le 20 H L \sqrt{S' A T} + 250 H^2 S'^2 A L^2, \quad T = KH,\;
              L = \ln(5 S' A T/\delta),

    w.p. at least ``1 - delta`` at every ``K``, with ``S' = S`` for a stationary model (counts
    pooled over stages) and ``S' = S H`` for stage-dependent estimates (the layered MDP of
    ``(h, s)`` pairs), whose leading term is :math:`20 L \sqrt{H^4 S A K}`: the normaliser
    changes from :math:`\sqrt{H^3 S A K}` to :math:`\sqrt{H^4 S A K}`. ``n_episodes`` may be an
    array (the bound at each ``K``, with ``L`` taken at that ``K``).
    """
    K = np.asarray(n_episodes, dtype=float)
    s_eff = n_states * horizon if stage_dependent else n_states
    L = np.log(5.0 * s_eff * n_actions * K * horizon / delta)
    T = K * horizon
    return 20.0 * horizon * L * np.sqrt(s_eff * n_actions * T) + 250.0 * horizon**2 * s_eff**2 * n_actions * L**2


def run_seeds(rng, n_runs: int) -> np.ndarray:
    """The ``uint64`` stream seeds of ``n_runs`` runs: one per child of ``SeedSequence(rng)``."""
    return np.array([c.generate_state(1, np.uint64)[0] for c in _root(rng).spawn(n_runs)], dtype=np.uint64)


def _root(rng) -> np.random.SeedSequence:
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2**63)))
    if rng is None or isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)) or rng < 0:
        raise TypeError(f"rng must be a non-negative int, a SeedSequence or a numpy Generator, got {rng!r}")
    return np.random.SeedSequence(int(rng))


def _single_seed(rng) -> np.ndarray:
    return np.array([_root(rng).generate_state(1, np.uint64)[0]], dtype=np.uint64)


def _model_tables(mdp):
    """CSR (indptr, indices, probs, cdf, n_stages) of the true kernel, ``R`` as ``(H, S, A)``, rho."""
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    P = mdp.to_dense().P
    stages = P.shape[0] if P.ndim == 4 else 1
    M = P.reshape(stages * S * A, S)
    mask = M > 0
    indptr = np.zeros(M.shape[0] + 1, dtype=np.int64)
    np.cumsum(mask.sum(axis=1), out=indptr[1:])
    indices = np.nonzero(mask)[1].astype(np.int64)
    probs = M[mask].astype(np.float64)
    cdf = np.empty_like(probs)
    for r in range(M.shape[0]):
        cdf[indptr[r]:indptr[r + 1]] = np.cumsum(probs[indptr[r]:indptr[r + 1]])
    R = np.ascontiguousarray(np.broadcast_to(mdp.R, (H, S, A)), dtype=np.float64)
    rho = np.ascontiguousarray(mdp.rho, dtype=np.float64)
    rho_cdf = np.cumsum(rho)
    rho_cdf[np.flatnonzero(rho > 0)[-1]:] = 2.0  # the last state of positive mass takes round-off
    return indptr, indices, probs, cdf, stages, R, rho, rho_cdf


def _run(mdp, algorithm, *, n_episodes, bonus, bonus_scale, delta, rewards, stage_dependent, prior,
         keep_policies, n_runs, rng, keep_trajectories=False):
    check_mdp(mdp, criterion="finite_horizon")
    K = check_int(n_episodes, "n_episodes", low=1)
    bonus = check_choice(bonus, "bonus", BONUSES)
    c = check_real(bonus_scale, "bonus_scale", low=0.0)
    d = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    rewards = check_choice(rewards, "rewards", ("known", "estimated"))
    p0 = check_real(prior, "prior", low=0.0, low_open=True)
    if not isinstance(keep_policies, (bool, np.bool_)):
        raise TypeError(f"keep_policies must be a bool, got {keep_policies!r}")
    if not isinstance(keep_trajectories, (bool, np.bool_)):
        raise TypeError(f"keep_trajectories must be a bool, got {keep_trajectories!r}")
    if mdp.R.min() < 0.0 or mdp.R.max() > 1.0:
        raise ValueError(f"mdp.R must lie in [0, 1] for UCBVI's bonuses and clipping, got range "
                         f"[{mdp.R.min():.3g}, {mdp.R.max():.3g}]")
    if stage_dependent is None:
        stage_dependent = bool(mdp.stage_dependent)
    elif not isinstance(stage_dependent, (bool, np.bool_)):
        raise TypeError(f"stage_dependent must be a bool or None, got {stage_dependent!r}")
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    L = log_term(S, A, H, K, d, stage_dependent=bool(stage_dependent))
    if n_runs is None:
        seeds = _single_seed(rng)
    else:
        seeds = run_seeds(rng, check_int(n_runs, "n_runs", low=1))
    n = seeds.shape[0]
    indptr, indices, probs, cdf, stages, R, rho, rho_cdf = _model_tables(mdp)
    values = np.empty((n, K))
    returns = np.empty((n, K))
    policies = np.zeros((n, K if keep_policies else 0, H, S), dtype=np.int16)
    optimistic = np.empty((n, K))
    states = np.zeros((n, K if keep_trajectories else 0, H + 1), dtype=np.int16 if S < 2**15 else np.int64)
    algo = _k.PSRL if algorithm == "psrl" else _k.OPTIMISTIC
    _k.run_batch_record(seeds, indptr, indices, probs, cdf, stages, R, rho, rho_cdf, K, algo, _BONUS_CODE[bonus],
                        c, L, not stage_dependent, rewards == "known", p0, values, returns, policies, optimistic,
                        states)
    v_star = float(mdp.rho @ mdps.backward_induction(mdp).V[0])
    settings = ExplorationSettings(algorithm=algorithm, n_episodes=K, bonus=bonus, bonus_scale=c, delta=d,
                                   rewards=rewards, stage_dependent_estimates=bool(stage_dependent), log_term=L,
                                   prior=p0)
    if n_runs is None:
        return ExplorationRun(values[0], returns[0], v_star, policies[0], settings, int(seeds[0]), optimistic[0],
                              states[0])
    return ExplorationBatch(values, returns, v_star, policies, settings, seeds, optimistic, states)


def ucbvi(mdp, *, n_episodes, bonus="bernstein", bonus_scale=1.0, delta=0.1, rewards="known",
          stage_dependent=None, keep_policies=False, n_runs=None, rng=0, keep_trajectories=False):
    """UCBVI (Azar et al. 2017) for ``n_episodes`` episodes on a finite-horizon MDP.

    Parameters
    ----------
    mdp : TabularMDP
        Finite horizon (a discounted or average-reward instance is refused), rewards in [0, 1].
    n_episodes : int >= 1
        ``K``.
    bonus : {"bernstein", "hoeffding", "none"}
    bonus_scale : float >= 0
        Multiplier on the theory bonus (1: the paper's).
    delta : float in (0, 1)
        Confidence level inside ``L``.
    rewards : {"known", "estimated"}
    stage_dependent : bool, optional
        Per-stage counts ``N_h`` (default: whether ``mdp.P`` is stage dependent).
    keep_policies : bool
        Also return the played policies ``(K, H, S)``.
    keep_trajectories : bool
        Also return the visited states ``(K, H + 1)`` (``.states``).
    n_runs : int, optional
        Run a batch of independent seeds in parallel; returns an :class:`ExplorationBatch`.
    rng : int, SeedSequence or Generator

    Returns
    -------
    ExplorationRun (``n_runs=None``) or ExplorationBatch.

    Examples
    --------
    >>> import mdps
    >>> run = ucbvi(mdps.river_swim(3, horizon=6), n_episodes=50, bonus="hoeffding", rng=0)
    >>> run.values.shape, bool((run.regret >= -1e-12).all())
    ((50,), True)
    """
    return _run(mdp, "ucbvi", n_episodes=n_episodes, bonus=bonus, bonus_scale=bonus_scale, delta=delta,
                rewards=rewards, stage_dependent=stage_dependent, prior=1.0, keep_policies=keep_policies,
                n_runs=n_runs, rng=rng, keep_trajectories=keep_trajectories)


def greedy(mdp, *, n_episodes, rewards="known", stage_dependent=None, keep_policies=False, n_runs=None, rng=0):
    """The no-bonus control: certainty-equivalence planning each episode (UCBVI with ``bonus="none"``)."""
    return _run(mdp, "greedy", n_episodes=n_episodes, bonus="none", bonus_scale=0.0, delta=0.1, rewards=rewards,
                stage_dependent=stage_dependent, prior=1.0, keep_policies=keep_policies, n_runs=n_runs, rng=rng)


def psrl(mdp, *, n_episodes, prior=1.0, stage_dependent=None, keep_policies=False, n_runs=None, rng=0):
    """Posterior sampling (Osband et al. 2013): Dirichlet(prior + counts) kernels, known rewards."""
    return _run(mdp, "psrl", n_episodes=n_episodes, bonus="none", bonus_scale=0.0, delta=0.1, rewards="known",
                stage_dependent=stage_dependent, prior=prior, keep_policies=keep_policies, n_runs=n_runs, rng=rng)
