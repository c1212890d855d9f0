"""Frozen result records returned by every exact solver in :mod:`mdps`.

One record type for every criterion, so that flags and methods never change what comes back:
fields that do not apply to a criterion are ``None`` (``gain``/``bias`` outside average reward).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from mdps.validation import readonly

__all__ = ["Solution", "ConvergenceWarning", "GainCertificateWarning"]


class ConvergenceWarning(RuntimeWarning):
    """An iterative solver stopped at its iteration cap without meeting its stopping rule, so
    its answer carries no certified accuracy (the record's ``converged`` is ``False``)."""


class GainCertificateWarning(ConvergenceWarning):
    """Relative value iteration's Odoni certificate failed: the gain bracket
    ``[min(Tu - u), max(Tu - u)]`` at the returned ``u`` is not narrower than ``tol``, or the exact
    gain of the returned greedy policy falls below its lower end, so the returned gain is not
    certified (``Solution.certificate["holds"]`` is ``False``). A :class:`ConvergenceWarning`, so
    filters for that class catch it too."""


@dataclass(frozen=True, eq=False)
class Solution:
    """The output of an exact solver.

    Attributes
    ----------
    V : ndarray, shape (S,) or (H, S)
        Value of the returned policy's iterate (discounted: the final value iterate or exact
        policy value; finite horizon: ``V[h, s]`` for ``h = 0..H-1``; average reward: the bias
        iterate, see ``bias``).
    Q : ndarray, shape (S, A) or (H, S, A)
        ``R + gamma * P V`` (finite horizon: ``R_h + P_h V_{h+1}``).
    policy : ndarray of int, shape (S,) or (H, S)
        Greedy deterministic policy ``sigma[s]``.
    n_iter : int
        Iterations performed (sweeps for VI/RVI, improvement steps for PI/MPI, 1 for LP and
        backward induction counts its ``H`` stages).
    method : str
        Solver name (``"vi"``, ``"pi"``, ``"mpi"``, ``"lp"``, ``"backward_induction"``, ``"rvi"``, ...).
    errors : ndarray
        True error of each iterate against the exact solution, or an empty array when no exact
        reference was requested: ``||V_k - V*||_inf`` for ``k = 0..n_iter`` (VI, MPI, PI;
        length ``n_iter + 1``), ``|g_k - g*|`` after each sweep (RVI; length ``n_iter``).
    residuals : ndarray, shape (n_iter,)
        The solver's own stopping statistic per iteration (``||V_{k+1} - V_k||_inf`` for VI,
        ``sp(T u_k - u_k)`` for RVI, number of changed actions for PI).
    converged : bool
        Whether the stopping rule was met before ``max_iter``.
    gain : float or None
        Optimal gain (average reward only).
    bias : ndarray or None
        Bias vector normalised as documented by the solver (average reward only).
    trace : mapping of str to ndarray
        Solver-specific per-iteration traces (e.g. RVI's Odoni gain bracket
        ``"gain_lower"``/``"gain_upper"``), read-only; empty when the solver has none.
    settings : mapping
        The settings used (``tol``, ``max_iter``, ...), read-only.
    certificate : mapping
        What the solver proved about its answer, read-only; empty when it certifies nothing beyond
        ``converged``. Relative value iteration: the Odoni bracket at the returned bias
        (``gain_lower``, ``gain_upper``, ``width``), the exact per-state gain of the returned
        policy (``policy_gain`` (S,)) and ``holds`` (see :func:`mdps.relative_value_iteration`).
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    n_iter: int
    method: str
    errors: np.ndarray = field(default_factory=lambda: np.empty(0))
    residuals: np.ndarray = field(default_factory=lambda: np.empty(0))
    converged: bool = True
    gain: float | None = None
    bias: np.ndarray | None = None
    trace: Mapping[str, np.ndarray] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    certificate: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for name in ("V", "Q", "policy", "errors", "residuals", "bias"):
            readonly(getattr(self, name))
        for arr in (*self.trace.values(), *self.certificate.values()):
            if isinstance(arr, np.ndarray):
                readonly(arr)
        object.__setattr__(self, "trace", MappingProxyType(dict(self.trace)))
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))
        object.__setattr__(self, "certificate", MappingProxyType(dict(self.certificate)))

    def __repr__(self) -> str:
        extra = f", gain={self.gain:.6g}" if self.gain is not None else ""
        return (f"Solution(method={self.method!r}, n_iter={self.n_iter}, converged={self.converged}"
                f"{extra}, V.shape={self.V.shape})")
