r"""LinUCB / OFUL for stochastic linear bandits, compiled, with exact regret.

Paper: Y. Abbasi-Yadkori, D. Pál, Cs. Szepesvári, *Improved Algorithms for Linear Stochastic
Bandits*, NeurIPS 2011 (OFUL); the same optimistic rule is the "LinUCB" of Lattimore &
Szepesvári, *Bandit Algorithms* (2020), ch. 19.

Update (round ``t``, ridge :math:`\lambda > 0`):

.. math::

    V_t = \lambda I + \sum_{s<t} x_s x_s^\top, \qquad
    \hat\theta_t = V_t^{-1} \sum_{s<t} y_s x_s, \qquad
    x_t = \arg\max_{x \in \mathcal X}\; \langle\hat\theta_t, x\rangle + \beta_t \|x\|_{V_t^{-1}},

with the self-normalised confidence radius of Theorem 2 **[A]** (form read in the abstract and
the book, Theorem 20.5)

.. math::

    \beta_t = \sigma\sqrt{2\log(1/\delta) + \log\det V_t - d\log\lambda} + \sqrt\lambda\, S,

where :math:`\sigma` bounds the noise's sub-Gaussian scale and :math:`S \ge \|\theta\|`. With
probability :math:`\ge 1 - \delta`, :math:`\theta` lies in every ellipsoid
:math:`\{\theta : \|\theta - \hat\theta_t\|_{V_t} \le \beta_t\}`. On the unit ball the argmax is
computed exactly (:func:`algorithms.linear._kernels.ball_optimistic`); on a finite set by
enumeration (ties: the first row).

Regret bound (Theorem 3) **[U]** (constant recalled, not read; the lab uses it as stated and
tests it with the slack of the checks): if :math:`\langle x, \theta\rangle \in [-1, 1]` and
:math:`\|x\| \le L`, then with probability :math:`\ge 1 - \delta`, for all ``n``,

.. math::

    R_n \le 4\sqrt{n d \log(\lambda + n L / d)}\,\Big(\sqrt\lambda S
        + \sigma\sqrt{2\log(1/\delta) + d\log\big(1 + n L/(\lambda d)\big)}\Big)

(:func:`oful_regret_bound`; the lab's instances have :math:`L = 1`, where the variants of this
formula with :math:`L^2` agree). Lower bound: on the unit ball the regret of any algorithm is
:math:`\Omega(d\sqrt n)` for some parameter of norm about 1 (Lattimore & Szepesvári, Theorem
24.2), and OFUL's regret there grows like :math:`d\sqrt n` for a fixed parameter (no gap).

Changing action sets (:class:`mdps.LinearBandit` with a sequence or a generator of sets): the
same rule with the argmax over the round's own set :math:`\mathcal X_t`, the same ellipsoid and
the same :math:`\beta_t`; Theorem 3 is stated for arbitrary (even adversarially chosen) decision
sets :math:`D_t` with :math:`\|x\| \le L` and :math:`\langle x, \theta\rangle \in [-1, 1]`, so the
same bound applies to the regret against each round's best action. A generator's sets are drawn
per run from ``SeedSequence([run_seed, mdps.linear_bandit.SETS_STREAM])`` before the compiled run.

Implementation: :mod:`algorithms.linear._kernels` (rank-one inverse updates, ``O(d^2 +
n_actions d)`` per round on a finite set; an eigendecomposition, ``O(d^3)``, on the ball;
``O(m d^2)`` on changing sets of ``m`` actions, :func:`~algorithms.linear._kernels.run_changing`).
Theory page: docs/theory/linear.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from algorithms.exploration.engine import _single_seed, run_seeds
from algorithms.linear import _kernels as _k
from mdps.linear_bandit import SETS_STREAM, LinearBandit
from mdps.validation import check_int, check_real

__all__ = ["linucb", "oful_regret_bound", "run_action_sets", "LinearBanditRun", "LinearBanditBatch", "LinUCBSettings"]


@dataclass(frozen=True)
class LinUCBSettings:
    """The settings a run used."""

    n_rounds: int
    lam: float
    delta: float
    noise_bound: float
    theta_norm_bound: float
    bonus_scale: float


@dataclass(frozen=True, eq=False)
class LinearBanditRun:
    """One run: ``regret[t]`` the exact pseudo-regret of round ``t`` (cumulative: ``.cumsum()``).

    ``actions`` is the row played in each round (finite action sets; ``-1`` on the ball);
    ``played`` the played vectors ``(T, d)`` when asked for (``keep_actions=True``), else
    ``(0, d)``: a check recomputes the regret from them. On changing action sets ``actions`` is
    the row of the round's set, ``best_value`` is ``None`` and, with ``keep_actions=True``,
    ``sets`` / ``set_sizes`` are the sets the run was offered (round ``t``: set ``t mod
    len(sets)``; rows past ``set_sizes`` are padding); otherwise both are ``None``.
    """

    regret: np.ndarray
    actions: np.ndarray
    played: np.ndarray
    best_value: float | None
    settings: LinUCBSettings
    seed: int
    sets: np.ndarray | None = None
    set_sizes: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class LinearBanditBatch:
    """``n_runs`` independent runs: ``regret`` and ``actions`` of shape ``(n_runs, T)``; on changing
    sets kept with ``keep_actions``, ``sets`` has a leading run axis."""

    regret: np.ndarray
    actions: np.ndarray
    played: np.ndarray
    best_value: float | None
    settings: LinUCBSettings
    seeds: np.ndarray = field(repr=False)
    sets: np.ndarray | None = None
    set_sizes: np.ndarray | None = None

    def run(self, i: int) -> LinearBanditRun:
        played = self.played[i] if self.played.shape[1] else self.played[0]
        sets = None if self.sets is None else self.sets[i]
        sizes = None if self.set_sizes is None else self.set_sizes[i]
        return LinearBanditRun(self.regret[i], self.actions[i], played, self.best_value, self.settings,
                               int(self.seeds[i]), sets, sizes)


def oful_regret_bound(n_rounds, d: int, *, lam: float = 1.0, theta_norm_bound: float = 1.0,
                      noise_bound: float = 0.1, action_norm_bound: float = 1.0, delta: float = 0.05):
    r"""OFUL's high-probability regret bound (Theorem 3; module docstring), vectorised in ``n_rounds``."""
    n = np.asarray(n_rounds, dtype=float)
    if (n < 0).any():
        raise ValueError(f"n_rounds must be >= 0, got {n_rounds!r}")
    d = check_int(d, "d", low=1)
    lam = check_real(lam, "lam", low=0.0, low_open=True)
    S = check_real(theta_norm_bound, "theta_norm_bound", low=0.0)
    sig = check_real(noise_bound, "noise_bound", low=0.0)
    L = check_real(action_norm_bound, "action_norm_bound", low=0.0)
    dl = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    return 4.0 * np.sqrt(n * d * np.log(lam + n * L / d)) * (
        np.sqrt(lam) * S + sig * np.sqrt(2.0 * np.log(1.0 / dl) + d * np.log(1.0 + n * L / (lam * d))))


def linucb(bandit, *, n_rounds, bonus_scale: float = 1.0, lam: float = 1.0, delta: float = 0.05,
           noise_bound=None, theta_norm_bound: float = 1.0, keep_actions: bool = False, n_runs=None, rng=0):
    r"""OFUL / LinUCB for ``n_rounds`` rounds on a :class:`mdps.LinearBandit`.

    Parameters
    ----------
    bandit : mdps.LinearBandit
        A fixed set, the unit ball, or changing sets (a sequence or a generator: module docstring).
    n_rounds : int >= 1
        ``T``.
    bonus_scale : float >= 0, default 1
        Multiplier on :math:`\beta_t` (1: the theorem's; 0: greedy ridge regression).
    lam : float > 0, default 1
        Ridge :math:`\lambda`.
    delta : float in (0, 1), default 0.05
    noise_bound : float >= 0, optional
        :math:`\sigma` used in :math:`\beta_t` (default: the bandit's true noise level).
    theta_norm_bound : float >= 0, default 1
        :math:`S`, a known bound on :math:`\|\theta\|` (not checked against the truth: the agent
        does not know it; a wrong ``S`` voids the theorem, not the run).
    keep_actions : bool
        Also return the played vectors ``(T, d)``.
    n_runs : int, optional
        A batch of independent runs (child seeds of ``rng``), in parallel, each bit-identical to
        the run made alone; returns a :class:`LinearBanditBatch`.
    rng : int, SeedSequence or Generator

    Returns
    -------
    LinearBanditRun or LinearBanditBatch

    Examples
    --------
    >>> import mdps
    >>> bandit = mdps.LinearBandit("unit_ball", [0.6, 0.8], noise=0.1)
    >>> run = linucb(bandit, n_rounds=200, rng=0)
    >>> run.regret.shape, bool((run.regret >= -1e-12).all())
    ((200,), True)
    """
    if not isinstance(bandit, LinearBandit):
        raise TypeError(f"bandit must be an mdps.LinearBandit, got {type(bandit).__name__}")
    T = check_int(n_rounds, "n_rounds", low=1)
    c = check_real(bonus_scale, "bonus_scale", low=0.0)
    lam_ = check_real(lam, "lam", low=0.0, low_open=True)
    dl = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    sig = bandit.noise if noise_bound is None else check_real(noise_bound, "noise_bound", low=0.0)
    S = check_real(theta_norm_bound, "theta_norm_bound", low=0.0)
    if not isinstance(keep_actions, (bool, np.bool_)):
        raise TypeError(f"keep_actions must be a bool, got {keep_actions!r}")
    seeds = _single_seed(rng) if n_runs is None else run_seeds(rng, check_int(n_runs, "n_runs", low=1))
    settings = LinUCBSettings(n_rounds=T, lam=lam_, delta=dl, noise_bound=sig, theta_norm_bound=S, bonus_scale=c)
    if bandit.changing:
        return _linucb_changing(bandit, T, lam_, dl, sig, S, c, bool(keep_actions), seeds, n_runs is None, settings)
    n, d = seeds.shape[0], bandit.d
    actions = np.zeros((0, d)) if not bandit.finite else np.ascontiguousarray(bandit.actions, dtype=np.float64)
    regret = np.empty((n, T))
    chosen = np.empty((n, T), dtype=np.int32)
    played = np.empty((n, T if keep_actions else 0, d))
    _k.run_batch(seeds, actions, not bandit.finite, np.ascontiguousarray(bandit.theta), bandit.noise, T, lam_, sig,
                 S, dl, c, regret, chosen, played)
    if n_runs is None:
        return LinearBanditRun(regret[0], chosen[0], played[0], bandit.best_value, settings, int(seeds[0]))
    return LinearBanditBatch(regret, chosen, played, bandit.best_value, settings, seeds)


def run_action_sets(bandit: LinearBandit, n_rounds: int, seed):
    """The ``(sets, sizes)`` offered to the run of ``uint64`` stream seed ``seed`` (a generator's
    sets are drawn from ``SeedSequence([seed, SETS_STREAM])``; a sequence is returned as is)."""
    if bandit.generator is None:
        return bandit.action_sets(n_rounds)
    return bandit.action_sets(n_rounds, rng=np.random.SeedSequence([int(seed), SETS_STREAM]))


def _linucb_changing(bandit, T, lam_, dl, sig, S, c, keep, seeds, single, settings):
    n, d = seeds.shape[0], bandit.d
    regret = np.empty((n, T))
    chosen = np.empty((n, T), dtype=np.int32)
    played = np.empty((n, T if keep else 0, d))
    theta = np.ascontiguousarray(bandit.theta)
    kept_sets, kept_sizes = [], []
    if bandit.generator is None:  # one sequence for every run: one parallel call
        sets, sizes = run_action_sets(bandit, T, seeds[0])
        _k.run_changing(seeds, np.ascontiguousarray(sets), np.ascontiguousarray(sizes), theta, bandit.noise, T,
                        lam_, sig, S, dl, c, regret, chosen, played)
        kept_sets, kept_sizes = [sets] * n, [sizes] * n
    else:  # each run its own sets: one call per run, each the run made alone
        for i in range(n):
            sets, sizes = run_action_sets(bandit, T, seeds[i])
            _k.run_changing(seeds[i:i + 1], np.ascontiguousarray(sets), np.ascontiguousarray(sizes), theta,
                            bandit.noise, T, lam_, sig, S, dl, c, regret[i:i + 1], chosen[i:i + 1], played[i:i + 1])
            if keep:
                kept_sets.append(sets)
                kept_sizes.append(sizes)
    if keep:
        m = max(s.shape[1] for s in kept_sets)
        k_sets = np.zeros((n, kept_sets[0].shape[0], m, d))
        for i, s_ in enumerate(kept_sets):
            k_sets[i, :, : s_.shape[1]] = s_
        k_sizes = np.stack(kept_sizes)
    else:
        k_sets = k_sizes = None
    if single:
        return LinearBanditRun(regret[0], chosen[0], played[0], None, settings, int(seeds[0]),
                               None if k_sets is None else k_sets[0], None if k_sizes is None else k_sizes[0])
    return LinearBanditBatch(regret, chosen, played, None, settings, seeds, k_sets, k_sizes)
