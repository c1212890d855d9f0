r"""Average-reward MDPs: gain, bias, relative value iteration and the gain LP.

Model (Puterman 1994, ch. 8-9). The gain of a stationary policy is the long-run reward rate
:math:`g^\pi(s) = \lim_N \frac1N \mathbb E^\pi_s \sum_{t<N} R(s_t,a_t)` and its bias
:math:`u^\pi = \text{C-}\lim_N \sum_{t<N} P_\pi^t (r_\pi - g^\pi)`. For a *unichain* policy (one
recurrent class plus transient states) the gain is a constant :math:`g^\pi = \mu^\top r_\pi`
(:math:`\mu` the unique stationary distribution) and :math:`(g, u)` is the unique solution of
the bordered system (Puterman §8.2)

.. math::

    g\,\mathbf 1 + (I - P_\pi) u = r_\pi, \qquad \mu^\top u = 0 .

Classes. *Unichain*: every deterministic stationary policy is unichain. *Communicating*: every
state reaches every other under some policy. *Weakly communicating*: a closed communicating set
plus states transient under every policy. For weakly communicating MDPs the optimal gain
:math:`g^*` is constant and the optimality equation

.. math::

    g + u(s) = \max_a \big[R(s,a) + \textstyle\sum_{s'} P(s' \mid s,a) u(s')\big] =: (T u)(s)

has a solution, unique up to an additive constant in the unichain case (Puterman
§8.4, §9.1). Checking "unichain" means checking all :math:`A^S` policies (NP-hard in general,
Tsitsiklis 2007 [6]); the lab offers :func:`recurrent_classes` for one chain and
:func:`is_communicating` for the model (strong connectivity of the union support graph).

Span seminorm and contraction. :math:`\mathrm{sp}(v) = \max v - \min v`. For any ``u, v``
(Puterman §6.6.1, §8.5; Seneta's / Dobrushin's ergodicity coefficient)

.. math::

    \mathrm{sp}(Tu - Tv) \le \gamma'\,\mathrm{sp}(u - v), \qquad
    \gamma' = 1 - \min_{(s,a),(s',a')} \sum_j \min\{P(j \mid s,a), P(j \mid s',a')\}.

Relative value iteration (White 1963; Puterman §8.5.5)
    .. math::

        u_{k+1} = T u_k - (T u_k)(s_\mathrm{ref})\,\mathbf 1, \qquad u_0 = 0,

    with gain estimate :math:`g_k = (T u_k)(s_\mathrm{ref}) - u_k(s_\mathrm{ref})` and the
    Odoni (1969) bracket, valid for any ``u`` in a weakly communicating MDP,

    .. math::

        \min_s (T u - u)(s) \;\le\; g^* \;\le\; \max_s (T u - u)(s),

    and the greedy policy :math:`\pi_u` has :math:`g^{\pi_u} \ge \min_s (Tu - u)(s)`. Stopping
    rule: :math:`\mathrm{sp}(T u_k - u_k) < \varepsilon` makes :math:`\pi_{u_k}`
    :math:`\varepsilon`-gain-optimal and :math:`|g_k - g^*| < \varepsilon`. If
    :math:`\gamma' < 1`, :math:`\mathrm{sp}(T u_{k+1} - u_{k+1}) \le \gamma' \mathrm{sp}(T u_k - u_k)`.

Aperiodicity transform (Schweitzer 1971; Puterman §8.5.4)
    RVI may cycle on periodic chains (a 2-cycle never converges). The transform
    :math:`\tilde P = (1-\tau) I + \tau P`, :math:`\tilde R = \tau R`, :math:`\tau \in (0, 1]`,
    makes every chain aperiodic. Derivation: :math:`\tilde T u = \tau\, T u + (1-\tau) u`
    (the ``(1-tau) u(s)`` term does not depend on the action), so

    .. math::

        \tilde g + u = \tilde T u = \tau\, T u + (1-\tau) u
        \iff \tau u + \tilde g = \tau\, T u
        \iff \tilde g / \tau + u = T u .

    Hence :math:`\tilde g^* = \tau g^*`, the *same* relative values ``u`` solve both optimality
    equations, greedy (optimal) policies coincide, and for a fixed policy the stationary
    distribution is unchanged (:math:`\mu \tilde P_\pi = \mu`) so the bias with
    :math:`\mu^\top u = 0` is *identical* (not rescaled): only gains and one-step differences
    scale, :math:`\tilde T u - u = \tau (T u - u)`.

Conventions of :func:`relative_value_iteration` (read before comparing numbers):

* the iteration runs on the transformed operator :math:`\tilde T` (``tau=1`` means none);
* ``residuals[k] = sp(T~ u_k - u_k) = tau * sp(T u_k - u_k)`` is in the *transformed* scale;
  the stopping test is ``residuals[k] < tol * tau``, i.e. ``sp(T u_k - u_k) < tol``: ``tol``
  is a gain accuracy in the original scale;
* ``gain``, ``trace["gain"]``, ``trace["gain_lower"]``, ``trace["gain_upper"]`` and ``errors``
  are in the *original* scale (transformed values divided by ``tau``);
* ``bias`` is the final ``u_k`` (original scale, no rescaling needed) normalised so that
  ``bias[s_ref] = 0``; ``V = bias``; ``Q = R + P bias - gain``; ``policy`` greedy in ``Q``;
* one entry of ``residuals``, ``errors`` and each trace per sweep (one application of T):
  ``len == n_iter``; the returned ``u`` is the iterate whose sweep met the stopping test.
* it refuses (``ValueError``) an mdp with two or more sets of states closed under every
  policy -- multichain, where the optimal gain may depend on the start state and one gain is
  wrong -- and it warns (:class:`~mdps.results.GainCertificateWarning`, a
  :class:`~mdps.results.ConvergenceWarning`) whenever its Odoni certificate fails: it stops at
  ``max_iter`` without meeting the stopping test (``converged=False``), or the bracket at the
  returned ``u`` or the exact gain of the greedy policy contradict the answer. ``certificate``
  carries the bracket, the greedy policy's exact per-state gain (:func:`policy_gain`) and ``holds``.

Ground truth (:func:`average_reward_lp`): the LP over stationary state-action frequencies
(Manne 1960; Puterman §8.8, §9.3),

.. math::

    \max_{x \ge 0} \sum_{s,a} x(s,a) R(s,a) \;\; \text{s.t.}\;\;
    \sum_a x(s',a) = \sum_{s,a} P(s' \mid s,a) x(s,a)\;\forall s', \quad \sum_{s,a} x(s,a) = 1,

whose value is :math:`g^*` for unichain and weakly communicating MDPs. See its docstring for
how the policy and bias are extracted.

Multichain MDPs (:func:`multichain_gain`): when several sets of states are closed under every
policy the optimal gain :math:`g^*(s)` depends on the start state; it is the ``g`` part of the
multichain LP (Puterman §9.3), which the lab solves for the gain of every state.

Both LPs are solved on ``R / 2**e`` (:func:`mdps.numerics.binary_exponent`, an exact rescaling),
since HiGHS loses accuracy on large costs and reads ``|c| >= 1e20`` as infinite.

The discounted approximation (Puterman §8.2 Laurent expansion; used as a test):
:math:`|(1-\gamma) V^*_\gamma(s) - g^*| \le (1-\gamma)\,\mathrm{sp}(u^*)`, and
:math:`\mathrm{sp}(u^*) \le D \cdot R_{\max}` with ``D`` the diameter (Bartlett & Tewari 2009).

Infeasible actions
------------------
With state-dependent action sets (``mdp.feasible``) RVI's backup and policy take the max over
feasible actions (masked kernels), the gain LP pins the frequency of an infeasible pair to 0,
the multichain LP keeps the constraints of feasible pairs only, ``Q`` is ``-inf`` at infeasible
pairs, and :func:`gain_bias` refuses a policy that uses an infeasible action. The rows of
infeasible pairs are self-loops in the container, so closed classes, reachability and the
diameter see no edge from an action that cannot be taken.

References
----------
.. [1] M. L. Puterman, *Markov Decision Processes*, Wiley, 1994, ch. 8 (§8.2, 8.4, 8.5, 8.8)
   and ch. 9 (§9.1, 9.3, 9.5).
.. [2] A. R. Odoni, "On finding the maximal gain for Markov decision processes",
   *Operations Research* 17(5):857-860, 1969.
.. [3] D. J. White, "Dynamic programming, Markov chains, and the method of successive
   approximations", *J. Math. Anal. Appl.* 6:373-376, 1963.
.. [4] P. J. Schweitzer, "Iterative solution of the functional equations of undiscounted
   Markov renewal programming", *J. Math. Anal. Appl.* 34:495-501, 1971.
.. [5] P. L. Bartlett and A. Tewari, "REGAL: a regularization based algorithm for
   reinforcement learning in weakly communicating MDPs", UAI 2009, arXiv:1205.2661.
.. [6] J. N. Tsitsiklis, "NP-hardness of checking the unichain condition in average cost MDPs",
   *Operations Research Letters* 35(3):319-323, 2007.
.. [7] A. S. Manne, "Linear programming and sequential decisions", *Management Science*
   6(3):259-267, 1960.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from mdps import _chains
from mdps._backup import apply_P, bellman_max
from mdps.numerics import binary_exponent, span
from mdps.occupancy import recurrent_classes
from mdps.results import ConvergenceWarning, GainCertificateWarning, Solution
from mdps.tabular import TabularMDP
from mdps.validation import (
    as_stochastic_policy,
    check_int,
    check_mdp,
    check_float64_range,
    check_policy,
    check_positive,
    check_real,
    feasible_entries,
)

__all__ = ["relative_value_iteration", "average_reward_lp", "multichain_gain", "gain_bias", "policy_gain",
           "GainBias", "aperiodic_transform", "span_contraction_coefficient", "recurrent_classes",
           "is_communicating", "diameter"]

#: Howard-improvement threshold in the LP's policy refinement: an action replaces the current
#: one only if it raises ``R + P u`` by more than this (relative to ``1 + sp(R)``); below it the
#: difference is linear-solve round-off (~1e-13 for S <= 1e3), not an improvement.
_IMPROVE_RTOL = 1e-10
#: slack of RVI's certificate test ``policy_gain >= gain_lower``, relative to ``1 + sp(R)``: the policy's gain comes
#: from linear solves (stationary distributions, absorption), accurate to ~1e-13 for S <= 1e3; the bracket ends are
#: differences of iterates of size sp(u) * (1 + sp(R)) at most ~1e-14 off
_CERT_RTOL = 1e-9


def _check_average(mdp) -> TabularMDP:
    return check_mdp(mdp, criterion="average")


def _check_tau(tau) -> float:
    return check_real(tau, "tau", low=0.0, high=1.0, low_open=True)


def _closed_sets(mdp: TabularMDP) -> list[np.ndarray]:
    """The sets of states closed under *every* policy that contain no smaller such set: the
    closed strongly connected components of the union support graph (Puterman §8.3). A weakly
    communicating (in particular a communicating or unichain) MDP has exactly one; with two or
    more, no state of one can reach another and the optimal gain may differ between them."""
    return _chains.closed_classes(_chains.union_graph(mdp.P_matrix(), mdp.n_states, mdp.n_actions))


@dataclass(frozen=True, eq=False)
class GainBias:
    """Gain, bias and stationary distribution of a unichain stationary policy.

    Attributes
    ----------
    gain : float
        :math:`g = \\mu^\\top r_\\pi`.
    bias : ndarray, shape (S,)
        Solution of :math:`g + u = r_\\pi + P_\\pi u` normalised by :math:`\\mu^\\top u = 0`
        (the Cesàro bias).
    stationary : ndarray, shape (S,)
        The unique stationary distribution :math:`\\mu` (zero on transient states).
    """

    gain: float
    bias: np.ndarray
    stationary: np.ndarray

    def __post_init__(self):
        for a in (self.bias, self.stationary):
            a.setflags(write=False)


def _gain_bias_chain(P_pi, r_pi: np.ndarray, name: str) -> GainBias:
    classes = _chains.recurrent_classes(P_pi)
    if len(classes) > 1:
        raise ValueError(
            f"{name} is not unichain: its chain P_pi has {len(classes)} recurrent classes "
            f"({_chains.describe_classes(classes)}); gain and bias need exactly one (the gain would "
            f"depend on the start state)"
        )
    S = r_pi.shape[0]
    mu = _chains.stationary_on_class(P_pi, classes[0])
    g = float(mu @ r_pi)
    # bordered system [[I - P, 1], [mu^T, 0]] [u; g] = [r; 0] (nonsingular for unichain P)
    if sp.issparse(P_pi):
        top = sp.hstack([sp.identity(S, format="csr") - P_pi, np.ones((S, 1))])
        bot = sp.hstack([sp.csr_array(mu[None, :]), sp.csr_array((1, 1))])
        M = sp.vstack([top, bot]).tocsc()
    else:
        M = np.zeros((S + 1, S + 1))
        M[:S, :S] = np.eye(S) - P_pi
        M[:S, S] = 1.0
        M[S, :S] = mu
    sol = _chains.linear_solve(M, np.concatenate([r_pi, [0.0]]))
    return GainBias(gain=g, bias=np.ascontiguousarray(sol[:S]), stationary=mu)


def gain_bias(mdp: TabularMDP, pi) -> GainBias:
    r"""Exact gain, bias and stationary distribution of a unichain stationary policy.

    Parameters
    ----------
    mdp : TabularMDP
        Average-reward instance, dense or sparse.
    pi : array_like
        Stochastic ``(S, A)`` or deterministic int ``(S,)``.

    Returns
    -------
    GainBias
        ``gain = mu @ r_pi``; ``bias`` solves ``gain + bias = r_pi + P_pi bias`` with
        ``mu @ bias = 0`` (bordered linear system); ``stationary = mu``.

    Raises
    ------
    ValueError
        If ``P_pi`` has more than one recurrent class (message names ``pi`` and the classes),
        or ``pi`` is invalid.

    Examples
    --------
    >>> import numpy as np, mdps
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]]); R = np.array([[1.0], [0.0]])
    >>> gb = gain_bias(mdps.TabularMDP(P, R), np.zeros(2, dtype=int))
    >>> gb.gain, gb.bias.tolist()
    (0.5, [0.25, -0.25])
    """
    _check_average(mdp)
    S, A = mdp.n_states, mdp.n_actions
    pol = as_stochastic_policy(check_policy(pi, S, A, feasible=mdp.action_mask), A)
    P_pi = _chains.policy_kernel(mdp.P_matrix(), pol, S, A)
    r_pi = np.einsum("sa,sa->s", pol, mdp.R)
    with np.errstate(over="ignore", invalid="ignore"):
        gb = _gain_bias_chain(P_pi, r_pi, "pi")
    _require_finite(mdp.R, (np.array([gb.gain]), gb.bias), "gain_bias")
    return gb


def _chain_gain(P_pi, r_pi: np.ndarray) -> np.ndarray:
    """Per-state gain ``P* r_pi`` of the chain ``P_pi`` (any number of recurrent classes)."""
    S = r_pi.shape[0]
    g = np.zeros(S)
    rec = np.zeros(S, dtype=bool)
    for C in _chains.recurrent_classes(P_pi):
        g[C] = _chains.stationary_on_class(P_pi, C)[C] @ r_pi[C]
        rec[C] = True
    T = np.flatnonzero(~rec)
    if T.size:
        M = sp.csr_array(P_pi) if sp.issparse(P_pi) else np.asarray(P_pi)
        MT = M[T]
        MTT = MT[:, T]
        eye = sp.identity(T.size, format="csr") if sp.issparse(M) else np.eye(T.size)
        g[T] = _chains.linear_solve(eye - MTT, MT[:, np.flatnonzero(rec)] @ g[rec])
    return g


def policy_gain(mdp: TabularMDP, pi) -> np.ndarray:
    r"""The exact gain of every state under a stationary policy, multichain policies included.

    The gain is :math:`g^\pi = P^*_\pi r_\pi` with the Cesàro limit :math:`P^*_\pi = \lim_N \frac1N
    \sum_{t<N} P_\pi^t` (Puterman 1994, §8.2, Thm A.7). On a recurrent class ``C`` of :math:`P_\pi` it is the
    constant :math:`\mu_C^\top r_\pi` (:math:`\mu_C` the stationary distribution on ``C``). On the transient
    states ``T``, :math:`P_\pi P^*_\pi = P^*_\pi` gives :math:`g_T = P_{TT} g_T + P_{T,\mathrm{rec}}\, g_\mathrm{rec}`,
    a linear system whose matrix :math:`I - P_{TT}` is nonsingular (from a transient state the chain leaves
    ``T`` almost surely, so :math:`P_{TT}^n \to 0`). Unlike :func:`gain_bias`, any number of recurrent
    classes is allowed; for a unichain policy every entry equals ``gain_bias(mdp, pi).gain``.

    Parameters
    ----------
    mdp : TabularMDP
        Average-reward instance, dense or sparse.
    pi : array_like
        Stochastic ``(S, A)`` or deterministic int ``(S,)``.

    Returns
    -------
    g : ndarray, shape (S,)

    Examples
    --------
    >>> import numpy as np, mdps
    >>> P = np.zeros((3, 1, 3)); P[0, 0] = [0.0, 0.5, 0.5]; P[1, 0, 1] = P[2, 0, 2] = 1.0
    >>> policy_gain(mdps.TabularMDP(P, np.array([[0.0], [1.0], [3.0]])), np.zeros(3, dtype=int)).tolist()
    [2.0, 1.0, 3.0]
    """
    _check_average(mdp)
    S, A = mdp.n_states, mdp.n_actions
    pol = as_stochastic_policy(check_policy(pi, S, A), A)
    P_pi = _chains.policy_kernel(mdp.P_matrix(), pol, S, A)
    with np.errstate(over="ignore", invalid="ignore"):
        g = _chain_gain(P_pi, np.einsum("sa,sa->s", pol, mdp.R))
    _require_finite(mdp.R, (g,), "policy_gain")
    return g


def aperiodic_transform(mdp: TabularMDP, tau: float = 0.5) -> TabularMDP:
    r"""The aperiodicity transform :math:`\tilde P = (1-\tau) I + \tau P`, :math:`\tilde R = \tau R`.

    Every chain of the result is aperiodic when ``tau < 1`` (each state has a self-loop of
    probability at least ``1 - tau``); gains scale by ``tau``, biases and optimal policies are
    unchanged (derivation in the module docstring).

    Parameters
    ----------
    mdp : TabularMDP
        Average-reward instance, dense or sparse (the layout is kept).
    tau : float in (0, 1], default 0.5
        ``tau = 1`` returns an equal copy.

    Returns
    -------
    TabularMDP
        Average-reward instance with the same ``rho``.
    """
    _check_average(mdp)
    t = _check_tau(tau)
    S, A = mdp.n_states, mdp.n_actions
    rows = np.arange(S * A)
    cols = np.repeat(np.arange(S), A)
    if mdp.is_sparse:
        stay = sp.csr_array((np.full(S * A, 1.0 - t), (rows, cols)), shape=(S * A, S))
        P_new = sp.csr_array(t * mdp.P + stay)
    else:
        P_new = t * mdp.P_matrix()
        P_new[rows, cols] += 1.0 - t
        P_new = P_new.reshape(S, A, S)
    return TabularMDP(P_new, t * mdp.R, rho=mdp.rho, feasible=mdp.action_mask)


def span_contraction_coefficient(mdp: TabularMDP) -> float:
    r"""Dobrushin-type span contraction coefficient of the optimality operator.

    .. math::

        \gamma' = 1 - \min_{(s,a),(s',a')} \sum_j \min\{P(j \mid s,a), P(j \mid s',a')\}
        \in [0, 1],

    over the feasible pairs (``mdp.feasible``),

    so that :math:`\mathrm{sp}(Tu - Tv) \le \gamma'\,\mathrm{sp}(u - v)` (Puterman
    §6.6.1, §8.5). Computed densely over all ``(S*A)^2`` pairs in row blocks (memory
    ``O(block * S * A * S)``); meant for small and moderate ``S * A`` (sparse input is
    densified).

    Parameters
    ----------
    mdp : TabularMDP
        Average-reward instance.

    Returns
    -------
    float
        ``gamma'``; ``< 1`` means RVI converges geometrically at rate at most ``gamma'``.
    """
    _check_average(mdp)
    P2 = mdp.P_matrix()
    P2 = P2.toarray() if sp.issparse(P2) else np.asarray(P2)
    if mdp.action_mask is not None:  # the operator maxes over feasible pairs only
        P2 = P2[mdp.action_mask.ravel()]
    n, S = P2.shape
    block = max(1, int(4_000_000 // max(1, n * S)))
    best = np.inf
    for i in range(0, n, block):
        ov = np.minimum(P2[i:i + block, None, :], P2[None, :, :]).sum(axis=-1)
        best = min(best, float(ov.min()))
    return float(min(1.0, max(0.0, 1.0 - best)))


def is_communicating(mdp: TabularMDP) -> bool:
    """Whether every state can reach every other under some policy.

    Equivalent to strong connectivity of the union support graph (edge ``s -> s'`` iff
    ``P[s, a, s'] > 0`` for some ``a``; Puterman §8.3.2). Communicating MDPs are weakly
    communicating, so RVI (with the aperiodicity transform) and :func:`average_reward_lp` apply.
    """
    _check_average(mdp)
    return nx.is_strongly_connected(_chains.union_graph(mdp.P_matrix(), mdp.n_states, mdp.n_actions))


def relative_value_iteration(mdp: TabularMDP, *, tol: float = 1e-10, max_iter: int = 100_000,
                             s_ref: int = 0, tau: float = 0.5, gain_star=None,
                             keep_iterates: bool = False) -> Solution:
    r"""Relative value iteration on the aperiodicity-transformed MDP.

    Iterates :math:`u_{k+1} = \tilde T u_k - (\tilde T u_k)(s_\mathrm{ref})` from
    :math:`u_0 = 0` with :math:`\tilde T u = \tau\,T u + (1-\tau) u` (the operator of
    :func:`aperiodic_transform`, applied without building :math:`\tilde P`), until
    :math:`\mathrm{sp}(\tilde T u_k - u_k) < \mathrm{tol}\cdot\tau`. Converges for unichain
    or weakly communicating MDPs with ``tau < 1`` (Puterman §8.5, §9.5); with
    ``tau = 1`` it needs aperiodic chains.

    Parameters
    ----------
    mdp : TabularMDP
        Average-reward instance, dense or sparse.
    tol : float > 0
        Target gain accuracy in the original scale: on exit ``gain_upper - gain_lower < tol``,
        so ``|gain - g*| < tol`` and the greedy policy is ``tol``-gain-optimal (Odoni).
    max_iter : int >= 1
        Maximum number of sweeps (applications of ``T``).
    s_ref : int
        Reference state, ``bias[s_ref] = 0``.
    tau : float in (0, 1]
        Aperiodicity parameter (``1`` = plain RVI).
    gain_star : None, float or "exact"
        Reference optimal gain for ``errors``; ``"exact"`` computes it with
        :func:`average_reward_lp`.
    keep_iterates : bool
        Also return ``trace["iterates"]`` of shape ``(n_iter, S)``: the iterate ``u_k`` each sweep
        was applied to (the last one is the returned ``bias``), so that a check can recompute
        spans, brackets and ratios itself. Memory ``O(n_iter S)``.

    Returns
    -------
    Solution
        ``method="rvi"``; ``gain``, ``bias`` (``bias[s_ref] = 0``), ``V = bias``,
        ``Q = R + P bias - gain`` (S, A), greedy ``policy`` (ties to the lowest action),
        ``residuals[k] = sp(T~ u_k - u_k)`` (transformed scale), ``errors[k] = |g_k - g*|``
        (empty without ``gain_star``), ``trace`` with ``"gain"`` (``g_k``), ``"gain_lower"``,
        ``"gain_upper"`` (Odoni bracket ``min/max (T u_k - u_k)``), all in the original scale
        and of length ``n_iter``. ``converged`` is False if ``max_iter`` sweeps did not meet
        the stopping test. ``certificate`` (recomputed at the returned ``bias``, see
        :func:`_odoni_certificate`): ``gain_lower`` and ``gain_upper`` (the Odoni bracket
        ``min/max (T u - u)``, original scale, containing ``g*(s)`` for every state in any finite MDP),
        ``width``, ``policy_gain`` (S,) the exact per-state gain of the returned ``policy``
        (:func:`policy_gain`), ``slack`` and ``holds``: width ``< tol``, ``gain`` inside the bracket and
        ``gain_lower <= policy_gain <= gain_upper`` (up to ``slack``). When ``holds`` the gain and the policy's gain
        are within ``tol`` of the optimal gain of every state.

    Raises
    ------
    ValueError
        Invalid arguments; an ``mdp`` with two or more sets of states closed under every
        policy (multichain: the optimal gain can depend on the start state, RVI's single gain
        would be wrong; :func:`multichain_gain` computes the gain of every state); iterates
        leaving the float64 range.

    Warns
    -----
    GainCertificateWarning
        (a :class:`~mdps.results.ConvergenceWarning`) whenever ``certificate["holds"]`` is False:
        ``converged`` is False (periodic chains with ``tau = 1``, too small ``max_iter``, or a model
        that is not weakly communicating, where the optimal gain differs between states and no single
        gain is right -- a model with one set closed under every policy passes the multichain refusal
        below yet can be such a model), or the certificate failed despite the stopping test (a bug or
        round-off beyond ``slack``). The returned gain is then never certified.

    Examples
    --------
    >>> import numpy as np, mdps
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]]); R = np.array([[1.0], [0.0]])
    >>> sol = relative_value_iteration(mdps.TabularMDP(P, R))
    >>> round(sol.gain, 9), sol.bias.round(9).tolist()
    (0.5, [0.0, -0.5])
    """
    _check_average(mdp)
    S, A = mdp.n_states, mdp.n_actions
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", low=1)
    s_ref = check_int(s_ref, "s_ref", low=0, high=S - 1)
    t = _check_tau(tau)
    closed = _closed_sets(mdp)
    if len(closed) > 1:  # hostile review D11: RVI returned one wrong gain, converged=False, silently
        raise ValueError(
            f"relative_value_iteration needs a weakly communicating mdp, but mdp is multichain: "
            f"{len(closed)} sets of states are closed under every policy ({_chains.describe_classes(closed)}), "
            f"so the optimal gain can differ between them and RVI's single gain would be wrong; use "
            f"mdps.multichain_gain(mdp) for the optimal gain of every state (or solve each closed set "
            f"as its own mdp)"
        )
    g_star = _resolve_gain_star(mdp, gain_star)

    P2, R, mask = mdp.P_matrix(), mdp.R, mdp.action_mask
    u = np.zeros(S)
    Tu = np.empty(S)
    sigma = np.empty(S, dtype=np.int64)
    work = None if sp.issparse(P2) else np.empty(S * A)
    res, gains, lo, hi = [], [], [], []
    converged = False
    threshold = tol * t
    if not isinstance(keep_iterates, (bool, np.bool_)):
        raise TypeError(f"keep_iterates must be a bool, got {keep_iterates!r}")
    iterates = [] if keep_iterates else None
    for _ in range(max_iter):
        if iterates is not None:
            iterates.append(u.copy())
        with np.errstate(over="ignore", invalid="ignore"):
            bellman_max(P2, R, u, 1.0, Tu, sigma, work, mask)
            diff = Tu - u                      # T u - u, original scale
        d_ref = diff[s_ref]
        dmin, dmax = float(diff.min()), float(diff.max())
        r_k = t * (dmax - dmin)            # sp(T~ u - u), transformed scale
        if not math.isfinite(r_k):
            check_float64_range(np.array([r_k]), f"relative_value_iteration: the relative values at sweep "
                                f"{len(res) + 1}", R=R, hint="rescale R (gain and bias are linear in R)")
        res.append(r_k)
        gains.append(float(d_ref))
        lo.append(dmin)
        hi.append(dmax)
        if r_k < threshold:
            converged = True
            break
        # u <- T~ u - (T~ u)(s_ref) = u + tau (diff - diff[s_ref])
        u = u + t * (diff - d_ref)
        u[s_ref] = 0.0
    gain = gains[-1]
    bias = u.copy()
    Q = R + apply_P(P2, bias).reshape(S, A) - gain
    if mask is not None:
        Q[~mask] = -np.inf
    policy = Q.argmax(axis=1).astype(np.int64)
    gains_a = np.array(gains)
    errors = np.abs(gains_a - g_star) if g_star is not None else np.empty(0)
    certificate = _odoni_certificate(P2, R, bias, policy, gain, tol, S, A)
    if not certificate["holds"]:
        c = certificate
        if not converged:
            why = (f"relative_value_iteration did not converge in max_iter={max_iter} sweeps: the last span "
                   f"sp(T u - u) = {res[-1] / t:.3g} >= tol = {tol:g}, so the gain {gain:.6g} is only known "
                   f"to lie in the Odoni bracket [{lo[-1]:.6g}, {hi[-1]:.6g}] (periodic chains need tau < 1; "
                   f"a model that is not weakly communicating has no single optimal gain: multichain_gain gives "
                   f"g*(s) per state; average_reward_lp is exact for weakly communicating ones)")
        else:
            why = (f"relative_value_iteration's Odoni certificate failed although the stopping test passed: at "
                   f"the returned bias the bracket is [{c['gain_lower']:.6g}, {c['gain_upper']:.6g}] (width "
                   f"{c['width']:.3g}, tol = {tol:g}) and the greedy policy's exact gain ranges over "
                   f"[{float(c['policy_gain'].min()):.6g}, {float(c['policy_gain'].max()):.6g}]; the gain "
                   f"{gain:.6g} is not certified")
        warnings.warn(why + f"; certificate: {_describe_certificate(c)}", GainCertificateWarning, stacklevel=2)
    return Solution(
        V=bias.copy(), Q=Q, policy=policy, n_iter=len(res), method="rvi", errors=errors,
        residuals=np.array(res), converged=converged, gain=gain, bias=bias,
        trace={"gain": gains_a, "gain_lower": np.array(lo), "gain_upper": np.array(hi),
               **({} if iterates is None else {"iterates": np.array(iterates)})},
        settings={"tol": tol, "max_iter": max_iter, "s_ref": s_ref, "tau": t,
                  "gain_star": g_star},
        certificate=certificate,
    )


def _odoni_certificate(P2, R, u, policy, gain, tol, S, A) -> dict:
    r"""The Odoni certificate of a relative value vector ``u`` and its greedy ``policy``.

    For any ``u`` and any finite MDP (Odoni 1969; Puterman §8.5.3, Thm 8.5.5): with
    :math:`L = \min_s (Tu - u)(s)` and :math:`U = \max_s (Tu - u)(s)`, monotonicity of ``T`` gives
    :math:`u + nL \le T^n u \le u + nU`, hence :math:`L \le g^*(s) \le U` for every ``s`` (``g*(s)`` the
    optimal gain from ``s``, :math:`\lim_n T^n u / n`), and the greedy policy :math:`\pi_u`, for which
    :math:`T_{\pi_u} u = Tu \ge u + L`, has :math:`g^{\pi_u}(s) \ge L` everywhere. So if ``U - L < tol``
    the returned gain (a value of ``Tu - u``) and the greedy policy's gain are both within ``tol`` of every
    ``g*(s)``. ``holds``: ``U - L < tol``, ``L <= gain <= U`` and ``L <= g^{pi_u}(s) <= U`` at every ``s`` (the policy's gain
    computed exactly by :func:`policy_gain`'s linear algebra, up to ``_CERT_RTOL (1 + sp(R))``).
    """
    Tu = np.empty(S)
    sigma = np.empty(S, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        bellman_max(P2, R, u, 1.0, Tu, sigma, None if sp.issparse(P2) else np.empty(S * A))
        diff = Tu - u
        lo, hi = float(diff.min()), float(diff.max())
        pol = np.zeros((S, A))
        pol[np.arange(S), policy] = 1.0
        pg = _chain_gain(_chains.policy_kernel(P2, pol, S, A), R[np.arange(S), policy])
    slack = _CERT_RTOL * (1.0 + span(R))
    # g^pi(s) <= g*(s) <= U too: the policy's gain must lie in [L, U] (within the bracket width of its lower end)
    holds = bool(hi - lo < tol and lo <= gain <= hi and float(pg.min()) >= lo - slack and float(pg.max()) <= hi + slack)
    return {"gain_lower": lo, "gain_upper": hi, "width": hi - lo, "policy_gain": pg, "holds": holds,
            "slack": slack}


def _describe_certificate(c) -> str:
    return (f"gain_lower={c['gain_lower']:.6g}, gain_upper={c['gain_upper']:.6g}, width={c['width']:.3g}, "
            f"min policy_gain={float(c['policy_gain'].min()):.6g}, holds={c['holds']}")


def _resolve_gain_star(mdp, gain_star):
    if gain_star is None:
        return None
    if isinstance(gain_star, str):
        if gain_star != "exact":
            raise ValueError(f"gain_star must be None, a float or 'exact', got {gain_star!r}")
        return float(average_reward_lp(mdp).gain)
    if isinstance(gain_star, bool) or not isinstance(gain_star, numbers.Real):
        raise TypeError(f"gain_star must be None, a finite float or 'exact', got {gain_star!r}")
    return check_real(gain_star, "gain_star")


def average_reward_lp(mdp: TabularMDP) -> Solution:
    r"""Optimal gain, bias and policy from the LP over stationary state-action frequencies.

    Steps (ground truth for unichain and weakly communicating MDPs):

    1. Solve the primal LP of the module docstring with HiGHS (default tolerances, one
       redundant flow row dropped); its value is :math:`g^*` and an optimal basic solution ``x`` is the
       stationary frequency of a deterministic policy on one recurrent class (Puterman
       §8.8, §9.3).
    2. Policy on the recurrent states (``sum_a x(s, a) > 0``): ``argmax_a x(s, a)``; one closed
       class ``C`` of that partial policy is kept. States outside ``C`` get an action leading
       toward ``C`` (backward breadth-first search on the support graph), which makes the
       policy unichain with gain :math:`g^*`. If some state cannot reach ``C`` the MDP is not
       weakly communicating and ValueError is raised.
    3. Refinement by Howard's unichain policy iteration (Puterman §8.6) from that policy:
       exact gain/bias by the bordered system, switch only where ``R + P u`` improves by more
       than ``1e-10 (1 + sp(R))``. It makes the policy greedy w.r.t. its own bias on the
       transient states (so ``(gain, bias)`` solves the optimality equation) and repairs any
       LP round-off.

    Returns
    -------
    Solution
        ``method="lp"``, ``n_iter = 1``; ``gain`` is the exact gain of the returned policy
        (linear solve, more accurate than the LP objective, which agrees within the LP
        tolerance); ``bias`` is that policy's bias normalised by :math:`\mu^\top u = 0`
        (stationary distribution of the returned policy; *not* ``u(s_ref) = 0`` as in RVI);
        ``V = bias``; ``Q = R + P bias - gain``; ``policy`` int ``(S,)``;
        ``settings["refinement_steps"]`` counts the policy-iteration steps of step 3 and
        ``settings["lp_objective"]`` is the raw LP value.
    """
    _check_average(mdp)
    S, A = mdp.n_states, mdp.n_actions
    P2, R = mdp.P_matrix(), mdp.R
    e = binary_exponent(R)
    SA = S * A
    E = sp.csr_array((np.ones(SA), (np.repeat(np.arange(S), A), np.arange(SA))), shape=(S, SA))
    PT = sp.csr_array(P2.T) if sp.issparse(P2) else sp.csr_array(np.asarray(P2).T)
    # the S flow rows sum to the zero row: drop the last one (redundant) for a full-rank system
    A_eq = sp.vstack([(E - PT)[: S - 1], sp.csr_array(np.ones((1, SA)))]).tocsr()
    b_eq = np.zeros(S)
    b_eq[S - 1] = 1.0
    mask = mdp.action_mask
    # an infeasible pair's frequency is pinned to 0
    bounds = (0, None) if mask is None else [(0, None if f else 0) for f in mask.ravel()]
    lp = linprog(-np.ldexp(R.ravel(), -e), A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if lp.status != 0:
        raise RuntimeError(
            f"average_reward_lp: HiGHS failed (status {lp.status}): {lp.message}; "
            f"relative_value_iteration(mdp) solves weakly communicating instances iteratively"
        )
    x = np.clip(lp.x, 0.0, None).reshape(S, A)
    mass = x.sum(axis=1)
    support = np.flatnonzero(mass > 1e-12)

    sigma = np.zeros(S, dtype=np.int64)
    sigma[support] = x[support].argmax(axis=1)
    # keep one closed class of the partial policy on the support
    P3 = None if sp.issparse(P2) else np.asarray(P2).reshape(S, A, S)
    rows_sel = support * A + sigma[support]
    sub = (sp.csr_array(P2[rows_sel]) if sp.issparse(P2) else P3[support, sigma[support]])
    sub = sub[:, support]
    classes = _chains.recurrent_classes(sub if not sp.issparse(sub) else sp.csr_array(sub))
    target = support[max(classes, key=lambda c: mass[support[c]].sum())]
    sigma = _reach(P2, S, A, target, sigma)

    scale = 1.0 + span(R)
    steps = 0
    while True:
        pol = np.zeros((S, A))
        pol[np.arange(S), sigma] = 1.0
        gb = _gain_bias_chain(_chains.policy_kernel(P2, pol, S, A), R[np.arange(S), sigma], "the LP policy")
        Q = R + apply_P(P2, gb.bias).reshape(S, A)
        if mask is not None:
            Q[~mask] = -np.inf
        cur = Q[np.arange(S), sigma]
        better = Q.max(axis=1) > cur + _IMPROVE_RTOL * scale
        if not better.any() or steps >= 10 * S * A:  # Howard PI needs far fewer steps
            break
        sigma = np.where(better, Q.argmax(axis=1), sigma)
        steps += 1
    bias = np.array(gb.bias)
    with np.errstate(over="ignore", invalid="ignore"):
        Qg = R + apply_P(P2, bias).reshape(S, A) - gb.gain
    if mask is not None:
        Qg[~mask] = -np.inf
    _require_finite(R, (bias, feasible_entries(Qg, mask)), "average_reward_lp")
    return Solution(V=bias.copy(), Q=Qg, policy=sigma, n_iter=1, method="lp", gain=gb.gain,
                    bias=bias, converged=not better.any(),
                    settings={"refinement_steps": steps, "lp_objective": float(np.ldexp(-lp.fun, e)),
                              "reward_scale_log2": e})


def _require_finite(R, arrays, func: str) -> None:
    check_float64_range(list(arrays), f"{func}: the gain, bias or Q values", R=R,
                        hint="rescale R (gain and bias are linear in R)")


def multichain_gain(mdp: TabularMDP) -> np.ndarray:
    r"""The optimal gain of every state, :math:`g^*(s)`, for any finite MDP (multichain too).

    In a multichain MDP (for instance several absorbing regions no policy can leave) the
    optimal gain depends on the start state, and neither :func:`relative_value_iteration` nor
    :func:`average_reward_lp` applies. The multichain linear program (Puterman 1994, §9.3)

    .. math::

        \min_{g, h} \sum_s lpha(s) g(s) \quad 	ext{s.t.}\quad
        g(s) \ge \sum_{s'} P(s' \mid s,a)\, g(s'), \qquad
        g(s) + h(s) \ge R(s,a) + \sum_{s'} P(s' \mid s,a)\, h(s')
        \quad orall (s,a),

    with any weights :math:`lpha > 0` (uniform here), has :math:`g = g^*` at its optimum:
    every feasible ``g`` dominates :math:`g^*` (the two inequalities are the multichain
    optimality equations relaxed to ``>=``), and :math:`(g^*, h^*)` from the optimality
    equations is feasible (Puterman §9.1, §9.3). Solved by HiGHS on ``R / 2**e`` (exact
    rescaling into the solver's range). Only the gain is returned: extracting an optimal
    policy from the dual is more delicate in the multichain case (Puterman §9.3.2).

    Parameters
    ----------
    mdp : TabularMDP
        Average-reward instance, dense or sparse.

    Returns
    -------
    g : ndarray, shape (S,)
        ``g[s]`` the optimal long-run reward rate from ``s`` (constant for weakly
        communicating MDPs, where it equals :func:`average_reward_lp`'s ``gain``).

    Examples
    --------
    >>> import numpy as np, mdps
    >>> P = np.zeros((2, 1, 2)); P[0, 0, 0] = P[1, 0, 1] = 1.0   # two absorbing states
    >>> multichain_gain(mdps.TabularMDP(P, np.array([[1.0], [2.0]]))).round(9).tolist()
    [1.0, 2.0]
    """
    _check_average(mdp)
    S, A = mdp.n_states, mdp.n_actions
    P2 = mdp.P_matrix()
    e = binary_exponent(mdp.R)
    SA = S * A
    E = sp.csr_array((np.ones(SA), (np.arange(SA), np.repeat(np.arange(S), A))), shape=(SA, S))
    Pm = sp.csr_array(P2) if sp.issparse(P2) else sp.csr_array(np.asarray(P2))
    zero = sp.csr_array((SA, S))
    # variables (g, h): P g - g <= 0 and P h - h - g <= -R, rows per (s, a)
    A_ub = sp.vstack([sp.hstack([Pm - E, zero]), sp.hstack([-E, Pm - E])]).tocsr()
    b_ub = np.concatenate([np.zeros(SA), -np.ldexp(mdp.R.ravel(), -e)])
    c = np.concatenate([np.full(S, 1.0 / S), np.zeros(S)])
    if mdp.action_mask is not None:  # constraints for the feasible pairs only
        rows = np.flatnonzero(np.tile(mdp.action_mask.ravel(), 2))
        A_ub, b_ub = A_ub[rows], b_ub[rows]
    lp = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=(None, None), method="highs")
    if lp.status != 0:
        raise RuntimeError(f"multichain_gain: HiGHS failed (status {lp.status}): {lp.message}")
    return np.ldexp(np.asarray(lp.x[:S], dtype=np.float64), e)


def _reach(P2, S, A, target: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Give every state outside ``target`` an action with positive probability of moving to an
    already-assigned state (layers of a backward BFS), so ``target`` is reached a.s."""
    sigma = sigma.copy()
    assigned = np.zeros(S, dtype=bool)
    assigned[target] = True
    dense = None if sp.issparse(P2) else np.asarray(P2)
    while not assigned.all():
        # probability mass each (s, a) sends into the assigned set
        into = (P2 @ assigned.astype(np.float64)) if dense is None else dense @ assigned.astype(np.float64)
        into = np.asarray(into).reshape(S, A)
        cand = (~assigned) & (into.max(axis=1) > 0)
        if not cand.any():
            lost = np.flatnonzero(~assigned)
            raise ValueError(
                f"mdp is not weakly communicating: states {lost[:10].tolist()}"
                f"{' ...' if lost.size > 10 else ''} cannot reach the optimal recurrent class "
                f"{target[:10].tolist()} under any policy; average_reward_lp needs a unichain or "
                f"weakly communicating mdp"
            )
        idx = np.flatnonzero(cand)
        sigma[idx] = into[idx].argmax(axis=1)
        assigned[idx] = True
    return sigma


def _hitting_times(P3: np.ndarray, target: int) -> np.ndarray:
    """Minimal expected hitting times of ``target`` from every state (``inf`` where unreachable).

    Stochastic-shortest-path policy iteration (Bertsekas & Tsitsiklis 1991): start from a proper
    policy (backward breadth-first search, :func:`_reach`), evaluate it exactly
    (``(I - P_sigma) h = 1`` off the target, ``h(target) = 0``), switch a state only where
    ``1 + P h`` is smaller by more than ``1e-12 (1 + max h)``; proper policies stay proper and the
    value decreases until no switch is left, at which point ``h`` solves the SSP optimality
    equation ``h(s) = 1 + min_a sum_x P(x | s, a) h(x)`` exactly (up to the linear solves)."""
    S, A, _ = P3.shape
    P2 = P3.reshape(S * A, S)
    reach = np.zeros(S, dtype=bool)
    reach[target] = True
    while True:  # states that reach the target under some policy
        into = (P2 @ reach.astype(np.float64)).reshape(S, A).max(axis=1) > 0
        new = reach | into
        if new.sum() == reach.sum():
            break
        reach = new
    h = np.full(S, np.inf)
    h[target] = 0.0
    idx = np.flatnonzero(reach)
    if idx.size == 1:
        return h
    # restrict to the reaching states: an action leaving them has infinite cost
    sub = P3[np.ix_(idx, np.arange(A), idx)]
    leaks = 1.0 - sub.sum(axis=2) > 1e-12
    t = int(np.flatnonzero(idx == target)[0])
    n = idx.size
    safe = np.where(leaks[:, :, None], 0.0, sub)  # a leaking action never starts the proper policy
    sigma = _reach(safe.reshape(n * A, n), n, A, np.array([t]), np.zeros(n, dtype=np.int64))
    others = np.flatnonzero(np.arange(n) != t)
    for _ in range(10 * n * A + 10):
        Ps = sub[np.arange(n), sigma][np.ix_(others, others)]
        hs = np.zeros(n)
        hs[others] = np.linalg.solve(np.eye(others.size) - Ps, np.ones(others.size))
        Q = 1.0 + sub @ hs
        Q[leaks] = np.inf
        cur = Q[np.arange(n), sigma]
        better = Q.min(axis=1) < cur - 1e-12 * (1.0 + hs.max())
        better[t] = False
        if not better.any():
            break
        sigma = np.where(better, Q.argmin(axis=1), sigma)
    h[idx] = hs
    return h


def diameter(mdp: TabularMDP) -> float:
    r"""The diameter :math:`D = \max_{s \ne s'} \min_\pi \mathbb E^\pi[\tau_{s'} \mid s_0 = s]`, exactly.

    Jaksch, Ortner & Auer (2010, JMLR 11, Definition 1): the largest over ordered pairs of states of
    the smallest expected number of steps to reach ``s'`` from ``s``. Each target ``s'`` is one
    stochastic shortest path problem with unit costs, solved exactly by policy iteration from a
    proper policy (:func:`_hitting_times`; ``S`` problems, each a few ``O(S^3)`` linear solves).
    ``D`` is finite iff the MDP is communicating (:func:`is_communicating`); otherwise ``inf``.
    With rewards in ``[0, 1]``, :math:`\mathrm{sp}(u^*) \le D` (Bartlett & Tewari 2009), and
    UCRL2's regret bound scales with ``D``.

    Parameters
    ----------
    mdp : TabularMDP
        Average-reward instance (sparse input is densified: meant for small and moderate ``S``).

    Returns
    -------
    float
        ``D`` (``0.0`` for a single state; ``inf`` when some state cannot reach another).

    Examples
    --------
    >>> import numpy as np, mdps
    >>> P = np.array([[[0.0, 1.0]], [[0.5, 0.5]]]); R = np.zeros((2, 1))
    >>> diameter(mdps.TabularMDP(P, R))   # 1 step from 0 to 1, 2 expected steps back
    2.0
    """
    _check_average(mdp)
    S, A = mdp.n_states, mdp.n_actions
    P2 = mdp.P_matrix()
    P3 = (P2.toarray() if sp.issparse(P2) else np.asarray(P2)).reshape(S, A, S)
    D = 0.0
    for j in range(S):
        D = max(D, float(_hitting_times(P3, j).max()))
    return D
