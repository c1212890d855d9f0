r"""The prox-step primitive shared by every Nash-learning update, and the step-size schedules.

Every tabular update of :mod:`algorithms.nash` is one (or two) geometric steps on the simplex,
done in log space (docs/theory/nash.md, section 'Closed-form prox steps'):

.. math::

    \operatorname{prox}(\pi_0, \mu, v; \eta, \beta)
      = \arg\max_{\pi\in\Delta_K}\; \eta\langle \pi, v\rangle - \eta\beta\,\mathrm{KL}(\pi\|\mu)
        - \mathrm{KL}(\pi\|\pi_0)
      \;\propto\; \pi_0^{1/(1+\eta\beta)}\,\mu^{\eta\beta/(1+\eta\beta)}\,
        \exp\!\big(\eta v/(1+\eta\beta)\big)

and the *linearised* variant (``KL(pi || mu)`` replaced by its linearisation at ``pi_0``)

.. math::

    \operatorname{prox}^{\mathrm{lin}}(\pi_0, \mu, v; \eta, \beta)
      \;\propto\; \pi_0^{1-\eta\beta}\,\mu^{\eta\beta}\,\exp(\eta v),
      \qquad \eta\beta \le 1 .

Users: Nash-MP (both of its steps, :func:`prox_step`), Nash-MD (its geometric mixture is
``prox_lin`` with ``v = 0`` and its step is ``prox_lin`` with the win rate of the mixture),
OMD / INPO / Hedge (``prox_lin`` or ``prox``; with ``beta = 0`` both are the Hedge step
``pi_0 * exp(eta v)``), DNO and SPO (Hedge). There is no other copy of this arithmetic.

Both functions take and return **log**-policies, shape ``(K,)`` or ``(X, K)`` (one row per
context, normalised along the last axis). The public functions validate their arguments
(finite arrays of matching shapes, ``eta, beta >= 0``); the algorithms call the private
``_prox`` / ``_prox_lin``, which trust theirs.

Step sizes: :func:`step_sizes` turns ``schedule`` ("constant", "decaying" or a callable
``t -> eta_t``) into the array ``(eta_0, ..., eta_{n_iter-1})``. The "decaying" form is

* ``beta > 0``: ``eta_t = eta / (1 + eta * beta * t / 2)``. With ``eta = 1/beta`` this is
  exactly Munos et al.'s ``eta_t = 2 / (tau (t + 2))`` (docs/theory/nash.md, section 'Nash-MD', the schedule of the
  ``max(2 KL_0, 8/tau^2)/(T+2)`` bound); any other ``eta`` gives the same ``1/t`` tail started
  at ``eta_0 = eta``;
* ``beta = 0`` (Hedge, SPO, DNO): ``eta_t = eta / sqrt(t + 1)`` (the anytime Hedge schedule).
"""

from __future__ import annotations

import numbers

import numpy as np

from mdps.preference import check_beta
from mdps.validation import as_float_array, check_int, check_positive

from algorithms.nash import _kernels as _k

__all__ = ["prox_step", "linearized_prox_step", "step_sizes"]


def _normalize(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(z - logsumexp(z), softmax(z))`` along the last axis, with one ``exp``.

    A fused form of :func:`mdps.numerics.log_softmax` / ``softmax`` for the hot loop (the
    iterate is needed both as a log-policy and as a policy for the next matvec).
    """
    m = z.max(axis=-1, keepdims=True)
    z = z - m
    e = np.exp(z)
    s = e.sum(axis=-1, keepdims=True)
    e /= s
    z -= np.log(s)
    return z, e


def _geometric_numpy(a: float, log_p, b: float, log_anchor, c: float, v):
    """NumPy reference of :func:`algorithms.nash._kernels.geometric_normalize`: normalised
    ``a log_p + b log_anchor + c v`` (terms with a zero weight or a ``None`` array skipped);
    returns ``(log_pi, pi)``."""
    z = a * log_p if a != 0.0 else np.zeros(np.shape(log_p))
    if b != 0.0 and log_anchor is not None:
        z = z + b * log_anchor
    if c != 0.0 and v is not None:
        z = z + c * v
    return _normalize(z)


def _as_rows(arr, shape, rows_shape):
    """``arr`` broadcast to ``shape`` as a C-contiguous float64 ``(rows, K)`` array (no copy if it is one)."""
    if isinstance(arr, np.ndarray) and arr.shape == shape and arr.dtype == np.float64 and arr.flags.c_contiguous:
        return arr.reshape(rows_shape)
    return np.ascontiguousarray(np.broadcast_to(arr, shape), dtype=np.float64).reshape(rows_shape)


def _geometric(a: float, log_p, b: float, log_anchor, c: float, v):
    """Normalised ``a log_p + b log_anchor + c v`` as ``(log_pi, pi)``, through the fused
    Numba kernel (one pass, one ``exp`` per entry)."""
    log_p = np.asarray(log_p, dtype=np.float64)
    shape = log_p.shape
    rows = (-1, shape[-1]) if log_p.ndim != 2 else shape
    lp = _as_rows(log_p, shape, rows)
    if b == 0.0 or log_anchor is None:
        b, la = 0.0, lp
    else:
        la = _as_rows(log_anchor, shape, rows)
    if c == 0.0 or v is None:
        c, vv = 0.0, lp
    else:
        vv = _as_rows(v, shape, rows)
    z = np.empty(lp.shape)
    pi = np.empty(lp.shape)
    _k.geometric_normalize(float(a), lp, float(b), la, float(c), vv, z, pi)
    return z.reshape(shape), pi.reshape(shape)


def _prox(log_pi0, log_mu, v, eta: float, beta: float):
    """Exact two-anchor prox step; returns ``(log_pi, pi)``."""
    s = 1.0 / (1.0 + float(eta) * float(beta))  # (Python floats: eta beta = inf gives s = 0, silently)
    return _geometric(s, log_pi0, 1.0 - s, log_mu, eta * s, v)


def _prox_lin(log_pi0, log_mu, v, eta: float, beta: float):
    """Linearised prox step; returns ``(log_pi, pi)``."""
    a = eta * beta
    return _geometric(1.0 - a, log_pi0, a, log_mu, eta, v)


def prox_step(log_pi0, log_mu, v, eta: float, beta: float) -> np.ndarray:
    r"""Log of the two-anchor prox step :math:`\pi \propto \pi_0^{1/(1+\eta\beta)}
    \mu^{\eta\beta/(1+\eta\beta)} e^{\eta v/(1+\eta\beta)}`.

    Parameters
    ----------
    log_pi0 : ndarray, shape (K,) or (X, K)
        Log of the proximal centre :math:`\pi_0`.
    log_mu : ndarray, shape (K,) or (X, K), or None
        Log of the reference :math:`\mu` (ignored, may be ``None``, when ``beta == 0``).
    v : ndarray, shape (K,) or (X, K), or None
        Payoff vector (win rates :math:`P\pi'`); ``None`` means ``v = 0``.
    eta, beta : float >= 0
        Step size and regularisation (finite); a step that overflows float64 raises ``ValueError``.

    Returns
    -------
    ndarray, same shape as ``log_pi0``: the normalised log-policy, i.e. the maximiser of
    ``eta <pi, v> - eta beta KL(pi || mu) - KL(pi || pi0)`` (docs/theory/nash.md, section 'Closed-form prox steps', item 2).

    Examples
    --------
    >>> import numpy as np
    >>> lp = prox_step(np.log([0.5, 0.5]), np.log([0.5, 0.5]), np.array([1.0, 0.0]), 1.0, 0.0)
    >>> np.round(np.exp(lp), 4)
    array([0.7311, 0.2689])
    """
    args = _check_prox_args(log_pi0, log_mu, v, eta, beta)
    with np.errstate(over="ignore", invalid="ignore"):
        return _finite_step(_prox(*args)[0], eta, beta)


def _finite_step(log_pi, eta, beta):
    if not np.all(np.isfinite(log_pi)):
        raise ValueError(f"the prox step overflowed float64 (eta={eta!r}, beta={beta!r}, with this payoff v): "
                         "use a smaller eta")
    return log_pi


def _check_prox_args(log_pi0, log_mu, v, eta, beta):
    lp = as_float_array(log_pi0, "log_pi0", ndim=(1, 2))
    if lp.size == 0:
        raise ValueError(f"log_pi0 must have at least one entry per row, got shape {lp.shape}")
    eta = check_positive(eta, "eta", allow_zero=True)
    beta = check_positive(beta, "beta", allow_zero=True)
    out = [lp]
    for name, arr in (("log_mu", log_mu), ("v", v)):
        if arr is not None:
            arr = as_float_array(arr, name, ndim=(1, 2))
            if arr.shape[-1] != lp.shape[-1] or np.broadcast_shapes(arr.shape, lp.shape) != lp.shape:
                raise ValueError(f"{name} must have shape {lp.shape} (or broadcast to it), got {arr.shape}")
        out.append(arr)
    if beta > 0 and out[1] is None:
        raise ValueError(f"log_mu is required when beta > 0, got None (beta={beta!r})")
    return out[0], out[1], out[2], eta, beta


def linearized_prox_step(log_pi0, log_mu, v, eta: float, beta: float) -> np.ndarray:
    r"""Log of the linearised prox step :math:`\pi \propto \pi_0^{1-\eta\beta}\mu^{\eta\beta}
    e^{\eta v}` (OMD/INPO, Nash-MD; meaningful for :math:`\eta\beta \le 1`).

    Same arguments and shapes as :func:`prox_step`, and ``eta * beta <= 1``. With ``v = None``
    this is the geometric mixture :math:`\pi_0^{1-\eta\beta}\mu^{\eta\beta}` (Nash-MD's regularised opponent).
    """
    args = _check_prox_args(log_pi0, log_mu, v, eta, beta)
    if args[3] * args[4] > 1.0 + 1e-12:
        raise ValueError(f"eta * beta must be <= 1 for the linearised prox, got eta={eta!r}, beta={beta!r}")
    with np.errstate(over="ignore", invalid="ignore"):
        return _finite_step(_prox_lin(*args)[0], eta, beta)


#: Range of a step size: outside it the updates (``eta * payoff``, the step-weighted average)
#: underflow or overflow float64.
ETA_MIN, ETA_MAX = 1e-300, 1e300


def check_step(value, name: str = "eta") -> float:
    """A step size: a real number, finite, in ``[ETA_MIN, ETA_MAX] = [1e-300, 1e300]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    if not (ETA_MIN <= v <= ETA_MAX):
        raise ValueError(f"{name} must lie in [{ETA_MIN:g}, {ETA_MAX:g}] (outside it the updates underflow or "
                         f"overflow float64), got {value!r}")
    return v


def step_sizes(schedule, eta: float, n_iter: int, *, beta: float = 0.0) -> np.ndarray:
    """The step sizes ``(eta_0, ..., eta_{n_iter - 1})`` of a run (see the module docstring).

    ``schedule`` is ``"constant"``, ``"decaying"`` or a callable ``t -> eta_t`` (called with
    the integers ``0..n_iter-1``). ``eta`` and every value of a callable must lie in
    ``[1e-300, 1e300]`` (:func:`check_step`).
    """
    n_iter = check_int(n_iter, "n_iter", low=1)
    eta = check_step(eta)
    beta = check_beta(beta, allow_zero=True)
    t = np.arange(n_iter, dtype=np.float64)
    if callable(schedule):
        out = np.empty(n_iter)
        for i in range(n_iter):
            val = schedule(i)
            if isinstance(val, (bool, np.bool_)) or not isinstance(val, numbers.Real):
                raise TypeError(f"schedule({i}) must be a real number > 0, got {val!r}")
            if not np.isfinite(val) or val <= 0:
                raise ValueError(f"schedule({i}) must be a finite number > 0, got {val!r}")
            out[i] = check_step(val, f"schedule({i})")
        return out
    if isinstance(schedule, str) and schedule == "constant":
        return np.full(n_iter, float(eta))
    if isinstance(schedule, str) and schedule == "decaying":
        with np.errstate(over="ignore", invalid="ignore"):
            out = eta / (1.0 + eta * beta * t / 2.0) if beta > 0 else eta / np.sqrt(t + 1.0)
        if not np.all((out >= ETA_MIN) & (out <= ETA_MAX)):
            raise ValueError(f"schedule='decaying' with eta={eta!r}, beta={beta!r} and n_iter={n_iter} gives steps "
                             f"outside [{ETA_MIN:g}, {ETA_MAX:g}] (float64 underflow)")
        return out
    raise ValueError(f"schedule must be 'constant', 'decaying' or a callable t -> eta_t, got {schedule!r}")
