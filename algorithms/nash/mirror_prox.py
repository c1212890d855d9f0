r"""Nash Mirror Prox (Nash-MP), exact and with approximately solved prox steps.

Paper
-----
D. Tiapkin, D. Calandriello, D. Belomestny, É. Moulines, A. Naumov, K. Rasul, M. Valko,
P. Ménard (2025), *Accelerating Nash Learning from Human Feedback via Mirror Prox*,
arXiv 2505.19731 (v1; a later version is titled "Proximal Point Nash Learning from Human
Feedback").

Setting
-------
The beta-regularised preference game (preference.md 1.2), unique equilibrium ``pi*_beta``,
per context. Paper's ``beta`` = our ``beta`` (= NLHF's ``tau``), ``pi_ref`` = our ``ref``,
step ``eta``.

Update (preference.md 2.2; closed forms [der ✔])
-------------------------------------------------

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
[abs] Theorem (main, v1): at ``eta = 2``, ``KL(pi*_beta, pi_k) <= (1 + 2 beta)^{-k}
KL(pi*_beta, pi_0)``, i.e. ``(1+2beta)^{-N/2}`` per query ``N = 2k``; general form
``(1 + eta beta)^{-k}`` for ``eta <= 2`` [mem/der]. Per-step form ``KL_{k+1} <= KL_k /
(1 + eta beta)`` held in every instance checked [der ✔]. ``pi*_beta`` is an exact fixed point
for every ``eta`` [der ✔]. Rates are independent of ``K``.

Approximate Nash-MP (``inner_steps=m``)
---------------------------------------
[abs] Each prox step ``argmax_pi Phi(pi)`` with ``Phi(pi) = eta<pi, v> - eta beta KL(pi||mu) -
KL(pi||pi_k)`` is solved by ``m`` policy-gradient steps on the logits, started at the anchor
``pi_k``, with the payoff ``v`` fixed (queried once, so still 2 queries per iteration):

* ``inner_method="mirror"`` (natural policy gradient = mirror ascent, default):
  ``z <- z + alpha (eta v - eta beta (z - log mu) - (z - log pi_k))`` then normalise; converges
  to the exact prox geometrically at rate ``|1 - alpha (1 + eta beta)|`` (exact after one step
  at ``alpha = 1/(1 + eta beta)``);
* ``inner_method="softmax_pg"`` (vanilla softmax policy gradient):
  ``z <- z + alpha pi * (w - <pi, w>)`` with ``w = eta v - eta beta (z - log mu) - (z - log pi_k)``.

``inner_lr = alpha`` is required. The paper's error propagation (final error = linear term +
accumulated prox errors) is [mem]; the inner solver here uses exact gradients (the paper's
stochastic policy-gradient inner loop is a **departure**: use ``oracle="sampled"`` for noisy
payoffs ``v``).

``average_policy`` is the ``eta_k``-weighted average of the extrapolated points ``pi_{k+1/2}``.
"""

from __future__ import annotations

import numpy as np

from mdps._validation import check_choice, check_int, check_positive

from algorithms.nash._common import NashResult, Trace, setup
from algorithms.nash._prox import _normalize, _prox

__all__ = ["nash_mirror_prox"]


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
    NashResult (``queries[k] = 2k``).

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
    s = setup(game, method="nash_mirror_prox", beta=beta, eta=eta, n_iter=n_iter, ref=ref, init=init,
              schedule=schedule, oracle=oracle, n_samples=n_samples, noise=noise, rng=rng, beta_zero_ok=False,
              need_ref=True)
    b, log_mu = s.settings["beta"], s.log_ref
    if inner_steps is None:
        def prox(z0, v, e):
            return _prox(z0, log_mu, v, e, b)
    else:
        def prox(z0, v, e):
            return _inexact_prox(z0, log_mu, v, e, b, inner_steps, inner_lr, inner_method)
    tr = Trace(s)
    orc = s.oracle
    z, pi = s.log_init, s.init
    for k in range(s.n_iter):
        e = s.etas[k]
        _, pi_half = prox(z, orc(pi), e)
        tr.accumulate(e, pi_half)
        z, pi = prox(z, orc(pi_half), e)
        tr.record(k + 1, pi)
    return tr.result("nash_mirror_prox", inner_steps=inner_steps, inner_lr=inner_lr,
                     inner_method=inner_method if inner_steps is not None else None)
