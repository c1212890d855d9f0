r"""The tabular MDP container: one class for the discounted, finite-horizon and average-reward criteria.

A finite MDP is :math:`M = (\mathcal S, \mathcal A, P, R, \rho)` with :math:`S` states,
:math:`A` actions, transitions ``P[s, a, s'] = Pr(s' | s, a)`` and rewards ``R[s, a]``.
The criterion is fixed at construction:

* ``TabularMDP(P, R, gamma=0.9)`` -- discounted, :math:`V^\pi = \sum_t \gamma^t r_t`;
* ``TabularMDP(P, R, horizon=H)`` -- finite horizon; ``P`` may be stationary ``(S, A, S)`` or
  stage dependent ``(H, S, A, S)``, ``R`` stationary ``(S, A)`` or ``(H, S, A)``;
* ``TabularMDP(P, R)`` -- average reward (gain) criterion.

Sparse transitions are given as a :class:`scipy.sparse.csr_array` / ``csr_matrix`` of shape
``(S * A, S)`` whose row ``s * A + a`` is ``P[s, a, :]`` (other SciPy formats are converted);
every solver accepts both layouts. The sparse structure is validated in full before SciPy
touches it (:func:`mdps.validation.check_sparse_matrix`: ``indptr`` and index ranges), since
SciPy's compiled routines trust it and a malformed matrix corrupts memory.

Infeasible actions (state-dependent action sets)
------------------------------------------------
``feasible[s, a]`` (bool ``(S, A)``) marks the actions available in state ``s``. It is given
directly (``feasible=mask``) or derived from the rewards: ``R[s, a] = -inf`` marks an
infeasible pair (QuantEcon's ``DiscreteDP`` convention; stage-dependent rewards must be
``-inf`` at every stage or at none). Every state keeps at least one feasible action. After
validation the stored ``R`` is finite: an infeasible entry holds the smallest feasible reward,
a placeholder no planner reads (so reward bounds such as ``max |R|`` stay those of the
feasible pairs); :attr:`TabularMDP.R_masked` gives the ``-inf`` form. The transition row of an
infeasible pair describes nothing: it may be given as any finite row (all zeros, as QuantEcon's
state-action-pair form leaves it, or a distribution) and is stored as the self-loop
``P[s, a, :] = e_s``. So ``P`` stays a stochastic kernel for every routine that reads it, and
the support graph (closed classes, reachability, diameter) gains no edge from an action that
cannot be taken. Planners take the max over feasible actions only (explicit masks in the
kernels, never ``-inf`` arithmetic; ``Q`` is ``-inf`` at infeasible pairs), and every routine
that takes a policy refuses one that uses an infeasible action (:attr:`TabularMDP.action_mask`
is ``None`` when every action is feasible, and then the unmasked code runs, bit for bit).

Validation happens here, once, and every message names the offending index and value.
The arrays are copied and made read-only, so a validated instance cannot be corrupted later.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mdps import _kernels
from mdps.validation import (
    ROW_SUM_ATOL,
    as_float_array,
    check_atol,
    check_distribution,
    check_gamma,
    check_int,
    check_nonnegative,
    check_sparse_matrix,
    readonly,
)

__all__ = ["TabularMDP"]


class TabularMDP:
    """A validated finite MDP.

    Parameters
    ----------
    P : array_like, shape (S, A, S) or (H, S, A, S), or scipy.sparse matrix of shape (S*A, S)
        Transition probabilities ``P[s, a, s']``. Stage-dependent kernels need ``horizon``.
    R : array_like, shape (S, A) or (H, S, A)
        Expected rewards ``R[s, a]`` (``R[h, s, a]`` only with ``horizon``).
    gamma : float in [0, 1), optional
        Discount factor; selects the discounted criterion.
    horizon : int >= 1, optional
        Episode length ``H``; selects the finite-horizon criterion.
    rho : array_like, shape (S,), optional
        Initial-state distribution (default uniform).
    feasible : array_like of bool, shape (S, A), optional
        Feasible actions (module docstring); default: the pairs whose reward is not ``-inf``.
        A pair with reward ``-inf`` must not be marked feasible.
    atol : float in [0, 1e-3]
        Tolerance on the row sums of ``P`` and ``rho`` (default ``1e-9``). A round-off
        allowance: NaN, inf, negative values and values above ``1e-3``
        (:data:`mdps.validation.ATOL_MAX`) are refused.

    Neither ``gamma`` nor ``horizon`` selects the average-reward criterion.

    Examples
    --------
    >>> import numpy as np, mdps
    >>> P = np.array([[[1.0]]]); R = np.array([[1.0]])
    >>> mdps.TabularMDP(P, R, gamma=0.5).criterion
    'discounted'
    """

    # "_frozen" stays last: unpickling restores the slots in this order, and once it is set no
    # other slot can be
    __slots__ = ("_P", "_R", "_gamma", "_horizon", "_rho", "_n_states", "_n_actions", "_feasible", "_defect",
                 "_frozen")

    def __init__(self, P, R, *, gamma=None, horizon=None, rho=None, feasible=None,
                 atol: float = ROW_SUM_ATOL):
        object.__setattr__(self, "_frozen", False)
        object.__setattr__(self, "_defect", None)
        if gamma is not None and horizon is not None:
            raise ValueError(
                f"give either gamma (discounted) or horizon (finite horizon), not both; got gamma={gamma!r}, horizon={horizon!r}"
            )
        self._gamma = None if gamma is None else check_gamma(gamma)
        self._horizon = None if horizon is None else check_int(horizon, "horizon", low=1)
        atol = check_atol(atol)

        R_arr = as_float_array(R, "R", ndim=(2, 3), allow_neg_inf=True)
        R_arr, self._feasible = _feasibility(R_arr, feasible)
        if sp.issparse(P):
            self._init_sparse(P, R_arr, atol)
        else:
            self._init_dense(P, R_arr, atol)

        S = self._n_states
        self._rho = readonly(
            np.full(S, 1.0 / S) if rho is None else check_distribution(rho, "rho", S, atol=atol)
        )
        self._frozen = True

    # -- construction ---------------------------------------------------------------------------
    def _init_dense(self, P, R, atol):
        P_arr = as_float_array(P, "P", ndim=(3, 4))
        if P_arr.ndim == 4 and self._horizon is None:
            raise ValueError(
                f"a stage-dependent P of shape {P_arr.shape} needs horizon=H; got no horizon"
            )
        S, A, S2 = P_arr.shape[-3:]
        if S != S2:
            raise ValueError(f"P must have shape (S, A, S) with matching state axes, got {P_arr.shape}")
        if S < 1 or A < 1:
            raise ValueError(f"P must have at least one state and one action, got shape {P_arr.shape}")
        if P_arr.ndim == 4 and P_arr.shape[0] != self._horizon:
            raise ValueError(f"P has {P_arr.shape[0]} stages but horizon={self._horizon}")
        if self._feasible is not None and self._feasible.shape == (S, A):
            # the row of an infeasible pair becomes a self-loop (module docstring)
            s_idx, a_idx = np.nonzero(~self._feasible)
            P_arr[..., s_idx, a_idx, :] = 0.0
            P_arr[..., s_idx, a_idx, s_idx] = 1.0
        self._check_rows(P_arr, atol)
        self._P = readonly(P_arr)
        self._set_R(R, S, A)

    def _init_sparse(self, P, R, atol):
        # full structural check before any SciPy routine reads the index arrays (hostile review D1)
        csr = check_sparse_matrix(P, "P")
        SA, S = csr.shape
        if R.ndim != 2 or R.shape[0] != S:
            raise ValueError(
                f"with sparse P of shape {csr.shape}, R must have shape (S, A) = ({S}, A), got {R.shape}"
            )
        A = R.shape[1]
        if S < 1 or A < 1:
            raise ValueError(f"P must have at least one state and one action, got S={S}, A={A}")
        if SA != S * A:
            raise ValueError(f"sparse P must have shape (S*A, S) = ({S * A}, {S}), got {csr.shape}")
        if self._feasible is not None and self._feasible.shape == (S, A):
            # the row of an infeasible pair becomes a self-loop (module docstring)
            keep = self._feasible.ravel()
            rows = np.flatnonzero(~keep)
            loops = sp.csr_array((np.ones(rows.size), (rows, rows // A)), shape=csr.shape)
            csr = sp.csr_array(sp.diags_array(keep.astype(np.float64)) @ csr + loops)
            csr.eliminate_zeros()
            csr.sort_indices()
        neg = np.flatnonzero(csr.data < 0)
        if neg.size:
            row = np.searchsorted(csr.indptr, neg[0], side="right") - 1
            s, a = divmod(int(row), A)
            raise ValueError(
                f"P[{s}, {a}, {int(csr.indices[neg[0]])}] is {csr.data[neg[0]]:.6g}, expected >= 0"
            )
        sums = np.asarray(csr.sum(axis=1)).ravel()
        bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
        if bad.size:
            s, a = divmod(int(bad[0]), A)
            raise ValueError(f"P[{s}, {a}, :] sums to {sums[bad[0]]:.12g}, expected 1 within {atol:g}")
        csr = _narrow_indices(csr)
        for arr in (csr.data, csr.indices, csr.indptr):
            arr.setflags(write=False)
        self._P = csr
        self._set_R(R, S, A)

    def _check_rows(self, P, atol):
        check_nonnegative(P, "P")
        sums = P.sum(axis=-1)
        bad = np.abs(sums - 1.0) > atol
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"P[{', '.join(map(str, idx))}, :] sums to {sums[idx]:.12g}, expected 1 within {atol:g}"
            )

    def _set_R(self, R, S, A):
        if R.ndim == 3:
            if self._horizon is None:
                raise ValueError(f"a stage-dependent R of shape {R.shape} needs horizon=H; got no horizon")
            if R.shape != (self._horizon, S, A):
                raise ValueError(f"R must have shape (H, S, A) = ({self._horizon}, {S}, {A}), got {R.shape}")
        elif R.shape != (S, A):
            raise ValueError(f"R must have shape (S, A) = ({S}, {A}), got {R.shape}")
        if self._feasible is not None and self._feasible.shape != (S, A):
            raise ValueError(f"feasible must have shape (S, A) = ({S}, {A}), got {self._feasible.shape}")
        self._R = readonly(R)
        self._n_states, self._n_actions = S, A

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False):
            raise AttributeError(f"TabularMDP is immutable; cannot set {name!r}")
        object.__setattr__(self, name, value)

    # -- read-only views ------------------------------------------------------------------------
    @property
    def P(self):
        """Transitions: dense ``(S, A, S)`` / ``(H, S, A, S)`` array, or CSR ``(S*A, S)``."""
        return self._P

    @property
    def R(self) -> np.ndarray:
        return self._R

    @property
    def feasible(self) -> np.ndarray:
        """Feasible actions, bool ``(S, A)`` (all ``True`` unless some action is infeasible)."""
        if self._feasible is None:
            return readonly(np.ones((self._n_states, self._n_actions), dtype=bool))
        return self._feasible

    @property
    def action_mask(self) -> np.ndarray | None:
        """``None`` when every action is feasible, else :attr:`feasible`: what the kernels take,
        so that the feasible-everywhere path runs unchanged."""
        return self._feasible

    @property
    def R_masked(self) -> np.ndarray:
        """``R`` with ``-inf`` at the infeasible pairs (QuantEcon's convention); a copy."""
        R = np.array(self._R)
        if self._feasible is not None:
            R[..., ~self._feasible] = -np.inf
        return R

    @property
    def gamma(self) -> float | None:
        return self._gamma

    @property
    def horizon(self) -> int | None:
        return self._horizon

    @property
    def rho(self) -> np.ndarray:
        return self._rho

    @property
    def n_states(self) -> int:
        return self._n_states

    @property
    def n_actions(self) -> int:
        return self._n_actions

    @property
    def criterion(self) -> str:
        """``"discounted"``, ``"finite_horizon"`` or ``"average"``."""
        if self._gamma is not None:
            return "discounted"
        if self._horizon is not None:
            return "finite_horizon"
        return "average"

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self._P)

    @property
    def stage_dependent(self) -> bool:
        """True when ``P`` or ``R`` carries a leading stage axis."""
        return (not self.is_sparse and self._P.ndim == 4) or self._R.ndim == 3

    # -- layouts the kernels use ----------------------------------------------------------------
    def P_stage(self, h: int):
        """Transitions at stage ``h`` (``(S, A, S)`` dense or CSR ``(S*A, S)``)."""
        if not self.is_sparse and self._P.ndim == 4:
            return self._P[h]
        return self._P

    def R_stage(self, h: int) -> np.ndarray:
        return self._R[h] if self._R.ndim == 3 else self._R

    def P_matrix(self, h: int = 0):
        """Transitions as a ``(S*A, S)`` matrix: a zero-copy reshape (dense) or the CSR matrix."""
        Ph = self.P_stage(h)
        if self.is_sparse:
            return Ph
        return Ph.reshape(self._n_states * self._n_actions, self._n_states)

    def row_sum_defect(self) -> float:
        """``max_r |sum_k P[r, k] - 1|`` over the stored rows of the stationary ``(S*A, S)`` matrix,
        resolved far below one ulp of 1 (compensated sums; :func:`mdps._kernels.row_sum_defect`).

        Certified solvers charge it to their error bound (a float64 row sums to 1 only within
        ~1e-16, which moves ``V*`` by up to ``gamma / (1 - gamma)^2`` times that per unit reward).
        It is a property of the stored, read-only arrays: measured on the first call (about three
        passes over ``P`` for a dense instance) and kept.
        """
        if self._defect is None:
            if self.stage_dependent:
                raise ValueError("row_sum_defect() needs a stationary P; P is stage dependent")
            P2 = self.P_matrix()
            if self.is_sparse:
                value = _kernels.row_sum_defect(P2.indptr, P2.data, np.empty((0, 0)))
            else:
                value = _kernels.row_sum_defect(np.empty(0, np.int64), np.empty(0), np.ascontiguousarray(P2))
            object.__setattr__(self, "_defect", float(value))
        return self._defect

    def csr_arrays(self):
        """``(indptr, indices, data)`` of the ``(S*A, S)`` CSR matrix (sparse instances only)."""
        if not self.is_sparse:
            raise ValueError("csr_arrays() needs a sparse TabularMDP; use to_sparse() first")
        return self._P.indptr, self._P.indices, self._P.data

    # -- conversions ----------------------------------------------------------------------------
    def _kwargs(self):
        return {"gamma": self._gamma, "horizon": self._horizon, "rho": self._rho, "feasible": self._feasible}

    def to_dense(self) -> "TabularMDP":
        if not self.is_sparse:
            return self
        S, A = self._n_states, self._n_actions
        return TabularMDP(self._P.toarray().reshape(S, A, S), self._R, **self._kwargs())

    def to_sparse(self) -> "TabularMDP":
        if self.is_sparse:
            return self
        if self._P.ndim == 4:
            raise ValueError("to_sparse() supports stationary P only; P is stage dependent")
        return TabularMDP(sp.csr_array(self.P_matrix()), self._R, **self._kwargs())

    def with_criterion(self, *, gamma=None, horizon=None) -> "TabularMDP":
        """The same dynamics and rewards under another criterion (stationary instances)."""
        if self.stage_dependent:
            raise ValueError("with_criterion() needs stationary P and R")
        return TabularMDP(self._P, self._R, gamma=gamma, horizon=horizon, rho=self._rho, feasible=self._feasible)

    def __repr__(self) -> str:
        crit = {"discounted": f"gamma={self._gamma}", "finite_horizon": f"horizon={self._horizon}",
                "average": "average reward"}[self.criterion]
        layout = f"sparse nnz={self._P.nnz}" if self.is_sparse else ("stage-dependent" if self.stage_dependent else "dense")
        infeasible = "" if self._feasible is None else f", {int((~self._feasible).sum())} infeasible pairs"
        return f"TabularMDP(S={self._n_states}, A={self._n_actions}, {crit}, {layout}{infeasible})"


def _feasibility(R: np.ndarray, feasible):
    """``(R with finite placeholders, mask or None)`` from ``R`` (``-inf`` = infeasible) and the
    optional ``feasible`` argument; refuses a state without a feasible action."""
    if R.size == 0 and feasible is None:  # no states or actions: the shape checks word the refusal
        return R, None
    neg_inf = R == -np.inf
    if R.ndim == 3 and neg_inf.any():
        partial = neg_inf.any(axis=0) & ~neg_inf.all(axis=0)
        if partial.any():
            s, a = (int(i) for i in np.argwhere(partial)[0])
            h = int(np.flatnonzero(~neg_inf[:, s, a])[0])
            raise ValueError(
                f"R[:, {s}, {a}] is -inf at some stages only (R[{h}, {s}, {a}] = {R[h, s, a]:.6g}); "
                f"an infeasible action must be -inf at every stage"
            )
    pair_inf = neg_inf.all(axis=0) if R.ndim == 3 else neg_inf
    if feasible is None:
        mask = ~pair_inf
    else:
        raw = np.asarray(feasible)
        if raw.dtype != bool:
            raise TypeError(f"feasible must be a bool array of shape (S, A), got dtype {raw.dtype}")
        if raw.shape != pair_inf.shape:
            raise ValueError(f"feasible must have shape (S, A) = {pair_inf.shape}, got {raw.shape}")
        clash = raw & pair_inf
        if clash.any():
            s, a = (int(i) for i in np.argwhere(clash)[0])
            raise ValueError(f"feasible[{s}, {a}] is True but R[{'..., ' if R.ndim == 3 else ''}{s}, {a}] "
                             f"is -inf; a -inf reward marks an infeasible action")
        mask = raw.copy()
    empty = ~mask.any(axis=1)
    if empty.any():
        s = int(np.flatnonzero(empty)[0])
        raise ValueError(
            f"state {s} has no feasible action (feasible[{s}, :] is all False / R[{s}, :] is all -inf); "
            f"every state needs at least one"
        )
    if mask.all():
        return R, None
    R = np.array(R)
    R[..., ~mask] = R[..., mask].min()
    return R, readonly(mask)


def _narrow_indices(csr):
    """The same CSR matrix with ``int32`` ``indices`` and ``indptr`` when ``nnz`` and the column
    count fit (``< 2**31``), else unchanged (``int64`` kept). A sweep streams the indices once, so
    4-byte indices cut its memory traffic by a third (8-byte data + 4-byte index per entry, not
    8 + 8); the kernels are compiled for either width and give the same bits."""
    limit = np.iinfo(np.int32).max
    if csr.indices.dtype == np.int32 and csr.indptr.dtype == np.int32:
        return csr
    if csr.nnz >= limit or csr.shape[1] >= limit or csr.shape[0] >= limit:
        return csr
    out = sp.csr_array(csr.shape, dtype=np.float64)
    out.data, out.indices, out.indptr = csr.data, csr.indices.astype(np.int32), csr.indptr.astype(np.int32)
    return out
