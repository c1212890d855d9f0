"""Numerically delicate primitives, defined once (norms, span seminorm, ...)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["span", "sup_norm", "binary_exponent"]


def span(v) -> float:
    """Span seminorm ``sp(v) = max_s v(s) - min_s v(s)`` (0 for an empty vector)."""
    v = np.asarray(v, dtype=np.float64)
    return float(v.max() - v.min()) if v.size else 0.0


def sup_norm(v) -> float:
    """``||v||_inf`` (0 for an empty vector)."""
    v = np.asarray(v, dtype=np.float64)
    return float(np.abs(v).max()) if v.size else 0.0


def binary_exponent(x) -> int:
    """The exponent ``e`` with ``max |x| / 2**e`` in ``[0.5, 1)`` (0 when ``x`` is all zeros).

    Dividing by ``2**e`` (:func:`numpy.ldexp` with ``-e``) is exact in binary floating point
    (except for entries pushed below the normal range, ``|x_i| < 2**(e - 1022)``, which round
    to subnormals), so a solver can work on data of unit scale and multiply its answer back (the
    LPs use it to keep HiGHS's coefficients far below its infinity, 1e20).

    Examples
    --------
    >>> binary_exponent([0.75, -3.0]), binary_exponent([0.0])
    (2, 0)
    """
    m = float(np.abs(np.asarray(x, dtype=np.float64)).max(initial=0.0))
    return math.frexp(m)[1] if m > 0.0 else 0


# -- log-space primitives for probability vectors (softmax, KL, entropy) -------------------------
# Shared by the preference games and the Nash / preference-learning algorithms. Every function
# works along ``axis`` (default: the last one), returns float64, and never produces NaN from
# finite input: ``-inf`` logits (zero probabilities) are allowed, ``0 log 0 = 0``.

__all__ += ["logsumexp", "log_softmax", "softmax", "kl", "log_span", "entropy"]


def logsumexp(z, axis: int = -1):
    r"""``log sum_i exp(z_i)`` along ``axis``, computed as ``m + log sum exp(z - m)``, ``m = max z``.

    ``-inf`` entries contribute 0; an all ``-inf`` slice gives ``-inf``; a ``+inf`` entry gives
    ``+inf``. Returns a float for 1-d input, else an array with ``axis`` removed.
    """
    z = np.asarray(z, dtype=np.float64)
    m = np.max(z, axis=axis, keepdims=True)
    m_safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(z - m_safe), axis=axis, keepdims=True)) + m_safe
    out = np.where(np.isposinf(m), np.inf, out)
    out = np.squeeze(out, axis=axis)
    return float(out) if out.ndim == 0 else out


def log_softmax(z, axis: int = -1) -> np.ndarray:
    """``z - logsumexp(z)`` along ``axis``: log-probabilities (``-inf`` logits stay ``-inf``)."""
    z = np.asarray(z, dtype=np.float64)
    return z - np.expand_dims(logsumexp(z, axis=axis), axis)


def softmax(z, axis: int = -1) -> np.ndarray:
    """``exp(z - logsumexp(z))`` along ``axis``: stable for logits of any magnitude."""
    return np.exp(log_softmax(z, axis=axis))


def kl(p, q, axis: int = -1):
    r""":math:`KL(p \| q) = \sum_i p_i \log(p_i / q_i)` along ``axis``.

    Conventions: terms with ``p_i = 0`` are 0 (``0 log 0 = 0`` and ``0 log(0/0) = 0``); the
    result is ``+inf`` where some ``q_i = 0 < p_i``. Inputs are taken as given (not
    renormalised); for probability vectors the result is ``>= 0`` up to round-off.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p, q = np.broadcast_arrays(p, q)
    pos = p > 0
    with np.errstate(divide="ignore"):
        terms = np.where(pos, p * (np.log(np.where(pos, p, 1.0)) - np.log(np.where(pos, q, 1.0))), 0.0)
    out = np.sum(terms, axis=axis)
    return float(out) if np.ndim(out) == 0 else out


def log_span(log_p, log_q) -> float:
    r"""Span seminorm of ``log p - log q``: :math:`\max_y(\log p - \log q) - \min_y(\cdot)`.

    The Nash Mirror Prox metric (docs/theory/nash.md, section 'Exploitability'); invariant to adding a
    constant to either argument, so unnormalised logits may be passed. ``+inf`` when exactly
    one of the two has a ``-inf`` entry at some position; positions where both are ``-inf`` are
    ignored. For an ``(X, K)`` input the span is taken per row and the maximum returned.
    """
    a = np.asarray(log_p, dtype=np.float64)
    b = np.asarray(log_q, dtype=np.float64)
    a, b = np.broadcast_arrays(a, b)
    if a.size == 0:
        return 0.0
    both = np.isneginf(a) & np.isneginf(b)
    if (np.isneginf(a) ^ np.isneginf(b)).any():
        return float("inf")
    d = np.where(both, np.nan, a - np.where(both, 0.0, b))
    if a.ndim <= 1:
        return float(np.nanmax(d) - np.nanmin(d)) if not both.all() else 0.0
    d2 = d.reshape(-1, d.shape[-1])
    spans = [np.nanmax(r) - np.nanmin(r) for r in d2 if not np.isnan(r).all()]
    return float(max(spans)) if spans else 0.0


def entropy(p, axis: int = -1):
    r"""Shannon entropy :math:`H(p) = -\sum_i p_i \log p_i` (nats) along ``axis``, ``0 log 0 = 0``."""
    p = np.asarray(p, dtype=np.float64)
    pos = p > 0
    out = 0.0 - np.sum(np.where(pos, p * np.log(np.where(pos, p, 1.0)), 0.0), axis=axis)
    return float(out) if np.ndim(out) == 0 else out
