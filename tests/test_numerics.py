"""``mdps.numerics.binary_exponent``: the exact power-of-two rescaling the LPs rely on."""

from __future__ import annotations

import doctest

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mdps
import mdps.numerics as nm


@given(hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-1.7e308, 1.7e308, allow_subnormal=True)))
def test_binary_exponent_scales_exactly_into_unit_range(x):
    e = mdps.binary_exponent(x)
    scaled = np.ldexp(x, -e)
    m = np.abs(scaled).max()
    assert m == 0.0 or 0.5 <= m < 1.0
    normal = (np.abs(x) >= np.ldexp(np.finfo(np.float64).tiny, e)) | (x == 0.0)
    # exact both ways for every entry that stays in the normal range after scaling
    np.testing.assert_array_equal(np.ldexp(scaled, e)[normal], x[normal])


def test_binary_exponent_edges_and_doctest():
    assert mdps.binary_exponent(np.zeros(3)) == 0 and mdps.binary_exponent(np.empty(0)) == 0
    assert mdps.binary_exponent([1.0]) == 1 and mdps.binary_exponent([5e-324]) == -1073
    assert doctest.testmod(nm, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
