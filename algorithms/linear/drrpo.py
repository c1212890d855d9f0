r"""DR-RPO: policy-regularised distributionally robust policy optimisation on d-rectangular
linear MDPs (reconstruction **[U]**).

Paper: J. Gu, Y. He, Z. Liu, P. Xu, *Policy Regularized Distributionally Robust Markov Decision
Processes with Linear Function Approximation*, arXiv:2510.14246 (2025). Only the abstract was
read; the algorithm below is the lab's reconstruction from the abstract and the same group's
d-rectangular machinery (Liu & Xu 2024, arXiv:2402.15399; R2PVI, Tang, Liu & Xu 2025,
arXiv:2411.18612). Every formula here is **[U]** unless marked otherwise. Objective and exact
ground truth: :mod:`mdps.policy_regularized_robust`.

The agent interacts with the nominal linear MDP only. Per episode ``k = 1..K``:

1. play :math:`\pi_k` in the nominal environment, append the trajectory to the data;
2. optimistic robust regularised evaluation of :math:`\pi_k`, backward ``h = H-1..0``
   (0-based stages):

   .. math::

       \Lambda_h = \lambda I + \sum_\tau \phi^\tau_h \phi^{\tau\top}_h, \qquad
       \hat W_h = \Lambda_h^{-1} \sum_\tau \phi^\tau_h e_{s^\tau_{h+1}}^\top \quad (d \times S),

   so that :math:`[\hat W_h g]_i` is coordinate ``i`` of the ridge regression of
   :math:`g(s^\tau_{h+1})` on :math:`\phi^\tau_h`, for any ``g``; per latent coordinate, the TV dual

   .. math::

       \nu_{h,i} = \max_{\alpha} \big\{ [\hat W_h \min(V_{h+1}, \alpha)]_i
                   - \rho\,(\alpha - \min_s V_{h+1}(s)) \big\}

   (:func:`tv_dual`; the maximum over :math:`\alpha \in [\min V, \max V]`, the ``[0, H]`` of the
   reconstruction when :math:`V \in [0, H]`, of a piecewise-linear function, is attained at a breakpoint
   :math:`\alpha = V_{h+1}(s)` and is computed exactly by enumerating them), the d-rectangular bonus
   :math:`\Gamma_h(s,a) = \beta \sum_i \phi_i(s,a)\sqrt{(\Lambda_h^{-1})_{ii}}` with
   :math:`\beta = c_\beta \sqrt d\, H` (``bonus_scale`` :math:`c_\beta`; the reconstruction's
   :math:`\tilde O(\sqrt d H)` without its logarithm), and

   .. math::

       Q_h = \min\{\langle\phi, \theta_h + \nu_h\rangle + \Gamma_h,\ H - h\}, \qquad
       V_h(s) = \langle\pi_{k,h}(\cdot|s), Q_h(s,\cdot)\rangle
                - \beta_{\mathrm{reg}}\mathrm{KL}(\pi_{k,h}(\cdot|s)\,\|\,\pi_{\mathrm{ref},h}(\cdot|s));

3. the mirror-descent (regularised NPG) step, in closed form (:func:`mirror_step`):

   .. math::

       \pi_{k+1,h}(a|s) \propto \pi_{k,h}(a|s)^{1/(1+\eta\beta_{\mathrm{reg}})}\,
       \pi_{\mathrm{ref},h}(a|s)^{\eta\beta_{\mathrm{reg}}/(1+\eta\beta_{\mathrm{reg}})}\,
       \exp\!\big(\eta Q_h(s,a)/(1+\eta\beta_{\mathrm{reg}})\big).

   **[R]** It is the exact maximiser over :math:`q \in \Delta_A` of
   :math:`\eta\langle q, Q\rangle - \eta\beta_{\mathrm{reg}}\mathrm{KL}(q\|\pi_{\mathrm{ref}})
   - \mathrm{KL}(q\|\pi_k)`: the objective is
   :math:`-(1+\eta\beta_{\mathrm{reg}})\,\mathrm{KL}(q\|g) + \mathrm{const}` with
   :math:`\log g = (\eta Q + \eta\beta_{\mathrm{reg}}\log\pi_{\mathrm{ref}} + \log\pi_k)/(1+\eta\beta_{\mathrm{reg}})`
   up to normalisation (collect the :math:`q\log q` terms: coefficient
   :math:`-(1+\eta\beta_{\mathrm{reg}})`), so the maximiser is the normalised ``g``.

Step size tuned to ``K`` (:func:`dr_rpo_eta`): :math:`\eta = c_\eta\sqrt{\log A / (K H^2)}`, the
standard choice of optimistic policy optimisation **[U]**. Expected guarantee **[U]** (the abstract
says "sublinear"; the reconstruction expects a leading :math:`\sqrt K`): regret
:math:`\mathrm{Reg}(K) = \sum_k V^*_0(s_0) - V^{\pi_k}_0(s_0)` with both values the exact
regularised robust ones, growing like :math:`\sqrt K`.

Decisions: the module is ``drrpo`` (not ``dr_rpo``) so that the package attribute
``algorithms.linear.dr_rpo`` stays the function once the module is imported;
:math:`\pi_1 = \pi_{\mathrm{ref}}` (uniform by default); the data of episode ``k`` are used
in its own evaluation (step 2 follows step 1); ``values`` (the exact regularised robust value of
each played policy) are computed with :func:`mdps.policy_regularized_robust_values` unless
``exact_values=False`` (a check then recomputes them from ``policies``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mdps import validation as V
from mdps.linear_mdp import LinearMDP
from mdps.policy_regularized_robust import (check_reference_policy, check_tv_radius,
                                            policy_regularized_robust_dp, policy_regularized_robust_values)

__all__ = ["mirror_step", "tv_dual", "tv_regression", "robust_regularized_evaluation", "dr_rpo", "dr_rpo_eta",
           "DRRPORun", "DRRPOSettings"]


# ------------------------------------------------------------------------------ mirror step
def mirror_step(pi, pi_ref, Q, *, eta, beta_reg):
    r"""The closed-form regularised mirror-descent step (module docstring, step 3), row-wise over
    the last axis: ``pi``, ``pi_ref``, ``Q`` of the same shape ``(..., A)``; ``pi_ref`` with full
    support. Computed in log space; returns a new array of rows on the simplex."""
    e = V.check_real(eta, "eta", low=0.0, low_open=True)
    b = V.check_real(beta_reg, "beta_reg", low=0.0)
    pi = V.as_float_array(pi, "pi")
    ref = V.as_float_array(pi_ref, "pi_ref")
    Q = V.as_float_array(Q, "Q")
    if not (pi.shape == ref.shape == Q.shape) or pi.ndim < 1:
        raise ValueError(f"pi, pi_ref and Q must have the same shape (..., A), got {pi.shape}, {ref.shape}, {Q.shape}")
    V.check_rows_stochastic(pi, "pi")
    V.check_rows_stochastic(ref, "pi_ref")
    if (ref <= 0.0).any():
        idx = tuple(int(i) for i in np.argwhere(ref <= 0.0)[0])
        raise ValueError(f"pi_ref[{', '.join(map(str, idx))}] is {ref[idx]:.3g}: the reference policy must have "
                         "full support")
    return _mirror_step(pi, ref, Q, e, b)


def _mirror_step(pi, ref, Q, eta, beta_reg):
    c = 1.0 + eta * beta_reg
    with np.errstate(divide="ignore"):
        z = (np.log(pi) + eta * beta_reg * np.log(ref) + eta * Q) / c
    z = z - z.max(axis=-1, keepdims=True)
    w = np.exp(z)
    return w / w.sum(axis=-1, keepdims=True)


# ------------------------------------------------------------------------------ TV dual
def tv_dual(W, v, rho):
    r"""The per-coordinate TV dual :math:`\nu_i = \max_\alpha \{[W \min(v, \alpha)]_i - \rho(\alpha -
    \min_s v(s))\}` over :math:`\alpha \in [\min v, \max v]`, exactly (at the breakpoints
    :math:`\alpha = v(s)`).

    ``W`` is ``(d, S)`` (or ``(S,)``): rows of signed weights, e.g. the ridge-regression weights
    :math:`\Lambda^{-1}\sum_\tau\phi^\tau e_{s'^\tau}^\top`. When a row is a distribution
    :math:`\mu^0`, the value is :math:`\min\{\langle\mu, v\rangle : \mu\in\Delta_S,
    \tfrac12\|\mu-\mu^0\|_1 \le \rho\}` (the TV dual of Liu & Xu 2024 **[R]**: for
    :math:`\alpha \le \max v` the objective's right derivative is :math:`P_{\mu^0}(v > \alpha) - \rho`,
    so the maximum sits at the upper :math:`\rho`-quantile of ``v``, where the value is the
    mean of ``v`` after the top mass :math:`\rho` is moved to the minimum state).
    """
    W = V.as_float_array(W, "W", ndim=(1, 2))
    v = V.as_float_array(v, "v", ndim=1)
    if W.shape[-1] != v.shape[0]:
        raise ValueError(f"W must have last dimension S = {v.shape[0]} (the length of v), got shape {W.shape}")
    r = check_tv_radius(rho)
    out = _tv_dual(np.atleast_2d(W), v, r)
    return float(out[0]) if W.ndim == 1 else out


def _tv_dual(W, v, rho):
    C = np.minimum(v[None, :], v[:, None])  # C[j, s] = min(v(s), alpha_j), alpha_j = v(j)
    vals = W @ C.T - rho * (v - v.min())[None, :]
    return vals.max(axis=1)


def tv_regression(phis, next_states, v, rho, *, n_states=None, lam: float = 1.0):
    r"""The robust regression step for one stage: the ridge weights :math:`\hat W = \Lambda^{-1}
    \sum_\tau \phi^\tau e_{s'^\tau}^\top` (:math:`\Lambda = \lambda I + \sum_\tau
    \phi^\tau\phi^{\tau\top}`) of the samples ``phis (N, d)``, ``next_states (N,)``, then
    :func:`tv_dual` of the values ``v (S,)``: ``(d,)``. Coordinate ``i`` is
    :math:`\max_\alpha [\text{ridge fit of } \min(v(s'^\tau), \alpha)]_i - \rho(\alpha - \min v)`.
    """
    phis = V.as_float_array(phis, "phis", ndim=2)
    v = V.as_float_array(v, "v", ndim=1)
    S = v.shape[0] if n_states is None else V.check_int(n_states, "n_states", low=1)
    if S != v.shape[0]:
        raise ValueError(f"v must have length n_states = {S}, got {v.shape[0]}")
    ns = np.asarray(next_states)
    if ns.shape != (phis.shape[0],) or not np.issubdtype(ns.dtype, np.integer) or (ns < 0).any() or (ns >= S).any():
        raise ValueError(f"next_states must be {phis.shape[0]} integers in [0, {S}), got {next_states!r}")
    lam_ = V.check_real(lam, "lam", low=0.0, low_open=True)
    r = check_tv_radius(rho)
    d = phis.shape[1]
    Lam = lam_ * np.eye(d) + phis.T @ phis
    M = np.zeros((d, S))
    np.add.at(M.T, ns, phis)
    return _tv_dual(np.linalg.solve(Lam, M), v, r)


# ------------------------------------------------------------------------------ evaluation
def robust_regularized_evaluation(phi, theta, W, bonus, policy, pi_ref, *, rho, beta_reg):
    r"""Step 2 of DR-RPO for given factor estimates: backward over ``h`` with ``W[h]`` the
    ``(d, S)`` regression weights (the exact factors :math:`\mu^0_h` in the tabular reduction),
    ``bonus[h]`` the ``(S, A)`` bonus :math:`\Gamma_h`, the policy ``(H, S, A)`` and the
    reference ``(H, S, A)``. Returns ``(V (H, S), Q (H, S, A), nu (H, d))``.

    With the exact factors and no bonus this is the exact regularised robust evaluation (the clip
    at ``H - h`` never binds: a test compares with :func:`mdps.policy_regularized_robust_evaluate`).
    """
    phi = V.check_simplex_features(phi, "phi")
    S, A, d = phi.shape
    theta = V.as_float_array(theta, "theta", ndim=2)
    H = theta.shape[0]
    W = V.as_float_array(W, "W", ndim=3)
    bonus = V.as_float_array(bonus, "bonus", ndim=3)
    pol = V.as_float_array(policy, "policy", ndim=3)
    ref = V.as_float_array(pi_ref, "pi_ref", ndim=3)
    for name, arr, shape in (("theta", theta, (H, d)), ("W", W, (H, d, S)), ("bonus", bonus, (H, S, A)),
                             ("policy", pol, (H, S, A)), ("pi_ref", ref, (H, S, A))):
        if arr.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    V.check_rows_stochastic(pol, "policy")
    V.check_rows_stochastic(ref, "pi_ref")
    if (ref <= 0).any():
        raise ValueError("pi_ref must have full support (every entry > 0)")
    return _evaluate(phi, theta, W, bonus, pol, ref, check_tv_radius(rho),
                     V.check_real(beta_reg, "beta_reg", low=0.0))


def _kl_rows(p, q):
    pos = p > 0
    return np.where(pos, p * (np.log(np.where(pos, p, 1.0)) - np.log(q)), 0.0).sum(axis=-1)


def _evaluate(phi, theta, W, bonus, pol, ref, rho, beta_reg):
    H, S, A = pol.shape
    d = phi.shape[2]
    Vs, Qs, nus = np.zeros((H, S)), np.zeros((H, S, A)), np.zeros((H, d))
    v_next = np.zeros(S)
    for h in range(H - 1, -1, -1):
        nu = _tv_dual(W[h], v_next, rho)
        Q = np.minimum(phi @ (theta[h] + nu) + bonus[h], float(H - h))
        Vs[h] = (pol[h] * Q).sum(axis=1) - beta_reg * _kl_rows(pol[h], ref[h])
        Qs[h], nus[h] = Q, nu
        v_next = Vs[h]
    return Vs, Qs, nus


# ------------------------------------------------------------------------------ the algorithm
def dr_rpo_eta(n_episodes, horizon: int, n_actions: int, scale: float = 1.0):
    r"""The step size tuned to ``K``: :math:`\eta = c_\eta\sqrt{\log A / (K H^2)}` (``A = 1``: 1/sqrt(K H^2))."""
    K = V.check_int(n_episodes, "n_episodes", low=1)
    H = V.check_int(horizon, "horizon", low=1)
    A = V.check_int(n_actions, "n_actions", low=1)
    c = V.check_real(scale, "scale", low=0.0, low_open=True)
    return c * math.sqrt(max(math.log(A), 1.0 if A == 1 else 0.0) / (K * H * H))


@dataclass(frozen=True)
class DRRPOSettings:
    """The settings a run used."""

    n_episodes: int
    rho: float
    beta_reg: float
    eta: float
    bonus_scale: float
    lam: float


@dataclass(frozen=True, eq=False)
class DRRPORun:
    """One run: ``policies[k]`` ``(H, S, A)`` the policy played in episode ``k``; ``values[k]`` its
    exact regularised robust value (``None`` with ``exact_values=False``); ``v_star`` the optimum;
    ``regret = v_star - values`` per episode (cumulative: ``.cumsum()``); ``final_policy`` the
    policy after the last update."""

    policies: np.ndarray
    final_policy: np.ndarray
    values: np.ndarray | None
    v_star: float
    regret: np.ndarray | None
    settings: DRRPOSettings


def dr_rpo(lmdp, *, n_episodes, rho, beta_reg, eta=None, pi_ref=None, bonus_scale: float = 1.0, lam: float = 1.0,
           exact_values: bool = True, rng=0) -> DRRPORun:
    r"""DR-RPO for ``n_episodes`` episodes on a :class:`mdps.LinearMDP` with simplex features.

    Parameters
    ----------
    lmdp : mdps.LinearMDP
        Features on the simplex (``ValueError`` naming the entry otherwise).
    n_episodes : int >= 1
    rho : float in [0, 1]
        TV radius of each factor's ball.
    beta_reg : float > 0
        Policy regularisation.
    eta : float > 0, optional
        Step size (default :func:`dr_rpo_eta` ``(K, H, A)``).
    pi_ref : (S, A) or (H, S, A), optional
        Reference policy with full support (default uniform); also the first policy played.
    bonus_scale : float >= 0
        :math:`c_\beta` in :math:`\beta = c_\beta\sqrt d H`.
    lam : float > 0
        Ridge :math:`\lambda`.
    exact_values : bool
        Compute each played policy's exact value (and the regret).
    rng : int, SeedSequence or Generator

    Examples
    --------
    >>> import mdps
    >>> lin = mdps.LinearMDP.from_tabular(mdps.river_swim(2, horizon=2))
    >>> run = dr_rpo(lin, n_episodes=5, rho=0.1, beta_reg=0.1, rng=0)
    >>> run.policies.shape, bool((run.regret >= -1e-9).all())
    ((5, 2, 2, 2), True)
    """
    if not isinstance(lmdp, LinearMDP):
        raise TypeError(f"lmdp must be an mdps.LinearMDP, got {type(lmdp).__name__}")
    phi = V.check_simplex_features(lmdp.phi, "lmdp.phi")
    K = V.check_int(n_episodes, "n_episodes", low=1)
    r = check_tv_radius(rho)
    b = V.check_real(beta_reg, "beta_reg", low=0.0, low_open=True)
    H, S, A, d = lmdp.horizon, lmdp.n_states, lmdp.n_actions, lmdp.d
    e = dr_rpo_eta(K, H, A) if eta is None else V.check_real(eta, "eta", low=0.0, low_open=True)
    c = V.check_real(bonus_scale, "bonus_scale", low=0.0)
    lam_ = V.check_real(lam, "lam", low=0.0, low_open=True)
    if not isinstance(exact_values, (bool, np.bool_)):
        raise TypeError(f"exact_values must be a bool, got {exact_values!r}")
    ref = check_reference_policy(pi_ref, lmdp)
    gen = V.check_rng(rng)
    theta = np.ascontiguousarray(np.broadcast_to(lmdp.theta, (H, d)))
    P = np.asarray(lmdp.P)
    cdf_P = np.cumsum(P, axis=-1)
    cdf_rho = np.cumsum(np.asarray(lmdp.rho))
    beta = c * math.sqrt(d) * H
    Lam = np.broadcast_to(lam_ * np.eye(d), (H, d, d)).copy()
    M = np.zeros((H, d, S))
    pi = ref.copy()
    policies = np.empty((K, H, S, A))
    u = gen.random((K, 2 * H + 1))
    for k in range(K):
        policies[k] = pi
        s = min(int(np.searchsorted(cdf_rho, u[k, 0], side="right")), S - 1)
        for h in range(H):
            a = min(int(np.searchsorted(np.cumsum(pi[h, s]), u[k, 2 * h + 1], side="right")), A - 1)
            s2 = min(int(np.searchsorted(cdf_P[h, s, a], u[k, 2 * h + 2], side="right")), S - 1)
            f = phi[s, a]
            Lam[h] += np.outer(f, f)
            M[h, :, s2] += f
            s = s2
        Linv = np.linalg.inv(Lam)
        W = Linv @ M
        bonus = beta * np.einsum("sad,hd->hsa", phi, np.sqrt(np.maximum(np.diagonal(Linv, axis1=1, axis2=2), 0.0)))
        _, Q, _ = _evaluate(phi, theta, W, bonus, pi, ref, r, b)
        pi = _mirror_step(pi, ref, Q, e, b)
    v_star = policy_regularized_robust_dp(lmdp, rho=r, beta_reg=b, pi_ref=ref).value(lmdp.rho)
    values = regret = None
    if exact_values:
        values = policy_regularized_robust_values(lmdp, policies, rho=r, beta_reg=b, pi_ref=ref) @ np.asarray(lmdp.rho)
        regret = v_star - values
    settings = DRRPOSettings(n_episodes=K, rho=r, beta_reg=b, eta=e, bonus_scale=c, lam=lam_)
    return DRRPORun(policies=policies, final_policy=pi, values=values, v_star=v_star, regret=regret,
                    settings=settings)
