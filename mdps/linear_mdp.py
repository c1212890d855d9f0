r"""Finite-horizon linear MDPs with exact ground truth.

A linear MDP (Jin, Yang, Wang & Jordan 2020, *Provably Efficient Reinforcement Learning with
Linear Function Approximation*, COLT, arXiv:1907.05388, Assumption A) has known features
:math:`\phi(s, a) \in \mathbb R^d` and

.. math::

    P_h(s' \mid s, a) = \langle \phi(s, a), \mu_h(s') \rangle, \qquad
    r_h(s, a) = \langle \phi(s, a), \theta_h \rangle,

with :math:`\mu_h` (``d x S``) and :math:`\theta_h` (``d``) unknown to the learner (stage
dependent or not). The lab keeps the state space finite, so every induced transition law can be
validated (each row a distribution to ``1e-10``) and the MDP converted to a
:class:`mdps.TabularMDP` (:meth:`LinearMDP.to_tabular`) whose exact backward induction is the
ground truth for regret.

Generators: :meth:`LinearMDP.from_tabular` (one-hot features, ``d = S A``: every linear algorithm
can be compared with a tabular computation as an identity) and :meth:`LinearMDP.random` (features
on the simplex and factor distributions, so the induced kernel is a distribution by construction).
"""

from __future__ import annotations

import numpy as np

from mdps import validation as V
from mdps.tabular import TabularMDP

__all__ = ["LinearMDP"]

ROW_ATOL = 1e-10


class LinearMDP:
    r"""A finite-horizon linear MDP on a finite state space.

    Parameters
    ----------
    phi : array_like, shape (S, A, d)
        Features.
    mu : array_like, shape (d, S) or (H, d, S)
        Factor measures: ``P_h(s'|s,a) = phi[s, a] @ mu_h[:, s']``.
    theta : array_like, shape (d,) or (H, d)
        Reward parameters: ``r_h(s, a) = phi[s, a] @ theta_h``; rewards must lie in ``[0, 1]``.
    horizon : int >= 1
    rho : array_like, shape (S,), optional
        Initial law (default: state 0).

    Raises ``ValueError`` naming the argument when a shape is wrong, an entry is not finite, an
    induced transition row is not a distribution (naming the stage, state and action) or a reward
    leaves ``[0, 1]``.

    Examples
    --------
    >>> import mdps
    >>> lin = LinearMDP.from_tabular(mdps.river_swim(3, horizon=4))
    >>> lin.d, lin.to_tabular().horizon
    (6, 4)
    """

    def __init__(self, phi, mu, theta, *, horizon, rho=None):
        H = V.check_int(horizon, "horizon", low=1)
        phi = V.as_float_array(phi, "phi", ndim=3)
        S, A, d = phi.shape
        if min(S, A, d) < 1:
            raise ValueError(f"phi must have shape (S, A, d) with positive sizes, got {phi.shape}")
        mu = V.as_float_array(mu, "mu", ndim=(2, 3))
        if mu.shape[-2:] != (d, S) or (mu.ndim == 3 and mu.shape[0] != H):
            raise ValueError(f"mu must have shape (d, S) = ({d}, {S}) or (H, d, S) = ({H}, {d}, {S}), got {mu.shape}")
        theta = V.as_float_array(theta, "theta", ndim=(1, 2))
        if theta.shape[-1] != d or (theta.ndim == 2 and theta.shape[0] != H):
            raise ValueError(f"theta must have shape (d,) = ({d},) or (H, d) = ({H}, {d}), got {theta.shape}")
        mus = np.broadcast_to(mu, (H, d, S)) if mu.ndim == 2 else mu
        P = np.einsum("sad,hdt->hsat", phi, mus)
        bad = (P < -ROW_ATOL) | ~np.isfinite(P)
        if bad.any():
            h, s, a, t = (int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"the induced transition P_{h}({t}|{s},{a}) = phi[{s}, {a}] @ mu[:, {t}] = "
                             f"{P[h, s, a, t]:.3g} is negative: mu and phi do not define a transition kernel")
        sums = P.sum(axis=-1)
        off = np.abs(sums - 1.0) > ROW_ATOL
        if off.any():
            h, s, a = (int(i) for i in np.argwhere(off)[0])
            raise ValueError(f"the induced transition row P_{h}(.|{s},{a}) sums to {sums[h, s, a]:.12g}, not 1: "
                             "mu and phi do not define a transition kernel")
        thetas = np.broadcast_to(theta, (H, d))
        R = np.einsum("sad,hd->hsa", phi, thetas)
        if R.min() < -ROW_ATOL or R.max() > 1.0 + ROW_ATOL:
            raise ValueError(f"the rewards phi @ theta must lie in [0, 1], got range [{R.min():.3g}, {R.max():.3g}]")
        self.horizon, self.n_states, self.n_actions, self.d = H, S, A, d
        self.phi = V.readonly(phi.copy())
        self.mu = V.readonly(mu.copy())
        self.theta = V.readonly(theta.copy())
        self.stage_dependent = bool(mu.ndim == 3 or theta.ndim == 2)
        self._P = V.readonly(np.clip(P, 0.0, None))
        self._R = V.readonly(np.clip(R, 0.0, 1.0))
        if rho is None:
            r0 = np.zeros(S)
            r0[0] = 1.0
            self.rho = V.readonly(r0)
        else:
            self.rho = V.readonly(V.check_distribution(rho, "rho", S))

    @property
    def P(self) -> np.ndarray:
        """The induced kernel ``(H, S, A, S)``."""
        return self._P

    @property
    def R(self) -> np.ndarray:
        """The induced rewards ``(H, S, A)``."""
        return self._R

    def to_tabular(self) -> TabularMDP:
        """The same MDP as a finite-horizon :class:`mdps.TabularMDP` (stage-dependent ``P``/``R``
        when ``mu``/``theta`` are): its backward induction is the exact ground truth."""
        P = self._P if self.mu.ndim == 3 else self._P[0]
        R = self._R if self.theta.ndim == 2 else self._R[0]
        return TabularMDP(P / P.sum(axis=-1, keepdims=True), R, horizon=self.horizon, rho=self.rho)

    @classmethod
    def from_tabular(cls, mdp: TabularMDP) -> "LinearMDP":
        """The one-hot linear MDP of a finite-horizon tabular MDP: ``d = S A``,
        ``phi(s, a) = e_{(s, a)}``, ``mu[(s, a), :] = P(.|s, a)``, ``theta[(s, a)] = R(s, a)``."""
        V.check_mdp(mdp, criterion="finite_horizon")
        S, A, H = mdp.n_states, mdp.n_actions, mdp.horizon
        phi = np.eye(S * A).reshape(S, A, S * A)
        P = mdp.to_dense().P
        mu = P.reshape(S * A, S) if P.ndim == 3 else P.reshape(H, S * A, S)
        R = np.asarray(mdp.R)
        theta = R.reshape(S * A) if R.ndim == 2 else R.reshape(H, S * A)
        return cls(phi, mu, theta, horizon=H, rho=mdp.rho)

    @classmethod
    def random(cls, n_states: int, n_actions: int, d: int, horizon: int, *, concentration: float = 0.5,
               rng=None) -> "LinearMDP":
        """A random low-rank linear MDP: ``phi(s, a) ~ Dirichlet(concentration 1_d)``, each factor
        ``mu[i, :] ~ Dirichlet(concentration 1_S)`` (so every ``P(.|s,a)`` is a mixture of the
        ``d`` factor distributions), ``theta ~ U[0, 1]^d``; initial state 0."""
        S = V.check_int(n_states, "n_states", low=1)
        A = V.check_int(n_actions, "n_actions", low=1)
        dd = V.check_int(d, "d", low=1)
        H = V.check_int(horizon, "horizon", low=1)
        c = V.check_real(concentration, "concentration", low=0.0, low_open=True)
        gen = V.check_rng(rng)
        phi = gen.dirichlet(np.full(dd, c), size=(S, A))
        mu = gen.dirichlet(np.full(S, c), size=dd)
        theta = gen.random(dd)
        return cls(phi, mu, theta, horizon=H)

    def __repr__(self) -> str:
        return (f"LinearMDP(S={self.n_states}, A={self.n_actions}, d={self.d}, H={self.horizon}"
                f"{', stage-dependent' if self.stage_dependent else ''})")
