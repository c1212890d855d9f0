"""Boundary validation shared by every room of the lab (public: ``mdps.validation``).

One error style for the whole lab: the message names the argument, the violated condition and
the offending value, e.g. ``"P[3, 1, :] sums to 0.97, expected 1 within 1e-09"``. Kernels never
validate; they trust what passes through here. Every public function of :mod:`mdps` (and of
the rooms built on it) checks its arguments with these, so that no input can crash a kernel,
hang, or come back as NaN without a word.

=============================  ===========================================================
validator                      accepts (and returns)
=============================  ===========================================================
:func:`as_float_array`         real numeric array -> float64 copy (refuses complex, strings,
                               masked and object arrays, NaN/inf)
:func:`check_real`             finite real number in an (open or closed) interval -> float
:func:`check_positive`         finite real ``> 0`` (or ``>= 0``) -> float
:func:`check_int`              integer (not bool) with bounds -> int
:func:`check_gamma`            discount factor in ``[0, 1)``
:func:`check_atol`             validation tolerance in ``[0, ATOL_MAX]`` (``1e-3``)
:func:`check_rng`              ``None``, int ``>= 0``, ``SeedSequence``, ``Generator`` ->
                               ``numpy.random.Generator``
:func:`check_choice`           one of a set of strings
:func:`check_distribution`     probability vector of a given length
:func:`check_rows_stochastic`  entries ``>= 0``, last-axis sums 1
:func:`check_stochastic_matrix` square row-stochastic matrix, dense or sparse
:func:`check_sparse_matrix`    SciPy sparse matrix with a sound structure -> canonical CSR
:func:`check_mdp`              :class:`mdps.TabularMDP`, optionally of given criteria
:func:`check_value`            finite value vector ``(S,)``
:func:`check_policy`           deterministic ``(S,)``/``(H, S)`` int or stochastic
                               ``(S, A)``/``(H, S, A)`` float policy
:func:`check_float64_range`    a solver's result did not overflow (values linear in ``R``)
=============================  ===========================================================

:func:`as_stochastic_policy` turns a validated policy into its stochastic form, and
:func:`readonly` freezes validated arrays in containers and records.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "ROW_SUM_ATOL",
    "ATOL_MAX",
    "as_float_array",
    "check_finite",
    "check_nonnegative",
    "check_rows_stochastic",
    "check_distribution",
    "check_real",
    "check_gamma",
    "check_int",
    "check_positive",
    "check_choice",
    "check_atol",
    "check_rng",
    "check_sparse_matrix",
    "check_stochastic_matrix",
    "check_float64_range",
    "check_mdp",
    "check_value",
    "check_policy",
    "as_stochastic_policy",
    "readonly",
]

#: Absolute tolerance on the row sums of a transition kernel. Generators produce rows exact to
#: ~1e-15; data loaded from files (pymdptoolbox, gymnasium) is often rounded to ~1e-12.
ROW_SUM_ATOL = 1e-9


def _index_str(idx) -> str:
    return ", ".join(str(int(i)) for i in idx)


def as_float_array(x, name: str, *, ndim: int | tuple[int, ...] | None = None,
                   allow_neg_inf: bool = False) -> np.ndarray:
    """Convert ``x`` to a C-contiguous float64 array, rejecting non-numeric and non-finite input.

    ``allow_neg_inf=True`` lets ``-inf`` through (QuantEcon's mark of an infeasible action in a
    reward array); NaN and ``+inf`` are still refused.

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
    check_finite(np.where(arr == -np.inf, 0.0, arr) if allow_neg_inf else arr, name)
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


def _real(value, name: str, what: str) -> float:
    """``float(value)`` for a real number (not a bool), else TypeError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except OverflowError:  # an int beyond the float64 range: finite, but no float can hold it
        raise ValueError(f"{name} must be {what}, got {value!r} (beyond the float64 range)") from None


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return ("(" if low_open or low is None else "[") + f"{lo}, {hi}" + (")" if high_open or high is None else "]")


def check_real(value, name: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number (not a bool) in the interval given by ``low`` / ``high``.

    Parameters
    ----------
    value : real number
    name : str
        The argument's name, used in the message.
    low, high : float, optional
        Bounds (``None``: unbounded on that side).
    low_open, high_open : bool
        Exclude the bound itself.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``value`` is not a real number (bools, strings, complex, arrays are refused).
    ValueError
        If ``value`` is NaN, infinite or outside the interval; the message names ``name``, the
        interval and the value, e.g. ``"delta must be a finite number in (0, 1], got 0.0"``.

    Examples
    --------
    >>> check_real(0.5, "slip", low=0, high=1)
    0.5
    """
    interval = _interval(low, high, low_open, high_open)
    v = _real(value, name, f"a finite real number in {interval}")
    ok = math.isfinite(v)
    if ok and low is not None:
        ok = v > low if low_open else v >= low
    if ok and high is not None:
        ok = v < high if high_open else v <= high
    if not ok:
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return v


def check_gamma(gamma, name: str = "gamma") -> float:
    """A discount factor in ``[0, 1)``."""
    g = _real(gamma, name, "a real number in [0, 1)")
    if not (0.0 <= g < 1.0):
        raise ValueError(f"{name} must lie in [0, 1), got {gamma!r}")
    return g


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """An integer (Python or NumPy, not a bool) with optional inclusive bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"{name} must be >= {low}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be <= {high}, got {v}")
    return v


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    """A finite real number ``> 0`` (``>= 0`` with ``allow_zero``)."""
    v = _real(value, name, "a real number")
    if not np.isfinite(v) or (v < 0 if allow_zero else v <= 0):
        cond = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {cond}, got {value!r}")
    return v


#: Largest tolerance accepted by :func:`check_atol`. A row-sum (or complementarity) tolerance
#: is a statement about round-off; 1e-3 is already the rounding of data printed with three
#: decimals, and anything larger would let a visibly wrong kernel through as "stochastic".
ATOL_MAX = 1e-3


def check_atol(atol, name: str = "atol") -> float:
    """A validation tolerance: a real number with ``0 <= atol <= ATOL_MAX`` (``1e-3``).

    NaN and inf would accept any input (rows summing to anything), a negative value would
    refuse every input, and a large finite one would silently accept a kernel that is not
    stochastic; all are refused, naming ``name`` and the value.

    Examples
    --------
    >>> check_atol(1e-9)
    1e-09
    """
    v = _real(atol, name, f"a real number in [0, {ATOL_MAX:g}]")
    if not (0.0 <= v <= ATOL_MAX):  # also refuses NaN
        raise ValueError(
            f"{name} must be a finite tolerance in [0, {ATOL_MAX:g}] (a round-off allowance), got {atol!r}"
        )
    return v


def check_rng(rng, name: str = "rng") -> np.random.Generator:
    """Normalise a seed to a :class:`numpy.random.Generator` (``numpy.random.default_rng``).

    Accepted: ``None`` (fresh OS entropy), an integer ``>= 0`` (Python or NumPy, not a bool), a
    :class:`numpy.random.SeedSequence`, a :class:`numpy.random.BitGenerator`, or a
    ``Generator`` (returned as is, so the caller's stream advances). Refused with a message
    naming ``name``: bools, floats, strings, negative integers, the legacy
    ``numpy.random.RandomState`` and anything else.

    Examples
    --------
    >>> bool(check_rng(0).integers(10) == check_rng(0).integers(10))
    True
    """
    if rng is None or isinstance(rng, (np.random.Generator, np.random.SeedSequence,
                                       np.random.BitGenerator)):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        if int(rng) < 0:
            raise ValueError(f"{name} must be None, an integer >= 0, a SeedSequence or a Generator, got {int(rng)}")
        return np.random.default_rng(int(rng))
    hint = ("; the legacy RandomState is not supported, pass numpy.random.default_rng(seed)"
            if isinstance(rng, np.random.RandomState) else "")
    raise TypeError(
        f"{name} must be None, an integer >= 0, a numpy SeedSequence or a numpy Generator, "
        f"got {type(rng).__name__} {rng!r}{hint}"
    )


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


# -- sparse matrices ------------------------------------------------------------------------------
def _index_array(arr, name: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be a 1-d integer array, got dtype {a.dtype} and shape {a.shape}")
    return a.astype(np.int64, copy=False)


def _real_data(arr, name: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype.kind not in "biuf":
        what = {"c": "complex", "O": "objects", "U": "strings", "S": "bytes"}.get(a.dtype.kind, str(a.dtype))
        raise TypeError(f"{name} must hold real numbers, got {what} (dtype {a.dtype})")
    if a.ndim != 1:
        raise TypeError(f"{name} must be a 1-d array, got shape {a.shape}")
    return a


def _check_compressed(indptr, indices, data, n_major: int, n_minor: int, name: str, axis: str):
    """Full structural check of compressed (CSR / CSC / BSR) index arrays; returns the used slices."""
    indptr = _index_array(indptr, f"{name}.indptr")
    indices = _index_array(indices, f"{name}.indices")
    if indptr.shape[0] != n_major + 1:
        raise ValueError(
            f"{name}.indptr must have length n_{axis}s + 1 = {n_major + 1} for shape-{axis} count "
            f"{n_major}, got length {indptr.shape[0]}"
        )
    if indptr[0] != 0:
        raise ValueError(f"{name}.indptr[0] must be 0, got {int(indptr[0])}")
    steps = np.diff(indptr)
    if (steps < 0).any():
        i = int(np.flatnonzero(steps < 0)[0])
        raise ValueError(
            f"{name}.indptr must be non-decreasing, got indptr[{i}] = {int(indptr[i])} > "
            f"indptr[{i + 1}] = {int(indptr[i + 1])}"
        )
    nnz = int(indptr[-1])
    if nnz > indices.shape[0] or nnz > np.asarray(data).shape[0]:
        raise ValueError(
            f"{name}.indptr[-1] = {nnz} (the number of stored entries) exceeds len({name}.indices) = "
            f"{indices.shape[0]} or len({name}.data) = {np.asarray(data).shape[0]}"
        )
    indices = indices[:nnz]
    bad = np.flatnonzero((indices < 0) | (indices >= n_minor))
    if bad.size:
        k = int(bad[0])
        minor = "column" if axis == "row" else "row"
        raise ValueError(
            f"{name}.indices[{k}] is {int(indices[k])}, expected a {minor} index in [0, {n_minor - 1}]"
            if n_minor > 0 else f"{name}.indices[{k}] is {int(indices[k])}, but {name} has no {minor}s"
        )
    return indptr, indices, nnz


def check_sparse_matrix(M, name: str) -> "scipy.sparse.csr_array":
    """Validate a SciPy sparse matrix *structurally* and return a canonical float64 CSR copy.

    SciPy's compiled routines trust their index arrays: a CSR matrix whose column indices are
    out of range or negative, or whose ``indptr`` is malformed, makes them read and write out
    of bounds (garbage values, segfaults, heap corruption). So before any SciPy routine touches
    ``M``, every index array is checked here: for CSR/CSC/BSR, ``indptr`` has length
    ``n + 1``, starts at 0, is non-decreasing and ends at ``nnz <= len(indices), len(data)``,
    and every index lies in ``[0, n_minor)``; for COO, row and column indices are in range and
    as long as ``data``. Index arrays must be integers, ``data`` real and finite. DIA, LIL and
    DOK matrices are converted through COO (their conversions are bounds checked).

    Returns
    -------
    scipy.sparse.csr_array
        float64, duplicates summed, indices sorted; never shares memory with ``M``.

    Raises
    ------
    TypeError
        A non-sparse ``M``, integer-less index arrays, complex/object data, a non-2-d shape.
    ValueError
        Malformed structure or non-finite data; the message names ``name`` and the entry.
    """
    import scipy.sparse as sp

    if not sp.issparse(M):
        raise TypeError(f"{name} must be a scipy.sparse matrix, got {type(M).__name__}")
    shape = tuple(int(d) for d in M.shape)
    if len(shape) != 2:
        raise TypeError(f"{name} must be a 2-d sparse matrix, got shape {shape}")
    n_rows, n_cols = shape
    fmt = M.format
    if fmt in ("csr", "csc", "bsr"):
        if fmt == "bsr":
            br, bc = (int(b) for b in M.blocksize)
            n_major, n_minor = n_rows // br, n_cols // bc
        else:
            n_major, n_minor = (n_rows, n_cols) if fmt == "csr" else (n_cols, n_rows)
        raw = np.asarray(M.data)
        _real_data(raw.reshape(-1) if fmt == "bsr" else raw, f"{name}.data")
        indptr, indices, nnz = _check_compressed(M.indptr, M.indices, raw, n_major, n_minor, name,
                                                 "column" if fmt == "csc" else "row")
        data = raw[:nnz].astype(np.float64)
        check_finite(data, f"{name}.data")
        if fmt == "csr":
            out = sp.csr_array((data, indices.copy(), indptr.copy()), shape=shape)
        elif fmt == "csc":
            out = sp.csr_array(sp.csc_array((data, indices.copy(), indptr.copy()), shape=shape))
        else:
            out = sp.csr_array(sp.bsr_array((data, indices.copy(), indptr.copy()), shape=shape,
                                            blocksize=(br, bc)))
    else:
        coo = M if fmt == "coo" else M.tocoo()
        row = _index_array(coo.row, f"{name}.row")
        col = _index_array(coo.col, f"{name}.col")
        data = _real_data(coo.data, f"{name}.data")
        if not (row.shape[0] == col.shape[0] == data.shape[0]):
            raise ValueError(
                f"{name} must have as many row indices, column indices and values, got "
                f"{row.shape[0]}, {col.shape[0]} and {data.shape[0]}"
            )
        for idx, n, what in ((row, n_rows, "row"), (col, n_cols, "col")):
            bad = np.flatnonzero((idx < 0) | (idx >= n))
            if bad.size:
                k = int(bad[0])
                raise ValueError(f"{name}.{what}[{k}] is {int(idx[k])}, expected an index in [0, {n - 1}]")
        data = data.astype(np.float64)
        check_finite(data, f"{name}.data")
        out = sp.csr_array(sp.coo_array((data, (row.copy(), col.copy())), shape=shape))
    out.sum_duplicates()
    out.sort_indices()
    return out


def check_stochastic_matrix(M, name: str, *, atol: float = ROW_SUM_ATOL):
    """A square row-stochastic matrix ``(S, S)``, dense or SciPy sparse, with ``S >= 1``.

    Returns a float64 ndarray for dense input and a canonical CSR array (structure checked by
    :func:`check_sparse_matrix`) for sparse input; entries finite and ``>= 0``, every row
    summing to 1 within ``atol``.
    """
    import scipy.sparse as sp

    if sp.issparse(M):
        csr = check_sparse_matrix(M, name)
        if csr.shape[0] != csr.shape[1] or csr.shape[0] < 1:
            raise ValueError(f"{name} must be a square (S, S) matrix with S >= 1, got shape {csr.shape}")
        neg = np.flatnonzero(csr.data < 0)
        if neg.size:
            row = int(np.searchsorted(csr.indptr, neg[0], side="right") - 1)
            raise ValueError(
                f"{name}[{row}, {int(csr.indices[neg[0]])}] is {csr.data[neg[0]]:.6g}, expected >= 0"
            )
        sums = np.asarray(csr.sum(axis=1)).ravel()
        bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}, :] sums to {sums[bad[0]]:.12g}, expected 1 within {atol:g}")
        return csr
    arr = as_float_array(M, name, ndim=2)
    if arr.shape[0] != arr.shape[1] or arr.shape[0] < 1:
        raise ValueError(f"{name} must be a square (S, S) matrix with S >= 1, got shape {arr.shape}")
    check_rows_stochastic(arr, name, atol=atol)
    return arr


def check_float64_range(values, what: str, *, R, detail: str = "",
                        hint: str = "rescale R (values are linear in R)") -> None:
    """Refuse a result that overflowed: every array in ``values`` must be finite.

    Values, gains and biases are linear in the rewards ``R``; with rewards near ``1e308`` (or a
    discount close to 1) they leave the float64 range, and a solver must say so instead of
    returning ``inf`` or ``nan``. The message reads ``"{what} exceed the float64 range (max |R| =
    ...{detail}); {hint}"``.

    Parameters
    ----------
    values : ndarray or sequence of ndarrays (or floats)
    what : str
        What the values are (``"the values"``, ``"the iterates (sweep 12)"``, ...).
    R : ndarray
        The rewards, whose scale the message reports.
    detail : str
        Extra figures for the message (e.g. ``", max |R| / (1 - gamma) = 1.7e+309"``).
    hint : str
        How to fix it.
    """
    arrays = values if isinstance(values, (list, tuple)) else (values,)
    if all(np.all(np.isfinite(a)) for a in arrays):
        return
    r = float(np.abs(np.asarray(R)).max(initial=0.0))
    raise ValueError(f"{what} exceed the float64 range (max |R| = {r:.3g}{detail}); {hint}")


# -- lab objects: MDPs, values, policies -----------------------------------------------------------
_CRITERIA = {
    "discounted": ("discounted", "built with gamma=...", "mdp.with_criterion(gamma=...)"),
    "finite_horizon": ("finite-horizon", "built with horizon=H", "mdp.with_criterion(horizon=H)"),
    "average": ("average-reward", "built with neither gamma nor horizon", "mdp.with_criterion()"),
}


def check_mdp(mdp, name: str = "mdp", criterion: str | tuple[str, ...] | None = None):
    """A :class:`mdps.TabularMDP`, optionally of a given criterion.

    Parameters
    ----------
    mdp : object
    name : str
        The argument's name in messages.
    criterion : None, str or tuple of str
        Allowed criteria among ``"discounted"``, ``"finite_horizon"``, ``"average"``.

    Returns
    -------
    TabularMDP
        ``mdp`` itself.

    Raises
    ------
    TypeError
        ``mdp`` is not a ``TabularMDP``.
    ValueError
        Its criterion is not allowed; the message names the wanted and the actual criterion
        and how to convert (``mdp.with_criterion(...)``).
    """
    from mdps.tabular import TabularMDP

    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"{name} must be a mdps.TabularMDP, got {type(mdp).__name__}")
    if criterion is None:
        return mdp
    allowed = (criterion,) if isinstance(criterion, str) else tuple(criterion)
    for c in allowed:
        if c not in _CRITERIA:
            raise ValueError(f"criterion must be among {sorted(_CRITERIA)}, got {c!r}")
    if mdp.criterion not in allowed:
        labels = " or ".join(f"{_CRITERIA[c][0]} (criterion {c!r}, {_CRITERIA[c][1]})" for c in allowed)
        hints = " or ".join(_CRITERIA[c][2] for c in allowed)
        raise ValueError(
            f"{name} must be a {labels} MDP, got {name}.criterion={mdp.criterion!r}; convert a "
            f"stationary instance with {hints}"
        )
    return mdp


def check_value(v, name: str, n_states: int) -> np.ndarray:
    """A finite real value vector of shape ``(n_states,)`` (float64 copy)."""
    arr = as_float_array(v, name, ndim=1)
    if arr.shape != (n_states,):
        raise ValueError(f"{name} must have shape ({n_states},), got {arr.shape}")
    return arr


_POLICY_KINDS = ("any", "deterministic", "stochastic")


def check_policy(pi, n_states: int, n_actions: int, *, horizon: int | None = None,
                 name: str = "pi", kind: str = "any", feasible=None) -> np.ndarray:
    """Validate a Markov policy; one validator for every room (the lab's policy conventions).

    Forms: a deterministic policy is an *integer* array of actions, ``sigma[s]`` of shape
    ``(S,)`` (stationary) or ``sigma[h, s]`` of shape ``(H, S)``; a stochastic policy is a
    *float* array ``pi[s, a]`` of shape ``(S, A)`` or ``pi[h, s, a]`` of shape ``(H, S, A)``
    with rows on the simplex (entries ``>= 0``, sums 1 within ``ROW_SUM_ATOL``). The stage
    forms are accepted only when ``horizon`` is given. The dtype decides the form, so an
    integer ``(S, A)`` array or a float ``(S,)`` array is refused (TypeError) rather than
    guessed at; complex, string, bool, object and masked input is refused as by
    :func:`as_float_array`.

    Parameters
    ----------
    pi : array_like
    n_states, n_actions : int
        ``S`` and ``A``.
    horizon : int, optional
        ``H``: also accept the stage-dependent forms.
    name : str
        The argument's name in messages.
    kind : {"any", "deterministic", "stochastic"}
        Restrict the accepted form.
    feasible : None or bool ndarray, shape (S, A)
        The MDP's feasible actions (:attr:`mdps.TabularMDP.action_mask`): a policy that picks,
        or puts positive probability on, an infeasible action is refused (ValueError naming the
        stage, state and action).

    Returns
    -------
    ndarray
        int64 ``(S,)`` / ``(H, S)`` (deterministic) or float64 ``(S, A)`` / ``(H, S, A)``
        (stochastic), a C-contiguous copy. :func:`as_stochastic_policy` turns either into the
        stochastic form.

    Examples
    --------
    >>> check_policy([1, 0], 2, 2).tolist()
    [1, 0]
    >>> check_policy([[0.5, 0.5], [1.0, 0.0]], 2, 2).shape
    (2, 2)
    """
    check_choice(kind, "kind", _POLICY_KINDS)
    S, A = n_states, n_actions
    det_shapes = [(S,)] + ([(horizon, S)] if horizon is not None else [])
    sto_shapes = [(S, A)] + ([(horizon, S, A)] if horizon is not None else [])
    det_want = " or ".join(str(s) for s in det_shapes)
    sto_want = " or ".join(str(s) for s in sto_shapes)
    raw = pi
    if not isinstance(pi, np.ma.MaskedArray) and (isinstance(pi, (np.ndarray, list, tuple)) or np.isscalar(pi)):
        try:
            raw = np.asarray(pi)
        except (TypeError, ValueError):  # ragged nestings: as_float_array words the refusal
            raw = pi
    kind_of = getattr(getattr(raw, "dtype", None), "kind", None)
    if kind_of == "b":
        raise TypeError(
            f"{name} must be an integer array of actions {det_want} or a float array of "
            f"probabilities {sto_want}, got a bool array"
        )
    if kind_of in ("i", "u") and not isinstance(raw, np.ma.MaskedArray):
        arr = np.asarray(raw)
        if arr.shape not in det_shapes:
            if arr.shape in sto_shapes:
                raise TypeError(
                    f"{name} of shape {arr.shape} has integer dtype {arr.dtype}: a stochastic policy "
                    f"must be a float array {sto_want}, a deterministic one an integer array {det_want}"
                )
            raise ValueError(
                f"{name} as a deterministic policy must have shape {det_want}, got {arr.shape}"
            )
        if kind == "stochastic":
            raise TypeError(f"{name} must be a stochastic policy, a float array {sto_want}; got integer actions")
        bad = (arr < 0) | (arr >= A)
        if bad.any():
            idx = np.argwhere(bad)[0]
            raise ValueError(
                f"{name}[{_index_str(idx)}] is {int(arr[tuple(idx)])}, expected an action in [0, {A - 1}]"
            )
        return _check_feasible_policy(np.ascontiguousarray(arr, dtype=np.int64).copy(), feasible, name)
    arr = as_float_array(raw, name)
    if arr.shape not in sto_shapes:
        if arr.shape in det_shapes:
            raise TypeError(
                f"{name} of shape {arr.shape} has dtype {arr.dtype}: a deterministic policy must be an "
                f"integer array of actions {det_want}, a stochastic one a float array {sto_want}"
            )
        raise ValueError(f"{name} as a stochastic policy must have shape {sto_want}, got {arr.shape}")
    if kind == "deterministic":
        raise TypeError(f"{name} must be a deterministic policy, an integer array {det_want}; got a float array")
    check_rows_stochastic(arr, name)
    return _check_feasible_policy(arr, feasible, name)


def _check_feasible_policy(pol: np.ndarray, feasible, name: str) -> np.ndarray:
    """Refuse a validated policy that uses an infeasible action (``feasible[s, a]`` False)."""
    if feasible is None:
        return pol
    if pol.dtype.kind in "iu":
        bad = ~feasible[np.arange(feasible.shape[0]), pol]
    else:
        bad = (pol > 0) & ~feasible
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        if pol.dtype.kind in "iu":
            s = idx[-1]
            a = int(pol[idx])
            where = f"{name}[{_index_str(idx)}] = {a}"
        else:
            s, a = idx[-2], idx[-1]
            where = f"{name}[{_index_str(idx)}] = {pol[idx]:.6g} > 0"
        raise ValueError(
            f"{where} uses action {a}, which is infeasible in state {s} (mdp.feasible[{s}, {a}] is "
            f"False; its reward is -inf); feasible actions there: {np.flatnonzero(feasible[s]).tolist()}"
        )
    return pol


def as_stochastic_policy(pi: np.ndarray, n_actions: int) -> np.ndarray:
    """The stochastic form of a policy returned by :func:`check_policy`: integer actions become
    one-hot rows ``(..., A)``; a stochastic policy is returned unchanged."""
    pi = np.asarray(pi)
    if pi.dtype.kind not in "iu":
        return pi
    out = np.zeros(pi.shape + (n_actions,))
    np.put_along_axis(out, pi[..., None].astype(np.intp), 1.0, axis=-1)
    return out


def feasible_entries(Q: np.ndarray, mask) -> np.ndarray:
    """The entries of a ``(..., S, A)`` array at the feasible pairs (``Q`` itself when ``mask``
    is ``None``): what an overflow check reads, since a masked ``Q`` holds ``-inf`` at the
    infeasible pairs by design."""
    return Q if mask is None else Q[..., mask]


def check_simplex_features(phi, name: str = "phi", *, atol: float = ROW_SUM_ATOL) -> np.ndarray:
    """Features ``phi[s, a, :]`` on the simplex (entries ``>= 0``, sum 1 within ``atol``).

    d-rectangular robust linear MDPs (R2PVI, DR-RPO) perturb each latent factor ``mu_i``
    separately and mix the results with weights ``phi_i(s, a)``: the mixture is a transition law
    only when the weights are a distribution. Returns a float64 copy of shape ``(S, A, d)``;
    raises ``ValueError`` naming ``name``, the offending entry and its value.
    """
    arr = as_float_array(phi, name, ndim=3)
    neg = arr < -atol
    if neg.any():
        idx = np.argwhere(neg)[0]
        raise ValueError(f"{name}[{_index_str(idx)}] is {arr[tuple(idx)]:.6g}: features must lie on the simplex "
                         "(entries >= 0, each phi[s, a, :] summing to 1) for a d-rectangular robust linear MDP")
    sums = arr.sum(axis=-1)
    off = np.abs(sums - 1.0) > atol
    if off.any():
        idx = np.argwhere(off)[0]
        raise ValueError(f"{name}[{_index_str(idx)}, :] sums to {sums[tuple(idx)]:.12g}: features must lie on the "
                         f"simplex (each phi[s, a, :] summing to 1 within {atol:g}) for a d-rectangular robust "
                         "linear MDP")
    return np.clip(arr, 0.0, None)
