"""BoxPartition.plot for 3-D partitions, and through its cut polygons an independent check
of the decision boundary's area (``BoxPartition.boundary``): against the exact area of
known planes, and against polygons cut from the LP reference's regions."""

import numpy as np
import pytest

import regionlab as rl
from oracles import random_net
from reference_regions import reference_regions

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402

from regionlab.geometry import _plot3d  # noqa: E402

LO, HI = np.array([-1.0, -1.2, -0.9]), np.array([1.1, 1.0, 1.3])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def centred_net(widths, seed):
    """A random net whose output crosses 0 inside the box: the last bias subtracts the
    median output (of each class, for several) over samples of the box."""
    net = random_net(np.random.default_rng(seed), widths)
    X = LO + np.random.default_rng(seed + 1).random((4000, 3)) * (HI - LO)
    ws = [st.weight for st in net.stages]
    bs = [st.bias for st in net.stages[:-1]] + [net.stages[-1].bias - np.median(net.forward(X), 0)]
    return rl.PLNet.from_arrays(ws, bs, "relu", dtype=np.float64)


def areas_by_region(pieces, n):
    out = np.zeros(n)
    for r, poly in pieces:
        out[r] += _plot3d.polygon_area(poly)
    return out


@pytest.fixture(scope="module")
def case():
    net = centred_net([3, 16, 16, 1], seed=0)
    return net, rl.regions(net, LO, HI, vertices=True)


# ------------------------------------------------------------------ the area of the surface
def test_surface_area_is_the_boundary_measure(case):
    net, part = case
    assert part.n_boundary_cells > 0
    pieces = _plot3d.decision_surface(part)
    assert {r for r, _ in pieces} == set(np.flatnonzero(part.boundary > 0))
    np.testing.assert_allclose(areas_by_region(pieces, part.n_regions), part.boundary,
                               rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(sum(_plot3d.polygon_area(p) for _, p in pieces),
                               part.boundary_volume, rtol=1e-6)
    # The corners are on the network's own zero set, inside the box.
    corners = np.vstack([p for _, p in pieces])
    np.testing.assert_allclose(net.forward(part.to_input(corners))[:, 0], 0, atol=1e-9)
    assert ((corners >= LO - 1e-12) & (corners <= HI + 1e-12)).all()


@pytest.mark.parametrize("w, lo, hi, area", [
    ((1.0, 0.0, 0.0), LO, HI, 2.2 * 2.2),  # the plane x0 = 0: the box's y-z section
    ((1.0, 1.0, 1.0), -np.ones(3), np.ones(3), 3 * np.sqrt(3)),  # a regular hexagon
])
def test_boundary_of_known_planes(w, lo, hi, area):
    """Hidden ReLUs relu(x_i + 2), active all over the box, then w . h - 2 sum(w): the
    decision surface is the plane w . x = 0."""
    w = np.asarray(w)
    net = rl.PLNet.from_arrays([np.eye(3), w[None]], [np.full(3, 2.0), [-2.0 * w.sum()]])
    part = rl.regions(net, lo, hi, vertices=True)
    np.testing.assert_allclose(part.boundary_volume, area, rtol=1e-12)
    pieces = _plot3d.decision_surface(part)
    np.testing.assert_allclose(sum(_plot3d.polygon_area(p) for _, p in pieces), area, rtol=1e-12)


def test_boundary_matches_lp_regions():
    """Polygons cut from the LP reference's regions (its own vertices and output maps, no
    C++) have the area the engine measures."""
    net = centred_net([3, 8, 8, 1], seed=2)
    part = rl.regions(net, LO, HI)
    ref = reference_regions(net, LO, HI)
    total = 0.0
    for V, mw, mb in zip(ref["vertices"], ref["map_weight"], ref["map_bias"]):
        f = V @ mw[0] + mb[0]
        if f.min() < 0 < f.max():
            poly = _plot3d._ordered(_plot3d._cut(V, _plot3d._region_edges(V), f), mw[0])
            total += 0.0 if poly is None else _plot3d.polygon_area(poly)
    assert total > 0
    np.testing.assert_allclose(part.boundary_volume, total, rtol=1e-6)


def test_several_outputs():
    """Three classes: where the argmax changes, pair by pair, clipped to where the pair is
    on top; per region the same area as the engine's."""
    net = centred_net([3, 12, 12, 3], seed=4)
    part = rl.regions(net, LO, HI, vertices=True)
    assert part.n_boundary_cells > 0
    pieces = _plot3d.decision_surface(part)
    np.testing.assert_allclose(areas_by_region(pieces, part.n_regions), part.boundary,
                               rtol=1e-6, atol=1e-12)
    corners = np.vstack([p for _, p in pieces])
    top2 = np.sort(net.forward(part.to_input(corners)), axis=1)[:, -2:]
    np.testing.assert_allclose(top2[:, 0], top2[:, 1], atol=1e-9)  # a tie for first place
    assert len(part.plot(net, slices=1).axes) == 2


# ------------------------------------------------------------------ the picture
def test_plot_saves_a_png(case, tmp_path):
    net, part = case
    fig = part.plot(net)
    assert len(fig.axes) == 4
    ax3 = fig.axes[0]
    assert ax3.name == "3d"
    fig.canvas.draw()  # 3-D polygons get their 2-D paths when drawn
    polys = [c for c in ax3.collections if isinstance(c, Poly3DCollection)]
    assert len(polys) == 1 and len(polys[0].get_paths()) == len(_plot3d.decision_surface(part))
    assert [a.get_xlabel() for a in fig.axes[1:]] == ["x[0]", "x[0]", "x[1]"]
    assert fig.axes[1].get_title().startswith("x[2] = 0.2: ")
    out = tmp_path / "box.png"
    fig.savefig(out, dpi=60)
    assert out.stat().st_size > 1000


def test_plot_options(case, tmp_path):
    net, part = case
    assert len(part.plot().axes) == 1  # no net: the surface only
    assert len(part.plot(net, slices=0).axes) == 1
    fig = part.plot(net, slices=2, slice_kwargs={"color": "output"}, title="mine")
    assert len(fig.axes) == 2 + 1 and fig.axes[0].get_title() == "mine"
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    assert part.plot(net, ax=ax) is fig and len(fig.axes) == 1
    # Without vertices, the net recomputes them; a sliced partition is drawn in y.
    bare = rl.regions(net, LO, HI)
    assert len(bare.plot(net, slices=1).axes) == 2
    net5 = random_net(np.random.default_rng(5), [5, 10, 1])
    B = np.linalg.qr(np.random.default_rng(6).standard_normal((5, 3)))[0].T
    sliced = rl.regions(net5, LO, HI, origin=np.ones(5), basis=B, vertices=True)
    fig = sliced.plot(net5, slices=1)
    assert fig.axes[0].get_xlabel() == "y[0]"
    fig.savefig(tmp_path / "sliced.png", dpi=40)


def test_plot_rejects(case):
    net, part = case
    with pytest.raises(ValueError, match="vertices=True"):
        rl.regions(net, LO, HI).plot()
    net2 = random_net(np.random.default_rng(1), [2, 8, 1])
    with pytest.raises(ValueError, match="3-D"):
        rl.regions(net2, [-1, -1], [1, 1], vertices=True).plot(net2)
    with pytest.raises(ValueError, match="3-D"):  # a 2-D slice of a 3-D input
        rl.regions(net, [-1, -1], [1, 1], origin=np.zeros(3), basis=np.eye(3)[:2]).plot(net)
    net4 = random_net(np.random.default_rng(1), [4, 8, 1])
    with pytest.raises(ValueError, match="3-D"):
        rl.regions(net4, -np.ones(4), np.ones(4), vertices=True).plot(net4)
    with pytest.raises(ValueError, match="box"):
        rl.regions(net).plot(net)
    for bad in (4, -1, True, 1.5):
        with pytest.raises(ValueError, match="slices"):
            part.plot(net, slices=bad)
    with pytest.raises(ValueError, match="3-D Axes"):
        part.plot(net, ax=plt.figure().add_subplot())
