r"""Adapters between :class:`~mdps.tabular.TabularMDP` and the layouts of peer libraries.

=================  ==================================  =====================================
library            layout                              functions
=================  ==================================  =====================================
pymdptoolbox       ``P (A, S, S)`` or A matrices,      :func:`to_mdptoolbox`,
                   ``R (S, A)``, ``(S,)``, ``(A,S,S)``  :func:`from_mdptoolbox`
QuantEcon          product form ``R (n, m)``,          :func:`to_quantecon`,
                   ``Q (n, m, n)``, ``beta``; or pair  :func:`from_quantecon`
                   form ``R (L,)``, ``Q (L, n)``,
                   ``s_indices``, ``a_indices``
Gymnasium toy text ``P[s][a] = [(p, s', r, done)]``    :func:`to_gymnasium`,
                                                       :func:`from_gymnasium`
=================  ==================================  =====================================

Decisions (written down here because the peers disagree):

* **Infeasible actions (QuantEcon).** QuantEcon marks an infeasible action with reward
  ``-inf`` (product form) or leaves the pair out (state-action-pair form, ``s_indices``,
  ``a_indices``). :func:`from_quantecon` maps both to ``TabularMDP.feasible`` (never to a
  large negative number, which would change the problem); :func:`to_quantecon` writes ``-inf``
  back (product form) or lists the feasible pairs only (``sa_pairs=True``).
* **Terminal transitions (Gymnasium).** ``done=True`` marks an episode end, which a tabular
  MDP has no notion of. With ``terminal="absorbing"`` (default) every such transition is
  redirected to one extra absorbing, zero-reward state with index ``S`` (added only when some
  transition has ``done=True``), which gives the exact values of the episodic task under the
  discounted and total-reward criteria. With ``terminal="keep"`` the flag is ignored and
  ``s'`` is kept.
* **Rewards (Gymnasium).** ``R[s, a] = sum_i p_i r_i`` over the listed transitions (duplicate
  ``s'`` are merged by adding their probabilities); when all rewards of a pair are equal, the
  common value is used as is, so ``from_gymnasium(to_gymnasium(m))`` is exact.
* pymdptoolbox and Gymnasium's table have every action in every state: :func:`to_mdptoolbox`
  and :func:`to_gymnasium` refuse an ``mdp`` with infeasible actions (ValueError naming one).
* Round trips are exact (bitwise) for stationary instances: ``from_X(*to_X(m))`` has the same
  ``P``, ``R`` and criterion as ``m``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from mdps.tabular import TabularMDP
from mdps.validation import (
    as_float_array,
    check_choice,
    check_gamma,
    check_int,
    check_mdp,
    check_real,
    check_sparse_matrix,
)

__all__ = [
    "to_mdptoolbox",
    "from_mdptoolbox",
    "to_quantecon",
    "from_quantecon",
    "to_gymnasium",
    "from_gymnasium",
]


def _require_stationary(mdp, fn: str) -> None:
    check_mdp(mdp)
    if mdp.stage_dependent:
        raise ValueError(f"{fn}() needs stationary P and R; mdp is stage dependent ({mdp!r})")


def _require_all_feasible(mdp, fn: str, peer: str) -> None:
    """Refuse to export infeasible actions to a format that has every action in every state."""
    if mdp.action_mask is not None:
        s, a = (int(i) for i in np.argwhere(~mdp.action_mask)[0])
        raise ValueError(
            f"{fn}() cannot express infeasible actions: mdp.feasible[{s}, {a}] is False and {peer} has "
            f"every action in every state; use to_quantecon(mdp) (reward -inf) instead"
        )


def _is_matrix(x) -> bool:
    """Whether ``x`` looks like one 2-d matrix (sparse, or array-like of ndim 2)."""
    if sp.issparse(x):
        return True
    try:
        return np.ndim(x) == 2
    except (TypeError, ValueError):  # ragged nestings
        return False


# ------------------------------------------------------------------------------ pymdptoolbox
def to_mdptoolbox(mdp: TabularMDP):
    """``(P, R)`` in pymdptoolbox's layout.

    Parameters
    ----------
    mdp : TabularMDP
        A stationary instance (any criterion; pass ``mdp.gamma`` as ``discount`` yourself).

    Returns
    -------
    P : ndarray, shape (A, S, S), or tuple of A CSR matrices of shape (S, S)
        ``P[a][s, s'] = mdp.P[s, a, s']``; a sparse ``mdp`` gives CSR matrices.
    R : ndarray, shape (S, A)

    Examples
    --------
    >>> import mdps
    >>> P, R = mdps.to_mdptoolbox(mdps.river_swim(4, gamma=0.9))
    >>> P.shape, R.shape
    ((2, 4, 4), (4, 2))
    """
    _require_stationary(mdp, "to_mdptoolbox")
    _require_all_feasible(mdp, "to_mdptoolbox", "pymdptoolbox")
    S, A = mdp.n_states, mdp.n_actions
    R = np.array(mdp.R)
    if mdp.is_sparse:
        csr = sp.csr_array(mdp.P)
        return tuple(sp.csr_array(csr[np.arange(S) * A + a]) for a in range(A)), R
    return np.ascontiguousarray(np.asarray(mdp.P).transpose(1, 0, 2)), R


def from_mdptoolbox(P, R, *, gamma=None, horizon=None, rho=None) -> TabularMDP:
    """A :class:`TabularMDP` from pymdptoolbox's ``(P, R)``.

    Parameters
    ----------
    P : array_like of shape (A, S, S), or a list/tuple of A matrices of shape (S, S)
        ``P[a][s, s']``; the matrices may be dense or :mod:`scipy.sparse`. If any is sparse the
        result is sparse (CSR ``(S*A, S)``), else dense.
    R : array_like of shape (S, A), (S,) or (A, S, S), or a list/tuple of A (S, S) matrices
        ``(S,)`` is a state reward shared by all actions; ``(A, S, S)`` is a transition
        reward ``R[a][s, s']`` whose expectation ``sum_s' P[a][s, s'] R[a][s, s']`` is used.
    gamma, horizon, rho : optional
        As in :class:`TabularMDP` (pymdptoolbox's ``discount`` is ``gamma``).

    Examples
    --------
    >>> import numpy as np, mdps
    >>> P = np.array([[[0.5, 0.5], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]])
    >>> m = mdps.from_mdptoolbox(P, np.array([1.0, 0.0]), gamma=0.9)
    >>> m.P[1, 1].tolist(), m.R.tolist()
    ([1.0, 0.0], [[1.0, 1.0], [0.0, 0.0]])
    """
    if isinstance(P, (list, tuple)):
        if len(P) == 0:
            raise ValueError("P must hold at least one action's (S, S) matrix, got an empty sequence")
        # sparse blocks: structure checked before SciPy stacks them (malformed CSR corrupts memory)
        mats = [check_sparse_matrix(m, f"P[{a}]") if sp.issparse(m) else as_float_array(m, f"P[{a}]", ndim=2)
                for a, m in enumerate(P)]
    else:
        if sp.issparse(P):
            raise TypeError("a sparse P must be given as a list/tuple of A sparse (S, S) matrices")
        arr = as_float_array(P, "P", ndim=3)
        mats = list(arr)
    A = len(mats)
    is_sparse = any(sp.issparse(m) for m in mats)
    shapes = {tuple(m.shape) for m in mats}
    if len(shapes) != 1:
        raise ValueError(f"P's matrices must all have shape (S, S), got shapes {sorted(shapes)}")
    (S, S2), = shapes
    if S != S2:
        raise ValueError(f"P must have shape (A, S, S), got matrices of shape {(S, S2)}")

    if is_sparse:
        blocks = [sp.csr_array(m, dtype=np.float64) for m in mats]
        stacked = sp.csr_array(sp.vstack(blocks, format="csr"))  # row a*S + s
        perm = (np.arange(S)[:, None] + S * np.arange(A)[None, :]).ravel()  # row s*A + a
        P_out = sp.csr_array(stacked[perm])
    else:
        P_out = np.stack([as_float_array(m, f"P[{a}]", ndim=2) for a, m in enumerate(mats)])
        P_out = np.ascontiguousarray(P_out.transpose(1, 0, 2))

    if isinstance(R, (list, tuple)) and len(R) > 0 and _is_matrix(R[0]):
        if len(R) != A:
            raise ValueError(f"R given per action must hold A = {A} matrices, got {len(R)}")
        R_out = np.empty((S, A))
        for a in range(A):
            Pa = mats[a]
            Ra = (check_sparse_matrix(R[a], f"R[{a}]") if sp.issparse(R[a])
                  else as_float_array(R[a], f"R[{a}]", ndim=2))
            if Ra.shape != (S, S):
                raise ValueError(f"R[{a}] must have shape (S, S) = ({S}, {S}), got {Ra.shape}")
            if sp.issparse(Pa) or sp.issparse(Ra):
                prod = sp.csr_array(Pa).multiply(sp.csr_array(Ra))
                R_out[:, a] = np.asarray(prod.sum(axis=1)).ravel()
            else:
                R_out[:, a] = (np.asarray(Pa, dtype=np.float64) * Ra).sum(axis=1)
    else:
        Rarr = as_float_array(R, "R", ndim=(1, 2, 3))
        if Rarr.ndim == 1:
            if Rarr.shape != (S,):
                raise ValueError(f"R of ndim 1 must have shape (S,) = ({S},), got {Rarr.shape}")
            R_out = np.repeat(Rarr[:, None], A, axis=1)
        elif Rarr.ndim == 2:
            if Rarr.shape != (S, A):
                raise ValueError(f"R must have shape (S, A) = ({S}, {A}), got {Rarr.shape}")
            R_out = Rarr
        else:
            if Rarr.shape != (A, S, S):
                raise ValueError(f"R of ndim 3 must have shape (A, S, S) = ({A}, {S}, {S}), got {Rarr.shape}")
            R_out = np.empty((S, A))
            for a in range(A):
                Pa = mats[a]
                if sp.issparse(Pa):
                    R_out[:, a] = np.asarray(sp.csr_array(Pa).multiply(Rarr[a]).sum(axis=1)).ravel()
                else:
                    R_out[:, a] = (np.asarray(Pa, dtype=np.float64) * Rarr[a]).sum(axis=1)
    return TabularMDP(P_out, R_out, gamma=gamma, horizon=horizon, rho=rho)


# --------------------------------------------------------------------------------- QuantEcon
def to_quantecon(mdp: TabularMDP, *, sa_pairs: bool = False):
    """QuantEcon's ``DiscreteDP`` arguments: product form ``(R, Q, beta)`` or state-action-pair
    form ``(R, Q, beta, s_indices, a_indices)``.

    Parameters
    ----------
    mdp : TabularMDP
        Stationary; discounted (``beta = gamma``) or finite horizon (``beta = 1.0``, for
        QuantEcon's ``backward_induction``).
    sa_pairs : bool
        ``False`` (default): the product form, ``R (n, m)`` with ``-inf`` at the infeasible
        pairs and dense ``Q (n, m, n)`` (a sparse ``mdp`` is densified). ``True``: the
        state-action-pair form over the feasible pairs only, in ``(s, a)`` order: ``R (L,)``,
        ``Q (L, n)`` (a ``scipy.sparse.csr_matrix`` for a sparse ``mdp``, dense otherwise),
        ``s_indices``, ``a_indices`` (int ``(L,)``).

    Returns
    -------
    tuple
        ``(R, Q, beta)`` or ``(R, Q, beta, s_indices, a_indices)``;
        ``DiscreteDP(*to_quantecon(mdp, ...))`` is the same problem.

    Examples
    --------
    >>> import mdps
    >>> R, Q, beta = mdps.to_quantecon(mdps.river_swim(4, gamma=0.95))
    >>> Q.shape, beta
    ((4, 2, 4), 0.95)
    """
    _require_stationary(mdp, "to_quantecon")
    if mdp.criterion == "average":
        raise ValueError("to_quantecon() needs a discounted or finite-horizon mdp; mdp is average reward")
    if not isinstance(sa_pairs, (bool, np.bool_)):
        raise TypeError(f"sa_pairs must be a bool, got {sa_pairs!r}")
    beta = mdp.gamma if mdp.criterion == "discounted" else 1.0
    if not sa_pairs:
        return mdp.R_masked, np.array(mdp.to_dense().P), beta
    s_idx, a_idx = np.nonzero(mdp.feasible)  # row-major: (s, a) order
    rows = s_idx * mdp.n_actions + a_idx
    P2 = mdp.P_matrix()
    Q = sp.csr_matrix(P2[rows]) if mdp.is_sparse else np.array(P2[rows])
    return np.array(mdp.R[s_idx, a_idx]), Q, beta, s_idx.astype(np.int64), a_idx.astype(np.int64)


def _index_vector(x, name: str, n: int, bound: int | None) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise TypeError(f"{name} must be a 1-d integer array, got dtype {arr.dtype} and shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} must have length L = {n} (one entry per state-action pair), got {arr.shape[0]}")
    hi = bound if bound is not None else None
    bad = np.flatnonzero((arr < 0) | ((arr >= hi) if hi is not None else False))
    if bad.size:
        i = int(bad[0])
        want = f"in [0, {hi - 1}]" if hi is not None else ">= 0"
        raise ValueError(f"{name}[{i}] is {int(arr[i])}, expected {want}")
    return arr.astype(np.int64)


def _from_sa_pairs(R, Q, s_indices, a_indices, n_actions):
    """``(P, R (S, A) with -inf at the missing pairs)`` from the state-action-pair form."""
    R_L = as_float_array(R, "R", ndim=1, allow_neg_inf=True)
    L = R_L.shape[0]
    if sp.issparse(Q):
        Q_L = check_sparse_matrix(Q, "Q")
    else:
        Q_L = as_float_array(Q, "Q", ndim=2)
    if Q_L.shape[0] != L:
        raise ValueError(f"in the state-action-pair form Q must have shape (L, n) = ({L}, n), got {Q_L.shape}")
    S = Q_L.shape[1]
    s_idx = _index_vector(s_indices, "s_indices", L, S)
    a_idx = _index_vector(a_indices, "a_indices", L, None)
    A = int(a_idx.max()) + 1 if L else 0
    if n_actions is not None:
        A_given = check_int(n_actions, "n_actions", low=1)
        if A_given < A:
            raise ValueError(f"n_actions = {A_given} but a_indices has action {A - 1}")
        A = A_given
    if S < 1 or A < 1:
        raise ValueError(f"the state-action-pair form needs at least one pair and one state, got L={L}, n={S}")
    flat = s_idx * A + a_idx
    uniq, first, counts = np.unique(flat, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup = np.flatnonzero(flat == uniq[np.argmax(counts > 1)])
        raise ValueError(
            f"state-action pair (s={int(s_idx[dup[0]])}, a={int(a_idx[dup[0]])}) appears twice "
            f"(positions {int(dup[0])} and {int(dup[1])} of s_indices/a_indices)"
        )
    R_full = np.full(S * A, -np.inf)
    R_full[flat] = R_L
    if sp.issparse(Q_L):
        order = np.argsort(flat)
        sel = sp.csr_array(Q_L)[order]
        counts_row = np.zeros(S * A, dtype=np.int64)
        counts_row[flat[order]] = np.diff(sel.indptr)
        indptr = np.concatenate([[0], np.cumsum(counts_row)])
        P = sp.csr_array((sel.data, sel.indices, indptr), shape=(S * A, S))
    else:
        P = np.zeros((S * A, S))
        P[flat] = Q_L
        P = P.reshape(S, A, S)
    return P, R_full.reshape(S, A)


def from_quantecon(R, Q=None, beta=None, s_indices=None, a_indices=None, *, horizon=None, rho=None,
                   n_actions=None) -> TabularMDP:
    """A :class:`TabularMDP` from QuantEcon's ``DiscreteDP`` (or its arguments).

    Parameters
    ----------
    R : array_like or quantecon.markov.DiscreteDP
        Product form: rewards ``(n, m)``; ``-inf`` marks an infeasible action (QuantEcon's
        convention), which becomes ``feasible[s, a] = False``. State-action-pair form: rewards
        ``(L,)`` of the listed pairs. A ``DiscreteDP`` instance is unpacked (its ``R``, ``Q``,
        ``beta`` and, in the pair form, ``s_indices``, ``a_indices``); ``Q`` and ``beta`` must
        then be omitted.
    Q : array_like or scipy.sparse matrix
        Product form: ``(n, m, n)``. Pair form: ``(L, n)``, dense or sparse (a sparse ``Q``
        gives a sparse ``TabularMDP``).
    beta : float
        Discount factor in ``[0, 1)``; with ``horizon`` it must be 1 (QuantEcon's convention
        for ``backward_induction``) and a finite-horizon instance is returned.
    s_indices, a_indices : int array (L,), optional
        The pair form: pair ``k`` is ``(s_indices[k], a_indices[k])``. Pairs not listed are
        infeasible; every state needs one listed pair, and a pair may be listed once.
    horizon : int, optional
    rho : array_like, shape (n,), optional
    n_actions : int, optional
        Pair form only: the number of actions ``m`` (default ``max(a_indices) + 1``).

    Returns
    -------
    TabularMDP
        With ``feasible`` the listed / finite-reward pairs; the rows of the infeasible pairs are
        self-loops (see :class:`mdps.TabularMDP`).

    Examples
    --------
    >>> import numpy as np, mdps
    >>> m = mdps.from_quantecon(np.array([[1.0]]), np.array([[[1.0]]]), 0.5)
    >>> m.gamma
    0.5
    >>> m2 = mdps.from_quantecon([1.0, 0.0, 2.0], np.eye(2)[[0, 1, 0]], 0.9,
    ...                          s_indices=[0, 0, 1], a_indices=[0, 1, 1])
    >>> m2.feasible.tolist()
    [[True, True], [False, True]]
    """
    if all(hasattr(R, n) for n in ("R", "Q", "beta", "s_indices", "a_indices")):  # a DiscreteDP
        if Q is not None or beta is not None or s_indices is not None or a_indices is not None:
            raise TypeError("from_quantecon(ddp) takes a DiscreteDP alone: omit Q, beta, s_indices and a_indices")
        ddp = R
        R, Q, beta, s_indices, a_indices = ddp.R, ddp.Q, ddp.beta, ddp.s_indices, ddp.a_indices
    if Q is None or beta is None:
        raise TypeError("from_quantecon needs R, Q and beta (or a quantecon DiscreteDP as its only argument)")
    if (s_indices is None) != (a_indices is None):
        raise ValueError("give both s_indices and a_indices (the state-action-pair form), or neither")
    kind = getattr(getattr(R, "dtype", None), "kind", None)
    if kind is None and isinstance(R, (list, tuple)):
        try:
            kind = np.asarray(R).dtype.kind
        except (TypeError, ValueError):  # ragged: as_float_array words the refusal
            kind = None
    if kind in ("U", "S"):
        raise TypeError("R must be a numeric array, got strings")
    if s_indices is not None:
        P, R_arr = _from_sa_pairs(R, Q, s_indices, a_indices, n_actions)
    else:
        if n_actions is not None:
            raise ValueError("n_actions applies to the state-action-pair form only (with s_indices, a_indices)")
        P, R_arr = Q, as_float_array(R, "R", allow_neg_inf=True)
    if horizon is None:
        return TabularMDP(P, R_arr, gamma=check_gamma(beta, "beta"), rho=rho)
    H = check_int(horizon, "horizon", low=1)
    if check_real(beta, "beta") != 1.0:
        raise ValueError(f"with horizon given, beta must be 1 (undiscounted finite horizon), got {beta!r}")
    return TabularMDP(P, R_arr, horizon=H, rho=rho)


# --------------------------------------------------------------------------------- Gymnasium
def to_gymnasium(mdp: TabularMDP) -> dict:
    """Gymnasium toy-text transition table ``P[s][a] = [(p, s', r, done), ...]``.

    Only ``s'`` with ``p > 0`` are listed, in increasing order; ``r = R[s, a]`` and
    ``done = False`` (a tabular MDP has no terminal states).

    Parameters
    ----------
    mdp : TabularMDP
        Stationary.

    Returns
    -------
    dict of int -> dict of int -> list of (float, int, float, bool)

    Examples
    --------
    >>> import mdps
    >>> mdps.to_gymnasium(mdps.chain(2, gamma=0.9))[1][0]
    [(1.0, 1, 1.0, False)]
    """
    _require_stationary(mdp, "to_gymnasium")
    _require_all_feasible(mdp, "to_gymnasium", "Gymnasium's toy-text table")
    S, A = mdp.n_states, mdp.n_actions
    M = sp.csr_array(mdp.P_matrix())
    M.eliminate_zeros()
    M.sort_indices()
    out = {}
    for s in range(S):
        row_s = {}
        for a in range(A):
            r = s * A + a
            lo, hi = M.indptr[r], M.indptr[r + 1]
            rew = float(mdp.R[s, a])
            row_s[a] = [(float(p), int(j), rew, False) for p, j in zip(M.data[lo:hi], M.indices[lo:hi])]
        out[s] = row_s
    return out


def from_gymnasium(P_dict, *, gamma=None, horizon=None, rho=None, terminal: str = "absorbing") -> TabularMDP:
    """A :class:`TabularMDP` from a Gymnasium toy-text table ``P[s][a] = [(p, s', r, done)]``.

    Parameters
    ----------
    P_dict : mapping
        States ``0..S-1`` as keys, each a mapping (or sequence) over actions ``0..A-1`` with
        the same ``A`` for every state (e.g. ``gymnasium.make("FrozenLake-v1").unwrapped.P``).
    gamma, horizon : optional
        Criterion, as in :class:`TabularMDP`.
    rho : array_like, shape (S,), optional
        Initial distribution over the original states (default uniform over them); the extra
        absorbing state, if any, gets probability 0.
    terminal : {"absorbing", "keep"}
        ``"absorbing"``: transitions with ``done=True`` go to one extra absorbing zero-reward
        state of index ``S`` (added only if some transition is terminal). ``"keep"``: ``done``
        is ignored.

    Returns
    -------
    TabularMDP
        Dense, ``S`` or ``S + 1`` states; ``R[s, a] = sum p * r`` (the common ``r`` itself
        when all rewards of the pair agree).

    Examples
    --------
    >>> import mdps
    >>> table = {0: {0: [(0.5, 0, 0.0, False), (0.5, 1, 1.0, True)]}, 1: {0: [(1.0, 1, 0.0, True)]}}
    >>> m = mdps.from_gymnasium(table, gamma=0.9)
    >>> m.n_states, m.P[0, 0].tolist(), m.R[:, 0].tolist()
    (3, [0.5, 0.0, 0.5], [0.5, 0.0, 0.0])
    """
    check_choice(terminal, "terminal", {"absorbing", "keep"})
    if not hasattr(P_dict, "keys"):
        raise TypeError(f"P_dict must be a mapping state -> actions, got {type(P_dict).__name__}")
    S = len(P_dict)
    if S == 0:
        raise ValueError("P_dict must have at least one state, got an empty mapping")
    if set(P_dict.keys()) != set(range(S)):
        raise ValueError(f"P_dict's keys must be the states 0..{S - 1}, got {sorted(P_dict.keys(), key=repr)[:10]}")

    def actions_of(s):
        acts = P_dict[s]
        if hasattr(acts, "keys"):
            n = len(acts)
            if set(acts.keys()) != set(range(n)):
                raise ValueError(f"P_dict[{s}]'s keys must be the actions 0..{n - 1}, got {sorted(acts.keys(), key=repr)}")
            return [acts[a] for a in range(n)]
        return list(acts)

    table = [actions_of(s) for s in range(S)]
    A = len(table[0])
    if A == 0:
        raise ValueError("P_dict[0] has no actions; every state needs at least one")
    for s in range(S):
        if len(table[s]) != A:
            raise ValueError(f"every state must have the same actions; P_dict[0] has {A}, P_dict[{s}] has {len(table[s])}")

    # parse and validate every transition first (the terminal flags decide the state count)
    parsed = [[[] for _ in range(A)] for _ in range(S)]
    for s in range(S):
        for a in range(A):
            trs = table[s][a]
            try:
                n_tr = len(trs)
            except TypeError:
                raise TypeError(f"P_dict[{s}][{a}] must be a list of (p, s', r, done) tuples, got {trs!r}") from None
            if n_tr == 0:
                raise ValueError(f"P_dict[{s}][{a}] lists no transitions")
            for i, tr in enumerate(trs):
                where = f"P_dict[{s}][{a}][{i}]"
                try:
                    p, nxt, r, done = tuple(tr)[:4]
                except (TypeError, ValueError):
                    raise TypeError(f"{where} must be a (p, s', r, done) tuple, got {tr!r}") from None
                if isinstance(nxt, bool) or not isinstance(nxt, numbers.Integral) or not 0 <= int(nxt) < S:
                    raise ValueError(f"{where} has next state {nxt!r}, expected an int in [0, {S - 1}]")
                p = check_real(p, f"{where} probability", low=0.0)
                r = check_real(r, f"{where} reward")
                parsed[s][a].append((p, int(nxt), r, bool(done)))
    absorbing = terminal == "absorbing" and any(
        tr[3] for acts in parsed for trs in acts for tr in trs
    )
    S_out = S + 1 if absorbing else S
    P = np.zeros((S_out, A, S_out))
    R = np.zeros((S_out, A))
    for s in range(S):
        for a in range(A):
            rewards = []
            for p, nxt, r, done in parsed[s][a]:
                target = S if (absorbing and done) else nxt
                P[s, a, target] += p
                rewards.append((p, r))
            rs = [r for _, r in rewards]
            R[s, a] = rs[0] if all(r == rs[0] for r in rs) else float(sum(p * r for p, r in rewards))
    if absorbing:
        P[S, :, S] = 1.0
    if rho is not None:
        rho_arr = as_float_array(rho, "rho", ndim=1)
        if rho_arr.shape != (S,):
            raise ValueError(f"rho must have shape ({S},) (the states of P_dict), got {rho_arr.shape}")
    else:
        rho_arr = np.full(S, 1.0 / S)
    if absorbing:
        rho_arr = np.append(rho_arr, 0.0)
    return TabularMDP(P, R, gamma=gamma, horizon=horizon, rho=rho_arr)
