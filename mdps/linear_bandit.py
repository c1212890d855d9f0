r"""Stochastic linear bandits with exact regret.

In round ``t`` the learner picks an action :math:`x_t` from the action set
:math:`\mathcal X \subset \mathbb R^d` and observes :math:`y_t = \langle \theta, x_t \rangle +
\sigma \xi_t`, :math:`\xi_t \sim N(0, 1)` i.i.d. (so the noise is :math:`\sigma`-sub-Gaussian).
The pseudo-regret of a round is exact and needs no simulation:

.. math::

    r_t = \max_{x \in \mathcal X} \langle \theta, x \rangle - \langle \theta, x_t \rangle .

Two kinds of action set:

* a **finite** set, the rows of an ``(n_actions, d)`` array (the best action is the row of largest
  mean; with a gap the regret of a good learner is eventually logarithmic);
* the **unit ball** :math:`\{x : \|x\|_2 \le 1\}` (``actions="unit_ball"``), whose best action is
  :math:`\theta / \|\theta\|` with value :math:`\|\theta\|`. It has no gap, and it is the instance
  where the :math:`d \sqrt T` rate of optimistic algorithms is tight for a *fixed* parameter
  (Rusmevichientong & Tsitsiklis 2010, Math. Oper. Res. 35; Lattimore & Szepesvári 2020,
  *Bandit Algorithms*, ch. 24) **[A]**.

Changing (contextual) action sets are not implemented yet.
"""

from __future__ import annotations

import numpy as np

from mdps import validation as V

__all__ = ["LinearBandit"]


class LinearBandit:
    r"""A stochastic linear bandit :math:`y = \langle\theta, x\rangle + \sigma\xi`.

    Parameters
    ----------
    actions : array_like of shape (n_actions, d), or "unit_ball"
        The fixed action set (finite, one action per row), or the Euclidean unit ball of
        :math:`\mathbb R^d` (then ``d = len(theta)``).
    theta : array_like, shape (d,)
        The unknown parameter.
    noise : float >= 0, default 0.1
        Standard deviation :math:`\sigma` of the Gaussian reward noise.

    Attributes
    ----------
    d : int
    finite : bool
        ``False`` for the unit ball.
    best_value : float
        :math:`\max_x \langle\theta, x\rangle` (``||theta||`` on the unit ball).
    action_norm_bound : float
        :math:`L = \max_x \|x\|_2` (1 on the unit ball).

    Examples
    --------
    >>> import numpy as np
    >>> b = LinearBandit("unit_ball", [0.6, 0.8])
    >>> b.best_value, b.regret(np.array([[1.0, 0.0]]))
    (1.0, array([0.4]))
    """

    def __init__(self, actions, theta, noise: float = 0.1):
        theta = V.as_float_array(theta, "theta", ndim=1)
        if theta.size == 0:
            raise ValueError("theta must have at least one coordinate, got shape (0,)")
        self.theta = V.readonly(theta.copy())
        self.d = int(theta.size)
        self.noise = V.check_real(noise, "noise", low=0.0)
        if isinstance(actions, str):
            if actions != "unit_ball":
                raise ValueError(f"actions must be an (n_actions, d) array or 'unit_ball', got {actions!r}")
            self.finite = False
            self.actions = None
            self.best_value = float(np.linalg.norm(theta))
            self.action_norm_bound = 1.0
        else:
            X = V.as_float_array(actions, "actions", ndim=2)
            if X.shape[0] < 1 or X.shape[1] != self.d:
                raise ValueError(f"actions must have shape (n_actions, {self.d}) to match theta, got {X.shape}")
            self.finite = True
            self.actions = V.readonly(X.copy())
            self.best_value = float((X @ theta).max())
            self.action_norm_bound = float(np.linalg.norm(X, axis=1).max())

    @property
    def n_actions(self) -> int | None:
        """Rows of a finite action set; ``None`` for the unit ball."""
        return None if self.actions is None else int(self.actions.shape[0])

    def means(self, x) -> np.ndarray:
        r""":math:`\langle\theta, x\rangle` for actions ``x`` of shape ``(..., d)``."""
        x = V.as_float_array(x, "x")
        if x.shape[-1:] != (self.d,):
            raise ValueError(f"x must have last dimension d = {self.d}, got shape {x.shape}")
        return x @ self.theta

    def regret(self, x) -> np.ndarray:
        r"""Exact per-round pseudo-regret :math:`\max_{x'}\langle\theta, x'\rangle - \langle\theta, x\rangle`."""
        return self.best_value - self.means(x)

    def __repr__(self) -> str:
        where = "unit_ball" if not self.finite else f"{self.n_actions} actions"
        return f"LinearBandit({where}, d={self.d}, ||theta||={np.linalg.norm(self.theta):.3g}, noise={self.noise:g})"
