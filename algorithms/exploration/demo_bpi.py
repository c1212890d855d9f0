r"""Demonstration-regularised RL, phase 2: optimistic KL-regularised best-policy identification,
its unregularised control, and the demonstration-regularised RLHF pipeline.

Paper: D. Tiapkin, D. Belomestny, D. Calandriello, E. Moulines, R. Munos, A. Naumov,
P. Perrault, M. Valko, P. Menard, *Demonstration-Regularized RL*, ICLR 2024, arXiv 2310.17303.
Phase 1 (behaviour cloning) and the exact planning oracle are in
:mod:`algorithms.exploration.demonstrations`; theory page: docs/theory/exploration.md.

Setting. A finite-horizon :class:`mdps.TabularMDP` (stages ``h = 0..H-1``, rewards in ``[0, 1]``,
**known to the agent**: only the transitions are learned), a reference policy :math:`\tilde\pi`
(the behaviour-cloned policy :math:`\pi^{BC}`) and a strength :math:`\lambda > 0`. The target is
the regularised objective
:math:`J_\lambda(\pi) = V^\pi(\rho) - \lambda \mathrm{KL}(\mathbb P^\pi \| \mathbb P^{\tilde\pi})`.

Optimistic regularised BPI (:func:`demo_regularized_bpi`) **[U]**: the paper's algorithm
(UCBVI-Ent+, a modification of UCBVI-Ent) could not be read; this is the lab's reconstruction of
its mechanism. Per episode ``k``, with the empirical kernel :math:`\hat P` (uniform where
``N = 0``), :math:`\bar V_H = \underline V_H = 0` and, for ``h = H-1, ..., 0``,

.. math::

    \bar Q_h = \min\big(H - h,\; r_h + \hat P_h \bar V_{h+1} + b_h\big), \qquad
    \bar V_h(s) = \lambda \log \sum_a \tilde\pi_h(a|s)\, e^{\bar Q_h(s,a)/\lambda}, \qquad
    \pi^k_h(a|s) = \tilde\pi_h(a|s)\, e^{(\bar Q_h(s,a) - \bar V_h(s))/\lambda},

(log-sum-exp taken stably, :math:`m + \lambda\log\sum_a \tilde\pi e^{(Q - m)/\lambda}`), then the
pessimistic regularised evaluation of :math:`\pi^k`,

.. math::

    \underline Q_h = \max\big(r_h + \hat P_h \underline V_{h+1} - b_h,\; r_h + f_{h+1}\big), \qquad
    \underline V_h(s) = \sum_a \pi^k_h(a|s) \underline Q_h(s,a) - \lambda \mathrm{KL}(\pi^k_h(\cdot|s) \|
    \tilde\pi_h(\cdot|s)),

with the model-free floor :math:`f_{h+1} = -\lambda\sum_{h'>h}\max_s \mathrm{KL}(\pi^k_{h'}(\cdot|s)
\| \tilde\pi_{h'}(\cdot|s)) \le V^{\pi^k}_{\lambda,h+1}`. The bonus is UCBVI-CH's
:math:`b = c\cdot 7 H L/\sqrt{\max(1, N_h(s,a))}` (``bonus="hoeffding"``, ``c = bonus_scale``,
:math:`L = \ln(5 S' A T/\delta)` as in :func:`~algorithms.exploration.ucbvi`), UCBVI-BF's
Bernstein bonus (``bonus="bernstein"``, below) or 0 (``bonus="none"``).

Bernstein bonus **[U]** (the form of UCBVI-BF, Azar et al. 2017, Algorithm 4, through the engine's own
compiled helper :func:`~algorithms.exploration._kernels.bernstein_bonus`):

.. math::

    b_h(s,a) = c\Big[\sqrt{\tfrac{8 L\, \mathrm{Var}_{\hat P_h(\cdot|s,a)}(\bar V_{h+1})}{n}}
    + \tfrac{14 H L}{3 n}
    + \sqrt{\tfrac{8}{n} \sum_y \hat P_h(y|s,a) \min\big(\tfrac{84^2 H^3 S'^2 A L^2}{\max(1, N'_{h+1}(y))},
    H^2\big)}\Big],

with :math:`\bar V_{h+1}` the **regularised** optimistic value (the soft maximum): it is the function
the backup applies :math:`\hat P_h - P_h` to, so its empirical variance is the one Bernstein's
inequality needs. Its range is that of the unregularised values: :math:`\bar Q_h \ge 0` (rewards and
bonuses are nonnegative) and the soft maximum lies between the reference average and the maximum,
:math:`0 \le \sum_a \tilde\pi(a) \bar Q_h(s,a) \le \bar V_h(s) \le \max_a \bar Q_h(s,a) \le H - h`
(Jensen for the lower end), so the engine's :math:`H^2` cap of the correction term stays valid.
At the last stage :math:`\bar V_H = 0` and only :math:`14 H L/(3n)` remains. The pessimistic evaluation
subtracts the same bonus table (a reconstruction: UCBVI-BF bounds the optimistic side only). On the event where :math:`|(\hat P - P) V| \le b` for the values involved,
induction on ``h`` gives :math:`\bar V_h \ge V^*_{\lambda,h}` (the regularised maximum is
monotone in ``Q``, and the clip at ``H - h`` is above :math:`V^*_{\lambda} \le V^*`) and
:math:`\underline V_h \le V^{\pi^k}_{\lambda,h}`, so the gap
:math:`G_k = \rho\cdot(\bar V_0 - \underline V_0)` bounds the regularised suboptimality of
:math:`\pi^k`. The algorithm's stopping rule is its own: stop at the first ``k`` with
:math:`G_k \le \epsilon` and recommend :math:`\pi^k` (``stop_episode``, ``recommended``). The run
always plays all ``n_episodes`` (so a check can measure, with exact evaluation on the true model,
when the recommended policy actually became :math:`\epsilon`-optimal: the *oracle measurement*).
The paper's fast :math:`1/\epsilon` regularised rate relies on a sharper, smoothness-based
stopping statistic that is not reconstructed here.

Control (:func:`unregularized_bpi`): the same code path with :math:`\lambda \to 0`, where the
regularised maximum becomes the hard maximum (greedy policies, ties to the lowest action) and the
KL terms vanish: UCBVI-based BPI with the same stopping gap.

Demonstration-regularised RLHF (:func:`demo_regularized_rlhf`) **[A]** for the pipeline,
**[U]** for its details: sample ``n_pairs`` pairs of trajectories from the reference (the clone),
draw Bernoulli preferences from the Bradley-Terry model on trajectory returns,
:math:`\Pr(\tau^1 \succ \tau^2) = \sigma(r(\tau^1) - r(\tau^2))`, :math:`r(\tau) = \sum_h
r_h(s_h, a_h)`, fit :math:`\hat r` by ridge-regularised logistic maximum likelihood on the one-hot
``(h, s, a)`` count differences :math:`x = \phi(\tau^1) - \phi(\tau^2)` (:func:`fit_trajectory_reward`),

.. math::

    \hat\theta = \arg\min_\theta \sum_i \big[\log(1 + e^{\theta\cdot x_i}) - y_i\, \theta\cdot x_i\big]
    + \tfrac{\mu}{2}\|\theta\|^2,

by Newton's method (the objective is :math:`\mu`-strongly convex), then return the exact
:math:`\lambda`-regularised optimum with reward :math:`\hat r` and reference :math:`\tilde\pi`
(:func:`~algorithms.exploration.kl_regularized_optimum`). Identifiability (exact): every
trajectory visits one pair per stage, so each stage block of :math:`x` sums to zero and
:math:`\hat r_h + c_h` has the same likelihood for any constants :math:`c_h`; a per-stage
constant shifts every regularised value at stage ``h`` by :math:`\sum_{h' \ge h} c_{h'}` and leaves
the regularised optimum's policy unchanged. The ridge picks the minimum-norm representative.

Departure from the paper: both algorithms are reconstructions (provenance above); the BPI bonuses
are UCBVI-CH's Hoeffding one (default) and UCBVI-BF's Bernstein one, not the paper's own
Bernstein-type bonuses, which could not be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

import mdps
from mdps import validation as V

from algorithms.exploration import _demo_kernels as _dk
from algorithms.exploration import _kernels as _k
from algorithms.exploration.demonstrations import kl_regularized_optimum
from algorithms.exploration.engine import _model_tables, _single_seed, log_term, run_seeds

__all__ = ["demo_regularized_bpi", "unregularized_bpi", "RegularizedBPIRun", "RegularizedBPIBatch",
           "RegularizedBPISettings", "regularized_backup", "demo_regularized_rlhf", "fit_trajectory_reward",
           "RewardFit", "RLHFResult", "trajectory_features"]

BPI_BONUSES = ("hoeffding", "bernstein", "none")
_BONUS_CODE = {"none": _k.NO_BONUS, "hoeffding": _k.HOEFFDING, "bernstein": _k.BERNSTEIN}


@dataclass(frozen=True)
class RegularizedBPISettings:
    """The settings a run used (typed and frozen)."""

    algorithm: str
    lam: float
    epsilon: float
    n_episodes: int
    bonus: str
    bonus_scale: float
    delta: float
    stage_dependent_estimates: bool
    log_term: float


@dataclass(frozen=True, eq=False)
class RegularizedBPIRun:
    r"""One run of (regularised) optimistic BPI.

    Attributes
    ----------
    upper, lower : ndarray, shape (K,)
        The algorithm's own bounds :math:`\rho\cdot\bar V_{k,0}` and :math:`\rho\cdot\underline V_{k,0}`
        (claims, not measurements); ``gap = upper - lower`` is its stopping statistic.
    values, reg_values : ndarray, shape (K,)
        Exact :math:`V^{\pi^k}(\rho)` and :math:`J_\lambda(\pi^k)` of the policy played in episode ``k``
        on the true model (compiled backward evaluation).
    checkpoints : ndarray of int64, shape (C,)
        Episodes whose policy was kept; ``policies[j]`` is :math:`\pi^{k}`, ``k = checkpoints[j]``,
        shape ``(C, H, S, A)``.
    stop_episode : int
        The first ``k`` with ``gap[k] <= epsilon`` (the stopping rule), ``-1`` if never.
    recommended : ndarray, shape (H, S, A)
        The policy of episode ``stop_episode`` (of the last episode if it never stopped).
    v_star, reg_star : float
        :math:`V^*(\rho)` and :math:`\max_\pi J_\lambda(\pi)` (exact; ``reg_star = v_star`` for the control).
    """

    upper: np.ndarray
    lower: np.ndarray
    values: np.ndarray
    reg_values: np.ndarray
    checkpoints: np.ndarray
    policies: np.ndarray
    stop_episode: int
    recommended: np.ndarray
    v_star: float
    reg_star: float
    settings: RegularizedBPISettings
    seed: int

    @property
    def gap(self) -> np.ndarray:
        return self.upper - self.lower


@dataclass(frozen=True, eq=False)
class RegularizedBPIBatch:
    """``n_runs`` runs: ``upper``, ``lower``, ``values``, ``reg_values`` ``(n_runs, K)``; ``policies``
    ``(n_runs, C, H, S, A)``, ``stop_episode`` ``(n_runs,)``, ``recommended`` ``(n_runs, H, S, A)``."""

    upper: np.ndarray
    lower: np.ndarray
    values: np.ndarray
    reg_values: np.ndarray
    checkpoints: np.ndarray
    policies: np.ndarray
    stop_episode: np.ndarray
    recommended: np.ndarray
    v_star: float
    reg_star: float
    settings: RegularizedBPISettings
    seeds: np.ndarray = field(repr=False)

    @property
    def gap(self) -> np.ndarray:
        return self.upper - self.lower

    def run(self, i: int) -> RegularizedBPIRun:
        return RegularizedBPIRun(self.upper[i], self.lower[i], self.values[i], self.reg_values[i], self.checkpoints,
                                 self.policies[i], int(self.stop_episode[i]), self.recommended[i], self.v_star,
                                 self.reg_star, self.settings, int(self.seeds[i]))


def _reference(mdp, ref_policy, name="ref_policy") -> np.ndarray:
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    ref = V.as_stochastic_policy(V.check_policy(ref_policy, S, A, horizon=H, name=name, kind="stochastic"), A)
    return np.ascontiguousarray(np.broadcast_to(ref, (H, S, A)), dtype=np.float64)


def _checkpoints(checkpoints, K) -> np.ndarray:
    if checkpoints is None:
        return np.unique(np.rint(np.geomspace(1, K, min(K, 40))).astype(np.int64) - 1)
    ck = np.asarray(checkpoints)
    if ck.dtype.kind not in "iu" or ck.ndim != 1:
        raise TypeError(f"checkpoints must be a 1-D integer array of episode indices, got {ck.dtype} {ck.shape}")
    ck = np.unique(ck.astype(np.int64))
    if ck.size and (ck[0] < 0 or ck[-1] >= K):
        raise ValueError(f"checkpoints must lie in [0, n_episodes - 1] = [0, {K - 1}], got range "
                         f"[{ck[0]}, {ck[-1]}]")
    return ck


def _bpi(mdp, ref, lam, *, algorithm, epsilon, n_episodes, bonus, bonus_scale, delta, stage_dependent, checkpoints,
         n_runs, rng):
    K = V.check_int(n_episodes, "n_episodes", low=1)
    eps = V.check_real(epsilon, "epsilon", low=0.0, low_open=True)
    bonus = V.check_choice(bonus, "bonus", BPI_BONUSES)
    c = V.check_real(bonus_scale, "bonus_scale", low=0.0)
    d = V.check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    if mdp.R.min() < 0.0 or mdp.R.max() > 1.0:
        raise ValueError(f"mdp.R must lie in [0, 1] for the bonuses and the clip at H - h, got range "
                         f"[{mdp.R.min():.3g}, {mdp.R.max():.3g}]")
    if stage_dependent is None:
        stage_dependent = bool(mdp.stage_dependent)
    elif not isinstance(stage_dependent, (bool, np.bool_)):
        raise TypeError(f"stage_dependent must be a bool or None, got {stage_dependent!r}")
    ck = _checkpoints(checkpoints, K)
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    L = log_term(S, A, H, K, d, stage_dependent=bool(stage_dependent))
    seeds = _single_seed(rng) if n_runs is None else run_seeds(rng, V.check_int(n_runs, "n_runs", low=1))
    n = seeds.shape[0]
    indptr, indices, probs, cdf, stages, R, rho, rho_cdf = _model_tables(mdp)
    with np.errstate(divide="ignore"):
        log_ref = np.log(ref)
    upper, lower, values, reg_values = (np.empty((n, K)) for _ in range(4))
    policies = np.zeros((n, ck.size, H, S, A))
    _dk.run_demo_batch(seeds, indptr, indices, probs, cdf, stages, R, rho, rho_cdf, log_ref, lam, K,
                       _BONUS_CODE[bonus], c, L, not stage_dependent, ck, values, reg_values, upper, lower, policies)
    if not (np.isfinite(upper).all() and np.isfinite(lower).all()):
        raise ValueError(f"the optimistic or pessimistic values left the float64 range (lam = {lam:g})")
    gap = upper - lower
    hit = gap <= eps
    stop = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
    # the recommended policy is pi^stop: replay is deterministic given the seed, so keep it by
    # re-running up to the stopping episode with that single checkpoint
    rec = np.empty((n, H, S, A))
    for i in range(n):
        k_rec = int(stop[i]) if stop[i] >= 0 else K - 1
        j = np.searchsorted(ck, k_rec)
        if j < ck.size and ck[j] == k_rec:
            rec[i] = policies[i, j]
            continue
        buf = [np.empty((1, k_rec + 1)) for _ in range(4)]
        pol1 = np.zeros((1, 1, H, S, A))
        _dk.run_demo_batch(seeds[i:i + 1], indptr, indices, probs, cdf, stages, R, rho, rho_cdf, log_ref, lam,
                           k_rec + 1, _BONUS_CODE[bonus], c, L, not stage_dependent, np.array([k_rec], dtype=np.int64),
                           *buf, pol1)
        rec[i] = pol1[0, 0]
    v_star = float(mdp.rho @ mdps.backward_induction(mdp).V[0])
    reg_star = kl_regularized_optimum(mdp, ref, lam).value if lam > 0 else v_star
    settings = RegularizedBPISettings(algorithm=algorithm, lam=float(lam), epsilon=eps, n_episodes=K, bonus=bonus,
                                      bonus_scale=c, delta=d, stage_dependent_estimates=bool(stage_dependent),
                                      log_term=L)
    if n_runs is None:
        return RegularizedBPIRun(upper[0], lower[0], values[0], reg_values[0], ck, policies[0], int(stop[0]), rec[0],
                                 v_star, reg_star, settings, int(seeds[0]))
    return RegularizedBPIBatch(upper, lower, values, reg_values, ck, policies, stop, rec, v_star, reg_star, settings,
                               seeds)


def demo_regularized_bpi(mdp, ref_policy, lam, *, epsilon, n_episodes, bonus="hoeffding", bonus_scale=1.0, delta=0.1,
                         stage_dependent=None, checkpoints=None, n_runs=None, rng=0):
    r"""Optimistic KL-regularised best-policy identification towards ``ref_policy`` (module docstring).

    Parameters
    ----------
    mdp : TabularMDP
        Finite horizon, rewards in ``[0, 1]`` (known to the agent).
    ref_policy : array_like, shape (S, A) or (H, S, A)
        The reference :math:`\tilde\pi` (a stochastic policy, e.g. the clone :math:`\pi^{BC}`).
    lam : float > 0
        :math:`\lambda`.
    epsilon : float > 0
        Target accuracy of the stopping rule :math:`\bar V_0 - \underline V_0 \le \epsilon`.
    n_episodes : int >= 1
        Episodes played (all of them, whatever the stopping rule says).
    bonus : {"hoeffding", "bernstein", "none"}
        UCBVI-CH's Hoeffding bonus, UCBVI-BF's Bernstein bonus on the regularised values (module
        docstring), or none.
    bonus_scale : float >= 0
        Multiplier ``c`` on the bonus (Hoeffding: ``c 7 H L / sqrt(n)``).
    delta : float in (0, 1)
        Confidence level inside ``L``.
    stage_dependent : bool, optional
        Per-stage counts (default: whether ``mdp.P`` is stage dependent).
    checkpoints : array_like of int, optional
        Episodes whose policy is kept (default: 40 log-spaced episodes including the last).
    n_runs : int, optional
        A batch of independent seeds (row ``i`` equals the run with ``rng`` the ``i``-th child of
        ``SeedSequence(rng)``, bit for bit); returns a :class:`RegularizedBPIBatch`.
    rng : int, SeedSequence or Generator

    Returns
    -------
    RegularizedBPIRun or RegularizedBPIBatch

    Examples
    --------
    >>> import mdps, numpy as np
    >>> m = mdps.random_finite_horizon(3, 2, 3, rng=0)
    >>> run = demo_regularized_bpi(m, np.full((3, 2), 0.5), 0.1, epsilon=0.1, n_episodes=50, bonus_scale=0.01)
    >>> run.values.shape, bool(np.allclose(run.policies.sum(axis=-1), 1.0))
    ((50,), True)
    """
    V.check_mdp(mdp, criterion="finite_horizon")
    lam_ = V.check_real(lam, "lam", low=0.0, low_open=True)
    ref = _reference(mdp, ref_policy)
    return _bpi(mdp, ref, lam_, algorithm="demo_regularized_bpi", epsilon=epsilon, n_episodes=n_episodes, bonus=bonus,
                bonus_scale=bonus_scale, delta=delta, stage_dependent=stage_dependent, checkpoints=checkpoints,
                n_runs=n_runs, rng=rng)


def unregularized_bpi(mdp, *, epsilon, n_episodes, bonus="hoeffding", bonus_scale=1.0, delta=0.1, stage_dependent=None,
                      checkpoints=None, n_runs=None, rng=0):
    """The control: UCBVI-based BPI (greedy optimistic policies, the same stopping gap), i.e.
    :func:`demo_regularized_bpi`'s code path with ``lam = 0`` (hard maximum, no KL term)."""
    V.check_mdp(mdp, criterion="finite_horizon")
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    ref = np.full((H, S, A), 1.0 / A)
    return _bpi(mdp, ref, 0.0, algorithm="unregularized_bpi", epsilon=epsilon, n_episodes=n_episodes, bonus=bonus,
                bonus_scale=bonus_scale, delta=delta, stage_dependent=stage_dependent, checkpoints=checkpoints,
                n_runs=n_runs, rng=rng)


def regularized_backup(P_hat, R, ref_policy, lam):
    r"""The agent's optimistic regularised backward induction (:func:`_demo_kernels.optimistic_soft_plan`,
    the compiled kernel every episode runs) on a given model with bonus 0.

    The model enters as the kernel's statistics: one pseudo-visit per ``(h, s, a)`` with
    transition "counts" ``P_hat[h, s, a, :]`` and every state a successor, so the kernel's
    empirical mean is exactly ``P_hat_h V``.

    Parameters
    ----------
    P_hat : array_like, shape (H, S, A, S)
        A stage-dependent kernel, rows on the simplex.
    R : array_like, shape (H, S, A)
        Rewards in ``[0, 1]``.
    ref_policy : array_like, shape (S, A) or (H, S, A)
    lam : float >= 0
        ``0`` is the hard maximum (the control's backup).

    Returns
    -------
    (Vbar, policy) : ndarrays of shapes (H + 1, S) and (H, S, A)
        :math:`\bar V_h` (``Vbar[H] = 0``) and the soft-greedy policy, with
        :math:`\bar Q_h = \min(H - h, R_h + \hat P_h \bar V_{h+1})`.
    """
    P = V.as_float_array(P_hat, "P_hat", ndim=4)
    H, S, A, S2 = P.shape
    if S2 != S:
        raise ValueError(f"P_hat must have shape (H, S, A, S), got {P.shape}")
    V.check_nonnegative(P, "P_hat")
    V.check_rows_stochastic(P, "P_hat")
    R_ = V.as_float_array(R, "R", ndim=3)
    if R_.shape != (H, S, A):
        raise ValueError(f"R must have shape (H, S, A) = ({H}, {S}, {A}), got {R_.shape}")
    lam_ = V.check_real(lam, "lam", low=0.0)
    ref = V.as_stochastic_policy(V.check_policy(ref_policy, S, A, horizon=H, name="ref_policy", kind="stochastic"), A)
    ref = np.ascontiguousarray(np.broadcast_to(ref, (H, S, A)))
    with np.errstate(divide="ignore"):
        log_ref = np.log(ref)
    succ = np.ascontiguousarray(np.broadcast_to(np.arange(S, dtype=np.int64), (H, S, A, S)))
    nsucc = np.full((H, S, A), S, dtype=np.int64)
    N = np.ones((H, S, A))
    Vbar = np.zeros((H + 1, S))
    B = np.zeros((H, S, A))
    pol = np.zeros((H, S, A))
    _dk.optimistic_soft_plan(np.ascontiguousarray(P), succ, nsucc, N, False, np.ascontiguousarray(R_), log_ref, lam_,
                             _k.NO_BONUS, 0.0, 1.0, Vbar, B, pol, np.empty(A))
    return Vbar, pol


# ----------------------------------------------------------------------------------- RLHF
def trajectory_features(states, actions, n_states, n_actions):
    """One-hot ``(h, s, a)`` visit counts of trajectories: a sparse CSR array of shape ``(N, H * S * A)``
    (column ``(h * S + s) * A + a``), one nonzero per stage.

    ``states`` ``(N, H)`` or ``(N, H + 1)`` and ``actions`` ``(N, H)`` integer arrays.
    """
    st = np.asarray(states)
    ac = np.asarray(actions)
    if ac.ndim != 2 or st.ndim != 2 or st.shape[0] != ac.shape[0] or st.shape[1] < ac.shape[1]:
        raise ValueError(f"states (N, H[+1]) and actions (N, H) must match, got {st.shape} and {ac.shape}")
    N, H = ac.shape
    S = V.check_int(n_states, "n_states", low=1)
    A = V.check_int(n_actions, "n_actions", low=1)
    if st.size and (st[:, :H].min() < 0 or st[:, :H].max() >= S):
        raise ValueError(f"states must lie in [0, {S - 1}], got range [{st.min()}, {st.max()}]")
    if ac.size and (ac.min() < 0 or ac.max() >= A):
        raise ValueError(f"actions must lie in [0, {A - 1}], got range [{ac.min()}, {ac.max()}]")
    cols = ((np.arange(H)[None, :] * S + st[:, :H]) * A + ac).ravel().astype(np.int64)
    indptr = np.arange(0, N * H + 1, H, dtype=np.int64)
    return sp.csr_array((np.ones(N * H), cols, indptr), shape=(N, H * S * A))


@dataclass(frozen=True, eq=False)
class RewardFit:
    """Ridge logistic MLE of a trajectory reward.

    ``reward`` ``(H, S, A)``; ``grad_norm`` the sup norm of the penalised objective's gradient at the
    returned point (the fit certificate: 0 at the exact minimiser), ``n_iter`` Newton steps, ``ridge``.
    """

    reward: np.ndarray
    grad_norm: float
    n_iter: int
    ridge: float
    n_pairs: int


def fit_trajectory_reward(X_diff, y, shape, *, ridge=1.0, tol=1e-10, max_iter=100) -> RewardFit:
    r"""Ridge-regularised logistic MLE :math:`\min_\theta \sum_i [\log(1 + e^{\theta x_i}) - y_i\theta x_i]
    + \frac{\mu}{2}\|\theta\|^2` by Newton's method with backtracking (module docstring).

    Parameters
    ----------
    X_diff : array_like or scipy.sparse array, shape (N, d)
        Feature differences :math:`\phi(\tau^1_i) - \phi(\tau^2_i)`.
    y : array_like, shape (N,)
        1 where :math:`\tau^1_i` was preferred, else 0.
    shape : tuple
        ``(H, S, A)`` with ``H * S * A == d``.
    ridge : float > 0
        :math:`\mu`.
    """
    if sp.issparse(X_diff):
        X = sp.csr_array(X_diff, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X_diff must be 2-D, got shape {X.shape}")
        V.check_finite(X.data, "X_diff")
    else:
        X = V.as_float_array(X_diff, "X_diff", ndim=2)
        V.check_finite(X, "X_diff")
    yy = V.as_float_array(y, "y", ndim=1)
    if yy.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X_diff, got {yy.shape}")
    if not np.all((yy == 0.0) | (yy == 1.0)):
        raise ValueError(f"y must hold labels 0 or 1, got values {np.unique(yy)[:5]}")
    mu = V.check_real(ridge, "ridge", low=0.0, low_open=True)
    d = X.shape[1]
    if int(np.prod(shape)) != d:
        raise ValueError(f"shape {tuple(shape)} has {int(np.prod(shape))} entries but X_diff has {d} columns")
    # trajectory features are sparse (at most 2H nonzeros per row): sparse products keep the
    # Hessian X^T W X cheap and free of BLAS threading
    Xs = X if sp.issparse(X) else sp.csr_array(X)
    theta = np.zeros(d)

    def objective(t):
        z = Xs @ t
        return float(np.sum(np.logaddexp(0.0, z) - yy * z) + 0.5 * mu * t @ t)

    def gradient(t):
        z = Xs @ t
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid, overflow-free
        return Xs.T @ (p - yy) + mu * t, p

    f = objective(theta)
    it = 0
    for it in range(1, max_iter + 1):
        grad, p = gradient(theta)
        if np.max(np.abs(grad)) <= tol * max(1.0, X.shape[0]):
            break
        Hm = (Xs.T @ (Xs * (p * (1.0 - p))[:, None])).toarray() + mu * np.eye(d)
        step = np.linalg.solve(Hm, grad)
        t = 1.0
        while True:
            cand = theta - t * step
            fc = objective(cand)
            if fc <= f - 1e-4 * t * float(grad @ step) or t < 1e-12:
                break
            t *= 0.5
        theta, f = cand, fc
    grad, _ = gradient(theta)
    return RewardFit(reward=V.readonly(theta.reshape(shape)), grad_norm=float(np.max(np.abs(grad))), n_iter=it,
                     ridge=mu, n_pairs=X.shape[0])


@dataclass(frozen=True, eq=False)
class RLHFResult:
    """Output of :func:`demo_regularized_rlhf`: ``policy`` ``(H, S, A)`` (the exact regularised
    optimum for ``reward``), ``reward`` ``(H, S, A)`` (the fitted :math:`\\hat r`), ``fit``
    (:class:`RewardFit`, the certificate), ``lam``, ``n_pairs``."""

    policy: np.ndarray
    reward: np.ndarray
    fit: RewardFit
    lam: float
    n_pairs: int


def demo_regularized_rlhf(mdp, ref_policy, lam, *, n_pairs, ridge=1.0, rng=0) -> RLHFResult:
    r"""Demonstration-regularised RLHF (module docstring): pairs from ``ref_policy``, Bradley-Terry
    preferences on true trajectory returns, ridge logistic MLE :math:`\hat r`, exact
    :math:`\lambda`-regularised optimum with :math:`\hat r` towards ``ref_policy``.

    Parameters
    ----------
    mdp : TabularMDP
        Finite horizon; its rewards define the (hidden) preferences only.
    ref_policy : array_like, shape (S, A) or (H, S, A)
        The clone :math:`\pi^{BC}`: samples the pairs and regularises the final policy.
    lam : float > 0
    n_pairs : int >= 1
        :math:`N^{RM}`.
    ridge : float > 0
        :math:`\mu` of :func:`fit_trajectory_reward`.
    rng : int, SeedSequence or Generator
    """
    V.check_mdp(mdp, criterion="finite_horizon")
    lam_ = V.check_real(lam, "lam", low=0.0, low_open=True)
    n = V.check_int(n_pairs, "n_pairs", low=1)
    ref = _reference(mdp, ref_policy)
    gen = V.check_rng(rng)
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    tr = mdps.rollout(mdp, ref, 2 * n, rng=gen)
    X = trajectory_features(tr.states, tr.actions, S, A)
    ret = X @ np.ascontiguousarray(np.broadcast_to(mdp.R, (H, S, A))).reshape(-1)
    margin = ret[:n] - ret[n:]
    y = (gen.random(n) < 0.5 * (1.0 + np.tanh(0.5 * margin))).astype(np.float64)
    fit = fit_trajectory_reward(X[:n] - X[n:], y, (H, S, A), ridge=ridge)
    P = mdp.to_dense().P
    model = mdps.TabularMDP(P, np.asarray(fit.reward), horizon=H, rho=mdp.rho)
    sol = kl_regularized_optimum(model, ref, lam_)
    return RLHFResult(policy=sol.policy, reward=fit.reward, fit=fit, lam=lam_, n_pairs=n)
