r"""SPO: Self-Play Preference Optimization (tabular, Hedge / EXP3 learner).

Paper
-----
G. Swamy, C. Dann, R. Kidambi, Z. S. Wu, A. Agarwal (2024), *A Minimaximalist Approach to
Reinforcement Learning from Human Feedback*, arXiv 2401.04056 (ICML 2024).

Setting
-------
Target: the Minimax (von Neumann) winner of the unregularised preference game. A *single*
policy plays against itself; the reward of a sample is its fraction of wins against the other
samples of the same round; any no-regret learner may be used (PPO/SAC in the paper, Hedge here).
Paper's preference function in ``[-1, 1]`` is ``2 P - 1`` here (a rescaling of ``eta``).

Update (docs/theory/nash.md, section 'SPO and DNO')
---------------------------------------------------
Per round ``t``: draw ``y_1..y_N ~ p_t`` and set

.. math::

    \hat r_t(y_i) = \frac{1}{N-1}\sum_{j\ne i} \mathbb 1[y_i \succ y_j]
    \qquad (\text{conditionally unbiased for } P(y_i \succ p_t)).

``oracle="exact"``: the population limit, Hedge on the exact win rates,
:math:`p_{t+1} \propto p_t \exp(\eta_t P p_t)`. ``oracle="sampled"``: EXP3-style Hedge on the
importance-weighted loss estimate
:math:`\hat\ell_t(y) = \sum_i \mathbb 1[y_i = y](1-\hat r_t(y_i)) / (N p_t(y))` (unbiased for
``1 - P(y > p_t)``), :math:`p_{t+1} \propto p_t \exp(-\eta_t \hat\ell_t)`; each unordered pair of
the round duels once (``N(N-1)/2`` duels; ``N = n_rollouts``). Both use the shared prox
(:mod:`algorithms.nash._prox`, ``beta = 0``). Output: the average ``average_policy``.

Guarantee
---------
Self-play reduction [U statement, R proof; docs/theory/nash.md, section 'SPO and DNO'] (provenance tags: [A] abstract-level, [R] recalled textbook result or exact derivation, [U] recalled constant or unverified reconstruction; docs/README.md, section 'Provenance tags'): if the learner's regret
against ``y -> P(y > p_t)`` is ``Reg(T)`` then ``E_0(pbar_T) <= Reg(T)/T``; with exact Hedge
and ``eta = sqrt(8 log K / T)``, ``E_0(pbar_T) <= sqrt(log K / (2T))`` (uniform ``p_0``; for a
general step sequence see :mod:`algorithms.nash.omd`). The last iterate cycles.

Departures: tabular Hedge/EXP3 instead of PPO/SAC; ``oracle="exact"`` replaces the sampled
reward by its conditional expectation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mdps.validation import check_int

from algorithms.nash._common import NashArgs, NashResult, NashSettings, Trace, UpdateRules, setup
from algorithms.nash._prox import _prox_lin

__all__ = ["spo", "SPOSettings"]

_RULES = UpdateRules(beta_zero_ok=True, needs_samples=False)


@dataclass(frozen=True, eq=False)
class SPOSettings(NashSettings):
    """:class:`~algorithms.nash.NashSettings` plus ``n_rollouts`` (samples per round; ``None`` when exact)."""

    n_rollouts: int | None = None


def spo(game, eta, n_iter, init=None, *, n_rollouts=None, schedule="constant", oracle: str = "exact",
        noise: float = 0.0, rng=None) -> NashResult:
    """SPO self-play (Swamy et al. 2024) with a Hedge (exact) or EXP3 (sampled) learner.

    Parameters
    ----------
    game : mdps.PreferenceGame
    eta : float > 0
        Hedge learning rate (initial value for ``schedule="decaying"``: ``eta/sqrt(t+1)``).
    n_iter : int >= 1
        Rounds ``T``.
    init : array_like, optional
        ``p_0`` (full support); default ``game.ref``.
    n_rollouts : int >= 2
        Samples ``N`` per round (required for ``oracle="sampled"``).
    schedule, oracle, noise, rng
        As :func:`algorithms.nash.online_mirror_descent`.

    Returns
    -------
    NashResult (``average_policy`` is SPO's output ``pbar_T``; one query per round,
    ``N(N-1)/2`` duels per round when sampled; ``settings`` an :class:`SPOSettings`).
    """
    if oracle == "sampled":
        if n_rollouts is None:
            raise ValueError("n_rollouts is required when oracle='sampled' (samples N >= 2 per round), got None")
        n_rollouts = check_int(n_rollouts, "n_rollouts", low=2)
    s = setup(game, NashArgs(0.0, eta, n_iter, None, init, schedule, oracle, None, noise, rng), _RULES)
    tr = Trace(s)
    orc = s.oracle
    z, pi = s.log_init, s.init
    if oracle == "sampled":
        N = n_rollouts
        iu, ju = np.triu_indices(N, 1)
    for t in range(s.n_iter):
        e = s.etas[t]
        if oracle == "exact":
            v = orc.win_rates(pi)
        else:
            y = orc.sample(pi, N)  # (X, N)
            win = orc.pair_duels(y[:, iu], y[:, ju])  # one query, (X, M): 1[y_i > y_j]
            wins = np.zeros((s.X, N))
            for x in range(s.X):
                wins[x] = np.bincount(iu, win[x], N) + np.bincount(ju, 1.0 - win[x], N)
            r_hat = wins / (N - 1)
            v = np.empty((s.X, s.K))
            for x in range(s.X):
                v[x] = -np.bincount(y[x], 1.0 - r_hat[x], s.K) / (N * pi[x])
        tr.accumulate(e, pi)
        z, pi = _prox_lin(z, None, v, e, 0.0)
        tr.record(t + 1, pi)
    return tr.result("spo", s.settings.extend(SPOSettings, n_rollouts=n_rollouts))
