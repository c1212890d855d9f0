r"""Occupancy measures: the state-action frequencies of a policy, for every criterion.

An occupancy measure is the linear-programming face of a policy. Rewards are linear in it, so
``value = <occupancy, R>``; the Bellman flow constraints below are exactly the constraints of
the dual LPs (Puterman 1994, §6.9, §8.8; Altman 1999, ch. 3). Given an occupancy, the policy
is recovered by normalising over actions (:func:`policy_from_occupancy`).

Discounted (normalised, Puterman §6.9)
    .. math::

        d^\pi_\rho(s, a) = (1-\gamma) \sum_{t \ge 0} \gamma^t \Pr(s_t = s, a_t = a \mid s_0 \sim \rho),
        \qquad d_S = (1-\gamma)(I - \gamma P_\pi^\top)^{-1} \rho, \quad d(s,a) = d_S(s)\,\pi(a \mid s).

    It sums to one, obeys the flow constraint
    :math:`\sum_a d(s',a) = (1-\gamma)\rho(s') + \gamma \sum_{s,a} P(s' \mid s,a) d(s,a)`, and
    :math:`V^\pi(\rho) = \langle d, R\rangle / (1-\gamma)`.

Finite horizon (forward recursion, one distribution per stage)
    .. math::

        q_0(s,a) = \rho(s)\pi_0(a \mid s), \qquad
        q_{h+1}(s',a') = \pi_{h+1}(a' \mid s') \sum_{s,a} q_h(s,a) P_h(s' \mid s,a),

    each ``q_h`` sums to one and :math:`V^\pi_0(\rho) = \sum_h \langle q_h, R_h \rangle`.

Average reward (stationary frequencies, Puterman §8.8)
    For a unichain policy (one recurrent class, plus transient states), the stationary
    distribution :math:`\mu` of :math:`P_\pi` is unique; :math:`x(s,a) = \mu(s)\pi(a \mid s)`
    satisfies :math:`\sum_a x(s',a) = \sum_{s,a} P(s' \mid s,a) x(s,a)`, :math:`\sum x = 1`, and
    the gain is :math:`g^\pi = \langle x, R\rangle`. A policy with several recurrent classes has
    a whole simplex of stationary distributions; we refuse it rather than pick one silently.

Recurrent classes are computed exactly on the support graph of :math:`P_\pi` (edge
``s -> s'`` iff ``P_pi[s, s'] > 0``): they are the closed strongly connected components
(the sinks of the condensation), found with networkx. The stationary distribution is solved on
the single recurrent class ``C`` (where ``P_CC`` is stochastic and irreducible) and is exactly
zero on transient states.

References
----------
.. [1] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, §6.9, §8.3, §8.8.
.. [2] E. Altman, *Constrained Markov Decision Processes*, Chapman & Hall, 1999, ch. 3-4.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from mdps._validation import (
    ROW_SUM_ATOL,
    as_float_array,
    check_nonnegative,
    check_rows_stochastic,
)
from mdps.tabular import TabularMDP

__all__ = ["occupancy_measure", "stationary_distribution", "policy_from_occupancy",
           "recurrent_classes"]


# -- shared private helpers (also used by finite_horizon and average_reward) --------------------
def _check_mdp(mdp, name: str = "mdp") -> TabularMDP:
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"{name} must be a mdps.TabularMDP, got {type(mdp).__name__}")
    return mdp


def _as_policy(pi, S: int, A: int, *, horizon: int | None = None, name: str = "pi") -> np.ndarray:
    """Validate a policy and return it as a stochastic array ``(S, A)`` or ``(H, S, A)``.

    Accepted: stochastic float ``(S, A)`` (and ``(H, S, A)`` when ``horizon`` is given) with
    rows on the simplex; deterministic integer ``(S,)`` (and ``(H, S)``) with actions in
    ``[0, A-1]``. Deterministic policies are returned one-hot.
    """
    arr = np.asarray(pi)
    if arr.dtype == np.bool_:
        raise TypeError(f"{name} must be a float (stochastic) or integer (deterministic) array, got bool")
    if np.issubdtype(arr.dtype, np.integer):
        shapes = [(S,)] + ([(horizon, S)] if horizon is not None else [])
        if arr.shape not in shapes:
            want = " or ".join(str(s) for s in shapes)
            raise ValueError(f"{name} as a deterministic policy must have shape {want}, got {arr.shape}")
        bad = (arr < 0) | (arr >= A)
        if bad.any():
            idx = np.argwhere(bad)[0]
            raise ValueError(
                f"{name}[{', '.join(str(int(i)) for i in idx)}] is {int(arr[tuple(idx)])}, "
                f"expected an action in [0, {A - 1}]"
            )
        out = np.zeros(arr.shape + (A,))
        np.put_along_axis(out, arr[..., None].astype(np.intp), 1.0, axis=-1)
        return out
    arr = as_float_array(pi, name)
    if arr.ndim == 1:
        raise TypeError(
            f"{name} of shape {arr.shape} has dtype {arr.dtype}: a deterministic policy must be an "
            f"integer array of actions, a stochastic one a float array of shape ({S}, {A})"
        )
    shapes = [(S, A)] + ([(horizon, S, A)] if horizon is not None else [])
    if arr.shape not in shapes:
        want = " or ".join(str(s) for s in shapes)
        raise ValueError(f"{name} as a stochastic policy must have shape {want}, got {arr.shape}")
    check_rows_stochastic(arr, name)
    return arr


def _policy_kernel(P2, pi: np.ndarray, S: int, A: int):
    """``P_pi[s, s'] = sum_a pi[s, a] P[s, a, s']`` from the ``(S*A, S)`` view: dense ``(S, S)``
    ndarray for a dense ``P2``, CSR for a sparse one."""
    if sp.issparse(P2):
        Pi = sp.csr_array((pi.ravel(), (np.repeat(np.arange(S), A), np.arange(S * A))),
                          shape=(S, S * A))
        return sp.csr_array(Pi @ P2)
    return np.einsum("sa,sat->st", pi, P2.reshape(S, A, S))


def _solve(M, b):
    """Linear solve for a dense ndarray or a sparse matrix."""
    if sp.issparse(M):
        return np.asarray(spla.spsolve(sp.csc_array(M), b), dtype=np.float64)
    return np.linalg.solve(M, b)


def _as_stochastic_matrix(P_pi, name: str):
    if sp.issparse(P_pi):
        M = sp.csr_array(P_pi, dtype=np.float64)
        M.sum_duplicates()
        if M.ndim != 2 or M.shape[0] != M.shape[1]:
            raise ValueError(f"{name} must be a square (S, S) matrix, got shape {M.shape}")
        if not np.all(np.isfinite(M.data)):
            raise ValueError(f"{name} has a non-finite entry, expected finite probabilities")
        _check_sparse_rows(M, name)
        return M
    M = as_float_array(P_pi, name, ndim=2)
    if M.shape[0] != M.shape[1] or M.shape[0] < 1:
        raise ValueError(f"{name} must be a square (S, S) matrix with S >= 1, got shape {M.shape}")
    check_rows_stochastic(M, name)
    return M


def _check_sparse_rows(M, name):
    check_nonnegative(M.data, f"{name}.data")
    sums = np.asarray(M.sum(axis=1)).ravel()
    bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_ATOL)
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}, :] sums to {sums[bad[0]]:.12g}, expected 1 within {ROW_SUM_ATOL:g}")


def _support_graph(M) -> nx.DiGraph:
    G = nx.DiGraph()
    G.add_nodes_from(range(M.shape[0]))
    if sp.issparse(M):
        coo = sp.coo_array(M)
        keep = coo.data > 0
        G.add_edges_from(zip(coo.row[keep].tolist(), coo.col[keep].tolist()))
    else:
        G.add_edges_from(zip(*(x.tolist() for x in np.nonzero(M > 0))))
    return G


def _recurrent_classes(M) -> list[np.ndarray]:
    G = _support_graph(M)
    cond = nx.condensation(G)
    classes = [np.array(sorted(cond.nodes[c]["members"]), dtype=np.int64)
               for c in cond.nodes if cond.out_degree(c) == 0]
    return sorted(classes, key=lambda c: int(c[0]))


def _stationary_on_class(M, C: np.ndarray) -> np.ndarray:
    """Stationary distribution of ``M`` supported on the closed irreducible class ``C``.

    Solves ``mu_C (I - M_CC) = 0`` with the first equation replaced by ``sum mu_C = 1``: the
    rows of ``(I - M_CC)^T`` sum to zero and any ``|C|-1`` of them are independent (``M_CC``
    irreducible), so the bordered matrix is nonsingular.
    """
    S = M.shape[0]
    n = C.size
    if sp.issparse(M):
        MCC = sp.csr_array(M[C][:, C])
        A_ = sp.lil_array(sp.identity(n, format="csr") - MCC.T)
        A_[0, :] = np.ones(n)
        A_ = sp.csc_array(A_)
    else:
        A_ = np.eye(n) - M[np.ix_(C, C)].T
        A_[0, :] = 1.0
    b = np.zeros(n)
    b[0] = 1.0
    muC = _solve(A_, b)
    muC = np.clip(muC, 0.0, None)  # round-off below zero on a state of tiny mass
    mu = np.zeros(S)
    mu[C] = muC / muC.sum()
    return mu


# -- public API ---------------------------------------------------------------------------------
def recurrent_classes(P_pi) -> list[np.ndarray]:
    """The recurrent classes of a finite Markov chain.

    Parameters
    ----------
    P_pi : array_like, shape (S, S), or scipy.sparse matrix
        Row-stochastic transition matrix.

    Returns
    -------
    list of ndarray of int
        The closed strongly connected components of the support graph (edge ``s -> s'`` iff
        ``P_pi[s, s'] > 0``), each sorted, listed by smallest state. States in no class are
        transient.

    Examples
    --------
    >>> import numpy as np
    >>> [c.tolist() for c in recurrent_classes(np.array([[1.0, 0.0, 0.0], [0.5, 0.0, 0.5], [0.0, 0.0, 1.0]]))]
    [[0], [2]]
    """
    return _recurrent_classes(_as_stochastic_matrix(P_pi, "P_pi"))


def stationary_distribution(P_pi) -> np.ndarray:
    r"""The stationary distribution :math:`\mu^\top P_\pi = \mu^\top`, :math:`\sum \mu = 1`.

    Parameters
    ----------
    P_pi : array_like, shape (S, S), or scipy.sparse matrix
        Row-stochastic matrix with exactly one recurrent class (transient states allowed;
        periodicity allowed, the Cesàro-limit distribution is returned).

    Returns
    -------
    mu : ndarray, shape (S,)
        Exactly zero on transient states.

    Raises
    ------
    ValueError
        If ``P_pi`` is not row stochastic, or has more than one recurrent class (the
        stationary distribution is then not unique).

    Examples
    --------
    >>> import numpy as np
    >>> stationary_distribution(np.array([[0.0, 1.0], [0.5, 0.5]])).round(6).tolist()
    [0.333333, 0.666667]
    """
    M = _as_stochastic_matrix(P_pi, "P_pi")
    classes = _recurrent_classes(M)
    if len(classes) > 1:
        raise ValueError(
            f"P_pi has {len(classes)} recurrent classes "
            f"({', '.join(str(c.tolist()) for c in classes[:4])}{', ...' if len(classes) > 4 else ''}); "
            f"the stationary distribution is unique only with exactly one"
        )
    return _stationary_on_class(M, classes[0])


def _unichain_stationary(P_pi, name: str) -> np.ndarray:
    classes = _recurrent_classes(P_pi)
    if len(classes) > 1:
        raise ValueError(
            f"{name} is not unichain: its chain P_pi has {len(classes)} recurrent classes "
            f"({', '.join(str(c.tolist()) for c in classes[:4])}{', ...' if len(classes) > 4 else ''}); "
            f"the average-reward occupancy and gain/bias need exactly one"
        )
    return _stationary_on_class(P_pi, classes[0])


def occupancy_measure(mdp: TabularMDP, pi) -> np.ndarray:
    r"""The occupancy measure of policy ``pi`` under the criterion of ``mdp``.

    Parameters
    ----------
    mdp : TabularMDP
        Any criterion, dense or sparse; the initial distribution is ``mdp.rho``.
    pi : array_like
        Stochastic ``(S, A)`` or deterministic int ``(S,)``; for a finite-horizon ``mdp`` also
        ``(H, S, A)`` or int ``(H, S)`` (a stationary policy is used at every stage).

    Returns
    -------
    ndarray
        * discounted: ``d`` of shape ``(S, A)``, the normalised discounted occupancy
          :math:`(1-\gamma)\sum_t\gamma^t\Pr(s_t=s,a_t=a)` (sums to 1), by one linear solve;
        * finite horizon: ``q`` of shape ``(H, S, A)``, ``q[h]`` the law of ``(s_h, a_h)``;
        * average: ``x`` of shape ``(S, A)``, the stationary state-action frequencies of a
          unichain ``pi`` (ValueError naming ``pi`` otherwise).

    Examples
    --------
    >>> import numpy as np, mdps
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]]); R = np.array([[1.0], [0.0]])
    >>> occupancy_measure(mdps.TabularMDP(P, R, gamma=0.5, rho=[1, 0]), np.zeros(2, dtype=int)).ravel().round(4).tolist()
    [0.6667, 0.3333]
    """
    _check_mdp(mdp)
    S, A = mdp.n_states, mdp.n_actions
    crit = mdp.criterion
    if crit == "finite_horizon":
        H = mdp.horizon
        pol = _as_policy(pi, S, A, horizon=H, name="pi")
        if pol.ndim == 2:
            pol = np.broadcast_to(pol, (H, S, A))
        q = np.empty((H, S, A))
        q[0] = mdp.rho[:, None] * pol[0]
        for h in range(H - 1):
            P2 = mdp.P_matrix(h)
            nxt = P2.T @ q[h].ravel()
            q[h + 1] = np.asarray(nxt).ravel()[:, None] * pol[h + 1]
        return q
    pol = _as_policy(pi, S, A, name="pi")
    P_pi = _policy_kernel(mdp.P_matrix(), pol, S, A)
    if crit == "discounted":
        g = mdp.gamma
        if sp.issparse(P_pi):
            M = sp.identity(S, format="csr") - g * P_pi.T
        else:
            M = np.eye(S) - g * P_pi.T
        dS = (1.0 - g) * _solve(M, mdp.rho)
        return dS[:, None] * pol
    mu = _unichain_stationary(P_pi, "pi")
    return mu[:, None] * pol


def policy_from_occupancy(d, *, atol: float = 0.0) -> np.ndarray:
    r"""Policy of an occupancy measure: :math:`\pi(a \mid s) = d(s,a) / \sum_{a'} d(s,a')`.

    Parameters
    ----------
    d : array_like, shape (S, A) or (H, S, A)
        Nonnegative occupancy (any of the three kinds above; the normalisation of ``d`` is
        irrelevant).
    atol : float, default 0
        State (stage) rows whose mass ``sum_a d`` is ``<= atol`` are treated as unvisited and
        get the uniform policy (use e.g. ``1e-12`` for LP output with round-off mass).

    Returns
    -------
    pi : ndarray, same shape as ``d``
        Rows on the simplex; uniform where the denominator is 0 (the policy there is
        arbitrary: it does not affect the occupancy).
    """
    arr = as_float_array(d, "d", ndim=(2, 3))
    if arr.shape[-1] < 1:
        raise ValueError(f"d must have at least one action, got shape {arr.shape}")
    check_nonnegative(arr, "d")
    if not (np.isfinite(atol) and atol >= 0):
        raise ValueError(f"atol must be finite and >= 0, got {atol!r}")
    mass = arr.sum(axis=-1, keepdims=True)
    empty = mass <= atol
    A = arr.shape[-1]
    safe = np.where(empty, 1.0, mass)
    return np.where(empty, 1.0 / A, arr / safe)
