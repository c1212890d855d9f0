r"""Behaviour cloning from expert demonstrations and the KL-regularised planning oracle of
demonstration-regularised RL.

Paper: D. Tiapkin, D. Belomestny, D. Calandriello, E. Moulines, R. Munos, A. Naumov,
P. Perrault, M. Valko, P. Menard, *Demonstration-Regularized RL*, ICLR 2024, arXiv 2310.17303.
Setting: an episodic MDP with stages ``h = 0..H-1``, an expert policy :math:`\pi^E` and
:math:`N^E` expert trajectories (states and actions, no rewards). Phase 1 clones the expert;
phase 2 solves the RL problem regularised by the trajectory KL to the clone.

Phase 1, behaviour cloning (tabular) **[A]** (the paper's estimator is maximum likelihood with a
logarithmic regulariser; its maximiser is the add-:math:`\kappa` rule below, derived here):

.. math::

    \pi^{BC}_h(a \mid s) = \frac{N_h(s, a) + \kappa}{N_h(s) + \kappa A},
    \qquad N_h(s, a) = \#\{i : s^i_h = s, a^i_h = a\}, \quad N_h(s) = \sum_a N_h(s, a).

It maximises :math:`\sum_a (N_h(s,a) + \kappa) \log q_a` over the simplex (Lagrange: :math:`q_a
\propto N_h(s,a) + \kappa`), i.e. the log-likelihood plus :math:`\kappa \sum_a \log q_a`. Every
action keeps probability at least :math:`\kappa / (N_h(s) + \kappa A) > 0`, so the KL from any
expert to the clone is finite. An unvisited :math:`(h, s)` gets the uniform law.

Guarantee **[A]** (stated form: :math:`\mathrm{KL}_{traj}(\pi^E \| \pi^{BC}) = \tilde O(SAH/N^E)`).
The lab computes the expected KL *exactly* (:func:`bc_expected_kl`) and its leading term
(:func:`bc_kl_leading_term`); both derivations below are **[R]** (exact calculations).

Trajectory KL (exact; see :func:`mdps.trajectory_kl` for the derivation): the initial law and
transitions cancel in the likelihood ratio of the two trajectory laws, so

.. math::

    \mathrm{KL}(\mathbb P^{\pi^E} \| \mathbb P^{\pi^{BC}})
    = \sum_h \sum_s d^E_h(s)\, \mathrm{KL}(\pi^E_h(\cdot|s) \| \pi^{BC}_h(\cdot|s)),
    \qquad d^E_h(s) = \Pr{}^{\pi^E}(s_h = s).

Exact expectation over the demonstrations. The ``N`` trajectories are i.i.d., and each visits
exactly one pair :math:`(s, a)` at stage ``h``, so marginally
:math:`N_h(s, a) \sim \mathrm{Bin}(N, q_h(s, a))` and :math:`N_h(s) \sim \mathrm{Bin}(N, d_h(s))`,
with :math:`q_h(s,a) = d_h(s)\pi^E_h(a|s)`. Writing :math:`p = \pi^E_h(\cdot|s)`, the KL at
:math:`(h, s)` is :math:`\sum_a p_a \log p_a - \sum_a p_a \log(N_h(s,a) + \kappa) +
\log(N_h(s) + \kappa A)`, which is *linear* in functions of one count each; so by linearity

.. math::

    \mathbb E\,\mathrm{KL}_{traj} = \sum_{h, s} d_h(s) \Big[\sum_a p_a \log p_a
    - \sum_{a: p_a > 0} p_a\, \mathbb E \log(\mathrm{Bin}(N, q_h(s,a)) + \kappa)
    + \mathbb E \log(\mathrm{Bin}(N, d_h(s)) + \kappa A)\Big],

a finite sum over binomial laws (:func:`bc_expected_kl`).

Leading term. Given :math:`N_h(s) = n`, :math:`\hat q_a - p_a = (N_a - n p_a + \kappa - \kappa A
p_a)/(n + \kappa A)`, and with :math:`A_s` actions in the support of :math:`p` the second-order
expansion :math:`\mathrm{KL}(p \| \hat q) = \tfrac12 \sum_{a \in \mathrm{supp}} (\hat q_a - \tilde
p_a)^2 / p_a + m + O(n^{-3/2})` (:math:`m` the clone's mass off the support, :math:`\tilde p` its
renormalisation) gives :math:`\mathbb E[\mathrm{KL} \mid n] = \frac{(A_s - 1)/2 + \kappa (A -
A_s)}{n} + O(n^{-2})`. Since :math:`n \approx N d_h(s)`, the weight :math:`d_h(s)` cancels:

.. math::

    \mathbb E\,\mathrm{KL}_{traj}(\pi^E \| \pi^{BC}) = \frac{1}{N}\sum_{(h,s):\, d_h(s) > 0}
    \Big(\frac{A_{h,s} - 1}{2} + \kappa (A - A_{h,s})\Big) + o(1/N),

for a full-support expert :math:`(A - 1)\,|\{(h, s): d_h(s) > 0\}| / (2N)`: the
:math:`SAH/N` of the theorem, with the constant 1/2 (:func:`bc_kl_leading_term`).

Phase 2, the KL-regularised objective **[A]** (definition read in the abstract and reviews; the
recursion below is the textbook soft Bellman equation, **[R]**):

.. math::

    J_\lambda(\pi) = V^\pi(\rho) - \lambda\, \mathrm{KL}(\mathbb P^\pi \| \mathbb P^{\tilde\pi}),

maximised exactly by soft backward induction (:func:`kl_regularized_optimum`):
:math:`Q_h = R_h + P_h V_{h+1}`, :math:`V_h(s) = \lambda \log \sum_a \tilde\pi_h(a|s)
e^{Q_h(s,a)/\lambda}`, :math:`\pi^\lambda_h(a|s) = \tilde\pi_h(a|s) e^{(Q_h(s,a) - V_h(s))/\lambda}`.
Soft performance difference (exact, **[R]**): for every Markov policy :math:`\pi`,

.. math::

    \rho \cdot V_0 - J_\lambda(\pi) = \lambda\, \mathrm{KL}(\mathbb P^\pi \| \mathbb P^{\pi^\lambda}).

Proof: at stage ``h`` and state ``s``, :math:`\sum_a \pi(a)[Q_h(s,a) - \lambda \log(\pi(a) /
\tilde\pi(a))] = V_h(s) - \lambda \mathrm{KL}(\pi_h(\cdot|s) \| \pi^\lambda_h(\cdot|s))` because
:math:`\lambda \log(\pi^\lambda/\tilde\pi) = Q_h - V_h`; unrolling from ``h = H-1`` down, with
:math:`Q_h` built on :math:`V_{h+1}` while :math:`\pi`'s regularised value builds on its own
value, the gaps accumulate along :math:`\pi`'s state laws into the trajectory KL (the same
cancellation as above). Hence :math:`\rho\cdot V_0 = \max_\pi J_\lambda(\pi)`, and for
:math:`\pi^*` optimal for the unregularised problem,
:math:`J_\lambda(\pi^\lambda) \ge J_\lambda(\pi^*)` gives the exact bias bound

.. math::

    V^* - V^{\pi^\lambda} = \lambda\big[\mathrm{KL}(\pi^*\|\tilde\pi) - \mathrm{KL}(\pi^\lambda\|\tilde\pi)
    - \mathrm{KL}(\pi^* \| \pi^\lambda)\big] \le \lambda\, \mathrm{KL}(\pi^* \| \tilde\pi)

(trajectory KLs throughout), and likewise with the expert in place of :math:`\pi^*`:
:math:`V^* - V^{\pi^\lambda} \le (V^* - V^{\pi^E}) + \lambda \mathrm{KL}(\pi^E \| \tilde\pi)`.

Departure from the paper: phase 2's learning algorithm (optimistic regularised BPI, UCBVI-Ent+)
is not in this module; :func:`kl_regularized_optimum` is its exact planning oracle on a known
model. The lab's reconstruction of the learning algorithm (optimistic soft backups with a
pessimistic regularised evaluation and the gap stopping rule, plus the unregularised control) and
of the RLHF variant is :mod:`algorithms.exploration.demo_bpi` (provenance [U]). Theory page:
docs/theory/exploration.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

import mdps
from mdps import validation as V

__all__ = ["behaviour_cloning", "demonstration_counts", "soft_expert", "bc_expected_kl",
           "bc_kl_leading_term", "kl_regularized_optimum", "RegularizedSolution"]


# ------------------------------------------------------------------------------- demonstrations
def _int_array(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (N, H) (one row per trajectory), got shape {arr.shape}")
    return arr.astype(np.int64, copy=False)


def demonstration_counts(trajectories_or_counts, n_states, n_actions, horizon) -> np.ndarray:
    r"""Visit counts :math:`N_h(s, a)` of expert demonstrations, shape ``(H, S, A)``.

    Parameters
    ----------
    trajectories_or_counts
        One of: a :class:`mdps.Trajectories` (``states (N, H+1)``, ``actions (N, H)``); any
        record with integer attributes (or mapping keys) ``states`` of shape ``(N, H)`` or
        ``(N, H+1)`` and ``actions`` of shape ``(N, H)``; or counts, a nonnegative finite array
        of shape ``(H, S, A)`` (returned as a float64 copy).
    n_states, n_actions, horizon : int >= 1
        ``S``, ``A`` and ``H``; the demonstrations must have exactly ``H`` stages.

    Raises
    ------
    ValueError, TypeError
        Wrong shapes, a horizon mismatch, states or actions out of range, negative counts (the
        message names the argument and the offending entry).
    """
    S = V.check_int(n_states, "n_states", low=1)
    A = V.check_int(n_actions, "n_actions", low=1)
    H = V.check_int(horizon, "horizon", low=1)
    data = trajectories_or_counts
    if isinstance(data, Mapping):
        if "states" not in data or "actions" not in data:
            raise ValueError(f"trajectories_or_counts as a mapping needs keys 'states' and 'actions', "
                             f"got {sorted(map(str, data))}")
        states, actions = data["states"], data["actions"]
    elif hasattr(data, "states") and hasattr(data, "actions"):
        states, actions = data.states, data.actions
    else:
        counts = V.as_float_array(data, "trajectories_or_counts")
        if counts.shape != (H, S, A):
            raise ValueError(f"trajectories_or_counts as counts must have shape (H, S, A) = ({H}, {S}, {A}), "
                             f"got {counts.shape}")
        V.check_nonnegative(counts, "trajectories_or_counts")
        return counts
    states = _int_array(states, "trajectories_or_counts.states")
    actions = _int_array(actions, "trajectories_or_counts.actions")
    N = actions.shape[0]
    if actions.shape[1] != H:
        raise ValueError(f"horizon is {H} but the demonstrations have {actions.shape[1]} stages "
                         f"(trajectories_or_counts.actions has shape {actions.shape})")
    if states.shape[0] != N or states.shape[1] not in (H, H + 1):
        raise ValueError(f"trajectories_or_counts.states must have shape (N, H) or (N, H+1) = ({N}, {H}) or "
                         f"({N}, {H + 1}) to match actions {actions.shape}, got {states.shape}")
    states = states[:, :H]
    for arr, name, hi in ((states, "states", S), (actions, "actions", A)):
        bad = (arr < 0) | (arr >= hi)
        if bad.any():
            i, h = np.argwhere(bad)[0]
            raise ValueError(f"trajectories_or_counts.{name}[{i}, {h}] is {int(arr[i, h])}, expected a value "
                             f"in [0, {hi - 1}]")
    flat = (np.arange(H)[None, :] * S + states) * A + actions
    return np.bincount(flat.ravel(), minlength=H * S * A).reshape(H, S, A).astype(np.float64)


def behaviour_cloning(trajectories_or_counts, n_states, n_actions, horizon, *, smoothing=1.0) -> np.ndarray:
    r"""Add-:math:`\kappa` behaviour cloning :math:`\pi^{BC}_h(a|s) = (N_h(s,a) + \kappa) / (N_h(s) + \kappa A)`.

    Parameters
    ----------
    trajectories_or_counts
        Demonstrations or counts, as in :func:`demonstration_counts`.
    n_states, n_actions, horizon : int >= 1
    smoothing : float > 0
        :math:`\kappa` (default 1, Laplace's rule).

    Returns
    -------
    ndarray, shape (H, S, A)
        A stage-dependent stochastic policy; every entry ``>= smoothing / (N_h(s) + smoothing A)``.

    Examples
    --------
    >>> import numpy as np
    >>> data = {"states": np.zeros((3, 1), dtype=int), "actions": np.array([[0], [0], [1]])}
    >>> behaviour_cloning(data, 1, 2, 1).tolist()
    [[[0.6, 0.4]]]
    """
    kappa = V.check_real(smoothing, "smoothing", low=0.0, low_open=True)
    counts = demonstration_counts(trajectories_or_counts, n_states, n_actions, horizon)
    A = counts.shape[-1]
    return (counts + kappa) / (counts.sum(axis=-1, keepdims=True) + kappa * A)


# ------------------------------------------------------------------------------------ experts
def soft_expert(mdp, temperature) -> np.ndarray:
    r"""The soft expert :math:`\pi^E_h(a|s) \propto \exp(Q^*_h(s,a)/\tau)`, shape ``(H, S, A)``.

    ``Q*`` from :func:`mdps.backward_induction`; every action has positive probability (full
    support), and the expert tends to an optimal policy as :math:`\tau \to 0`.
    """
    V.check_mdp(mdp, criterion="finite_horizon")
    tau = V.check_real(temperature, "temperature", low=0.0, low_open=True)
    return mdps.softmax(mdps.backward_induction(mdp).Q / tau, axis=-1)


def _state_laws(mdp, expert):
    V.check_mdp(mdp, criterion="finite_horizon")
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    pol = V.as_stochastic_policy(V.check_policy(expert, S, A, horizon=H, name="expert"), A)
    pol = np.broadcast_to(pol, (H, S, A))
    d = mdps.occupancy_measure(mdp, pol).sum(axis=-1)
    return pol, d


def _expected_log_binomial(n: int, q: float, shift: float) -> float:
    r""":math:`\mathbb E \log(X + c)`, :math:`X \sim \mathrm{Bin}(n, q)`, summed over the window of
    ``mean +- (40 sd + 40)`` (the mass outside is below ``1e-300``)."""
    if q <= 0.0:
        return float(np.log(shift))
    if q >= 1.0:
        return float(np.log(n + shift))
    mean, sd = n * q, np.sqrt(n * q * (1.0 - q))
    lo, hi = max(0, int(mean - 40 * sd - 40)), min(n, int(mean + 40 * sd + 40))
    k = np.arange(lo, hi + 1, dtype=np.float64)
    logpmf = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + k * np.log(q) + (n - k) * np.log1p(-q)
    w = np.exp(logpmf)
    return float(np.sum(w * np.log(k + shift)) / np.sum(w))


def bc_expected_kl(mdp, expert, n_demos, *, smoothing=1.0) -> float:
    r"""Exact :math:`\mathbb E\,\mathrm{KL}(\mathbb P^{\pi^E} \| \mathbb P^{\pi^{BC}})` over ``n_demos``
    i.i.d. expert trajectories, for add-:math:`\kappa` cloning (derivation in the module docstring).

    Parameters
    ----------
    mdp : TabularMDP
        Finite-horizon instance (the expert's trajectories start from ``mdp.rho``).
    expert : array_like
        The expert's Markov policy (any form :func:`mdps.evaluate` accepts).
    n_demos : int >= 0
    smoothing : float > 0
    """
    N = V.check_int(n_demos, "n_demos", low=0)
    kappa = V.check_real(smoothing, "smoothing", low=0.0, low_open=True)
    pol, d = _state_laws(mdp, expert)
    A = mdp.n_actions
    total = 0.0
    for h, s in zip(*np.nonzero(d > 0)):
        p = pol[h, s]
        sup = p > 0
        kl = float(np.sum(p[sup] * np.log(p[sup])))
        kl -= sum(float(p[a]) * _expected_log_binomial(N, float(d[h, s] * p[a]), kappa) for a in np.flatnonzero(sup))
        kl += _expected_log_binomial(N, float(d[h, s]), kappa * A)
        total += float(d[h, s]) * kl
    return total


def bc_kl_leading_term(mdp, expert, n_demos, *, smoothing=1.0) -> float:
    r"""The leading term of :func:`bc_expected_kl` as ``n_demos -> inf``:
    :math:`\frac1N \sum_{(h,s): d_h(s)>0} [(A_{h,s}-1)/2 + \kappa(A - A_{h,s})]`, with
    :math:`A_{h,s}` the size of the expert's support at ``(h, s)`` (derivation in the module
    docstring); :math:`(A-1)|\{(h,s): d_h(s)>0\}|/(2N)` for a full-support expert."""
    N = V.check_int(n_demos, "n_demos", low=1)
    kappa = V.check_real(smoothing, "smoothing", low=0.0, low_open=True)
    pol, d = _state_laws(mdp, expert)
    A = mdp.n_actions
    support = (pol > 0).sum(axis=-1)
    reached = d > 0
    return float(np.sum(((support - 1) / 2.0 + kappa * (A - support))[reached]) / N)


# --------------------------------------------------------------------- KL-regularised planning
@dataclass(frozen=True, eq=False)
class RegularizedSolution:
    r"""The exact optimum of :math:`J_\lambda(\pi) = V^\pi(\rho) - \lambda \mathrm{KL}_{traj}(\pi \| \tilde\pi)`.

    Attributes
    ----------
    policy : ndarray, shape (H, S, A)
        :math:`\pi^\lambda_h(a|s) = \tilde\pi_h(a|s) e^{(Q_h(s,a) - V_h(s))/\lambda}`.
    V : ndarray, shape (H, S)
        Optimal regularised values; ``rho @ V[0]`` is :math:`\max_\pi J_\lambda(\pi)`.
    Q : ndarray, shape (H, S, A)
        :math:`Q_h = R_h + P_h V_{h+1}`.
    lam : float
    value : float
        ``rho @ V[0]``.
    """

    policy: np.ndarray
    V: np.ndarray
    Q: np.ndarray
    lam: float
    value: float


def kl_regularized_optimum(mdp, ref_policy, lam) -> RegularizedSolution:
    r"""Soft backward induction: the exact maximiser of :math:`V^\pi(\rho) - \lambda \mathrm{KL}_{traj}(\pi \| \tilde\pi)`.

    .. math::

        Q_h = R_h + P_h V_{h+1}, \quad V_h(s) = \lambda \log \sum_a \tilde\pi_h(a|s) e^{Q_h(s,a)/\lambda},
        \quad \pi^\lambda_h(a|s) = \tilde\pi_h(a|s) e^{(Q_h(s,a) - V_h(s))/\lambda},

    with ``V_H = 0`` and the log-sum-exp taken stably (:func:`mdps.logsumexp`). Actions with
    :math:`\tilde\pi_h(a|s) = 0` keep probability 0.

    Parameters
    ----------
    mdp : TabularMDP
        Finite-horizon instance.
    ref_policy : array_like
        The reference :math:`\tilde\pi` (e.g. the cloned policy), any Markov policy form.
    lam : float > 0
        :math:`\lambda`.

    Returns
    -------
    RegularizedSolution

    Examples
    --------
    >>> import numpy as np, mdps
    >>> m = mdps.TabularMDP(np.ones((1, 2, 1)), np.array([[0.0, 1.0]]), horizon=1)
    >>> sol = kl_regularized_optimum(m, np.full((1, 2), 0.5), 1.0)
    >>> bool(np.isclose(sol.value, np.log((1 + np.e) / 2)))
    True
    """
    V.check_mdp(mdp, criterion="finite_horizon")
    lam_ = V.check_real(lam, "lam", low=0.0, low_open=True)
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    ref = V.as_stochastic_policy(V.check_policy(ref_policy, S, A, horizon=H, name="ref_policy"), A)
    ref = np.broadcast_to(ref, (H, S, A))
    with np.errstate(divide="ignore"):
        log_ref = np.log(ref)
    Vs = np.empty((H, S))
    Q = np.empty((H, S, A))
    pol = np.empty((H, S, A))
    V_next = np.zeros(S)
    for h in range(H - 1, -1, -1):
        Q[h] = mdp.R_stage(h) + np.asarray(mdp.P_matrix(h) @ V_next).reshape(S, A)
        logits = log_ref[h] + Q[h] / lam_
        lse = mdps.logsumexp(logits, axis=-1)
        Vs[h] = lam_ * lse
        pol[h] = np.exp(logits - lse[:, None])
        V_next = Vs[h]
    if not (np.isfinite(Vs).all() and np.isfinite(Q).all()):
        raise ValueError(f"the regularised values leave the float64 range (lam = {lam_:g}, max |R| = "
                         f"{float(np.abs(mdp.R).max()):.3g})")
    return RegularizedSolution(policy=V.readonly(pol), V=V.readonly(Vs), Q=V.readonly(Q), lam=lam_,
                               value=float(mdp.rho @ Vs[0]))
