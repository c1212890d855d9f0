r"""INPO: Iterative Nash Policy Optimization (closed-form OMD step, or fitted from preference pairs).

Paper
-----
Y. Zhang, D. Yu, B. Peng, L. Song, Y. Tian, M. Huo, N. Jiang, H. Mi, D. Yu (2024),
*Iterative Nash Policy Optimization: Aligning LLMs with General Preferences via No-Regret
Learning*, arXiv 2407.00617 (ICLR 2025).

Setting
-------
The tau-regularised preference game, solved by no-regret self-play (OMD), implemented through
a squared loss on sampled preference pairs so that win rates never need to be estimated.
Symbols: paper's ``tau`` = our ``beta``; the paper's ``eta`` is an **inverse** learning rate:
``eta_paper = 1/eta`` (our ``eta`` multiplies the win rate); ``pi_ref`` = our ``ref``.

Update (docs/theory/nash.md, section 'OMD / INPO')
--------------------------------------------------
OMD step (paper's symbols), needs ``0 < tau < eta_paper`` (ours: ``eta beta <= 1``):

.. math::

    \pi_{t+1} \propto \pi_t^{1-\tau/\eta}\,\pi_{\mathrm{ref}}^{\tau/\eta}\,
        \exp\big(P\pi_t/\eta\big)

INPO's loss, whose minimiser is that step: draw ``y, y' ~ pi_t`` iid, label the winner
``y_w`` with ``Pr(y_w = y) = P(y > y')``, and

.. math::

    h_t(\pi; y_w, y_l) = \log\frac{\pi(y_w)}{\pi(y_l)}
      - \frac{\tau}{\eta}\log\frac{\pi_{\mathrm{ref}}(y_w)}{\pi_{\mathrm{ref}}(y_l)}
      - \Big(1-\frac{\tau}{\eta}\Big)\log\frac{\pi_t(y_w)}{\pi_t(y_l)}, \qquad
    L_t(\pi) = \mathbb E\Big[\Big(h_t(\pi; y_w, y_l) - \frac{1}{2\eta}\Big)^2\Big].

``fit="closed_form"`` (default) applies the OMD step (shared linearised prox,
:mod:`algorithms.nash._prox`); ``fit="pair_loss"`` minimises ``L_t`` over the tabular
log-policy: with ``oracle="exact"`` the exact population loss (every ordered pair ``(a, b)``
weighted ``pi_t(a) pi_t(b) P(a > b)``), with ``oracle="sampled"`` the empirical loss of
``n_pairs`` sampled pairs per context, each labelled by one duel. ``L_t`` is a least-squares
problem in ``u = log pi - c`` (``c`` the anchor terms); it is minimised exactly by solving its
normal equations, a weighted graph-Laplacian system (``numpy.linalg.lstsq``; minimum-norm
gauge, so a response in a different connected component of the comparison graph keeps mean
zero ``u`` within it). The two paths agree exactly in the population limit [R, the IPO
identity ``u - E_pi u = eta (P pi - 1/2)``; docs/theory/nash.md, section 'inpo.loss_minimizer_is_omd_step']; :func:`inpo_loss` is exposed so a test can
minimise the loss independently.

Guarantees
----------
[U, docs/theory/nash.md, section 'OMD / INPO'] (provenance tags: [A] abstract-level, [R] recalled textbook result or exact derivation, [U] recalled constant or unverified reconstruction; docs/README.md, section 'Provenance tags') average iterate: duality gap ``O(1/sqrt(T))`` with ``eta ~ 1/sqrt(T)``;
``beta > 0``: last-iterate ``KL(pi*, pi_T) -> 0`` at ``O~(1/T)`` with a decaying step
(``KL_{t+1} <= (1 - eta beta) KL_t + O(eta^2)``). [R] ``pi*_beta`` is an exact fixed point
for every ``eta``; linear convergence for small constant ``eta``.

Query accounting: one query per iteration (closed form: ``P pi_t``; pair path: one batch of
pairs); the sampled pair path uses ``n_pairs`` duels per context per iteration.
Departures: the tabular policy class (no function approximation); the loss is minimised
exactly rather than by SGD.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mdps.preference import check_beta
from mdps.validation import as_float_array, check_choice, check_int, check_positive

from algorithms.nash._common import NashArgs, NashResult, NashSettings, Trace, UpdateRules, setup
from algorithms.nash._prox import _normalize, _prox_lin
from algorithms.nash.omd import _self_play_loop

__all__ = ["inpo", "inpo_loss", "INPOSettings"]


@dataclass(frozen=True, eq=False)
class INPOSettings(NashSettings):
    """:class:`~algorithms.nash.NashSettings` plus ``fit`` and ``n_pairs`` (``None`` unless sampled pairs)."""

    fit: str = "closed_form"
    n_pairs: int | None = None


_RULES = UpdateRules(step_bound="INPO's OMD step (tau < eta_paper)")
_PAIR_SAMPLED_RULES = UpdateRules(step_bound="INPO's OMD step (tau < eta_paper)", needs_samples=False)


def check_pair_loss_args(log_arrays: dict, winners, losers, weights, names=("winners", "losers")):
    """Validate the arguments of a pair loss (INPO's, DNO's): ``(K,)`` finite log-policies of
    one length, index arrays (called ``names``) of one length in ``[0, K)``, non-negative
    weights with a positive sum. Returns ``(logs, winners, losers, weights)``."""
    logs = {name: as_float_array(v, name, ndim=1) for name, v in log_arrays.items()}
    K = next(iter(logs.values())).shape[0]
    if K == 0:
        raise ValueError(f"{next(iter(logs))} must have at least one entry, got shape (0,)")
    for name, v in logs.items():
        if v.shape != (K,):
            raise ValueError(f"{name} must have shape ({K},) like the other log-policies, got {v.shape}")
    idx = []
    for name, v in zip(names, (winners, losers)):
        arr = np.asarray(v)
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name} must be an integer index array, got dtype {arr.dtype}")
        arr = np.atleast_1d(arr)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-d index array, got shape {arr.shape}")
        bad = (arr < 0) | (arr >= K)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{name}[{i}] is {int(arr[i])}, expected in [0, {K})")
        idx.append(arr.astype(np.int64))
    if idx[0].shape != idx[1].shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same length, got {idx[0].size} and {idx[1].size}")
    if weights is None:
        wt = np.ones(idx[0].shape)
    else:
        wt = as_float_array(weights, "weights", ndim=1)
        if wt.shape != idx[0].shape:
            raise ValueError(f"weights must have shape {idx[0].shape} (one per pair), got {wt.shape}")
        if (wt < 0).any() or not wt.sum() > 0:
            raise ValueError("weights must be >= 0 with a positive sum")
    return logs, idx[0], idx[1], wt


def inpo_loss(log_pi, log_pi_t, log_ref, winners, losers, *, beta: float, eta: float, weights=None) -> float:
    """INPO's squared pair loss ``sum_k w_k (h_t(pi; y_w^k, y_l^k) - eta/2)^2 / sum_k w_k``.

    ``log_pi``, ``log_pi_t``, ``log_ref`` are ``(K,)`` finite log-policies; ``winners``/``losers``
    int arrays of the same length; ``eta`` is our (non-inverse) step, so the paper's target
    ``1/(2 eta_paper)`` is ``eta/2`` and ``tau/eta_paper = eta beta``.
    """
    beta = check_beta(beta)
    eta = check_positive(eta, "eta")
    logs, w, l, wt = check_pair_loss_args(dict(log_pi=log_pi, log_pi_t=log_pi_t, log_ref=log_ref),
                                          winners, losers, weights)
    a = eta * beta
    c = (1.0 - a) * logs["log_pi_t"] + a * logs["log_ref"]
    u = logs["log_pi"] - c
    r = (u[w] - u[l] - eta / 2.0) ** 2
    return float((wt * r).sum() / wt.sum())


def _solve_pair_squares(W: np.ndarray, delta: float) -> np.ndarray:
    """Minimiser of ``sum_{a,b} W[a, b] (u_a - u_b - delta)^2`` (``W[a, b]``: weight of winner a, loser b)."""
    S = W + W.T
    L = np.diag(S.sum(axis=1)) - S
    rhs = delta * (W.sum(axis=1) - W.sum(axis=0))
    return np.linalg.lstsq(L, rhs, rcond=None)[0]


def inpo(game, beta, eta, n_iter, ref=None, init=None, *, fit: str = "closed_form", n_pairs=None,
         schedule="constant", oracle: str = "exact", n_samples=None, noise: float = 0.0, rng=None) -> NashResult:
    """INPO (Zhang et al. 2024): OMD self-play, closed form or fitted by INPO's pair loss.

    Parameters
    ----------
    game : mdps.PreferenceGame
    beta : float > 0
        Regularisation ``tau``.
    eta : float > 0
        Our learning rate ``1/eta_paper``; ``eta_t * beta <= 1`` is required.
    n_iter : int >= 1
    ref, init : array_like, optional
        Reference (default ``game.ref``) and ``pi_0`` (default ``ref``), full support.
    fit : {"closed_form", "pair_loss"}
        Apply the OMD step, or minimise INPO's loss (module docstring).
    n_pairs : int >= 1
        Sampled pairs per context per iteration (``fit="pair_loss"`` with ``oracle="sampled"``).
    schedule, oracle, n_samples, noise, rng
        As :func:`algorithms.nash.online_mirror_descent` (``n_samples`` is used by the
        sampled closed-form path only).

    Returns
    -------
    NashResult (``settings`` an :class:`INPOSettings`)
    """
    check_choice(fit, "fit", ("closed_form", "pair_loss"))
    pair_sampled = fit == "pair_loss" and oracle == "sampled"
    if pair_sampled:
        if n_pairs is None:
            raise ValueError("n_pairs is required for fit='pair_loss' with oracle='sampled', got None")
        n_pairs = check_int(n_pairs, "n_pairs", low=1)
    s = setup(game, NashArgs(beta, eta, n_iter, ref, init, schedule, oracle, n_samples, noise, rng),
              _PAIR_SAMPLED_RULES if pair_sampled else _RULES)
    b = s.beta
    settings = s.settings.extend(INPOSettings, fit=fit, n_pairs=n_pairs)
    if fit == "closed_form":
        def step(t, z, pi, g):
            return _prox_lin(z, s.log_ref, g, s.etas[t], b)

        return _self_play_loop(s, step).result("inpo", settings)

    orc = s.oracle
    tr = Trace(s)
    z, pi = s.log_init, s.init
    for t in range(s.n_iter):
        e = s.etas[t]
        a = e * b
        c = (1.0 - a) * z + a * s.log_ref
        u = np.empty_like(z)
        if not pair_sampled:
            P3 = orc.population()  # one query: the population limit of a batch of pairs
            for x in range(s.X):
                W = pi[x][:, None] * pi[x][None, :] * P3[x]
                u[x] = _solve_pair_squares(W, e / 2.0)
        else:
            ya = orc.sample(pi, n_pairs)
            yb = orc.sample(pi, n_pairs)
            win = orc.pair_duels(ya, yb) > 0.5  # one query, n_pairs duels per context
            yw, yl = np.where(win, ya, yb), np.where(win, yb, ya)
            for x in range(s.X):
                W = np.zeros((s.K, s.K))
                np.add.at(W, (yw[x], yl[x]), 1.0)
                u[x] = _solve_pair_squares(W, e / 2.0)
        tr.accumulate(e, pi)
        z, pi = _normalize(c + u)
        tr.record(t + 1, pi)
    return tr.result("inpo", settings)
