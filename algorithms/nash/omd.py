r"""Online mirror descent (Hedge / multiplicative weights) self-play on a preference game.

The baseline of the family (preference.md 3.1, rows "Hedge self-play" and "OMD / INPO").

Papers
------
* Freund & Schapire (1997/1999), *Adaptive game playing using multiplicative weights*, Games
  Econ. Behav. 29 -- Hedge and its average-iterate guarantee in zero-sum games.
* The regularised (magnetic) form is the OMD step of INPO, Zhang et al. (2024),
  *Iterative Nash Policy Optimization*, arXiv 2407.00617 (ICLR 2025); see
  :mod:`algorithms.nash.inpo` for the loss that implements it.

Setting
-------
Symmetric preference game ``Pref[i, j] = Pr(y_i > y_j)`` (per context), reference ``mu``,
regularisation ``beta >= 0`` (``beta = 0``: the unregularised game), self-play: the learner
plays against its own current iterate, with payoff the win-rate vector ``g_t = Pref pi_t``.

Update (log space, our symbols; ``beta = tau``, ``eta`` = learning rate)
--------------------------------------------------------------------------
``prox="linearized"`` (default; the standard OMD step with the KL term linearised, needs
``eta_t beta <= 1``):

.. math::

    \pi_{t+1} \propto \pi_t^{1-\eta_t\beta}\,\mu^{\eta_t\beta}\,\exp\big(\eta_t\,\mathrm{Pref}\,\pi_t\big)

``prox="exact"`` (composite / proximal OMD, no condition on ``eta beta``):

.. math::

    \pi_{t+1} \propto \pi_t^{1/(1+\eta_t\beta)}\,\mu^{\eta_t\beta/(1+\eta_t\beta)}
        \exp\big(\eta_t\,\mathrm{Pref}\,\pi_t/(1+\eta_t\beta)\big)

With ``beta = 0`` both are Hedge: :math:`\pi_{t+1} \propto \pi_t e^{\eta_t g_t}`. Both use the
shared primitive :mod:`algorithms.nash._prox`. One query per iteration.

Guarantees
----------
* Hedge average iterate [der, preference.md 2.6 "Theorem (self-play reduction)", der ✔ proof]:
  with gains in ``[0, 1]``, for any step sequence,
  ``E_0(average_policy) <= (log(1/min_y pi_0(y)) + sum_t eta_t^2 / 8) / sum_t eta_t``
  (``average_policy`` is the ``eta_t``-weighted average of ``pi_0..pi_{T-1}``); with uniform
  ``pi_0`` and constant ``eta = sqrt(8 log K / T)`` this is ``E_0 <= sqrt(log K / (2T))``.
* Hedge last iterate does not converge (preference.md 2.6 invariants, [der ✔]): for an interior
  Nash ``pi*``, ``KL(pi*, pi_t)`` is non-decreasing.
* Regularised (``beta > 0``): ``pi*_beta`` is an exact fixed point for every ``eta`` (both
  proxes) [der ✔, preference.md 2.3 "Lab facts"]; last-iterate ``KL_{t+1} <= (1 - eta beta)
  KL_t + O(eta^2)`` [mem, 2.3]; linear convergence only for ``eta < 2 beta/(beta^2 + omega^2)``
  (game-dependent; 2.2 "Why it matters").

Departures: none beyond offering the exact-prox variant and the schedules of
:func:`algorithms.nash._prox.step_sizes`.
"""

from __future__ import annotations

import numpy as np

from mdps._validation import check_choice

from algorithms.nash._common import NashResult, Trace, setup
from algorithms.nash._prox import _prox, _prox_lin

__all__ = ["online_mirror_descent"]


def _self_play_loop(s, step) -> Trace:
    """``pi_{t+1} = step(t, z_t, pi_t, g_t)`` with ``g_t`` the oracle's win rates of ``pi_t``."""
    tr = Trace(s)
    z, pi = s.log_init, s.init
    for t in range(s.n_iter):
        g = s.oracle(pi)
        tr.accumulate(s.etas[t], pi)
        z, pi = step(t, z, pi, g)
        tr.record(t + 1, pi)
    return tr


def online_mirror_descent(game, beta, eta, n_iter, ref=None, init=None, *, prox: str = "linearized",
                          schedule="constant", oracle: str = "exact", n_samples=None, noise: float = 0.0,
                          rng=None) -> NashResult:
    """Online mirror descent / Hedge self-play (regularised when ``beta > 0``).

    Parameters
    ----------
    game : mdps.PreferenceGame
        ``Pref`` of shape ``(K, K)`` or ``(X, K, K)``.
    beta : float >= 0
        KL regularisation towards ``ref`` (``0``: Hedge on the unregularised game).
    eta : float > 0
        Step size (``schedule="constant"``) or its initial value (``"decaying"``).
    n_iter : int >= 1
        Number of updates ``T``.
    ref : array_like, shape (K,) or (X, K), optional
        Reference ``mu`` (full support); default ``game.ref``.
    init : array_like, shape (K,) or (X, K), optional
        ``pi_0`` (full support); default ``ref``.
    prox : {"linearized", "exact"}
        Which prox step (module docstring). ``"linearized"`` requires ``eta_t * beta <= 1``.
    schedule : "constant", "decaying" or callable ``t -> eta_t``
        See :func:`algorithms.nash.step_sizes`.
    oracle : {"exact", "sampled"}
        Exact win rates ``Pref @ pi`` or Monte Carlo estimates from ``n_samples`` duels per
        response per query (with flip ``noise``; ``rng`` required).

    Returns
    -------
    NashResult

    Examples
    --------
    >>> import numpy as np, mdps
    >>> from algorithms.nash import online_mirror_descent
    >>> game = mdps.rock_paper_scissors(1.0)
    >>> res = online_mirror_descent(game, 0.0, 0.1, 100, init=np.array([0.5, 0.3, 0.2]))
    >>> res.policies.shape, int(res.queries[-1])
    ((101, 3), 100)
    """
    check_choice(prox, "prox", ("linearized", "exact"))
    s = setup(game, method="online_mirror_descent", beta=beta, eta=eta, n_iter=n_iter, ref=ref, init=init,
              schedule=schedule, oracle=oracle, n_samples=n_samples, noise=noise, rng=rng, beta_zero_ok=True,
              need_ref=True, step_bound="linearised OMD (prox='linearized')" if prox == "linearized" else None)
    b = s.settings["beta"]
    fn = _prox_lin if prox == "linearized" else _prox

    def step(t, z, pi, g):
        return fn(z, s.log_ref, g, s.etas[t], b)

    return _self_play_loop(s, step).result("online_mirror_descent", prox=prox)
