"""Rate fitting with confidence intervals over seeds (docs/theory/planning.md, section 'Rate fitting conventions').

Two kinds of rate appear in the lab's theorems:

* **Sublinear** (regret ``~ K^alpha``, error ``~ N^(-beta)``): :func:`fit_power_law` fits the OLS
  slope of ``log(mean over seeds of Y)`` on ``log x`` over the tail of the grid, the points with
  ``x >= x_max / 10**tail_decades`` (early phases bias slopes, so the head is dropped), and a
  percentile-bootstrap interval by resampling seeds (rows) with replacement and refitting.
* **Linear** (error ``~ C c^k``): :func:`fit_linear_rate` fits, per seed, the OLS slope of
  ``log err_k`` on ``k`` over the iterations whose error lies in the window
  ``[1e-11 * scale, 1e-2 * scale]`` (``scale = err_0`` by default), and reports the contraction
  factor ``c = exp(slope)``: the mean of the per-seed factors with a percentile-bootstrap
  interval over seeds. The window keeps the transient (top) and the round-off floor (bottom)
  out of the fit.

Both return a frozen :class:`RateFit`; :func:`compare` turns one into a verdict with
:func:`labkit.check.verdict`.

Decisions where the brief was silent
------------------------------------
* ``RateFit.intercept`` is in log space: ``log y = intercept + estimate * log x`` for a power
  law; for a linear rate it is the mean over seeds of the per-seed intercepts of
  ``log err_k = intercept + log(c) * k``.
* A power-law fit whose rows are all identical (one seed, or exact data) gets the degenerate
  interval ``(estimate, estimate)``, so exact power laws have a CI of width exactly 0.
* ``fit_linear_rate`` uses every in-window point of a row, not only the first contiguous run;
  ``n_points`` counts in-window points over all seeds and ``x_range`` is the smallest and
  largest iteration index used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from labkit._validation import real, real_array
from labkit.check import verdict
from labkit.stats import _check_confidence, _check_n_resamples, bootstrap_ci

__all__ = ["RateFit", "fit_power_law", "fit_linear_rate", "compare"]

KINDS = ("power_law", "linear")


@dataclass(frozen=True)
class RateFit:
    """A fitted rate with its confidence interval.

    Attributes
    ----------
    estimate : float
        The slope (``kind="power_law"``) or the contraction factor ``c`` (``kind="linear"``).
    ci_low, ci_high : float
        Percentile-bootstrap confidence limits over seeds.
    kind : {"power_law", "linear"}
    n_points : int
        Points used by the fit (tail points; for linear rates, in-window points over all seeds).
    n_seeds : int
    x_range : (float, float)
        The x (or iteration) range the fit used.
    intercept : float
        Log-space intercept (see the module docstring).
    confidence : float
        Confidence level of the interval.
    per_seed : tuple of float
        Per-seed factors (linear rates only; empty for power laws).
    """

    estimate: float
    ci_low: float
    ci_high: float
    kind: str
    n_points: int
    n_seeds: int
    x_range: tuple[float, float]
    intercept: float
    confidence: float = 0.9
    per_seed: tuple[float, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def ci(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)

    def as_dict(self) -> dict:
        """Plain JSON data (for :class:`labkit.Outcome` extras); :meth:`from_dict` inverts it."""
        d = asdict(self)
        d["x_range"] = [float(v) for v in self.x_range]
        d["per_seed"] = [float(v) for v in self.per_seed]
        for k in ("estimate", "ci_low", "ci_high", "intercept", "confidence"):
            d[k] = float(d[k])
        d["n_points"], d["n_seeds"] = int(self.n_points), int(self.n_seeds)
        return d

    @classmethod
    def from_dict(cls, d) -> "RateFit":
        """The fit stored by :meth:`as_dict` (e.g. in a stored check result's extras)."""
        return cls(estimate=float(d["estimate"]), ci_low=float(d["ci_low"]), ci_high=float(d["ci_high"]),
                   kind=d["kind"], n_points=int(d["n_points"]), n_seeds=int(d["n_seeds"]),
                   x_range=tuple(float(v) for v in d["x_range"]), intercept=float(d["intercept"]),
                   confidence=float(d.get("confidence", 0.9)), per_seed=tuple(float(v) for v in d.get("per_seed", ())))


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS slope and intercept of ``y`` on ``x`` along the last axis (``y`` may be batched)."""
    xc = x - x.mean()
    slope = (y * xc).sum(axis=-1) / (xc * xc).sum()
    return slope, y.mean(axis=-1) - slope * x.mean()


def fit_power_law(x, Y, *, tail_decades: float = 1.0, confidence: float = 0.9,
                  n_resamples: int = 2000, rng=0, center: str = "mean") -> RateFit:
    """Fit ``mean_seeds Y ~ C x^alpha`` on the tail of the grid; bootstrap over seeds.

    Parameters
    ----------
    x : array_like, shape (n_x,)
        Positive, strictly increasing checkpoints (e.g. episodes K or sample sizes N).
    Y : array_like, shape (n_seeds, n_x) or (n_x,)
        Positive, finite metric; a 1-D array is one seed (degenerate interval).
    tail_decades : float
        The fit uses the points with ``x >= x.max() / 10**tail_decades`` (at least 3).
    confidence, n_resamples, rng
        Percentile bootstrap over seeds: rows are resampled with replacement, the mean curve
        is recomputed and refitted.
    center : {"mean", "median"}
        The curve fitted: the mean over seeds (default) or the median (robust to a heavy upper
        tail, e.g. the rare runs of a high-probability bound's failure event, and exact when
        fewer than half the seeds hold a censored lower bound).

    Returns
    -------
    RateFit
        ``kind="power_law"``, ``estimate`` the slope ``alpha``.

    Examples
    --------
    >>> x = np.logspace(0, 3, 20)
    >>> fit_power_law(x, 2.0 * x**0.5).estimate  # doctest: +ELLIPSIS
    0.5...
    """
    x = real_array(x, "x")
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be a non-empty 1-D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"x must be positive and finite, got min {np.min(x) if x.size else None}")
    if np.any(np.diff(x) <= 0):
        i = int(np.flatnonzero(np.diff(x) <= 0)[0])
        raise ValueError(f"x must be strictly increasing, got x[{i}]={x[i]} >= x[{i + 1}]={x[i + 1]}")
    Y = real_array(Y, "Y")
    if Y.ndim == 1:
        Y = Y[None, :]
    if Y.ndim != 2 or Y.shape[1] != x.size or Y.shape[0] < 1:
        raise ValueError(f"Y must have shape (n_seeds, {x.size}) or ({x.size},) to match x, got {np.shape(Y)}")
    if not np.all(np.isfinite(Y)):
        raise ValueError(f"Y must be finite, got {int((~np.isfinite(Y)).sum())} non-finite values")
    if np.any(Y <= 0):
        raise ValueError(f"Y must be positive for a log-log fit, got min {Y.min()}")
    tail_decades = real(tail_decades, "tail_decades", low=0.0, high=640.0, low_open=True)  # float64 spans ~630
    confidence = _check_confidence(confidence)
    n_resamples = _check_n_resamples(n_resamples)
    if center not in ("mean", "median"):
        raise ValueError(f"center must be 'mean' or 'median', got {center!r}")
    reduce = np.mean if center == "mean" else np.median

    tail = x >= x[-1] / 10.0**tail_decades
    n_tail = int(tail.sum())
    if n_tail < 3:
        raise ValueError(f"x has {n_tail} points in the tail x >= {x[-1] / 10.0**tail_decades:.6g} "
                         f"(tail_decades={tail_decades}); at least 3 are needed")
    lx, Yt = np.log(x[tail]), Y[:, tail]
    slope, intercept = _ols(lx, np.log(reduce(Yt, axis=0)))
    n_seeds = Y.shape[0]
    if n_seeds == 1 or np.all(Yt == Yt[0]):
        lo = hi = float(slope)
    else:
        gen = np.random.default_rng(rng)
        slopes = np.empty(n_resamples)
        chunk = max(1, 2_000_000 // (n_seeds * n_tail))  # bound memory of the (B, n_seeds, n_tail) draw
        for start in range(0, n_resamples, chunk):
            b = min(chunk, n_resamples - start)
            idx = gen.integers(0, n_seeds, size=(b, n_seeds))
            slopes[start:start + b] = _ols(lx, np.log(reduce(Yt[idx], axis=1)))[0]
        alpha = (1.0 - confidence) / 2.0
        lo, hi = (float(v) for v in np.quantile(slopes, [alpha, 1.0 - alpha]))
    return RateFit(estimate=float(slope), ci_low=lo, ci_high=hi, kind="power_law", n_points=n_tail,
                   n_seeds=n_seeds, x_range=(float(x[tail][0]), float(x[-1])), intercept=float(intercept),
                   confidence=confidence)


def _error_rows(errors) -> list[np.ndarray]:
    if isinstance(errors, np.ndarray) or not isinstance(errors, Sequence) or (
            len(errors) > 0 and np.ndim(errors[0]) == 0):
        a = real_array(errors, "errors")
        if a.ndim == 1:
            rows = [a]
        elif a.ndim == 2:
            rows = list(a)
        else:
            raise ValueError(f"errors must be 1-D, 2-D (n_seeds, n_iter+1) or a list of 1-D arrays, got shape {a.shape}")
    else:
        rows = [real_array(r, f"errors[{i}]") for i, r in enumerate(errors)]
        for i, r in enumerate(rows):
            if r.ndim != 1:
                raise ValueError(f"errors[{i}] must be 1-D, got shape {r.shape}")
    if len(rows) == 0:
        raise ValueError("errors must contain at least one seed, got none")
    for i, r in enumerate(rows):
        if r.size == 0:
            raise ValueError(f"errors[{i}] is empty")
        if not np.all(np.isfinite(r)):
            raise ValueError(f"errors[{i}] must be finite, got {int((~np.isfinite(r)).sum())} non-finite values")
        if np.any(r < 0):
            raise ValueError(f"errors[{i}] must be non-negative, got min {r.min()}")
    return rows


def fit_linear_rate(errors, *, window: tuple[float, float] = (1e-11, 1e-2), relative: bool = True,
                    confidence: float = 0.9, n_resamples: int = 2000, rng=0) -> RateFit:
    """Fit the contraction factor ``c`` of ``err_k ~ C c^k`` on an error window, per seed.

    Parameters
    ----------
    errors : array_like, shape (n_seeds, n_iter+1) or (n_iter+1,), or a list of 1-D arrays
        Non-negative errors against the exact answer, ``errors[..., k]`` after ``k`` iterations.
        Rows may have different lengths (pass a list).
    window : (lo, hi)
        Only iterations with ``lo * scale <= err_k <= hi * scale`` enter the fit, where
        ``scale = err_0`` of the row if ``relative`` else 1 (docs/theory/planning.md, section 'Rate fitting conventions'). Errors equal
        to 0 or below the window (round-off) and above it (transient) are ignored.
    relative : bool
        Scale the window by each row's initial error.
    confidence, n_resamples, rng
        Percentile bootstrap over seeds of the mean per-seed factor.

    Returns
    -------
    RateFit
        ``kind="linear"``; ``estimate`` the mean of the per-seed factors ``exp(slope)``, which
        are stored in ``per_seed``.

    Raises
    ------
    ValueError
        If a row has fewer than 3 points in the window (the message gives the window and the
        range of errors seen), or on invalid input.

    Examples
    --------
    >>> fit = fit_linear_rate(0.9 ** np.arange(400))
    >>> round(fit.estimate, 12)
    0.9
    """
    rows = _error_rows(errors)
    if not isinstance(window, (tuple, list)) or len(window) != 2:
        raise TypeError(f"window must be a pair (lo, hi) of real numbers, got {window!r}")
    lo_w = real(window[0], "window[0]", low=0.0)
    hi_w = real(window[1], "window[1]", low=0.0)
    if not (0.0 <= lo_w < hi_w) or not np.isfinite(hi_w):
        raise ValueError(f"window must satisfy 0 <= lo < hi < inf, got {window!r}")
    confidence = _check_confidence(confidence)
    n_resamples = _check_n_resamples(n_resamples)

    factors, intercepts, n_points, k_used = [], [], 0, []
    for i, r in enumerate(rows):
        scale = r[0] if relative else 1.0
        if relative and scale <= 0:
            raise ValueError(f"errors[{i}][0] is {scale}; a relative window needs a positive initial error")
        with np.errstate(over="ignore"):  # a huge window times a huge error is an unbounded window
            lo, hi = lo_w * scale, hi_w * scale
        k = np.flatnonzero((r > 0) & (r >= lo) & (r <= hi))
        if k.size < 3:
            pos = r[r > 0]
            seen = f"[{pos.min():.3g}, {pos.max():.3g}]" if pos.size else "all zero"
            raise ValueError(
                f"errors[{i}] has {k.size} points in the window [{lo:.3g}, {hi:.3g}] "
                f"(window={window}, relative={relative}); at least 3 are needed; positive errors seen {seen}")
        slope, b = _ols(k.astype(float), np.log(r[k]))
        factors.append(float(np.exp(slope)))
        intercepts.append(float(b))
        n_points += k.size
        k_used += [k[0], k[-1]]
    per_seed = np.array(factors)
    ci = bootstrap_ci(per_seed, np.mean, confidence=confidence, n_resamples=n_resamples, rng=rng)
    return RateFit(estimate=float(per_seed.mean()), ci_low=ci[0], ci_high=ci[1], kind="linear",
                   n_points=int(n_points), n_seeds=len(rows), x_range=(float(min(k_used)), float(max(k_used))),
                   intercept=float(np.mean(intercepts)), confidence=confidence, per_seed=tuple(factors))


def compare(fit: RateFit, expected: float, relation: str, tol: float) -> bool:
    """Whether ``fit`` satisfies the theorem's figure (see :func:`labkit.check.verdict`)."""
    return verdict(fit.estimate, fit.ci, expected, relation, tol)
