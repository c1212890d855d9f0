r"""Nash Mirror Prox (Nash-MP), exact and with approximately solved prox steps.

Paper
-----
D. Tiapkin, D. Calandriello, D. Belomestny, É. Moulines, A. Naumov, K. Rasul, M. Valko,
P. Ménard (2025), *Accelerating Nash Learning from Human Feedback via Mirror Prox*,
arXiv 2505.19731 (v1; a later version is titled "Proximal Point Nash Learning from Human
Feedback").

Setting
-------
The beta-regularised preference game (docs/theory/nash.md, section 'Regularised game and equilibrium'), unique equilibrium ``pi*_beta``,
per context. Paper's ``beta`` = our ``beta`` (= NLHF's ``tau``), ``pi_ref`` = our ``ref``,
step ``eta``.

Update (docs/theory/nash.md, section 'Nash-MP'; closed forms [R])
-----------------------------------------------------------------

.. math::

    \pi_{k+1/2} &= \arg\max_\pi\, \eta[P(\pi\succ\pi_k) - \beta\mathrm{KL}(\pi\|\mu)]
        - \mathrm{KL}(\pi\|\pi_k)
      \propto \pi_k^{\frac{1}{1+\eta\beta}}\mu^{\frac{\eta\beta}{1+\eta\beta}}
        e^{\eta P\pi_k/(1+\eta\beta)} \\
    \pi_{k+1} &= \arg\max_\pi\, \eta[P(\pi\succ\pi_{k+1/2}) - \beta\mathrm{KL}(\pi\|\mu)]
        - \mathrm{KL}(\pi\|\pi_k)
      \propto \pi_k^{\frac{1}{1+\eta\beta}}\mu^{\frac{\eta\beta}{1+\eta\beta}}
        e^{\eta P\pi_{k+1/2}/(1+\eta\beta)}

Both steps are the shared exact prox of :mod:`algorithms.nash._prox`. **Two queries per
iteration** (``P pi_k`` and ``P pi_{k+1/2}``), so ``queries[k] = 2k``. No condition on
``eta beta``; ``eta <= 2`` (``1/L`` with ``L = 1/2``) is the guaranteed range, ``eta = 2`` the
recommended default.

Guarantee
---------
[A] (provenance tags: [A] abstract-level, [R] recalled textbook result or exact derivation, [U] recalled constant or unverified reconstruction; docs/README.md, section 'Provenance tags') Theorem (main, v1): at ``eta = 2``, ``KL(pi*_beta, pi_k) <= (1 + 2 beta)^{-k}
KL(pi*_beta, pi_0)``, i.e. ``(1+2beta)^{-N/2}`` per query ``N = 2k``; general form
``(1 + eta beta)^{-k}`` for ``eta <= 2`` [U]. Per-step form ``KL_{k+1} <= KL_k /
(1 + eta beta)`` held in every instance checked [R]. ``pi*_beta`` is an exact fixed point
for every ``eta`` [R]. Rates are independent of ``K``.

Approximate Nash-MP (``inner_steps=m``)
---------------------------------------
[A] Each prox step ``argmax_pi Phi(pi)`` with ``Phi(pi) = eta<pi, v> - eta beta KL(pi||mu) -
KL(pi||pi_k)`` is solved by ``m`` policy-gradient steps on the logits, started at the anchor
``pi_k``, with the payoff ``v`` fixed (queried once, so still 2 queries per iteration):

* ``inner_method="mirror"`` (natural policy gradient = mirror ascent, default):
  ``z <- z + alpha (eta v - eta beta (z - log mu) - (z - log pi_k))`` then normalise; converges
  to the exact prox geometrically at rate ``|1 - alpha (1 + eta beta)|`` (exact after one step
  at ``alpha = 1/(1 + eta beta)``);
* ``inner_method="softmax_pg"`` (vanilla softmax policy gradient):
  ``z <- z + alpha pi * (w - <pi, w>)`` with ``w = eta v - eta beta (z - log mu) - (z - log pi_k)``.

``inner_lr = alpha`` is required. The paper's error propagation (final error = linear term +
accumulated prox errors) is [U]; the inner solver here uses exact gradients (the paper's
stochastic policy-gradient inner loop is a **departure**: use ``oracle="sampled"`` for noisy
payoffs ``v``).

``average_policy`` is the ``eta_k``-weighted average of the extrapolated points ``pi_{k+1/2}``.

Bound as a function: :func:`nash_mp_kl_envelope` (the theorem's ``(1 + eta beta)^{-N/2}``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mdps.preference import BETA_MAX, BETA_MIN, check_beta
from mdps.validation import as_float_array, check_choice, check_int, check_positive

from algorithms.nash import _loops
from algorithms.nash._common import NashArgs, NashResult, NashSettings, Trace, setup
from algorithms.nash._prox import _normalize, _prox

__all__ = ["nash_mirror_prox", "MirrorProxSettings", "nash_mp_kl_envelope"]


@dataclass(frozen=True, eq=False)
class MirrorProxSettings(NashSettings):
    """:class:`~algorithms.nash.NashSettings` plus the approximate-prox options (``None`` for
    the exact prox)."""

    inner_steps: int | None = None
    inner_lr: float | None = None
    inner_method: str | None = None


def nash_mp_kl_envelope(beta, queries, eta: float = 2.0):
    r"""Nash-MP's linear-rate envelope: :math:`KL(\pi^*_\beta, \pi_N) / KL(\pi^*_\beta, \pi_0)
    \le (1 + \eta\beta)^{-N/2}` after ``N`` preference queries (``N = 2k``, two per iteration).

    Theorem (main, v1) of Tiapkin et al. 2025, arXiv 2505.19731, at ``eta = 2``:
    ``KL(pi*_beta, pi_k) <= (1 + 2 beta)^{-k} KL(pi*_beta, pi_0)``, i.e. ``(1 + 2 beta)^{-N/2}``
    per query (lab tag "A"); the general form ``(1 + eta beta)^{-k}`` for ``eta <= 2`` is
    recalled (tag "U"); docs/theory/nash.md, section 'Nash-MP'.

    Parameters
    ----------
    beta : float or array_like, > 0
    queries : int or array_like, >= 0
        Preference queries ``N`` (broadcast against ``beta``).
    eta : float in (0, 2]
        The step (the theorem's range).

    Returns
    -------
    float, or ndarray of the broadcast shape.

    Examples
    --------
    >>> round(nash_mp_kl_envelope(0.5, 4), 6)  # (1 + 2 * 0.5)^(-2)
    0.25
    """
    e = check_positive(eta, "eta")
    if e > 2.0:
        raise ValueError(f"eta must be <= 2 (the theorem's range, 1/L with L = 1/2), got {eta!r}")
    scalar = np.ndim(beta) == 0 and np.ndim(queries) == 0
    if np.ndim(beta) == 0:
        b = check_beta(beta)
    else:
        b = as_float_array(beta, "beta")
        bad = ~((b >= BETA_MIN) & (b <= BETA_MAX))
        if bad.any():
            check_beta(float(b[bad].ravel()[0]))  # raises, naming beta and the value
    n = as_float_array(queries, "queries")
    if (n < 0).any():
        raise ValueError(f"queries must be >= 0, got {n[n < 0].ravel()[0]!r}")
    out = (1.0 + e * b) ** (-n / 2.0)
    return float(out) if scalar else out


def _inexact_prox(z0, log_mu, v, eta, beta, m, alpha, method):
    """``m`` policy-gradient steps on ``Phi`` (module docstring) from ``pi_0``; returns ``(log_pi, pi)``."""
    anchor = eta * v + z0
    if beta > 0:
        anchor = anchor + (eta * beta) * log_mu
    c = 1.0 + eta * beta  # w = anchor - c z  (up to per-context constants)
    z, pi = z0, np.exp(z0)
    for _ in range(m):
        w = anchor - c * z
        if method == "mirror":
            z, pi = _normalize(z + alpha * w)
        else:
            z, pi = _normalize(z + alpha * pi * (w - (pi * w).sum(axis=-1, keepdims=True)))
    return z, pi


def nash_mirror_prox(game, beta, eta, n_iter, ref=None, init=None, *, inner_steps=None, inner_lr=None,
                     inner_method: str = "mirror", schedule="constant", oracle: str = "exact", n_samples=None,
                     noise: float = 0.0, rng=None) -> NashResult:
    """Nash Mirror Prox (Tiapkin et al. 2025): extragradient with the two-anchor prox.

    Parameters
    ----------
    game : mdps.PreferenceGame
    beta : float > 0
        Regularisation.
    eta : float > 0
        Step size (``eta = 2`` recommended; ``<= 2`` is the guaranteed range).
    n_iter : int >= 1
        Iterations ``k`` (each uses 2 queries).
    ref, init : array_like, shape (K,) or (X, K), optional
        Reference ``mu`` (default ``game.ref``) and ``pi_0`` (default ``ref``), full support.
    inner_steps : int >= 1, optional
        Solve each prox step approximately with this many policy-gradient steps (module
        docstring); ``None`` (default) uses the exact closed form.
    inner_lr : float > 0
        Inner step ``alpha`` (required with ``inner_steps``).
    inner_method : {"mirror", "softmax_pg"}
    schedule, oracle, n_samples, noise, rng
        See :func:`algorithms.nash.online_mirror_descent`.

    Returns
    -------
    NashResult (``queries[k] = 2k``; ``settings`` a :class:`MirrorProxSettings`).

    Examples
    --------
    >>> import mdps
    >>> from algorithms.nash import nash_mirror_prox
    >>> game = mdps.rock_paper_scissors(1.0, ref=[0.5, 0.3, 0.2])
    >>> res = nash_mirror_prox(game, 0.1, 2.0, 100)
    >>> [int(q) for q in res.queries[:3]]
    [0, 2, 4]
    """
    check_choice(inner_method, "inner_method", ("mirror", "softmax_pg"))
    if inner_steps is not None:
        inner_steps = check_int(inner_steps, "inner_steps", low=1)
        if inner_lr is None:
            raise ValueError("inner_lr is required when inner_steps is given, got None")
        inner_lr = check_positive(inner_lr, "inner_lr")
    s = setup(game, NashArgs(beta, eta, n_iter, ref, init, schedule, oracle, n_samples, noise, rng))
    b, log_mu = s.beta, s.log_ref
    if inner_steps is None:
        def prox(z0, v, e):
            return _prox(z0, log_mu, v, e, b)
    else:
        def prox(z0, v, e):
            return _inexact_prox(z0, log_mu, v, e, b, inner_steps, inner_lr, inner_method)
    tr = Trace(s)
    orc = s.oracle
    if orc.kind == "exact" and inner_steps is None and _loops.ENABLED:  # same arithmetic, compiled
        _loops.run_exact(s, _loops.NASH_MP, tr)
    else:
        z, pi = s.log_init, s.init
        for k in range(s.n_iter):
            e = s.etas[k]
            _, pi_half = prox(z, orc.win_rates(pi), e)
            tr.accumulate(e, pi_half)
            z, pi = prox(z, orc.win_rates(pi_half), e)
            tr.record(k + 1, pi)
    settings = s.settings.extend(MirrorProxSettings, inner_steps=inner_steps, inner_lr=inner_lr,
                                 inner_method=inner_method if inner_steps is not None else None)
    return tr.result("nash_mirror_prox", settings)
