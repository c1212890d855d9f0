"""Optional: our DPO, cDPO, rDPO and IPO losses equal TRL's formulas on identical tensors.

TRL (``pip install trl``; skipped when absent) computes its pair losses in
``DPOTrainer.dpo_loss``, a trainer method that reads its settings from ``self`` (``self.beta``,
``self.label_smoothing``, the loss type, the device); it is called here unbound on a small stub
holding exactly those settings, no model or trainer built. Conventions related exactly:

* ``loss_type="sigmoid"`` with ``label_smoothing = eps`` is cDPO (``eps = 0``: DPO);
* ``loss_type="robust"`` is rDPO (Chowdhury et al. 2024, arXiv 2403.00409):
  ``[(1-eps) l(z) - eps l(-z)] / (1 - 2 eps)`` = our ``l(z) - eps z / (1 - 2 eps)`` (``l(-z) = l(z) + z``);
* ``loss_type="ipo"``: TRL averages the log-probabilities over tokens upstream (in its forward
  pass, before ``dpo_loss``), so its input is ``logp / n_tokens``; ours takes sequence
  log-probabilities and ``normalization="token"`` with the token counts.

Checked against the ``dpo_loss`` of TRL 0.19.0 and 0.26.0 (their source run on this stub); TRL 0.29 and
later compute the losses inline in ``_compute_loss`` with no ``dpo_loss`` method, and the tests
skip there with that reason. Margins are kept moderate (``|beta h| <= 20``) where both algebraic
forms are exact to rounding; tolerance 1e-10 relative (float64).
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl")

from algorithms.torch import losses  # noqa: E402

BETA = 0.3


def trl_losses(loss_type: str, cw, cl, rw, rl, *, label_smoothing: float = 0.0) -> torch.Tensor:
    fn = getattr(trl.DPOTrainer, "dpo_loss", None)
    if fn is None:
        pytest.skip(f"trl {trl.__version__} has no DPOTrainer.dpo_loss to compare with")
    settings = dict(beta=BETA, label_smoothing=label_smoothing, loss_type=loss_type, reference_free=False,
                    f_divergence_type="reverse_kl", f_divergence_params=None, f_alpha_divergence_coef=1.0,
                    use_weighting=False)
    stub = SimpleNamespace(**settings, args=SimpleNamespace(**settings),
                           accelerator=SimpleNamespace(device=torch.device("cpu")))
    params = inspect.signature(fn).parameters
    kw = {"loss_type": loss_type} if "loss_type" in params else {}
    try:
        out = fn(stub, cw, cl, rw, rl, **kw)
    except AttributeError as exc:  # a TRL version reading a setting this stub does not know
        pytest.skip(f"trl {trl.__version__}'s dpo_loss reads a setting the stub lacks: {exc}")
    return out[0] if isinstance(out, tuple) else out


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    B = 32
    rw, rl = -rng.exponential(5.0, B), -rng.exponential(5.0, B)
    h = rng.uniform(-20 / BETA, 20 / BETA, B)  # margins beta h in [-20, 20], log-probabilities <= 0
    cw, cl = rw + np.minimum(h, 0.0), rl - np.maximum(h, 0.0)
    n_w, n_l = rng.integers(1, 40, B), rng.integers(1, 40, B)
    t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    return t(cw), t(cl), t(rw), t(rl), n_w, n_l


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_sigmoid_with_label_smoothing_is_cdpo(batch, eps):
    cw, cl, rw, rl, _, _ = batch
    ours = losses.cdpo(cw, cl, rw, rl, beta=BETA, eps=eps, reduction="none")
    np.testing.assert_allclose(trl_losses("sigmoid", cw, cl, rw, rl, label_smoothing=eps).numpy(), ours.numpy(),
                               rtol=1e-10, atol=0)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_robust_is_rdpo(batch, eps):
    cw, cl, rw, rl, _, _ = batch
    ours = losses.rdpo(cw, cl, rw, rl, beta=BETA, eps=eps, reduction="none")
    np.testing.assert_allclose(trl_losses("robust", cw, cl, rw, rl, label_smoothing=eps).numpy(), ours.numpy(),
                               rtol=1e-10, atol=1e-12)


def test_ipo_with_tokens_averaged_upstream_is_our_token_normalised_ipo(batch):
    cw, cl, rw, rl, n_w, n_l = batch
    tw, tl = torch.tensor(n_w, dtype=torch.float64), torch.tensor(n_l, dtype=torch.float64)
    theirs = trl_losses("ipo", cw / tw, cl / tl, rw / tw, rl / tl)
    ours = losses.ipo(cw, cl, rw, rl, beta=BETA, normalization="token", n_tokens_w=n_w, n_tokens_l=n_l,
                      reduction="none")
    np.testing.assert_allclose(theirs.numpy(), ours.numpy(), rtol=1e-10, atol=1e-12)
