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
def _kl_stats(p0, lp, d, c, mu0, tot, lam, sp):
    """``(log Z_c, KL(p_lam || p0), tilted variance, tilted mean)`` for the tilted ``p_lam ~ p0 e^{-d/lam}``,
    with ``d = v - min v >= 0``, ``c = d - mu0`` its centring at the ``p0``-mean, ``lp = log p0`` on the
    support and ``Z_c = sum p0 e^{-c/lam} / tot`` (so the dual value is ``min v + mu0 - lam log Z_c - lam r``).
    The tilted mean is that of ``d`` in the first regime below, of ``c`` in the second.

    Two regimes, so that nothing cancels, overflows or underflows:

    * ``lam < sp`` (large radii): log-weights ``lp - d / lam`` shifted by their maximum ``M`` (a nominal
      mass of 1e-320 may carry most of the tilted mass: ``p0 e^{-d/lam}`` would lose its digits in the
      subnormal range); ``log Z_d = M + log sum e^{lp - d/lam - M} - log tot``,
      ``KL = -mean_d / lam - log Z_d`` (O(1) terms, no cancellation beyond ``|log p0|`` times an ulp),
      and ``log Z_c = log Z_d + mu0 / lam``.
    * ``lam >= sp`` (small radii, ``|c| / lam <= 1``): ``Z_c - 1 = sum p0 g(c/lam) / tot - s0/lam``
      with ``g(x) = e^{-x} - 1 + x >= 0`` summed by its series for ``|x| < 0.1``, ``log Z_c =
      log1p(Z_c - 1)``, and the tilted mean of ``c`` from ``sum p0 c (e^{-c/lam} - 1) + s0``
      (``s0 = sum p0 c``, zero up to round-off). Then ``KL = -mean_c / lam - log Z_c`` is a
      difference of terms of the same order (``Var/lam^2`` and ``Var/(2 lam^2)``): at ``r = 1e-20``
      the uncentred formula returned values above the nominal mean."""
    t = 1.0 / lam
    n = d.shape[0]
    if t * sp > 1.0:
        big = -np.inf
        for i in range(n):
            if p0[i] > 0.0:
                big = max(big, lp[i] - t * d[i])
        z = 0.0
        s1 = 0.0
        for i in range(n):
            if p0[i] > 0.0:
                w = math.exp(lp[i] - t * d[i] - big)
                z += w
                s1 += w * d[i]
        mean = s1 / z
        s2 = 0.0
        for i in range(n):
            if p0[i] > 0.0:
                s2 += math.exp(lp[i] - t * d[i] - big) * (d[i] - mean) ** 2
        logz_d = big + math.log(z) - math.log(tot)
        return logz_d + t * mu0, -t * mean - logz_d, s2 / z, mean
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
    return logz_c, -t * mean - logz_c, s2 / (tot * z), mean


_KL_TINY_SPREAD = 1e-250  # below this spread of v, kl_inner works with v rescaled (see there)


@nb.njit(cache=True)
def kl_inner(p0, v, order, r, p_out, want_p):
    r"""KL ball ``KL(p || p0) <= r`` (``p`` vanishes where ``p0`` does) through the one-dimensional dual
    ``max_{lam >= 0} -lam r - lam log sum p0 e^{-v/lam}``: the maximiser solves
    ``KL(p_lam || p0) = r`` for the tilted ``p_lam ~ p0 e^{-v/lam}`` (decreasing in ``lam``), found by
    a safeguarded Newton iteration on ``log lam``.

    The value returned is the primal value ``<p_lam, v>`` at the bracket's feasible end (computed
    ``KL <= r``), not the dual objective: the two differ by ``lam (KL(p_lam) - r)``, which the root's
    round-off (``|log p0|`` ulps of ``KL`` for a tiny nominal mass) turned into 1e-8 gaps between the value
    and its own minimiser. The minimiser is built from the same weights as the value."""
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
    if r >= math.log(tot) - math.log(m0) or vmax == vmin:  # the lam -> 0 endpoint: all mass on argmin over the support
        if want_p:
            for i in range(n):
                p_out[i] = p0[i] / m0 if (p0[i] > 0.0 and v[i] == vmin) else 0.0
        return vmin
    # A spread below _KL_TINY_SPREAD (subnormal values, say) is rescaled to 1: the problem is invariant
    # under v -> vmin + scale d, and 1 / lam would overflow to inf (inf * 0 = NaN) at lam ~ spread.
    scale = vmax - vmin if vmax - vmin < _KL_TINY_SPREAD else 1.0
    d = np.empty(n)
    lp = np.empty(n)
    for i in range(n):
        d[i] = (v[i] - vmin) / scale if p0[i] > 0.0 else 0.0
        lp[i] = math.log(p0[i]) if p0[i] > 0.0 else -np.inf
    mu0 = 0.0  # the p0-mean of d; the kernel works with d centred at it (see _kl_stats)
    for i in range(n):
        if p0[i] > 0.0:
            mu0 += p0[i] * d[i]
    mu0 /= tot
    if r <= 0.0:
        if want_p:
            for i in range(n):
                p_out[i] = p0[i] / tot if p0[i] > 0.0 else 0.0
        return vmin + scale * mu0
    c = np.empty(n)
    for i in range(n):
        c[i] = d[i] - mu0 if p0[i] > 0.0 else 0.0
    sp = (vmax - vmin) / scale
    # bracket the root of h(lam) = KL(p_lam || p0) - r (KL decreases in lam)
    lo = sp
    for _ in range(2000):
        logz, kl, var, mean = _kl_stats(p0, lp, d, c, mu0, tot, lo, sp)
        if kl > r or lo < 1e-300:
            break
        lo *= 0.5
    hi = sp
    for _ in range(2000):
        logz, kl, var, mean = _kl_stats(p0, lp, d, c, mu0, tot, hi, sp)
        if kl < r or hi > 1e300:
            break
        hi *= 2.0
    ulo = math.log(lo)
    uhi = math.log(hi)
    u = 0.5 * (ulo + uhi)
    for _ in range(_KL_MAX_STEPS):
        lam = math.exp(u)
        logz, kl, var, mean = _kl_stats(p0, lp, d, c, mu0, tot, lam, sp)
        h = kl - r
        if h > 0.0:
            ulo = u
        elif h < 0.0:
            uhi = u
        else:
            uhi = u
            break
        if uhi - ulo <= 1e-15:
            break
        # dKL/du = -var / lam^2
        u_new = u + h * lam * lam / var if var > 0.0 else 0.5 * (ulo + uhi)
        if not (ulo < u_new < uhi):
            u_new = 0.5 * (ulo + uhi)
        u = u_new
    lam = math.exp(uhi)  # the feasible end: computed KL <= r
    t = 1.0 / lam
    if t * sp > 1.0:  # log-weights shifted by their maximum (see _kl_stats); value vmin + tilted mean of d
        big = -np.inf
        for i in range(n):
            if p0[i] > 0.0:
                big = max(big, lp[i] - t * d[i])
        z = 0.0
        s1 = 0.0
        for i in range(n):
            if p0[i] > 0.0:
                w = math.exp(lp[i] - t * d[i] - big)
                z += w
                s1 += w * d[i]
        if want_p:
            for i in range(n):
                p_out[i] = math.exp(lp[i] - t * d[i] - big) / z if p0[i] > 0.0 else 0.0
        return vmin + scale * (s1 / z)
    # |c| / lam <= 1: weights p0 e^{-c/lam} (within a factor e of p0); value vmin + mu0 + tilted mean of c
    logz, kl, var, mean = _kl_stats(p0, lp, d, c, mu0, tot, lam, sp)
    if want_p:
        zs = 0.0
        for i in range(n):
            if p0[i] > 0.0:
                zs += p0[i] * math.exp(-t * c[i])
        for i in range(n):
            p_out[i] = p0[i] * math.exp(-t * c[i]) / zs if p0[i] > 0.0 else 0.0
    return vmin + scale * mu0 + scale * mean  # scale = 1: bit for bit (vmin + mu0) + mean


@nb.njit(cache=True)
def chi2_inner(p0, v, order, r, p_out, want_p):
    r"""Chi-square ball ``sum (p - p0)^2 / p0 <= r`` (``p`` vanishes where ``p0`` does). The minimiser
    is ``p ~ p0 (alpha - v)_+``; on the set ``K`` of support states with ``v < alpha`` (normalised mass
    ``m``, ``p0``-mean ``mu``, variance ``s2``) the constraint is tight at
    ``alpha = mu + sqrt(s2 / c)``, ``c = m (1 + r) - 1``, with value ``mu - sqrt(s2 c)``.
    Scanning the support in increasing ``v`` (running moments) finds the ``K`` whose ``alpha`` lies
    below the next value: exact, ``O(S)`` after the sort.

    Round-off (a nominal mass of 1e-15 next to one of 1 - 1e-15 gave a minimiser 8e-6 outside the ball):

    * the running moments use ratios of the raw nominal masses (``w / m'``, ``m / m'``, exact for
      subnormal masses) and ``s2' = (m / m') (s2 + (w / m') delta^2)``, never ``v - mu`` for a ``mu``
      rounded at the scale of ``|v|``;
    * ``c = (r m - rest) / tot`` with ``rest`` the suffix mass outside ``K`` summed directly, not
      ``m (1 + r) - 1``;
    * on the final ``K`` the moments are recomputed in two passes relative to its largest value ``v_l``
      (``D = v_l - mu = sum q (v_l - v) / sum q``, ``q = p0 2^k`` with ``max_K q`` in [1/2, 1), exact), and the weights are
      ``q ((v_l - v) - D + sqrt(s2 / c))``: ``alpha - v`` is never formed from a rounded ``alpha``
      (at ``alpha - v ~ 3e-7`` and ``|v| ~ 1`` that alone is a relative error 3e-10 of the weights)."""
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
    rest = np.empty(n + 1)  # rest[j]: nominal mass at sorted positions >= j
    rest[n] = 0.0
    for j in range(n - 1, -1, -1):
        w = p0[order[j]]
        rest[j] = rest[j + 1] + (w if w > 0.0 else 0.0)
    m = 0.0
    mu = 0.0
    s2 = 0.0
    c = r
    vfirst = 0.0
    degenerate = False
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
            c = (r * m - rest[j]) / tot if j < n else r  # the full support has mass 1
            if c >= 0.0:
                if v[order[last]] == vfirst:  # one value on K (s2 = 0; tested exactly, s2 may underflow)
                    degenerate = True
                    break
                if c > 0.0 and mu + math.sqrt(s2 / c) <= vnext:
                    break
        if j == n:
            break
        w = p0[i]
        if m == 0.0:
            mu = v[i]
            vfirst = v[i]
            m = w
        else:
            m_new = m + w
            a = w / m_new
            delta = v[i] - mu
            mu += delta * a
            s2 = (m / m_new) * (s2 + a * delta * delta)
            m = m_new
        last = j
    pk = 0.0
    for jj in range(last + 1):
        pk = max(pk, p0[order[jj]])
    # q = p0 * sc, sc a power of two putting max_K p0 in [1/2, 1): exact, unlike p0 / max_K p0 (a division
    # rounds subnormal masses to a few bits)
    sc = 2.0 ** max(0, -math.frexp(pk)[1])
    vl = v[order[last]]
    mq = 0.0
    s1 = 0.0
    for jj in range(last + 1):
        i = order[jj]
        if p0[i] > 0.0:
            q = p0[i] * sc
            mq += q
            s1 += q * (vl - v[i])
    dm = s1 / mq  # v_l - mu
    # p0-weighted sum of squared deviations; scaled by 2^600 when it lies in or near the subnormal
    # range (a nominal mass of 1e-323 beside one of 1), where its digits would be lost
    scale = 1.0
    ss = 0.0
    for _ in range(2):
        ss = 0.0
        for jj in range(last + 1):
            i = order[jj]
            if p0[i] > 0.0:
                ss += (p0[i] * sc * scale) * ((vl - v[i]) - dm) ** 2
        if ss >= 2.0**-800 or scale > 1.0:
            break
        scale = 2.0**600
    root = 1.0 / math.sqrt(scale)
    if not degenerate and ss > 0.0:
        sq = math.sqrt(ss / (mq * c)) * root  # alpha - mu = sqrt(s2 / c)
        zs = 0.0
        for jj in range(last + 1):
            i = order[jj]
            if p0[i] > 0.0:
                zs += (p0[i] * sc) * max((vl - v[i]) - dm + sq, 0.0)
        if zs > 0.0:
            if want_p:
                for i in range(n):
                    p_out[i] = 0.0
                for jj in range(last + 1):
                    i = order[jj]
                    if p0[i] > 0.0:  # e / zs first: q * e may be subnormal
                        p_out[i] = (p0[i] * sc) * (max((vl - v[i]) - dm + sq, 0.0) / zs)
            return (vl - dm) - math.sqrt(ss * c / mq) * root
    # one value on K, or a variance below the subnormal range even after scaling (the move onto K's lower
    # values is then below 1e-250 of the values' spread): the nominal row restricted to K, in the ball as c >= 0
    if want_p:
        for i in range(n):
            p_out[i] = 0.0
        for jj in range(last + 1):
            i = order[jj]
            if p0[i] > 0.0:
                p_out[i] = (p0[i] * sc) / mq
    return vl - dm


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
