r"""Preference games: the container, exact ground truth, and a Bernoulli duel oracle.

A preference game over ``K`` responses is a matrix ``Pref[i, j] = Pr(y_i > y_j)`` with
``Pref + Pref^T = 1`` (hence ``diag Pref = 1/2``); a *contextual* game stacks ``X`` such
matrices, ``Pref[x, i, j]``, with a context distribution ``weights`` (:math:`\rho`). Every
quantity below decouples across contexts: policies are ``(K,)`` or ``(X, K)``, per-context
solutions are stacked, and scalar metrics (preference, exploitability) are
``weights``-averages of the per-context ones. The definitions are in
``docs/theory/nash.md`` (sections 'Preference game', 'Regularised game and equilibrium', 'Exploitability',
'Sampled oracle').

The symmetric game [1]_. Row player :math:`\pi`, column player :math:`\pi'`, payoff
:math:`P(\pi \succ \pi') = \pi^T \mathrm{Pref}\, \pi'`. It is constant-sum and symmetric, so
:math:`\pi^T \mathrm{Pref}\, \pi = 1/2` for every :math:`\pi` and the value is exactly 1/2.
A Nash equilibrium (von Neumann winner) is any :math:`\pi^*` with
:math:`\mathrm{Pref}\,\pi^* \le 1/2` componentwise; :meth:`PreferenceGame.nash` computes one
by linear programming. Its unregularised exploitability is
:math:`E_0(\pi) = \max_y (\mathrm{Pref}\,\pi)_y - 1/2 \ge 0`.

The :math:`\beta`-regularised game [1]_ [2]_ has payoff
:math:`P(\pi \succ \pi') - \beta KL(\pi\|\mu) + \beta KL(\pi'\|\mu)`; its unique equilibrium is
the fixed point

.. math:: \pi^*_\beta = \mathrm{softmax}(\log\mu + \mathrm{Pref}\,\pi^*_\beta / \beta),

and the regularised exploitability has the closed form

.. math:: E_\beta(\pi) = \beta \log \textstyle\sum_y \mu(y) e^{(\mathrm{Pref}\,\pi)_y/\beta}
          + \beta KL(\pi\|\mu) - 1/2 \;\ge 0, \quad = 0 \iff \pi = \pi^*_\beta .

(Equivalently :math:`E_\beta(\pi) = \beta\, KL(\pi \| \mathrm{softmax}(\log\mu +
\mathrm{Pref}\,\pi/\beta))`, using :math:`\pi^T\mathrm{Pref}\,\pi = 1/2`.)
:meth:`PreferenceGame.regularized_nash` computes :math:`\pi^*_\beta` with exact Nash Mirror
Prox [2]_ at step :math:`\eta = 2` with a Newton polish (Newton continuation in ``beta`` below
``beta = 1e-2``), and a certificate scaled to ``beta``.

Decisions (written down as the design asks)
--------------------------------------------
* ``K >= 2``: a one-response game has no preference to learn, and rejecting it catches
  transposed or mis-shaped input early.
* Exact complementarity. The input must satisfy ``|Pref + Pref^T - 1| <= atol``; the stored
  matrix is its projection ``(Pref + 1 - Pref^T) / 2`` (upper triangle computed, lower
  triangle ``1 - upper``, diagonal exactly 1/2), which moves entries by at most ``atol / 2``;
  an upper entry whose pair already sums to 1 in float64 is kept bit for bit.
  This makes :math:`\pi^T \mathrm{Pref}\,\pi = 1/2` hold to round-off, which the
  certificates need.
* ``ref`` (:math:`\mu`) must have full support (every entry ``> 0``); it is stored
  renormalised when its sum is off by more than ``1e-14`` (so a normalised ref round-trips). For a contextual game a ``(K,)`` ref is shared by all
  contexts.
* Policies passed to methods must match the game's shape (``(K,)`` or ``(X, K)``), be finite,
  ``>= 0`` and sum to 1 within ``1e-9``; they are used as given (not renormalised).
* Contextual metrics: :meth:`preference` and :meth:`exploitability` are ``weights``-averages;
  :meth:`fixed_point_residual` is the maximum over contexts (a sup norm).
* ``atol`` (the constructor's tolerance on ``Pref + Pref^T = 1`` and on the sums of ``ref`` and
  ``weights``) must be finite, ``>= 0`` and at most ``1e-3``: a larger one would let the
  projection onto complementarity rewrite the matrix (``atol = inf`` turned any matrix into
  1/2 everywhere).
* ``beta``: ``0`` where the unregularised quantity is meant (``exploitability``), otherwise in
  ``[1e-300, 1e300]`` (:func:`check_beta`): below, ``Pref pi / beta`` overflows float64;
  above, ``beta KL`` can. :meth:`PreferenceGame.regularized_nash` needs ``beta >= 1e-10``.
* Round-off of the closed form of :math:`E_\beta`. Its terms are
  :math:`\beta\,\mathrm{lse}(\log\mu + g/\beta)` and :math:`\beta KL(\pi\|\mu)`, each
  computed to ``eps`` relative to :math:`\beta(\max|\log\mu| + K)` (the logits and the ``K``
  summed exponentials), so the absolute round-off grows with ``beta``; it is bounded by
  ``eps * S`` with ``S = 1 + beta (2 max|log mu| + 3 K)`` (measured: below ``0.12 eps S`` on
  random games). Negative values down to ``-16 eps S`` are clipped to 0 (``CLIP_ULPS``); the
  certificates use ``64 eps S`` (``CERT_ULPS``).

Exact regularised equilibrium (:meth:`PreferenceGame.regularized_nash`)
----------------------------------------------------------------------
* ``beta >= 1e-2``: exact Nash Mirror Prox [2]_ at ``eta = 2`` from ``mu`` (KL contraction
  ``(1 + 2 beta)^{-1}`` per iteration) with a Newton polish (:mod:`mdps._pref_equilibrium`).
* ``1e-10 <= beta < 1e-2``: Mirror Prox needs ``~1/beta`` iterations, so the equilibrium is
  first solved at ``beta0 = 0.1`` and then followed down to ``beta`` by Newton continuation on
  the fixed-point equation in log space, scaled by ``beta`` (interior-point path following;
  ``O(K^3)`` per Newton step, tens of steps per decade at most).
* Certificate, scaled to ``beta`` (both must hold, else ``RuntimeError``):
  :math:`E_\beta(\pi) \le 64\,\epsilon\,S` and the fixed-point residual
  :math:`\|\pi - \mathrm{softmax}(\log\mu + \mathrm{Pref}\,\pi/\beta)\|_\infty \le
  64\,\epsilon\,(\max|\log\mu| + K/\beta)` (the map has Lipschitz constant ``~1/beta``, so
  even the float64 rounding of the exact equilibrium has a residual ``~eps/beta``). Since
  :math:`E_\beta(\pi) \ge \beta\,KL(\pi\|\pi^*_\beta)`, the certified distance is
  :math:`KL(\pi\|\pi^*_\beta) \le 64\,\epsilon\,S/\beta`: about ``1e-14`` at
  ``beta = 1`` and ``1e6``, ``1e-6`` at ``beta = 1e-8`` (the equilibrium's own conditioning;
  the values themselves are typically exact to round-off). :meth:`equilibrium_certificate`
  returns these numbers for any policy.

References
----------
.. [1] R. Munos et al., "Nash Learning from Human Feedback", ICML 2024, arXiv:2312.00886.
.. [2] D. Tiapkin et al., "Accelerating Nash Learning from Human Feedback via Mirror Prox",
   arXiv:2505.19731 (v1).

Examples
--------
>>> import numpy as np, mdps
>>> from mdps.preference import PreferenceGame
>>> game = PreferenceGame([[0.5, 0.9, 0.3], [0.1, 0.5, 0.6], [0.7, 0.4, 0.5]])
>>> np.round(game.nash() * 7, 6)
array([1., 2., 4.])
>>> pi = game.regularized_nash(0.1)
>>> bool(game.exploitability(pi, beta=0.1) < 1e-12)
True
"""

from __future__ import annotations

import math
import numbers

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from mdps import _pref_equilibrium as _eq
from mdps import _pref_kernels as _pk
from mdps._pref_equilibrium import matvec as _matvec
from mdps.numerics import kl, logsumexp
from mdps.validation import (
    ROW_SUM_ATOL,
    _index_str,
    as_float_array,
    check_atol,
    check_int,
    check_positive,
    check_real,
    check_rng,
    readonly,
)

__all__ = ["PreferenceGame", "EquilibriumCertificate", "check_beta", "BETA_MIN", "BETA_MAX"]

_EPS = np.finfo(np.float64).eps
#: Range of a positive ``beta`` (module docstring): below it ``Pref pi / beta`` overflows
#: float64, above it ``beta KL`` can.
BETA_MIN, BETA_MAX = 1e-300, 1e300
#: Smallest ``beta`` :meth:`PreferenceGame.regularized_nash` solves: the equilibrium's
#: condition number grows like ``1/beta`` (certified KL distance ``~64 eps / beta``).
REG_NASH_BETA_MIN = 1e-10
#: Below this ``beta`` the equilibrium is found by Newton continuation started at
#: ``CONTINUATION_START`` (Mirror Prox would need ``~1/beta`` iterations).
CONTINUATION_BELOW, CONTINUATION_START = 1e-2, 0.1
#: Round-off of the closed form of ``E_beta`` in units of ``eps * S`` (module docstring):
#: negatives within ``CLIP_ULPS`` are clipped to 0, more negative ones raise RuntimeError;
#: the certificates allow ``CERT_ULPS``.
CLIP_ULPS, CERT_ULPS = 16.0, 64.0
#: Absolute floor of the clip (the previous fixed margin; the scaled one is never smaller).
CLIP_ATOL = 1e-14
#: Certificate of :meth:`PreferenceGame.nash`: the LP value must be 0 within this (HiGHS
#: feasibility tolerances are ~1e-9 .. 1e-7 relative; its vertex solutions are far better).
LP_ATOL = 1e-9
#: Mirror Prox step size (docs/theory/nash.md, section 'Nash-MP': the recommended eta = 2 = 1/L with
#: L = 1/2 the l1 -> l_inf Lipschitz constant of pi -> Pref pi).
NASH_MP_ETA = 2.0
#: Default iteration caps are clamped to this (finite for any ``tol`` and ``beta``).
MAX_ITER_CAP = 10**9


def check_beta(beta, *, allow_zero: bool = False, name: str = "beta") -> float:
    """Validate a regularisation strength: a real number, ``> 0`` (or ``>= 0`` with
    ``allow_zero``), and when positive in ``[BETA_MIN, BETA_MAX] = [1e-300, 1e300]``.

    Raises ``TypeError`` for a non-real (a string, a complex, a bool) and ``ValueError``
    otherwise, naming ``name`` and the value. Returns ``float(beta)``.
    """
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {beta!r}")
    b = float(beta)
    if not math.isfinite(b) or (b < 0 if allow_zero else b <= 0):
        raise ValueError(f"{name} must be finite and {'>= 0' if allow_zero else '> 0'}, got {beta!r}")
    if b != 0.0 and not (BETA_MIN <= b <= BETA_MAX):
        raise ValueError(
            f"{name} must lie in [{BETA_MIN:g}, {BETA_MAX:g}] when positive (outside it 1/{name} or "
            f"{name} * KL overflow float64), got {beta!r}"
        )
    return b


def _check_noise(noise) -> float:
    """A flip probability in ``[0, 1/2]`` (1/2: every duel a fair coin)."""
    return check_real(noise, "noise", low=0.0, high=0.5)


def _roundoff_scale(beta: float, logmu2: np.ndarray) -> np.ndarray:
    """``S = 1 + beta (2 max|log mu| + 3 K)`` per context (module docstring), shape ``(X,)``."""
    K = logmu2.shape[-1]
    return 1.0 + beta * (2.0 * np.abs(logmu2).max(axis=-1) + 3.0 * K)


@dataclass(frozen=True)
class EquilibriumCertificate:
    r"""How well a policy solves the ``beta``-regularised game (worst context).

    Attributes
    ----------
    beta : float
    residual : float
        :math:`\|\pi - \mathrm{softmax}(\log\mu + \mathrm{Pref}\,\pi/\beta)\|_\infty`.
    residual_tol : float
        ``64 eps (max|log mu| + K / beta)``: the round-off floor of the residual, with margin.
    exploitability : float
        :math:`E_\beta(\pi)` as computed (not clipped; may be ``-O(eps S)``).
    exploitability_tol : float
        ``64 eps S``, ``S = 1 + beta (2 max|log mu| + 3 K)`` (module docstring).
    """

    beta: float
    residual: float
    residual_tol: float
    exploitability: float
    exploitability_tol: float

    @property
    def certified(self) -> bool:
        """Both quantities within their tolerances."""
        return self.residual <= self.residual_tol and self.exploitability <= self.exploitability_tol

    @property
    def kl_bound(self) -> float:
        r"""Certified :math:`KL(\pi\|\pi^*_\beta) \le \max(E_\beta(\pi), 0)/\beta`
        (from :math:`E_\beta(\pi) \ge \beta KL(\pi\|\pi^*_\beta)`, theory 3.5)."""
        return max(self.exploitability, 0.0) / self.beta


def _project_complementary(P3: np.ndarray) -> np.ndarray:
    X, K, _ = P3.shape
    iu, ju = np.triu_indices(K, 1)
    out = np.empty_like(P3)
    pu, pl = P3[:, iu, ju], P3[:, ju, iu]
    # already complementary in float64 (e.g. generator output): keep the upper entry bit for bit
    upper = np.where(pu + pl == 1.0, pu, 0.5 * (pu + (1.0 - pl)))
    out[:, iu, ju] = upper
    out[:, ju, iu] = 1.0 - upper
    di = np.arange(K)
    out[:, di, di] = 0.5
    return out


class PreferenceGame:
    """A validated (contextual) preference game ``Pref[i, j] = Pr(y_i > y_j)``.

    Parameters
    ----------
    Pref : array_like, shape (K, K) or (X, K, K)
        Preference probabilities, entries in ``[0, 1]``, ``Pref + Pref^T = 1`` within ``atol``,
        ``K >= 2``. Stored projected onto exact complementarity (module docstring).
    weights : array_like, shape (X,), optional
        Context distribution :math:`\\rho` (default uniform). Only for a contextual ``Pref``.
    ref : array_like, shape (K,) or (X, K), optional
        Default reference policy :math:`\\mu` (default uniform); full support required.
    atol : float in [0, 1e-3]
        Tolerance on ``Pref + Pref^T = 1`` and on the sums of ``weights`` and ``ref``.

    Notes
    -----
    Immutable: the arrays are read-only copies and attributes cannot be set.
    """

    __slots__ = ("_P3", "_A3", "_Pref", "_weights", "_ref2", "_ref", "_K", "_X", "_contextual", "_frozen")

    def __init__(self, Pref, *, weights=None, ref=None, atol: float = ROW_SUM_ATOL):
        object.__setattr__(self, "_frozen", False)
        atol = check_atol(atol)
        P = as_float_array(Pref, "Pref", ndim=(2, 3))
        if P.shape[-1] != P.shape[-2]:
            raise ValueError(
                f"Pref must have shape (K, K) or (X, K, K) with matching response axes, got {P.shape}"
            )
        K = P.shape[-1]
        if K < 2 or (P.ndim == 3 and P.shape[0] < 1):
            raise ValueError(f"Pref must have at least 2 responses (K >= 2), got shape {P.shape}")
        bad = (P < 0) | (P > 1)
        if bad.any():
            idx = np.argwhere(bad)[0]
            raise ValueError(f"Pref[{_index_str(idx)}] is {P[tuple(idx)]:.6g}, expected in [0, 1]")
        comp = P + np.swapaxes(P, -1, -2)
        bad = np.abs(comp - 1.0) > atol
        if bad.any():
            idx = np.argwhere(bad)[0]
            jdx = (*idx[:-2], idx[-1], idx[-2])
            raise ValueError(
                f"Pref[{_index_str(idx)}] + Pref[{_index_str(jdx)}] = {comp[tuple(idx)]:.12g}, "
                f"expected 1 within {atol:g}"
            )
        self._contextual = P.ndim == 3
        P3 = P if self._contextual else P[None]
        X = P3.shape[0]
        self._K, self._X = K, X
        self._P3 = readonly(_project_complementary(P3))
        self._Pref = self._P3 if self._contextual else self._P3[0]
        # antisymmetric part A = Pref - 1/2 (exact for entries >= 1/4): every payoff below is
        # computed with A, so that logits stay O(|log pi|) on the equilibrium's support and
        # the certificates are not limited by the round-off of a +1/(2 beta) shift.
        self._A3 = readonly(self._P3 - 0.5)

        if weights is None:
            w = np.full(X, 1.0 / X)
        else:
            if not self._contextual:
                raise ValueError(
                    f"weights are only for a contextual Pref of shape (X, K, K); got Pref of shape {P.shape}"
                )
            w = as_float_array(weights, "weights", ndim=1)
            if w.shape != (X,):
                raise ValueError(f"weights must have shape ({X},), got {w.shape}")
            neg = np.flatnonzero(w < 0)
            if neg.size:
                raise ValueError(f"weights[{neg[0]}] is {w[neg[0]]:.6g}, expected >= 0")
            if abs(w.sum() - 1.0) > atol:
                raise ValueError(f"weights sums to {w.sum():.12g}, expected 1 within {atol:g}")
            if abs(w.sum() - 1.0) > 1e-14:
                w = w / w.sum()
        self._weights = readonly(w)
        ref2 = self._check_ref(ref, atol) if ref is not None else np.full((X, K), 1.0 / K)
        self._ref2 = readonly(ref2)
        self._ref = self._ref2 if self._contextual else self._ref2[0]
        self._frozen = True

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(f"PreferenceGame is immutable; cannot set {name!r}")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        ctx = f", n_contexts={self._X}" if self._contextual else ""
        return f"PreferenceGame(n_responses={self._K}{ctx})"

    # -- read-only views ------------------------------------------------------------------------
    @property
    def Pref(self) -> np.ndarray:
        """``(K, K)`` or ``(X, K, K)``, read-only, exactly complementary."""
        return self._Pref

    @property
    def n_responses(self) -> int:
        """``K``."""
        return self._K

    @property
    def n_contexts(self) -> int:
        """``X`` (1 for a non-contextual game)."""
        return self._X

    @property
    def contextual(self) -> bool:
        return self._contextual

    @property
    def weights(self) -> np.ndarray:
        """Context distribution ``(X,)`` (``[1.0]`` for a non-contextual game)."""
        return self._weights

    @property
    def ref(self) -> np.ndarray:
        """Default reference policy :math:`\\mu`, ``(K,)`` or ``(X, K)``, full support."""
        return self._ref

    # -- validation helpers ---------------------------------------------------------------------
    def _shape(self) -> tuple[int, ...]:
        return (self._X, self._K) if self._contextual else (self._K,)

    def _check_ref(self, ref, atol: float = ROW_SUM_ATOL) -> np.ndarray:
        """Validate a reference policy; return it as ``(X, K)``, renormalised."""
        r = as_float_array(ref, "ref", ndim=(1, 2))
        K, X = self._K, self._X
        if r.shape not in {(K,), self._shape()}:
            want = f"({K},) or ({X}, {K})" if self._contextual else f"({K},)"
            raise ValueError(f"ref must have shape {want}, got {r.shape}")
        bad = r <= 0
        if bad.any():
            idx = np.argwhere(bad)[0]
            raise ValueError(f"ref[{_index_str(idx)}] is {r[tuple(idx)]:.6g}, expected > 0 (full support)")
        sums = r.sum(axis=-1)
        badrow = np.abs(sums - 1.0) > atol
        if np.any(badrow):
            where = "ref" if r.ndim == 1 else f"ref[{int(np.argmax(badrow))}, :]"
            val = float(np.atleast_1d(sums)[np.argmax(np.atleast_1d(badrow))])
            raise ValueError(f"{where} sums to {val:.12g}, expected 1 within {atol:g}")
        if np.any(np.abs(sums - 1.0) > 1e-14):  # renormalise; a normalised ref round-trips exactly
            r = r / sums[..., None] if r.ndim == 2 else r / sums
        return np.broadcast_to(r, (X, K)).copy()

    def _ref_or_default(self, ref) -> np.ndarray:
        return self._ref2 if ref is None else self._check_ref(ref)

    def _check_policy(self, pi, name: str = "pi") -> np.ndarray:
        """Validate a policy of the game's shape; return it as ``(X, K)``."""
        p = as_float_array(pi, name, ndim=(1, 2))
        if p.shape != self._shape():
            raise ValueError(f"{name} must have shape {self._shape()}, got {p.shape}")
        neg = p < 0
        if neg.any():
            idx = np.argwhere(neg)[0]
            raise ValueError(f"{name}[{_index_str(idx)}] is {p[tuple(idx)]:.6g}, expected >= 0")
        sums = np.atleast_1d(p.sum(axis=-1))
        bad = np.abs(sums - 1.0) > ROW_SUM_ATOL
        if bad.any():
            i = int(np.argmax(bad))
            where = name if p.ndim == 1 else f"{name}[{i}, :]"
            raise ValueError(f"{where} sums to {sums[i]:.12g}, expected 1 within {ROW_SUM_ATOL:g}")
        return p.reshape(self._X, self._K)

    def _out(self, arr2: np.ndarray) -> np.ndarray:
        return arr2 if self._contextual else arr2[0]

    # -- payoffs --------------------------------------------------------------------------------
    def win_rates(self, pi) -> np.ndarray:
        """``g(pi) = Pref @ pi``, i.e. ``g[y] = Pr(y > pi)``; shape ``(K,)`` or ``(X, K)``."""
        return self._out(_matvec(self._P3, self._check_policy(pi)))

    def preference(self, pi, pi2) -> float:
        """``P(pi > pi2) = pi^T Pref pi2`` (contextual: ``weights``-average over contexts)."""
        p = self._check_policy(pi, "pi")
        q = self._check_policy(pi2, "pi2")
        per = np.einsum("xi,xi->x", p, _matvec(self._P3, q))
        return float(self._weights @ per)

    # -- exploitability -------------------------------------------------------------------------
    def _exploitability_unclipped(self, p2, beta, ref2) -> np.ndarray:
        """The closed form of ``E_beta`` per context, ``(X,)``, as computed (round-off included)."""
        g = _matvec(self._A3, p2)  # = Pref pi - 1/2
        if beta == 0.0:
            e = g.max(axis=1)
        else:
            e = beta * logsumexp(np.log(ref2) + g / beta, axis=1) + beta * kl(p2, ref2, axis=1)
        return np.atleast_1d(np.asarray(e, dtype=np.float64))

    def _exploitability_per_context(self, p2, beta, ref2) -> np.ndarray:
        e = self._exploitability_unclipped(p2, beta, ref2)
        clip = np.maximum(CLIP_ATOL, CLIP_ULPS * _EPS * _roundoff_scale(beta, np.log(ref2)))
        if (e < -clip).any():
            x = int(np.argmax(-e / clip))
            raise RuntimeError(
                f"exploitability of context {x} is {e[x]:.3g} < -{clip[x]:.3g} (the round-off bound "
                f"{CLIP_ULPS:g} eps S): the invariant E >= 0 failed beyond round-off (please report)"
            )
        return np.maximum(e, 0.0)

    def exploitability(self, pi, beta: float = 0.0, ref=None) -> float:
        r"""Exploitability :math:`E_\beta(\pi) = \max_{\pi'} P_\beta(\pi' \succ \pi) - 1/2 \ge 0`.

        ``beta = 0``: :math:`\max_y (\mathrm{Pref}\,\pi)_y - 1/2`. ``beta > 0`` (in
        ``[1e-300, 1e300]``): the closed form
        :math:`\beta \log\sum_y \mu(y) e^{(\mathrm{Pref}\,\pi)_y/\beta} + \beta KL(\pi\|\mu) - 1/2`
        (docs/theory/nash.md, section 'Exploitability'). Its round-off grows with ``beta`` (module docstring):
        negatives down to ``-16 eps S``, ``S = 1 + beta (2 max|log mu| + 3 K)``, are clipped to 0;
        anything more negative raises ``RuntimeError``. Contextual: ``weights``-average.
        """
        b = check_beta(beta, allow_zero=True)
        p2 = self._check_policy(pi)
        ref2 = self._ref_or_default(ref)
        return float(self._weights @ self._exploitability_per_context(p2, b, ref2))

    def duality_gap(self, pi, beta: float = 0.0, ref=None) -> float:
        """Duality gap of the symmetric profile ``(pi, pi)``: ``2 * exploitability``."""
        return 2.0 * self.exploitability(pi, beta, ref)

    def fixed_point_residual(self, pi, beta: float, ref=None) -> float:
        r""":math:`\|\pi - \mathrm{softmax}(\log\mu + \mathrm{Pref}\,\pi/\beta)\|_\infty`
        (maximum over contexts); 0 exactly at :math:`\pi^*_\beta`."""
        b = check_beta(beta)
        p2 = self._check_policy(pi)
        return self._residual(p2, b, np.log(self._ref_or_default(ref)))

    def _residual(self, p2, beta, logmu2) -> float:
        z = logmu2 + _matvec(self._A3, p2) / beta
        q = np.exp(z - logsumexp(z, axis=1)[:, None])
        return float(np.abs(p2 - q).max())

    def equilibrium_certificate(self, pi, beta: float, ref=None) -> EquilibriumCertificate:
        r"""The certificate :meth:`regularized_nash` applies, for any policy ``pi``.

        Returns an :class:`EquilibriumCertificate`: the fixed-point residual and
        :math:`E_\beta(\pi)` (worst context, unclipped) with their round-off tolerances
        ``64 eps (max|log mu| + K/beta)`` and ``64 eps S`` (module docstring); ``.certified``
        says whether both hold and ``.kl_bound`` is the implied bound on
        :math:`KL(\pi\|\pi^*_\beta)`.
        """
        b = check_beta(beta)
        p2 = self._check_policy(pi)
        return self._certificate(p2, b, self._ref_or_default(ref))

    def _certificate(self, p2, beta, ref2) -> EquilibriumCertificate:
        logmu2 = np.log(ref2)
        L = float(np.abs(logmu2).max())
        return EquilibriumCertificate(
            beta=beta,
            residual=self._residual(p2, beta, logmu2),
            residual_tol=CERT_ULPS * _EPS * (L + self._K / beta),
            exploitability=float(self._exploitability_unclipped(p2, beta, ref2).max()),
            exploitability_tol=float(CERT_ULPS * _EPS * _roundoff_scale(beta, logmu2).min()),
        )

    # -- exact equilibria -----------------------------------------------------------------------
    def regularized_nash(self, beta: float, ref=None, *, tol: float = 1e-15, max_iter=None) -> np.ndarray:
        r"""The unique :math:`\beta`-regularised equilibrium :math:`\pi^*_\beta`, certified.

        ``beta >= 1e-2``: exact Nash Mirror Prox [2]_ (docs/theory/nash.md, section 'Nash-MP') at
        :math:`\eta = 2`, in log space, with :math:`a = 1/(1+\eta\beta)`,
        :math:`b = \eta\beta/(1+\eta\beta)`, :math:`c = \eta/(1+\eta\beta)`:

        .. math::
            \log\pi_{k+1/2} &= a\log\pi_k + b\log\mu + c\,\mathrm{Pref}\,\pi_k + \text{const},\\
            \log\pi_{k+1}   &= a\log\pi_k + b\log\mu + c\,\mathrm{Pref}\,\pi_{k+1/2} + \text{const},

        from :math:`\pi_0 = \mu`, which contracts :math:`KL(\pi^*_\beta, \pi_k)` by
        :math:`(1+2\beta)^{-1}` per iteration. It stops when
        :math:`\max|\pi_{k+1} - \pi_k| <` ``tol`` (or, below ``1e-13``, when 25 iterations bring
        no smaller step: the float64 floor). For ``K <= 2000`` a safeguarded Newton polish on
        the logit fixed point :math:`z = \log\mu + \mathrm{Pref}\,\mathrm{softmax}(z)/\beta`
        (Jacobian :math:`I - \mathrm{Pref}\,(\mathrm{diag}\,\pi - \pi\pi^T)/\beta`, steps kept
        only when they lower the fixed-point residual) is tried when the step first drops
        below ``1e-5``, ``1e-8`` and ``1e-11``; Mirror Prox then resumes to the stopping rule.

        ``1e-10 <= beta < 1e-2``: the above at ``beta0 = 0.1``, then Newton continuation of
        :math:`b \mapsto \pi^*_b` down to ``beta`` (:mod:`mdps._pref_equilibrium`; no
        ``1/beta`` iteration count).

        Certificate (module docstring): the fixed-point residual must be at most
        ``64 eps (max|log mu| + K / beta)`` and :math:`E_\beta` at most ``64 eps S``,
        ``S = 1 + beta (2 max|log mu| + 3 K)``, otherwise ``RuntimeError`` (with both values
        and tolerances) is raised; nothing uncertified is returned. This bounds
        :math:`KL(\pi\|\pi^*_\beta) \le 64\,\epsilon\,S/\beta`
        (:meth:`equilibrium_certificate`).

        Parameters
        ----------
        beta : float in [1e-10, 1e300]
        ref : array_like (K,) or (X, K), optional
            Reference policy :math:`\mu` (default: the game's ``ref``), full support.
        tol : float > 0
            Mirror Prox stopping step (of the ``beta0`` stage when continuing).
        max_iter : int >= 1, optional
            Cap on the Mirror Prox iterations. Default: the theorem's count
            :math:`\lceil\log(8\log(1/\mu_{\min})/tol^2) / \log(1+2\beta)\rceil + 100` (KL
            contraction plus Pinsker), computed in logs and clamped to ``1e9``.

        Returns
        -------
        ndarray, shape (K,) or (X, K)
            Entries below ``~1e-308`` (responses the equilibrium all but excludes at small
            ``beta``) underflow to 0.
        """
        b = check_beta(beta)
        if b < REG_NASH_BETA_MIN:
            raise ValueError(
                f"beta must be >= {REG_NASH_BETA_MIN:g} for regularized_nash (pi*_beta's condition number "
                f"grows like 1/beta: below this float64 cannot certify it), got {beta!r}"
            )
        tol = check_positive(tol, "tol")
        ref2 = self._ref_or_default(ref)
        logmu = np.log(ref2)
        b_mp = b if b >= CONTINUATION_BELOW else CONTINUATION_START
        if max_iter is None:
            kl0 = max(float(-logmu.min()), 1e-3)
            n = (math.log(8.0 * kl0) - 2.0 * math.log(tol)) / math.log1p(2.0 * b_mp)
            max_iter = int(min(max(math.ceil(n), 0) + 100, MAX_ITER_CAP))
        else:
            max_iter = check_int(max_iter, "max_iter", low=1)

        z, pi, n_iter = _eq.mirror_prox(self._A3, logmu, b_mp, tol, max_iter, eta=NASH_MP_ETA)
        how = f"{n_iter} Mirror Prox iterations"
        if b_mp != b:
            steps, reached = 0, b
            for x in range(self._X):
                z[x], bx, sx = _eq.newton_continuation(self._A3[x], logmu[x], b_mp, z[x], b)
                steps, reached = steps + sx, max(reached, bx)
            pi = np.exp(z)
            how += f" at beta={b_mp:g} and {steps} Newton continuation steps"
            if reached > b:
                how += f" (stalled at beta={reached:.3g})"

        cert = self._certificate(pi, b, ref2)
        if not cert.certified:
            raise RuntimeError(
                f"regularized_nash(beta={b!r}) not certified after {how}: fixed-point residual "
                f"{cert.residual:.3g} (tolerance {cert.residual_tol:.3g}), regularised exploitability "
                f"{cert.exploitability:.3g} (tolerance {cert.exploitability_tol:.3g}); raise max_iter "
                "or check the game"
            )
        return self._out(pi)

    def nash(self) -> np.ndarray:
        r"""An unregularised Nash equilibrium (von Neumann winner) by linear programming.

        Per context, HiGHS (:func:`scipy.optimize.linprog`) solves
        :math:`\max v` s.t. :math:`A^T\pi \ge v\mathbf 1`, :math:`\mathbf 1^T\pi = 1`,
        :math:`\pi \ge 0`, with :math:`A = \mathrm{Pref} - 1/2`. Certificate: the optimal value
        is 0 within ``1e-9`` and the returned (clipped, renormalised) policy has
        :math:`E_0 \le 10^{-9}`, else ``RuntimeError``. The equilibrium need not be unique; the
        LP returns one of them (a vertex of the Nash polytope).

        Returns
        -------
        ndarray, shape (K,) or (X, K)
        """
        K = self._K
        out = np.empty((self._X, K))
        c = np.zeros(K + 1)
        c[-1] = -1.0
        A_eq = np.ones((1, K + 1))
        A_eq[0, -1] = 0.0
        bounds = [(0.0, None)] * K + [(None, None)]
        for x in range(self._X):
            A = self._A3[x]
            A_ub = np.hstack([-A.T, np.ones((K, 1))])
            res = linprog(c, A_ub=A_ub, b_ub=np.zeros(K), A_eq=A_eq, b_eq=[1.0],
                          bounds=bounds, method="highs")
            if res.status != 0:
                raise RuntimeError(f"Nash LP of context {x} failed: {res.message}")
            v = -float(res.fun)
            pi = np.clip(res.x[:K], 0.0, None)
            pi /= pi.sum()
            e0 = float((A @ pi).max())
            if abs(v) > LP_ATOL or e0 > LP_ATOL:
                raise RuntimeError(
                    f"Nash LP of context {x} not certified: value {v:.3g} (expected 0 within "
                    f"{LP_ATOL:g}), exploitability {e0:.3g}"
                )
            out[x] = pi
        return self._out(out)

    # -- sampling oracle ------------------------------------------------------------------------
    def duel(self, i, j, *, rng=None, noise: float = 0.0, context=None) -> np.ndarray:
        r"""Bernoulli duels :math:`I \sim \mathrm{Bern}(\mathrm{Pref}[i, j])`: True when ``y_i`` wins.

        ``i``, ``j`` (and ``context``) are integer index arrays, broadcast together; the result
        is a bool array of the broadcast shape. With ``noise = eps`` each outcome is flipped
        with probability ``eps`` (symmetric label noise), i.e. the duel is
        :math:`\mathrm{Bern}((1-2\epsilon)\mathrm{Pref}[i,j] + \epsilon)`; one uniform per
        duel drawn from ``rng``, compared in the compiled kernel
        :func:`mdps._pref_kernels.duel_outcomes`. ``context`` is required for a contextual
        game and must be None (or 0) otherwise.
        """
        e = _check_noise(noise)
        gen = check_rng(rng)
        ii = self._check_index(i, "i", self._K)
        jj = self._check_index(j, "j", self._K)
        if context is None:
            if self._contextual:
                raise ValueError("context is required for a contextual game (ints in [0, X))")
            cc = np.zeros((), dtype=np.int64)
        else:
            cc = self._check_index(context, "context", self._X)
        try:
            ii, jj, cc = np.broadcast_arrays(ii, jj, cc)
        except ValueError:
            raise ValueError(
                f"i, j and context must broadcast to one shape, got shapes {ii.shape}, {jj.shape} and {cc.shape}"
            ) from None
        shape = ii.shape
        n = ii.size
        out = np.empty(n, dtype=np.bool_)
        u = gen.random(n)
        # np.array copies: a broadcast view must not reach the kernel (read-only semantics)
        _pk.duel_outcomes(self._P3, np.array(cc).ravel(), np.array(ii).ravel(), np.array(jj).ravel(), u, e, out)
        return out.reshape(shape)

    @staticmethod
    def _check_index(v, name: str, n: int) -> np.ndarray:
        arr = np.asarray(v)
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name} must be an integer index array, got dtype {arr.dtype}")
        bad = (arr < 0) | (arr >= n)
        if bad.any():
            idx = np.argwhere(bad)[0] if arr.ndim else ()
            where = f"{name}[{_index_str(idx)}]" if arr.ndim else name
            raise ValueError(f"{where} is {int(arr[tuple(idx)])}, expected in [0, {n})")
        return arr.astype(np.int64)

    def empirical_win_rates(self, pi, n_samples: int, *, rng=None, noise: float = 0.0) -> np.ndarray:
        r"""Monte Carlo estimate of ``Pref @ pi`` from Bernoulli duels.

        For every context ``x`` and response ``y``, ``n_samples`` opponents
        :math:`y' \sim \pi(x)` are drawn (inverse CDF) and ``y`` duels each once (with optional
        flip ``noise``); the estimate is the win frequency. Each entry is unbiased for
        :math:`(1-2\epsilon)\,(\mathrm{Pref}\,\pi)_y + \epsilon` with variance at most
        ``1/(4 n_samples)``. Duels used: exactly ``n_contexts * n_responses * n_samples``.

        Returns
        -------
        ndarray, shape (K,) or (X, K)
        """
        p2 = self._check_policy(pi)
        n = check_int(n_samples, "n_samples", low=1)
        e = _check_noise(noise)
        gen = check_rng(rng)
        X, K = self._X, self._K
        cdf = np.cumsum(p2, axis=1)
        u_opp = gen.random((X, K, n))
        opp = np.empty((X, K, n), dtype=np.int64)
        for x in range(X):
            o = np.searchsorted(cdf[x], u_opp[x], side="right")
            last = int(np.flatnonzero(p2[x] > 0)[-1])
            opp[x] = np.minimum(o, last)  # guard: round-off leaving cdf[-1] < u
        ctx = np.broadcast_to(np.arange(X)[:, None, None], (X, K, n)).ravel().copy()
        ii = np.broadcast_to(np.arange(K)[None, :, None], (X, K, n)).ravel().copy()
        out = np.empty(X * K * n, dtype=np.bool_)
        _pk.duel_outcomes(self._P3, ctx, ii, opp.ravel(), gen.random(X * K * n), e, out)
        return self._out(out.reshape(X, K, n).mean(axis=2))
