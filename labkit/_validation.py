"""Argument validation for labkit's public functions, in the lab's one error style.

``labkit`` imports none of the other rooms, so it cannot use :mod:`mdps.validation`; these few
helpers follow the same conventions: a ``TypeError`` for a value of the wrong kind (strings,
complex numbers, bools where numbers are expected, ragged or object arrays) and a
``ValueError`` for a value out of range, each naming the argument and the value.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def real_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 array of real numbers (any shape); refuses strings, complex, objects."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__} {x!r}")
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged nestings
        raise TypeError(f"{name} must be a rectangular array of real numbers, got {type(x).__name__}: {exc}") from None
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {raw.dtype}")
    return raw.astype(np.float64)


def real(value, name: str, *, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number (not a bool) in the given interval."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    lo_ok = low is None or (v > low if low_open else v >= low)
    hi_ok = high is None or (v < high if high_open else v <= high)
    if not (math.isfinite(v) and lo_ok and hi_ok):
        lb = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hb = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
        raise ValueError(f"{name} must be a finite number in {lb}, {hb}, got {value!r}")
    return v


def integer(value, name: str, *, low: int | None = None) -> int:
    """An integer (not a bool), at least ``low``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v}")
    return v
