"""One registry, one test: every registered check runs at quick scale, passes, and draws its
figure (optax's alias_test pattern). A new family's checks are tested by being registered.

Each check runs once per session (module-scoped cache) and the figure test reuses its result.
Figures are checked structurally: the figure has axes, every plotted array is finite where it
is drawn on a log axis, and no legend repeats an entry.
"""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import labkit  # noqa: E402
from labkit.figures import paper_style  # noqa: E402

CHECKS = labkit.checks()
_RESULTS: dict = {}


def _result(name):
    if name not in _RESULTS:
        _RESULTS[name] = CHECKS[name].run(scale="quick", rng=0)
    return _RESULTS[name]


def test_no_check_module_failed_to_load():
    assert labkit.load_errors() == []


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_check_passes_at_quick_scale(name):
    chk = CHECKS[name]
    if not chk.available:
        pytest.skip(chk.unavailable_reason())
    res = _result(name)
    assert res.error is None, res.error
    assert res.passed, f"{name}: measured {res.measured} [{res.ci[0]}, {res.ci[1]}] vs {res.relation} {res.expected}\n{res.details}"
    assert math.isfinite(res.measured) and res.tag in labkit.TAGS and res.family
    assert res.code_version and res.details
    # every result round-trips through its JSON record (what the store keeps)
    back = labkit.CheckResult.from_json(res.to_json(), res.data)
    assert back.to_json() == res.to_json()


@pytest.mark.parametrize("name", sorted(n for n, c in CHECKS.items() if c.plot is not None))
def test_check_figure_is_well_formed(name):
    """Paper-ready structure: a theory line (or the theorem's tolerance) drawn with the artist id
    'theory', no repeated legend entry, every labelled series drawn, no NaN or inf plotted."""
    chk = CHECKS[name]
    if not chk.available:
        pytest.skip(chk.unavailable_reason())
    res = _result(name)
    with paper_style():
        fig = chk.plot(res)
    try:
        assert fig.axes, "the figure has no axes"
        theory = [a for ax in fig.axes for a in (*ax.get_lines(), *ax.collections) if a.get_gid() == "theory"]
        assert theory, "no theory line (gid 'theory'): every figure shows the theorem's figure"
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is not None:
                texts = [t.get_text() for t in legend.get_texts()]
                assert len(texts) == len(set(texts)), f"repeated legend entries: {texts}"
            for line in ax.get_lines():
                x = np.asarray(line.get_xdata(), dtype=float)
                y = np.asarray(line.get_ydata(), dtype=float)
                if not line.get_label().startswith("_"):
                    assert y.size > 0, f"a labelled series with no data: {line.get_label()}"
                assert np.isfinite(y).all() and np.isfinite(x).all(), \
                    f"NaN or inf plotted in {line.get_label()!r}"
    finally:
        plt.close(fig)
