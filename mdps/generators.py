r"""Instance generators: random and structured tabular MDPs with known structure.

Every generator returns a validated :class:`~mdps.tabular.TabularMDP`. The criterion is chosen
by the keyword-only ``gamma`` (discounted) / ``horizon`` (finite horizon) arguments, neither
meaning average reward, exactly as in the container. Randomised generators take a keyword-only
``rng`` (a :class:`numpy.random.Generator`, an int or a :class:`numpy.random.SeedSequence`,
normalised by :func:`mdps.validation.check_rng`, which names ``rng`` when it refuses a value);
nothing touches global random state, and
generation happens in NumPy, so the same ``rng`` gives the same instance on every machine.

Catalogue (each generator's docstring states its exact construction):

========================  ===================================================================
``garnet``                random sparse kernels, ``b`` successors per pair [1]_
``random_finite_horizon`` Dirichlet(1_S) stage-dependent kernels, U[0, 1] rewards [2]_
``river_swim``            Strehl & Littman's RiverSwim [3]_ (Osband et al. 2013 parameters)
``chain``                 advance / reset chain: exponential exploration hardness [4]_
``gridworld``             grid or general graph world with slip (networkx)
``jao``                   Jaksch-Ortner-Auer two-state lower-bound instance [5]_
``tight_vi_instance``     one state, one action: VI's ``gamma^k/(1-gamma)`` bound is tight
``hard_episodic_tree``    Domingues et al. 2021 minimax lower-bound tree [6]_
``inventory``             Puterman's inventory model: order-size sets shrink with the stock [7]_
========================  ===================================================================

References
----------
.. [1] T. Archibald, K. McKinnon, L. Thomas, "On the generation of Markov decision processes",
   J. Operational Research Society 46 (1995); name and use as in S. Bhatnagar et al.,
   "Natural actor-critic algorithms", Automatica 45 (2009).
.. [2] The StepMix / EpsMix experiments: S = A = 5, H = 3.
.. [3] A. Strehl, M. Littman, "An analysis of model-based interval estimation for Markov
   decision processes", JCSS 74 (2008); transition probabilities of I. Osband, D. Russo,
   B. Van Roy, "(More) efficient reinforcement learning via posterior sampling", NeurIPS 2013.
.. [4] S. Whitehead, "Complexity and cooperation in Q-learning", ICML 1991; S. Koenig,
   R. Simmons, "The effect of representation and knowledge on goal-directed exploration with
   reinforcement-learning algorithms", Machine Learning 22 (1996).
.. [5] T. Jaksch, R. Ortner, P. Auer, "Near-optimal regret bounds for reinforcement learning",
   JMLR 11 (2010), section 6 (lower bound).
.. [6] O. D. Domingues, P. Menard, E. Kaufmann, M. Valko, "Episodic reinforcement learning in
   finite MDPs: minimax lower bounds revisited", ALT 2021, arXiv:2010.03531.
.. [7] M. L. Puterman, *Markov Decision Processes*, Wiley 1994, section 3.2.1 (model) and
   section 4.6.1 (its numerical example, solved by backward induction).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mdps.tabular import TabularMDP
from mdps.validation import check_gamma, check_int, check_real, check_rng

__all__ = [
    "garnet",
    "river_swim",
    "chain",
    "gridworld",
    "gridworld_states",
    "random_finite_horizon",
    "jao",
    "tight_vi_instance",
    "hard_episodic_tree",
    "inventory",
]

#: The grid actions of :func:`gridworld` as (dx, dy) moves: 0 up, 1 right, 2 down, 3 left, 4 stay.
GRID_MOVES = ((0, 1), (1, 0), (0, -1), (-1, 0), (0, 0))


def _e0(n: int) -> np.ndarray:
    rho = np.zeros(n)
    rho[0] = 1.0
    return rho


# ------------------------------------------------------------------------------------ garnet
def _sample_without_replacement(rng: np.random.Generator, n_rows: int, n: int, k: int) -> np.ndarray:
    """``(n_rows, k)`` sorted rows, each a uniformly random ``k``-subset of ``range(n)``.

    Floyd's algorithm vectorised over rows: for ``j = n-k, ..., n-1`` draw ``t ~ U{0..j}`` and
    keep ``t`` unless it was already chosen, in which case keep ``j`` (which cannot have been).
    Every ``k``-subset is equally likely; cost ``O(n_rows * k^2)``, no ``(n_rows, n)`` array.
    """
    out = np.empty((n_rows, k), dtype=np.int64)
    for col, j in enumerate(range(n - k, n)):
        t = rng.integers(0, j + 1, size=n_rows, dtype=np.int64)
        if col:
            taken = (out[:, :col] == t[:, None]).any(axis=1)
            t[taken] = j
        out[:, col] = t
    out.sort(axis=1)
    return out


def garnet(n_states, n_actions, branching, *, gamma=None, horizon=None, rho=None,
           sparse: bool = False, rng=None) -> TabularMDP:
    r"""A Garnet ("generic average reward non-stationary environment test-bench") MDP [1]_.

    Every pair ``(s, a)`` gets ``branching`` distinct successors drawn uniformly at random
    (without replacement) from the ``S`` states; their probabilities are a Dirichlet(1_b)
    draw (uniform on the simplex); rewards are i.i.d. :math:`R[s, a] \sim U[0, 1]`.

    Parameters
    ----------
    n_states : int >= 1
        ``S``.
    n_actions : int >= 1
        ``A``.
    branching : int in [1, S]
        ``b``, the number of successors of each pair: every row of ``P`` has exactly ``b``
        nonzeros (Dirichlet draws are almost surely positive).
    gamma, horizon : optional
        Criterion, as in :class:`~mdps.tabular.TabularMDP`.
    rho : array_like, shape (S,), optional
        Initial distribution (default uniform).
    sparse : bool
        Build ``P`` as a CSR ``(S*A, S)`` matrix directly (no dense ``(S, A, S)`` array is
        ever formed; ``S = 10^5, A = 10, b = 5`` takes about a second).
    rng : Generator, int or SeedSequence, optional

    Returns
    -------
    TabularMDP
        ``P`` of shape ``(S, A, S)`` (or CSR ``(S*A, S)``), ``R`` of shape ``(S, A)``.

    Notes
    -----
    Draw order (so instances are reproducible): the successor sets row by row (vectorised
    Floyd sampling), then ``(S*A, b)`` standard exponentials normalised per row (a
    Dirichlet(1_b) draw, assigned to the successors in increasing state order), then ``R``.
    The dense and sparse layouts consume the same draws, so ``garnet(..., sparse=True,
    rng=seed).to_dense()`` equals ``garnet(..., rng=seed)`` exactly.

    Examples
    --------
    >>> import mdps
    >>> m = mdps.garnet(10, 3, 2, gamma=0.9, rng=0)
    >>> m.P.shape, int((m.P > 0).sum(axis=-1).max())
    ((10, 3, 10), 2)
    """
    S = check_int(n_states, "n_states", low=1)
    A = check_int(n_actions, "n_actions", low=1)
    b = check_int(branching, "branching", low=1)
    if b > S:
        raise ValueError(f"branching must be <= n_states = {S}, got {b}")
    if not isinstance(sparse, (bool, np.bool_)):
        raise TypeError(f"sparse must be a bool, got {sparse!r}")
    rng = check_rng(rng)
    n_rows = S * A
    cols = _sample_without_replacement(rng, n_rows, S, b)
    w = rng.standard_exponential((n_rows, b))
    w /= w.sum(axis=1, keepdims=True)
    R = rng.random((S, A))
    if sparse:
        indptr = np.arange(0, n_rows * b + 1, b, dtype=np.int64)
        P = sp.csr_array((w.ravel(), cols.ravel(), indptr), shape=(n_rows, S))
    else:
        P = np.zeros((n_rows, S))
        np.put_along_axis(P, cols, w, axis=1)
        P = P.reshape(S, A, S)
    return TabularMDP(P, R, gamma=gamma, horizon=horizon, rho=rho)


# ------------------------------------------------------------------------------- river swim
def river_swim(n_states=6, *, gamma=None, horizon=None) -> TabularMDP:
    r"""RiverSwim [3]_: a river of ``n`` states where swimming upstream pays off, rarely.

    States ``s_1..s_n`` are indices ``0..n-1``; action 0 swims left (downstream), action 1
    right (upstream). Exactly:

    * left: a deterministic move to ``s - 1`` (``s_1`` stays), reward 0.005 at ``(s_1, left)``;
    * right at ``s_1``: ``s_2`` w.p. 0.4, stay w.p. 0.6;
    * right in the interior: ``s + 1`` w.p. 0.35, stay w.p. 0.6, ``s - 1`` w.p. 0.05;
    * right at ``s_n``: stay w.p. 0.6, ``s_{n-1}`` w.p. 0.4, reward 1 at ``(s_n, right)``.

    The episode starts in ``s_1`` (``rho = e_0``). Episodic use: ``horizon`` between ``2n``
    and ``4n``. The small reward at the left bank is a trap for under-exploring agents.

    Parameters
    ----------
    n_states : int >= 2
    gamma, horizon : optional
        Criterion, as in :class:`~mdps.tabular.TabularMDP`.

    Returns
    -------
    TabularMDP
        ``P`` of shape ``(n, 2, n)``, ``R`` of shape ``(n, 2)``.

    Examples
    --------
    >>> import mdps
    >>> m = mdps.river_swim(6, horizon=20)
    >>> m.P[0, 1, :2].tolist(), float(m.R[5, 1])
    ([0.6, 0.4], 1.0)
    """
    n = check_int(n_states, "n_states", low=2)
    P = np.zeros((n, 2, n))
    R = np.zeros((n, 2))
    for s in range(n):
        P[s, 0, max(s - 1, 0)] = 1.0
    P[0, 1, 0], P[0, 1, 1] = 0.6, 0.4
    for s in range(1, n - 1):
        P[s, 1, s + 1], P[s, 1, s], P[s, 1, s - 1] = 0.35, 0.6, 0.05
    P[n - 1, 1, n - 1], P[n - 1, 1, n - 2] = 0.6, 0.4
    R[0, 0] = 0.005
    R[n - 1, 1] = 1.0
    return TabularMDP(P, R, gamma=gamma, horizon=horizon, rho=_e0(n))


# ------------------------------------------------------------------------------------ chain
def chain(n_states, *, gamma=None, horizon=None) -> TabularMDP:
    r"""A deterministic advance / reset chain: the classic exploration-hardness instance [4]_.

    States ``0..n-1``, start in state 0 (``rho = e_0``). Action 0 advances to ``s + 1`` (the
    last state stays put), action 1 resets to state 0. The only reward is 1 for advancing at
    the far end, ``R[n-1, 0] = 1``.

    Hardness: under the uniformly random policy the expected time to reach state ``n-1``
    from 0 is :math:`T_n = 2^n - 2` (each advance succeeds w.p. 1/2 and a failure restarts the
    walk: :math:`T_{k+1} = 2 T_k + 2`), so undirected (dithering) exploration needs about
    :math:`2^n` steps to see any reward, while an optimistic agent needs :math:`O(n)`.

    Parameters
    ----------
    n_states : int >= 1
    gamma, horizon : optional
        Criterion, as in :class:`~mdps.tabular.TabularMDP`.

    Returns
    -------
    TabularMDP
        ``P`` of shape ``(n, 2, n)``, ``R`` of shape ``(n, 2)``.

    Examples
    --------
    >>> import mdps
    >>> m = mdps.chain(4, gamma=0.9)
    >>> int(m.P[1, 0].argmax()), int(m.P[3, 1].argmax()), float(m.R[3, 0])
    (2, 0, 1.0)
    """
    n = check_int(n_states, "n_states", low=1)
    P = np.zeros((n, 2, n))
    s = np.arange(n)
    P[s, 0, np.minimum(s + 1, n - 1)] = 1.0
    P[:, 1, 0] = 1.0
    R = np.zeros((n, 2))
    R[n - 1, 0] = 1.0
    return TabularMDP(P, R, gamma=gamma, horizon=horizon, rho=_e0(n))


# -------------------------------------------------------------------------------- gridworld
def _graph_and_kind(graph_or_shape):
    import networkx as nx

    if isinstance(graph_or_shape, nx.Graph):
        if graph_or_shape.is_directed():
            raise TypeError("graph_or_shape must be an undirected networkx Graph, got a directed graph")
        return graph_or_shape, False
    if isinstance(graph_or_shape, (tuple, list)) and len(graph_or_shape) == 2:
        w = check_int(graph_or_shape[0], "graph_or_shape[0] (width)", low=1)
        h = check_int(graph_or_shape[1], "graph_or_shape[1] (height)", low=1)
        return nx.grid_2d_graph(w, h), True
    raise TypeError(
        f"graph_or_shape must be a (width, height) pair or a networkx Graph, got {graph_or_shape!r}"
    )


def _ordered_nodes(graph, walls):
    nodes = list(graph.nodes)
    try:
        nodes = sorted(nodes)
    except TypeError:  # incomparable node labels: keep the graph's insertion order
        pass
    for w in walls:
        if w not in graph:
            raise ValueError(f"walls contains {w!r}, which is not a node of the graph")
    wall_set = set(walls)
    return [v for v in nodes if v not in wall_set]


def gridworld_states(graph_or_shape, walls=()) -> list:
    """The nodes of :func:`gridworld`'s graph in state-index order.

    ``gridworld_states(g, walls)[i]`` is the node of state ``i``: the graph's nodes sorted
    (insertion order if the labels are not comparable), walls removed. For a ``(width,
    height)`` shape the nodes are ``(x, y)`` pairs, so state ``i`` is ``(x, y)`` with
    ``x``-major order.

    Examples
    --------
    >>> gridworld_states((2, 2), walls=[(0, 1)])
    [(0, 0), (1, 0), (1, 1)]
    """
    graph, _ = _graph_and_kind(graph_or_shape)
    return _ordered_nodes(graph, tuple(walls))


def gridworld(graph_or_shape, *, walls=(), slip=0.0, goal=None, start=None, gamma=None,
              horizon=None, rng=None) -> TabularMDP:
    r"""A grid world, or a walk on any undirected graph, with slip and one absorbing goal.

    *Grid* (``graph_or_shape = (width, height)``, built with :func:`networkx.grid_2d_graph`,
    nodes ``(x, y)``): five actions, 0 up ``(x, y+1)``, 1 right ``(x+1, y)``, 2 down
    ``(x, y-1)``, 3 left ``(x-1, y)``, 4 stay. Moving into a wall or off the grid stays put.

    *General graph* (a :class:`networkx.Graph`): ``A`` is the maximum degree (after removing
    the walls); action ``i`` moves to the ``i``-th neighbour in sorted order, and stays put
    when the state has fewer than ``i + 1`` neighbours.

    In both cases, with probability ``slip`` the intended move is replaced by a move to a
    uniformly random graph neighbour (walls excluded; an isolated state stays). The goal is
    absorbing, and ``R[s, a] = Pr(s' = goal | s, a)``: reward 1 for reaching the goal and for
    every step spent there.

    Parameters
    ----------
    graph_or_shape : (int, int) or networkx.Graph
        ``(width, height)`` or an undirected graph.
    walls : iterable of nodes
        Nodes removed from the world.
    slip : float in [0, 1]
    goal : node, optional
        The absorbing rewarding node (default: the last state, e.g. ``(width-1, height-1)``).
    start : node, optional
        Start node, ``rho = e_start`` (default: the first state, e.g. ``(0, 0)``).
    gamma, horizon : optional
        Criterion, as in :class:`~mdps.tabular.TabularMDP`.
    rng : Generator, int or SeedSequence, optional
        Accepted for a uniform generator signature; the construction is deterministic and
        draws nothing.

    Returns
    -------
    TabularMDP
        ``P`` of shape ``(S, A, S)``; state ``i`` is node ``gridworld_states(graph_or_shape,
        walls)[i]`` (sorted nodes minus walls).

    Examples
    --------
    >>> import mdps
    >>> m = mdps.gridworld((3, 2), walls=[(1, 0)], slip=0.1, gamma=0.9, rng=0)
    >>> m.n_states, m.n_actions
    (5, 5)
    """
    graph, is_grid = _graph_and_kind(graph_or_shape)
    p_slip = check_real(slip, "slip", low=0.0, high=1.0)
    try:
        walls = tuple(walls)
    except TypeError:
        raise TypeError(f"walls must be an iterable of nodes, got {walls!r}") from None
    nodes = _ordered_nodes(graph, walls)
    if not nodes:
        raise ValueError("walls cover every node; the grid world has no states")
    index = {v: i for i, v in enumerate(nodes)}
    S = len(nodes)
    g = graph.subgraph(nodes)
    if goal is None:
        goal = nodes[-1]
    if goal not in index:
        raise ValueError(f"goal must be a node of the graph that is not a wall, got {goal!r}")
    if start is None:
        start = nodes[0]
    if start not in index:
        raise ValueError(f"start must be a node of the graph that is not a wall, got {start!r}")
    check_rng(rng)  # validate only; nothing is drawn

    def neighbours(v):
        nb = list(g.neighbors(v))
        try:
            return sorted(nb)
        except TypeError:
            return nb

    if is_grid:
        A = len(GRID_MOVES)
    else:
        A = max((len(neighbours(v)) for v in nodes), default=0)
        A = max(A, 1)
    P = np.zeros((S, A, S))
    for v in nodes:
        i = index[v]
        nb = neighbours(v)
        if is_grid:
            targets = []
            for dx, dy in GRID_MOVES:
                u = (v[0] + dx, v[1] + dy)
                targets.append(index.get(u, i) if u in g else i)
        else:
            targets = [index[nb[k]] if k < len(nb) else i for k in range(A)]
        for a in range(A):
            P[i, a, targets[a]] += 1.0 - p_slip
            if nb:
                for u in nb:
                    P[i, a, index[u]] += p_slip / len(nb)
            else:
                P[i, a, i] += p_slip
    gi = index[goal]
    P[gi] = 0.0
    P[gi, :, gi] = 1.0
    R = P[:, :, gi].copy()
    rho = np.zeros(S)
    rho[index[start]] = 1.0
    return TabularMDP(P, R, gamma=gamma, horizon=horizon, rho=rho)


# ------------------------------------------------------------------- random finite horizon
def random_finite_horizon(n_states, n_actions, horizon, *, stage_dependent: bool = True,
                          rho=None, rng=None) -> TabularMDP:
    r"""A random episodic MDP: :math:`P_h(\cdot|s,a) \sim \mathrm{Dirichlet}(1_S)`,
    :math:`R_h(s,a) \sim U[0,1]`, all independent [2]_.

    Parameters
    ----------
    n_states, n_actions : int >= 1
    horizon : int >= 1
        ``H``.
    stage_dependent : bool
        ``True`` (the library default, inhomogeneous): ``P`` of shape ``(H, S, A, S)`` and
        ``R`` of shape ``(H, S, A)``. ``False``: one ``(S, A, S)`` kernel and ``(S, A)``
        rewards shared by all stages.
    rho : array_like, shape (S,), optional
        Initial distribution (default uniform).
    rng : Generator, int or SeedSequence, optional
        Draw order: the kernel (standard exponentials normalised per row), then ``R``.

    Returns
    -------
    TabularMDP
        A finite-horizon instance.

    Examples
    --------
    >>> import mdps
    >>> m = mdps.random_finite_horizon(5, 5, 3, rng=0)
    >>> m.P.shape, m.R.shape
    ((3, 5, 5, 5), (3, 5, 5))
    """
    S = check_int(n_states, "n_states", low=1)
    A = check_int(n_actions, "n_actions", low=1)
    H = check_int(horizon, "horizon", low=1)
    if not isinstance(stage_dependent, (bool, np.bool_)):
        raise TypeError(f"stage_dependent must be a bool, got {stage_dependent!r}")
    rng = check_rng(rng)
    lead = (H,) if stage_dependent else ()
    P = rng.standard_exponential(lead + (S, A, S))
    P /= P.sum(axis=-1, keepdims=True)
    R = rng.random(lead + (S, A))
    return TabularMDP(P, R, horizon=H, rho=rho)


# -------------------------------------------------------------------------------------- jao
def jao(delta=0.1, epsilon=0.05, n_actions=2, *, gamma=None, horizon=None) -> TabularMDP:
    r"""The two-state building block of the Jaksch-Ortner-Auer regret lower bound [5]_.

    States ``s0 = 0`` (reward 0) and ``s1 = 1`` (reward 1 for every action). From ``s0``
    every action moves to ``s1`` with probability ``delta``, except the good action 0, which
    does so with probability ``delta + epsilon``; from ``s1`` every action returns to ``s0``
    with probability ``delta``. Start in ``s0``.

    The diameter is :math:`D = 1/\delta` (the expected time from ``s1`` back to ``s0``; the
    best route from ``s0`` to ``s1`` takes :math:`1/(\delta+\epsilon) \le 1/\delta`), and the
    optimal gain is :math:`g^* = (\delta+\epsilon)/(2\delta+\epsilon)` against
    :math:`1/2` for the other actions. With :math:`\epsilon \approx \sqrt{SA/(DT)}`-scale gaps
    (composed over :math:`S/2` copies) this gives the :math:`\Omega(\sqrt{DSAT})` lower bound.

    Parameters
    ----------
    delta : float in (0, 1]
    epsilon : float >= 0 with ``delta + epsilon <= 1``
    n_actions : int >= 1
    gamma, horizon : optional
        Criterion (default average reward, the setting of [5]_).

    Returns
    -------
    TabularMDP
        ``P`` of shape ``(2, A, 2)``, ``R`` of shape ``(2, A)``.

    Examples
    --------
    >>> import mdps
    >>> m = mdps.jao(0.1, 0.05, 3)
    >>> m.P[0, :, 1].tolist(), m.criterion
    ([0.15000000000000002, 0.1, 0.1], 'average')
    """
    d = check_real(delta, "delta", low=0.0, high=1.0, low_open=True)
    e = check_real(epsilon, "epsilon", low=0.0, high=1.0)
    if d + e > 1.0:
        raise ValueError(f"delta + epsilon must be <= 1, got delta={delta!r}, epsilon={epsilon!r}")
    A = check_int(n_actions, "n_actions", low=1)
    P = np.zeros((2, A, 2))
    P[0, :, 1] = d
    P[0, 0, 1] = d + e
    P[0, :, 0] = 1.0 - P[0, :, 1]
    P[1, :, 0] = d
    P[1, :, 1] = 1.0 - d
    R = np.zeros((2, A))
    R[1, :] = 1.0
    return TabularMDP(P, R, gamma=gamma, horizon=horizon, rho=_e0(2))


# ------------------------------------------------------------------------- tight VI instance
def tight_vi_instance(gamma) -> TabularMDP:
    r"""One state, one action, ``R = 1``: value iteration's a-priori bound holds with equality.

    :math:`V^* = 1/(1-\gamma)` and VI from :math:`V_0 = 0` gives
    :math:`V_k = (1-\gamma^k)/(1-\gamma)`, so :math:`\|V_k - V^*\|_\infty = \gamma^k/(1-\gamma)`
    exactly: the contraction rate :math:`\gamma` of the Bellman operator cannot be improved
    (the designated "tight" instance for linear-rate tests; docs/theory/planning.md, section 'value_iteration.tight_rate').

    Parameters
    ----------
    gamma : float in [0, 1)

    Examples
    --------
    >>> import mdps
    >>> m = mdps.tight_vi_instance(0.9)
    >>> m.P.shape, m.R.tolist()
    ((1, 1, 1), [[1.0]])
    """
    g = check_gamma(gamma)
    return TabularMDP(np.ones((1, 1, 1)), np.ones((1, 1)), gamma=g)


# -------------------------------------------------------------------- hard episodic tree
def hard_episodic_tree(n_actions, horizon, depth, epsilon, *, wait=None, rng=None) -> TabularMDP:
    r"""The minimax lower-bound instance of Domingues et al. 2021 [6]_.

    States, in index order: the nodes of a full ``A``-ary tree of depth ``depth`` in
    breadth-first order (state 0 is its root, which doubles as the waiting state; the
    ``L = A^depth`` leaves come last), then an absorbing *good* state (reward 1 per step) and
    an absorbing *bad* state (reward 0): ``S = (A^{depth+1} - 1)/(A - 1) + 2``. Start at 0.

    * At the root, at stages ``h < wait``, action 0 waits (stays at the root) and action
      ``a >= 1`` enters child ``a``; from stage ``wait`` on, and at every internal node,
      action ``a`` moves to child ``a`` (children of node ``v`` are ``v*A + 1 + a``).
    * From every leaf, every action goes to *good* w.p. 1/2 and *bad* w.p. 1/2, except one
      special triple ``(h*, leaf*, a*)``, drawn uniformly with ``rng`` (``h*`` among the
      stages ``depth..H-1`` at which a leaf can be occupied), where *good* has probability
      ``1/2 + epsilon``.

    Rewards: ``R_h(good, a) = 1``, 0 elsewhere, so the only informative decision is which
    leaf, action and stage to aim for. With :math:`\epsilon \approx \sqrt{SAH/K}` no algorithm
    has regret below order :math:`\sqrt{H^3 S A K}` on this family.

    .. warning:: A reconstruction (provenance tag [U], unverified reconstruction; docs/README.md, section 'Provenance tags'): the waiting mechanism and the exact
       placement of the special triple follow the structure described in [6]_ but tests must
       check design-agnostic invariants only.

    Parameters
    ----------
    n_actions : int >= 2
    horizon : int >= depth + 2
        ``H``.
    depth : int >= 1
    epsilon : float in [0, 1/2]
    wait : int, optional
        Stage from which the root must descend, in ``[0, H - depth - 1]`` (default ``0``:
        no waiting).
    rng : Generator, int or SeedSequence, optional
        Draws the special ``(h*, leaf*, a*)``.

    Returns
    -------
    TabularMDP
        Finite horizon, stage-dependent ``P`` of shape ``(H, S, A, S)``, ``R`` of shape
        ``(S, A)``, start at the root.

    Examples
    --------
    >>> import mdps
    >>> m = mdps.hard_episodic_tree(2, 6, 2, 0.1, rng=0)
    >>> m.n_states, m.P.shape
    (9, (6, 9, 2, 9))
    """
    A = check_int(n_actions, "n_actions", low=2)
    d = check_int(depth, "depth", low=1)
    H = check_int(horizon, "horizon", low=d + 2)
    eps = check_real(epsilon, "epsilon", low=0.0, high=0.5)
    w = 0 if wait is None else check_int(wait, "wait", low=0, high=H - d - 1)
    rng = check_rng(rng)
    n_tree = (A ** (d + 1) - 1) // (A - 1)
    first_leaf = n_tree - A**d
    good, bad = n_tree, n_tree + 1
    S = n_tree + 2
    base = np.zeros((S, A, S))
    for v in range(first_leaf):
        for a in range(A):
            base[v, a, v * A + 1 + a] = 1.0
    base[first_leaf:n_tree, :, good] = 0.5
    base[first_leaf:n_tree, :, bad] = 0.5
    base[good, :, good] = 1.0
    base[bad, :, bad] = 1.0
    P = np.repeat(base[None], H, axis=0)
    for h in range(w):  # waiting phase at the root: action 0 stays
        P[h, 0, 0, :] = 0.0
        P[h, 0, 0, 0] = 1.0
    # a leaf is first reachable at stage d (after d moves); the last useful stage is H - 1
    h_star = int(rng.integers(d, H))
    leaf_star = int(rng.integers(first_leaf, n_tree))
    a_star = int(rng.integers(0, A))
    P[h_star, leaf_star, a_star, good] = 0.5 + eps
    P[h_star, leaf_star, a_star, bad] = 0.5 - eps
    R = np.zeros((S, A))
    R[good, :] = 1.0
    return TabularMDP(P, R, horizon=H, rho=_e0(S))


# -------------------------------------------------------------------------------- inventory
def inventory(capacity=3, *, demand=(0.25, 0.5, 0.25), fixed_cost=4.0, unit_cost=2.0,
              holding_cost=1.0, price=8.0, gamma=None, horizon=None) -> TabularMDP:
    r"""Puterman's single-product inventory model [7]_: state-dependent action sets.

    The state ``s in {0..M}`` is the stock (``M = capacity``); action ``a`` orders ``a`` units,
    feasible only when ``s + a <= M`` (so state ``s`` has the ``M - s + 1`` actions
    ``0..M-s``; the others have reward ``-inf`` and ``mdp.feasible[s, a] = False``). Demand
    ``D`` has law ``demand[j] = Pr(D = j)``; sales are ``min(D, s + a)`` at ``price`` each and
    the next stock is ``max(s + a - D, 0)``. With :math:`u = s + a`, the expected reward is

    .. math:: r(s, a) = F(u) - O(a) - h\,u, \qquad
              F(u) = \textstyle\sum_{j < u} \text{price}\, j\, p_j + \text{price}\, u\, \Pr(D \ge u),

    with ordering cost :math:`O(a) = K + c a` for ``a > 0`` (``O(0) = 0``), ``K = fixed_cost``,
    ``c = unit_cost``, ``h = holding_cost`` per unit held. Puterman's example (the defaults:
    ``M = 3``, ``K = 4``, ``c = 2``, ``h = 1``, price 8, ``p = (1/4, 1/2, 1/4)``) has
    ``r(0, .) = (0, -1, -2, -5)``, ``r(1, .) = (5, 0, -3)``, ``r(2, .) = (6, -1)``,
    ``r(3, 0) = 5``, and with three decision epochs (``horizon=3``, zero terminal reward) the
    optimal values ``(67, 129, 194, 227) / 16`` and first-stage orders ``(3, 0, 0, 0)``
    (section 4.6.1).

    Parameters
    ----------
    capacity : int >= 1
    demand : sequence of float
        Demand law on ``0..len(demand)-1`` (nonnegative, sums to 1).
    fixed_cost, unit_cost, holding_cost, price : float
    gamma, horizon : optional
        Criterion, as in :class:`~mdps.tabular.TabularMDP`.

    Returns
    -------
    TabularMDP
        ``S = A = M + 1``, dense, uniform ``rho``, ``feasible[s, a] = (s + a <= M)``.

    Examples
    --------
    >>> import mdps
    >>> m = mdps.inventory(horizon=3)
    >>> m.R_masked[1].tolist(), m.feasible[2].tolist()
    ([5.0, 0.0, -3.0, -inf], [True, True, False, False])
    """
    M = check_int(capacity, "capacity", low=1)
    p = np.asarray(demand, dtype=np.float64)
    if p.ndim != 1 or p.size == 0 or np.any(~np.isfinite(p)) or np.any(p < 0) or abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"demand must be a probability vector on 0..J, got {demand!r}")
    K = check_real(fixed_cost, "fixed_cost")
    c = check_real(unit_cost, "unit_cost")
    h = check_real(holding_cost, "holding_cost")
    f = check_real(price, "price")
    n = M + 1
    j = np.arange(p.size)

    def expected_revenue(u):
        return float(np.sum(f * np.minimum(j, u) * p))

    P = np.zeros((n, n, n))
    R = np.full((n, n), -np.inf)
    for s in range(n):
        for a in range(n - s):
            u = s + a
            R[s, a] = expected_revenue(u) - (K + c * a if a > 0 else 0.0) - h * u
            np.add.at(P[s, a], np.maximum(u - j, 0), p)
    return TabularMDP(P, R, gamma=gamma, horizon=horizon)
