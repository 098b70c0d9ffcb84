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


# ---------------------------------------------------------------- malformed files
def _rewrite(tmp_path, result, **changes):
    """A copy of result's file with some arrays replaced (None: removed)."""
    path = result.save(tmp_path / "good.npz")
    with np.load(path) as raw:
        arrays = {k: raw[k] for k in raw.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    return bad


@pytest.fixture(scope="module")
def plane_result():
    net = random_net(np.random.default_rng(0), [3, 12, 12, 3])
    p = rl.plane_through(net, *np.random.default_rng(1).normal(size=(3, 3)) * 3)
    assert len(p.boundary) > 0
    return p


@pytest.fixture(scope="module")
def segment_result():
    net = random_net(np.random.default_rng(1), [3, 12, 12, 3])
    return rl.segment(net, [-3, -3, -3], [3, 2, 3])


def _plane_cases(p):
    n, nv = p.n_regions, len(p.vertices)
    off = p.offsets.copy()
    swapped = off.copy()
    swapped[[1, 2]] = swapped[[2, 1]]
    few = off.copy()
    few[1] = 2  # a first region with 2 vertices
    return [
        ("offsets", dict(offsets=off.astype(np.float64)), "integers"),
        ("offsets", dict(offsets=off[:-1]), "n_regions"),
        ("offsets", dict(offsets=swapped), "increasing"),
        ("offsets", dict(offsets=few), "fewer than 3"),
        ("offsets", dict(offsets=np.concatenate([off[:-1], [nv + 5]])), "from 0 to the number of vertices"),
        ("offsets", dict(offsets=off - 1), "smallest allowed"),
        ("offsets", dict(offsets=off.reshape(1, -1)), "shape"),
        ("vertices", dict(vertices=p.vertices[:, :1]), "axis 1"),
        ("offsets", dict(vertices=p.vertices[:-4]), "number of vertices"),
        ("vertices", dict(vertices=np.where(np.arange(nv)[:, None] == 3, np.nan, p.vertices)), "NaN"),
        ("vertices", dict(vertices=p.vertices.astype(str)), "floats"),
        ("areas", dict(areas=-p.areas), "smallest allowed"),
        ("offsets", dict(areas=np.zeros(0)), "n_regions from 'areas'"),
        ("patterns", dict(patterns=p.patterns.astype(np.float32)), "integers (uint8)"),
        ("patterns", dict(patterns=p.patterns.astype(np.int64) + 256), "range of uint8"),
        ("patterns", dict(patterns=p.patterns[:-1]), "axis 0"),
        ("maps", dict(maps=p.maps[:, :, :2]), "axis 2"),
        ("n_neurons", dict(n_neurons=np.array(2**40)), "n_neurons"),
        ("n_neurons", dict(n_neurons=np.array([p.n_neurons])), "shape"),
        ("n_neurons", dict(n_neurons=np.array(2**64 - 1, dtype=np.uint64)), "range"),
        ("neurons_per_layer", dict(neurons_per_layer=np.array(p.neurons_per_layer) + 1), "sums to"),
        ("n_regions_per_layer", dict(n_regions_per_layer=np.array([n + 1, n + 1])), "below"),
        ("n_regions_per_layer", dict(n_regions_per_layer=np.array([n, 1])), "sorted"),
        ("boundary_region", dict(boundary_region=np.full(len(p.boundary), n)), "below"),
        ("boundary_classes", dict(boundary_classes=np.full((len(p.boundary), 2), 7, np.int32)), "classes"),
        ("boundary_classes", dict(boundary_classes=p.boundary_classes[:, :1]), "axis 1"),
        ("extent", dict(extent=np.array([1.0, 0.0, 0.0, 1.0])), "s0 < s1"),
        ("extent", dict(extent=np.array([0.0, 1.0, 0.0])), "axis 0"),
        ("anchors", dict(anchors=np.zeros((2, 2))), "axis 0"),
        ("u", dict(u=np.zeros(4)), "axis 0"),
        ("origin", dict(origin=None), "missing"),
    ]


def test_malformed_plane_files_name_the_field(tmp_path, plane_result):
    for field, changes, match in _plane_cases(plane_result):
        bad = _rewrite(tmp_path, plane_result, **changes)
        with pytest.raises(ValueError, match=f"field '{field}'") as error:
            rl.load(bad)
        assert match in str(error.value), (field, str(error.value))
        assert "bad.npz" in str(error.value)


def test_malformed_segment_files_name_the_field(tmp_path, segment_result):
    s = segment_result
    t = s.breakpoints
    cases = [
        ("breakpoints", dict(breakpoints=t[::-1].copy()), "sorted"),
        ("breakpoints", dict(breakpoints=t * 0.5), "from 0 to 1"),
        ("patterns", dict(breakpoints=t[:1]), "n_regions = 0 (n_regions from 'breakpoints')"),
        ("breakpoints", dict(breakpoints=t.astype(np.int64)), "floats"),
        ("patterns", dict(patterns=s.patterns[1:]), "axis 0"),
        ("maps", dict(maps=s.maps[..., :1]), "axis 2"),
        ("n_neurons", dict(n_neurons=np.array(10**15)), "n_neurons"),
        ("change_t", dict(change_t=s.change_t + 2.0), "beyond the segment's end"),
        ("change_before", dict(change_before=np.full(len(s.change_t), 9, np.int32)), "classes"),
        ("change_after", dict(change_after=s.change_after[:-1]), "axis 0"),
        ("b", dict(b=s.a), "distinct"),
        ("a", dict(a=np.array([np.inf, 0, 0])), "NaN or Inf"),
    ]
    assert len(s.change_t) > 0
    for field, changes, match in cases:
        bad = _rewrite(tmp_path, s, **changes)
        with pytest.raises(ValueError, match=f"field '{field}'") as error:
            rl.load(bad)
        assert match in str(error.value), (field, str(error.value))


def test_a_header_declaring_more_data_than_the_file_holds_is_refused(tmp_path, plane_result):
    # A hostile header (2**40 vertices) fails before numpy allocates anything.
    path = plane_result.save(tmp_path / "p.npz")
    import zipfile

    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    header = members["vertices.npy"]
    shape = f"({len(plane_result.vertices)}, 2)".encode()
    assert shape in header[:128]
    members["vertices.npy"] = header.replace(shape, f"({2**40}, 2)".encode().ljust(len(shape)), 1)
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match="field 'vertices' declares shape"):
        rl.load(tmp_path / "huge.npz")


def test_round_trip_of_a_net_without_kinks(tmp_path):
    # No pattern bits, no layers with kinks: empty fields are valid.
    net = rl.PLNet.from_arrays([np.array([[1.0, -2.0]])], [np.array([0.3])], ["identity"])
    p = rl.plane(net, [0, 0], [1, 0], [0, 1])
    s = rl.segment(net, [-1, -1], [1, 1])
    assert p.n_neurons == 0 and p.patterns.shape == (1, 0)
    _assert_same(p, rl.load(p.save(tmp_path / "p.npz")))
    _assert_same(s, rl.load(s.save(tmp_path / "s.npz")))
