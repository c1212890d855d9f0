"""Numerically delicate primitives, defined once (norms, span seminorm, ...)."""

from __future__ import annotations

import numpy as np

__all__ = ["span", "sup_norm"]


def span(v) -> float:
    """Span seminorm ``sp(v) = max_s v(s) - min_s v(s)`` (0 for an empty vector)."""
    v = np.asarray(v, dtype=np.float64)
    return float(v.max() - v.min()) if v.size else 0.0


def sup_norm(v) -> float:
    """``||v||_inf`` (0 for an empty vector)."""
    v = np.asarray(v, dtype=np.float64)
    return float(np.abs(v).max()) if v.size else 0.0
