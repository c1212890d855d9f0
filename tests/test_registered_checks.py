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
        _check_notation(fig)
        _check_legends_cover_no_data(fig)
        _check_no_empty_decades(fig)
    finally:
        plt.close(fig)


def _texts(fig):
    for ax in fig.axes:
        yield ax.get_xlabel()
        yield ax.get_ylabel()
        yield ax.get_title()
        legend = ax.get_legend()
        if legend is not None:
            yield from (t.get_text() for t in legend.get_texts())
    for legend in fig.legends:
        yield from (t.get_text() for t in legend.get_texts())


def _check_notation(fig):
    """Greek parameters are written as symbols ($\\gamma=0.9$), not as words (gamma=0.9)."""
    import re

    for text in _texts(fig):
        plain = re.sub(r"\$[^$]*\$", "", text)  # what is outside math mode
        assert not re.search(r"\b(gamma|beta|eta|tau|omega|rho)\s*=", plain), f"a parameter spelled as a word: {text!r}"


def _points(ax):
    """Display coordinates of every plotted data point of the axes (lines and scatter)."""
    pts = []
    for line in ax.get_lines():
        if line.get_gid() == "theory" and len(line.get_xdata()) == 2:
            continue  # an axhline/axvline spans the axes; it is meant to pass under a legend
        xy = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
        pts.append(line.get_transform().transform(xy))
    for coll in ax.collections:
        offsets = coll.get_offsets()
        if len(offsets) and type(coll).__name__ == "PathCollection":
            pts.append(coll.get_offset_transform().transform(offsets))
    return np.concatenate(pts) if pts else np.empty((0, 2))


def _check_legends_cover_no_data(fig):
    fig.canvas.draw()
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent()
        pts = _points(ax)
        inside = (pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)
        assert inside.sum() <= 0.02 * max(len(pts), 1), f"the legend covers {int(inside.sum())} of {len(pts)} data points"


def _check_no_empty_decades(fig):
    """A log axis spans at most one decade more than everything drawn on it (data and theory)."""
    for ax in fig.axes:
        for axis, lim, col in (("y", ax.get_ylim(), 1), ("x", ax.get_xlim(), 0)):
            if getattr(ax, f"get_{axis}scale")() != "log":
                continue
            parts = []
            for ln in ax.get_lines():  # reference lines (axhline/axvline) count on their own axis only
                xy = np.asarray(ln.get_xydata(), float)
                spans_axes = len(xy) == 2 and ln.get_gid() == "theory" and np.ptp(xy[:, col]) == 0
                if len(xy) > 2 or spans_axes or len(xy) == 1:
                    parts.append(xy[:, col])
            parts += [np.asarray(c.get_offsets(), float)[:, col] for c in ax.collections if len(c.get_offsets())]
            parts += [np.array([p.get_x() + p.get_width() if col == 0 else p.get_y() + p.get_height()])
                      for p in ax.patches]  # bar ends
            values = np.concatenate(parts or [np.empty(0)])
            values = values[np.isfinite(values) & (values > 0)]
            if values.size == 0:
                continue
            drawn = np.log10(values.max()) - np.log10(values.min())
            shown = np.log10(max(lim)) - np.log10(min(lim))
            # matplotlib's margins add about 5% of the range at each end of a log axis
            assert shown <= 1.15 * drawn + 1.0, f"{axis} axis spans {shown:.1f} decades for {drawn:.1f} of data"


def test_the_figure_checks_catch_the_defects_they_look_for():
    """Each structural check fails on a figure with its defect (so the figure test can fail)."""
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [1, 2, 3], label="gamma=0.9")
    ax.legend()
    with pytest.raises(AssertionError, match="spelled as a word"):
        _check_notation(fig)
    plt.close(fig)

    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 200)
    ax.plot(x, np.ones_like(x), label="a flat series")
    ax.legend(loc="center")
    with pytest.raises(AssertionError, match="legend covers"):
        _check_legends_cover_no_data(fig)
    plt.close(fig)

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [1e-3, 1e-2, 1e-1])
    ax.set_yscale("log")
    ax.set_ylim(1e-12, 1)
    with pytest.raises(AssertionError, match="decades"):
        _check_no_empty_decades(fig)
    plt.close(fig)
