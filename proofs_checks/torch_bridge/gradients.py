r"""The torch losses equal their one NumPy definition, and their gradients are the exact derivatives
and the tabular update directions.

Claim [R] (docs/theory/torch_bridge.md, section 'torch_bridge.loss_gradients'): each per-pair loss
of the DPO family is defined once, in :mod:`algorithms.preference_learning.losses`, with its
exact derivative; the torch bridge (:mod:`algorithms.torch.losses`) evaluates the same function
of the sequence log-probabilities, so on identical float64 inputs its value equals the NumPy
value and its autograd gradient equals the exact derivative times the chain rule of the margin
(``dz/d logp_w = beta``, ``dz/d logp_l = -beta``), up to rounding. For the Nash updates
(:mod:`algorithms.torch.nash`): the natural gradient of Nash-MD's KL-regularised policy-gradient
loss equals the Nash-MD step direction up to a constant per context, and the exact prox step
(Nash-MP's two steps, OMD's exact prox) is a stationary point of its prox loss. Expected gap 0;
tolerance 1e-12 relative (float64 rounding, about 1e-16, amplified by the conditioning of a few
operations, with a wide margin).

Papers: DPO, Rafailov et al. (2023), arXiv 2305.18290; cDPO/rDPO, Chowdhury, Kini, Natarajan
(2024), arXiv 2403.00409; IPO, Azar et al. (2023), arXiv 2310.12036; f-DPO, Wang et al. (2023),
arXiv 2309.16240; SLiC-HF, Zhao et al. (2023), arXiv 2305.10425; INPO, Zhang et al. (2024),
arXiv 2407.00617; Nash-MD, Munos et al. (2023), arXiv 2312.00886; Nash-MP, Tiapkin et al. (2025),
arXiv 2505.19731.

Measured: for each loss, the largest entrywise gap relative to ``max(1, |NumPy value|)``, of the
per-pair values and of the gradients, over random batches whose margins reach ``|z| = 700``, plus
fixed margins ``|z| = 15..60`` where approximate softplus forms switch branches (f-DPO: log-ratios
in [-6, 6], the range where the NumPy ratios are exact); the worst over losses and seeds is the
figure.
torch is imported only inside the measurement (``requires=("torch",)``).
"""

from __future__ import annotations

import numpy as np

from labkit.check import Check, register, worst_case

__all__ = ["loss_gradients"]

#: relative tolerance on every gap (module docstring)
GRADIENT_TOL = 1e-12

PAPER = ("Rafailov et al. 2023 (arXiv:2305.18290); Chowdhury, Kini, Natarajan 2024 (arXiv:2403.00409); Azar et al. "
         "2023 (arXiv:2310.12036); Wang et al. 2023 (arXiv:2309.16240); Zhang et al. 2024 (arXiv:2407.00617); Munos "
         "et al. 2023 (arXiv:2312.00886); derivations in docs/theory/torch_bridge.md")


def _rel(got, want) -> float:
    """Largest entrywise gap relative to ``max(1, |want|)``."""
    got = got.detach().numpy() if hasattr(got, "detach") else np.asarray(got, float)
    want = np.asarray(want, float)
    return float((np.abs(got - want) / np.maximum(1.0, np.abs(want))).max())


def _margin_cases(pl):
    L = pl.losses
    return {
        "DPO": ({}, L.dpo, L.dpo_grad),
        "cDPO eps=0.1": ({"eps": 0.1}, lambda z: L.cdpo(z, 0.1), lambda z: L.cdpo_grad(z, 0.1)),
        "cDPO eps=0.5": ({"eps": 0.5}, lambda z: L.cdpo(z, 0.5), lambda z: L.cdpo_grad(z, 0.5)),
        "rDPO eps=0": ({"eps": 0.0}, L.dpo, L.dpo_grad),
        "rDPO eps=0.1": ({"eps": 0.1}, lambda z: L.rdpo(z, 0.1), lambda z: L.rdpo_grad(z, 0.1)),
        "rDPO eps=0.45": ({"eps": 0.45}, lambda z: L.rdpo(z, 0.45), lambda z: L.rdpo_grad(z, 0.45)),
        "SLiC": ({"delta": 1.0}, lambda z: L.slic(z, 1.0), lambda z: L.slic_grad(z, 1.0)),
    }


def _loss_run(config, rng):
    import torch

    from algorithms import nash
    from algorithms import preference_learning as pl
    from algorithms.torch import TabularSoftmaxPolicy, losses
    from algorithms.torch import nash as tn
    from mdps import preference_generators as pg

    B, beta = 64, config["beta"]
    T = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731
    rows = []
    # margins spread over [-700, 700] (z = beta h), the reference log-probabilities random
    # random margins, plus fixed ones where approximate softplus forms switch branches (|z| ~ 15..60)
    fixed = np.array([15.0, 18.0, 20.5, 22.0, 25.0, 30.0, 36.0, 60.0])
    z = np.concatenate([rng.uniform(-700, 700, 24), rng.normal(0, 5, B - 40), fixed, -fixed])
    h = z / beta
    ref_w, ref_l = -rng.exponential(3.0, B), -rng.exponential(3.0, B)
    pw, pl_ = ref_w + np.minimum(h, 0.0), ref_l - np.maximum(h, 0.0)  # log-probabilities <= 0
    lr_w, lr_l = pw - ref_w, pl_ - ref_l
    z = beta * (lr_w - lr_l)  # the margin as the torch code sees it (h up to rounding)
    for name, (kw, value, grad) in _margin_cases(pl).items():
        fn = losses.rdpo if name.startswith("rDPO") else getattr(losses, name.split()[0].lower())
        ts = [T(pw), T(pl_), T(ref_w), T(ref_l)]
        out = fn(*ts, beta=beta, reduction="none", **kw)
        gw, gl = torch.autograd.grad(out.sum(), ts[:2])
        d = np.asarray(grad(z))
        rows.append((name, max(_rel(out, value(z)), _rel(gw, beta * d), _rel(gl, -beta * d))))
    # IPO in both normalisations (d/dlogp_w of the token form is ipo_grad / n_w)
    for norm in ("sequence", "token"):
        nw, nl = (rng.integers(1, 50, B), rng.integers(1, 50, B)) if norm == "token" else (None, None)
        hh = pl.losses.margin(lr_w, lr_l, normalization=norm, n_tokens_w=nw, n_tokens_l=nl)
        ts = [T(pw), T(pl_), T(ref_w), T(ref_l)]
        out = losses.ipo(*ts, beta=beta, normalization=norm, n_tokens_w=nw, n_tokens_l=nl, reduction="none")
        (gw,) = torch.autograd.grad(out.sum(), ts[:1])
        want_g = pl.losses.ipo_grad(hh, beta) / (1 if nw is None else nw)
        rows.append((f"IPO ({norm})", max(_rel(out, pl.losses.ipo(hh, beta)), _rel(gw, want_g))))
    assert {r[0] for r in rows} <= set(ROWS)
    # f-DPO on moderate log-ratios (the NumPy definition takes the ratios u = exp(lr))
    fw, fl = -rng.exponential(1.0, B), -rng.exponential(1.0, B)
    rw_, rl_ = fw - rng.uniform(-6, 6, B), fl - rng.uniform(-6, 6, B)
    rw_, rl_ = np.minimum(rw_, 0.0), np.minimum(rl_, 0.0)
    uw, ul = np.exp(fw - rw_), np.exp(fl - rl_)
    for f, alpha in (("reverse_kl", None), ("forward_kl", None), ("js", None), ("alpha", 0.5)):
        ts = [T(fw), T(fl), T(rw_), T(rl_)]
        out = losses.fdpo(*ts, beta=beta, f=f, alpha=alpha, reduction="none")
        gw, gl = torch.autograd.grad(out.sum(), ts[:2])
        dw, dl = pl.losses.fdpo_grad(uw, ul, beta, f=f, alpha=alpha)
        rows.append((f"f-DPO {f}", max(_rel(out, pl.losses.fdpo(uw, ul, beta, f=f, alpha=alpha)),
                                       _rel(gw, dw * uw), _rel(gl, dl * ul))))
    # INPO's pair loss against the tabular one
    K = 6
    lp, lt, lref = (np.log(rng.dirichlet(np.ones(K))) for _ in range(3))
    yw, yl = rng.integers(0, K, B), rng.integers(0, K, B)
    eta = min(0.5, 1.0 / beta)
    got = losses.inpo(*(torch.tensor(a) for a in (lp[yw], lp[yl], lt[yw], lt[yl], lref[yw], lref[yl])),
                      beta=beta, eta=eta)
    rows.append(("INPO pair loss", _rel(got, nash.inpo_loss(lp, lt, lref, yw, yl, beta=beta, eta=eta))))
    # Nash-MD: the natural gradient of the PG loss is the step direction (up to a constant per context)
    P = tn.pref_tensor(pg.uniform_tournament(5, rng=rng))
    X, K = P.shape[0], P.shape[-1]
    log_mu = torch.log_softmax(torch.tensor(rng.normal(0, 2, (X, K))), -1)
    pol = TabularSoftmaxPolicy(rng.normal(0, 1, (X, K)))
    zt = pol().detach()
    eta = min(1.0, 1.0 / beta)
    opp = torch.exp(tn.geometric_mixture(zt, log_mu, eta * beta))
    (g,) = torch.autograd.grad(tn.nash_md_pg_loss(pol, P, opp, log_mu, beta), pol.logits)
    natural = (-g / torch.exp(zt)).numpy()
    direction = ((tn.nash_md_step(pol, P, log_mu, eta, beta) - zt) / eta).numpy()
    diff = natural - direction
    rows.append(("Nash-MD PG loss direction",
                 float(np.ptp(diff, axis=-1).max() / max(1.0, float(np.abs(direction).max())))))
    # Nash-MP / exact prox: the prox step is stationary for the prox loss
    v = tn.win_rates(P, torch.exp(zt))
    z1 = tn.prox_step(zt, log_mu, v, 2.0, beta)
    pol1 = TabularSoftmaxPolicy(z1)
    (g1,) = torch.autograd.grad(tn.prox_loss(pol1, zt, log_mu, v, 2.0, beta), pol1.logits)
    rows.append(("Nash-MP prox loss stationarity", float(g1.abs().max())))
    return {name: gap for name, gap in rows}


#: the rows of the measurement, in the order of the figure's legend-free axis
ROWS = ("DPO", "cDPO eps=0.1", "cDPO eps=0.5", "rDPO eps=0", "rDPO eps=0.1", "rDPO eps=0.45", "SLiC",
        "IPO (sequence)", "IPO (token)", "f-DPO reverse_kl", "f-DPO forward_kl", "f-DPO js", "f-DPO alpha",
        "INPO pair loss", "Nash-MD PG loss direction", "Nash-MP prox loss stationarity")


def _measure(ctx):
    grid = [{"beta": b} for b in (0.05, 0.5, 3.0)]
    frame = ctx.sweep(_loss_run, grid, n_seeds=ctx.pick(2, 20))
    long = frame.melt(id_vars=["beta"], value_vars=list(ROWS), var_name="loss", value_name="gap")
    worst = long.groupby("loss")["gap"].max()
    return worst_case(
        long["gap"].to_numpy(), "<=", 0.0, GRADIENT_TOL, long,
        f"relative gap between each torch loss (value and autograd gradient) and its NumPy definition and exact "
        f"derivative, on {len(frame)} random batches of 64 pairs with margins up to |z| = 700 (and fixed ones at "
        f"|z| = 15..60), beta in 0.05, 0.5, 3; plus the Nash-MD natural-gradient direction and the prox "
        f"stationarity on random 5-response tournaments. Worst: "
        + "; ".join(f"{k} {v:.1e}" for k, v in worst.sort_values().items())
        + f". Tolerance {GRADIENT_TOL:g} (rounding).",
    )


def _plot(result):
    from labkit.figures import MARKERS, PALETTE, legend, subplots

    data = result.data
    floor = 1e-18
    gaps = data.assign(gap=data["gap"].clip(lower=floor))
    worst = gaps.groupby("loss")["gap"].max().sort_values()
    order = list(worst.index)
    fig, axes = subplots(panel_aspect=1.3)
    ax = axes[0, 0]
    y = gaps["loss"].map({a: i for i, a in enumerate(order)}).to_numpy(dtype=float)
    ax.scatter(gaps["gap"], y, s=9, color=PALETTE[0], marker=MARKERS[0], alpha=0.5, lw=0, label="one batch")
    ax.scatter(worst.to_numpy(), np.arange(len(order)), s=28, color=PALETTE[5], marker=MARKERS[4], label="worst batch")
    eps = ax.axvline(np.finfo(np.float64).eps, color="0.6", ls=":", lw=0.9, label="float64 machine epsilon")
    eps.set_gid("reference")
    line = ax.axvline(GRADIENT_TOL, color="0.15", ls="--", lw=0.9, label="tolerance (theorem: gap 0)")
    line.set_gid("theory")
    pretty = {"eps=": r"$\varepsilon$=", "alpha": r"$\alpha$=0.5", "reverse_kl": "reverse KL",
              "forward_kl": "forward KL", "js": "Jensen-Shannon"}
    labels = []
    for o in order:
        for k, v in pretty.items():
            o = o.replace(k, v)
        labels.append(o)
    ax.set_yticks(np.arange(len(order)), labels)
    ax.set_ylim(-0.6, len(order) - 0.4)
    ax.set_xscale("log")
    ax.set_xlim(min(float(worst.min()), 1e-17) / 3, 3 * max(GRADIENT_TOL, float(worst.max())))
    zero = r" (0 drawn at $10^{-18}$)" if (data["gap"] <= 0).any() else ""
    ax.set_xlabel("relative gap to the NumPy lab" + zero)
    ax.tick_params(axis="y", labelsize=6)
    legend(ax, outside=True)
    return fig


loss_gradients = register(Check(
    name="torch_bridge.loss_gradients",
    paper=PAPER,
    claim="Each torch loss of the DPO family (DPO, cDPO, rDPO, IPO in both normalisations, f-DPO, SLiC) and INPO's "
          "pair loss equals its one NumPy definition, its autograd gradient equals the exact derivative, Nash-MD's "
          "PG-loss natural gradient is the Nash-MD step direction and the exact prox step is stationary for its "
          "prox loss (relative gap 0 up to rounding, tolerance 1e-12).",
    tag="R", family="torch", requires=("torch",), install='pip install "rl-theory-lab[torch]"', cost=(2, 15),
    measure=_measure, plot=_plot,
))
