"""Tests for labkit.figures: each function returns a Figure with the expected artists."""

import matplotlib

matplotlib.use("Agg")  # conftest sets MPLBACKEND=Agg as well

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from labkit import fit_power_law  # noqa: E402
from labkit.figures import (  # noqa: E402
    band_plot,
    convergence_plot,
    paper_style,
    rate_plot,
    save_figure,
)

X = np.logspace(1, 4, 20)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _legend_texts(fig):
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_paper_style_sets_and_restores_rcparams():
    before = matplotlib.rcParams["axes.spines.top"]
    with paper_style():
        assert matplotlib.rcParams["axes.spines.top"] is False
        assert matplotlib.rcParams["axes.spines.right"] is False
        assert matplotlib.rcParams["savefig.dpi"] == 300
        assert "serif" in matplotlib.rcParams["font.family"]
    assert matplotlib.rcParams["axes.spines.top"] == before


def test_rate_plot_with_fit_and_theory():
    Y = 2.0 * X**-0.5 * np.random.default_rng(0).lognormal(0.0, 0.2, (8, X.size))
    fit = fit_power_law(X, Y, rng=0)
    fig = rate_plot(X, Y, fit=fit, theory_slope=-0.5, xlabel="N", ylabel="error", title="t", label="data")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 3  # mean, fit, theory
    assert len(ax.collections) == 1  # the bootstrap band
    texts = _legend_texts(fig)
    assert texts[0] == "data"
    assert texts[1] == "90% bootstrap CI of the mean"  # every band says what it is
    assert texts[2] == f"data: fit: slope {fit.estimate:.3f} [{fit.ci_low:.3f}, {fit.ci_high:.3f}]"
    assert texts[3] == "data: theory: slope -0.5"
    theory = ax.get_lines()[2]
    assert theory.get_gid() == "theory" and theory.get_linestyle() == "--" and theory.get_zorder() > 2
    x0 = theory.get_xdata()[0]
    assert x0 == fit.x_range[0]  # anchored at the tail's first point, on the mean curve
    assert theory.get_ydata()[0] == pytest.approx(Y.mean(axis=0)[X == x0][0])
    assert not ax.spines["top"].get_visible()


def test_rate_plot_minimal_and_on_given_axes():
    fig = rate_plot(X, X**0.5, xlabel="K", ylabel="regret")  # one seed: no band, no fit
    assert len(fig.axes[0].get_lines()) == 1 and len(fig.axes[0].collections) == 0
    fig2, ax = plt.subplots()
    assert rate_plot(X, X**0.5, theory_slope=0.5, xlabel="K", ylabel="regret", ax=ax) is fig2
    assert _legend_texts(fig2) == ["mean over seeds", "theory: slope 0.5"]


def test_convergence_plot_curves_and_theory():
    k = np.arange(60)
    rng = np.random.default_rng(0)
    curves = {
        "VI": 0.9**k * rng.uniform(0.5, 2.0, (6, 1)),  # (n_seeds, n_iter+1)
        "PI": 0.5**k[:10],  # 1-D
        "ragged": [0.8 ** np.arange(n) for n in (30, 40, 50)],
    }
    fig = convergence_plot(curves, theory={"VI": 2.0 * 0.9**k}, ylabel="error")
    ax = fig.axes[0]
    assert isinstance(fig, Figure)
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "iteration"
    assert len(ax.get_lines()) == 4
    assert len(ax.collections) == 2  # interquartile bands for the multi-seed curves
    assert _legend_texts(fig) == ["VI (median)", "interquartile range", "PI", "ragged (median)", "theory: VI"]
    theory = ax.get_lines()[3]
    assert theory.get_linestyle() == "--" and theory.get_gid() == "theory"
    assert theory.get_zorder() > ax.get_lines()[0].get_zorder()  # drawn above the data it may coincide with
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), np.median(curves["VI"], axis=0))
    lin = convergence_plot({"a": k * 1.0}, logy=False, ylabel="y", xlabel="step")
    assert lin.axes[0].get_yscale() == "linear" and lin.axes[0].get_xlabel() == "step"


def test_band_plot_mean_and_band_contains_mean():
    x = np.linspace(0, 1, 15)
    Y = x + np.random.default_rng(1).normal(0, 0.1, (12, x.size))
    fig = band_plot(x, Y, label="metric")
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 1 and len(ax.collections) == 1
    assert _legend_texts(fig) == ["metric", "90% bootstrap CI of the mean"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), Y.mean(axis=0))
    with pytest.raises(ValueError, match="Y must have shape"):
        band_plot(x, Y[:, :-1], label="bad")


def test_save_figure_writes_pdf_and_png(tmp_path):
    fig = band_plot(np.arange(5.0), np.ones((3, 5)), label="flat")
    out = tmp_path / "figs" / "nested"
    paths = save_figure(fig, out, "flat")
    assert [p.name for p in paths] == ["flat.pdf", "flat.png"]
    for p in paths:
        assert p.is_file() and p.stat().st_size > 0
    assert paths[0].read_bytes()[:4] == b"%PDF"
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.fignum_exists(fig.number)  # left open
    with pytest.raises(ValueError, match="name"):
        save_figure(fig, out, "../escape")


def test_styles_size_figures_for_venues(tmp_path):
    from labkit.figures import STYLES, figure_width, subplots

    with paper_style("icml", "single"):
        fig, axes = subplots(2, 1)
        assert fig.get_size_inches()[0] == pytest.approx(3.25)
        assert matplotlib.rcParams["font.size"] == 8.0
    with paper_style("icml", "double"):
        assert matplotlib.rcParams["figure.figsize"][0] == pytest.approx(6.75)
    assert figure_width("neurips", "single") == figure_width("neurips", "double") == 5.5
    assert figure_width("jmlr", "half") == pytest.approx(0.49 * 6.0)
    with pytest.raises(ValueError, match="style must be one of"):
        figure_width("nature")
    with pytest.raises(ValueError, match="column must be one of"):
        figure_width("icml", "triple")
    assert set(STYLES) >= {"neurips", "icml", "iclr", "jmlr"}


def test_saved_figures_carry_provenance_metadata(tmp_path):
    from PIL import Image

    fig = band_plot(np.arange(5.0), np.ones((3, 5)), label="flat")
    meta = {"Title": "demo.check", "Subject": "a claim", "Keywords": "scale=quick; seed=0; code=abc"}
    pdf, png = save_figure(fig, tmp_path, "demo", metadata=meta)
    assert b"demo.check" in pdf.read_bytes() and b"scale=quick" in pdf.read_bytes()
    assert Image.open(png).text["Keywords"] == "scale=quick; seed=0; code=abc"


def test_rate_plot_rejects_linear_fit_and_empty_convergence_plot_has_no_legend():
    from labkit import fit_linear_rate

    with pytest.raises(ValueError, match="power-law"):
        rate_plot(X, X**0.5, fit=fit_linear_rate(0.9 ** np.arange(400)), xlabel="K", ylabel="y")
    fig = convergence_plot({}, ylabel="error")
    assert fig.axes[0].get_legend() is None


@pytest.mark.parametrize("helper", ["legend", "figure_legend"])
def test_a_wide_legend_below_one_panel_does_not_squeeze_the_axes(helper):
    # three long entries per row are wider than a one-column figure: the constrained layout used
    # to shrink the axes to a sliver (robust_vi.value_vs_radius, conservative.never_unsafe); the
    # legend now drops columns until it fits and the panel keeps most of the width
    from labkit.figures import figure_legend, legend, paper_style, subplots

    with paper_style():
        fig, axes = subplots()
        ax = axes[0, 0]
        for i in range(6):
            ax.plot([1, 2], [i, i + 1], label=f"a rather long series label number {i} (median over runs)")
        leg = legend(ax, outside=True, ncols=3) if helper == "legend" else figure_legend(fig, axes, ncols=3)
        fig.canvas.draw()
        assert leg.get_window_extent().width <= fig.bbox.width
        assert ax.get_position().width >= 0.6
        plt.close(fig)
