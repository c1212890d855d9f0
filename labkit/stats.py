"""Small statistics for rate checks: a percentile bootstrap interval and the interquartile mean.

Both are thin, validated wrappers over SciPy:

* :func:`bootstrap_ci` is ``scipy.stats.bootstrap(..., method="percentile")`` with the lab's
  defaults (90% interval, as docs/theory/planning.md, section 'Rate fitting conventions' asks for rate checks) and the lab's
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

from labkit._validation import integer, real, real_array

__all__ = ["bootstrap_ci", "iqm"]


def _as_1d_finite(samples, name: str) -> np.ndarray:
    a = real_array(samples, name)
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
    return real(confidence, "confidence", low=0.0, high=1.0, low_open=True, high_open=True)


#: Bootstrap resamples beyond this cost minutes and change no interval at the printed precision.
MAX_RESAMPLES = 10**6


def _check_n_resamples(n_resamples: int) -> int:
    n = integer(n_resamples, "n_resamples", low=1)
    if n > MAX_RESAMPLES:
        raise ValueError(f"n_resamples must be at most {MAX_RESAMPLES:.0e}, got {n}")
    return n


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
        return _finite_result((v, v), "the bootstrap interval of samples")
    with np.errstate(over="ignore", invalid="ignore"):
        res = _st.bootstrap((a,), statistic, n_resamples=n_resamples, vectorized=_is_vectorized(statistic),
                            confidence_level=confidence, method="percentile",
                            rng=np.random.default_rng(rng))
    return _finite_result((float(res.confidence_interval.low), float(res.confidence_interval.high)),
                          "the bootstrap interval of samples")


def _finite_result(values: tuple[float, ...], what: str):
    """Refuse a statistic that overflowed float64 (samples near 1e308), naming the input."""
    if not all(np.isfinite(values)):
        raise ValueError(f"{what} is not finite ({values}): the statistic overflows float64 on these values; "
                         "rescale them")
    return values if len(values) > 1 else values[0]


def iqm(x) -> float:
    """Interquartile mean: the mean of the middle 50% of ``x`` (``scipy.stats.trim_mean(x, 0.25)``).

    >>> iqm([1, 2, 3, 4, 5, 6, 7, 100])
    4.5
    """
    a = _as_1d_finite(np.ravel(real_array(x, "x")), "x")
    with np.errstate(over="ignore", invalid="ignore"):
        return _finite_result((float(_st.trim_mean(a, 0.25)),), "the interquartile mean of x")
