"""Per-pair preference losses (algorithms.preference_learning.losses): the identities between
them, their derivatives, their numerics and their input validation.

Identities checked (docs/theory/preference_learning.md): swapping winner and loser
(``dpo(z) - dpo(-z) = -z`` and its cDPO / rDPO forms), ``eps = 0`` reduces cDPO and rDPO to DPO
exactly, rDPO is an unbiased estimate of the clean DPO loss under symmetric flips, every
derivative matches central finite differences, f-DPO with reverse KL is DPO on log-ratios,
IPO is minimised at ``h = 1/(2 beta)``, the SLiC hinge values.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from algorithms import preference_learning as pl

L = pl.losses
EPS_MACH = np.finfo(np.float64).eps
finite = dict(allow_nan=False, allow_infinity=False)

#: Margins over a range where every loss is finite for every admissible eps.
margins = st.floats(-1e6, 1e6, **finite)
margin_arrays = hnp.arrays(np.float64, st.integers(1, 8), elements=margins)
#: Margins for finite differences (beyond |z| ~ 40 the logistic terms are below round-off).
fd_margins = st.floats(-40.0, 40.0, **finite)
eps_rdpo = st.floats(0.0, 0.49, **finite)
eps_cdpo = st.floats(0.0, 0.5, **finite)
betas = st.floats(1e-2, 10.0, **finite)
ratios = st.floats(1e-3, 1e3, **finite)


def _close(a, b, scale, rel):
    """``|a - b| <= rel * scale`` elementwise, ``scale`` the magnitude of the summands."""
    a, b, scale = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float), np.asarray(scale, float))
    assert np.all(np.abs(a - b) <= rel * scale + 1e-300), (a, b, scale)


# --------------------------------------------------------------------------- swap winner / loser


@given(margin_arrays)
def test_dpo_swap_is_the_logit_identity(z):
    # l(z) - l(-z) = -z; round-off is a few ulps of the larger term (<= |z| + log 2)
    lhs = L.dpo(z) - L.dpo(-z)
    _close(lhs, -z, np.abs(z) + math.log(2), 8 * EPS_MACH)


@given(margin_arrays, eps_cdpo)
def test_cdpo_swap_and_linear_form(z, eps):
    # (1-eps) l(z) + eps l(-z) minus the same at -z is -(1-2eps) z; and cdpo = dpo + eps z
    scale = np.abs(z) + math.log(2)
    _close(L.cdpo(z, eps) - L.cdpo(-z, eps), -(1 - 2 * eps) * z, scale, 16 * EPS_MACH)
    _close(L.cdpo(z, eps), L.dpo(z) + eps * z, scale, 16 * EPS_MACH)


def test_cdpo_at_one_half_is_even():
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(L.cdpo(z, 0.5), L.cdpo(-z, 0.5), rtol=4 * EPS_MACH)


@given(margin_arrays, eps_rdpo)
def test_rdpo_swap_and_paper_form(z, eps):
    # rdpo(z) - rdpo(-z) = -z / (1-2eps); the implementation's l(z) - eps z/(1-2eps) equals the
    # paper's [(1-eps) l(z) - eps l(-z)] / (1-2eps)
    k = 1.0 / (1 - 2 * eps)
    scale = k * (np.abs(z) + math.log(2))
    _close(L.rdpo(z, eps) - L.rdpo(-z, eps), -k * z, scale, 32 * EPS_MACH)
    paper = ((1 - eps) * L.dpo(z) - eps * L.dpo(-z)) / (1 - 2 * eps)
    _close(L.rdpo(z, eps), paper, scale, 32 * EPS_MACH)


# --------------------------------------------------------------------------- eps = 0 and unbiasedness


@given(margin_arrays)
def test_eps_zero_is_dpo_exactly(z):
    d = L.dpo(z)
    np.testing.assert_array_equal(L.cdpo(z, 0.0), d)
    np.testing.assert_array_equal(L.rdpo(z, 0.0), d)
    np.testing.assert_array_equal(L.cdpo_grad(z, 0.0), L.dpo_grad(z))
    np.testing.assert_array_equal(L.rdpo_grad(z, 0.0), L.dpo_grad(z))


@given(margin_arrays, eps_rdpo)
def test_rdpo_is_unbiased_under_symmetric_flips(z, eps):
    # The observed label is flipped with probability eps; the exact expectation over that one
    # flip of the rDPO loss is the clean DPO loss, for every margin, and likewise for the
    # gradient. The sum cancels terms of size ~ |z| / (1-2eps), so the tolerance is 1e-12
    # relative to the sum of the absolute values of the terms (the sum's condition number).
    a, b = (1 - eps) * L.rdpo(z, eps), eps * L.rdpo(-z, eps)
    _close(a + b, L.dpo(z), np.abs(a) + np.abs(b) + L.dpo(z), 1e-12)
    ga, gb = (1 - eps) * L.rdpo_grad(z, eps), -eps * L.rdpo_grad(-z, eps)
    _close(ga + gb, L.dpo_grad(z), np.abs(ga) + np.abs(gb) + 1.0, 1e-12)
    # cDPO is not unbiased: its expectation over the flip is dpo(z) + 2 eps (1-eps) z
    c = (1 - eps) * L.cdpo(z, eps) + eps * L.cdpo(-z, eps)
    _close(c, L.dpo(z) + 2 * eps * (1 - eps) * z, np.abs(z) + 1.0, 1e-12)


# --------------------------------------------------------------------------- derivatives


def _central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def _check_fd(f, g, x, *, rel=1e-6):
    """Central difference with step h = 1e-6 (1 + |x|): truncation error h^2 |f'''| / 6 is
    <= 1e-12 (1 + |x|)^2 |f'''| and, for these losses, far below rel |f'|; round-off
    2 ulp(|f|) / (2h) is bounded by ``noise``. ``rel = 1e-6`` leaves two orders of margin
    over the truncation error at the largest step used."""
    x = np.asarray(x, float)
    h = 1e-6 * (1 + np.abs(x))
    fd = _central(f, x, h)
    noise = 4 * EPS_MACH * (np.abs(f(x + h)) + np.abs(f(x - h))) / (2 * h)
    assert np.all(np.abs(fd - g(x)) <= rel * np.abs(g(x)) + noise + 1e-12), (x, fd, g(x))


@given(fd_margins, eps_rdpo, eps_cdpo)
def test_margin_gradients_match_finite_differences(z, e_r, e_c):
    _check_fd(L.dpo, L.dpo_grad, z)
    _check_fd(lambda t: L.cdpo(t, e_c), lambda t: L.cdpo_grad(t, e_c), z)
    _check_fd(lambda t: L.rdpo(t, e_r), lambda t: L.rdpo_grad(t, e_r), z)


@given(fd_margins, eps_rdpo)
def test_rdpo_gradient_is_the_papers_weight(z, eps):
    # -[(1-eps) sigma(-z) + eps sigma(z)] / (1-2eps)
    sig = lambda t: 1.0 / (1.0 + math.exp(-t))
    w = -((1 - eps) * sig(-z) + eps * sig(z)) / (1 - 2 * eps)
    _close(L.rdpo_grad(z, eps), w, abs(w), 1e-13)


@given(st.floats(-50, 50, **finite), betas)
@example(5.4702611092678345e-14, 0.01)  # pow(d, 2) and d * d differ by an ulp here (CI)
def test_ipo_gradient_and_minimiser(h, beta):
    _check_fd(lambda t: L.ipo(t, beta), lambda t: L.ipo_grad(t, beta), h)
    hstar = 1.0 / (2.0 * beta)
    assert L.ipo(hstar, beta) == 0.0 and L.ipo_grad(hstar, beta) == 0.0
    # exactly the correctly rounded square d * d (Python's ** 2 goes through libm's pow, which
    # can differ by an ulp: h = 5.47e-14, beta = 0.01)
    d = h - hstar
    assert L.ipo(h, beta) == d * d
    if h != hstar:
        assert L.ipo(h, beta) > 0.0


@given(st.floats(-50, 50, **finite), st.floats(0.01, 10, **finite))
def test_slic_hinge_values_and_subgradient(z, delta):
    assert L.slic(z, delta) == max(0.0, delta - z)
    assert L.slic_grad(z, delta) == (-1.0 if z < delta else 0.0)
    if abs(z - delta) > 1e-3:
        x = np.asarray(z)
        h = 1e-4
        fd = (L.slic(x + h, delta) - L.slic(x - h, delta)) / (2 * h)
        assert abs(fd - L.slic_grad(z, delta)) <= 1e-6  # piecewise linear: exact up to round-off


def test_slic_kink_convention():
    assert L.slic(1.0) == 0.0 and L.slic_grad(1.0) == 0.0
    np.testing.assert_array_equal(L.slic([0.0, 1.0, 2.0], 1.0), [1.0, 0.0, 0.0])


_FDIVS = [("reverse_kl", None), ("forward_kl", None), ("js", None), ("alpha", 0.3), ("alpha", 0.9)]


@pytest.mark.parametrize("f,alpha", _FDIVS)
@given(uw=ratios, ul=ratios, beta=st.floats(0.05, 2.0, **finite))
def test_fdpo_gradients_match_finite_differences(f, alpha, uw, ul, beta):
    gw, gl = L.fdpo_grad(uw, ul, beta, f, alpha)
    for u, g, call in ((uw, gw, lambda t: L.fdpo(t, ul, beta, f, alpha)),
                       (ul, gl, lambda t: L.fdpo(uw, t, beta, f, alpha))):
        # multiplicative step h = 1e-6 u keeps u +- h > 0; truncation ~ (h/u)^2 relative
        h = 1e-6 * u
        fd = (call(u + h) - call(u - h)) / (2 * h)
        noise = 4 * EPS_MACH * (abs(call(u + h)) + abs(call(u - h))) / (2 * h)
        assert abs(fd - g) <= 1e-5 * abs(g) + noise + 1e-12, (f, u, fd, g)


@given(hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(1e-200, 1e200, **finite)),
       st.floats(1e-200, 1e200, **finite), betas)
def test_fdpo_reverse_kl_is_dpo_on_log_ratios(uw, ul, beta):
    np.testing.assert_array_equal(L.fdpo(uw, ul, beta, "reverse_kl"),
                                  L.dpo(beta * (np.log(uw) - np.log(ul))))


@given(ratios, ratios, betas)
def test_fdpo_margins_match_the_f_prime_table(uw, ul, beta):
    # naive f'(u) from the table, on moderate ratios where no cancellation or overflow occurs
    table = {
        ("forward_kl", None): lambda u: -1.0 / u,
        ("js", None): lambda u: math.log(2 * u / (1 + u)),
        ("alpha", 0.3): lambda u: (1 - u ** -0.3) / 0.3,
    }
    for (f, a), fp in table.items():
        z = beta * (fp(uw) - fp(ul))
        scale = beta * (abs(fp(uw)) + abs(fp(ul))) + abs(L.dpo(z))
        _close(L.fdpo(uw, ul, beta, f, a), L.dpo(z), scale, 1e-12)


def test_fdpo_alpha_limits():
    uw, ul = np.array([0.2, 3.0, 50.0]), np.array([1.5, 0.01, 49.0])
    # The margins differ by O(alpha) (resp. O(1 - alpha)) times |log u|^2; the losses reach
    # ~1e-31 here (z ~ 70), where a relative error in z is amplified |z| times, hence 1e-12 steps
    # alpha -> 0: reverse KL (the difference of (1 - u^-a)/a tends to log u_w - log u_l)
    np.testing.assert_allclose(L.fdpo(uw, ul, 0.7, "alpha", 1e-12), L.fdpo(uw, ul, 0.7, "reverse_kl"), rtol=1e-8)
    # alpha -> 1: forward KL
    np.testing.assert_allclose(L.fdpo(uw, ul, 0.7, "alpha", 1 - 1e-12), L.fdpo(uw, ul, 0.7, "forward_kl"), rtol=1e-8)


def test_margin_normalisations():
    np.testing.assert_array_equal(L.margin([3.0, -1.0], [1.0, 2.0]), [2.0, -3.0])
    h = L.margin([3.0, -1.0], [1.0, 2.0], normalization="token", n_tokens_w=[3, 2], n_tokens_l=4)
    np.testing.assert_array_equal(h, [1.0 - 0.25, -0.5 - 0.5])
    # ipo uses h as given under either normalisation: no rescaling
    assert L.ipo(0.75, 2.0, normalization="token") == L.ipo(0.75, 2.0, normalization="sequence") == 0.5 ** 2


# --------------------------------------------------------------------------- numerics


def test_extreme_margins_are_finite_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert L.dpo(1e300) == 0.0
        assert L.dpo(-1e300) == 1e300
        big = np.array([-1.7e308, -1e300, -1.0, 0.0, 1.0, 1e300, 1.7e308])
        for out in (L.dpo(big), L.dpo_grad(big), L.cdpo(big, 0.3), L.cdpo_grad(big, 0.3),
                    L.cdpo(big, 0.5), L.rdpo(big[1:-1], 0.3), L.rdpo_grad(big, 0.49),
                    L.slic(big[1:]), L.slic_grad(big)):
            assert np.all(np.isfinite(out))
        np.testing.assert_array_equal(L.dpo_grad([-1e300, 1e300]), [-1.0, -0.0])
        u = np.array([5e-324, 1e-300, 1.0, 1e300, 1.7e308])
        for f, a in _FDIVS[2:] + [("reverse_kl", None)]:
            assert np.all(np.isfinite(L.fdpo(u, u[::-1], 1.0, f, a)))
        # d/du ~ beta f''(u) = 1/u or 1/(u(1+u)) (reverse KL, JS): representable from u = 1e-300 on
        # (5e-324 would give ~1e323); the power family's u^-(1+alpha) genuinely overflows there
        for f in ("reverse_kl", "js"):
            assert all(np.all(np.isfinite(g)) for g in L.fdpo_grad(u[1:], u[:0:-1], 1.0, f))
        # forward KL: u_w tiny makes the exact loss ~ 1/u_w; up to 1e-300 it is representable
        assert L.fdpo(1e-300, 1.0, 1.0, "forward_kl") == pytest.approx(1e300, rel=1e-15)
        assert L.fdpo(1.0, 5e-324, 1.0, "forward_kl") == 0.0  # margin beyond +1.8e308: loss 0


@given(st.floats(-1.79e308, 1.79e308, **finite), eps_cdpo)
def test_dpo_and_cdpo_are_finite_everywhere(z, eps):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for v in (L.dpo(z), L.dpo_grad(z), L.cdpo(z, eps), L.cdpo_grad(z, eps)):
            assert math.isfinite(v)
        assert 0.0 <= L.dpo(z) <= abs(z) + math.log(2)


def test_values_beyond_float64_raise_overflow_naming_the_entry():
    with pytest.raises(OverflowError, match=r"rdpo\[1\].*z\[1\]=1e\+300"):
        L.rdpo([0.0, 1e300], 0.5 - 1e-12)
    with pytest.raises(OverflowError, match="ipo.*h="):
        L.ipo(1e200, 1.0)
    with pytest.raises(OverflowError, match="fdpo.*ratio_w="):
        L.fdpo(5e-324, 1.0, 1.0, "forward_kl")


def test_return_types_follow_the_ufunc_convention():
    assert isinstance(L.dpo(0.5), np.float64) and np.ndim(L.dpo(0.5)) == 0
    assert L.dpo([0.5]).shape == (1,) and L.slic_grad(np.zeros((2, 3))).shape == (2, 3)
    gw, gl = L.fdpo_grad([1.0, 2.0], 1.0, 1.0, "js")
    assert gw.shape == gl.shape == (2,)
    assert L.ipo(0.1, 1.0, normalization="token").dtype == np.float64


# --------------------------------------------------------------------------- bad inputs


BAD = [
    (lambda: L.rdpo(0.0, 0.5), ValueError, "eps"),
    (lambda: L.rdpo(0.0, -0.1), ValueError, "eps"),
    (lambda: L.rdpo_grad(0.0, 0.7), ValueError, "eps"),
    (lambda: L.cdpo(0.0, 0.51), ValueError, "eps"),
    (lambda: L.cdpo(0.0, math.nan), ValueError, "eps"),
    (lambda: L.cdpo(0.0, "0.1"), TypeError, "eps"),
    (lambda: L.dpo([0.0, math.nan]), ValueError, r"z\[1\]"),
    (lambda: L.dpo(math.inf), ValueError, "z"),
    (lambda: L.dpo(1 + 0j), TypeError, "z"),
    (lambda: L.dpo("1.0"), TypeError, "z"),
    (lambda: L.rdpo_grad([1j], 0.1), TypeError, "z"),
    (lambda: L.ipo(0.0, 0.0), ValueError, "beta"),
    (lambda: L.ipo(0.0, -1.0), ValueError, "beta"),
    (lambda: L.ipo(0.0, 1j), TypeError, "beta"),
    (lambda: L.ipo(math.nan, 1.0), ValueError, "h"),
    (lambda: L.ipo(0.0, 1.0, normalization="mean"), ValueError, "normalization"),
    (lambda: L.fdpo([1.0, 0.0], 1.0, 1.0), ValueError, r"ratio_w\[1\]"),
    (lambda: L.fdpo(1.0, -2.0, 1.0), ValueError, "ratio_l"),
    (lambda: L.fdpo(1.0, 1.0, 0.0), ValueError, "beta"),
    (lambda: L.fdpo(1.0, 1.0, 1.0, "tv"), ValueError, "f"),
    (lambda: L.fdpo(1.0, 1.0, 1.0, "alpha"), ValueError, "alpha"),
    (lambda: L.fdpo(1.0, 1.0, 1.0, "alpha", 1.0), ValueError, "alpha"),
    (lambda: L.fdpo(1.0, 1.0, 1.0, "js", 0.5), ValueError, "alpha"),
    (lambda: L.fdpo([1.0, 2.0], [1.0, 2.0, 3.0], 1.0), ValueError, "ratio_w and ratio_l"),
    (lambda: L.fdpo_grad(1.0, 1j, 1.0), TypeError, "ratio_l"),
    (lambda: L.slic(0.0, 0.0), ValueError, "delta"),
    (lambda: L.slic_grad(0.0, math.inf), ValueError, "delta"),
    (lambda: L.margin(1.0, 1.0, normalization="token"), ValueError, "n_tokens_w"),
    (lambda: L.margin(1.0, 1.0, n_tokens_w=3), ValueError, "n_tokens_w"),
    (lambda: L.margin(1.0, 1.0, normalization="token", n_tokens_w=2, n_tokens_l=0), ValueError, "n_tokens_l"),
    (lambda: L.margin(1.0, 1.0, normalization="token", n_tokens_w=2.5, n_tokens_l=1), ValueError, "n_tokens_w"),
]


@pytest.mark.parametrize("call,exc,name", BAD, ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_input_raises_naming_the_argument(call, exc, name):
    with pytest.raises(exc, match=name):
        call()


def test_public_api():
    import algorithms

    assert algorithms.preference_learning is pl
    assert set(L.__all__) >= {"dpo", "cdpo", "rdpo", "ipo", "fdpo", "slic", "dpo_grad", "cdpo_grad",
                              "rdpo_grad", "ipo_grad", "fdpo_grad", "slic_grad", "margin"}
