"""Plain NumPy/SciPy twins of :mod:`mdps._robust_kernels`: the exact primal constructions.

Each function returns the minimiser ``p`` of ``<p, v>`` over the ball, built independently of the
kernel: the sorted constructions for L1 and L-infinity (NumPy's own sort, explicit masses), and
for KL and chi-square the closed-form family of minimisers (the tilted ``p ~ p0 e^{-v/lam}``, the
clipped ``p ~ p0 (alpha - v)_+``) with the multiplier found by :func:`scipy.optimize.brentq` on the
constraint ``D(p, p0) = r``. The value is then ``p @ v``. Used by the tests and the checks.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq


def l1_argmin(p0, v, r):
    p = np.array(p0, dtype=float)
    order = np.argsort(v, kind="stable")
    lo = order[0]
    delta = max(0.0, min(r / 2.0, 1.0 - p[lo]))
    p[lo] += delta
    for i in order[::-1][:-1]:
        take = min(delta, p[i])
        p[i] -= take
        delta -= take
        if delta <= 0.0:
            break
    return p


def linf_argmin(p0, v, r):
    p0 = np.asarray(p0, dtype=float)
    low, up = np.maximum(p0 - r, 0.0), np.minimum(p0 + r, 1.0)
    p = low.copy()
    m = 1.0 - low.sum()
    for i in np.argsort(v, kind="stable"):
        add = min(up[i] - low[i], m)
        p[i] += max(add, 0.0)
        m -= max(add, 0.0)
    return p


def _degenerate(p0, v):
    supp = p0 > 0
    vmin = v[supp].min()
    mask = supp & (v == vmin)
    return mask, p0[mask].sum() / p0.sum()


def kl_argmin(p0, v, r):
    p0 = np.asarray(p0, dtype=float)
    v = np.asarray(v, dtype=float)
    supp = p0 > 0
    mask, m0 = _degenerate(p0, v)
    if r >= -math.log(m0) or v[supp].max() == v[supp].min():
        return np.where(mask, p0, 0.0) / p0[mask].sum()
    if r == 0.0:
        return p0 / p0.sum()
    d = np.where(supp, v - v[supp].min(), 0.0)
    q = p0 / p0.sum()

    def tilt(u):
        w = np.where(supp, q * np.exp(-d / math.exp(u)), 0.0)
        return w / w.sum()

    def h(u):
        p = tilt(u)
        s = supp & (p > 0)
        return float(np.sum(p[s] * np.log(p[s] / q[s]))) - r

    lo = hi = math.log(d.max())
    while h(lo) <= 0.0:
        lo -= 1.0
    while h(hi) >= 0.0 and hi < 690.0:
        hi += 1.0
    return tilt(brentq(h, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))


def chi2_argmin(p0, v, r):
    p0 = np.asarray(p0, dtype=float)
    v = np.asarray(v, dtype=float)
    supp = p0 > 0
    q = p0 / p0.sum()
    mask, m0 = _degenerate(p0, v)
    if r >= 1.0 / m0 - 1.0:
        return np.where(mask, q, 0.0) / q[mask].sum()
    if r == 0.0:
        return q

    def clip(alpha):
        w = np.where(supp, q * np.maximum(alpha - v, 0.0), 0.0)
        return w / w.sum()

    def f(alpha):
        p = clip(alpha)
        return float(np.sum((p[supp] - q[supp]) ** 2 / q[supp])) - r

    vmin, vmax = v[supp].min(), v[supp].max()
    step = vmax - vmin
    hi = vmax + step
    while f(hi) >= 0.0:
        step *= 2.0
        hi = vmax + step
    # just above vmin all mass sits on the minimisers: chi2 = 1/m0 - 1 > r there
    lo = vmin + max(abs(float(np.spacing(vmin))), 1e-300)  # no underflow of q * (alpha - vmin)
    return clip(brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))


ARGMIN = {"l1": l1_argmin, "linf": linf_argmin, "kl": kl_argmin, "chi2": chi2_argmin,
          "tv": lambda p0, v, r: l1_argmin(p0, v, 2.0 * r)}
