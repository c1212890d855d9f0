"""Small statistics for rate checks: a percentile bootstrap interval and the interquartile mean.

Both are thin, validated wrappers over SciPy:

* :func:`bootstrap_ci` is ``scipy.stats.bootstrap(..., method="percentile")`` with the lab's
  defaults (90% interval, as theory/mdp.md section 0.3 asks for rate checks) and the lab's
  ``rng`` convention. The percentile method is used rather than BCa because BCa is undefined
  on the degenerate samples the lab produces routinely (exact solvers give identical errors on
  every seed); those samples get the degenerate interval ``(x, x)`` without a warning.
* :func:`iqm` is the interquartile mean, ``scipy.stats.trim_mean(x, 0.25)`` (Agarwal et al.,
  2021, "Deep RL at the edge of the statistical precipice", arXiv:2108.13264).
"""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np
from scipy import stats as _st

__all__ = ["bootstrap_ci", "iqm"]


def _as_1d_finite(samples, name: str) -> np.ndarray:
    a = np.asarray(samples, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} must contain at least one value, got an empty array")
    bad = ~np.isfinite(a)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite, got {a[i]} at index {i} ({int(bad.sum())} non-finite values)")
    return a


def _check_confidence(confidence: float) -> float:
    c = float(confidence)
    if not 0.0 < c < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    return c


def _check_n_resamples(n_resamples: int) -> int:
    if isinstance(n_resamples, (bool, np.bool_)) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    return int(n_resamples)


def _is_vectorized(statistic: Callable) -> bool:
    try:
        return "axis" in inspect.signature(statistic).parameters
    except (TypeError, ValueError):  # some ufunc-like callables have no signature
        return False


def bootstrap_ci(samples, statistic: Callable = np.mean, *, confidence: float = 0.9,
                 n_resamples: int = 2000, rng=0) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of ``statistic(samples)``.

    Parameters
    ----------
    samples : array_like, shape (n,)
        Independent replicates (typically one value per seed). Must be finite.
    statistic : callable
        ``statistic(samples) -> float``. If it accepts an ``axis`` keyword (``np.mean``,
        ``np.median``, ...) it is evaluated vectorized over all resamples at once.
    confidence : float
        Two-sided confidence level in (0, 1).
    n_resamples : int
        Number of bootstrap resamples.
    rng : int, Generator or SeedSequence
        Normalized with ``numpy.random.default_rng``.

    Returns
    -------
    (low, high) : tuple of float
        With a single sample, or all samples equal, the degenerate interval
        ``(statistic(samples), statistic(samples))``.

    Examples
    --------
    >>> lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0], rng=0)
    >>> lo <= 2.5 <= hi
    True
    """
    a = _as_1d_finite(samples, "samples")
    confidence = _check_confidence(confidence)
    n_resamples = _check_n_resamples(n_resamples)
    if not callable(statistic):
        raise TypeError(f"statistic must be callable, got {type(statistic).__name__}")
    if a.size == 1 or np.all(a == a[0]):
        v = float(statistic(a))
        return v, v
    res = _st.bootstrap((a,), statistic, n_resamples=n_resamples, vectorized=_is_vectorized(statistic),
                        confidence_level=confidence, method="percentile",
                        rng=np.random.default_rng(rng))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def iqm(x) -> float:
    """Interquartile mean: the mean of the middle 50% of ``x`` (``scipy.stats.trim_mean(x, 0.25)``).

    >>> iqm([1, 2, 3, 4, 5, 6, 7, 100])
    4.5
    """
    a = _as_1d_finite(np.ravel(np.asarray(x, dtype=float)), "x")
    return float(_st.trim_mean(a, 0.25))
