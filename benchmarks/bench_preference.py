"""Preference-learning estimator speed: the lab's exact rDPO fit against cvxpy and one data pass.

Instance: ``LogLinearPreferenceTask.random(100, 10, 16, theta_norm=2, rng=0)`` (X = 100
contexts, K = 10 responses, d = 16), ``data = task.sample(n, eps=0.1, rng=0)``; the estimator is
rDPO with ``eps = 0.1`` and the norm constraint ``||theta|| <= 4``:
``pl.fit(task, data, "rdpo", eps=0.1, radius=4.0)`` (counting the records into sufficient
statistics is charged to it: it starts from the ``PreferenceData``).

Parts (issue goals in brackets):

a. **Against cvxpy** [ours >= 10x faster]. The same problem written as a user would:
   ``mean(cp.logistic(-z) - c z)`` with ``z = beta * (Dphi @ theta)``, ``c = eps/(1-2 eps)``
   (the rDPO loss ``l(z) - c z``), ``cp.norm(theta, 2) <= 4``, solved by Clarabel (cvxpy's
   default exponential-cone solver), **on the raw records** at the largest ``n`` that fits in a
   couple of minutes here (``n = 10^5``: ~25 s; ``10^6`` would take ~4 min, so it is not run),
   and **on the sufficient statistics** (``a_p l(z_p) + b_p l(-z_p)`` + the linear correction
   over the ``X K (K-1)/2`` unordered pairs with weights from the counts), the fair comparison,
   at ``n = 10^6``. Ratios are cvxpy / lab at the same ``n``; the largest coordinate difference of
   the two solutions is printed as a cross-check (cvxpy's default tolerances: ~1e-7).
b. **Against one pass over the data** [within 3x]. Defined as: one evaluation of the rDPO loss
   and gradient (``pl.losses.rdpo``, ``pl.losses.rdpo_grad``, ``Dphi.T @ g``) on the raw
   ``n x d`` feature differences, vectorised numpy, at ``n = 10^6``; reported both *with* the
   gather of the differences from the records (``phi[x, w] - phi[x, l]``, what a user starting
   from ``PreferenceData`` pays) and *without* it (differences precomputed: the stricter bound).

Everything runs in one process, side by side: the lab fit and the passes are timed
round-robin (median of repeats after a warm-up, ``benchmarks._timing.interleaved_medians``);
cvxpy solves are single timed runs (they take seconds). Run as a script, BLAS is pinned to one
thread (as in ``bench_nash``).

Usage::

    python -m benchmarks.bench_preference           # ~1 min here
    python -m benchmarks.bench_preference --tiny    # a seconds-long smoke run (used by the tests)
"""

from __future__ import annotations

import argparse
import os
import time

if __name__ == "__main__":  # one BLAS thread unless the caller says otherwise
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import numpy as np

import mdps
from algorithms import preference_learning as pl
from benchmarks._timing import interleaved_medians

EPS, RADIUS = 0.1, 4.0


def _task(X, K, d):
    return mdps.LogLinearPreferenceTask.random(X, K, d, theta_norm=2.0, rng=0)


def _lab(task, data):
    return pl.fit(task, data, "rdpo", eps=EPS, radius=RADIUS)


def _pass(task, theta, Dphi):
    z = task.beta * (Dphi @ theta)
    loss = float(np.mean(pl.losses.rdpo(z, EPS)))
    grad = task.beta * (Dphi.T @ pl.losses.rdpo_grad(z, EPS)) / z.shape[0]
    return loss, grad


def _gather(task, data):
    phi = task.features
    return phi[data.contexts, data.winners] - phi[data.contexts, data.losers]


def _cvxpy_raw(task, data):
    import cvxpy as cp
    Dphi = _gather(task, data)
    th = cp.Variable(task.dim)
    z = task.beta * (Dphi @ th)
    c = EPS / (1 - 2 * EPS)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.logistic(-z) - c * z) / data.n_pairs), [cp.norm(th, 2) <= RADIUS])
    t0 = time.perf_counter()
    prob.solve(solver="CLARABEL")
    return time.perf_counter() - t0, np.asarray(th.value)


def _cvxpy_stats(task, data):
    import cvxpy as cp
    C = data.counts().astype(float)
    K = task.n_responses
    iu, ju = np.triu_indices(K, k=1)
    a, b = C[:, iu, ju].ravel(), C[:, ju, iu].ravel()
    D = (task.features[:, iu] - task.features[:, ju]).reshape(-1, task.dim)
    keep = a + b > 0
    a, b, D = a[keep] / C.sum(), b[keep] / C.sum(), D[keep]
    th = cp.Variable(task.dim)
    z = task.beta * (D @ th)
    c = EPS / (1 - 2 * EPS)
    obj = a @ cp.logistic(-z) + b @ cp.logistic(z) - c * ((a - b) @ z)
    prob = cp.Problem(cp.Minimize(obj), [cp.norm(th, 2) <= RADIUS])
    t0 = time.perf_counter()
    prob.solve(solver="CLARABEL")
    return time.perf_counter() - t0, np.asarray(th.value)


def run(X, K, d, n, n_raw, repeats):
    task = _task(X, K, d)
    data = task.sample(n, eps=EPS, rng=0)
    fit = _lab(task, data)
    theta = np.array(fit.theta)
    Dphi = _gather(task, data)
    t = interleaved_medians({
        "lab": lambda: _lab(task, data),
        "pass": lambda: _pass(task, theta, Dphi),
        "gather+pass": lambda: _pass(task, theta, _gather(task, data)),
    }, repeats)
    rows = {"n": n, "lab": t["lab"], "pass": t["pass"], "gather_pass": t["gather+pass"],
            "kkt": fit.certificate.kkt_residual}
    print(f"\n## rDPO fit, X={X}, K={K}, d={d}, eps={EPS}, radius={RADIUS}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}\n")
    print(f"lab fit at n={n}: {1e3 * t['lab']:.2f} ms (KKT residual {fit.certificate.kkt_residual:.1e}, "
          f"{fit.certificate.n_iter} Newton steps, constraint active: {fit.certificate.active})\n")
    print("### b. Against one pass over the data\n")
    print("| pass | time (ms) | lab / pass |\n|---|---|---|")
    print(f"| loss + gradient on precomputed n x d differences | {1e3 * t['pass']:.2f} | {t['lab'] / t['pass']:.2f} |")
    print(f"| gather differences + loss + gradient | {1e3 * t['gather+pass']:.2f} | "
          f"{t['lab'] / t['gather+pass']:.2f} |")
    print("\n### a. Against cvxpy (Clarabel)\n")
    print("| cvxpy formulation | n | cvxpy (s) | lab (s) | cvxpy / lab | max abs diff of theta |\n|---|---|---|---|---|---|")
    out = []
    data_raw = task.sample(n_raw, eps=EPS, rng=0)
    t_lab_raw = interleaved_medians({"lab": lambda: _lab(task, data_raw)}, repeats)["lab"]
    th_raw = np.array(_lab(task, data_raw).theta)
    for label, fn, dd, tl, ref in (("raw records", _cvxpy_raw, data_raw, t_lab_raw, th_raw),
                                   ("sufficient statistics", _cvxpy_stats, data, t["lab"], theta)):
        tc, thc = fn(task, dd)
        diff = float(np.abs(thc - ref).max())
        out.append((label, dd.n_pairs, tc, tl, diff))
        print(f"| {label} | {dd.n_pairs} | {tc:.3f} | {tl:.4f} | {tc / tl:.1f} | {diff:.1e} |")
    rows["cvxpy"] = out
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="small instance, a smoke run")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    if args.tiny:
        return run(5, 4, 3, 2000, 500, args.repeats or 3)
    return run(100, 10, 16, 10**6, 10**5, args.repeats or 15)


if __name__ == "__main__":
    main()
