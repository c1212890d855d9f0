r"""A public catalogue of instances whose exact answers are known without running a solver.

Every test, check, benchmark and notebook that needs "an instance with a known answer" takes it
from here, so an instance is defined once (the intransitive 3x3 game used to be defined in six
places). An entry is a frozen :class:`Entry`: a ``name``, a ``family`` (``"discounted"``,
``"finite_horizon"``, ``"average"``, ``"preference"``), a zero-argument ``build`` returning a
fresh :class:`~mdps.tabular.TabularMDP` or :class:`~mdps.preference.PreferenceGame`, the
known ``answer`` (an :class:`Answer`), and its ``source``: a book and section, a paper, or
"closed form", in which case the derivation is in the docstring of the builder.

Answers come from a hand derivation or a closed form, never from the lab's own solvers: they
are what the solvers are tested against (``tests/test_planning_conformance.py``,
``tests/test_catalogue.py``).

==================================  ==============  =========================================
entry                               family          known answer (source)
==================================  ==============  =========================================
``tight_vi_0.9``, ``tight_vi_0.99`` discounted      ``V* = 1/(1-gamma)`` (closed form)
``deterministic_two_state``         discounted      ``V* = (18, 20)``, ``Q*``, ``sigma* = (1, 0)``
                                                    (by hand)
``puterman_two_state``              discounted      ``V* = (-60/7, -20)`` (Puterman 1994 §3.1,
                                                    §6.2, lambda = 0.95)
``walk_right_chain``                discounted      ``V*(s) = gamma^(S-1-s)/(1-gamma)`` (closed
                                                    form)
``grid_shortest_path``              discounted      ``V*(s) = gamma^(d(s)-1)/(1-gamma)``, ``d``
                                                    the shortest-path distance (closed form)
``myopic_gamma0``                   discounted      ``V* = max_a R`` (closed form, gamma = 0)
``river_swim_6_discounted``         discounted      always swim right (Strehl & Littman 2008)
``two_arms_horizon3``               finite_horizon  ``V = (2.1, 1.4, 0.7)`` (by hand)
``advance_chain_horizon``           finite_horizon  ``V_h(s) = max(0, H-h-(n-1-s))`` (closed form)
``inventory_horizon3``              finite_horizon  ``V_0 = (67, 129, 194, 227)/16`` (Puterman 1994
                                                    §4.6.1; state-dependent action sets)
``river_swim_6_average``            average         ``g* = 2401/5602``, always right (closed form)
``jao``                             average         ``g* = (delta+eps)/(2 delta+eps)`` (Jaksch,
                                                    Ortner & Auer 2010, §6)
``periodic_swap``                   average         ``g = 1/2``, bias ``(1/4, -1/4)`` (closed form)
``three_absorbing``                 average         ``g*(s) = (1, 2, 3, 3)`` (by hand; multichain)
``rock_paper_scissors``             preference      Nash uniform (symmetry)
``intransitive_3x3``                preference      Nash ``(1, 2, 4) / 7`` (by hand)
``condorcet_3x3``                   preference      Nash ``e_0``, the Condorcet winner (by hand)
==================================  ==============  =========================================

Examples
--------
>>> import mdps
>>> entry = mdps.catalogue.get("intransitive_3x3")
>>> (entry.answer.nash * 7).round(12).tolist()
[1.0, 2.0, 4.0]
>>> [e.name for e in mdps.catalogue.entries("average")][:2]
['river_swim_6_average', 'jao']

References
----------
.. [1] M. L. Puterman, *Markov Decision Processes*, Wiley 1994, §3.1 (the two-state example),
   ch. 6 and 8.
.. [2] A. Strehl and M. Littman, "An analysis of model-based interval estimation for Markov
   decision processes", JCSS 74 (2008), RiverSwim.
.. [3] T. Jaksch, R. Ortner and P. Auer, "Near-optimal regret bounds for reinforcement
   learning", JMLR 11 (2010), §6.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from mdps.tabular import TabularMDP
from mdps.validation import check_gamma, check_int, readonly

__all__ = [
    "Answer",
    "Entry",
    "entries",
    "get",
    "names",
    "FAMILIES",
    # builders
    "tight_vi",
    "deterministic_two_state",
    "puterman_two_state",
    "walk_right_chain",
    "grid_shortest_path",
    "myopic_gamma0",
    "river_swim_discounted",
    "two_arms_horizon3",
    "advance_chain_horizon",
    "river_swim_average",
    "river_swim_gain",
    "jao",
    "periodic_swap",
    "three_absorbing",
    "rock_paper_scissors",
    "intransitive_3x3",
    "condorcet_3x3",
]

FAMILIES = ("discounted", "finite_horizon", "average", "preference")


@dataclass(frozen=True, eq=False)
class Answer:
    """The known exact answer of a catalogue entry (fields that do not apply are ``None``).

    Attributes
    ----------
    V : ndarray, shape (S,) or (H, S), optional
        Optimal values ``V*`` (finite horizon: ``V*[h, s]``).
    Q : ndarray, shape (S, A) or (H, S, A), optional
        Optimal state-action values.
    policy : ndarray of int, shape (S,) or (H, S), optional
        The optimal deterministic policy, given only when it is unique (ties would make any
        solver's tie-breaking a legitimate answer).
    gain : float or ndarray of shape (S,), optional
        Optimal gain: a float for weakly communicating MDPs, the gain of every state for a
        multichain one.
    bias : ndarray, shape (S,), optional
        A bias (relative value) vector, normalised as stated by the builder.
    nash : ndarray, shape (K,), optional
        The (unique) Nash equilibrium of a preference game.
    value : float, optional
        The value of a game (``1/2`` for every symmetric preference game).
    """

    V: np.ndarray | None = None
    Q: np.ndarray | None = None
    policy: np.ndarray | None = None
    gain: float | np.ndarray | None = None
    bias: np.ndarray | None = None
    nash: np.ndarray | None = None
    value: float | None = None

    def __post_init__(self):
        for name in ("V", "Q", "policy", "bias", "nash", "gain"):
            arr = getattr(self, name)
            if isinstance(arr, np.ndarray):
                readonly(arr)


@dataclass(frozen=True, eq=False)
class Entry:
    """One catalogue instance: ``build()`` makes it, ``answer`` is known exactly.

    Attributes
    ----------
    name : str
    family : {"discounted", "finite_horizon", "average", "preference"}
    build : callable
        No arguments; returns a fresh ``TabularMDP`` or ``PreferenceGame``.
    answer : Answer
    source : str
        Where the answer comes from (book and section, paper, or "closed form" / "by hand" with
        the derivation in the builder's docstring).
    """

    name: str
    family: str
    build: Callable[[], object] = field(repr=False)
    answer: Answer = field(repr=False)
    source: str


# ------------------------------------------------------------------------------ discounted
def tight_vi(gamma: float = 0.9) -> TabularMDP:
    r"""One state, one action, ``R = 1``: :math:`V^* = \sum_t \gamma^t = 1/(1-\gamma)`.

    Value iteration from :math:`V_0 = 0` gives :math:`V_k = (1-\gamma^k)/(1-\gamma)`, so its
    error :math:`\gamma^k/(1-\gamma)` meets the a-priori bound with equality (theory note A.1's
    tight instance; built by :func:`mdps.tight_vi_instance`).
    """
    from mdps.generators import tight_vi_instance

    return tight_vi_instance(gamma)


def deterministic_two_state() -> TabularMDP:
    r"""Two states, two actions, ``gamma = 0.9``, deterministic moves; solved by hand.

    ``s0``: action 0 "stay" (``R = 1``, to ``s0``), action 1 "move" (``R = 0``, to ``s1``);
    ``s1``: action 0 "stay" (``R = 2``, to ``s1``), action 1 "move" (``R = 0``, to ``s0``).

    Staying in ``s1`` forever is worth :math:`2/(1-0.9) = 20`, the most any state can earn (2 is
    the largest reward), so :math:`V^*(s_1) = 20`, :math:`\sigma^*(s_1) = 0`. In ``s0``: staying
    forever gives 10, moving gives :math:`0 + 0.9 \cdot 20 = 18`, and any number of stays before
    moving is worse (:math:`1 + 0.9 \cdot 18 = 17.2`); so :math:`V^*(s_0) = 18`,
    :math:`\sigma^*(s_0) = 1`, and
    :math:`Q^* = [[1 + 0.9 \cdot 18, 0.9 \cdot 20], [2 + 0.9 \cdot 20, 0.9 \cdot 18]] = [[17.2, 18], [20, 16.2]]`.
    """
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, 0, 1] = P[1, 1, 0] = 1.0
    R = np.array([[1.0, 0.0], [2.0, 0.0]])
    return TabularMDP(P, R, gamma=0.9)


def puterman_two_state() -> TabularMDP:
    r"""The two-state model of Puterman (1994) §3.1, used throughout ch. 6, with :math:`\lambda = 0.95`.

    ``s1``: ``a11`` (``R = 5``, ``P = (0.5, 0.5)``), ``a12`` (``R = 10``, ``P = (0, 1)``);
    ``s2``: a single action ``a21`` (``R = -1``, ``P = (0, 1)``), duplicated here as a second,
    identical action so that the arrays are rectangular.

    ``s2`` is absorbing with reward -1: :math:`V^*(s_2) = -1/0.05 = -20`. In ``s1``, ``a12``
    gives :math:`10 + 0.95 \cdot (-20) = -9`; ``a11`` gives :math:`V = 5 + 0.95 (V/2 - 10)`,
    i.e. :math:`0.525 V = -4.5`, :math:`V = -60/7 \approx -8.571 > -9`. So ``a11`` is optimal
    and :math:`V^* = (-60/7, -20)`, as in the book. (In ``s2`` both copies of ``a21`` are
    optimal, so ``answer.policy`` is not given.)
    """
    P = np.zeros((2, 2, 2))
    P[0, 0] = [0.5, 0.5]
    P[0, 1] = [0.0, 1.0]
    P[1, 0] = P[1, 1] = [0.0, 1.0]
    R = np.array([[5.0, 10.0], [-1.0, -1.0]])
    return TabularMDP(P, R, gamma=0.95)


def walk_right_chain(n_states: int = 5, gamma: float = 0.8) -> TabularMDP:
    r"""Deterministic chain; action 0 moves left, action 1 right; reward 1 only for "right" in
    the last state (which stays put).

    The best plan walks right: from ``s`` the reward stream is ``S-1-s`` zeros, then ones
    forever, so :math:`V^*(s) = \gamma^{S-1-s}/(1-\gamma)` and :math:`\sigma^* \equiv 1`
    (unique for ``gamma > 0``: "left" delays the same stream by at least two steps).
    """
    S = check_int(n_states, "n_states", low=2)
    g = check_gamma(gamma)
    P = np.zeros((S, 2, S))
    for s in range(S):
        P[s, 0, max(s - 1, 0)] = 1.0
        P[s, 1, min(s + 1, S - 1)] = 1.0
    R = np.zeros((S, 2))
    R[S - 1, 1] = 1.0
    return TabularMDP(P, R, gamma=g)


_GRID = {"shape": (4, 3), "walls": ((1, 1), (2, 1)), "gamma": 0.9}


def grid_shortest_path() -> TabularMDP:
    r"""The deterministic grid world ``gridworld((4, 3), walls=[(1, 1), (2, 1)], slip=0)``, ``gamma = 0.9``.

    The goal ``(3, 2)`` is absorbing and ``R[s, a] = Pr(s' = goal | s, a)``: 1 for entering the
    goal and for every step spent there. From a state at shortest-path distance ``d(s) >= 1``
    (breadth-first search on the grid graph without the walls) the best plan earns ``d - 1``
    zeros and then ones forever, so :math:`V^*(s) = \gamma^{d(s)-1}/(1-\gamma)`, and
    :math:`V^*(\mathrm{goal}) = 1/(1-\gamma)`. (Shortest paths are not unique, so neither is the
    optimal policy.)
    """
    from mdps.generators import gridworld

    return gridworld(_GRID["shape"], walls=_GRID["walls"], slip=0.0, gamma=_GRID["gamma"])


def _grid_values() -> np.ndarray:
    import networkx as nx

    from mdps.generators import gridworld_states

    g = nx.grid_2d_graph(*_GRID["shape"])
    g.remove_nodes_from(_GRID["walls"])
    goal = (_GRID["shape"][0] - 1, _GRID["shape"][1] - 1)
    dist = nx.single_source_shortest_path_length(g, goal)
    d = np.array([dist[v] for v in gridworld_states(_GRID["shape"], _GRID["walls"])], dtype=float)
    gamma = _GRID["gamma"]
    return gamma ** np.maximum(d - 1.0, 0.0) / (1.0 - gamma)


_MYOPIC_SEED = 7


def myopic_gamma0() -> TabularMDP:
    r"""A random 3-state, 2-action MDP with ``gamma = 0``: the future does not count, so
    :math:`V^*(s) = \max_a R(s, a)` and :math:`\sigma^*(s) = \arg\max_a R(s, a)` (unique almost
    surely). Arrays drawn from ``numpy.random.default_rng(7)``."""
    rng = np.random.default_rng(_MYOPIC_SEED)
    P = rng.dirichlet(np.ones(3), size=(3, 2))
    R = rng.random((3, 2))
    return TabularMDP(P, R, gamma=0.0)


def river_swim_discounted(n_states: int = 6, gamma: float = 0.95) -> TabularMDP:
    r"""RiverSwim (:func:`mdps.river_swim`) under discounting: the optimal policy swims right in
    every state (Strehl & Littman 2008, the instance's design: the 0.005 at the left bank is a
    trap for under-exploring agents). For ``n = 6``, ``gamma = 0.95``: swimming left at
    ``s_1`` earns at most :math:`0.005/(1-0.95) = 0.1`, while swimming right reaches
    ``s_6`` and its reward 1 per step within about 17 steps in expectation."""
    from mdps.generators import river_swim

    return river_swim(n_states, gamma=gamma)


# ---------------------------------------------------------------------------- finite horizon
def two_arms_horizon3() -> TabularMDP:
    r"""One state, two actions with rewards 0.2 and 0.7, horizon 3: the better arm every stage,
    :math:`V_h = 0.7 (3 - h)`, so ``V = (2.1, 1.4, 0.7)``, :math:`Q_h = R + V_{h+1}` (``(1.6,
    2.1)``, ``(0.9, 1.4)``, ``(0.2, 0.7)``) and the policy is 1 at every stage."""
    P = np.ones((1, 2, 1))
    return TabularMDP(P, np.array([[0.2, 0.7]]), horizon=3)


def inventory_horizon3() -> TabularMDP:
    r"""Puterman's inventory example (1994, sections 3.2.1 and 4.6.1): stock ``s in 0..3``, order
    ``a <= 3 - s`` (the other actions infeasible), demand 0, 1, 2 w.p. 1/4, 1/2, 1/4, three
    decision epochs. The book's backward induction: ``u*_3 = max_a r(s, a) = (0, 5, 6, 5)``,
    ``u*_2 = (2, 25/4, 10, 21/2)``, ``u*_1 = (67/16, 129/16, 194/16, 227/16)``; orders
    ``d*_1 = (3, 0, 0, 0)``, ``d*_2 = (2, 0, 0, 0)``, ``d*_3 = 0``. Built by
    :func:`mdps.inventory`."""
    from mdps.generators import inventory

    return inventory(horizon=3)


def advance_chain_horizon(n_states: int = 4, horizon: int = 6) -> TabularMDP:
    r"""The advance / reset chain :func:`mdps.chain` with horizon ``H``.

    Action 0 advances (the last state stays), action 1 resets to 0; the only reward is 1 for
    advancing in the last state. With ``H - h`` steps left, ``n - 1 - s`` advances reach the
    last state and every further step there earns 1, so
    :math:`V_h(s) = \max(0, H - h - (n - 1 - s))`. (Where no reward is reachable every action is
    optimal, so the policy is not unique.)
    """
    from mdps.generators import chain

    return chain(n_states, horizon=horizon)


# ---------------------------------------------------------------------------- average reward
def river_swim_gain(n_states: int) -> float:
    r"""The gain of "always swim right" in RiverSwim with ``n`` states, in closed form.

    Under "right" the chain is a birth-death chain: up-probabilities 0.4 (``s_1``) and 0.35
    (interior), down-probabilities 0.05 (interior) and 0.4 (``s_n``). Detailed balance
    :math:`\mu(i+1)\,\mathrm{down}(i+1) = \mu(i)\,\mathrm{up}(i)` gives
    :math:`\mu(1)/\mu(0) = 0.4/0.05 = 8`, :math:`\mu(i+1)/\mu(i) = 0.35/0.05 = 7` in the
    interior and :math:`\mu(n-1)/\mu(n-2) = 0.35/0.4 = 7/8`, so
    :math:`\mu \propto (1, 8, 8 \cdot 7, \dots, 8 \cdot 7^{n-3}, 7^{n-2})`. The reward 1 is earned
    at ``(s_n, right)`` only, hence

    .. math:: g = \frac{7^{n-2}}{1 + \frac{8}{6}(7^{n-2} - 1) + 7^{n-2}},

    e.g. :math:`2401 / 5602` for ``n = 6`` and :math:`1/2` for ``n = 2``.
    """
    n = check_int(n_states, "n_states", low=2)
    top = 7 ** (n - 2)
    return top / (1 + 8 * (top - 1) / 6 + top)


def river_swim_average(n_states: int = 6) -> TabularMDP:
    r"""RiverSwim under the average-reward criterion: "always right" is gain-optimal, with the
    gain :func:`river_swim_gain` (``2401/5602`` for ``n = 6``).

    Optimality: the reward 1 is earned only at ``(s_n, right)`` and the 0.005 only by idling at
    the left bank; "right" moves the swimmer up stochastically at least as far as "left" from
    every state (a monotone coupling), so no policy visits ``(s_n, right)`` more often, and
    idling at the bank earns 0.005 < g. (Strehl & Littman 2008 describe the optimal policy as
    swimming right; the tests confirm it against the gain LP.)
    """
    from mdps.generators import river_swim

    return river_swim(n_states)


def jao(delta: float = 0.1, epsilon: float = 0.05, n_actions: int = 2) -> TabularMDP:
    r"""The Jaksch-Ortner-Auer two-state block (:func:`mdps.jao`), average reward.

    Action 0 in ``s0`` moves to ``s1`` w.p. :math:`p = \delta + \epsilon` (the others w.p.
    :math:`\delta`); ``s1`` (reward 1) returns w.p. :math:`\delta`. The two-state chain has
    :math:`\mu(s_1) = p / (p + \delta)`, so :math:`g^* = (\delta+\epsilon)/(2\delta+\epsilon)`
    (Jaksch, Ortner & Auer 2010, §6), 0.6 for the defaults, against 1/2 for the other actions.
    All actions are equal in ``s1``, so the optimal policy is not unique.
    """
    from mdps.generators import jao as _jao

    return _jao(delta, epsilon, n_actions)


def periodic_swap() -> TabularMDP:
    r"""Two states that swap deterministically, reward 1 in state 0: a periodic chain.

    :math:`\mu = (1/2, 1/2)`, :math:`g = 1/2`; the bias with :math:`\mu^\top u = 0` solves
    :math:`g + u(0) = 1 + u(1)`, so :math:`u = (1/4, -1/4)`. Plain RVI (``tau = 1``) cycles on
    it; the aperiodicity transform converges.
    """
    return TabularMDP(np.array([[[0.0, 1.0]], [[1.0, 0.0]]]), np.array([[1.0], [0.0]]))


def three_absorbing() -> TabularMDP:
    r"""A multichain MDP: states 0, 1, 2 absorbing with rewards 1, 2, 3; state 3 enters 1
    (action 0) or 2 (action 1) with reward 0.

    The gain of an absorbing state is its reward, and state 3 picks the better one:
    :math:`g^* = (1, 2, 3, 3)`. Not weakly communicating (three sets closed under every
    policy): RVI and the unichain gain LP do not apply; :func:`mdps.multichain_gain` does.
    """
    P = np.zeros((4, 2, 4))
    for s in range(3):
        P[s, :, s] = 1.0
    P[3, 0, 1] = P[3, 1, 2] = 1.0
    R = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [0.0, 0.0]])
    return TabularMDP(P, R)


# ------------------------------------------------------------------------- preference games
def rock_paper_scissors():
    r"""Rock-paper-scissors as a preference game: ``Pref[0, 1] = Pref[1, 2] = Pref[2, 0] = 1``.

    The game is invariant under the cyclic relabelling :math:`0 \to 1 \to 2 \to 0`, so the
    uniform policy is an equilibrium: :math:`\mathrm{Pref}\,\pi = (1/2, 1/2, 1/2)`. It is the
    only one: any other :math:`\pi` has a response winning with probability above 1/2. With a
    uniform reference, the :math:`\beta`-regularised equilibrium is uniform too, for every
    :math:`\beta`.
    """
    from mdps.preference import PreferenceGame

    return PreferenceGame([[0.5, 1.0, 0.0], [0.0, 0.5, 1.0], [1.0, 0.0, 0.5]])


def intransitive_3x3():
    r"""The intransitive game ``Pref = [[.5, .9, .3], [.1, .5, .6], [.7, .4, .5]]``.

    Its unique equilibrium is interior, :math:`\pi^* = (1, 2, 4)/7`: every response then wins
    with probability exactly 1/2,
    :math:`(0.5 + 1.8 + 1.2)/7 = (0.1 + 1.0 + 2.4)/7 = (0.7 + 0.8 + 2.0)/7 = 1/2`, so no
    deviation gains; it is unique because the antisymmetric part ``Pref - 1/2`` has a
    one-dimensional kernel (a nonsingular 2x2 minor, e.g. rows and columns 0, 1).
    """
    from mdps.preference import PreferenceGame

    return PreferenceGame([[0.5, 0.9, 0.3], [0.1, 0.5, 0.6], [0.7, 0.4, 0.5]])


def condorcet_3x3():
    r"""A transitive game ``Pref = [[.5, .6, .8], [.4, .5, .7], [.2, .3, .5]]``: response 0
    beats each other response with probability above 1/2 (a Condorcet winner).

    The pure policy :math:`e_0` is the unique equilibrium: :math:`\mathrm{Pref}\,e_0 = (0.5, 0.4,
    0.2) \le 1/2`, and any policy with mass off response 0 loses to :math:`e_0` with
    probability above 1/2.
    """
    from mdps.preference import PreferenceGame

    return PreferenceGame([[0.5, 0.6, 0.8], [0.4, 0.5, 0.7], [0.2, 0.3, 0.5]])


# ------------------------------------------------------------------------------- the records
def _arr(x, dtype=np.float64):
    return np.array(x, dtype=dtype)


def _make_entries() -> tuple[Entry, ...]:
    out = []

    def add(name, family, build, source, **answer):
        out.append(Entry(name=name, family=family, build=build, answer=Answer(**answer), source=source))

    for g in (0.9, 0.99):
        add(f"tight_vi_{g}", "discounted", functools.partial(tight_vi, g),
            "closed form: V* = 1/(1 - gamma), derivation in catalogue.tight_vi",
            V=_arr([1.0 / (1.0 - g)]), Q=_arr([[1.0 / (1.0 - g)]]), policy=_arr([0], np.int64))
    add("deterministic_two_state", "discounted", deterministic_two_state,
        "by hand: derivation in catalogue.deterministic_two_state",
        V=_arr([18.0, 20.0]), Q=_arr([[17.2, 18.0], [20.0, 16.2]]), policy=_arr([1, 0], np.int64))
    add("puterman_two_state", "discounted", puterman_two_state,
        "Puterman 1994, section 3.1 model with lambda = 0.95 (V* as in ch. 6); by hand in "
        "catalogue.puterman_two_state",
        V=_arr([-60.0 / 7.0, -20.0]))
    S, g = 5, 0.8
    add("walk_right_chain", "discounted", functools.partial(walk_right_chain, S, g),
        "closed form: V*(s) = gamma^(S-1-s) / (1 - gamma), derivation in catalogue.walk_right_chain",
        V=g ** (S - 1 - np.arange(S)) / (1 - g), policy=np.ones(S, dtype=np.int64))
    add("grid_shortest_path", "discounted", grid_shortest_path,
        "closed form in shortest-path distances: V*(s) = gamma^(d(s)-1) / (1 - gamma), derivation "
        "in catalogue.grid_shortest_path", V=_grid_values())
    R_myopic = np.array(myopic_gamma0().R)  # the instance's own rewards; the answer is max_a R
    add("myopic_gamma0", "discounted", myopic_gamma0,
        "closed form: gamma = 0 gives V* = max_a R, derivation in catalogue.myopic_gamma0",
        V=R_myopic.max(axis=1), Q=R_myopic, policy=R_myopic.argmax(axis=1).astype(np.int64))
    add("river_swim_6_discounted", "discounted", functools.partial(river_swim_discounted, 6, 0.95),
        "Strehl & Littman 2008 (RiverSwim's design: the optimal policy swims right); argument in "
        "catalogue.river_swim_discounted", policy=np.ones(6, dtype=np.int64))
    add("two_arms_horizon3", "finite_horizon", two_arms_horizon3,
        "by hand: V_h = 0.7 (3 - h), derivation in catalogue.two_arms_horizon3",
        V=_arr([[2.1], [1.4], [0.7]]), Q=_arr([[[1.6, 2.1]], [[0.9, 1.4]], [[0.2, 0.7]]]),
        policy=np.ones((3, 1), dtype=np.int64))
    n, H = 4, 6
    h, s = np.meshgrid(np.arange(H), np.arange(n), indexing="ij")
    add("advance_chain_horizon", "finite_horizon", functools.partial(advance_chain_horizon, n, H),
        "closed form: V_h(s) = max(0, H - h - (n - 1 - s)), derivation in catalogue.advance_chain_horizon",
        V=np.maximum(0.0, H - h - (n - 1 - s)).astype(np.float64))
    add("inventory_horizon3", "finite_horizon", inventory_horizon3,
        "Puterman 1994, section 4.6.1 (the inventory example, three decision epochs, zero terminal "
        "reward); state-dependent action sets",
        V=_arr([[67.0, 129.0, 194.0, 227.0], [32.0, 100.0, 160.0, 168.0], [0.0, 80.0, 96.0, 80.0]]) / 16.0,
        policy=_arr([[3, 0, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0]], np.int64))
    add("river_swim_6_average", "average", functools.partial(river_swim_average, 6),
        "closed form (birth-death chain) for the gain of 'always right', derivation in "
        "catalogue.river_swim_gain; optimality: Strehl & Littman 2008 and catalogue.river_swim_average",
        gain=river_swim_gain(6), policy=np.ones(6, dtype=np.int64))
    add("jao", "average", functools.partial(jao, 0.1, 0.05, 2),
        "Jaksch, Ortner & Auer 2010, section 6: g* = (delta + eps) / (2 delta + eps); two-state "
        "derivation in catalogue.jao", gain=0.15 / 0.25)
    add("periodic_swap", "average", periodic_swap,
        "closed form: g = 1/2, bias (1/4, -1/4) with mu^T u = 0, derivation in catalogue.periodic_swap",
        gain=0.5, bias=_arr([0.25, -0.25]), policy=_arr([0, 0], np.int64))
    add("three_absorbing", "average", three_absorbing,
        "by hand (multichain): derivation in catalogue.three_absorbing",
        gain=_arr([1.0, 2.0, 3.0, 3.0]))
    add("rock_paper_scissors", "preference", rock_paper_scissors,
        "symmetry (cyclic relabelling), derivation in catalogue.rock_paper_scissors",
        nash=np.full(3, 1.0 / 3.0), value=0.5)
    add("intransitive_3x3", "preference", intransitive_3x3,
        "by hand: every response wins w.p. 1/2 against (1, 2, 4)/7, derivation in "
        "catalogue.intransitive_3x3", nash=_arr([1.0, 2.0, 4.0]) / 7.0, value=0.5)
    add("condorcet_3x3", "preference", condorcet_3x3,
        "by hand: a Condorcet winner is the pure equilibrium, derivation in catalogue.condorcet_3x3",
        nash=_arr([1.0, 0.0, 0.0]), value=0.5)
    return tuple(out)


_ENTRIES = _make_entries()
_BY_NAME = {e.name: e for e in _ENTRIES}


def entries(family: str | None = None) -> list[Entry]:
    """The catalogue's entries, in table order; only those of ``family`` when given.

    Parameters
    ----------
    family : {None, "discounted", "finite_horizon", "average", "preference"}

    Returns
    -------
    list of Entry
    """
    if family is None:
        return list(_ENTRIES)
    if family not in FAMILIES:
        raise ValueError(f"family must be None or one of {list(FAMILIES)}, got {family!r}")
    return [e for e in _ENTRIES if e.family == family]


def names(family: str | None = None) -> list[str]:
    """The entry names (of ``family`` when given)."""
    return [e.name for e in entries(family)]


def get(name: str) -> Entry:
    """The entry called ``name`` (``KeyError``-free: unknown names raise ``ValueError`` listing
    the catalogue)."""
    if not isinstance(name, str) or name not in _BY_NAME:
        raise ValueError(f"name must be one of the catalogue's entries {sorted(_BY_NAME)}, got {name!r}")
    return _BY_NAME[name]
