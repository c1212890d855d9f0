r"""Per-pair preference losses of the DPO family, vectorised over numpy arrays, with exact derivatives.

Every loss is defined once here (the torch bridge reuses the formulas) and takes arrays that
broadcast elementwise; values and derivatives follow the numpy ufunc convention: a float64
ndarray of the broadcast shape, a ``numpy.float64`` scalar when every array argument is a
scalar. Keyword arguments never change the return type.

Notation
--------
A preference pair ``(x, y_w, y_l)`` (``y_w`` labelled the winner), policy ``pi``, reference
``pi_ref``, temperature ``beta > 0``. The log-ratio margin and the implicit reward margin are

.. math::

    h = \log\frac{\pi(y_w|x)}{\pi_{ref}(y_w|x)} - \log\frac{\pi(y_l|x)}{\pi_{ref}(y_l|x)},
    \qquad z = \beta h,

and :math:`\ell(z) = -\log\sigma(z) = \log(1 + e^{-z})`, computed as ``np.logaddexp(0, -z)``
(never ``log(sigmoid(z))``). Two identities carry every closed form below [R]:
:math:`\ell(-z) = \ell(z) + z` (the logit identity) and :math:`\ell'(z) = -\sigma(-z)`.

Losses (provenance tags as in ``labkit.TAGS``; docs/theory/preference_learning.md)
--------------------------------------------------------------------------------
``dpo(z)``
    R. Rafailov, A. Sharma, E. Mitchell, S. Ermon, C. D. Manning, C. Finn (2023), *Direct
    Preference Optimization: Your Language Model is Secretly a Reward Model*, arXiv 2305.18290.
    :math:`\ell(z)`. [A] (the loss is the paper's main equation; the reparametrisation behind
    it is [R]).
``cdpo(z, eps)``
    Conservative DPO / label smoothing, the baseline of the rDPO paper (below):
    :math:`(1-\varepsilon)\ell(z) + \varepsilon\ell(-z) = \ell(z) + \varepsilon z`. It is the
    expected DPO loss when the label is believed wrong with probability ``eps`` [R]; it is
    *not* unbiased under label noise (its per-pair minimiser is ``z = logit(1 - eps)``).
    ``eps`` in ``[0, 1/2]``: at ``1/2`` the loss is even in ``z`` (the label carries no
    information); ``eps > 1/2`` would equal ``cdpo(-z, 1 - eps)``, i.e. the labels reversed,
    which a caller should write by swapping winner and loser, so it is refused.
``rdpo(z, eps)``
    S. R. Chowdhury, A. Kini, N. Natarajan (2024), *Provably Robust DPO: Aligning Language
    Models with Noisy Feedback*, arXiv 2403.00409.
    :math:`\ell_\varepsilon(z) = [(1-\varepsilon)\ell(z) - \varepsilon\ell(-z)]/(1-2\varepsilon)
    = \ell(z) - \tfrac{\varepsilon}{1-2\varepsilon} z`. The de-biased loss is [A] (abstract);
    its formula is [R]: it is the unique solution ``L`` of
    :math:`(1-\varepsilon)L(z) + \varepsilon L(-z) = \ell(z)` for all ``z`` (exact unbiasedness
    under symmetric flips of known rate ``eps``), so the expected noisy loss is the clean DPO
    loss. ``eps`` in ``[0, 1/2)``: at ``1/2`` the flips destroy the label and the correction
    divides by zero. The loss is unbounded below (``~ -eps z/(1-2eps)`` as ``z -> +inf``);
    the estimators constrain or regularise the parameter.
``ipo(h, beta, *, normalization="sequence")``
    M. G. Azar, M. Rowland, B. Piot, D. Guo, D. Calandriello, M. Valko, R. Munos (2023), *A
    General Theoretical Paradigm to Understand Learning from Human Preferences*,
    arXiv 2310.12036. :math:`(h - \tfrac{1}{2\beta})^2` (the paper's ``tau`` = our ``beta``)
    [A]. A function of ``h``, not of ``z``: the target ``1/(2 beta)`` needs ``beta``.
    ``normalization`` names how the caller built ``h`` (see :func:`margin`): ``"sequence"``
    (the paper's: ``h`` from sequence log-probabilities, sums of token log-ratios) or
    ``"token"`` (the per-token average of each sequence's log-ratio, a practitioner variant
    [U]). The function expects ``h`` already in that normalisation and **never rescales
    it**; the keyword is validated and documents the caller's choice, because the same
    ``beta`` means a different regularisation under the two conventions.
``fdpo(ratio_w, ratio_l, beta, f=..., alpha=None)``
    C. Wang, Y. Jiang, C. Yang, H. Liu, Y. Chen (2023), *Beyond Reverse KL: Generalizing
    Direct Preference Optimization with Diverse Divergence Constraints*, arXiv 2309.16240.
    :math:`\ell(\beta f'(u_w) - \beta f'(u_l))` with ``u = pi / pi_ref > 0`` the two
    probability ratios. The loss form is [A]; the ``f'`` table is [R] (the derivatives of
    the recalled ``f``; the set of admissible divergences is [A]):

    ===============  ========================================  =========================
    ``f``            :math:`f(u)`                              :math:`f'(u)`
    ===============  ========================================  =========================
    ``reverse_kl``   :math:`u\log u`                           :math:`\log u + 1`
    ``forward_kl``   :math:`-\log u`                           :math:`-1/u`
    ``js``           :math:`u\log u-(u+1)\log\frac{u+1}{2}`    :math:`\log\frac{2u}{1+u}`
    ``alpha``        :math:`\frac{u^{1-\alpha}-(1-\alpha)u-\alpha}{\alpha(\alpha-1)}`,
                     :math:`\alpha\in(0,1)`                    :math:`(1-u^{-\alpha})/\alpha`
    ===============  ========================================  =========================

    Constants in ``f'`` cancel in the difference, so ``f="reverse_kl"`` is DPO on
    ``z = beta (log u_w - log u_l)`` exactly; ``alpha -> 0`` tends to reverse KL, and the
    forward-KL difference is the ``alpha = 1`` member of the same family.
``slic(z, delta=1.0)``
    Y. Zhao, R. Joshi, T. Liu, M. Khalman, M. Saleh, P. J. Liu (2023), *SLiC-HF: Sequence
    Likelihood Calibration with Human Feedback*, arXiv 2305.10425. The calibration hinge
    :math:`\max(0, \delta - z)` [A]. **Departure**: the paper's margin is the policy's
    log-likelihood difference ``log pi(y_w) - log pi(y_l)`` and it adds a regularisation term
    (cross-entropy on SFT data); here the hinge is a function of whatever margin the caller
    passes (``z = beta h`` in the DPO family), without the regulariser.

Derivatives
-----------
``dpo_grad(z)``, ``cdpo_grad(z, eps)``, ``rdpo_grad(z, eps)``, ``slic_grad(z, delta)`` return
``d loss / d z``; ``ipo_grad(h, beta)`` returns ``d loss / d h``; ``fdpo_grad`` returns the
pair ``(d loss / d ratio_w, d loss / d ratio_l)``. Closed forms [R]:
``dpo' = -sigma(-z)``, ``cdpo' = -sigma(-z) + eps``, ``rdpo' = -sigma(-z) - eps/(1-2eps)``
(= the paper's weight ``-[(1-eps) sigma(-z) + eps sigma(z)]/(1-2eps)``),
``ipo' = 2 (h - 1/(2 beta))``, ``d fdpo / d u_w = -sigma(-z) beta f''(u_w)``,
``d fdpo / d u_l = +sigma(-z) beta f''(u_l)``. The hinge's subgradient convention: ``-1`` for
``z < delta``, ``0`` for ``z >= delta`` (the minimum-norm element of the subdifferential
``[-1, 0]`` at the kink, and what autograd of ``relu(delta - z)`` gives).

Numerics
--------
Inputs are validated (finite real arrays; ``TypeError`` for complex, strings, bools as
``beta``; ``ValueError`` naming the argument and the value otherwise). Every value is
computed without intermediate overflow: ``dpo``, ``cdpo`` and their derivatives are finite for
every finite ``z`` (``dpo(1e300) == 0``, ``dpo(-1e300) == 1e300``); f-DPO differences of
``f'`` avoid cancellation (``expm1``, ``log(u_w/u_l)``) and, like the f-DPO derivatives, fall
back to log space only where a factor alone would overflow (a few ulps otherwise). Where the
*exact* value lies beyond the float64 range (``rdpo`` with ``eps`` near 1/2 and ``|z|`` near
the range, ``ipo`` with ``|h - 1/(2 beta)| > 1.3e154``, a forward-KL ratio near the smallest
float), an
``OverflowError`` names the first offending entry; ``inf`` is never returned.
"""

from __future__ import annotations

import numpy as np

from mdps.preference import check_beta
from mdps.validation import as_float_array, check_choice, check_real

__all__ = [
    "DIVERGENCES",
    "NORMALIZATIONS",
    "margin",
    "dpo",
    "dpo_grad",
    "cdpo",
    "cdpo_grad",
    "rdpo",
    "rdpo_grad",
    "ipo",
    "ipo_grad",
    "fdpo",
    "fdpo_grad",
    "slic",
    "slic_grad",
]

#: The f-divergences :func:`fdpo` accepts.
DIVERGENCES = ("reverse_kl", "forward_kl", "js", "alpha")
#: How a log-ratio margin ``h`` is built from per-token log-ratios (:func:`margin`, :func:`ipo`).
NORMALIZATIONS = ("sequence", "token")


# ----------------------------------------------------------------------------- validation


def _margin_array(z, name: str) -> np.ndarray:
    return as_float_array(z, name)


def _check_eps(eps, *, high: float, high_open: bool) -> float:
    return check_real(eps, "eps", low=0.0, high=high, high_open=high_open)


def _out(x) -> np.ndarray:
    """float64 result: an ndarray, or a ``numpy.float64`` scalar for 0-d (ufunc convention)."""
    return np.asarray(x, dtype=np.float64)[()]


def _finite_or_raise(out, what: str, args: dict):
    """Return ``out`` (via :func:`_out`) if finite; else OverflowError naming the first entry
    (the exact value lies beyond float64: the inputs are finite and validated before this)."""
    out = np.asarray(out, dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0]) if out.ndim else ()
        where = f"[{', '.join(str(int(i)) for i in idx)}]" if idx else ""
        vals = ", ".join(
            f"{k}{where if np.ndim(v) else ''}={float(np.broadcast_to(v, out.shape)[idx])!r}" for k, v in args.items()
        )
        raise OverflowError(f"{what}{where} exceeds the float64 range at {vals}")
    return _out(out)


def _log_sigmoid_neg(z: np.ndarray) -> np.ndarray:
    """``log sigma(-z) = -log(1 + e^z)``, stable for every float ``z``."""
    return -np.logaddexp(0.0, z)


def _sigmoid_neg(z: np.ndarray) -> np.ndarray:
    """``sigma(-z) = 1/(1 + e^z)`` without overflow (``exp`` of a non-positive number only)."""
    return np.exp(_log_sigmoid_neg(z))


def _ell(z: np.ndarray) -> np.ndarray:
    """``-log sigma(z) = log(1 + e^{-z})``."""
    return np.logaddexp(0.0, -z)


# ----------------------------------------------------------------------------- margin


def margin(logratio_w, logratio_l, *, normalization: str = "sequence", n_tokens_w=None, n_tokens_l=None):
    """The log-ratio margin ``h`` of a pair from sequence log-ratios.

    ``logratio_w = log pi(y_w|x) - log pi_ref(y_w|x)`` (a sequence log-probability ratio: the
    sum of its token log-ratios), likewise ``logratio_l``.

    * ``normalization="sequence"``: ``h = logratio_w - logratio_l`` (the token counts must be
      omitted).
    * ``normalization="token"``: ``h = logratio_w / n_tokens_w - logratio_l / n_tokens_l``,
      the difference of per-token averages (token counts required, positive).

    Returns float64 values of the broadcast shape. Pass the result to :func:`ipo` with the
    same ``normalization`` (and, times ``beta``, to the margin losses).
    """
    norm = check_choice(normalization, "normalization", NORMALIZATIONS)
    lw = as_float_array(logratio_w, "logratio_w")
    ll = as_float_array(logratio_l, "logratio_l")
    if norm == "sequence":
        for name, n in (("n_tokens_w", n_tokens_w), ("n_tokens_l", n_tokens_l)):
            if n is not None:
                raise ValueError(f"{name} must be None with normalization='sequence', got {n!r}")
        with np.errstate(over="ignore"):
            out = np.subtract(lw, ll)
        return _finite_or_raise(np.asarray(out, dtype=np.float64), "margin",
                                {"logratio_w": lw, "logratio_l": ll})
    counts = []
    for name, n in (("n_tokens_w", n_tokens_w), ("n_tokens_l", n_tokens_l)):
        if n is None:
            raise ValueError(f"{name} is required with normalization='token'")
        arr = as_float_array(n, name)
        bad = (arr <= 0) | (arr != np.floor(arr))
        if bad.any():
            idx = tuple(np.argwhere(bad)[0]) if arr.ndim else ()
            where = f"[{', '.join(str(int(i)) for i in idx)}]" if idx else ""
            raise ValueError(f"{name}{where} is {float(arr[idx])!r}, expected a positive whole number of tokens")
        counts.append(arr)
    with np.errstate(over="ignore"):
        out = lw / counts[0] - ll / counts[1]
    return _finite_or_raise(np.asarray(out, dtype=np.float64), "margin",
                            {"logratio_w": lw, "logratio_l": ll})


# ----------------------------------------------------------------------------- DPO family


def dpo(z):
    """DPO loss ``-log sigma(z)`` of the implicit reward margin ``z = beta h`` (module docstring)."""
    z = _margin_array(z, "z")
    return _out(_ell(z))


def dpo_grad(z):
    """``d dpo / d z = -sigma(-z)``."""
    z = _margin_array(z, "z")
    return _out(-_sigmoid_neg(z))


def cdpo(z, eps):
    """Conservative DPO (label smoothing) ``(1-eps) l(z) + eps l(-z)``, ``eps`` in ``[0, 1/2]``.

    Both terms are non-negative, so the sum is accurate to a few ulps for every ``z``;
    ``eps = 0`` returns ``dpo(z)`` exactly.
    """
    z = _margin_array(z, "z")
    e = _check_eps(eps, high=0.5, high_open=False)
    return _out((1.0 - e) * _ell(z) + e * _ell(-z))


def cdpo_grad(z, eps):
    """``d cdpo / d z = -(1-eps) sigma(-z) + eps sigma(z) = -sigma(-z) + eps``."""
    z = _margin_array(z, "z")
    e = _check_eps(eps, high=0.5, high_open=False)
    return _out(e - _sigmoid_neg(z))


def _rdpo_coef(e: float) -> float:
    """``eps / (1 - 2 eps)``; ``1 - 2 eps`` is exact for ``eps >= 1/4`` (Sterbenz)."""
    return e / (1.0 - 2.0 * e)


def rdpo(z, eps):
    """Robust DPO ``[(1-eps) l(z) - eps l(-z)] / (1-2eps)``, ``eps`` in ``[0, 1/2)``.

    Evaluated as ``l(z) - eps z / (1-2eps)`` (the same function by ``l(-z) = l(z) + z``),
    which avoids the cancellation of the two terms when ``eps`` is near 1/2. ``eps = 0``
    returns ``dpo(z)`` exactly. OverflowError where the exact value exceeds float64.
    """
    z = _margin_array(z, "z")
    e = _check_eps(eps, high=0.5, high_open=True)
    c = _rdpo_coef(e)
    with np.errstate(over="ignore", invalid="ignore"):
        out = _ell(z) - c * z
    return _finite_or_raise(out, "rdpo", {"z": z, "eps": e})


def rdpo_grad(z, eps):
    """``d rdpo / d z = -[(1-eps) sigma(-z) + eps sigma(z)]/(1-2eps) = -sigma(-z) - eps/(1-2eps)``."""
    z = _margin_array(z, "z")
    e = _check_eps(eps, high=0.5, high_open=True)
    return _out(-_sigmoid_neg(z) - _rdpo_coef(e))


# ----------------------------------------------------------------------------- IPO


def ipo(h, beta, *, normalization: str = "sequence"):
    """IPO loss ``(h - 1/(2 beta))^2`` of the log-ratio margin ``h`` (not ``z``).

    ``h`` must already be in the declared ``normalization`` (``"sequence"`` or ``"token"``,
    see :func:`margin`); it is used as given, never rescaled. OverflowError where the square
    exceeds float64 (``|h - 1/(2 beta)| > 1.3e154``).
    """
    check_choice(normalization, "normalization", NORMALIZATIONS)
    h = as_float_array(h, "h")
    b = check_beta(beta)
    with np.errstate(over="ignore"):
        d = h - 1.0 / (2.0 * b)
        out = d * d
    return _finite_or_raise(out, "ipo", {"h": h, "beta": b})


def ipo_grad(h, beta, *, normalization: str = "sequence"):
    """``d ipo / d h = 2 (h - 1/(2 beta))`` (same ``normalization`` contract as :func:`ipo`)."""
    check_choice(normalization, "normalization", NORMALIZATIONS)
    h = as_float_array(h, "h")
    b = check_beta(beta)
    with np.errstate(over="ignore"):
        out = 2.0 * (h - 1.0 / (2.0 * b))
    return _finite_or_raise(out, "ipo_grad", {"h": h, "beta": b})


# ----------------------------------------------------------------------------- f-DPO


def _fdpo_args(ratio_w, ratio_l, beta, f, alpha):
    div = check_choice(f, "f", DIVERGENCES)
    if div == "alpha":
        if alpha is None:
            raise ValueError("alpha is required with f='alpha' (a number in (0, 1))")
        a = check_real(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    else:
        if alpha is not None:
            raise ValueError(f"alpha must be None with f={div!r}, got {alpha!r}")
        a = None
    uw = as_float_array(ratio_w, "ratio_w")
    ul = as_float_array(ratio_l, "ratio_l")
    for name, u in (("ratio_w", uw), ("ratio_l", ul)):
        bad = u <= 0
        if bad.any():
            idx = tuple(np.argwhere(bad)[0]) if u.ndim else ()
            where = f"[{', '.join(str(int(i)) for i in idx)}]" if idx else ""
            raise ValueError(f"{name}{where} is {float(u[idx])!r}, expected a probability ratio pi/pi_ref > 0")
    try:
        uw, ul = np.broadcast_arrays(uw, ul)
    except ValueError:
        raise ValueError(
            f"ratio_w and ratio_l must broadcast together, got shapes {uw.shape} and {ul.shape}"
        ) from None
    b = check_beta(beta)
    return div, a, uw, ul, b


def _log_ratio(uw: np.ndarray, ul: np.ndarray, lw: np.ndarray, ll: np.ndarray) -> np.ndarray:
    """``log(u_w / u_l)``: from the quotient (one rounding, accurate when the ratios are close)
    where it is a normal float, else ``log u_w - log u_l``."""
    with np.errstate(over="ignore", under="ignore"):
        q = uw / ul
    ok = np.isfinite(q) & (q >= np.finfo(np.float64).tiny)
    return np.where(ok, np.log(np.where(ok, q, 1.0)), lw - ll)


def _power_diff(uw: np.ndarray, ul: np.ndarray, a: float) -> np.ndarray:
    """``(u_l^{-a} - u_w^{-a}) / a`` without cancellation or intermediate overflow.

    With ``m = min(u_w, u_l)`` and ``t = |log(u_w/u_l)|``, ``|u_l^{-a} - u_w^{-a}| = m^{-a}
    (1 - e^{-a t})``, positive when ``u_w > u_l``: ``-expm1`` keeps the relative accuracy as
    ``a t -> 0``, ``m^{-a}`` is one ``pow`` (in log space only where it alone overflows).
    """
    lw, ll = np.log(uw), np.log(ul)
    t = np.abs(_log_ratio(uw, ul, lw, ll))
    m = np.minimum(uw, ul)
    shrink = -np.expm1(-a * t) / a
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        mag = np.power(m, -a) * shrink
        log_mag = -a * np.log(m) + np.log(shrink)
        mag = np.where(np.isfinite(mag), mag, np.exp(log_mag))
    return np.where(uw > ul, mag, -mag)


def _fprime_diff(div: str, a, uw: np.ndarray, ul: np.ndarray) -> np.ndarray:
    """``f'(u_w) - f'(u_l)`` without overflow (constants of ``f'`` cancel)."""
    lw, ll = np.log(uw), np.log(ul)
    if div == "reverse_kl":
        return lw - ll
    if div == "forward_kl":  # -1/u_w + 1/u_l: the alpha = 1 member of the power family
        return _power_diff(uw, ul, 1.0)
    if div == "alpha":
        return _power_diff(uw, ul, a)
    # js: log(2u/(1+u)) = log 2 + g(u), g(u) = log(u/(1+u)); -log1p(1/u) is accurate for u > 1
    def g(u, lu):
        with np.errstate(divide="ignore"):
            return np.where(u > 1.0, -np.log1p(1.0 / np.maximum(u, 1.0)), lu - np.log1p(np.minimum(u, 1.0)))
    return g(uw, lw) - g(ul, ll)


def _log_fsecond(div: str, a, u: np.ndarray) -> np.ndarray:
    """``log f''(u)`` (``f'' > 0``: every admissible ``f`` is strictly convex)."""
    lu = np.log(u)
    if div == "reverse_kl":
        return -lu
    if div == "forward_kl":
        return -2.0 * lu
    if div == "alpha":
        return -(a + 1.0) * lu
    return -lu - np.log1p(u)  # js: 1/u - 1/(1+u) = 1/(u(1+u))


def _fdpo_margin(div, a, uw, ul, b) -> np.ndarray:
    with np.errstate(over="ignore"):
        return b * _fprime_diff(div, a, uw, ul)


def fdpo(ratio_w, ratio_l, beta, f: str = "reverse_kl", alpha=None):
    """f-DPO loss ``-log sigma(beta f'(ratio_w) - beta f'(ratio_l))``.

    ``ratio_w = pi(y_w|x)/pi_ref(y_w|x) > 0``, likewise ``ratio_l`` (broadcast together).
    ``f`` in :data:`DIVERGENCES`; ``alpha`` in ``(0, 1)`` is required for ``f="alpha"`` and
    must be ``None`` otherwise. ``f="reverse_kl"`` equals ``dpo(beta * (log ratio_w - log
    ratio_l))`` exactly. OverflowError where the exact loss exceeds float64 (a margin below
    about ``-1.8e308``); a margin beyond ``+1.8e308`` gives the exact loss ``0``.
    """
    div, a, uw, ul, b = _fdpo_args(ratio_w, ratio_l, beta, f, alpha)
    z = _fdpo_margin(div, a, uw, ul, b)
    out = _ell(z)
    return _finite_or_raise(out, "fdpo", {"ratio_w": uw, "ratio_l": ul, "beta": b})


def _fsecond(div: str, a, u: np.ndarray) -> np.ndarray:
    """``f''(u)`` directly (may overflow to ``inf`` for tiny ``u``; :func:`_log_fsecond` then)."""
    if div == "reverse_kl":
        return 1.0 / u
    if div == "forward_kl":
        return 1.0 / (u * u)
    if div == "alpha":
        return np.power(u, -(a + 1.0))
    return 1.0 / u / (1.0 + u)


def fdpo_grad(ratio_w, ratio_l, beta, f: str = "reverse_kl", alpha=None):
    """``(d fdpo / d ratio_w, d fdpo / d ratio_l)``, each of the broadcast shape.

    ``d/du_w = -sigma(-z) beta f''(u_w)`` and ``d/du_l = sigma(-z) beta f''(u_l)``: the direct
    product (a few ulps) where it is finite, else ``exp(log sigma(-z) + log beta + log f''(u))``
    so that no factor overflows on its own (e.g. ``sigma(-z) = 0`` times a huge ``f''``).
    """
    div, a, uw, ul, b = _fdpo_args(ratio_w, ratio_l, beta, f, alpha)
    z = _fdpo_margin(div, a, uw, ul, b)
    sig = _sigmoid_neg(z)
    base = _log_sigmoid_neg(z) + np.log(b)
    grads = []
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        for u in (uw, ul):
            direct = sig * b * _fsecond(div, a, u)
            grads.append(np.where(np.isfinite(direct), direct, np.exp(base + _log_fsecond(div, a, u))))
    args = {"ratio_w": uw, "ratio_l": ul, "beta": b}
    return (_finite_or_raise(-grads[0], "fdpo_grad (d/d ratio_w)", args),
            _finite_or_raise(grads[1], "fdpo_grad (d/d ratio_l)", args))


# ----------------------------------------------------------------------------- SLiC


def slic(z, delta=1.0):
    """SLiC calibration hinge ``max(0, delta - z)``, ``delta > 0``.

    OverflowError where ``delta - z`` exceeds float64 (``z`` near ``-1.8e308``).
    """
    z = _margin_array(z, "z")
    d = check_real(delta, "delta", low=0.0, low_open=True)
    with np.errstate(over="ignore"):
        out = np.maximum(0.0, d - z)
    return _finite_or_raise(out, "slic", {"z": z, "delta": d})


def slic_grad(z, delta=1.0):
    """Subgradient of :func:`slic`: ``-1`` where ``z < delta``, ``0`` where ``z >= delta``."""
    z = _margin_array(z, "z")
    d = check_real(delta, "delta", low=0.0, low_open=True)
    return _out(np.where(z < d, -1.0, 0.0))
