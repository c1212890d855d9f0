"""Hypothesis strategies shared by the whole test suite.

Small, bounded, finite inputs inside the theorems' domains: probability vectors (with exact
zeros), row-stochastic kernels, MDPs for every criterion, value vectors and policies.
Families add strategies here rather than in their own test modules.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mdps

finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def simplex(draw, n: int, *, sparse_support: bool = True):
    """A probability vector of length ``n``; with ``sparse_support`` some entries are exactly 0."""
    w = draw(hnp.arrays(np.float64, n, elements=st.floats(0.0, 1.0, **finite)))
    if sparse_support:
        mask = draw(hnp.arrays(np.bool_, n))
        w = np.where(mask, 0.0, w)
    if w.sum() <= 1e-3:
        w = np.zeros(n)
        w[draw(st.integers(0, n - 1))] = 1.0
    return w / w.sum()


@st.composite
def stochastic_kernel(draw, S: int, A: int, *, sparse_support: bool = True):
    """``P[s, a, :]`` on the simplex for every (s, a)."""
    rows = [draw(simplex(S, sparse_support=sparse_support)) for _ in range(S * A)]
    return np.array(rows).reshape(S, A, S)


@st.composite
def mdp_arrays(draw, max_states: int = 6, max_actions: int = 4, *, reward_range=(0.0, 1.0)):
    S = draw(st.integers(1, max_states))
    A = draw(st.integers(1, max_actions))
    P = draw(stochastic_kernel(S, A))
    R = draw(hnp.arrays(np.float64, (S, A), elements=st.floats(*reward_range, **finite)))
    return P, R


@st.composite
def discounted_mdp(draw, max_states: int = 6, max_actions: int = 4, gammas=(0.0, 0.95)):
    P, R = draw(mdp_arrays(max_states, max_actions))
    gamma = draw(st.floats(*gammas, **finite))
    return mdps.TabularMDP(P, R, gamma=gamma)


@st.composite
def finite_horizon_mdp(draw, max_states: int = 5, max_actions: int = 3, max_horizon: int = 5,
                       stage_dependent: bool | None = None):
    S = draw(st.integers(1, max_states))
    A = draw(st.integers(1, max_actions))
    H = draw(st.integers(1, max_horizon))
    stagewise = draw(st.booleans()) if stage_dependent is None else stage_dependent
    if stagewise:
        P = np.stack([draw(stochastic_kernel(S, A)) for _ in range(H)])
        R = draw(hnp.arrays(np.float64, (H, S, A), elements=st.floats(0.0, 1.0, **finite)))
    else:
        P = draw(stochastic_kernel(S, A))
        R = draw(hnp.arrays(np.float64, (S, A), elements=st.floats(0.0, 1.0, **finite)))
    return mdps.TabularMDP(P, R, horizon=H)


@st.composite
def stochastic_policy(draw, S: int, A: int):
    return np.array([draw(simplex(A)) for _ in range(S)])


def value_vector(S: int, bound: float = 10.0):
    return hnp.arrays(np.float64, S, elements=st.floats(-bound, bound, **finite))


@st.composite
def unichain_average_mdp(draw, max_states: int = 6, max_actions: int = 4, *, mix: float = 0.1):
    """An average-reward MDP whose every stationary policy is unichain and aperiodic.

    ``P = (1 - mix) P_0 + mix / S`` gives every row full support, so each policy chain is
    irreducible and aperiodic (added by the average-reward tests).
    """
    P, R = draw(mdp_arrays(max_states, max_actions))
    S = P.shape[0]
    return mdps.TabularMDP((1.0 - mix) * P + mix / S, R)


@st.composite
def garnet_mdp(draw, max_states: int = 8, max_actions: int = 4, *, criterion: str = "discounted",
               sparse: bool | None = None):
    """A Garnet instance (theory/mdp.md C.4: S in [2, max_states], A in [1, max_actions]).

    ``criterion``: "discounted" (gamma in [0, 0.95]), "finite_horizon" (H in [1, 5]) or
    "average"; ``sparse=None`` draws the layout.
    """
    S = draw(st.integers(2, max_states))
    A = draw(st.integers(1, max_actions))
    b = draw(st.integers(1, S))
    layout = draw(st.booleans()) if sparse is None else sparse
    kw = {}
    if criterion == "discounted":
        kw["gamma"] = draw(st.floats(0.0, 0.95, **finite))
    elif criterion == "finite_horizon":
        kw["horizon"] = draw(st.integers(1, 5))
    return mdps.garnet(S, A, b, sparse=layout, rng=draw(st.integers(0, 2**32 - 1)), **kw)


# -- preference games (added with mdps.preference) ---------------------------------------------
@st.composite
def preference_matrix(draw, K: int | None = None, *, min_K: int = 2, max_K: int = 12):
    """A ``(K, K)`` preference matrix: upper triangle in ``[0, 1]`` (exact 0, 1/2, 1 likely),
    lower triangle ``1 - upper``, diagonal 1/2. ``K`` drawn from ``[min_K, max_K]`` if None."""
    if K is None:
        K = draw(st.integers(min_K, max_K))
    n = K * (K - 1) // 2
    upper = draw(hnp.arrays(np.float64, n, elements=st.floats(0.0, 1.0, **finite)))
    P = np.full((K, K), 0.5)
    iu, ju = np.triu_indices(K, 1)
    P[iu, ju] = upper
    P[ju, iu] = 1.0 - upper
    return P


@st.composite
def full_support_simplex(draw, n: int, *, min_mass: float = 1e-3):
    """A probability vector of length ``n`` with every entry ``>= min_mass``-ish (full support)."""
    w = draw(hnp.arrays(np.float64, n, elements=st.floats(0.0, 1.0, **finite)))
    w = w / w.sum() if w.sum() > 0 else np.full(n, 1.0 / n)
    return (1.0 - n * min_mass) * w + min_mass


@st.composite
def preference_game(draw, *, min_K: int = 2, max_K: int = 12, uniform_ref: bool | None = None):
    """A non-contextual :class:`mdps.preference.PreferenceGame` with a full-support ``ref``."""
    from mdps.preference import PreferenceGame

    P = draw(preference_matrix(min_K=min_K, max_K=max_K))
    uni = draw(st.booleans()) if uniform_ref is None else uniform_ref
    ref = None if uni else draw(full_support_simplex(P.shape[0]))
    return PreferenceGame(P, ref=ref)


# -- hostile inputs (added with the mdps fuzz test, hostile review 2026-11-29) ------------------
#: Floats that break naive code: NaN, infinities, signed zeros, the subnormal minimum, the float64
#: extremes and the discount factors within round-off of 1.
EXTREME_FLOATS = (float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 5e-324, 1e-300, 1e-16,
                  1.0 - 1e-16, 1.0 - 1e-9, 1.0, 2.0, -1.0, 1e20, 1e300, 1.7e308, -1.7e308)


def hostile_scalar(*, typical=st.floats(-2.0, 2.0, **finite)):
    """A scalar argument as a careless or hostile caller passes it: extreme floats, ints of every
    size and sign, bools, numeric strings, complex numbers, None, NumPy scalars, or a typical value."""
    return st.one_of(
        typical,
        st.sampled_from(EXTREME_FLOATS),
        st.integers(-3, 3), st.sampled_from([2**31, 2**63, 10**30, 10**400, -(10**30)]),
        st.booleans(), st.sampled_from(["0.5", "abc", "", "1e-8"]), st.sampled_from([1j, 0.5 + 0j]),
        st.none(), st.sampled_from([np.float32(0.5), np.int64(3), np.float64(np.nan), np.bool_(True)]),
    )


@st.composite
def hostile_array(draw, shape, *, good=None):
    """An array argument meant to have ``shape``: often the good value (if given) with one entry
    spoiled, else wrong shapes, NaN/inf/huge entries, complex, strings, masked, object, ragged
    lists or a scalar."""
    kind = draw(st.sampled_from(["good", "spoil", "shape", "complex", "str", "masked", "object",
                                 "ragged", "scalar", "empty", "huge"]))
    base = np.array(good, dtype=np.float64, copy=True) if good is not None else np.full(shape, 0.5)
    if kind == "good":
        return base
    if kind == "spoil" and base.size:
        idx = tuple(draw(st.integers(0, max(d - 1, 0))) for d in base.shape)
        base[idx] = draw(st.sampled_from(EXTREME_FLOATS))
        return base
    if kind == "shape":
        extra = draw(st.sampled_from([(1,), (2,), ()]))
        new_shape = tuple(draw(st.integers(0, 4)) for _ in range(len(shape))) + extra
        return np.full(new_shape, 0.5)
    if kind == "complex":
        return base.astype(complex)
    if kind == "str":
        return base.astype(str)
    if kind == "masked":
        return np.ma.masked_array(base, mask=np.zeros(base.shape, dtype=bool))
    if kind == "object":
        obj = base.astype(object)
        if obj.size:
            obj.flat[0] = "x"
        return obj
    if kind == "ragged":
        return [[0.5], [0.5, 0.5]]
    if kind == "scalar":
        return draw(hostile_scalar())
    if kind == "empty":
        return np.empty((0,) * len(shape))
    return base * 1e308


@st.composite
def malformed_csr(draw, dense):
    """A SciPy CSR matrix of ``dense`` whose index arrays may have been mutated after construction
    (out-of-range, negative or huge column indices; a broken ``indptr``), as a user can."""
    import scipy.sparse as sp

    M = sp.csr_array(np.asarray(dense, dtype=np.float64))
    indptr, indices = M.indptr.astype(np.int64).copy(), M.indices.astype(np.int64).copy()
    arr = indptr if draw(st.booleans()) or not indices.size else indices
    if arr.size:
        i = draw(st.integers(0, arr.size - 1))
        arr[i] = draw(st.sampled_from([-1, 10**8, 2**40, -(2**40), int(arr[i]) + 1, int(arr[i]) - 1]))
    bad = sp.csr_array(M.shape)
    bad.data, bad.indices, bad.indptr = M.data.copy(), indices, indptr
    return bad
