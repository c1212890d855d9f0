r"""Robust regularised MDPs (RRMDPs): f-divergence-penalised inner problems and the exact
d-rectangular robust-regularised dynamic programme on linear MDPs with simplex features.

Tang, Liu & Xu (2025), *Robust Offline Reinforcement Learning with Linearly Structured
f-Divergence Regularization*, ICML 2025, arXiv:2411.18612. Instead of a hard uncertainty set the
adversary pays a penalty :math:`\lambda D(\mu \,\|\, \mu^0)` for moving a law away from the
nominal :math:`\mu^0`.

Penalised inner problems
------------------------
For a nominal law :math:`p_0 \in \Delta_S`, values :math:`v \in \mathbb R^S` and
:math:`\lambda > 0`,

.. math::

    \sigma_\lambda(v) = \inf_{p \in \Delta_S} \langle p, v\rangle + \lambda D(p \,\|\, p_0),

with the closed forms / one-dimensional duals ([R], derived here; TV and KL as in the paper):

* **TV**, :math:`D = \tfrac12 \|p - p_0\|_1`: :math:`\sigma = \langle p_0, \min(v, v_{\min} + \lambda)\rangle`
  with :math:`v_{\min} = \min_s v(s)` over *all* states (TV lets mass go anywhere). Moving mass
  :math:`\epsilon` from state ``s`` to the minimiser changes the objective by
  :math:`\epsilon(v_{\min} - v(s) + \lambda)`, which helps exactly when :math:`v(s) > v_{\min} + \lambda`;
  a minimiser moves all such mass (``penalized_argmin``).
* **KL**, :math:`D = \mathrm{KL}(p \,\|\, p_0)` (so :math:`p \ll p_0`): the Gibbs variational
  principle gives :math:`\sigma = -\lambda \log \langle p_0, e^{-v/\lambda}\rangle`, attained by
  :math:`p \propto p_0 e^{-v/\lambda}`; evaluated as
  :math:`m - \lambda \log \langle p_0, e^{-(v - m)/\lambda}\rangle` with ``m`` the minimum of ``v`` on
  the support of :math:`p_0` (no underflow).
* **chi-square**, :math:`D = \sum_s (p_s - p_{0,s})^2 / p_{0,s}` (so :math:`p \ll p_0`):
  :math:`\sigma = \max_\alpha \{ E_{p_0}[v \wedge \alpha] - \mathrm{Var}_{p_0}(v \wedge \alpha)/(4\lambda) \}`.
  The minimiser's density ratio is :math:`(\alpha^* - v)_+ / (2\lambda)`, with :math:`\alpha^*` fixed
  by normalisation :math:`E_{p_0}[(\alpha^* - v)_+] = \alpha^* - E[v \wedge \alpha^*] = 2\lambda`; the
  :math:`\alpha`-derivative of the objective is :math:`P(v > \alpha)(1 - (\alpha - E[v\wedge\alpha])/(2\lambda))`
  and :math:`\alpha - E[v \wedge \alpha]` is non-decreasing, so the objective is unimodal with its
  maximum at the root. The root is found exactly (the left side is piecewise linear in
  :math:`\alpha`), and the value is the maximum of the objective over the root and the breakpoints.
  The paper's released code *minimises* this expression over :math:`\alpha \in [0, H]`; by the
  derivation the dual value is the maximum (the lab's cvxpy cross-check confirms it).

Limits: :math:`\lambda = \infty` gives the nominal :math:`\langle p_0, v\rangle`; :math:`\lambda = 0` the
worst case (``min v`` over all states for TV, over the support of :math:`p_0` for KL and chi-square).
Invariants: :math:`\sigma_\lambda` is non-decreasing in :math:`\lambda`, lies between the worst case and
:math:`\langle p_0, v\rangle`, shifts by ``c`` under ``v + c`` and is 1-Lipschitz in the sup norm.

d-rectangular RRMDP on a linear MDP
-----------------------------------
With features :math:`\phi(s,a) \in \Delta_d`, nominal :math:`P^0_h(\cdot|s,a) = \sum_i \phi_i(s,a)\mu^0_{h,i}`
and rewards :math:`r_h = \langle\phi, \theta_h\rangle`, the adversary perturbs each latent factor:

.. math::

    Q_h(s,a) = r_h(s,a) + \inf_{\mu_{h,1..d}} \sum_i \phi_i(s,a)\,[E_{\mu_{h,i}} V_{h+1} + \lambda D(\mu_{h,i}\|\mu^0_{h,i})]
             = \langle \phi(s,a), \theta_h + w_h\rangle,\qquad w_{h,i} = \sigma_\lambda(\mu^0_{h,i}, V_{h+1}),

:math:`V_h(s) = \max_a Q_h(s,a)` (or :math:`\sum_a \pi_h(a|s) Q_h(s,a)` for a policy), :math:`V_H = 0`.
The objective separates over ``i`` and each factor's problem does not depend on ``(s, a)``, so
the backward recursion is exact (:func:`robust_regularized_dp`, :func:`robust_regularized_evaluate`).
With one-hot features (``LinearMDP.from_tabular``) it is the (s,a)-rectangular tabular RRMDP.

Generator: :func:`liu_xu_linear_mdp`, the simulated linear MDP of Liu & Xu (2024,
arXiv:2402.15399) used in the R2PVI paper's experiments (``d = 4``, ``H = 3``, 16 actions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mdps import validation as V

__all__ = ["PENALTY_KINDS", "penalized_inner", "penalized_argmin", "penalty", "RegularizedSolution",
           "robust_regularized_dp", "robust_regularized_evaluate", "liu_xu_linear_mdp"]

#: the f-divergences of the penalised inner problems
PENALTY_KINDS = ("tv", "kl", "chi2")


def _check_lam(lam) -> float:
    lam = V._real(lam, "lam", "a number in [0, inf]")
    if not lam >= 0.0 or np.isnan(lam):
        raise ValueError(f"lam must be a number in [0, inf] (0: worst case, inf: nominal), got {lam!r}")
    return float(lam)


def _prepare(p0, v, lam, kind):
    kind = V.check_choice(kind, "kind", PENALTY_KINDS)
    p0 = V.as_float_array(p0, "p0", ndim=1)
    p0 = V.check_distribution(p0, "p0", p0.shape[0])
    v = V.check_value(v, "v", p0.shape[0])
    return p0, v, _check_lam(lam), kind


def _chi2_root(ps: np.ndarray, vs: np.ndarray, lam: float) -> float:
    """The root of ``E[(alpha - v)_+] = 2 lam`` (support values ``vs`` with masses ``ps``), exactly:
    the left side is ``c_j alpha - s_j`` between the sorted values ``u_j <= alpha <= u_{j+1}``."""
    order = np.argsort(vs, kind="stable")
    u, p = vs[order], ps[order]
    c, s = np.cumsum(p), np.cumsum(p * u)
    g_next = c[:-1] * u[1:] - s[:-1]  # E[(u_{j+1} - v)_+]
    j = int(np.searchsorted(g_next, 2.0 * lam, side="left"))  # first interval whose right end reaches 2 lam
    return float((2.0 * lam + s[j]) / c[j])


def _chi2_objective(ps: np.ndarray, vs: np.ndarray, alpha: float, lam: float) -> float:
    x = np.minimum(vs, alpha)
    mean = float(ps @ x)
    return mean - float(ps @ (x - mean) ** 2) / (4.0 * lam)


def _penalized(p0: np.ndarray, v: np.ndarray, lam: float, kind: str) -> float:
    """:func:`penalized_inner` on validated input."""
    if np.isinf(lam):
        return float(p0 @ v)
    if kind == "tv":
        vmin = float(v.min())
        return vmin if lam == 0.0 else float(p0 @ np.minimum(v, vmin + lam))
    support = p0 > 0.0
    ps, vs = p0[support], v[support]
    m = float(vs.min())
    if lam == 0.0:
        return m
    if kind == "kl":
        return m - lam * float(np.log(ps @ np.exp(-(vs - m) / lam)))
    candidates = np.append(np.unique(vs), _chi2_root(ps, vs, lam))
    return max(_chi2_objective(ps, vs, a, lam) for a in candidates)


def penalized_inner(p0, v, lam, kind: str = "tv") -> float:
    r"""The penalised worst case :math:`\inf_{p \in \Delta_S} \langle p, v\rangle + \lambda D(p\|p_0)`, exactly.

    Parameters
    ----------
    p0 : array_like, shape (S,)
        Nominal distribution (zeros allowed; for ``kl`` and ``chi2`` they force ``p`` to zero there).
    v : array_like, shape (S,)
        Finite values.
    lam : float in [0, inf]
        Penalty strength; ``0`` is the worst case over the divergence's domain, ``inf`` the nominal
        expectation.
    kind : {"tv", "kl", "chi2"}
        ``tv``: :math:`\tfrac12\|p - p_0\|_1`; ``kl``: :math:`\mathrm{KL}(p\|p_0)`; ``chi2``:
        :math:`\sum_s (p_s - p_{0,s})^2/p_{0,s}` (module docstring for the closed forms).

    Examples
    --------
    >>> import mdps
    >>> mdps.penalized_inner([0.5, 0.5], [0.0, 1.0], 0.25, kind="tv")
    0.125
    """
    p0, v, lam, kind = _prepare(p0, v, lam, kind)
    return _penalized(p0, v, lam, kind)


def penalized_argmin(p0, v, lam, kind: str = "tv") -> np.ndarray:
    """A minimiser ``p`` (S,) of :func:`penalized_inner`'s problem (same arguments, ``0 < lam < inf``):
    TV moves every state's mass with ``v > min v + lam`` to the first minimiser of ``v``; KL is the
    tilt ``p0 exp(-v / lam)`` normalised; chi-square is ``p0 (alpha* - v)_+ / (2 lam)``."""
    p0, v, lam, kind = _prepare(p0, v, lam, kind)
    if lam == 0.0 or np.isinf(lam):
        raise ValueError(f"lam must lie in (0, inf) for a minimiser, got {lam!r}")
    if kind == "tv":
        p = p0.copy()
        i = int(np.argmin(v))
        move = v > v[i] + lam
        p[i] += p[move].sum()
        p[move] = 0.0
        return p
    support = p0 > 0.0
    m = float(v[support].min())
    if kind == "kl":
        p = np.where(support, p0 * np.exp(-(np.where(support, v, m) - m) / lam), 0.0)
        return p / p.sum()
    alpha = _chi2_root(p0[support], v[support], lam)
    return np.where(support, p0 * np.maximum(alpha - v, 0.0) / (2.0 * lam), 0.0)


def penalty(p, p0, kind: str = "tv") -> float:
    """The divergence ``D(p || p0)`` of :func:`penalized_inner` (``inf`` for KL / chi-square when
    ``p`` puts mass outside the support of ``p0``)."""
    kind = V.check_choice(kind, "kind", PENALTY_KINDS)
    p0 = V.as_float_array(p0, "p0", ndim=1)
    p0 = V.check_distribution(p0, "p0", p0.shape[0])
    p = V.check_distribution(p, "p", p0.shape[0])
    if kind == "tv":
        return 0.5 * float(np.abs(p - p0).sum())
    support = p0 > 0.0
    if (p[~support] > 0.0).any():
        return float("inf")
    ps, qs = p[support], p0[support]
    if kind == "kl":
        pos = ps > 0.0
        return float(ps[pos] @ np.log(ps[pos] / qs[pos]))
    return float(((ps - qs) ** 2 / qs).sum())


# ---------------------------------------------------------------------------------------------
# the exact d-rectangular robust-regularised dynamic programme
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegularizedSolution:
    """Exact robust-regularised values of a linear MDP.

    Attributes
    ----------
    V : ndarray (H, S)
    Q : ndarray (H, S, A)
    policy : ndarray (H, S) int
        First maximiser of ``Q`` (for :func:`robust_regularized_evaluate`: the evaluated policy's
        greedy action, for reference).
    w : ndarray (H, d)
        ``w[h, i] = sigma_lam(mu_{h,i}, V_{h+1})``, the penalised worst case of each factor.
    lam : float
    kind : str
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    w: np.ndarray
    lam: float
    kind: str

    def value(self, rho) -> float:
        """``rho . V[0]``."""
        return float(np.asarray(rho, dtype=float) @ self.V[0])


def _check_lmdp(lmdp):
    from mdps.linear_mdp import LinearMDP

    if not isinstance(lmdp, LinearMDP):
        raise TypeError(f"lmdp must be an mdps.LinearMDP, got {type(lmdp).__name__}")
    V.check_simplex_features(lmdp.phi, "lmdp.phi")
    H, d, S = lmdp.horizon, lmdp.d, lmdp.n_states
    mus = np.broadcast_to(lmdp.mu, (H, d, S))
    V.check_rows_stochastic(np.asarray(mus), "lmdp.mu")
    return np.asarray(lmdp.phi), mus, np.broadcast_to(lmdp.theta, (H, d))


def _backward(lmdp, lam: float, kind: str, pi=None) -> RegularizedSolution:
    phi, mus, thetas = _check_lmdp(lmdp)
    H, (S, A, d) = lmdp.horizon, phi.shape
    Vs, Qs, pols, ws = np.zeros((H, S)), np.zeros((H, S, A)), np.zeros((H, S), dtype=np.int64), np.zeros((H, d))
    v_next = np.zeros(S)
    for h in range(H - 1, -1, -1):
        w = np.array([_penalized(mus[h, i], v_next, lam, kind) for i in range(d)])
        Q = phi @ (thetas[h] + w)
        Qs[h], ws[h], pols[h] = Q, w, Q.argmax(axis=1)
        Vs[h] = Q.max(axis=1) if pi is None else (pi[h] * Q).sum(axis=1)
        v_next = Vs[h]
    for a in (Vs, Qs, pols, ws):
        a.setflags(write=False)
    return RegularizedSolution(V=Vs, Q=Qs, policy=pols, w=ws, lam=lam, kind=kind)


def robust_regularized_dp(lmdp, lam, kind: str = "tv") -> RegularizedSolution:
    r"""The optimal robust-regularised values :math:`V^{*,\lambda}` of a linear MDP with simplex
    features, by exact backward induction (module docstring).

    Parameters
    ----------
    lmdp : mdps.LinearMDP
        Features on the simplex (``ValueError`` naming the entry otherwise) and factor rows
        ``mu[h, i, :]`` on the simplex.
    lam : float in [0, inf]
        ``inf``: the nominal optimum; ``0``: the worst case.
    kind : {"tv", "kl", "chi2"}

    Examples
    --------
    >>> import mdps
    >>> lin = mdps.LinearMDP.from_tabular(mdps.river_swim(3, horizon=4))
    >>> sol = mdps.robust_regularized_dp(lin, float("inf"))
    >>> bool(abs(sol.value(lin.rho) - mdps.backward_induction(lin.to_tabular()).V[0, 0]) < 1e-12)
    True
    """
    kind = V.check_choice(kind, "kind", PENALTY_KINDS)
    return _backward(lmdp, _check_lam(lam), kind)


def robust_regularized_evaluate(lmdp, policy, lam, kind: str = "tv") -> RegularizedSolution:
    r"""The robust-regularised value :math:`V^{\pi,\lambda}` of a Markov policy (deterministic
    ``(H, S)`` int or stochastic ``(H, S, A)``; stationary forms are broadcast over stages):
    the adversary's penalised worst case against that policy, exactly."""
    kind = V.check_choice(kind, "kind", PENALTY_KINDS)
    lam = _check_lam(lam)
    _check_lmdp(lmdp)
    H = lmdp.horizon
    pi = V.check_policy(policy, lmdp.n_states, lmdp.n_actions, horizon=H, name="policy")
    pi = V.as_stochastic_policy(pi, lmdp.n_actions)
    pi = np.broadcast_to(pi, (H, lmdp.n_states, lmdp.n_actions))
    return _backward(lmdp, lam, kind, pi=pi)


# ---------------------------------------------------------------------------------------------
# the simulated linear MDP of Liu & Xu (2024), as used by the R2PVI paper
# ---------------------------------------------------------------------------------------------
def liu_xu_linear_mdp(q: float = 0.0, *, xi_norm: float = 0.2, delta: float = 0.3):
    r"""The simulated d-rectangular linear MDP of Liu & Xu (2024, *Distributionally Robust
    Off-Dynamics Reinforcement Learning: Provable Efficiency with Linear Function Approximation*,
    arXiv:2402.15399), in the offline form of the R2PVI paper's experiments (Tang, Liu & Xu 2025,
    arXiv:2411.18612, official code) [V code].

    States ``x1..x5`` (indices 0..4), start ``x1``, ``H = 3``, ``d = 4``, actions ``{-1, +1}^4``
    (16, index ``k`` has bits ``a_j = +1`` where bit ``j`` of ``k`` is set),
    :math:`\xi = \xi_{norm}(1,1,1,1)/4`. Features
    :math:`\phi(x_j, a) = (1 - \delta - \langle\xi, a\rangle) e_j + (\delta + \langle\xi, a\rangle) e_4`
    for ``j = 1, 2, 3``, :math:`\phi(x_4, \cdot) = e_3`, :math:`\phi(x_5, \cdot) = e_4`; factors
    :math:`\mu_1 = 0.999\,\delta_{x_2} + 0.001\,\delta_{x_4}`, :math:`\mu_2 = 0.999\,\delta_{x_3} + 0.001\,\delta_{x_4}`,
    :math:`\mu_3 = \delta_{x_4}` (fail, absorbing), :math:`\mu_4 = \delta_{x_5}` (rewarding, absorbing);
    rewards :math:`\theta_1 = 0`, :math:`\theta_2 = \theta_3 = e_4`.

    ``q`` in ``[0, 1]`` is the test perturbation: at the first stage the factor :math:`\mu_4` sends
    mass ``q`` to the fail state and ``1 - q`` to ``x5`` (``q = 0`` is the nominal environment).
    """
    from mdps.linear_mdp import LinearMDP

    q = V.check_real(q, "q", low=0.0, high=1.0)
    xn = V.check_real(xi_norm, "xi_norm", low=0.0)
    dl = V.check_real(delta, "delta", low=0.0, high=1.0)
    if dl + xn > 1.0 or dl - xn < 0.0:
        raise ValueError(f"delta +- xi_norm must lie in [0, 1] for features on the simplex, got delta = {delta!r}, "
                         f"xi_norm = {xi_norm!r}")
    S, d, H = 5, 4, 3
    acts = np.array([[1.0 if (k >> j) & 1 else -1.0 for j in range(4)] for k in range(16)])
    shift = dl + acts @ np.full(4, xn / 4.0)  # delta + <xi, a>, in [delta - xi_norm, delta + xi_norm]
    phi = np.zeros((S, 16, d))
    for j in range(3):
        phi[j, :, j] = 1.0 - shift
        phi[j, :, 3] = shift
    phi[3, :, 2] = 1.0
    phi[4, :, 3] = 1.0
    mu = np.zeros((H, d, S))
    mu[:, 0, 1], mu[:, 0, 3] = 0.999, 0.001
    mu[:, 1, 2], mu[:, 1, 3] = 0.999, 0.001
    mu[:, 2, 3] = 1.0
    mu[:, 3, 4] = 1.0
    mu[0, 3, 3], mu[0, 3, 4] = q, 1.0 - q
    theta = np.zeros((H, d))
    theta[1:, 3] = 1.0
    return LinearMDP(phi, mu, theta, horizon=H)
