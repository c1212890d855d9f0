r"""Numba kernels for robust MDPs: the inner worst-case problem over a ball around a nominal row.

Every kernel solves :math:`\sigma(v) = \min_{p \in \Delta_S,\ D(p, \hat p) \le r} \langle p, v\rangle`
for one nominal row ``p0`` and writes the minimiser into ``p_out`` when ``want_p`` is true.
The sorted kernels take ``order = argsort(v)``: in a robust sweep every state-action pair shares
one value vector, so :func:`robust_q` sorts once per sweep, not once per pair. Derivations and
references are in :mod:`mdps.robust`; the plain NumPy twins of these kernels are in
:mod:`mdps._robust_reference`. Kernels trust their inputs (validated in :mod:`mdps.robust`);
``cache=True``, no ``fastmath``.

Kind codes: ``L1 = 0`` (TV is L1 at twice the radius), ``LINF = 1``, ``KL = 2``, ``CHI2 = 3``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

L1, LINF, KL, CHI2 = 0, 1, 2, 3
#: the KL kernel's root-finder stops when its log-lambda bracket is this narrow (relative width
#: of lambda ~ 4 ulp), or after this many steps
_KL_MAX_STEPS = 400


@nb.njit(cache=True)
def l1_inner(p0, v, order, r, p_out, want_p):
    r"""L1 ball ``|p - p0|_1 <= r``: move ``delta = min(r/2, 1 - p0[i*])`` onto ``i* = argmin v``,
    taken from the other states in decreasing order of ``v``, each giving at most its mass."""
    n = v.shape[0]
    lo = order[0]
    delta = min(0.5 * r, 1.0 - p0[lo])
    if delta < 0.0:
        delta = 0.0
    val = 0.0
    for i in range(n):
        val += p0[i] * v[i]
        if want_p:
            p_out[i] = p0[i]
    if want_p:
        p_out[lo] += delta
    rem = delta
    j = n - 1
    while rem > 0.0 and j > 0:
        i = order[j]
        take = min(rem, p0[i])
        val -= take * (v[i] - v[lo])
        if want_p:
            p_out[i] -= take
        rem -= take
        j -= 1
    return val


@nb.njit(cache=True)
def linf_inner(p0, v, order, r, p_out, want_p):
    r"""L-infinity box ``|p_i - p0_i| <= r``: start from the lower bounds ``max(0, p0 - r)`` and
    fill states in increasing order of ``v`` up to ``min(1, p0 + r)`` until the mass is 1."""
    n = v.shape[0]
    mass = 0.0
    val = 0.0
    for i in range(n):
        low = max(0.0, p0[i] - r)
        mass += low
        val += low * v[i]
        if want_p:
            p_out[i] = low
    m = 1.0 - mass
    for j in range(n):
        if m <= 0.0:
            break
        i = order[j]
        low = max(0.0, p0[i] - r)
        add = min(min(1.0, p0[i] + r) - low, m)
        val += add * v[i]
        if want_p:
            p_out[i] += add
        m -= add
    return val


@nb.njit(cache=True)
def _kl_stats(p0, d, c, mu0, tot, lam, sp):
    """``(log Z_c, KL(p_lam || p0), tilted variance)`` for the tilted ``p_lam ~ p0 e^{-d/lam}``,
    with ``d = v - min v >= 0`` and ``c = d - mu0`` its centring at the ``p0``-mean, and
    ``Z_c = sum p0 e^{-c/lam} / tot`` (so the dual value is ``min v + mu0 - lam log Z_c - lam r``).

    Two regimes, so that nothing cancels or overflows:

    * ``lam < sp`` (large radii): weights ``p0 e^{-d/lam} <= p0`` from the uncentred ``d``;
      ``KL = -mean_d / lam - log Z_d`` has no cancellation there (it is O(1)), and
      ``log Z_c = log Z_d + mu0 / lam``.
    * ``lam >= sp`` (small radii, ``|c| / lam <= 1``): ``Z_c - 1 = sum p0 g(c/lam) / tot - s0/lam``
      with ``g(x) = e^{-x} - 1 + x >= 0`` summed by its series for ``|x| < 0.1``, ``log Z_c =
      log1p(Z_c - 1)``, and the tilted mean of ``c`` from ``sum p0 c (e^{-c/lam} - 1) + s0``
      (``s0 = sum p0 c``, zero up to round-off). Then ``KL = -mean_c / lam - log Z_c`` is a
      difference of terms of the same order (``Var/lam^2`` and ``Var/(2 lam^2)``): at ``r = 1e-20``
      the uncentred formula returned values above the nominal mean."""
    t = 1.0 / lam
    n = d.shape[0]
    if t * sp > 1.0:
        z = 0.0
        s1 = 0.0
        for i in range(n):
            if p0[i] > 0.0:
                w = p0[i] * math.exp(-t * d[i])
                z += w
                s1 += w * d[i]
        mean = s1 / z
        s2 = 0.0
        for i in range(n):
            if p0[i] > 0.0:
                s2 += p0[i] * math.exp(-t * d[i]) * (d[i] - mean) ** 2
        logz_d = math.log(z / tot)
        return logz_d + t * mu0, -t * mean - logz_d, s2 / z
    zm1 = 0.0
    num = 0.0
    s0 = 0.0
    for i in range(n):
        if p0[i] > 0.0:
            x = t * c[i]
            if abs(x) < 0.1:  # g(x) = x^2/2 - x^3/6 + x^4/24 - ...: 12 terms reach round-off
                term = x * x / 2.0
                g = 0.0
                for k in range(3, 15):
                    g += term
                    term *= -x / k
            else:
                g = math.expm1(-x) + x
            zm1 += p0[i] * g
            num += p0[i] * c[i] * math.expm1(-x)
            s0 += p0[i] * c[i]
    zm1 = (zm1 - t * s0) / tot
    z = 1.0 + zm1
    mean = (num + s0) / (tot * z)
    s2 = 0.0
    for i in range(n):
        if p0[i] > 0.0:
            s2 += p0[i] * math.exp(-t * c[i]) * (c[i] - mean) ** 2
    logz_c = math.log1p(zm1)
    return logz_c, -t * mean - logz_c, s2 / (tot * z)


@nb.njit(cache=True)
def kl_inner(p0, v, order, r, p_out, want_p):
    r"""KL ball ``KL(p || p0) <= r`` (``p`` vanishes where ``p0`` does) through the one-dimensional dual
    ``max_{lam >= 0} -lam r - lam log sum p0 e^{-v/lam}``: the maximiser solves
    ``KL(p_lam || p0) = r`` for the tilted ``p_lam ~ p0 e^{-v/lam}`` (decreasing in ``lam``), found by
    a safeguarded Newton iteration on ``log lam``; the value returned is the dual objective there."""
    n = v.shape[0]
    tot = 0.0
    vmin = np.inf
    vmax = -np.inf
    for i in range(n):
        if p0[i] > 0.0:
            tot += p0[i]
            vmin = min(vmin, v[i])
            vmax = max(vmax, v[i])
    m0 = 0.0
    for i in range(n):
        if p0[i] > 0.0 and v[i] == vmin:
            m0 += p0[i]
    m0 /= tot
    if r >= -math.log(m0) or vmax == vmin:  # the lam -> 0 endpoint: all mass on argmin over the support
        if want_p:
            for i in range(n):
                p_out[i] = p0[i] / (m0 * tot) if (p0[i] > 0.0 and v[i] == vmin) else 0.0
        return vmin
    d = np.empty(n)
    for i in range(n):
        d[i] = v[i] - vmin if p0[i] > 0.0 else 0.0
    mu0 = 0.0  # the p0-mean of d; the kernel works with d centred at it (see _kl_stats)
    for i in range(n):
        if p0[i] > 0.0:
            mu0 += p0[i] * d[i]
    mu0 /= tot
    if r <= 0.0:
        if want_p:
            for i in range(n):
                p_out[i] = p0[i] / tot if p0[i] > 0.0 else 0.0
        return vmin + mu0
    c = np.empty(n)
    for i in range(n):
        c[i] = d[i] - mu0 if p0[i] > 0.0 else 0.0
    sp = vmax - vmin
    # bracket the root of h(lam) = KL(p_lam || p0) - r (KL decreases in lam)
    lo = sp
    for _ in range(2000):
        logz, kl, var = _kl_stats(p0, d, c, mu0, tot, lo, sp)
        if kl > r or lo < 1e-300:
            break
        lo *= 0.5
    hi = sp
    for _ in range(2000):
        logz, kl, var = _kl_stats(p0, d, c, mu0, tot, hi, sp)
        if kl < r or hi > 1e300:
            break
        hi *= 2.0
    ulo = math.log(lo)
    uhi = math.log(hi)
    u = 0.5 * (ulo + uhi)
    for _ in range(_KL_MAX_STEPS):
        lam = math.exp(u)
        logz, kl, var = _kl_stats(p0, d, c, mu0, tot, lam, sp)
        h = kl - r
        if h > 0.0:
            ulo = u
        elif h < 0.0:
            uhi = u
        else:
            break
        if uhi - ulo <= 1e-15:
            break
        # dKL/du = -var / lam^2
        u_new = u + h * lam * lam / var if var > 0.0 else 0.5 * (ulo + uhi)
        if not (ulo < u_new < uhi):
            u_new = 0.5 * (ulo + uhi)
        u = u_new
    lam = math.exp(u)
    logz, kl, var = _kl_stats(p0, d, c, mu0, tot, lam, sp)
    if want_p:  # weights from the uncentred d (each <= p0: no overflow), then normalised
        zs = 0.0
        for i in range(n):
            zs += p0[i] * math.exp(-d[i] / lam) if p0[i] > 0.0 else 0.0
        for i in range(n):
            p_out[i] = p0[i] * math.exp(-d[i] / lam) / zs if p0[i] > 0.0 else 0.0
    return vmin + mu0 - lam * logz - lam * r


@nb.njit(cache=True)
def chi2_inner(p0, v, order, r, p_out, want_p):
    r"""Chi-square ball ``sum (p - p0)^2 / p0 <= r`` (``p`` vanishes where ``p0`` does). The minimiser
    is ``p ~ p0 (alpha - v)_+``; on the set ``K`` of support states with ``v < alpha`` (mass ``m``,
    ``p0``-mean ``mu``, variance ``s2``) the constraint is tight at
    ``alpha = mu + sqrt(s2 / (m (1 + r) - 1))``, with value ``mu - sqrt(s2 (m (1 + r) - 1))``.
    Scanning the support in increasing ``v`` (Welford's running moments) finds the ``K`` whose
    ``alpha`` lies below the next value: exact, ``O(S)`` after the sort."""
    n = v.shape[0]
    tot = 0.0
    val0 = 0.0
    for i in range(n):
        tot += p0[i]
        val0 += p0[i] * v[i]
    if r <= 0.0:
        if want_p:
            for i in range(n):
                p_out[i] = p0[i] / tot
        return val0 / tot
    m = 0.0
    mu = 0.0
    M2 = 0.0
    val = 0.0
    alpha = 0.0
    degenerate = False
    done = False
    last = -1
    for j in range(n + 1):
        if j < n:
            i = order[j]
            if p0[i] <= 0.0:
                continue
            vnext = v[i]
        else:
            vnext = np.inf
        if m > 0.0 and (j == n or vnext != v[order[last]]):
            c = m * (1.0 + r) - 1.0 if j < n else r  # the full support has mass 1
            s2 = max(M2 / m, 0.0)
            if c >= 0.0:
                if s2 == 0.0:
                    val = mu
                    degenerate = True
                    done = True
                elif c > 0.0:
                    a = mu + math.sqrt(s2 / c)
                    if a <= vnext:
                        alpha = a
                        val = mu - math.sqrt(s2 * c)
                        done = True
            if done:
                break
        if j == n:
            break
        w = p0[i] / tot
        if m == 0.0:
            mu = v[i]
            m = w
        else:
            m_new = m + w
            delta = v[i] - mu
            mu += delta * w / m_new
            M2 += w * delta * (v[i] - mu)
            m = m_new
        last = j
    if want_p:
        for i in range(n):
            p_out[i] = 0.0
        zs = 0.0
        for jj in range(last + 1):
            i = order[jj]
            if p0[i] > 0.0:
                w = p0[i] if degenerate else p0[i] * max(alpha - v[i], 0.0)
                p_out[i] = w
                zs += w
        for i in range(n):
            p_out[i] /= zs
    return val


@nb.njit(cache=True)
def inner(kind, p0, v, order, r, p_out, want_p):
    """Dispatch on the kind code (see the module docstring)."""
    if kind == L1:
        return l1_inner(p0, v, order, r, p_out, want_p)
    if kind == LINF:
        return linf_inner(p0, v, order, r, p_out, want_p)
    if kind == KL:
        return kl_inner(p0, v, order, r, p_out, want_p)
    return chi2_inner(p0, v, order, r, p_out, want_p)


@nb.njit(cache=True)
def _robust_row(kind, P2, R, radius, gamma, V, order, s, Q_out, dummy):
    A = R.shape[1]
    for a in range(A):
        Q_out[s, a] = R[s, a] + gamma * inner(kind, P2[s * A + a], V, order, radius[s, a], dummy, False)


@nb.njit(cache=True, parallel=True)
def robust_q(kind, P2, R, radius, gamma, V, Q_out):
    r"""Robust state-action values ``Q[s, a] = R[s, a] + gamma * sigma_{s,a}(V)`` of an
    (s,a)-rectangular ball, dense ``(S*A, S)`` nominal rows; ``V`` is sorted once for the sweep."""
    order = np.argsort(V, kind="mergesort")
    dummy = np.empty(0)
    for s in nb.prange(R.shape[0]):
        _robust_row(kind, P2, R, radius, gamma, V, order, s, Q_out, dummy)


@nb.njit(cache=True)
def robust_q_serial(kind, P2, R, radius, gamma, V, Q_out):
    """Serial twin of :func:`robust_q` (same bits; no parallel launch cost on small instances)."""
    order = np.argsort(V, kind="mergesort")
    dummy = np.empty(0)
    for s in range(R.shape[0]):
        _robust_row(kind, P2, R, radius, gamma, V, order, s, Q_out, dummy)


@nb.njit(cache=True)
def worst_case_rows(kind, P2, radius, V, P_out):
    """The minimiser of every pair's inner problem at ``V``: ``P_out`` (S*A, S)."""
    order = np.argsort(V, kind="mergesort")
    A = radius.shape[1]
    for row in range(P2.shape[0]):
        inner(kind, P2[row], V, order, radius[row // A, row % A], P_out[row], True)
