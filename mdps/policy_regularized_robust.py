r"""Policy-regularised d-rectangular TV-robust linear MDPs: exact ground truth for DR-RPO.

Gu, He, Liu & Xu (2025), *Policy Regularized Distributionally Robust Markov Decision Processes
with Linear Function Approximation*, arXiv:2510.14246. Only the abstract was read: the objective
below is the lab's reconstruction from the abstract and the same group's d-rectangular machinery
(Liu & Xu 2024, arXiv:2402.15399) **[U]**.

Model: a :class:`mdps.LinearMDP` with features :math:`\phi(s,a) \in \Delta_d`, nominal
:math:`P^0_h(\cdot|s,a) = \sum_i \phi_i(s,a)\mu^0_{h,i}` and rewards
:math:`r_h = \langle\phi, \theta_h\rangle`. The d-rectangular TV uncertainty set of radius
:math:`\rho \in [0, 1]` perturbs each factor inside its own ball
:math:`\{\mu_{h,i} \in \Delta_S : \tfrac12\|\mu_{h,i} - \mu^0_{h,i}\|_1 \le \rho\}`; a reference
policy :math:`\pi_{\mathrm{ref}}` (full support) and :math:`\beta_{\mathrm{reg}} > 0` regularise the
policy. The regularised robust value of a Markov policy :math:`\pi` is the backward recursion
(:math:`V_H = 0`, stages ``h = 0..H-1``)

.. math::

    Q^\pi_h(s,a) = \langle\phi(s,a), \theta_h + \nu_h\rangle, \qquad
    \nu_{h,i} = \min_{\mu: \mathrm{TV}(\mu, \mu^0_{h,i}) \le \rho} \langle\mu, V^\pi_{h+1}\rangle,

.. math::

    V^\pi_h(s) = \langle\pi_h(\cdot|s), Q^\pi_h(s,\cdot)\rangle
        - \beta_{\mathrm{reg}}\,\mathrm{KL}(\pi_h(\cdot|s)\,\|\,\pi_{\mathrm{ref},h}(\cdot|s)).

The adversary's problem separates over the factors and does not depend on ``(s, a)`` (the
d-rectangular set is a product over ``i``), so the recursion is exact; the inner minimum is
:func:`mdps.robust_inner` (``kind="tv"``; moving mass :math:`\rho` from the largest values to the
smallest, an exact sort-based computation independent of the dual used by DR-RPO). The optimal
value takes the maximum over :math:`q \in \Delta_A` of
:math:`\langle q, Q\rangle - \beta_{\mathrm{reg}}\mathrm{KL}(q\|\pi_{\mathrm{ref}})`, which by the
Gibbs variational principle is :math:`\beta_{\mathrm{reg}} \log \sum_a \pi_{\mathrm{ref}}(a|s)
e^{Q(s,a)/\beta_{\mathrm{reg}}}`, attained by :math:`q \propto \pi_{\mathrm{ref}} e^{Q/\beta_{\mathrm{reg}}}`
**[R]**. With one-hot features (``LinearMDP.from_tabular``) the set is the (s,a)-rectangular TV
ball of radius :math:`\rho`.

Invariants (tests): values non-increasing in :math:`\rho`; at :math:`\rho = 0` the regularised
nominal value; as :math:`\beta_{\mathrm{reg}} \to \infty` the optimal policy tends to
:math:`\pi_{\mathrm{ref}}`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mdps import validation as V
from mdps.robust import robust_inner

__all__ = ["PolicyRegularizedSolution", "policy_regularized_robust_evaluate", "policy_regularized_robust_dp",
           "policy_regularized_robust_values", "tv_worst_case",
           "check_tv_radius", "check_reference_policy"]


def check_tv_radius(rho, name: str = "rho") -> float:
    """A TV radius in ``[0, 1]`` (a TV distance never exceeds 1)."""
    return V.check_real(rho, name, low=0.0, high=1.0)


def check_reference_policy(pi_ref, lmdp, name: str = "pi_ref") -> np.ndarray:
    """``(H, S, A)`` reference policy with full support (``None``: uniform); stationary ``(S, A)``
    is broadcast over stages."""
    H, S, A = lmdp.horizon, lmdp.n_states, lmdp.n_actions
    if pi_ref is None:
        return np.full((H, S, A), 1.0 / A)
    p = V.as_float_array(pi_ref, name, ndim=(2, 3))
    if p.shape not in ((S, A), (H, S, A)):
        raise ValueError(f"{name} must have shape (S, A) = ({S}, {A}) or (H, S, A) = ({H}, {S}, {A}), got {p.shape}")
    V.check_rows_stochastic(p, name)
    if (p <= 0.0).any():
        idx = tuple(int(i) for i in np.argwhere(p <= 0.0)[0])
        raise ValueError(f"{name}[{', '.join(map(str, idx))}] is {p[idx]:.3g}: the reference policy must have full "
                         "support (its KL penalty is infinite elsewhere)")
    return np.ascontiguousarray(np.broadcast_to(p, (H, S, A)))


@dataclass(frozen=True)
class PolicyRegularizedSolution:
    """Exact policy-regularised TV-robust values: ``V (H, S)``, ``Q (H, S, A)``, ``policy (H, S, A)``
    (the evaluated policy, or the optimal Gibbs policy), ``nu (H, d)`` the factors' worst cases."""

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    nu: np.ndarray
    rho: float
    beta_reg: float

    def value(self, init) -> float:
        """``init . V[0]`` for an initial law ``init`` (S,)."""
        return float(np.asarray(init, dtype=float) @ self.V[0])


def _kl_rows(p, q):
    pos = p > 0
    return np.where(pos, p * (np.log(np.where(pos, p, 1.0)) - np.log(q)), 0.0).sum(axis=-1)


def _backward(lmdp, rho, beta_reg, pi_ref, pi=None) -> PolicyRegularizedSolution:
    phi = V.check_simplex_features(lmdp.phi, "lmdp.phi")
    H, (S, A, d) = lmdp.horizon, phi.shape
    mus = np.broadcast_to(lmdp.mu, (H, d, S))
    thetas = np.broadcast_to(lmdp.theta, (H, d))
    Vs, Qs, pols, nus = np.zeros((H, S)), np.zeros((H, S, A)), np.zeros((H, S, A)), np.zeros((H, d))
    v_next = np.zeros(S)
    for h in range(H - 1, -1, -1):
        nu = np.array([robust_inner(mus[h, i], v_next, rho, kind="tv") for i in range(d)])
        Q = phi @ (thetas[h] + nu)
        if pi is None:
            z = np.log(pi_ref[h]) + Q / beta_reg
            m = z.max(axis=1, keepdims=True)
            w = np.exp(z - m)
            pol = w / w.sum(axis=1, keepdims=True)
            Vs[h] = beta_reg * (m[:, 0] + np.log(w.sum(axis=1)) + 0.0)
        else:
            pol = pi[h]
            Vs[h] = (pol * Q).sum(axis=1) - beta_reg * _kl_rows(pol, pi_ref[h])
        Qs[h], pols[h], nus[h] = Q, pol, nu
        v_next = Vs[h]
    for a in (Vs, Qs, pols, nus):
        a.setflags(write=False)
    return PolicyRegularizedSolution(V=Vs, Q=Qs, policy=pols, nu=nus, rho=rho, beta_reg=beta_reg)


def _common(lmdp, rho, beta_reg, pi_ref):
    from mdps.linear_mdp import LinearMDP

    if not isinstance(lmdp, LinearMDP):
        raise TypeError(f"lmdp must be an mdps.LinearMDP, got {type(lmdp).__name__}")
    return (check_tv_radius(rho), V.check_real(beta_reg, "beta_reg", low=0.0, low_open=True),
            check_reference_policy(pi_ref, lmdp))


def policy_regularized_robust_evaluate(lmdp, policy, *, rho, beta_reg, pi_ref=None) -> PolicyRegularizedSolution:
    r"""The exact regularised robust value :math:`V^\pi` (module docstring) of a Markov policy
    ``policy`` (stochastic ``(H, S, A)`` or ``(S, A)``, or deterministic ``(H, S)``/``(S,)`` int).

    Examples
    --------
    >>> import mdps, numpy as np
    >>> lin = mdps.LinearMDP.from_tabular(mdps.river_swim(3, horizon=3))
    >>> a = policy_regularized_robust_evaluate(lin, np.full((3, 2), 0.5), rho=0.0, beta_reg=1.0).value(lin.rho)
    >>> b = policy_regularized_robust_evaluate(lin, np.full((3, 2), 0.5), rho=0.3, beta_reg=1.0).value(lin.rho)
    >>> bool(b <= a)
    True
    """
    rho, beta_reg, ref = _common(lmdp, rho, beta_reg, pi_ref)
    H = lmdp.horizon
    pi = V.check_policy(policy, lmdp.n_states, lmdp.n_actions, horizon=H, name="policy")
    pi = np.broadcast_to(V.as_stochastic_policy(pi, lmdp.n_actions), (H, lmdp.n_states, lmdp.n_actions))
    return _backward(lmdp, rho, beta_reg, ref, pi=pi)


def policy_regularized_robust_dp(lmdp, *, rho, beta_reg, pi_ref=None) -> PolicyRegularizedSolution:
    r"""The exact optimal regularised robust value :math:`V^*` and its Gibbs policy
    :math:`\pi^*_h(\cdot|s) \propto \pi_{\mathrm{ref},h}(\cdot|s)\, e^{Q^*_h(s,\cdot)/\beta_{\mathrm{reg}}}`."""
    rho, beta_reg, ref = _common(lmdp, rho, beta_reg, pi_ref)
    return _backward(lmdp, rho, beta_reg, ref)


def tv_worst_case(p0, v, rho) -> np.ndarray:
    r"""Vectorised exact TV worst case :math:`\min\{\langle\mu, v_k\rangle : \mu\in\Delta_S,
    \tfrac12\|\mu - p_{0,i}\|_1 \le \rho\}` for every row ``p0[i]`` (``(d, S)``) and every value
    vector ``v[k]`` (``(K, S)``): ``(K, d)``.

    The primal greedy: take mass :math:`\rho` (or all the mass off the minimum state, if less)
    from the states of largest value downwards and put it on a state of smallest value. Agrees
    with :func:`mdps.robust_inner` (``kind="tv"``), a test checks it; used to evaluate many
    policies at once.
    """
    p0 = np.asarray(p0, dtype=float)
    v = np.atleast_2d(np.asarray(v, dtype=float))
    order = np.argsort(-v, axis=1, kind="stable")  # (K, S), descending values
    vs = np.take_along_axis(v, order, axis=1)  # (K, S)
    ps = p0[:, order].transpose(1, 0, 2)  # (K, d, S) masses in that order
    before = np.cumsum(ps, axis=2) - ps
    moved = np.clip(rho - before, 0.0, ps)  # mass taken from each state, top first
    vmin = vs[:, -1]
    return np.einsum("kds,ks->kd", ps - moved, vs) + moved.sum(axis=2) * vmin[:, None]


def policy_regularized_robust_values(lmdp, policies, *, rho, beta_reg, pi_ref=None) -> np.ndarray:
    r"""The exact regularised robust values ``V^{pi_k}_0 (K, S)`` of many Markov policies
    ``policies (K, H, S, A)`` at once (:func:`tv_worst_case`; the same recursion as
    :func:`policy_regularized_robust_evaluate`)."""
    rho, beta_reg, ref = _common(lmdp, rho, beta_reg, pi_ref)
    phi = V.check_simplex_features(lmdp.phi, "lmdp.phi")
    H, (S, A, d) = lmdp.horizon, phi.shape
    pols = V.as_float_array(policies, "policies", ndim=4)
    if pols.shape[1:] != (H, S, A):
        raise ValueError(f"policies must have shape (K, H, S, A) = (K, {H}, {S}, {A}), got {pols.shape}")
    V.check_rows_stochastic(pols, "policies")
    mus = np.broadcast_to(lmdp.mu, (H, d, S))
    thetas = np.broadcast_to(lmdp.theta, (H, d))
    v_next = np.zeros((pols.shape[0], S))
    for h in range(H - 1, -1, -1):
        nu = tv_worst_case(mus[h], v_next, rho)  # (K, d)
        Q = np.einsum("sad,kd->ksa", phi, thetas[h][None] + nu)
        pol = pols[:, h]
        v_next = (pol * Q).sum(axis=2) - beta_reg * _kl_rows(pol, ref[h][None])
    return v_next
