r"""Policies for the torch bridge: a tabular softmax policy as an ``nn.Module``.

:class:`TabularSoftmaxPolicy` holds one row of logits per context, ``theta`` of shape ``(X, K)``
(float64 by default), and the policy ``pi(y | x) = softmax(theta[x])_y``. It is the policy class
of the tabular Nash learning lab (:mod:`algorithms.nash` stores log-policies ``(X, K)``) written
as a module, so that the same losses and updates can be applied by torch code and compared
exactly with the NumPy lab (docs/theory/torch_bridge.md). Its interface is the one an LLM policy
offers the losses: :meth:`TabularSoftmaxPolicy.log_prob` returns per-sequence log-probabilities
``log pi(y | x)`` for a batch of (context, response) indices.

Log-probabilities are computed by ``torch.log_softmax`` (max-shifted log-sum-exp), never as
``log(softmax)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mdps.validation import check_int

__all__ = ["TabularSoftmaxPolicy"]


def _as_logits(logits, dtype) -> torch.Tensor:
    t = torch.as_tensor(logits, dtype=dtype).detach().clone()
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2 or t.shape[-1] == 0 or t.shape[0] == 0:
        raise ValueError(f"logits must have shape (K,) or (X, K) with X, K >= 1, got {tuple(t.shape)}")
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        i = tuple(int(v) for v in torch.nonzero(bad)[0].tolist())
        raise ValueError(f"logits[{i[0]}, {i[1]}] is {float(t[i])!r}, expected a finite number")
    return t


class TabularSoftmaxPolicy(nn.Module):
    """``pi(y | x) = softmax(logits[x])_y`` with learnable logits ``(X, K)``.

    Parameters
    ----------
    logits : array_like or Tensor, shape (K,) or (X, K)
        Initial logits (copied; a ``(K,)`` row is one context). Finite.
    dtype : torch.dtype
        ``torch.float64`` (default; the exact cross-validation needs it).

    Examples
    --------
    >>> import numpy as np
    >>> pol = TabularSoftmaxPolicy.from_policy(np.array([0.5, 0.25, 0.25]))
    >>> [round(float(p), 4) for p in pol.probs().detach()[0]]
    [0.5, 0.25, 0.25]
    """

    def __init__(self, logits, *, dtype: torch.dtype = torch.float64):
        super().__init__()
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self.logits = nn.Parameter(_as_logits(logits, dtype))

    @classmethod
    def uniform(cls, n_responses: int, n_contexts: int = 1, *, dtype: torch.dtype = torch.float64):
        """The uniform policy (zero logits), ``(n_contexts, n_responses)``."""
        K = check_int(n_responses, "n_responses", low=1)
        X = check_int(n_contexts, "n_contexts", low=1)
        return cls(torch.zeros((X, K), dtype=dtype), dtype=dtype)

    @classmethod
    def from_policy(cls, pi, *, dtype: torch.dtype = torch.float64):
        """The policy with ``softmax(logits) = pi``: ``logits = log pi`` (``pi`` rows on the simplex,
        full support, shape ``(K,)`` or ``(X, K)``)."""
        p = np.asarray(pi.detach().cpu().numpy() if isinstance(pi, torch.Tensor) else pi, dtype=np.float64)
        if p.ndim not in (1, 2) or p.size == 0:
            raise ValueError(f"pi must have shape (K,) or (X, K), got {p.shape}")
        p2 = p[None] if p.ndim == 1 else p
        if not np.all(np.isfinite(p2)) or (p2 <= 0).any():
            raise ValueError("pi must be finite with full support (every entry > 0) to be a softmax policy")
        sums = p2.sum(axis=-1)
        bad = np.abs(sums - 1.0) > 1e-9
        if bad.any():
            x = int(np.argmax(bad))
            raise ValueError(f"pi[{x}] sums to {sums[x]!r}, expected 1 within 1e-9")
        return cls(np.log(p2), dtype=dtype)

    @property
    def n_contexts(self) -> int:
        return int(self.logits.shape[0])

    @property
    def n_responses(self) -> int:
        return int(self.logits.shape[1])

    def forward(self) -> torch.Tensor:
        """The log-policy ``log pi``, shape ``(X, K)`` (differentiable in the logits)."""
        return torch.log_softmax(self.logits, dim=-1)

    def log_policy(self) -> torch.Tensor:
        """Alias of :meth:`forward`."""
        return self.forward()

    def probs(self) -> torch.Tensor:
        """``pi``, shape ``(X, K)``."""
        return torch.softmax(self.logits, dim=-1)

    def log_prob(self, responses, contexts=None) -> torch.Tensor:
        """Per-sequence log-probabilities ``log pi(y_i | x_i)`` for index tensors of one shape.

        ``contexts`` may be omitted for a one-context policy. Indices are validated (integers in
        range, ``ValueError`` naming the argument and the first offending value).
        """
        y = self._index(responses, "responses", self.n_responses)
        if contexts is None:
            if self.n_contexts != 1:
                raise ValueError(f"contexts is required for a policy with {self.n_contexts} contexts")
            x = torch.zeros_like(y)
        else:
            x = self._index(contexts, "contexts", self.n_contexts)
            if x.shape != y.shape:
                raise ValueError(f"contexts must have the shape of responses {tuple(y.shape)}, got {tuple(x.shape)}")
        return self.forward()[x, y]

    def _index(self, idx, name: str, n: int) -> torch.Tensor:
        t = torch.as_tensor(idx, device=self.logits.device)
        if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
            raise TypeError(f"{name} must be an integer index tensor, got dtype {t.dtype}")
        bad = (t < 0) | (t >= n)
        if bool(bad.any()):
            v = int(t[tuple(torch.nonzero(bad)[0].tolist())])
            raise ValueError(f"{name} holds {v}, expected indices in [0, {n})")
        return t.long()

    @torch.no_grad()
    def set_log_policy(self, log_pi: torch.Tensor) -> None:
        """Overwrite the logits with ``log_pi`` (``(X, K)``; a log-policy is its own logits)."""
        if tuple(log_pi.shape) != tuple(self.logits.shape):
            raise ValueError(f"log_pi must have shape {tuple(self.logits.shape)}, got {tuple(log_pi.shape)}")
        self.logits.copy_(log_pi)
