r"""Demonstration-regularised RL on linear MDPs: log-linear behaviour cloning and LSVI-UCB with a
KL-regularised (soft) backup towards the clone.

Paper: D. Tiapkin, D. Belomestny, D. Calandriello, E. Moulines, R. Munos, A. Naumov, P. Perrault,
M. Valko, P. Menard, *Demonstration-Regularized RL*, ICLR 2024, arXiv 2310.17303 (linear-MDP part).
LSVI-UCB: C. Jin, Z. Yang, Z. Wang, M. I. Jordan, COLT 2020, arXiv:1907.05388 (Algorithm 1).

Phase 1, behaviour cloning in the log-linear class **[A]** (the paper clones by maximum likelihood
over a softmax-in-:math:`\langle\phi, w\rangle` class in the linear case; the exact class and any
regulariser are **[U]**; the lab's choice is below). Stage-dependent weights :math:`w_h \in \mathbb R^d`,

.. math::

    \pi_{w_h}(a \mid s) = \frac{\exp\langle \phi(s,a), w_h\rangle}{\sum_b \exp\langle\phi(s,b), w_h\rangle},
    \qquad
    \hat w_h = \arg\max_w\ \sum_{s,a} N_h(s,a) \log \pi_w(a|s) - \frac{\kappa}{2}\|w\|^2,

with :math:`N_h(s,a)` the demonstration counts and :math:`\kappa > 0` the ridge (``ridge``). The
objective is strictly concave (its Hessian is
:math:`-\sum_s N_h(s)\,\mathrm{Cov}_{\pi_w(\cdot|s)}(\phi(s,\cdot)) - \kappa I`), so the maximiser is
unique and Newton's method with Armijo backtracking converges to it; its gradient

.. math::

    g_h(w) = \sum_{s,a} \big(N_h(s,a) - N_h(s)\,\pi_w(a|s)\big)\,\phi(s,a) - \kappa w

is returned as a certificate and recomputed by :func:`linear_bc_gradient` (callers check it).
Exact fact (one-hot features, :math:`\phi(s,a) = e_{(s,a)}`): the class is the full tabular class,
and as :math:`\kappa \to 0` the maximiser is the empirical frequency :math:`N_h(s,a)/N_h(s)` when
every pair is visited (the tabular MLE). Rate **[A]**: with the expert inside the class, the forward
trajectory KL :math:`\mathrm{KL}(\mathbb P^{\pi^E}\|\mathbb P^{\pi^{BC}})` is the parametric
:math:`\approx \sum_h \mathrm{rank}(F_h)/(2N^E)` (:math:`F_h` the per-trajectory Fisher information of
stage ``h``; at most :math:`dH/(2N^E)`), by the usual expansion
:math:`\mathrm{KL} \approx \tfrac12 \delta^\top F \delta`, :math:`\mathrm{Cov}(\hat w) \approx F^{-1}/N^E`.

Phase 2, demonstration-regularised LSVI **[U]** (the paper names an LSVI-UCB-type regularised
analogue; this is the lab's reconstruction). Per episode ``k``, with LSVI-UCB's ridge regression and
elliptical width (same statistics, same kernels), backward over ``h`` with :math:`\bar V_H = 0`:

.. math::

    \bar Q_h(s,a) = \min\{\langle w_h, \phi(s,a)\rangle + \beta\|\phi(s,a)\|_{\Lambda_h^{-1}},\ H\},
    \quad
    \bar V_h(s) = \lambda \log \sum_a \tilde\pi_h(a|s)\, e^{\bar Q_h(s,a)/\lambda},
    \quad
    \pi^k_h(a|s) = \tilde\pi_h(a|s)\, e^{(\bar Q_h(s,a) - \bar V_h(s))/\lambda},

:math:`w_h = \Lambda_h^{-1}\sum_{\tau<k}\phi_{\tau h}[r_h + \bar V_{h+1}(s_{\tau,h+1})]`, and the
stochastic soft-greedy :math:`\pi^k` is played. :math:`\bar V_h(s) = \max_{q \in \Delta_A}
\langle q, \bar Q_h(s,\cdot)\rangle - \lambda\mathrm{KL}(q \| \tilde\pi_h(\cdot|s))` (Gibbs variational
formula), so this is the KL-regularised Bellman operator of :func:`algorithms.exploration.kl_regularized_optimum`
applied to the optimistic estimate. Ground truth per episode (exact, on the true model): the played
policy's value :math:`V^{\pi^k}(\rho)` and regularised value
:math:`J_\lambda(\pi^k) = V^{\pi^k}(\rho) - \lambda\mathrm{KL}(\mathbb P^{\pi^k}\|\mathbb P^{\tilde\pi})`,
computed by backward recursion
:math:`J_h = \sum_a \pi_h(a|s)[r_h + P_h J_{h+1} - \lambda\log(\pi_h(a|s)/\tilde\pi_h(a|s))]`
(the trajectory-KL decomposition of :func:`mdps.trajectory_kl`), and the optima :math:`V^*` and
:math:`J^*_\lambda` by backward induction and soft backward induction.

One-hot features make :math:`\Lambda_h` diagonal (:math:`N_h(s,a) + \text{ridge}`), so :math:`\bar Q_h`
is the tabular :math:`\min\{(\sum r + \sum_{s'} n_h(s,a,s')\bar V_{h+1}(s'))/(N_h(s,a)+\text{ridge}) +
\beta/\sqrt{N_h(s,a)+\text{ridge}}, H\}` (the check ``linear_demo.tabular_identity`` replays it).
Theory page: docs/theory/linear.md.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

import mdps
from algorithms.exploration.demonstrations import demonstration_counts, kl_regularized_optimum
from algorithms.exploration.engine import _single_seed
from algorithms.linear import _demo_kernels as _dk
from algorithms.linear.lsvi import _tables, lsvi_beta
from mdps import validation as V
from mdps.linear_mdp import LinearMDP

__all__ = ["linear_behaviour_cloning", "linear_bc_gradient", "log_linear_policy", "LinearBCResult",
           "demo_regularized_lsvi", "DemoLSVIRun", "DemoLSVISettings"]


def _check_lmdp(lmdp) -> LinearMDP:
    if not isinstance(lmdp, LinearMDP):
        raise TypeError(f"lmdp must be an mdps.LinearMDP, got {type(lmdp).__name__}")
    return lmdp


# ------------------------------------------------------------------------- behaviour cloning
def log_linear_policy(lmdp, weights) -> np.ndarray:
    r"""The log-linear policy :math:`\pi_h(a|s) \propto \exp\langle\phi(s,a), w_h\rangle`, shape ``(H, S, A)``,
    from ``weights`` of shape ``(H, d)`` (computed in log space)."""
    lmdp = _check_lmdp(lmdp)
    W = V.as_float_array(weights, "weights", ndim=2)
    if W.shape != (lmdp.horizon, lmdp.d):
        raise ValueError(f"weights must have shape (H, d) = ({lmdp.horizon}, {lmdp.d}), got {W.shape}")
    logits = np.einsum("sad,hd->hsa", lmdp.phi, W)
    return np.exp(logits - mdps.logsumexp(logits, axis=-1)[..., None])


def _stage_terms(phi, counts_h, w, ridge):
    """Objective, gradient and Hessian of one stage's penalised log-likelihood."""
    z = phi @ w
    lse = mdps.logsumexp(z, axis=-1)
    logp = z - lse[:, None]
    p = np.exp(logp)
    n_s = counts_h.sum(axis=1)
    f = float(np.sum(counts_h * logp) - 0.5 * ridge * (w @ w))
    g = np.einsum("sa,sad->d", counts_h - n_s[:, None] * p, phi) - ridge * w
    mean = np.einsum("sa,sad->sd", p, phi)
    second = np.einsum("s,sa,sad,sae->de", n_s, p, phi, phi)
    Hm = -(second - np.einsum("s,sd,se->de", n_s, mean, mean)) - ridge * np.eye(phi.shape[-1])
    return f, g, Hm


def linear_bc_gradient(lmdp, demonstrations, weights, *, ridge) -> np.ndarray:
    r"""The gradient :math:`g_h(w_h)` of every stage's penalised log-likelihood, shape ``(H, d)``
    (the certificate of :func:`linear_behaviour_cloning`: zero at its maximiser)."""
    lmdp = _check_lmdp(lmdp)
    kappa = V.check_real(ridge, "ridge", low=0.0, low_open=True)
    counts = demonstration_counts(demonstrations, lmdp.n_states, lmdp.n_actions, lmdp.horizon)
    pol = log_linear_policy(lmdp, weights)
    W = np.asarray(weights, dtype=np.float64)
    n_s = counts.sum(axis=-1, keepdims=True)
    return np.einsum("hsa,sad->hd", counts - n_s * pol, lmdp.phi) - kappa * W


@dataclass(frozen=True, eq=False)
class LinearBCResult:
    r"""Log-linear behaviour cloning.

    Attributes
    ----------
    policy : ndarray (H, S, A)
        :math:`\pi_{\hat w_h}(a|s)` on the enumerated state space.
    weights : ndarray (H, d)
        :math:`\hat w_h`.
    grad_norm : ndarray (H,)
        The fit's own Euclidean gradient norm at :math:`\hat w_h` (a claim: recompute it with
        :func:`linear_bc_gradient`).
    n_iter : ndarray (H,)
        Newton iterations per stage.
    ridge : float
    n_demos : float
        :math:`N^E` (the number of trajectories, i.e. the counts of stage 0).
    """

    policy: np.ndarray
    weights: np.ndarray
    grad_norm: np.ndarray
    n_iter: np.ndarray
    ridge: float
    n_demos: float


def linear_behaviour_cloning(lmdp, demonstrations, *, ridge: float = 1.0, tol: float = 1e-10,
                             max_iter: int = 100) -> LinearBCResult:
    r"""Maximum-likelihood cloning in the log-linear class (module docstring), by Newton's method.

    Parameters
    ----------
    lmdp : mdps.LinearMDP
        Supplies the features ``phi (S, A, d)`` and ``H``.
    demonstrations
        Expert trajectories: a :class:`mdps.Trajectories`, a record or mapping with integer
        ``states`` ``(N, H)`` or ``(N, H+1)`` and ``actions`` ``(N, H)``, or counts ``(H, S, A)``
        (validated by :func:`algorithms.exploration.demonstration_counts`: wrong shapes, states or
        actions out of range raise an error naming the entry).
    ridge : float > 0
        :math:`\kappa` (absolute, not divided by ``N``).
    tol : float > 0
        Stop a stage when ``||g_h|| <= tol * (1 + N_E)``.
    max_iter : int >= 1
        Newton iterations per stage (a ``RuntimeWarning`` names the stage if it does not converge).

    Returns
    -------
    LinearBCResult

    Examples
    --------
    >>> import numpy as np, mdps
    >>> lin = mdps.LinearMDP.from_tabular(mdps.river_swim(2, horizon=1))
    >>> data = {"states": np.zeros((4, 1), dtype=int), "actions": np.array([[0], [0], [0], [1]])}
    >>> fit = linear_behaviour_cloning(lin, data, ridge=1e-9)
    >>> np.round(fit.policy[0, 0], 6).tolist()
    [0.75, 0.25]
    """
    lmdp = _check_lmdp(lmdp)
    kappa = V.check_real(ridge, "ridge", low=0.0, low_open=True)
    tol_ = V.check_real(tol, "tol", low=0.0, low_open=True)
    n_max = V.check_int(max_iter, "max_iter", low=1)
    H, d = lmdp.horizon, lmdp.d
    counts = demonstration_counts(demonstrations, lmdp.n_states, lmdp.n_actions, H)
    phi = np.asarray(lmdp.phi, dtype=np.float64)
    n_demos = float(counts[0].sum())
    W = np.zeros((H, d))
    gnorm = np.empty(H)
    iters = np.zeros(H, dtype=np.int64)
    for h in range(H):
        w = np.zeros(d)
        f, g, Hm = _stage_terms(phi, counts[h], w, kappa)
        it = 0
        while np.linalg.norm(g) > tol_ * (1.0 + n_demos) and it < n_max:
            step = np.linalg.solve(-Hm, g)
            slope = float(g @ step)
            t, accepted = 1.0, False
            while t >= 1e-10:
                f_new, g_new, H_new = _stage_terms(phi, counts[h], w + t * step, kappa)
                # Armijo, with the round-off of f itself as slack: near the optimum the increase is
                # below the floating-point resolution of f and the (quadratically convergent) full step
                # must still be taken
                if f_new >= f + 1e-4 * t * slope - 1e-13 * (1.0 + abs(f)):
                    accepted = True
                    break
                t *= 0.5
            if not accepted:  # no ascent along the Newton direction: stop (the warning below names the stage)
                break
            w = w + t * step
            f, g, Hm = f_new, g_new, H_new
            it += 1
        W[h], gnorm[h], iters[h] = w, float(np.linalg.norm(g)), it
        if gnorm[h] > tol_ * (1.0 + n_demos):
            warnings.warn(f"linear_behaviour_cloning: stage {h} stopped after max_iter = {n_max} Newton steps "
                          f"with gradient norm {gnorm[h]:.3g} > tol * (1 + N_E) = {tol_ * (1 + n_demos):.3g}",
                          RuntimeWarning, stacklevel=2)
    return LinearBCResult(policy=V.readonly(log_linear_policy(lmdp, W)), weights=V.readonly(W),
                          grad_norm=V.readonly(gnorm), n_iter=V.readonly(iters), ridge=kappa, n_demos=n_demos)


# ------------------------------------------------------------------ demonstration-regularised LSVI
@dataclass(frozen=True)
class DemoLSVISettings:
    """The settings a run used."""

    n_episodes: int
    lam: float
    ridge: float
    delta: float
    bonus_scale: float
    beta: float


@dataclass(frozen=True, eq=False)
class DemoLSVIRun:
    r"""One run of :func:`demo_regularized_lsvi`.

    Attributes
    ----------
    values, reg_values : ndarray (K,)
        Exact :math:`V^{\pi^k}(\rho)` and :math:`J_\lambda(\pi^k)` of each played policy (true model).
    v_star, reg_v_star : float
        :math:`V^*(\rho)` and :math:`J^*_\lambda = \max_\pi J_\lambda(\pi)`.
    optimistic_values : ndarray (K,)
        The plan's own :math:`\rho^\top\bar V_0` (a claim, not a measurement).
    policies : ndarray (K, H, S, A)
        The played soft-greedy policies.
    Q : ndarray (K, H, S, A) or (0, H, S, A)
        :math:`\bar Q` of every episode when ``keep_q``.
    states : ndarray (K, H + 1); actions : ndarray (K, H)
    settings : DemoLSVISettings
    seed : int
    """

    values: np.ndarray
    reg_values: np.ndarray
    v_star: float
    reg_v_star: float
    optimistic_values: np.ndarray
    policies: np.ndarray
    Q: np.ndarray
    states: np.ndarray
    actions: np.ndarray
    settings: DemoLSVISettings
    seed: int

    @property
    def regret(self) -> np.ndarray:
        """Per-episode unregularised gap :math:`V^* - V^{\\pi^k}`."""
        return self.v_star - self.values

    @property
    def reg_regret(self) -> np.ndarray:
        """Per-episode regularised gap :math:`J^*_\\lambda - J_\\lambda(\\pi^k)` (``>= 0``)."""
        return self.reg_v_star - self.reg_values


def _exact_values(P, R, rho, policies, log_ref, lam, chunk=2048):
    """``(V^{pi_k}(rho), J_lam(pi_k))`` of every policy ``(K, H, S, A)`` by backward recursion."""
    K, H, S, A = policies.shape
    vals, regs = np.empty(K), np.empty(K)
    for lo in range(0, K, chunk):
        pol = policies[lo:lo + chunk]
        with np.errstate(divide="ignore", invalid="ignore"):
            logratio = np.where(pol > 0, np.log(np.where(pol > 0, pol, 1.0)) - log_ref[None], 0.0)
        Vk = np.zeros((pol.shape[0], S))
        Jk = np.zeros((pol.shape[0], S))
        for h in range(H - 1, -1, -1):
            Vk = np.einsum("ksa,ksa->ks", pol[:, h], R[h][None] + np.einsum("sat,kt->ksa", P[h], Vk))
            Jk = np.einsum("ksa,ksa->ks", pol[:, h],
                           R[h][None] + np.einsum("sat,kt->ksa", P[h], Jk) - lam * logratio[:, h])
        vals[lo:lo + chunk] = Vk @ rho
        regs[lo:lo + chunk] = Jk @ rho
    return vals, regs


def demo_regularized_lsvi(lmdp, ref_policy, lam, *, n_episodes, bonus_scale: float = 1.0, ridge: float = 1.0,
                          delta: float = 0.05, keep_q: bool = False, rng=0) -> DemoLSVIRun:
    r"""LSVI-UCB with the :math:`\lambda`-soft backup towards ``ref_policy`` (module docstring).

    Parameters
    ----------
    lmdp : mdps.LinearMDP
    ref_policy : array_like
        The reference :math:`\tilde\pi` (e.g. ``linear_behaviour_cloning(...).policy``), any
        Markov policy form (``(S,)``/``(H, S)`` int, ``(S, A)``/``(H, S, A)`` float).
    lam : float > 0
        Regularisation strength :math:`\lambda`.
    n_episodes : int >= 1
    bonus_scale : float >= 0
        Multiplier on LSVI-UCB's theory radius :func:`algorithms.linear.lsvi_beta`.
    ridge : float > 0
        The regressions' ridge (LSVI-UCB's ``lam``).
    delta : float in (0, 1)
    keep_q : bool
        Also return every episode's :math:`\bar Q` (``.Q``, ``(K, H, S, A)``).
    rng : int, SeedSequence or Generator

    Returns
    -------
    DemoLSVIRun

    Examples
    --------
    >>> import numpy as np, mdps
    >>> lin = mdps.LinearMDP.from_tabular(mdps.river_swim(3, horizon=4))
    >>> run = demo_regularized_lsvi(lin, np.full((3, 2), 0.5), 0.1, n_episodes=20, rng=0)
    >>> bool((run.reg_regret >= -1e-9).all()), run.policies.shape
    (True, (20, 4, 3, 2))
    """
    lmdp = _check_lmdp(lmdp)
    H, S, A = lmdp.horizon, lmdp.n_states, lmdp.n_actions
    ref = V.as_stochastic_policy(V.check_policy(ref_policy, S, A, horizon=H, name="ref_policy"), A)
    ref = np.ascontiguousarray(np.broadcast_to(ref, (H, S, A)), dtype=np.float64)
    reg = V.check_real(lam, "lam", low=0.0, low_open=True)
    K = V.check_int(n_episodes, "n_episodes", low=1)
    c = V.check_real(bonus_scale, "bonus_scale", low=0.0)
    ridge_ = V.check_real(ridge, "ridge", low=0.0, low_open=True)
    dl = V.check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(keep_q, (bool, np.bool_)):
        raise TypeError(f"keep_q must be a bool, got {keep_q!r}")
    seed = _single_seed(rng)[0]
    beta = c * lsvi_beta(lmdp.d, H, K, dl)
    cdf, _, _, _, R, rho, rho_cdf = _tables(lmdp)
    with np.errstate(divide="ignore"):
        log_ref = np.log(ref)
    policies = np.zeros((K, H, S, A))
    Qs = np.zeros((K if keep_q else 0, H, S, A))
    optimistic = np.empty(K)
    states = np.zeros((K, H + 1), dtype=np.int64)
    actions = np.zeros((K, H), dtype=np.int64)
    _dk.run_soft(seed, np.ascontiguousarray(lmdp.phi), cdf, R, rho, rho_cdf, log_ref, K, ridge_, beta, float(H), reg,
                 policies, Qs, optimistic, states, actions)
    tab = lmdp.to_tabular()
    P = np.asarray(lmdp.P, dtype=np.float64)
    values, reg_values = _exact_values(P, np.asarray(R), rho, policies, log_ref, reg)
    v_star = float(tab.rho @ mdps.backward_induction(tab).V[0])
    reg_star = kl_regularized_optimum(tab, ref, reg).value
    settings = DemoLSVISettings(n_episodes=K, lam=reg, ridge=ridge_, delta=dl, bonus_scale=c, beta=beta)
    return DemoLSVIRun(values=values, reg_values=reg_values, v_star=v_star, reg_v_star=float(reg_star),
                       optimistic_values=optimistic, policies=policies, Q=Qs, states=states, actions=actions,
                       settings=settings, seed=int(seed))
