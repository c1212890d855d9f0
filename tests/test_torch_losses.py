"""The torch DPO-family losses equal the one NumPy definition of each formula, value and gradient.

On identical float64 inputs every torch loss (algorithms.torch.losses) equals its NumPy definition
(algorithms.preference_learning.losses), and its autograd gradient equals the exact derivative
``*_grad`` times the chain rule of the margin (``dz/d logp_w = beta = -dz/d logp_l``,
``dz/d ref_w = -beta``); finite differences agree; rDPO and cDPO at eps = 0 are DPO; bad inputs
raise errors that name the argument and the value.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mdps  # noqa: E402
from algorithms import nash  # noqa: E402
from algorithms import preference_learning as pl  # noqa: E402
from algorithms.torch import losses  # noqa: E402

B = 7


def _batch(seed=0, n=B, scale=3.0):
    """Four float64 log-probability tensors (all <= 0) of a batch of ``n`` pairs, requiring grad."""
    rng = np.random.default_rng(seed)
    arrs = -np.abs(rng.normal(0.0, scale, size=(4, n))) - 0.01
    return [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrs]


def _h(ts):
    pw, pl_, rw, rl = (t.detach().numpy() for t in ts)
    return (pw - rw) - (pl_ - rl)


def _grads(loss, ts):
    return [g.numpy() for g in torch.autograd.grad(loss, ts)]


MARGIN_LOSSES = [
    ("dpo", {}, lambda z: pl.losses.dpo(z), lambda z: pl.losses.dpo_grad(z)),
    ("cdpo", {"eps": 0.2}, lambda z: pl.losses.cdpo(z, 0.2), lambda z: pl.losses.cdpo_grad(z, 0.2)),
    ("cdpo", {"eps": 0.5}, lambda z: pl.losses.cdpo(z, 0.5), lambda z: pl.losses.cdpo_grad(z, 0.5)),
    ("rdpo", {"eps": 0.1}, lambda z: pl.losses.rdpo(z, 0.1), lambda z: pl.losses.rdpo_grad(z, 0.1)),
    ("rdpo", {"eps": 0.45}, lambda z: pl.losses.rdpo(z, 0.45), lambda z: pl.losses.rdpo_grad(z, 0.45)),
    ("slic", {"delta": 1.0}, lambda z: pl.losses.slic(z, 1.0), lambda z: pl.losses.slic_grad(z, 1.0)),
]


@pytest.mark.parametrize("beta", [0.1, 1.0, 3.0])
@pytest.mark.parametrize("name,kw,value,grad", MARGIN_LOSSES, ids=[f"{m[0]}-{m[1]}" for m in MARGIN_LOSSES])
def test_margin_losses_match_numpy_value_and_exact_gradient(name, kw, value, grad, beta):
    ts = _batch(seed=int(beta * 10))
    z = beta * _h(ts)
    per_pair = getattr(losses, name)(*ts, beta=beta, reduction="none", **kw)
    np.testing.assert_allclose(per_pair.detach().numpy(), value(z), rtol=1e-14, atol=1e-15)
    mean = getattr(losses, name)(*ts, beta=beta, **kw)
    np.testing.assert_allclose(float(mean.detach()), value(z).mean(), rtol=1e-14, atol=1e-15)
    gw, gl, grw, grl = _grads(mean, ts)
    d = grad(z) / B  # d mean / d z_k
    np.testing.assert_allclose(gw, beta * d, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(gl, -beta * d, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(grw, -beta * d, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(grl, beta * d, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("beta", [0.05, 0.5, 2.0])
def test_ipo_sequence_matches_numpy(beta):
    ts = _batch(seed=3)
    h = _h(ts)
    loss = losses.ipo(*ts, beta=beta)
    np.testing.assert_allclose(float(loss.detach()), pl.losses.ipo(h, beta).mean(), rtol=1e-14)
    gw, gl, _, _ = _grads(loss, ts)
    np.testing.assert_allclose(gw, pl.losses.ipo_grad(h, beta) / B, rtol=1e-13)
    np.testing.assert_allclose(gl, -pl.losses.ipo_grad(h, beta) / B, rtol=1e-13)


def test_ipo_token_normalisation_matches_numpy_margin():
    ts = _batch(seed=4)
    nw = np.arange(1, B + 1)
    nl = np.arange(B, 0, -1) * 2
    pw, pl_, rw, rl = (t.detach().numpy() for t in ts)
    h = pl.losses.margin(pw - rw, pl_ - rl, normalization="token", n_tokens_w=nw, n_tokens_l=nl)
    loss = losses.ipo(*ts, beta=0.3, normalization="token", n_tokens_w=torch.tensor(nw), n_tokens_l=nl)
    np.testing.assert_allclose(float(loss.detach()), pl.losses.ipo(h, 0.3, normalization="token").mean(), rtol=1e-14)
    gw = _grads(loss, ts)[0]
    np.testing.assert_allclose(gw, pl.losses.ipo_grad(h, 0.3) / nw / B, rtol=1e-13)
    # the two normalisations differ (the same beta is a different regularisation)
    assert abs(float(loss.detach()) - float(losses.ipo(*ts, beta=0.3).detach())) > 1e-3


FDIVS = [("reverse_kl", None), ("forward_kl", None), ("js", None), ("alpha", 0.3), ("alpha", 0.9)]


@pytest.mark.parametrize("f,alpha", FDIVS)
def test_fdpo_matches_numpy_on_the_ratios(f, alpha):
    ts = _batch(seed=5, scale=1.0)
    pw, pl_, rw, rl = (t.detach().numpy() for t in ts)
    uw, ul = np.exp(pw - rw), np.exp(pl_ - rl)
    loss = losses.fdpo(*ts, beta=0.7, f=f, alpha=alpha)
    np.testing.assert_allclose(float(loss.detach()), pl.losses.fdpo(uw, ul, 0.7, f=f, alpha=alpha).mean(), rtol=1e-13)
    gw, gl, _, _ = _grads(loss, ts)
    dw, dl = pl.losses.fdpo_grad(uw, ul, 0.7, f=f, alpha=alpha)
    np.testing.assert_allclose(gw, dw * uw / B, rtol=1e-12)  # chain rule du/dlogp = u
    np.testing.assert_allclose(gl, dl * ul / B, rtol=1e-12)


def test_fdpo_reverse_kl_is_dpo():
    ts = _batch(seed=6)
    f, d = losses.fdpo(*ts, beta=0.2).detach(), losses.dpo(*ts, beta=0.2).detach()
    np.testing.assert_allclose(float(f), float(d), rtol=1e-15)


@pytest.mark.parametrize("name,kw", [("dpo", {}), ("cdpo", {"eps": 0.3}), ("rdpo", {"eps": 0.3}), ("ipo", {}),
                                     ("fdpo", {"f": "js"}), ("fdpo", {"f": "alpha", "alpha": 0.5})])
def test_gradients_match_finite_differences(name, kw):
    ts = _batch(seed=8, n=3, scale=1.0)
    fn = getattr(losses, name)
    grads = _grads(fn(*ts, beta=0.5, **kw), ts)
    step = 1e-6
    for i in range(4):
        for k in range(3):
            up = [t.detach().clone() for t in ts]
            dn = [t.detach().clone() for t in ts]
            up[i][k] += step
            dn[i][k] -= step
            fd = (float(fn(*up, beta=0.5, **kw)) - float(fn(*dn, beta=0.5, **kw))) / (2 * step)
            assert abs(fd - grads[i][k]) <= 1e-8 * max(1.0, abs(fd)), (name, i, k, fd, grads[i][k])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-50.0, 0.0), min_size=4, max_size=4), st.floats(1e-3, 10.0))
def test_rdpo_and_cdpo_at_eps_zero_are_dpo(logps, beta):
    ts = [torch.tensor([v], dtype=torch.float64) for v in logps]
    d = losses.dpo(*ts, beta=beta)
    assert float(losses.rdpo(*ts, beta=beta, eps=0.0)) == float(d)
    assert float(losses.cdpo(*ts, beta=beta, eps=0.0)) == float(d)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-30.0, 0.0), min_size=4, max_size=4), st.floats(1e-2, 5.0), st.floats(0.0, 0.49))
def test_rdpo_is_unbiased_under_label_flips(logps, beta, eps):
    """(1-eps) rdpo(pair) + eps rdpo(swapped pair) = dpo(pair) [R: the defining identity]."""
    pw, pl_, rw, rl = (torch.tensor([v], dtype=torch.float64) for v in logps)
    swapped = losses.rdpo(pl_, pw, rl, rw, beta=beta, eps=eps)
    mix = (1 - eps) * losses.rdpo(pw, pl_, rw, rl, beta=beta, eps=eps) + eps * swapped
    ref = losses.dpo(pw, pl_, rw, rl, beta=beta)
    z = beta * abs(logps[0] - logps[1] - logps[2] + logps[3])
    assert abs(float(mix) - float(ref)) <= 1e-12 * (1.0 + abs(float(ref)) + z)


def test_inpo_pair_loss_matches_the_tabular_loss():
    rng = np.random.default_rng(9)
    K = 5
    lp, lt, lr = (np.log(rng.dirichlet(np.ones(K))) for _ in range(3))
    w, l = rng.integers(0, K, 20), rng.integers(0, K, 20)
    wt = rng.random(20)
    want = nash.inpo_loss(lp, lt, lr, w, l, beta=0.4, eta=0.8, weights=wt)
    t = [torch.tensor(v) for v in (lp[w], lp[l], lt[w], lt[l], lr[w], lr[l])]
    got = losses.inpo(*t, beta=0.4, eta=0.8, weights=wt)
    assert abs(float(got) - want) <= 1e-14 * max(1.0, want)


def test_reductions():
    ts = _batch(seed=10)
    per = losses.dpo(*ts, reduction="none")
    assert per.shape == (B,)
    assert torch.allclose(losses.dpo(*ts, reduction="sum"), per.sum())
    assert torch.allclose(losses.dpo(*ts), per.mean())


# ----------------------------------------------------------------------------- bad inputs
def test_mismatched_batch_shapes_are_refused():
    ts = _batch()
    with pytest.raises(ValueError, match=r"ref_logp_l must have the batch shape of policy_logp_w, \(7,\), got \(6,\)"):
        losses.dpo(ts[0], ts[1], ts[2], ts[3][:6])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_log_probabilities_are_refused(bad):
    ts = [t.detach().clone() for t in _batch()]
    ts[1][3] = bad
    with pytest.raises(ValueError, match=r"policy_logp_l\[3\] is .*expected a finite log-probability"):
        losses.rdpo(*ts)


def test_positive_log_probability_is_refused():
    ts = [t.detach().clone() for t in _batch()]
    ts[2][0] = 0.5
    with pytest.raises(ValueError, match=r"ref_logp_w\[0\] is 0.5, expected a log-probability <= 0"):
        losses.dpo(*ts)


@pytest.mark.parametrize("eps", [-0.1, 0.5, 0.7, float("nan")])
def test_rdpo_eps_outside_range_is_refused(eps):
    with pytest.raises(ValueError, match="eps"):
        losses.rdpo(*_batch(), eps=eps)


def test_cdpo_allows_half_but_not_more():
    losses.cdpo(*_batch(), eps=0.5)
    with pytest.raises(ValueError, match="eps"):
        losses.cdpo(*_batch(), eps=0.51)


@pytest.mark.parametrize("beta", [0.0, -1.0, float("inf")])
def test_bad_beta_is_refused(beta):
    with pytest.raises(ValueError, match="beta"):
        losses.dpo(*_batch(), beta=beta)


def test_type_errors():
    ts = _batch()
    with pytest.raises(TypeError, match="policy_logp_w must be a torch.Tensor"):
        losses.dpo(ts[0].detach().numpy(), *ts[1:])
    with pytest.raises(TypeError, match="ref_logp_l must have a floating dtype"):
        losses.dpo(*ts[:3], torch.zeros(B, dtype=torch.int64))
    with pytest.raises(ValueError, match="dtype and device"):
        losses.dpo(*ts[:3], ts[3].detach().float())
    with pytest.raises(ValueError, match="reduction"):
        losses.dpo(*ts, reduction="max")


def test_token_counts_are_validated():
    ts = _batch()
    with pytest.raises(ValueError, match="n_tokens_w is required"):
        losses.ipo(*ts, normalization="token", n_tokens_l=3)
    with pytest.raises(ValueError, match=r"n_tokens_l\[0\] is 0.0, expected a positive whole number"):
        losses.ipo(*ts, normalization="token", n_tokens_w=3, n_tokens_l=0)
    with pytest.raises(ValueError, match="must be None with normalization='sequence'"):
        losses.ipo(*ts, n_tokens_w=3)


def test_fdpo_alpha_rules():
    with pytest.raises(ValueError, match="alpha is required"):
        losses.fdpo(*_batch(), f="alpha")
    with pytest.raises(ValueError, match="alpha must be None"):
        losses.fdpo(*_batch(), f="js", alpha=0.5)


def test_overflow_is_an_error_never_inf():
    t = [torch.tensor([v], dtype=torch.float64) for v in (-1e300, 0.0, 0.0, -1e300)]
    with pytest.raises(OverflowError, match=r"pair \[0\]"):
        losses.ipo(*t, beta=1.0)


@pytest.mark.parametrize("name,kw,value,grad", MARGIN_LOSSES[:5], ids=[f"{m[0]}-{m[1]}" for m in MARGIN_LOSSES[:5]])
def test_large_margins_match_numpy_to_rounding(name, kw, value, grad):
    """Margins far beyond softplus' usual threshold (|z| = 20 .. 700): still the NumPy values."""
    z = np.array([-700.0, -300.0, -40.0, -22.0, -20.5, 20.5, 22.0, 40.0, 300.0, 700.0])
    pw = torch.tensor(np.where(z > 0, 0.0, z), requires_grad=True)  # beta = 1, h = z
    pl_ = torch.tensor(np.where(z > 0, -z, 0.0), requires_grad=True)
    zero = torch.zeros(z.size, dtype=torch.float64)
    per = getattr(losses, name)(pw, pl_, zero, zero, beta=1.0, reduction="none", **kw)
    np.testing.assert_allclose(per.detach().numpy(), value(z), rtol=2e-15, atol=1e-300)
    (gw,) = torch.autograd.grad(per.sum(), pw)
    np.testing.assert_allclose(gw.numpy(), grad(z), rtol=2e-15, atol=1e-300)


@pytest.mark.parametrize("f,alpha", [("forward_kl", None), ("alpha", 0.5)])
def test_fdpo_refuses_ratios_whose_fprime_overflows(f, alpha):
    t = [torch.tensor([v], dtype=torch.float64, requires_grad=True) for v in (-1.0, -2000.0, 0.0, 0.0)]
    with pytest.raises(OverflowError, match=r"policy_logp_l\[0\] - ref_logp_l\[0\] = -2000.0"):
        losses.fdpo(*t, beta=1.0, f=f, alpha=alpha)


@pytest.mark.parametrize("f,alpha", FDIVS)
def test_fdpo_gradients_are_never_nan_at_large_log_ratios(f, alpha):
    """Log-ratios down to -700 (ratios near the float64 floor): finite loss and gradients, or an error."""
    for lw, ll in ((-1.0, -700.0), (-700.0, -1.0), (-700.0, -700.0), (0.0, 0.0)):
        t = [torch.tensor([v], dtype=torch.float64, requires_grad=True) for v in (lw, ll, 0.0, 0.0)]
        try:
            loss = losses.fdpo(*t, beta=1.0, f=f, alpha=alpha)
        except OverflowError:
            continue
        grads = torch.autograd.grad(loss, t[:2])
        assert torch.isfinite(loss) and all(bool(torch.isfinite(g).all()) for g in grads), (f, lw, ll)


# ----------------------------------------------------------------------------- with a policy module
def test_dpo_gradient_on_a_tabular_policy_is_the_chain_rule():
    """d DPO / d logits = sum_k dpo'(z_k) beta (e_{y_w} - e_{y_l} - (pi - pi)) / B: the score of a
    softmax is one-hot minus pi, which cancels between winner and loser."""
    from algorithms.torch import TabularSoftmaxPolicy

    rng = np.random.default_rng(15)
    K, beta = 6, 0.3
    pol = TabularSoftmaxPolicy(rng.standard_normal(K))
    ref = np.log(mdps.softmax(rng.standard_normal(K)))
    yw, yl = rng.integers(0, K, 40), rng.integers(0, K, 40)
    loss = losses.dpo(pol.log_prob(yw), pol.log_prob(yl), torch.tensor(ref[yw]), torch.tensor(ref[yl]), beta=beta)
    (grad,) = torch.autograd.grad(loss, pol.logits)
    lp = pol().detach().numpy()[0]
    z = beta * ((lp[yw] - ref[yw]) - (lp[yl] - ref[yl]))
    d = pl.losses.dpo_grad(z) * beta / len(yw)
    want = np.zeros(K)
    np.add.at(want, yw, d)
    np.add.at(want, yl, -d)
    np.testing.assert_allclose(grad.numpy()[0], want, rtol=1e-12, atol=1e-15)


def test_population_dpo_minimiser_is_the_kl_regularised_optimum():
    """Bradley-Terry labels P(a > b) = sigma(r_a - r_b): the population DPO loss over every ordered
    pair is minimised by pi* proportional to pi_ref exp(r / beta) (Rafailov et al. 2023, [R])."""
    from algorithms.torch import TabularSoftmaxPolicy

    rng = np.random.default_rng(16)
    K, beta = 5, 0.7
    r = rng.standard_normal(K)
    ref = mdps.softmax(rng.standard_normal(K))
    a, b = (x.ravel() for x in np.meshgrid(np.arange(K), np.arange(K), indexing="ij"))
    keep = a != b
    a, b = a[keep], b[keep]
    w = torch.tensor(1.0 / (1.0 + np.exp(-(r[a] - r[b]))))  # Pr(a labelled the winner over b)
    lr = torch.tensor(np.log(ref))
    pol = TabularSoftmaxPolicy(np.log(ref))
    opt = torch.optim.LBFGS(pol.parameters(), lr=1.0, max_iter=500, tolerance_grad=1e-14, tolerance_change=1e-16,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        lp = pol()[0]
        per = losses.dpo(lp[a], lp[b], lr[a], lr[b], beta=beta, reduction="none")
        loss = (w * per).sum()
        loss.backward()
        return loss

    opt.step(closure)
    want = mdps.softmax(np.log(ref) + r / beta)
    assert np.abs(pol.probs().detach().numpy()[0] - want).max() <= 1e-8
