r"""Preference losses on per-sequence log-probabilities (torch): the DPO family and INPO's pair loss.

Each loss takes the per-sequence log-probabilities of the chosen (``w``) and rejected (``l``)
responses under the trained policy and under the frozen reference, tensors of one shape
``(B,)`` (any shape is accepted; the batch is every entry), and returns the mean over the batch
(``reduction="mean"``, default), the sum (``"sum"``) or the per-pair values (``"none"``, same
shape as the inputs). Always a tensor. Gradients flow to the policy log-probabilities (and to the
reference ones, if they require grad; DPO's reference is normally detached by the caller).

One definition per formula
--------------------------
The per-pair losses are defined once, as functions of the implicit reward margin, in
:mod:`algorithms.preference_learning.losses` (NumPy, with the papers, the derivations and the
exact derivatives ``*_grad``). Here the log-ratio margin is built from the four
log-probabilities,

.. math::

    h = [\log\pi(y_w) - \log\pi_{ref}(y_w)] - [\log\pi(y_l) - \log\pi_{ref}(y_l)],
    \qquad z = \beta h,

and each loss evaluates **the same expression** as its NumPy definition, with torch operations
(``-log sigma(z)`` is ``torch.logaddexp(0, -z)``, as ``np.logaddexp(0, -z)``) so that it runs on
any device and supports double backward. The tests (``tests/test_torch_losses.py``) hold the two together: on
identical float64 inputs the values agree with the NumPy functions and the autograd gradients
with the exact ``*_grad`` functions times the chain rule ``dz/d logp_w = beta``,
``dz/d logp_l = -beta`` [R]; finite differences agree; ``rdpo(eps=0) == cdpo(eps=0) == dpo``.

==================  =====================================================  ======================
torch loss          per pair                                               NumPy definition
==================  =====================================================  ======================
:func:`dpo`         :math:`\ell(z) = -\log\sigma(z)`                       ``pl.losses.dpo(z)``
:func:`cdpo`        :math:`(1-\varepsilon)\ell(z) + \varepsilon\ell(-z)`   ``pl.losses.cdpo(z, eps)``
:func:`rdpo`        :math:`\ell(z) - \tfrac{\varepsilon}{1-2\varepsilon}z`  ``pl.losses.rdpo(z, eps)``
:func:`ipo`         :math:`(h - \tfrac{1}{2\beta})^2`                      ``pl.losses.ipo(h, beta)``
:func:`fdpo`        :math:`\ell(\beta f'(u_w) - \beta f'(u_l))`            ``pl.losses.fdpo(...)``
:func:`slic`        :math:`\max(0, \delta - z)`                            ``pl.losses.slic(z, d)``
:func:`inpo`        :math:`(h_t - \eta/2)^2`                               ``nash.inpo_loss``
==================  =====================================================  ======================

Papers (provenance tags as in ``labkit.TAGS``; docs/theory/preference_learning.md and
docs/theory/torch_bridge.md): DPO, Rafailov et al. (2023), arXiv 2305.18290 [A]; cDPO and rDPO,
Chowdhury, Kini, Natarajan (2024), *Provably Robust DPO*, arXiv 2403.00409 [A, formula R];
IPO, Azar et al. (2023), arXiv 2310.12036 [A]; f-DPO, Wang et al. (2023), arXiv 2309.16240 [A];
SLiC-HF, Zhao et al. (2023), arXiv 2305.10425 [A, with the departure documented in the NumPy
module]; INPO, Zhang et al. (2024), arXiv 2407.00617 [A, the loss; its minimiser is the OMD step, R].

IPO normalisations
------------------
``normalization="sequence"`` (the paper's): ``h`` from sequence log-probabilities as above.
``normalization="token"``: each sequence's log-ratio divided by its token count (``n_tokens_w``,
``n_tokens_l``, positive whole numbers, required), ``h = lr_w / n_w - lr_l / n_l``, as
``pl.losses.margin(..., normalization="token")``. The same ``beta`` is a different
regularisation under the two conventions.

f-DPO on log-probabilities
--------------------------
With ``lr = log u = log pi - log pi_ref`` the ``f'`` differences are written in log space
(no ratio is exponentiated where it could overflow): reverse KL ``lr_w - lr_l``; forward KL
``e^{-lr_l} - e^{-lr_w}``; JS ``softplus(-lr_l) - softplus(-lr_w)`` (from
``f'(u) = log 2 - softplus(-log u)``); alpha ``(e^{-a lr_l} - e^{-a lr_w}) / a``. These equal the
NumPy ``_fprime_diff`` of the ratios ``u = exp(lr)`` [R]; gradients with respect to ``lr`` are
``fdpo_grad * u`` (chain rule ``du/dlr = u``). Forward KL and alpha refuse (``OverflowError``,
naming the pair) a log-ratio with ``-a lr`` beyond ``log`` of the dtype's largest number, where
``u^{-a}`` itself overflows (its autograd gradient would be NaN).

Validation
----------
Every public function checks, at the boundary, that the log-probabilities are floating tensors
of one shape, dtype and device, non-empty, finite and ``<= 0`` (``ValueError`` naming the
argument, the first offending index and its value; on an accelerator these tests synchronise once
per call), that ``beta`` is a real number in ``[1e-300, 1e300]`` and that ``eps`` lies in the
loss's range (``[0, 1/2)`` for rDPO, ``[0, 1/2]`` for cDPO), with the NumPy layer's validators
(:func:`mdps.preference.check_beta`, :func:`mdps.validation.check_real`). A per-pair loss whose
exact value lies beyond the dtype's range raises ``OverflowError`` naming the pair; ``inf`` and
NaN are never returned.

Why a torch evaluation and not a call into NumPy: a loss on an LLM's log-probabilities must stay
on the device and in the autograd graph (double backward works); the NumPy module
remains the definition, and the tests and the check ``torch_bridge.loss_gradients`` hold the two
together at the rounding level, including margins up to ``|z| = 700``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mdps.preference import check_beta
from mdps.validation import check_choice, check_real

__all__ = ["REDUCTIONS", "NORMALIZATIONS", "DIVERGENCES", "margin", "dpo", "cdpo", "rdpo", "ipo", "fdpo", "slic",
           "inpo"]

#: How the per-pair losses are reduced over the batch.
REDUCTIONS = ("mean", "sum", "none")
#: IPO's normalisations of the log-ratio margin (as ``pl.losses.NORMALIZATIONS``).
NORMALIZATIONS = ("sequence", "token")
#: f-DPO's divergences (as ``pl.losses.DIVERGENCES``).
DIVERGENCES = ("reverse_kl", "forward_kl", "js", "alpha")

_NAMES = ("policy_logp_w", "policy_logp_l", "ref_logp_w", "ref_logp_l")


# ----------------------------------------------------------------------------- validation
def _first_bad(mask: torch.Tensor) -> tuple[int, ...]:
    return tuple(int(i) for i in torch.nonzero(mask)[0].tolist())


def check_logps(tensors: dict) -> list[torch.Tensor]:
    """Validate log-probability tensors: floating, one shape, dtype and device, non-empty, finite.

    ``tensors`` maps argument names to values; returns the tensors in order. ``TypeError`` for a
    non-tensor or a non-floating dtype, ``ValueError`` (naming the argument, index and value)
    otherwise.
    """
    out = []
    first_name, first = None, None
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of log-probabilities, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must have a floating dtype, got {t.dtype}")
        if first is None:
            first_name, first = name, t
            if t.numel() == 0:
                raise ValueError(f"{name} must hold at least one pair, got shape {tuple(t.shape)}")
        else:
            if t.shape != first.shape:
                raise ValueError(f"{name} must have the batch shape of {first_name}, {tuple(first.shape)}, "
                                 f"got {tuple(t.shape)}")
            if t.dtype != first.dtype or t.device != first.device:
                raise ValueError(f"{name} must have the dtype and device of {first_name} ({first.dtype}, "
                                 f"{first.device}), got ({t.dtype}, {t.device})")
        bad = ~torch.isfinite(t.detach())
        if bool(bad.any()):
            idx = _first_bad(bad)
            where = f"[{', '.join(map(str, idx))}]" if idx else ""
            raise ValueError(f"{name}{where} is {float(t.detach()[idx])!r}, expected a finite log-probability")
        if bool((t.detach() > 0).any()):
            idx = _first_bad(t.detach() > 0)
            where = f"[{', '.join(map(str, idx))}]" if idx else ""
            raise ValueError(f"{name}{where} is {float(t.detach()[idx])!r}, expected a log-probability <= 0")
        out.append(t)
    return out


def _reduce(per_pair: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce over the batch; ``OverflowError`` naming the first pair whose exact loss lies beyond
    the dtype's range (rDPO with ``eps`` near 1/2, IPO or forward-KL f-DPO at extreme margins):
    ``inf`` or NaN is never returned."""
    r = check_choice(reduction, "reduction", REDUCTIONS)
    bad = ~torch.isfinite(per_pair.detach())
    if bool(bad.any()):
        idx = _first_bad(bad)
        raise OverflowError(f"the loss of pair [{', '.join(map(str, idx))}] exceeds the {per_pair.dtype} range")
    if r == "mean":
        return per_pair.mean()
    if r == "sum":
        return per_pair.sum()
    return per_pair


def _logratios(policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l):
    pw, pl_, rw, rl = check_logps(dict(zip(_NAMES, (policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l))))
    return pw - rw, pl_ - rl


def margin(policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l, *, normalization: str = "sequence",
           n_tokens_w=None, n_tokens_l=None) -> torch.Tensor:
    """The log-ratio margin ``h`` per pair (the torch form of ``pl.losses.margin``).

    ``"sequence"``: ``h = (logp_w - ref_w) - (logp_l - ref_l)`` (token counts must be omitted);
    ``"token"``: each log-ratio divided by its token count (tensors or numbers, positive whole
    numbers, broadcast to the batch shape).
    """
    norm = check_choice(normalization, "normalization", NORMALIZATIONS)
    lw, ll = _logratios(policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l)
    if norm == "sequence":
        for name, n in (("n_tokens_w", n_tokens_w), ("n_tokens_l", n_tokens_l)):
            if n is not None:
                raise ValueError(f"{name} must be None with normalization='sequence', got {n!r}")
        return lw - ll
    counts = []
    for name, n in (("n_tokens_w", n_tokens_w), ("n_tokens_l", n_tokens_l)):
        if n is None:
            raise ValueError(f"{name} is required with normalization='token'")
        c = torch.as_tensor(n, dtype=lw.dtype, device=lw.device)
        try:
            c = torch.broadcast_to(c, lw.shape)
        except RuntimeError:
            raise ValueError(f"{name} must broadcast to the batch shape {tuple(lw.shape)}, got "
                             f"{tuple(c.shape)}") from None
        bad = ~torch.isfinite(c) | (c <= 0) | (c != torch.floor(c))
        if bool(bad.any()):
            idx = _first_bad(bad)
            where = f"[{', '.join(map(str, idx))}]" if idx else ""
            raise ValueError(f"{name}{where} is {float(c[idx])!r}, expected a positive whole number of tokens")
        counts.append(c)
    return lw / counts[0] - ll / counts[1]


def _softplus(x: torch.Tensor) -> torch.Tensor:
    """``log(1 + e^x)`` as ``logaddexp(0, x)``, exact to rounding for every finite ``x`` (the NumPy
    module's form). Not ``F.softplus``: it returns ``x`` itself above its threshold 20, an error of
    ``log1p(e^{-x})`` (1e-9 at ``x = 20``) that breaks the agreement with the NumPy definitions."""
    return torch.logaddexp(torch.zeros_like(x), x)


def _z(args, beta):
    b = check_beta(beta)
    return b * margin(*args), b


# ----------------------------------------------------------------------------- DPO family
def dpo(policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l, beta: float = 0.1, *,
        reduction: str = "mean") -> torch.Tensor:
    """DPO: ``-log sigma(beta h)`` per pair (``pl.losses.dpo``), reduced over the batch."""
    z, _ = _z((policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l), beta)
    return _reduce(_softplus(-z), reduction)


def cdpo(policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l, beta: float = 0.1, eps: float = 0.1, *,
         reduction: str = "mean") -> torch.Tensor:
    """Conservative DPO ``(1-eps) l(z) + eps l(-z)``, ``eps`` in ``[0, 1/2]`` (``pl.losses.cdpo``)."""
    e = check_real(eps, "eps", low=0.0, high=0.5)
    z, _ = _z((policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l), beta)
    return _reduce((1.0 - e) * _softplus(-z) + e * _softplus(z), reduction)


def rdpo(policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l, beta: float = 0.1, eps: float = 0.1, *,
         reduction: str = "mean") -> torch.Tensor:
    """Robust DPO ``l(z) - eps z / (1 - 2 eps)``, ``eps`` in ``[0, 1/2)`` (``pl.losses.rdpo``).

    Equal to ``[(1-eps) l(z) - eps l(-z)] / (1-2eps)`` (logit identity, NumPy module); ``eps = 0``
    is :func:`dpo` exactly.
    """
    e = check_real(eps, "eps", low=0.0, high=0.5, high_open=True)
    z, _ = _z((policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l), beta)
    c = e / (1.0 - 2.0 * e)
    return _reduce(_softplus(-z) - c * z, reduction)


def ipo(policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l, beta: float = 0.1, *,
        normalization: str = "sequence", n_tokens_w=None, n_tokens_l=None, reduction: str = "mean") -> torch.Tensor:
    """IPO ``(h - 1/(2 beta))^2`` per pair (``pl.losses.ipo``), ``h`` in the given normalisation."""
    b = check_beta(beta)
    h = margin(policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l, normalization=normalization,
               n_tokens_w=n_tokens_w, n_tokens_l=n_tokens_l)
    d = h - 1.0 / (2.0 * b)
    return _reduce(d * d, reduction)


def _fprime_diff(div: str, a, lw: torch.Tensor, ll: torch.Tensor) -> torch.Tensor:
    """``f'(u_w) - f'(u_l)`` from the log-ratios ``lw = log u_w``, ``ll = log u_l`` (module docstring)."""
    if div == "reverse_kl":
        return lw - ll
    if div == "forward_kl":
        return torch.exp(-ll) - torch.exp(-lw)
    if div == "alpha":
        return (torch.exp(-a * ll) - torch.exp(-a * lw)) / a
    return _softplus(-ll) - _softplus(-lw)  # js


def _check_power_range(lw: torch.Tensor, ll: torch.Tensor, a: float, div: str) -> None:
    """``f'(u) ~ u^{-a}`` must be a finite number: ``-a log u <= log(dtype max)``, else ``OverflowError``
    naming the pair. (The NumPy definition takes the ratios ``u`` themselves, which are then below
    the smallest positive float64; autograd of an overflowed ``u^{-a}`` would give NaN gradients.)"""
    limit = float(torch.log(torch.tensor(torch.finfo(lw.dtype).max, dtype=torch.float64)))
    for name, lr in (("w", lw), ("l", ll)):
        bad = (-a * lr.detach()) > limit
        if bool(bad.any()):
            idx = _first_bad(bad)
            where = f"[{', '.join(map(str, idx))}]"
            raise OverflowError(f"policy_logp_{name}{where} - ref_logp_{name}{where} = {float(lr.detach()[idx])!r}: "
                                f"f'(pi/pi_ref) for f={div!r} exceeds the {lw.dtype} range (the ratio is below "
                                f"exp(-{limit:.1f}/{a:g}))")


def fdpo(policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l, beta: float = 0.1, *, f: str = "reverse_kl",
         alpha=None, reduction: str = "mean") -> torch.Tensor:
    """f-DPO ``-log sigma(beta f'(u_w) - beta f'(u_l))``, ``u = pi / pi_ref`` (``pl.losses.fdpo``).

    ``f`` in :data:`DIVERGENCES`; ``alpha`` in ``(0, 1)`` is required with ``f="alpha"`` and must
    be ``None`` otherwise. ``f="reverse_kl"`` is :func:`dpo`.
    """
    div = check_choice(f, "f", DIVERGENCES)
    if div == "alpha":
        if alpha is None:
            raise ValueError("alpha is required with f='alpha' (a number in (0, 1))")
        a = check_real(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    else:
        if alpha is not None:
            raise ValueError(f"alpha must be None with f={div!r}, got {alpha!r}")
        a = None
    b = check_beta(beta)
    lw, ll = _logratios(policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l)
    if div in ("forward_kl", "alpha"):
        _check_power_range(lw, ll, 1.0 if a is None else a, div)
    z = b * _fprime_diff(div, a, lw, ll)
    return _reduce(_softplus(-z), reduction)


def slic(policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l, beta: float = 0.1, delta: float = 1.0, *,
         reduction: str = "mean") -> torch.Tensor:
    """SLiC calibration hinge ``max(0, delta - z)`` of ``z = beta h`` (``pl.losses.slic``, with its
    documented departure); the subgradient at the kink is 0, as ``pl.losses.slic_grad``."""
    d = check_real(delta, "delta", low=0.0, low_open=True)
    z, _ = _z((policy_logp_w, policy_logp_l, ref_logp_w, ref_logp_l), beta)
    return _reduce(F.relu(d - z), reduction)


# ----------------------------------------------------------------------------- INPO
def inpo(policy_logp_w, policy_logp_l, current_logp_w, current_logp_l, ref_logp_w, ref_logp_l, *,
         beta: float, eta: float, weights=None, reduction: str = "mean") -> torch.Tensor:
    r"""INPO's pair loss (Zhang et al. 2024, arXiv 2407.00617) on sequence log-probabilities.

    .. math::

        h_t = \log\frac{\pi(y_w)}{\pi(y_l)} - \eta\beta\log\frac{\pi_{ref}(y_w)}{\pi_{ref}(y_l)}
          - (1-\eta\beta)\log\frac{\pi_t(y_w)}{\pi_t(y_l)}, \qquad
        \text{loss} = (h_t - \eta/2)^2

    in our symbols (``eta`` multiplies the win rate: the paper's ``1/eta``; ``beta`` its
    ``tau``), the same as :func:`algorithms.nash.inpo_loss` on a tabular policy. ``current_*``
    are the log-probabilities under the current iterate ``pi_t`` (detached by the caller).
    ``weights`` (optional, non-negative, positive sum, the batch shape) turn the mean into
    ``sum w_k loss_k / sum w_k`` (``reduction="mean"`` only). Its population minimiser over a
    tabular policy is the OMD step ``pi_t^{1-eta beta} pi_ref^{eta beta} exp(eta P pi_t)`` [R].
    """
    b = check_beta(beta)
    e = check_real(eta, "eta", low=0.0, low_open=True)
    pw, pl_, cw, cl, rw, rl = check_logps(dict(zip(
        ("policy_logp_w", "policy_logp_l", "current_logp_w", "current_logp_l", "ref_logp_w", "ref_logp_l"),
        (policy_logp_w, policy_logp_l, current_logp_w, current_logp_l, ref_logp_w, ref_logp_l))))
    a = e * b
    h = (pw - pl_) - a * (rw - rl) - (1.0 - a) * (cw - cl)
    r = (h - e / 2.0) ** 2
    if weights is None:
        return _reduce(r, reduction)
    if reduction != "mean":
        raise ValueError(f"weights are only for reduction='mean', got reduction={reduction!r}")
    r = _reduce(r, "none")  # the finiteness check
    w = torch.as_tensor(weights, dtype=r.dtype, device=r.device)
    if w.shape != r.shape:
        raise ValueError(f"weights must have the batch shape {tuple(r.shape)}, got {tuple(w.shape)}")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or not float(w.sum()) > 0:
        raise ValueError("weights must be finite, >= 0, with a positive sum")
    return (w * r).sum() / w.sum()
