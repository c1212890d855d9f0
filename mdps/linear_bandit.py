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

and **changing** action sets (Abbasi-Yadkori, Pál, Szepesvári 2011 allow an arbitrary set
:math:`D_t` in round ``t``), where round ``t`` offers its own finite set :math:`\mathcal X_t` and the
exact regret of the round is

.. math::

    r_t = \max_{x \in \mathcal X_t} \langle \theta, x \rangle - \langle \theta, x_t \rangle ,

given either as

* a **fixed sequence** of sets, an ``(n_sets, m, d)`` array or a list of ``(m_i, d)`` arrays
  (sizes may differ; stored padded, with ``set_sizes``): round ``t`` offers set ``t mod n_sets``
  (so a one-set sequence is a fixed set offered through the changing-set path); or
* a **generator** of sets, a callable ``sets(t, rng) -> (m_t, d)`` array (``rng`` a
  ``numpy.random.Generator``): each run draws its own sequence from its own seeded stream
  (:meth:`LinearBandit.action_sets`). :class:`IIDActionSets` is the i.i.d. case (``m`` Gaussian
  directions on the unit sphere per round) with a vectorised draw.

Decision: the generator's stream of a run is ``SeedSequence([run_seed, SETS_STREAM])``, separate
from the reward-noise stream, so the sets a run sees do not depend on what it played, and a batch
of runs equals the runs made alone.
"""

from __future__ import annotations

import numpy as np

from mdps import validation as V

__all__ = ["LinearBandit", "IIDActionSets", "SETS_STREAM"]

#: second word of the ``SeedSequence`` that draws a run's action sets (the first is the run's seed)
SETS_STREAM = 0x5E75


class IIDActionSets:
    r"""I.i.d. random action sets: in every round ``n_actions`` independent directions uniform on the
    unit sphere of :math:`\mathbb R^d` (normalised standard Gaussians), times ``radius``.

    A callable ``(t, rng) -> (n_actions, d)``; :meth:`draw` draws ``n_rounds`` sets at once and is the
    same stream as ``n_rounds`` successive calls (one ``rng.standard_normal((n_actions, d))`` per round
    in order; a test checks it).
    """

    def __init__(self, n_actions: int, d: int, radius: float = 1.0):
        self.n_actions = V.check_int(n_actions, "n_actions", low=1)
        self.d = V.check_int(d, "d", low=1)
        self.radius = V.check_real(radius, "radius", low=0.0, low_open=True)

    def _scale(self, G):
        nrm = np.linalg.norm(G, axis=-1, keepdims=True)
        return self.radius * G / np.where(nrm > 0.0, nrm, 1.0)

    def __call__(self, t, rng):
        return self._scale(rng.standard_normal((self.n_actions, self.d)))

    def draw(self, n_rounds: int, rng) -> np.ndarray:
        """``(n_rounds, n_actions, d)``: the sets of rounds ``0 .. n_rounds - 1``."""
        return self._scale(rng.standard_normal((n_rounds, self.n_actions, self.d)))

    def __repr__(self) -> str:
        return f"IIDActionSets(n_actions={self.n_actions}, d={self.d}, radius={self.radius:g})"


def _is_sequence_of_sets(actions) -> bool:
    """An ``(n, m, d)`` array, or a list/tuple whose items are all 2-D (ragged sizes allowed)."""
    if isinstance(actions, str):
        return False
    if isinstance(actions, np.ndarray):
        return actions.ndim == 3
    if isinstance(actions, (list, tuple)) and len(actions) > 0:
        try:
            return all(np.ndim(a) == 2 for a in actions)
        except ValueError:
            return False
    return False


def _pad_sets(sets, d: int, name: str):
    """A list of ``(m_i, d)`` arrays (or an ``(n, m, d)`` array) -> padded ``(n, m_max, d)`` and sizes."""
    if isinstance(sets, np.ndarray) and sets.ndim == 3:
        arrs = [V.as_float_array(sets, name, ndim=3)]
        arrs = list(arrs[0])
    else:
        arrs = [V.as_float_array(a, f"{name}[{i}]", ndim=2) for i, a in enumerate(sets)]
    if not arrs:
        raise ValueError(f"{name} must hold at least one action set, got 0")
    for i, a in enumerate(arrs):
        if a.shape[0] < 1 or a.shape[1] != d:
            raise ValueError(f"{name}[{i}] must have shape (m, {d}) with m >= 1 to match theta, got {a.shape}")
    sizes = np.array([a.shape[0] for a in arrs], dtype=np.int64)
    out = np.zeros((len(arrs), int(sizes.max()), d))
    for i, a in enumerate(arrs):
        out[i, : a.shape[0]] = a
    return out, sizes


class LinearBandit:
    r"""A stochastic linear bandit :math:`y = \langle\theta, x\rangle + \sigma\xi`.

    Parameters
    ----------
    actions : array_like of shape (n_actions, d), or "unit_ball"
        The fixed action set (finite, one action per row), or the Euclidean unit ball of
        :math:`\mathbb R^d` (then ``d = len(theta)``).
    theta : array_like, shape (d,)
        The unknown parameter.
        Or changing sets (module docstring): an ``(n_sets, m, d)`` array or a list of ``(m_i, d)``
        arrays, offered cyclically, or a callable ``(t, rng) -> (m_t, d)`` array.
    noise : float >= 0, default 0.1
        Standard deviation :math:`\sigma` of the Gaussian reward noise.
    action_norm_bound : float > 0, optional
        For a callable only: :math:`L`, a bound on the norms of the actions it draws (checked on
        every drawn set; default 1). Fixed sets and sequences compute it.

    Attributes
    ----------
    d : int
    finite : bool
        ``False`` for the unit ball.
    changing : bool
        ``True`` for changing action sets (a sequence or a callable).
    best_value : float or None
        :math:`\max_x \langle\theta, x\rangle` (``||theta||`` on the unit ball); ``None`` for
        changing sets (each round has its own: :meth:`best_values`).
    action_norm_bound : float
        :math:`L = \max_x \|x\|_2` (1 on the unit ball).

    Examples
    --------
    >>> import numpy as np
    >>> b = LinearBandit("unit_ball", [0.6, 0.8])
    >>> b.best_value, b.regret(np.array([[1.0, 0.0]]))
    (1.0, array([0.4]))
    """

    def __init__(self, actions, theta, noise: float = 0.1, *, action_norm_bound=None):
        theta = V.as_float_array(theta, "theta", ndim=1)
        if theta.size == 0:
            raise ValueError("theta must have at least one coordinate, got shape (0,)")
        self.theta = V.readonly(theta.copy())
        self.d = int(theta.size)
        self.noise = V.check_real(noise, "noise", low=0.0)
        self.changing = False
        self.sets = self.set_sizes = self.generator = None
        if action_norm_bound is not None and not callable(actions):
            raise ValueError(f"action_norm_bound is only for a callable of action sets, got {action_norm_bound!r} "
                             f"with actions of type {type(actions).__name__}")
        if callable(actions):
            self.finite = True
            self.changing = True
            self.actions = None
            self.generator = actions
            self.best_value = None
            self.action_norm_bound = 1.0 if action_norm_bound is None else V.check_real(
                action_norm_bound, "action_norm_bound", low=0.0, low_open=True)
        elif _is_sequence_of_sets(actions):
            sets, sizes = _pad_sets(actions, self.d, "actions")
            self.finite = True
            self.changing = True
            self.actions = None
            self.sets = V.readonly(sets)
            self.set_sizes = V.readonly(sizes)
            self.best_value = None
            self.action_norm_bound = float(np.linalg.norm(sets, axis=2).max())
        elif isinstance(actions, str):
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
        """Rows of a fixed finite action set; ``None`` for the unit ball and for changing sets."""
        return None if self.actions is None else int(self.actions.shape[0])

    def action_sets(self, n_rounds: int, *, rng=None):
        r"""The sets of rounds ``0 .. n_rounds - 1`` as ``(sets, sizes)``: ``sets`` of shape
        ``(n, m_max, d)`` (rows past ``sizes[i]`` are padding), round ``t`` offering set ``t mod n``.

        A fixed sequence returns itself (``n = n_sets``; ``rng`` unused). A callable is called for
        ``t = 0 .. n_rounds - 1`` with one ``numpy.random.Generator`` made from ``rng`` (its
        ``draw(n_rounds, rng)`` method when it has one), every set validated (finite, ``d``
        columns, at least one row, norms at most ``action_norm_bound``).
        """
        if not self.changing:
            raise ValueError(f"action_sets needs changing action sets; this bandit has {self!r}")
        if self.sets is not None:
            return np.asarray(self.sets), np.asarray(self.set_sizes)
        T = V.check_int(n_rounds, "n_rounds", low=1)
        gen = V.check_rng(rng)
        if hasattr(self.generator, "draw"):
            raw = self.generator.draw(T, gen)
        else:
            raw = [self.generator(t, gen) for t in range(T)]
        sets, sizes = _pad_sets(raw, self.d, "action set")
        norms = np.linalg.norm(sets, axis=2)
        if norms.max() > self.action_norm_bound * (1.0 + 1e-12):
            t, j = np.unravel_index(int(norms.argmax()), norms.shape)
            raise ValueError(f"action set {t} row {j} has norm {norms[t, j]:.6g} > action_norm_bound "
                             f"{self.action_norm_bound:.6g}")
        return sets, sizes

    def best_values(self, sets, sizes) -> np.ndarray:
        r""":math:`\max_{x \in \mathcal X_i}\langle\theta, x\rangle` for each set ``i`` of
        ``(sets, sizes)`` (padding rows ignored)."""
        sets = np.asarray(sets, dtype=float)
        sizes = np.asarray(sizes)
        m = sets @ self.theta
        m[np.arange(sets.shape[1])[None, :] >= sizes[:, None]] = -np.inf
        return m.max(axis=1)

    def means(self, x) -> np.ndarray:
        r""":math:`\langle\theta, x\rangle` for actions ``x`` of shape ``(..., d)``."""
        x = V.as_float_array(x, "x")
        if x.shape[-1:] != (self.d,):
            raise ValueError(f"x must have last dimension d = {self.d}, got shape {x.shape}")
        return x @ self.theta

    def regret(self, x, best=None) -> np.ndarray:
        r"""Exact per-round pseudo-regret :math:`\max_{x'}\langle\theta, x'\rangle - \langle\theta, x\rangle`.

        For changing sets pass ``best``, the rounds' best values (:meth:`best_values`).
        """
        if best is None:
            if self.changing:
                raise ValueError("best must be given for changing action sets (the best value of each round), "
                                 "got None")
            best = self.best_value
        return np.asarray(best, dtype=float) - self.means(x)

    def __repr__(self) -> str:
        if self.generator is not None:
            where = f"changing sets from {self.generator!r}"
        elif self.changing:
            where = f"a sequence of {self.sets.shape[0]} sets"
        else:
            where = "unit_ball" if not self.finite else f"{self.n_actions} actions"
        return f"LinearBandit({where}, d={self.d}, ||theta||={np.linalg.norm(self.theta):.3g}, noise={self.noise:g})"
