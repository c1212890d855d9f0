"""Finite Markov chains behind the exact evaluators: policy kernels, recurrent classes, stationary
distributions and one linear-solve entry point for dense and sparse systems.

Private helpers shared by :mod:`mdps.occupancy` (occupancy measures, stationary
distributions) and :mod:`mdps.average_reward` (gain and bias); inputs are trusted (validated
at the public boundary). Recurrent classes are computed exactly on the support graph of the
chain (edge ``s -> s'`` iff ``P[s, s'] > 0``): they are the closed strongly connected
components, i.e. the sinks of the condensation (networkx).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["policy_kernel", "linear_solve", "support_graph", "recurrent_classes",
           "stationary_on_class", "union_graph"]


def policy_kernel(P2, pi: np.ndarray, S: int, A: int):
    """``P_pi[s, s'] = sum_a pi[s, a] P[s, a, s']`` from the ``(S*A, S)`` view: dense ``(S, S)``
    ndarray for a dense ``P2``, CSR for a sparse one (never densified)."""
    if sp.issparse(P2):
        Pi = sp.csr_array((pi.ravel(), (np.repeat(np.arange(S), A), np.arange(S * A))),
                          shape=(S, S * A))
        return sp.csr_array(Pi @ P2)
    return np.einsum("sa,sat->st", pi, P2.reshape(S, A, S))


def linear_solve(M, b):
    """Solve ``M x = b`` for a dense ndarray or a sparse matrix (SuperLU)."""
    if sp.issparse(M):
        return np.asarray(spla.spsolve(sp.csc_array(M), b), dtype=np.float64)
    return np.linalg.solve(M, b)


def support_graph(M) -> nx.DiGraph:
    """Directed graph with an edge ``s -> s'`` for every positive entry of the square ``M``."""
    G = nx.DiGraph()
    G.add_nodes_from(range(M.shape[0]))
    if sp.issparse(M):
        coo = sp.coo_array(M)
        keep = coo.data > 0
        G.add_edges_from(zip(coo.row[keep].tolist(), coo.col[keep].tolist()))
    else:
        G.add_edges_from(zip(*(x.tolist() for x in np.nonzero(M > 0))))
    return G


def union_graph(P2, S: int, A: int) -> nx.DiGraph:
    """The MDP's union support graph: ``s -> s'`` iff ``P[s, a, s'] > 0`` for some action ``a``."""
    G = nx.DiGraph()
    G.add_nodes_from(range(S))
    if sp.issparse(P2):
        coo = sp.coo_array(P2)
        keep = coo.data > 0
        G.add_edges_from(zip((coo.row[keep] // A).tolist(), coo.col[keep].tolist()))
    else:
        r, c = np.nonzero(np.asarray(P2) > 0)
        G.add_edges_from(zip((r // A).tolist(), c.tolist()))
    return G


def closed_classes(G: nx.DiGraph) -> list[np.ndarray]:
    """The closed strongly connected components of ``G`` (sinks of its condensation), each
    sorted, listed by smallest node."""
    cond = nx.condensation(G)
    classes = [np.array(sorted(cond.nodes[c]["members"]), dtype=np.int64)
               for c in cond.nodes if cond.out_degree(c) == 0]
    return sorted(classes, key=lambda c: int(c[0]))


def recurrent_classes(M) -> list[np.ndarray]:
    """Recurrent classes of the chain ``M`` (dense or sparse, trusted row stochastic)."""
    return closed_classes(support_graph(M))


def stationary_on_class(M, C: np.ndarray) -> np.ndarray:
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
    muC = linear_solve(A_, b)
    muC = np.clip(muC, 0.0, None)  # round-off below zero on a state of tiny mass
    mu = np.zeros(S)
    mu[C] = muC / muC.sum()
    return mu


def describe_classes(classes, limit: int = 4) -> str:
    """``"[0], [2, 3], ..."``: the first ``limit`` classes for an error message."""
    shown = ", ".join(str(c.tolist()) for c in classes[:limit])
    return shown + (", ..." if len(classes) > limit else "")
