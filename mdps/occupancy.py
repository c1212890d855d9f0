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

import numpy as np
import scipy.sparse as sp

from mdps import _chains
from mdps.tabular import TabularMDP
from mdps.validation import (
    as_float_array,
    as_stochastic_policy,
    check_mdp,
    check_nonnegative,
    check_policy,
    check_real,
    check_stochastic_matrix,
)

__all__ = ["occupancy_measure", "stationary_distribution", "policy_from_occupancy",
           "recurrent_classes", "trajectory_kl"]


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
    return _chains.recurrent_classes(check_stochastic_matrix(P_pi, "P_pi"))


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
    M = check_stochastic_matrix(P_pi, "P_pi")
    classes = _chains.recurrent_classes(M)
    if len(classes) > 1:
        raise ValueError(
            f"P_pi has {len(classes)} recurrent classes ({_chains.describe_classes(classes)}); "
            f"the stationary distribution is unique only with exactly one"
        )
    return _chains.stationary_on_class(M, classes[0])


def _unichain_stationary(P_pi, name: str) -> np.ndarray:
    classes = _chains.recurrent_classes(P_pi)
    if len(classes) > 1:
        raise ValueError(
            f"{name} is not unichain: its chain P_pi has {len(classes)} recurrent classes "
            f"({_chains.describe_classes(classes)}); the average-reward occupancy and gain/bias "
            f"need exactly one"
        )
    return _chains.stationary_on_class(P_pi, classes[0])


def occupancy_measure(mdp: TabularMDP, pi) -> np.ndarray:
    r"""The occupancy measure of policy ``pi`` under the criterion of ``mdp``.

    Parameters
    ----------
    mdp : TabularMDP
        Any criterion, dense or sparse; the initial distribution is ``mdp.rho``.
    pi : array_like
        Stochastic ``(S, A)`` or deterministic int ``(S,)``; for a finite-horizon ``mdp`` also
        ``(H, S, A)`` or int ``(H, S)`` (a stationary policy is used at every stage). A policy
        that uses an infeasible action (``mdp.feasible``) is refused.

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
    check_mdp(mdp)
    S, A = mdp.n_states, mdp.n_actions
    crit = mdp.criterion
    if crit == "finite_horizon":
        H = mdp.horizon
        pol = as_stochastic_policy(check_policy(pi, S, A, horizon=H, feasible=mdp.action_mask), A)
        if pol.ndim == 2:
            pol = np.broadcast_to(pol, (H, S, A))
        q = np.empty((H, S, A))
        q[0] = mdp.rho[:, None] * pol[0]
        for h in range(H - 1):
            P2 = mdp.P_matrix(h)
            nxt = P2.T @ q[h].ravel()
            q[h + 1] = np.asarray(nxt).ravel()[:, None] * pol[h + 1]
        return q
    pol = as_stochastic_policy(check_policy(pi, S, A, feasible=mdp.action_mask), A)
    P_pi = _chains.policy_kernel(mdp.P_matrix(), pol, S, A)
    if crit == "discounted":
        g = mdp.gamma
        if sp.issparse(P_pi):
            M = sp.identity(S, format="csr") - g * P_pi.T
        else:
            M = np.eye(S) - g * P_pi.T
        dS = (1.0 - g) * _chains.linear_solve(M, mdp.rho)
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
    atol = check_real(atol, "atol", low=0.0)
    mass = arr.sum(axis=-1, keepdims=True)
    empty = mass <= atol
    A = arr.shape[-1]
    safe = np.where(empty, 1.0, mass)
    return np.where(empty, 1.0 / A, arr / safe)


def trajectory_kl(mdp: TabularMDP, pi, ref) -> float:
    r"""Exact KL divergence between the trajectory laws of two Markov policies (finite horizon).

    .. math::

        \mathrm{KL}(\mathbb P^\pi \,\|\, \mathbb P^{\pi'})
        = \sum_{h=0}^{H-1} \mathbb E_{s \sim d^\pi_h}\,
          \mathrm{KL}\big(\pi_h(\cdot \mid s) \,\|\, \pi'_h(\cdot \mid s)\big),
        \qquad d^\pi_h(s) = \Pr{}^\pi(s_h = s).

    Derivation (exact). A trajectory :math:`\tau = (s_0, a_0, \dots, s_{H-1}, a_{H-1}, s_H)`
    has law :math:`\mathbb P^\pi(\tau) = \rho(s_0)\prod_h \pi_h(a_h|s_h) P_h(s_{h+1}|s_h,a_h)`
    under ``pi``, and the same with :math:`\pi'` in place of :math:`\pi`. The initial law and
    the transitions are common to both, so they cancel in the likelihood ratio:
    :math:`\log \frac{d\mathbb P^\pi}{d\mathbb P^{\pi'}}(\tau) = \sum_h \log
    \frac{\pi_h(a_h|s_h)}{\pi'_h(a_h|s_h)}`. Taking the expectation under :math:`\mathbb P^\pi`
    term by term and conditioning on :math:`s_h` (tower rule; :math:`a_h \sim \pi_h(\cdot|s_h)`
    given :math:`s_h`) gives the display. The state laws :math:`d^\pi_h` are the marginals of
    the forward occupancy (:func:`occupancy_measure`). States that ``pi`` never reaches carry no
    weight, whatever ``ref`` does there.

    Parameters
    ----------
    mdp : TabularMDP
        Finite-horizon instance (initial law ``mdp.rho``).
    pi, ref : array_like
        Markov policies in any form :func:`evaluate_finite_horizon` accepts (stochastic
        ``(H, S, A)`` / ``(S, A)``, deterministic int ``(H, S)`` / ``(S,)``).

    Returns
    -------
    float
        ``>= 0``; ``inf`` when ``ref`` gives probability 0 to an action that ``pi`` plays with
        positive probability in a state it reaches with positive probability.

    Examples
    --------
    >>> import numpy as np, mdps
    >>> m = mdps.chain(2, horizon=2)
    >>> round(trajectory_kl(m, np.zeros(2, dtype=int), np.full((2, 2), 0.5)), 6)  # 2 log 2: one fair coin per stage
    1.386294
    """
    check_mdp(mdp, criterion="finite_horizon")
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    p = as_stochastic_policy(check_policy(pi, S, A, horizon=H, name="pi", feasible=mdp.action_mask), A)
    r = as_stochastic_policy(check_policy(ref, S, A, horizon=H, name="ref", feasible=mdp.action_mask), A)
    p = np.broadcast_to(p, (H, S, A))
    r = np.broadcast_to(r, (H, S, A))
    d = occupancy_measure(mdp, p).sum(axis=-1)  # (H, S): d_h(s)
    pos = p > 0
    reached = d[:, :, None] > 0
    if np.any(pos & reached & (r <= 0)):
        return float("inf")
    with np.errstate(divide="ignore"):
        terms = np.where(pos, p * (np.log(np.where(pos, p, 1.0)) - np.log(np.where(pos & (r > 0), r, 1.0))), 0.0)
    per_state = terms.sum(axis=-1)
    return float(np.sum(np.where(d > 0, d * per_state, 0.0)))
