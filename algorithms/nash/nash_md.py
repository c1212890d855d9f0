r"""Nash-MD and Nash-EMA (tabular, exact or sampled win rates).

Paper
-----
R. Munos, M. Valko, D. Calandriello, M. Gheshlaghi Azar, M. Rowland, Z. D. Guo, Y. Tang,
M. Geist, T. Mesnard, A. Michi, M. Selvi, S. Girgin, N. Momchev, O. Bachem, D. J. Mankowitz,
D. Precup, B. Piot (2023), *Nash Learning from Human Feedback*, arXiv 2312.00886 (ICML 2024).

Setting
-------
The tau-regularised preference game ``P_tau(pi > pi') = P(pi > pi') - tau KL(pi||mu) +
tau KL(pi'||mu)`` (docs/theory/nash.md, section 'Regularised game and equilibrium'), unique equilibrium ``pi*_tau``; per context.
Symbols: the paper's ``tau`` is our ``beta``, its ``eta`` our ``eta``, ``mu`` our ``ref``.
(The paper's ``beta`` is the mixture coefficient of Nash-MD-PG, not used here.)

Nash-MD update (paper's symbols; docs/theory/nash.md, section 'Nash-MD')
------------------------------------------------------------------------

.. math::

    \pi_t^\mu(y) \propto \pi_t(y)^{1-\eta\tau}\mu(y)^{\eta\tau}, \qquad
    \pi_{t+1} = \arg\max_\pi\, \eta\,P(\pi \succ \pi_t^\mu) - \mathrm{KL}(\pi\|\pi_t^\mu)
    \;\propto\; \pi_t^\mu \exp\big(\eta\,P\pi_t^\mu\big)

i.e. both steps are the shared linearised prox (:mod:`algorithms.nash._prox`): the mixture with
``v = 0`` and the step with the win rate of the mixture. Needs ``eta_t tau <= 1``. One query
(``P pi_t^mu``) per iteration; sampled: ``n_samples`` duels per response against
``y' ~ pi_t^mu`` (docs/theory/nash.md, section 'Sampled oracle').

Guarantee
---------
[U for the constants, form verified numerically; docs/theory/nash.md, section 'Nash-MD'] (provenance tags: [A] abstract-level, [R] recalled textbook result or exact derivation, [U] recalled constant or unverified reconstruction; docs/README.md, section 'Provenance tags')
``KL(pi*, pi_{t+1}) <= (1 - eta tau) KL(pi*, pi_t) + 2 eta^2``; consequences [R]: constant
``eta``: linear convergence to an ``O(eta/tau)`` ball (the constant-step fixed point is biased,
``KL ~ eta^2`` [R], checked by ``nash_md.constant_step_plateau``); ``eta_t = 2/(tau (t+2))`` (``schedule="decaying"`` with
``eta = 1/tau``): ``KL(pi*, pi_T) <= max(2 KL(pi*, pi_0), 8/tau^2)/(T+2)``.

Nash-EMA (:func:`nash_ema`)
---------------------------
The paper's Nash-EMA plays against an exponential moving average of past *parameters*; it
has no tabular statement and no rate theorem. We implement the tabular analog of
docs/theory/nash.md, section 'Nash-EMA' (smoothed fictitious play; policy-space EMA against a regularised best
response):

.. math::

    b_t = \operatorname{softmax}(\log\mu + P\bar\pi_t/\tau), \qquad
    \bar\pi_{t+1} = (1-\gamma_t)\bar\pi_t + \gamma_t b_t ,

with ``gamma_t = eta`` (constant, ``0 < eta <= 1``) or ``gamma_t = eta / (1 + eta t)``
("decaying"; ``eta = 1`` is the running average of best responses). ``b_t`` is the shared
linearised prox with ``eta beta = 1``. ``pi*_tau`` is an exact fixed point [R]; converges
with ``KL ~ 1/t^2`` for ``gamma_t = 1/(t+2)`` [R, exploratory]. **Departure**: this is an
analog, not the paper's parameter-space EMA (which is not implemented).

Bounds as functions: :func:`nash_md_recursion_bound` (one step) and
:func:`nash_md_decaying_bound` (the ``1/(T+2)`` envelope of the decaying schedule).
"""

from __future__ import annotations

import numpy as np

from mdps.preference import check_beta
from mdps.validation import as_float_array

from algorithms.nash import _loops
from algorithms.nash._common import NashArgs, NashResult, Trace, UpdateRules, setup
from algorithms.nash._prox import _normalize, _prox_lin

__all__ = ["nash_md", "nash_ema", "nash_md_decaying_bound", "nash_md_recursion_bound"]

_MD_RULES = UpdateRules(step_bound="Nash-MD's geometric mixture pi^(1 - eta beta) mu^(eta beta)")


def _ema_decaying(eta: float, n_iter: int, beta: float) -> np.ndarray:
    """Nash-EMA's decaying averaging weights ``gamma_t = eta / (1 + eta t)``."""
    t = np.arange(n_iter, dtype=np.float64)
    return eta / (1.0 + eta * t)


_EMA_RULES = UpdateRules(decaying=_ema_decaying)


def _nonneg(x, name: str) -> np.ndarray:
    arr = as_float_array(x, name)
    if (arr < 0).any():
        raise ValueError(f"{name} must be >= 0, got {arr[arr < 0].ravel()[0]!r}")
    return arr


def _finite_bound(out, args: str):
    """A bound as a float (or array); ``ValueError`` if it left the float64 range."""
    if not np.all(np.isfinite(out)):
        raise ValueError(f"the bound overflows float64 at {args}")
    return float(out) if np.ndim(out) == 0 else out


def nash_md_recursion_bound(kl, eta, beta):
    r"""One Nash-MD step: :math:`KL(\pi^*_\tau, \pi_{t+1}) \le (1 - \eta_t\tau)
    KL(\pi^*_\tau, \pi_t) + 2\eta_t^2` (payoffs in ``[0, 1]``, ``eta_t tau <= 1``).

    Munos et al. 2023 (arXiv 2312.00886), Nash-MD last-iterate theorem; the constant 2 is
    recalled, not re-read (lab tag "U"; the form was verified numerically,
    docs/theory/nash.md, section 'Nash-MD'). Arrays broadcast: ``kl`` and ``eta`` may be the sequences
    ``KL_t`` and ``eta_t``.

    Returns
    -------
    float, or ndarray of the broadcast shape.
    """
    b = check_beta(beta)
    k, e = as_float_array(kl, "kl"), _nonneg(eta, "eta")  # (a measured KL may be -1e-17)
    with np.errstate(over="ignore", invalid="ignore"):
        out = (1 - e * b) * k + 2 * e**2
    return _finite_bound(out, f"eta={eta!r}, beta={beta!r}")


def nash_md_decaying_bound(kl0, beta, t):
    r"""Nash-MD with :math:`\eta_t = 2/(\tau(t+2))`: :math:`KL(\pi^*_\tau, \pi_t) \le
    \max(2 KL_0, 8/\tau^2)/(t+2)`.

    The schedule is ``schedule="decaying"`` with ``eta = 1/beta``. Induction on
    :func:`nash_md_recursion_bound` (Munos et al. 2023, arXiv 2312.00886; constant recalled
    lab tag "U"; docs/theory/nash.md, section 'Nash-MD').

    Parameters
    ----------
    kl0 : float
        :math:`KL(\pi^*_\tau, \pi_0)` (a measured value; round-off negatives are harmless).
    beta : float > 0
        :math:`\tau`.
    t : int or array_like of int, >= 0

    Returns
    -------
    float, or ndarray of the shape of ``t``.
    """
    k0 = float(as_float_array(kl0, "kl0", ndim=0))
    b = check_beta(beta)
    tt = _nonneg(t, "t")
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        out = np.maximum(2 * k0, 8 / np.float64(b) ** 2) / (tt + 2)
    return _finite_bound(out, f"kl0={kl0!r}, beta={beta!r}")


def nash_md(game, beta, eta, n_iter, ref=None, init=None, *, schedule="constant", oracle: str = "exact",
            n_samples=None, noise: float = 0.0, rng=None) -> NashResult:
    """Nash-MD (Munos et al. 2023): mirror descent against the geometric mixture ``pi_t^mu``.

    Parameters
    ----------
    game : mdps.PreferenceGame
    beta : float > 0
        Regularisation ``tau``.
    eta : float > 0
        Step size; ``eta_t * beta <= 1`` is required for every step.
    n_iter : int >= 1
    ref, init : array_like, shape (K,) or (X, K), optional
        Reference ``mu`` (default ``game.ref``) and ``pi_0`` (default ``ref``), full support.
    schedule : "constant", "decaying" or callable
        ``"decaying"``: ``eta_t = eta / (1 + eta beta t / 2)`` (``eta = 1/beta`` gives the
        paper's ``2/(tau (t+2))``).
    oracle, n_samples, noise, rng
        See :func:`algorithms.nash.online_mirror_descent`.

    Returns
    -------
    NashResult (``average_policy``: ``eta_t``-weighted average of ``pi_0..pi_{T-1}``).

    Examples
    --------
    >>> import mdps
    >>> from algorithms.nash import nash_md
    >>> game = mdps.rock_paper_scissors(1.0, ref=[0.5, 0.3, 0.2])
    >>> res = nash_md(game, 1.0, 1.0, 200, schedule="decaying")
    >>> bool(game.exploitability(res.policy, beta=1.0) < 1e-3)
    True
    """
    s = setup(game, NashArgs(beta, eta, n_iter, ref, init, schedule, oracle, n_samples, noise, rng), _MD_RULES)
    b = s.beta
    tr = Trace(s)
    if s.oracle.kind == "exact" and _loops.ENABLED:  # the same arithmetic, compiled whole-run
        return _loops.run_exact(s, _loops.NASH_MD, tr).result("nash_md")
    z, pi = s.log_init, s.init
    for t in range(s.n_iter):
        e = s.etas[t]
        _, pi_mu = _prox_lin(z, s.log_ref, None, e, b)  # regularised opponent pi_t^mu
        g = s.oracle.win_rates(pi_mu)
        tr.accumulate(e, pi)
        z, pi = _prox_lin(z, s.log_ref, g, e, b)
        tr.record(t + 1, pi)
    return tr.result("nash_md")


def nash_ema(game, beta, eta, n_iter, ref=None, init=None, *, schedule="constant", oracle: str = "exact",
             n_samples=None, noise: float = 0.0, rng=None) -> NashResult:
    """Nash-EMA, tabular analog: smoothed fictitious play against ``softmax(log mu + P pibar / beta)``.

    ``eta`` is the averaging weight ``gamma`` in ``(0, 1]``; ``schedule="decaying"`` uses
    ``gamma_t = eta / (1 + eta t)``. ``policy`` / ``policies`` are the smoothed strategies
    ``pibar_t`` (the object that converges to ``pi*_beta``). Other arguments as
    :func:`nash_md`. One query per iteration.
    """
    s = setup(game, NashArgs(beta, eta, n_iter, ref, init, schedule, oracle, n_samples, noise, rng), _EMA_RULES)
    if (s.etas > 1.0).any():
        t = int(np.argmax(s.etas > 1.0))
        raise ValueError(f"eta (the EMA weight gamma) must be in (0, 1] for every step, got gamma_{t}={s.etas[t]!r}")
    b = s.beta
    tr = Trace(s)
    z, pi = s.log_init, s.init
    for t in range(s.n_iter):
        gam = s.etas[t]
        g = s.oracle.win_rates(pi)
        tr.accumulate(gam, pi)
        zb, _ = _prox_lin(z, s.log_ref, g, 1.0 / b, b)  # regularised best response (Gibbs)
        if gam >= 1.0:
            z, pi = zb, np.exp(zb)
        else:
            z, pi = _normalize(np.logaddexp(np.log1p(-gam) + z, np.log(gam) + zb))
        tr.record(t + 1, pi)
    return tr.result("nash_ema")
