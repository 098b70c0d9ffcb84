"""Pictures of partitions: colour scales, figure shape, axis labels, titles, edge widths and
layout, checked on the artefacts matplotlib holds (not by eye)."""

import numpy as np
import pytest

import regionlab as rl
from oracles import random_net

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402

from regionlab.geometry import _plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _net(n_out=1, seed=0, d=2):
    return random_net(np.random.default_rng(seed), [d, 16, 16, n_out])


def _values(p):
    return p.output(p.centroids(), np.arange(p.n_regions))[:, 0]


@pytest.mark.parametrize("seed", [0, 1])
def test_output_colours_follow_a_fixed_scale(seed):
    # Two "epochs" drawn with the same vmin/vmax: a region's colour is cmap(norm(value)) on
    # that one scale, whatever the other values in the slice are.
    p = rl.plane(_net(seed=seed), [0, 0], [1, 0], [0, 1])
    ax = p.plot(color="output", vmin=-2.0, vmax=3.0, cmap="viridis")
    mappable = ax.collections[0]
    assert (mappable.norm.vmin, mappable.norm.vmax) == (-2.0, 3.0)
    ax.figure.canvas.draw()
    expected = matplotlib.colormaps["viridis"](Normalize(-2.0, 3.0)(_values(p)))
    np.testing.assert_allclose(mappable.get_facecolor(), expected, atol=1e-12)
    bar = ax.figure.colorbar(mappable, ax=ax)
    assert bar.mappable is mappable and len(ax.figure.axes) == 2


def test_a_norm_and_a_drawn_colorbar():
    p = rl.plane(_net(), [0, 0], [1, 0], [0, 1])
    norm = LogNorm(1e-3, 10.0, clip=True)
    ax = p.plot(color="output", norm=norm, colorbar=True)
    assert ax.collections[0].norm is norm
    assert len(ax.figure.axes) == 2 and ax.figure.axes[1].get_ylabel() == "output 0"
    with pytest.raises(ValueError, match="either norm"):
        p.plot(color="output", norm=norm, vmin=0)
    with pytest.raises(ValueError, match="vmin must be below vmax"):
        p.plot(color="output", vmin=1, vmax=1)
    with pytest.raises(ValueError, match="color='output' only"):
        p.plot(color="pattern", vmax=1)
    with pytest.raises(ValueError, match="needs color='output'"):
        p.plot(colorbar=True)


def test_default_scale_is_symmetric_about_zero():
    p = rl.plane(_net(), [0, 0], [1, 0], [0, 1])
    norm = p.plot(color="output").collections[0].norm
    lim = np.abs(_values(p)).max()
    assert norm(0.0) == pytest.approx(0.5) and (norm.vmin, norm.vmax) == (-lim, lim)


def test_classes_colour_bar():
    p = rl.plane(_net(n_out=4, seed=4), [0, 0], [1, 0], [0, 1], extent=(-2, 2, -2, 2))
    ax = p.plot(color="output", colorbar=True)
    cells = ax.collections[0]
    # The mappable's values are the classes, each mapped to its own colour.
    classes = np.asarray(cells.get_array())
    assert set(classes) <= set(range(4)) and len(set(classes)) > 1
    ax.figure.canvas.draw()
    faces = cells.get_facecolor()
    for k in np.unique(classes):
        assert len(np.unique(faces[classes == k], axis=0)) == 1
    assert len(np.unique(faces, axis=0)) == len(np.unique(classes))
    np.testing.assert_array_equal(ax.figure.axes[1].get_yticks(), np.arange(4))
    with pytest.raises(ValueError, match="one output"):
        p.plot(color="output", vmin=0, vmax=1)


@pytest.mark.parametrize("extent, ratio", [((-1, 1, -1, 1), 1.0), ((0, 2, 0, 1), 2.0),
                                           ((0, 1, 0, 3), 1 / 3), ((0, 100, 0, 1), 4.0)])
def test_figure_follows_the_extent(extent, ratio):
    p = rl.plane(_net(d=3), [0, 0, 0], [1, 0, 0], [0, 1, 0], extent=extent)
    ax = p.plot()
    w, h = ax.figure.get_size_inches()
    assert w / h == pytest.approx(ratio)
    assert ax.get_aspect() == (1.0 if ratio < 4 else "auto")  # beyond 4:1 the axes stretch


def test_axis_aligned_slices_are_drawn_in_input_coordinates():
    net = _net(d=4)
    origin = np.array([0.5, 0.2, -0.3, -1.0])
    p = rl.plane(net, origin, [1, 0, 0, 0], [0, 0, 0, 2], extent=(-1, 2, -1, 1))
    ax = p.plot(title=None)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x[0]", "x[3]")
    assert ax.get_xlim() == (-0.5, 2.5) and ax.get_ylim() == (-3.0, 1.0)
    assert ax.get_title() == ""
    # Each drawn polygon, read in input coordinates, holds points of its region's pattern.
    paths = ax.collections[0].get_paths()
    for r in range(0, p.n_regions, max(1, p.n_regions // 20)):
        xy = paths[r].vertices[: len(p.polygon(r))].mean(axis=0)
        x = origin.copy()
        x[0], x[3] = xy
        assert (net.patterns(x[None], packed=True)[0] == p.patterns[r]).all()
    # An oblique slice keeps (s, t).
    q = rl.plane(net, origin, [1, 1, 0, 0], [0, 0, 0, 1])
    ax = q.plot(title="epoch 3")
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("s", "t", "epoch 3")
    with pytest.raises(TypeError, match="title"):
        q.plot(title=3)


def test_a_tiny_far_slice_is_drawn_in_slice_coordinates():
    # x[0] around 1e6 cannot show a 1e-12 extent: the picture stays in (s, t).
    net = _net(d=2)
    p = rl.plane(net, [1e6, 0], [1, 0], [0, 1], extent=(-1e-12, 1e-12, -1e-12, 1e-12))
    ax = p.plot()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("s", "t")


def test_edges_thin_as_regions_grow_many(monkeypatch):
    rng = np.random.default_rng(0)
    few = rl.plane(_net(), [0, 0], [1, 0], [0, 1])
    assert few.n_regions < 1000
    assert few.plot().collections[0].get_linewidths()[0] == pytest.approx(0.15)
    assert few.plot(linewidth=0.4).collections[0].get_linewidths()[0] == pytest.approx(0.4)
    n = 290  # one layer of 290 lines: about 40,000 regions
    net = rl.PLNet.from_arrays([rng.normal(size=(n, 2)), np.ones((1, n))],
                               [rng.uniform(-0.5, 0.5, n), np.zeros(1)])
    many = rl.plane(net, [0, 0], [1, 0], [0, 1])
    assert many.n_regions > 30_000
    width = many.plot(boundary=False).collections[0].get_linewidths()[0]
    assert width == pytest.approx(0.15 * (1000 / many.n_regions) ** 0.5) and width < 0.03
    monkeypatch.setattr(_plot, "_NO_EDGES_FROM", 10_000)
    polys = many.plot(boundary=False).collections[0]
    assert polys.get_linewidths()[0] == 0
    with pytest.raises(ValueError, match="linewidth"):
        few.plot(linewidth="thin")


def _inside_figure(fig, artist):
    renderer = fig.canvas.get_renderer()
    box = artist.get_window_extent(renderer)
    fig_box = fig.bbox
    return box.x0 >= fig_box.x0 and box.y0 >= fig_box.y0 and box.x1 <= fig_box.x1 and box.y1 <= fig_box.y1


def test_segment_labels_stay_inside_the_saved_figure(tmp_path):
    s = rl.segment(_net(n_out=3), [-2, -2], [2, 2])
    ax = s.plot()
    fig = ax.figure
    fig.savefig(tmp_path / "s.png")  # plain savefig: no bbox_inches="tight"
    assert _inside_figure(fig, ax.xaxis.label) and _inside_figure(fig, ax.yaxis.label)
    assert ax.get_xlabel().startswith("t")
    assert s.plot(title=False).get_title() == ""


def test_plane_labels_stay_inside_the_saved_figure(tmp_path):
    p = rl.plane(_net(), [0, 0], [1, 0], [0, 1], extent=(0, 4, 0, 1))
    ax = p.plot(color="output", colorbar=True)
    fig = ax.figure
    fig.savefig(tmp_path / "p.png")
    assert _inside_figure(fig, ax.xaxis.label) and _inside_figure(fig, ax.yaxis.label)


def test_output_colours_of_a_huge_extent_are_finite():
    # The colours come from the centroids, which stay finite however large the extent.
    net = rl.PLNet.from_arrays([np.array([[1.0, 0.5], [0.2, -1.0]]), np.array([[1.0, -2.0]])],
                               [np.zeros(2), np.zeros(1)])
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-1e150, 1e150, -1e150, 1e150))
    ax = p.plot(color="output")
    ax.figure.canvas.draw()
    values = np.asarray(ax.collections[0].get_array())
    assert np.isfinite(values).all() and np.ptp(values) > 1e149
    assert np.isfinite(ax.collections[0].get_facecolor()).all()
