"""Partitions round-trip exactly through .npz files, and draw."""

import numpy as np
import pytest

import regionlab as rl
from oracles import random_net


def _assert_same(a, b):
    for name, value in vars(a).items():
        other = getattr(b, name)
        if isinstance(value, np.ndarray):
            assert value.dtype == other.dtype, name
            np.testing.assert_array_equal(value, other, err_msg=name)
        else:
            assert value == other, name


def test_plane_round_trip(tmp_path):
    net = random_net(np.random.default_rng(0), [3, 16, 16, 2])
    p = rl.plane_through(net, *np.random.default_rng(1).normal(size=(3, 3)))
    path = p.save(tmp_path / "slice")
    assert path.endswith(".npz")
    q = rl.load(path)
    assert isinstance(q, rl.PlanePartition)
    _assert_same(p, q)
    # A plain numpy reader sees documented arrays.
    with np.load(path) as raw:
        assert str(raw["__regionlab_kind__"]) == "PlanePartition"
        assert raw["vertices"].shape[1] == 2


def test_segment_round_trip(tmp_path):
    net = random_net(np.random.default_rng(0), [3, 16, 16, 1])
    s = rl.segment(net, [0, 0, 0], [1, 2, 3])
    q = rl.load(s.save(tmp_path / "seg.npz"))
    assert isinstance(q, rl.SegmentPartition)
    _assert_same(s, q)


def test_load_refuses_foreign_files(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a regionlab result"):
        rl.load(tmp_path / "other.npz")


@pytest.mark.parametrize("color", ["pattern", "output", "layer"])
def test_plane_plot(color, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    net = random_net(np.random.default_rng(0), [2, 16, 16, 1])
    p = rl.plane(net, [0, 0], [1, 0], [0, 1])
    ax = p.plot(color=color)
    polys = ax.collections[0]
    assert len(polys.get_paths()) == p.n_regions
    assert len(ax.collections[1].get_segments()) == len(p.boundary)
    ax.figure.savefig(tmp_path / "p.png")
    plt.close("all")
    with pytest.raises(ValueError, match="color must be"):
        p.plot(color="nope")


def test_segment_plot(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    net = random_net(np.random.default_rng(0), [2, 16, 16, 3])
    s = rl.segment(net, [-2, -2], [2, 2])
    ax = s.plot()
    assert len(ax.collections[0].get_paths()) == s.n_regions
    ax.figure.savefig(tmp_path / "s.png")
    plt.close("all")


def test_class_colouring_splits_regions_along_the_boundary():
    from regionlab.geometry._plot import _class_cells

    net = random_net(np.random.default_rng(5), [2, 16, 16, 4])
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-2, 2, -2, 2))
    cells, classes = _class_cells(p)

    def area(poly):
        x, y = poly[:, 0], poly[:, 1]
        return 0.5 * (x @ np.roll(y, -1) - np.roll(x, -1) @ y)

    np.testing.assert_allclose(sum(area(c) for c in cells), 16.0, rtol=1e-9)
    centres = np.array([c.mean(axis=0) for c in cells])
    assert (net.forward(centres).argmax(axis=1) == classes).all()


def test_load_names_the_problem_with_other_files(tmp_path):
    np.save(tmp_path / "array.npy", np.arange(3))
    (tmp_path / "notes.txt").write_text("hello")
    np.savez(tmp_path / "no_format.npz", __regionlab_kind__=np.array("PlanePartition"))
    np.savez(tmp_path / "partial.npz", __regionlab_kind__=np.array("PlanePartition"),
             __regionlab_format__=np.array(1))
    for name, match in [("array.npy", "not a regionlab result file"),
                        ("notes.txt", "not a regionlab result file"),
                        ("no_format.npz", "malformed regionlab file"),
                        ("partial.npz", "malformed PlanePartition file")]:
        with pytest.raises(ValueError, match=match):
            rl.load(tmp_path / name)
