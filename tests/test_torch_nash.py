"""The torch bridge's Nash updates (exact mode) against the Numba lab, and the losses whose
gradients are the update directions.

* Iterates: on the same game, reference, start and steps, every torch update's iterates equal
  :mod:`algorithms.nash`'s to 1e-10 (exact win rates, float64, CPU), including contextual games
  and the decaying schedules.
* Closed forms: the torch prox step is the unique minimiser of ``prox_loss`` (zero gradient,
  and lower than random perturbations); the natural gradient of ``nash_md_pg_loss`` is the
  Nash-MD step direction; the gradient of ``preference_objective`` is the win rate; the
  equilibrium ``pi*_beta`` is a fixed point of every regularised torch update but Nash-MD (whose
  constant-step fixed point is biased).
* The tabular policy module, the geometric-mixture sampler, and bad inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mdps  # noqa: E402
from algorithms import nash  # noqa: E402
from algorithms.torch import TabularSoftmaxPolicy  # noqa: E402
from algorithms.torch import nash as tn  # noqa: E402
from mdps import preference_generators as pg  # noqa: E402

TOL = 1e-10

CASES = [
    ("nash_mirror_prox", {}, 2.0),
    ("nash_mirror_prox", {}, 0.7),
    ("nash_md", {}, 1.0),
    ("nash_md", {"schedule": "decaying"}, None),
    ("online_mirror_descent", {}, 0.5),
    ("online_mirror_descent", {"prox": "exact"}, 3.0),
    ("online_mirror_descent", {"schedule": "decaying"}, 0.5),
    ("inpo", {}, 0.5),
]


def _game(K, seed, contextual=False):
    rng = np.random.default_rng(seed)
    if contextual:
        P = np.stack([pg.uniform_tournament(K, rng=rng).Pref for _ in range(3)])
        ref = np.stack([mdps.softmax(2 * rng.standard_normal(K)) for _ in range(3)])
        return mdps.PreferenceGame(P), ref
    return pg.uniform_tournament(K, rng=rng), mdps.softmax(2 * rng.standard_normal(K))


@pytest.mark.parametrize("contextual", [False, True])
@pytest.mark.parametrize("name,kw,eta", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_torch_iterates_equal_the_lab_iterates(name, kw, eta, contextual):
    g, ref = _game(6, 1, contextual)
    beta = 0.5
    eta = 1.0 / beta if eta is None else eta
    init = mdps.softmax(np.random.default_rng(2).standard_normal(ref.shape))
    lab = np.asarray(getattr(nash, name)(g, beta, eta, 150, ref=ref, init=init, **kw).policies)
    got = getattr(tn, name)(g, beta, eta, 150, ref=ref, init=init, **kw).numpy()
    if not contextual:
        got = got[:, 0]
    assert got.shape == lab.shape and got.dtype == np.float64
    assert np.abs(got - lab).max() <= TOL


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 8), st.integers(0, 2**31), st.floats(0.05, 5.0), st.floats(0.05, 2.0))
def test_nash_mp_iterates_equal_the_lab_over_the_domain(K, seed, beta, eta):
    g, ref = _game(K, seed)
    lab = nash.nash_mirror_prox(g, beta, eta, 30, ref=ref).policies
    got = tn.nash_mirror_prox(g, beta, eta, 30, ref=ref)[:, 0].numpy()
    assert np.abs(got - lab).max() <= TOL


def test_one_step_equals_the_lab_prox_primitives():
    g, ref = _game(5, 3)
    rng = np.random.default_rng(4)
    z0 = np.log(mdps.softmax(rng.standard_normal(5)))
    v = rng.random(5)
    T = lambda a: torch.tensor(a)[None]  # noqa: E731
    assert np.abs(tn.prox_step(T(z0), T(np.log(ref)), T(v), 0.7, 1.3)[0].numpy()
                  - nash.prox_step(z0, np.log(ref), v, 0.7, 1.3)).max() <= 1e-14
    assert np.abs(tn.linearized_prox_step(T(z0), T(np.log(ref)), T(v), 0.7, 1.3)[0].numpy()
                  - nash.linearized_prox_step(z0, np.log(ref), v, 0.7, 1.3)).max() <= 1e-14


def test_prox_step_minimises_the_prox_loss():
    rng = np.random.default_rng(5)
    X, K = 2, 6
    z0 = torch.log_softmax(torch.tensor(rng.standard_normal((X, K))), -1)
    mu = torch.log_softmax(torch.tensor(rng.standard_normal((X, K))), -1)
    v = torch.tensor(rng.random((X, K)))
    eta, beta = 1.5, 0.4
    z1 = tn.prox_step(z0, mu, v, eta, beta)
    pol = TabularSoftmaxPolicy(z1)
    loss = tn.prox_loss(pol, z0, mu, v, eta, beta)
    (grad,) = torch.autograd.grad(loss, pol.logits)
    assert grad.abs().max() <= 1e-14
    for _ in range(20):  # strictly convex in pi: every other policy is worse
        other = TabularSoftmaxPolicy(z1 + 0.1 * torch.tensor(rng.standard_normal((X, K))))
        assert float(tn.prox_loss(other, z0, mu, v, eta, beta).detach()) > float(loss.detach())


def test_preference_objective_gradient_is_the_win_rate():
    g, _ = _game(5, 6, contextual=True)
    P = tn.pref_tensor(g)
    rng = np.random.default_rng(7)
    pi = torch.tensor(mdps.softmax(rng.standard_normal((3, 5))), requires_grad=True)
    opp = torch.tensor(mdps.softmax(rng.standard_normal((3, 5))))
    (grad,) = torch.autograd.grad(tn.preference_objective(pi, P, opp), pi)
    want = np.einsum("xij,xj->xi", g.Pref, opp.numpy())
    assert np.abs(grad.numpy() - want).max() <= 1e-15


@pytest.mark.parametrize("beta,eta", [(0.5, 1.0), (2.0, 0.3), (0.1, 0.2)])
def test_nash_md_pg_loss_natural_gradient_is_the_step_direction(beta, eta):
    g, ref = _game(5, 8)
    P = tn.pref_tensor(g)
    log_mu = torch.log(torch.tensor(ref))[None]
    pol = TabularSoftmaxPolicy(np.random.default_rng(9).standard_normal(5))
    z = pol().detach()
    opponent = torch.exp(tn.geometric_mixture(z, log_mu, eta * beta))
    loss = tn.nash_md_pg_loss(pol, P, opponent, log_mu, beta)
    (grad,) = torch.autograd.grad(loss, pol.logits)
    natural = -grad / torch.exp(z)  # exact Fisher of the tabular softmax
    z_next = tn.nash_md_step(pol, P, log_mu, eta, beta)
    direction = (z_next - z) / eta
    diff = (natural - direction).numpy()[0]
    assert np.ptp(diff) <= 1e-12  # equal up to a constant per context
    # and the lab's step from the same point agrees
    lab = nash.nash_md(g, beta, eta, 1, ref=ref, init=np.exp(z.numpy()[0])).policies[1]
    assert np.abs(np.exp(z_next.numpy()[0]) - lab).max() <= 1e-14


@pytest.mark.parametrize("name,kw,eta", [c for c in CASES if c[2] is not None and c[0] != "nash_md"])
def test_equilibrium_is_a_fixed_point(name, kw, eta):
    """(Not Nash-MD: its constant-step fixed point is biased by O(eta), docs/theory/nash.md.)"""
    g, ref = _game(5, 10)
    beta = 0.5
    pi_star = g.regularized_nash(beta, ref=ref)
    pis = getattr(tn, name)(g, beta, eta, 3, ref=ref, init=pi_star, **kw).numpy()[:, 0]
    assert np.abs(pis - pi_star).max() <= 1e-12


# ----------------------------------------------------------------------------- the policy module
def test_tabular_policy_module():
    pol = TabularSoftmaxPolicy.from_policy(np.array([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7]]))
    assert pol.logits.dtype == torch.float64 and isinstance(pol, torch.nn.Module)
    assert list(pol.parameters())[0] is pol.logits
    np.testing.assert_allclose(pol.probs().detach().numpy().sum(-1), 1.0, rtol=0, atol=1e-15)
    lp = pol.log_prob(torch.tensor([0, 2]), torch.tensor([0, 1]))
    np.testing.assert_allclose(lp.detach().numpy(), np.log([0.5, 0.7]), rtol=1e-15)
    lp.sum().backward()
    assert pol.logits.grad is not None
    u = TabularSoftmaxPolicy.uniform(4, 2)
    np.testing.assert_allclose(u.probs().numpy() if not u.probs().requires_grad else u.probs().detach().numpy(),
                               0.25)


def test_log_policy_is_stable_for_huge_logits():
    pol = TabularSoftmaxPolicy(np.array([1000.0, 0.0, -1000.0]))
    lp = pol().detach().numpy()[0]
    assert np.isfinite(lp).all() and lp[0] == 0.0 and lp[1] == -1000.0


def test_policy_bad_inputs():
    with pytest.raises(ValueError, match=r"logits\[0, 1\] is nan"):
        TabularSoftmaxPolicy(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"pi\[0\] sums to"):
        TabularSoftmaxPolicy.from_policy(np.array([0.5, 0.6]))
    with pytest.raises(ValueError, match="full support"):
        TabularSoftmaxPolicy.from_policy(np.array([1.0, 0.0]))
    pol = TabularSoftmaxPolicy(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"responses holds 3, expected indices in \[0, 3\)"):
        pol.log_prob(torch.tensor([3]), torch.tensor([0]))
    with pytest.raises(ValueError, match="contexts is required"):
        pol.log_prob(torch.tensor([0]))
    with pytest.raises(TypeError, match="integer index"):
        pol.log_prob(torch.tensor([0.0]), torch.tensor([0]))


def test_run_bad_inputs():
    g, ref = _game(4, 11)
    with pytest.raises(ValueError, match=r"eta_t \* beta must be <= 1"):
        tn.nash_md(g, 1.0, 2.0, 5, ref=ref)
    with pytest.raises(ValueError, match="ref"):
        tn.nash_mirror_prox(g, 1.0, 2.0, 5, ref=np.array([0.5, 0.5, 0.0, 0.0]))
    with pytest.raises(ValueError, match="ref"):
        tn.nash_mirror_prox(g, 1.0, 2.0, 5, ref=np.ones(3) / 3)
    with pytest.raises(ValueError, match="beta"):
        tn.nash_mirror_prox(g, -1.0, 2.0, 5)
    with pytest.raises(ValueError, match="n_iter"):
        tn.nash_mirror_prox(g, 1.0, 2.0, 0)
    with pytest.raises(ValueError, match="prox"):
        tn.online_mirror_descent(g, 1.0, 0.5, 3, prox="other")
    with pytest.raises(ValueError):
        tn.pref_tensor(np.array([[0.5, 0.9], [0.9, 0.5]]))  # Pref + Pref^T != 1


def test_geometric_mixture_sampler():
    log_pi = torch.log(torch.tensor([[0.7, 0.2, 0.1]], dtype=torch.float64))
    log_mu = torch.log(torch.tensor([[0.1, 0.1, 0.8]], dtype=torch.float64))
    w = 0.4
    mix = np.exp(0.6 * np.log([0.7, 0.2, 0.1]) + 0.4 * np.log([0.1, 0.1, 0.8]))
    mix /= mix.sum()
    np.testing.assert_allclose(torch.exp(tn.geometric_mixture(log_pi, log_mu, w)).numpy()[0], mix, rtol=1e-14)
    n = 200_000
    a = tn.sample_geometric_mixture(log_pi, log_mu, w, n, rng=0)
    b = tn.sample_geometric_mixture(log_pi, log_mu, w, n, rng=0)
    assert torch.equal(a, b)  # reproducible from the seed
    freq = np.bincount(a.numpy()[0], minlength=3) / n
    assert np.abs(freq - mix).max() <= 5 * np.sqrt(0.25 / n)  # 5 standard errors (seed 0)
    with pytest.raises(TypeError, match="rng"):
        tn.sample_geometric_mixture(log_pi, log_mu, w, 10, rng=None)
    with pytest.raises(ValueError, match="weight"):
        tn.geometric_mixture(log_pi, log_mu, 1.5)


def test_the_core_lab_never_imports_torch():
    import subprocess
    import sys

    code = ("import sys, mdps, labkit, algorithms, proofs_checks\n"
            "from algorithms import nash, preference_learning\n"
            "labkit.checks()\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_minimising_inpo_pair_loss_in_torch_gives_the_omd_step():
    """INPO's population pair loss (every ordered pair (a, b) weighted pi_t(a) pi_t(b) P(a > b)),
    minimised over the logits of a TabularSoftmaxPolicy by torch's L-BFGS, lands on the lab's OMD
    step (the loss pins log pi up to a constant; the comparison graph is complete)."""
    from algorithms.torch import losses

    g, ref = _game(5, 12)
    beta, eta = 0.5, 0.8
    pi_t = mdps.softmax(np.random.default_rng(13).standard_normal(5))
    K = 5
    a, b = np.meshgrid(np.arange(K), np.arange(K), indexing="ij")
    a, b = a.ravel(), b.ravel()
    w = pi_t[a] * pi_t[b] * g.Pref[a, b]
    lt, lr = torch.tensor(np.log(pi_t)), torch.tensor(np.log(ref))
    pol = TabularSoftmaxPolicy(np.log(pi_t))
    opt = torch.optim.LBFGS(pol.parameters(), lr=1.0, max_iter=500, tolerance_grad=1e-14, tolerance_change=1e-16,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        lp = pol()[0]
        loss = losses.inpo(lp[a], lp[b], lt[a], lt[b], lr[a], lr[b], beta=beta, eta=eta, weights=w)
        loss.backward()
        return loss

    opt.step(closure)
    want = nash.inpo(g, beta, eta, 1, ref=ref, init=pi_t).policies[1]
    assert np.abs(pol.probs().detach().numpy()[0] - want).max() <= 1e-8


def test_step_bad_inputs():
    g, ref = _game(4, 14)
    P = tn.pref_tensor(g)
    log_mu = torch.log(torch.tensor(ref))[None]
    pol = TabularSoftmaxPolicy.uniform(4)
    with pytest.raises(ValueError, match=r"eta \* beta must be <= 1"):
        tn.nash_md_step(pol, P, log_mu, 3.0, 1.0)
    with pytest.raises(ValueError, match="prox"):
        tn.omd_step(pol, P, log_mu, 0.5, 1.0, prox="exactly")
    with pytest.raises(ValueError, match=r"Pref must have shape \(1, 4, 4\)"):
        tn.nash_mp_step(pol, P[:, :3, :3], log_mu, 2.0, 1.0)
    with pytest.raises(TypeError, match="policy must be a TabularSoftmaxPolicy"):
        tn.nash_mp_step(torch.zeros(4), P, log_mu, 2.0, 1.0)
    with pytest.raises(ValueError, match="eta"):
        tn.nash_mp_step(pol, P, log_mu, 0.0, 1.0)
    tn.nash_mp_step(pol, P, log_mu, 5.0, 1.0)  # no condition on eta beta for the exact prox
