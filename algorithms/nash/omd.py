r"""Online mirror descent (Hedge / multiplicative weights) self-play on a preference game.

The baseline of the family (docs/theory/nash.md, sections 'Hedge' and 'OMD / INPO').

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
* Hedge average iterate [R, docs/theory/nash.md, section 'Hedge'] (provenance tags: [A] abstract-level, [R] recalled textbook result or exact derivation, [U] recalled constant or unverified reconstruction; docs/README.md, section 'Provenance tags'):
  with gains in ``[0, 1]``, for any step sequence,
  ``E_0(average_policy) <= (log(1/min_y pi_0(y)) + sum_t eta_t^2 / 8) / sum_t eta_t``
  (``average_policy`` is the ``eta_t``-weighted average of ``pi_0..pi_{T-1}``); with uniform
  ``pi_0`` and constant ``eta = sqrt(8 log K / T)`` this is ``E_0 <= sqrt(log K / (2T))``.
* Hedge last iterate does not converge (docs/theory/nash.md, section 'Hedge', [R]; checked by ``hedge.last_iterate_cycles``): for an interior
  Nash ``pi*``, ``KL(pi*, pi_t)`` is non-decreasing.
* Regularised (``beta > 0``): ``pi*_beta`` is an exact fixed point for every ``eta`` (both
  proxes) [R, docs/theory/nash.md, section 'OMD / INPO']; last-iterate ``KL_{t+1} <= (1 - eta beta)
  KL_t + O(eta^2)`` [U]; linear convergence only for ``eta < 2 beta/(beta^2 + omega^2)``
  (game-dependent; docs/theory/nash.md, section 'OMD / INPO').

Departures: none beyond offering the exact-prox variant and the schedules of
:func:`algorithms.nash._prox.step_sizes`.

Bounds as functions
-------------------
* :func:`hedge_step` and :func:`hedge_exploitability_bound`: ``eta = sqrt(8 log K / T)`` and
  ``E_0(average_policy) <= sqrt(log K / (2T))``; :func:`hedge_average_bound` for any step
  sequence and start.
* :func:`omd_stability` and :func:`omd_kl_factor`: the linearisation of the regularised OMD /
  INPO map at ``pi*_beta`` (its rotation frequency ``omega``, the stability limit
  ``2 beta / (beta^2 + omega^2)`` and the per-iteration KL factor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mdps.preference import PreferenceGame, check_beta
from mdps.validation import as_float_array, check_choice, check_int

from algorithms.nash import _loops
from algorithms.nash._common import NashArgs, NashResult, NashSettings, Trace, UpdateRules, setup
from algorithms.nash._prox import _prox, _prox_lin

__all__ = [
    "online_mirror_descent",
    "OMDSettings",
    "hedge_step",
    "hedge_exploitability_bound",
    "hedge_average_bound",
    "omd_stability",
    "omd_kl_factor",
]


@dataclass(frozen=True, eq=False)
class OMDSettings(NashSettings):
    """:class:`~algorithms.nash.NashSettings` plus the prox used (``"linearized"`` or ``"exact"``)."""

    prox: str = "linearized"


# ----------------------------------------------------------------------------------------- bounds
def hedge_step(K, T) -> float:
    r"""Hedge's tuned constant step :math:`\eta = \sqrt{8 \log K / T}` for ``T`` rounds and ``K``
    responses (Cesa-Bianchi & Lugosi 2006, Thm 2.2; the step of :func:`hedge_exploitability_bound`)."""
    K = check_int(K, "K", low=2)
    T = check_int(T, "T", low=1)
    return math.sqrt(8 * math.log(K) / T)


def hedge_exploitability_bound(K, T):
    r"""Exploitability of Hedge self-play's average iterate: :math:`E_0(\bar\pi_T) \le
    \sqrt{\log K / (2T)}` with :math:`\eta = \sqrt{8\log K/T}` (:func:`hedge_step`) from the
    uniform policy.

    The exponentially weighted forecaster with gains in ``[0, 1]`` has regret at most
    :math:`\sqrt{T \log K / 2}` (Cesa-Bianchi & Lugosi 2006, *Prediction, Learning, and Games*,
    Thm 2.2), and in self-play :math:`E_0(\bar\pi_T) = \mathrm{regret}/T` because
    :math:`\pi_t^T P \pi_t = 1/2` (docs/theory/nash.md, section 'Hedge'; lab tag "R").

    Parameters
    ----------
    K : int >= 2
    T : int >= 1, or array_like of them

    Returns
    -------
    float, or ndarray of the shape of ``T``.
    """
    K = check_int(K, "K", low=2)
    Ts = as_float_array(T, "T")
    if (Ts < 1).any():
        raise ValueError(f"T must be >= 1, got {Ts[Ts < 1].ravel()[0]!r}")
    out = np.sqrt(math.log(K) / (2 * Ts))
    return float(out) if out.ndim == 0 else out


def hedge_average_bound(step_sizes, init) -> float:
    r"""Exploitability of Hedge self-play's step-weighted average iterate for any steps and start:
    :math:`E_0(\bar\pi_T) \le (\log(1/\min_y \pi_0(y)) + \sum_t \eta_t^2/8) / \sum_t \eta_t`.

    The exponential-weights regret bound with Hoeffding's lemma for gains in ``[0, 1]``, divided
    by :math:`\sum_t\eta_t` (docs/theory/nash.md, section 'Hedge'; lab tag "R"). With uniform
    :math:`\pi_0` and :func:`hedge_step` it is :func:`hedge_exploitability_bound`.

    Parameters
    ----------
    step_sizes : array_like, shape (T,)
        ``eta_0, ..., eta_{T-1}`` (e.g. ``result.settings.step_sizes``), all ``> 0``.
    init : array_like, shape (K,) or (X, K)
        :math:`\pi_0` (its smallest entry enters; full support).
    """
    e = as_float_array(step_sizes, "step_sizes", ndim=1)
    if e.size == 0 or (e <= 0).any():
        raise ValueError(f"step_sizes must be a non-empty array of numbers > 0, got {e!r}")
    p0 = as_float_array(init, "init")
    if p0.size == 0 or not (p0.min() > 0):
        raise ValueError(f"init must have full support (every entry > 0), got min {p0.min() if p0.size else None!r}")
    return float((math.log(1 / p0.min()) + (e**2).sum() / 8) / e.sum())


def omd_stability(game, beta, ref=None):
    r"""Linearisation of the regularised OMD / INPO map at :math:`\pi^*_\beta` (docs/theory/nash.md, section 'OMD / INPO')
    (lab tag "R").

    In logits the step is :math:`z' = (1 - \eta\beta) z + \eta\beta \log\mu + \eta\,
    \mathrm{Pref}\,\mathrm{softmax}(z)`; at :math:`\pi^*` its Jacobian is
    :math:`(1 - \eta\beta) I + \eta A D` with :math:`A = \mathrm{Pref} - 1/2` (the constant part
    drops because :math:`\mathbf 1^T D = 0`) and :math:`D = \mathrm{diag}(\pi^*) - \pi^*\pi^{*T}`.
    :math:`A D` is similar to the antisymmetric :math:`D^{1/2} A D^{1/2}`, whose eigenvalues are
    :math:`\pm i\omega_j`, so the Jacobian's moduli are
    :math:`\sqrt{(1 - \eta\beta)^2 + \eta^2\omega_j^2}`. KL is quadratic in the logit error
    (:math:`KL \approx \tfrac12 \|D^{1/2}\delta z\|^2`, the norm in which the Jacobian is normal),
    so it contracts per iteration by :func:`omd_kl_factor`
    :math:`\rho^2 = (1 - \eta\beta)^2 + \eta^2 \omega^2`, :math:`\omega = \max_j \omega_j`, and
    the iteration is stable iff :math:`\eta < 2\beta / (\beta^2 + \omega^2)`.

    Parameters
    ----------
    game : mdps.PreferenceGame
        Contextual games: ``omega`` is the largest over contexts (the slowest mode) and the limit
        the smallest.
    beta : float > 0
    ref : array_like, optional
        Reference policy (default ``game.ref``).

    Returns
    -------
    pi_star : ndarray, shape (K,) or (X, K)
        :meth:`mdps.PreferenceGame.regularized_nash`.
    omega : float
    eta_limit : float
        :math:`2\beta / (\beta^2 + \omega^2)`.
    """
    if not isinstance(game, PreferenceGame):
        raise TypeError(f"game must be an mdps.PreferenceGame, got {type(game).__name__}")
    beta = check_beta(beta)
    pi_star = game.regularized_nash(beta, ref=ref)
    P3 = np.asarray(game.Pref).reshape(game.n_contexts, game.n_responses, game.n_responses)
    S3 = np.asarray(pi_star).reshape(game.n_contexts, game.n_responses)
    omega = 0.0
    for P, ps in zip(P3, S3):
        sq = np.sqrt(ps)
        D_half = np.diag(sq) - np.outer(ps, sq)  # D = D_half @ D_half.T with D_half = (I - pi 1^T) diag(sqrt pi)
        A = P - 0.5
        M = D_half.T @ A @ D_half  # antisymmetric, similar to A D on the relevant subspace
        omega = max(omega, float(np.abs(np.linalg.eigvals(M).imag).max()))
    if beta < 1e150:
        limit = 2 * beta / (beta**2 + omega**2)
    else:  # beta^2 would overflow: the same value, 2 / (beta + omega^2 / beta)
        limit = 2 / (beta + omega**2 / beta)
    return pi_star, omega, limit


def omd_kl_factor(eta, beta, omega):
    r"""Per-iteration KL contraction of regularised OMD / INPO near :math:`\pi^*_\beta`:
    :math:`\rho^2 = (1 - \eta\beta)^2 + \eta^2\omega^2` (:func:`omd_stability`; lab tag
    "R"). ``< 1`` iff ``eta < 2 beta / (beta^2 + omega^2)``. Arrays broadcast."""
    e = as_float_array(eta, "eta")
    b = as_float_array(beta, "beta")
    w = as_float_array(omega, "omega")
    for name, arr in (("eta", e), ("beta", b), ("omega", w)):
        if (arr < 0).any():
            raise ValueError(f"{name} must be >= 0, got {arr[arr < 0].ravel()[0]!r}")
    with np.errstate(over="ignore", invalid="ignore"):
        out = (1 - e * b) ** 2 + e**2 * w**2
    if not np.all(np.isfinite(out)):
        raise ValueError(f"the factor overflows float64 at eta={eta!r}, beta={beta!r}, omega={omega!r}")
    return float(out) if out.ndim == 0 else out


# ----------------------------------------------------------------------------------------- algorithm
def _self_play_loop(s, step) -> Trace:
    """``pi_{t+1} = step(t, z_t, pi_t, g_t)`` with ``g_t`` the oracle's win rates of ``pi_t``."""
    tr = Trace(s)
    z, pi = s.log_init, s.init
    for t in range(s.n_iter):
        g = s.oracle.win_rates(pi)
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
    NashResult (``settings`` an :class:`OMDSettings`)

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
    rules = UpdateRules(beta_zero_ok=True,
                        step_bound="linearised OMD (prox='linearized')" if prox == "linearized" else None)
    s = setup(game, NashArgs(beta, eta, n_iter, ref, init, schedule, oracle, n_samples, noise, rng), rules)
    b = s.beta
    fn = _prox_lin if prox == "linearized" else _prox

    def step(t, z, pi, g):
        return fn(z, s.log_ref, g, s.etas[t], b)

    if s.oracle.kind == "exact" and _loops.ENABLED:  # the same arithmetic, compiled whole-run
        tr = _loops.run_exact(s, _loops.OMD_LINEARIZED if prox == "linearized" else _loops.OMD_EXACT, Trace(s))
    else:
        tr = _self_play_loop(s, step)
    return tr.result("online_mirror_descent", s.settings.extend(OMDSettings, prox=prox))
