"""Boundary validation shared by every room of the lab (public: ``mdps.validation``).

One error style for the whole lab: the message names the argument, the violated condition and
the offending value, e.g. ``"P[3, 1, :] sums to 0.97, expected 1 within 1e-09"``. Kernels never
validate; they trust what passes through here.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "ROW_SUM_ATOL",
    "as_float_array",
    "check_finite",
    "check_nonnegative",
    "check_rows_stochastic",
    "check_distribution",
    "check_gamma",
    "check_int",
    "check_positive",
    "check_choice",
    "readonly",
]

#: Absolute tolerance on the row sums of a transition kernel. Generators produce rows exact to
#: ~1e-15; data loaded from files (pymdptoolbox, gymnasium) is often rounded to ~1e-12.
ROW_SUM_ATOL = 1e-9


def _index_str(idx) -> str:
    return ", ".join(str(int(i)) for i in idx)


def as_float_array(x, name: str, *, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Convert ``x`` to a C-contiguous float64 array, rejecting non-numeric and non-finite input.

    Refused, one style (``TypeError`` naming ``name``): complex input (even with a zero
    imaginary part: a silent truncation to the real part hides a bug upstream), strings and
    bytes (also numeric ones such as ``"0.5"``), object arrays that are not plain numbers, and
    masked arrays (their mask would be dropped silently; fill or compress them first).
    """
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a numpy masked array; its mask would be ignored: pass "
            f"{name}.filled(value) or {name}.compressed() instead"
        )
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array, got {type(x).__name__} {x!r}")
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}: {exc}") from None
    if raw.dtype.kind == "O":
        # lists mixing numbers and strings, ragged nestings, ...: accept plain real numbers only
        flat = raw.ravel()
        bad = next((v for v in flat if isinstance(v, (str, bytes, complex, np.complexfloating))
                    or not isinstance(v, (int, float, np.integer, np.floating, np.bool_))), None)
        if bad is not None or flat.size == 0 and raw.ndim == 0:
            raise TypeError(
                f"{name} must be an array of real numbers, got an entry {bad!r} of type {type(bad).__name__}"
            )
    elif raw.dtype.kind not in "biuf":
        what = {"c": "complex", "U": "strings", "S": "bytes", "M": "datetimes", "m": "timedeltas",
                "V": "structured records"}.get(raw.dtype.kind, str(raw.dtype))
        raise TypeError(f"{name} must be an array of real numbers, got {what} (dtype {raw.dtype})")
    try:
        arr = np.array(raw, dtype=np.float64, order="C", copy=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}: {exc}") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {arr.shape}")
    check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise ValueError(f"{name}[{_index_str(idx)}] is {arr[tuple(idx)]}, expected a finite number")


def check_nonnegative(arr: np.ndarray, name: str) -> None:
    neg = arr < 0
    if neg.any():
        idx = np.argwhere(neg)[0]
        raise ValueError(f"{name}[{_index_str(idx)}] is {arr[tuple(idx)]:.6g}, expected >= 0")


def check_rows_stochastic(arr: np.ndarray, name: str, *, atol: float = ROW_SUM_ATOL) -> None:
    """Entries >= 0 and every slice along the last axis sums to 1 within ``atol``."""
    check_finite(arr, name)
    check_nonnegative(arr, name)
    sums = arr.sum(axis=-1)
    bad = np.abs(sums - 1.0) > atol
    if bad.any():
        idx = np.argwhere(bad)[0] if sums.ndim else ()
        where = f"{name}[{_index_str(idx)}, :]" if sums.ndim else name
        val = sums[tuple(idx)] if sums.ndim else float(sums)
        raise ValueError(f"{where} sums to {val:.12g}, expected 1 within {atol:g}")


def check_distribution(x, name: str, n: int, *, atol: float = ROW_SUM_ATOL) -> np.ndarray:
    arr = as_float_array(x, name, ndim=1)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
    check_rows_stochastic(arr, name, atol=atol)
    return arr


def check_gamma(gamma) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"gamma must be a real number in [0, 1), got {gamma!r}")
    g = float(gamma)
    if not (0.0 <= g < 1.0):
        raise ValueError(f"gamma must lie in [0, 1), got {gamma!r}")
    return g


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"{name} must be >= {low}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be <= {high}, got {v}")
    return v


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not np.isfinite(v) or (v < 0 if allow_zero else v <= 0):
        cond = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {cond}, got {value!r}")
    return v


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def readonly(a):
    """Mark an array read-only in place and return it (anything that is not an array passes
    through unchanged). Containers and result records use it so that validated data cannot be
    modified afterwards."""
    if isinstance(a, np.ndarray):
        a.setflags(write=False)
    return a
