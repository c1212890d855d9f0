r"""UCRL2 and a span-bounded (SCAL-style) variant for average-reward MDPs, with exact regret.

UCRL2: T. Jaksch, R. Ortner, P. Auer, *Near-optimal Regret Bounds for Reinforcement Learning*,
JMLR 11:1563-1600, 2010 (Figure 1, Theorem 2). SCAL: R. Fruit, M. Pirotta, A. Lazaric,
R. Ortner, *Efficient Bias-Span-Constrained Exploration-Exploitation in Reinforcement Learning*,
ICML 2018, arXiv:1802.04020. LOOP: J. He, H. Zhong, Z. Yang, *Sample-efficient Learning of
Infinite-horizon Average-reward MDPs with General Function Approximation*, ICLR 2024,
arXiv:2404.12648 (its tabular model-based instance with a known span bound is the SCAL-style
agent here; provenance [U] for that identification).

Setting: an average-reward :class:`mdps.TabularMDP` with rewards in ``[0, 1]``, one run of ``T``
steps from ``s_1 ~ rho``. The environment pays a Bernoulli reward of mean ``R(s, a)``
(``rewards="bernoulli"``, default) or ``R(s, a)`` itself (``"expected"``); the agent estimates
rewards and transitions.

Episode ``k`` starts at step ``t_k`` with counts ``N_k(s, a)`` (visits before ``t_k``),
empirical ``P_hat``, ``r_hat`` and the confidence set (JOA 2010, eqs. (3)-(4)) [R]

.. math::

    \|\tilde p(\cdot|s,a) - \hat p(\cdot|s,a)\|_1 \le \sqrt{\frac{14 S \log(2 A t_k/\delta)}{\max(1, N_k)}},
    \qquad |\tilde r - \hat r| \le \sqrt{\frac{7 \log(2 S A t_k/\delta)}{2 \max(1, N_k)}} .

Extended value iteration (JOA 2010, section 3.1.2): :math:`u_{i+1}(s) = \max_a [\tilde r(s,a) +
\max_{\tilde p} \langle \tilde p, u_i\rangle]` (optimistic rewards ``min(1, r_hat + width)``), the
inner maximum being the exact L1 inner problem of :mod:`mdps.robust` applied to ``-u``
(:math:`\max_{p} \langle p, u\rangle = -\min_p \langle p, -u\rangle`), stopped when
:math:`\mathrm{sp}(u_{i+1} - u_i) < 1/\sqrt{t_k}`; the agent plays the greedy policy
:math:`\tilde\pi_k` until some pair's in-episode count reaches :math:`\max(1, N_k(s,a))`.
By the Odoni bracket on the extended MDP, the last sweep's ``[min, max] (u_{i+1} - u_i)``
contains its optimal gain :math:`\tilde g_k`, and :math:`\tilde g_k \ge g^*` whenever the true
model lies in the confidence set (recorded as ``optimistic_gain`` = the bracket's upper end).
Theorem 2: with probability at least :math:`1 - \delta`, for every ``T > 1``,
:math:`\mathrm{Reg}(T) \le 34 D S \sqrt{A T \log(T/\delta)}` (:func:`ucrl2_regret_bound`).

Span-bounded variant (``span_bounded_ucrl``, SCAL-style, known ``c >= sp(u*)``): the same
episodes and confidence set; each EVI iterate is truncated, :math:`v \leftarrow \min(v, \min v +
c)` (SCAL's operator :math:`\Gamma_c \tilde T`), with the aperiodicity transform
:math:`\tilde T_\tau u = \tau \tilde T u + (1 - \tau) u` (``tau = 0.5``) that SCAL needs for the
truncated iteration to converge; the stopping test is the same (in the original gain scale).
Departure [U]: SCAL plays a randomised policy at states whose value was truncated; this agent
plays the greedy action of the last sweep there. The bias span of every planned ``u`` is ``<= c``
by construction (``span_of_u`` records it).

Regret (measured exactly): ``regret[t] = g* - R(s_t, a_t)`` (pseudo-regret, expected reward of
the pair played), ``realised_regret[t] = g* - r_t`` (the reward paid), ``g*`` from
:func:`mdps.average_reward_lp`. The record keeps ``states`` and ``actions``, so a check
recomputes both itself.

Departures: EVI is warm-started from the previous episode's ``u`` (any start is valid: the
stopping test certifies the bracket); each EVI is capped at ``evi_max_iter`` sweeps, and a run
whose EVI hit the cap says so (``evi_converged`` and a :class:`mdps.ConvergenceWarning`).

Reproducibility: ``rng`` (int, ``SeedSequence`` or ``Generator``) seeds a SplitMix64 stream as in
:mod:`algorithms.exploration.engine` (its first ``uint64`` of ``SeedSequence(rng)``), so a run is a
deterministic function of ``(mdp, arguments, rng)``. Batches (``n_runs=n``) follow the engine: run ``i``
uses the child ``SeedSequence(rng).spawn(n)[i]``, the runs execute in parallel (one per ``prange``
iteration of :func:`algorithms.average_reward._kernels.run_ucrl_batch`, sharing nothing), and
``ucrl2(mdp, rng=child_i)`` equals ``ucrl2(mdp, n_runs=n, rng=rng).run(i)`` bit for bit, whatever ``n``
and the thread count. A single run goes through the same kernel with one seed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

import mdps
from algorithms.average_reward import _kernels as _k
from algorithms.exploration.engine import _single_seed, run_seeds
from mdps.validation import check_choice, check_int, check_mdp, check_real

__all__ = ["ucrl2", "span_bounded_ucrl", "ucrl2_regret_bound", "extended_value_iteration", "AverageRewardRun",
           "AverageRewardBatch", "EVIResult"]

#: the gap allowed between a span bound and sp(u*) before the bound is refused as too small
SPAN_RTOL = 1e-9


@dataclass(frozen=True, eq=False)
class AverageRewardRun:
    """One learning run of ``T`` steps.

    Attributes
    ----------
    regret : ndarray (T,)
        ``gain_star - R(s_t, a_t)`` (pseudo-regret per step); cumulative: ``regret.cumsum()``.
    realised_regret : ndarray (T,)
        ``gain_star - r_t`` with ``r_t`` the reward paid.
    states, actions : ndarray (T,) int64
        The path.
    rewards : ndarray (T,)
        Rewards paid.
    gain_star : float
        :func:`mdps.average_reward_lp`'s optimal gain.
    episode_starts : ndarray (n_episodes,) int64
        1-based step at which each episode started.
    optimistic_gain, optimistic_gain_lower : ndarray (n_episodes,)
        Odoni bracket ``[max, min] (u_{i+1} - u_i)`` of the last EVI sweep of each episode.
    evi_iterations : ndarray (n_episodes,) int64
    evi_converged : ndarray (n_episodes,) bool
    settings : dict
    seed : int
        The run's stream seed.
    """

    regret: np.ndarray
    realised_regret: np.ndarray
    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    gain_star: float
    episode_starts: np.ndarray
    optimistic_gain: np.ndarray
    optimistic_gain_lower: np.ndarray
    evi_iterations: np.ndarray
    evi_converged: np.ndarray
    settings: dict
    seed: int

    def __post_init__(self):
        for name in ("regret", "realised_regret", "states", "actions", "rewards", "episode_starts",
                     "optimistic_gain", "optimistic_gain_lower", "evi_iterations", "evi_converged"):
            getattr(self, name).setflags(write=False)

    @property
    def n_episodes(self) -> int:
        return int(self.episode_starts.shape[0])


@dataclass(frozen=True, eq=False)
class AverageRewardBatch:
    """``n_runs`` independent runs of ``T`` steps (``n_runs=`` of :func:`ucrl2` / :func:`span_bounded_ucrl`).

    Attributes
    ----------
    regret, realised_regret, rewards : ndarray (n_runs, T)
    states, actions : ndarray (n_runs, T) int64
    gain_star : float
    n_episodes : ndarray (n_runs,) int64
        Episodes of each run; the per-episode arrays below are padded beyond it (``episode_starts``
        with 0, ``optimistic_gain`` and ``optimistic_gain_lower`` with NaN, ``evi_iterations`` with 0,
        ``evi_converged`` with True).
    episode_starts, optimistic_gain, optimistic_gain_lower, evi_iterations, evi_converged : ndarray (n_runs, cap)
    settings : dict
    seeds : ndarray (n_runs,) uint64
        Each run's stream seed (the first ``uint64`` of its child ``SeedSequence``).

    ``run(i)`` is run ``i`` as an :class:`AverageRewardRun`, equal bit for bit to the single run with
    ``rng = SeedSequence(rng).spawn(n_runs)[i]``.
    """

    regret: np.ndarray
    realised_regret: np.ndarray
    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    gain_star: float
    n_episodes: np.ndarray
    episode_starts: np.ndarray
    optimistic_gain: np.ndarray
    optimistic_gain_lower: np.ndarray
    evi_iterations: np.ndarray
    evi_converged: np.ndarray
    settings: dict
    seeds: np.ndarray

    def __post_init__(self):
        for name in ("regret", "realised_regret", "states", "actions", "rewards", "n_episodes", "episode_starts",
                     "optimistic_gain", "optimistic_gain_lower", "evi_iterations", "evi_converged", "seeds"):
            getattr(self, name).setflags(write=False)

    @property
    def n_runs(self) -> int:
        return int(self.seeds.shape[0])

    def run(self, i: int) -> AverageRewardRun:
        i = check_int(i, "i", low=0, high=self.n_runs - 1)
        k = int(self.n_episodes[i])
        return AverageRewardRun(
            regret=self.regret[i].copy(), realised_regret=self.realised_regret[i].copy(),
            states=self.states[i].copy(), actions=self.actions[i].copy(), rewards=self.rewards[i].copy(),
            gain_star=self.gain_star, episode_starts=self.episode_starts[i, :k].copy(),
            optimistic_gain=self.optimistic_gain[i, :k].copy(),
            optimistic_gain_lower=self.optimistic_gain_lower[i, :k].copy(),
            evi_iterations=self.evi_iterations[i, :k].copy(), evi_converged=self.evi_converged[i, :k].copy(),
            settings=dict(self.settings), seed=int(self.seeds[i]))


@dataclass(frozen=True, eq=False)
class EVIResult:
    """Extended value iteration's output: ``u`` (min 0), greedy ``policy``, the optimistic gain's
    Odoni bracket ``[gain_lower, gain_upper]``, ``q`` of the last sweep, sweeps, converged."""

    u: np.ndarray
    policy: np.ndarray
    gain_lower: float
    gain_upper: float
    q: np.ndarray
    n_iter: int
    converged: bool


def ucrl2_regret_bound(diameter, n_states, n_actions, T, *, delta):
    r"""JOA 2010, Theorem 2: :math:`34\, D S \sqrt{A T \log(T/\delta)}` (array ``T`` allowed; [R])."""
    D = check_real(diameter, "diameter", low=0.0)
    S = check_int(n_states, "n_states", low=1)
    A = check_int(n_actions, "n_actions", low=1)
    d = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    T = np.asarray(T, dtype=float)
    if np.any(~np.isfinite(T)) or np.any(T < 1):
        raise ValueError(f"T must be >= 1, got {T!r}")
    return 34.0 * D * S * np.sqrt(A * T * np.log(T / d))


def extended_value_iteration(P_hat, r_tilde, radius, *, eps=1e-6, span=None, tau=1.0, max_iter=100_000,
                             u0=None) -> EVIResult:
    """EVI on the L1 confidence set ``{p : |p - P_hat(s, a)|_1 <= radius(s, a)}`` with optimistic
    rewards ``r_tilde`` (module docstring); ``span`` truncates every iterate (SCAL), ``tau`` is the
    aperiodicity transform. Stops when ``sp(u_{i+1} - u_i) < eps`` (original gain scale)."""
    P_hat = np.ascontiguousarray(P_hat, dtype=np.float64)
    if P_hat.ndim != 3 or P_hat.shape[0] != P_hat.shape[2]:
        raise ValueError(f"P_hat must have shape (S, A, S), got {P_hat.shape}")
    S, A, _ = P_hat.shape
    r_tilde = np.ascontiguousarray(r_tilde, dtype=np.float64)
    radius = np.ascontiguousarray(np.broadcast_to(np.asarray(radius, dtype=np.float64), (S, A)))
    if r_tilde.shape != (S, A):
        raise ValueError(f"r_tilde must have shape {(S, A)}, got {r_tilde.shape}")
    if np.any(radius < 0) or not np.all(np.isfinite(radius)):
        raise ValueError("radius must be finite and >= 0")
    eps = check_real(eps, "eps", low=0.0, low_open=True)
    c = np.inf if span is None else check_real(span, "span", low=0.0)
    t = check_real(tau, "tau", low=0.0, high=1.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", low=1)
    u = np.zeros(S) if u0 is None else np.array(u0, dtype=np.float64)
    pol = np.zeros(S, dtype=np.int64)
    q = np.empty((S, A))
    n, conv, lo, hi = _k.evi(P_hat, r_tilde, radius, eps, c, t, max_iter, u, pol, q)
    return EVIResult(u=u, policy=pol, gain_lower=float(lo), gain_upper=float(hi), q=q, n_iter=int(n),
                     converged=bool(conv))


def _check_learning_mdp(mdp):
    check_mdp(mdp, criterion="average")
    if mdp.R.min() < 0.0 or mdp.R.max() > 1.0:
        raise ValueError(f"mdp.R must lie in [0, 1] (UCRL2's reward confidence intervals), got range "
                         f"[{mdp.R.min():.3g}, {mdp.R.max():.3g}]")
    if not mdps.is_communicating(mdp):
        raise ValueError("mdp must be communicating (finite diameter): UCRL2's guarantee and its regret "
                         "against a single optimal gain need every state reachable from every other")
    return mdp


def _csr_tables(mdp):
    """CSR (indptr, indices, cdf) of the positive entries of ``P`` over rows ``s * A + a``."""
    S, A = mdp.n_states, mdp.n_actions
    M = mdp.to_dense().P.reshape(S * A, S)
    mask = M > 0
    indptr = np.zeros(S * A + 1, dtype=np.int64)
    np.cumsum(mask.sum(axis=1), out=indptr[1:])
    indices = np.nonzero(mask)[1].astype(np.int64)
    probs = M[mask].astype(np.float64)
    cdf = np.empty_like(probs)
    for r in range(S * A):
        cdf[indptr[r]:indptr[r + 1]] = np.cumsum(probs[indptr[r]:indptr[r + 1]])
    return indptr, indices, cdf


def _run(mdp, *, n_steps, delta, span, tau, rewards, eps_scale, evi_max_iter, width_scale, rng, algorithm,
         n_runs=None):
    _check_learning_mdp(mdp)
    T = check_int(n_steps, "n_steps", low=1)
    d = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    t = check_real(tau, "tau", low=0.0, high=1.0, low_open=True)
    rewards = check_choice(rewards, "rewards", ("bernoulli", "expected"))
    eps_scale = check_real(eps_scale, "eps_scale", low=0.0, low_open=True)
    width_scale = check_real(width_scale, "width_scale", low=0.0)
    max_iter = check_int(evi_max_iter, "evi_max_iter", low=1)
    sol = mdps.average_reward_lp(mdp)
    g_star = float(sol.gain)
    if span is None:
        c = np.inf
    else:
        c = check_real(span, "span", low=0.0, low_open=True)
        bias_span = float(np.ptp(sol.bias))
        if c < bias_span * (1.0 - SPAN_RTOL) - SPAN_RTOL:
            raise ValueError(f"span={c!r} is below sp(u*) = {bias_span:.6g} (the bias span of the optimal policy "
                             f"from mdps.average_reward_lp): the span-bounded agent needs span >= sp(u*), otherwise "
                             f"its confidence set excludes the true model and its regret may be linear")
    seeds = _single_seed(rng) if n_runs is None else run_seeds(rng, check_int(n_runs, "n_runs", low=1))
    n = seeds.shape[0]
    indptr, indices, cdf = _csr_tables(mdp)
    rho_cdf = np.cumsum(mdp.rho)
    rho_cdf[np.flatnonzero(mdp.rho > 0)[-1]:] = 2.0  # the last state of positive mass takes round-off
    S, A = mdp.n_states, mdp.n_actions
    cap = S * A * (int(math.log2(max(2, T))) + 4) + 1  # > the episode bound S A log2(8 T / (S A)) (JOA Prop. 18)
    states = np.empty((n, T), dtype=np.int64)
    actions = np.empty((n, T), dtype=np.int64)
    paid = np.empty((n, T))
    ep = (np.zeros((n, cap), dtype=np.int64), np.full((n, cap), np.nan), np.full((n, cap), np.nan),
          np.zeros((n, cap), dtype=np.int64), np.ones((n, cap), dtype=np.bool_))
    n_eps = np.empty(n, dtype=np.int64)
    R = np.ascontiguousarray(mdp.R, dtype=np.float64)
    _k.run_ucrl_batch(seeds, indptr, indices, cdf, R, rho_cdf, T, d, c, t, eps_scale, max_iter,
                      rewards == "bernoulli", width_scale, width_scale, states, actions, paid, *ep, n_eps)
    n_eps = np.minimum(n_eps, cap)
    conv = ep[4]
    if not conv.all():
        warnings.warn(f"{algorithm}: extended value iteration hit evi_max_iter={max_iter} in "
                      f"{int((~conv).sum())} of {int(n_eps.sum())} episodes; those policies are not certified "
                      f"1/sqrt(t_k)-optimal for the optimistic model", mdps.ConvergenceWarning, stacklevel=3)
    expected = R[states, actions]
    settings = {"algorithm": algorithm, "n_steps": T, "delta": d, "span": None if span is None else c, "tau": t,
                "rewards": rewards, "eps_scale": eps_scale, "evi_max_iter": max_iter, "width_scale": width_scale}
    batch = AverageRewardBatch(regret=g_star - expected, realised_regret=g_star - paid, states=states,
                               actions=actions, rewards=paid, gain_star=g_star, n_episodes=n_eps,
                               episode_starts=ep[0], optimistic_gain=ep[1], optimistic_gain_lower=ep[2],
                               evi_iterations=ep[3], evi_converged=conv, settings=settings, seeds=seeds)
    return batch.run(0) if n_runs is None else batch


def ucrl2(mdp, *, n_steps, delta=0.05, tau=1.0, rewards="bernoulli", eps_scale=1.0, evi_max_iter=100_000,
          width_scale=1.0, n_runs=None, rng=0):
    """UCRL2 (Jaksch, Ortner, Auer 2010) for ``n_steps`` steps; see the module docstring.

    Parameters
    ----------
    mdp : TabularMDP
        Communicating average-reward instance, ``R`` in ``[0, 1]`` (a finite-horizon or
        discounted mdp, or one that is not communicating, raises ValueError).
    n_steps : int >= 1
    delta : float in (0, 1)
        Confidence level of the widths.
    tau : float in (0, 1]
        Aperiodicity transform inside EVI (``1``: the paper's EVI).
    rewards : {"bernoulli", "expected"}
        What the environment pays.
    eps_scale : float > 0
        EVI accuracy ``eps_scale / sqrt(t_k)`` (paper: 1).
    evi_max_iter : int
        Sweep cap per EVI.
    width_scale : float >= 0
        Multiplies both confidence widths (theory: 1; 0 is certainty equivalence).
    n_runs : int >= 1, optional
        Run a batch of independent runs in parallel (module docstring, Reproducibility).
    rng : int, SeedSequence or Generator

    Returns
    -------
    AverageRewardRun (``n_runs=None``) or AverageRewardBatch (as :func:`algorithms.exploration.ucbvi`).
    """
    return _run(mdp, n_steps=n_steps, delta=delta, span=None, tau=tau, rewards=rewards, eps_scale=eps_scale,
                evi_max_iter=evi_max_iter, width_scale=width_scale, rng=rng, algorithm="ucrl2", n_runs=n_runs)


def span_bounded_ucrl(mdp, *, n_steps, span, delta=0.05, tau=0.5, rewards="bernoulli", eps_scale=1.0,
                      evi_max_iter=100_000, width_scale=1.0, n_runs=None, rng=0):
    """SCAL-style UCRL with a known span bound ``span >= sp(u*)`` (module docstring); other
    arguments as :func:`ucrl2`. ``span`` below the exact ``sp(u*)`` of :func:`mdps.average_reward_lp`'s
    optimal policy raises ValueError."""
    return _run(mdp, n_steps=n_steps, delta=delta, span=span, tau=tau, rewards=rewards, eps_scale=eps_scale,
                evi_max_iter=evi_max_iter, width_scale=width_scale, rng=rng, algorithm="span_bounded_ucrl",
                n_runs=n_runs)
