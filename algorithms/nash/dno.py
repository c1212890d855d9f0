r"""DNO: Direct Nash Optimization, the soft-label regression step (tabular, Algorithm 1).

Paper
-----
C. Rosset, C.-A. Cheng, A. Mitra, M. Santacroce, A. Awadallah, T. Xie (2024), *Direct Nash
Optimization: Teaching Language Models to Self-Improve with General Preferences*,
arXiv 2404.03715.

Setting
-------
Batched on-policy self-improvement against a general preference oracle. Internal reward of
iteration ``t``: ``r_t(y) = E_{y'~pi_t} P(y > y') = (P pi_t)(y)``. Paper's ``eta`` is an
**inverse** step: ``eta_paper = 1/eta`` (ours multiplies the reward). No reference anchor.

Update (docs/theory/nash.md, section 'SPO and DNO'; closed form [R])
--------------------------------------------------------------------
Target (soft policy iteration = Hedge self-play with learning rate ``1/eta_paper``):

.. math::

    \pi_{t+1}(y) \propto \pi_t(y)\exp\big(r_t(y)/\eta\big)

implemented as a regression on pairs ``(y_1, y_2)``: binary cross-entropy with soft label
``sigma(r_t(y_1) - r_t(y_2))`` against the prediction
``sigma(eta_paper [log(pi(y_1)/pi_t(y_1)) - log(pi(y_2)/pi_t(y_2))])``. Its unconstrained
minimiser is the step above.

``fit="closed_form"`` (default) applies the step (shared prox, :mod:`algorithms.nash._prox`,
``beta = 0``). ``fit="soft_label"`` minimises the BCE over the tabular log-policy (damped
Newton on the pair-difference logistic loss, to gradient ``<= 1e-12``): with
``oracle="exact"`` the population loss (all ordered pairs weighted ``pi_t(a) pi_t(b)``, exact
``r_t``); with ``oracle="sampled"`` ``r_t`` is estimated by ``n_samples`` duels per response
and ``n_pairs`` pairs per context are drawn from ``pi_t`` (minimum-norm gauge across
disconnected components of the pair graph). :func:`dno_loss` is exposed for tests.

Guarantee
---------
[U, low confidence on constants] (provenance tags: [A] abstract-level, [R] recalled textbook result or exact derivation, [U] recalled constant or unverified reconstruction; docs/README.md, section 'Provenance tags') Under realizability and concentrability, per-iteration
regression error ``O~(sqrt(C log(|Pi| T/delta)/N))``; with the no-regret property of MWU the
uniform mixture approaches the Minimax Winner at ``O(1/sqrt(T))`` plus statistical error.
[R] In the exact setting this is Hedge: ``E_0(average_policy) <= sqrt(log K/(2T))`` for
``eta = sqrt(8 log K / T)`` and uniform ``pi_0`` (see :mod:`algorithms.nash.omd`); monotonic
improvement ``P(pi_{t+1} > pi_t) >= 1/2`` every step (Gibbs variational principle).

Departures: the tabular policy class; the practical DNO-Prct (hard labels, DPO with large
margin pairs, teacher responses) and the KL-regularised appendix variant are not implemented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mdps.validation import as_float_array, check_choice, check_int, check_positive

from algorithms.nash._common import NashArgs, NashResult, NashSettings, Trace, UpdateRules, setup
from algorithms.nash._prox import _normalize, _prox_lin
from algorithms.nash.inpo import check_pair_loss_args

__all__ = ["dno", "dno_loss", "DNOSettings"]

_RULES = UpdateRules(beta_zero_ok=True)


@dataclass(frozen=True, eq=False)
class DNOSettings(NashSettings):
    """:class:`~algorithms.nash.NashSettings` plus ``fit`` and ``n_pairs`` (``None`` unless sampled pairs)."""

    fit: str = "closed_form"
    n_pairs: int | None = None


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def dno_loss(log_pi, log_pi_t, y1, y2, labels, *, eta: float, weights=None) -> float:
    """DNO's soft-label BCE ``-sum_k w_k [l_k log s_k + (1 - l_k) log(1 - s_k)] / sum_k w_k``,
    ``s_k = sigma((f(y1_k) - f(y2_k)) / eta)``, ``f = log pi - log pi_t`` (``eta`` ours,
    ``= 1/eta_paper``). ``labels`` in ``[0, 1]``, one per pair."""
    eta = check_positive(eta, "eta")
    logs, a, b, wt = check_pair_loss_args(dict(log_pi=log_pi, log_pi_t=log_pi_t), y1, y2, weights, names=("y1", "y2"))
    lab = as_float_array(labels, "labels", ndim=1)
    if lab.shape != a.shape:
        raise ValueError(f"labels must have shape {a.shape} (one per pair), got {lab.shape}")
    if ((lab < 0) | (lab > 1)).any():
        raise ValueError(f"labels must lie in [0, 1], got {lab[(lab < 0) | (lab > 1)][0]!r}")
    f = logs["log_pi"] - logs["log_pi_t"]
    d = (f[a] - f[b]) / eta
    r = -(lab * _log_sigmoid(d) + (1.0 - lab) * _log_sigmoid(-d))
    return float((wt * r).sum() / wt.sum())


def _fit_soft_labels(W: np.ndarray, Lab: np.ndarray, *, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
    """Minimise ``-sum_{a,b} W[a,b] [Lab log s(phi_a - phi_b) + (1-Lab) log s(phi_b - phi_a)]``
    over ``phi`` (damped Newton; minimum-norm steps)."""
    K = W.shape[0]
    scale = W.sum()

    def loss(phi):
        D = phi[:, None] - phi[None, :]
        return -(W * (Lab * _log_sigmoid(D) + (1.0 - Lab) * _log_sigmoid(-D))).sum()

    phi = np.zeros(K)
    cur = loss(phi)
    for _ in range(max_iter):
        D = phi[:, None] - phi[None, :]
        Sg = 0.5 * (1.0 + np.tanh(0.5 * D))
        G = W * (Sg - Lab)
        grad = G.sum(axis=1) - G.sum(axis=0)
        if np.abs(grad).max() <= tol * scale:
            break
        Hw = W * Sg * (1.0 - Sg)
        Hs = Hw + Hw.T
        H = np.diag(Hs.sum(axis=1)) - Hs
        step = np.linalg.lstsq(H, -grad, rcond=None)[0]
        lr = 1.0
        while lr > 1e-8:
            new = loss(phi + lr * step)
            if new <= cur + 1e-4 * lr * (grad @ step):
                break
            lr *= 0.5
        phi = phi + lr * step
        cur = new
    return phi


def dno(game, eta, n_iter, init=None, *, fit: str = "closed_form", n_pairs=None, schedule="constant",
        oracle: str = "exact", n_samples=None, noise: float = 0.0, rng=None) -> NashResult:
    """DNO (Rosset et al. 2024), Algorithm 1 in the tabular setting: soft policy iteration
    ``pi_{t+1} ∝ pi_t exp(eta r_t)``, closed form or fitted by the soft-label BCE.

    Parameters
    ----------
    game : mdps.PreferenceGame
    eta : float > 0
        Our step ``1/eta_paper``.
    n_iter : int >= 1
    init : array_like, optional
        ``pi_0`` (full support); default ``game.ref``.
    fit : {"closed_form", "soft_label"}
    n_pairs : int >= 1
        Pairs per context per iteration (``fit="soft_label"`` with ``oracle="sampled"``).
    schedule, oracle, n_samples, noise, rng
        As :func:`algorithms.nash.online_mirror_descent` (``r_t`` is one win-rate query).

    Returns
    -------
    NashResult (``settings`` a :class:`DNOSettings`)
    """
    check_choice(fit, "fit", ("closed_form", "soft_label"))
    if fit == "soft_label" and oracle == "sampled":
        if n_pairs is None:
            raise ValueError("n_pairs is required for fit='soft_label' with oracle='sampled', got None")
        n_pairs = check_int(n_pairs, "n_pairs", low=1)
    s = setup(game, NashArgs(0.0, eta, n_iter, None, init, schedule, oracle, n_samples, noise, rng), _RULES)
    tr = Trace(s)
    orc = s.oracle
    z, pi = s.log_init, s.init
    for t in range(s.n_iter):
        e = s.etas[t]
        r = orc.win_rates(pi)
        tr.accumulate(e, pi)
        if fit == "closed_form":
            z, pi = _prox_lin(z, None, r, e, 0.0)
        else:
            phi = np.empty_like(z)
            if oracle == "sampled":
                y1 = orc.sample(pi, n_pairs)
                y2 = orc.sample(pi, n_pairs)
            for x in range(s.X):
                Lab = 0.5 * (1.0 + np.tanh(0.5 * (r[x][:, None] - r[x][None, :])))
                if oracle == "exact":
                    W = pi[x][:, None] * pi[x][None, :]
                else:
                    W = np.zeros((s.K, s.K))
                    np.add.at(W, (y1[x], y2[x]), 1.0)
                phi[x] = _fit_soft_labels(W, Lab)
            z, pi = _normalize(z + e * phi)
        tr.record(t + 1, pi)
    return tr.result("dno", s.settings.extend(DNOSettings, fit=fit, n_pairs=n_pairs))
