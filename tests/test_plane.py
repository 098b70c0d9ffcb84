"""rl.plane / rl.plane_through against independent oracles: closed-form counts, dense
sampling, the network itself."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import regionlab as rl
from oracles import grid, inside_convex, numpy_forward, random_net, zaslavsky_count


def _vertex_box(W, b):
    """A box holding every intersection of the lines W x + b = 0 (and the lines' nearest points)."""
    pts = [-b[i] * W[i] / (W[i] @ W[i]) for i in range(len(b))]  # each line's nearest point
    n = len(b)
    for i in range(n):
        for j in range(i + 1, n):
            pts.append(np.linalg.solve(W[[i, j]], -b[[i, j]]))
    r = 1.2 * np.abs(np.array(pts)).max() + 1.0
    return (-r, r, -r, r)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("activation", ["relu", ("leaky_relu", 0.2)])
def test_one_layer_count_is_zaslavsky(seed, activation):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 40))
    W, b = rng.normal(size=(n, 2)), rng.normal(size=n)
    net = rl.PLNet.from_arrays([W, rng.normal(size=(1, n))], [b, np.zeros(1)], activation)
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=_vertex_box(W, b))
    assert p.n_regions == zaslavsky_count(n, 2) == p.n_regions_per_layer[-1]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 25))
def test_one_layer_zaslavsky_property(seed, n):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(n, 2)), rng.normal(size=n)
    net = rl.PLNet.from_arrays([W, np.ones((1, n))], [b, np.zeros(1)])
    extent = _vertex_box(W, b)  # a lone line can miss a fixed box (seed 126: |b| / |w| > 14)
    assert rl.plane(net, [0, 0], [1, 0], [0, 1], extent=extent).n_regions == zaslavsky_count(n, 2)


def _check_against_sampling(net, p, n_grid=120):
    """Every sampled pattern is a region; the region with a sample's pattern contains it;
    the maps give net.forward there."""
    st_pts = grid(p.extent, n_grid)
    X = p.to_input(st_pts)
    out, bits = numpy_forward(net, X)
    packed = np.packbits(bits, axis=1, bitorder="little")
    index = {row.tobytes(): r for r, row in enumerate(p.patterns)}
    regions = np.array([index.get(row.tobytes(), -1) for row in packed])
    assert (regions >= 0).all(), "a sampled pattern is missing from the exact regions"
    scale = max(p.extent[1] - p.extent[0], p.extent[3] - p.extent[2])
    for r in np.unique(regions)[:400]:
        mine = st_pts[regions == r]
        assert inside_convex(p.polygon(r), mine, 1e-9 * scale**2).all()
    np.testing.assert_allclose(p.output(st_pts, regions), out, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("activation", ["relu", ("leaky_relu", 0.1)])
def test_deep_nets_against_dense_sampling(seed, activation):
    rng = np.random.default_rng(100 + seed)
    depth = 2 + seed % 3
    widths = [2] + [int(rng.integers(8, 24))] * depth + [int(rng.integers(1, 4))]
    net = random_net(rng, widths, activation)
    p = rl.plane(net, [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], extent=(-2, 2, -2, 2))
    _check_against_sampling(net, p)
    assert len(p.n_regions_per_layer) == depth
    assert list(p.n_regions_per_layer) == sorted(p.n_regions_per_layer)


@pytest.mark.parametrize("seed", range(3))
def test_regions_partition_the_slice(seed):
    rng = np.random.default_rng(seed)
    net = random_net(rng, [5, 32, 32, 32, 2], "relu")
    origin, u, v = rng.normal(size=(3, 5))
    p = rl.plane(net, origin, u, v, extent=(-3, 2, -1, 4))
    assert (p.areas > 0).all()
    np.testing.assert_allclose(p.areas.sum(), 25.0, rtol=1e-12)
    # Every pattern is distinct: regions with one pattern were never split apart.
    assert len({row.tobytes() for row in p.patterns}) == p.n_regions
    # Each region's centroid has the region's pattern, and the maps give net.forward there.
    c = p.centroids()
    assert (net.patterns(p.to_input(c), packed=True) == p.patterns).all()
    np.testing.assert_allclose(p.output(c, np.arange(p.n_regions)), net.forward(p.to_input(c)),
                               rtol=1e-9, atol=1e-10)


def test_points_on_many_kinks_and_parallel_neurons():
    # Neurons through one point, two parallel neurons, a neuron along the slice's edge and a
    # duplicated neuron: degenerate arrangements with a known count.
    W = np.array([[1, 0], [0, 1], [1, 1], [1, -1], [1, 0], [2, 0], [0, 1.0]])
    b = np.array([0, 0, 0, 0, -0.5, -1.0, 1.0])  # row 5 duplicates row 4; row 6 is t = -1
    net = rl.PLNet.from_arrays([W, np.ones((1, 7))], [b, np.zeros(1)])
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-1, 1, -1, 1))
    # 4 lines through 0 make 8 sectors; s = 0.5 runs through the 4 sectors with s > 0
    # (crossing the rays at 45, 0 and -45 degrees) and cuts each in two; t = -1 is an edge.
    assert p.n_regions == 12
    np.testing.assert_allclose(p.areas.sum(), 4.0)
    _check_against_sampling(net, p, n_grid=100)


def test_dead_layer_gives_one_region_beyond_it():
    W1 = -np.eye(2)
    net = rl.PLNet.from_arrays([W1, np.ones((3, 2)), np.ones((1, 3))], [np.full(2, -5.0), np.ones(3), np.zeros(1)])
    p = rl.plane(net, [0, 0], [1, 0], [0, 1])
    assert p.n_regions == 1 and p.n_regions_per_layer == (1, 1)


def test_plane_through_puts_the_inputs_at_their_coordinates():
    rng = np.random.default_rng(3)
    net = random_net(rng, [6, 16, 16, 3], "relu")
    x0, x1, x2 = rng.normal(size=(3, 6))
    p = rl.plane_through(net, x0, x1, x2, margin=0.2)
    np.testing.assert_allclose(p.to_input(p.anchors), np.stack([x0, x1, x2]), atol=1e-12)
    # u and v are orthogonal and of equal length: the slice is not distorted.
    assert abs(p.u @ p.v) < 1e-12 * (p.u @ p.u)
    np.testing.assert_allclose(np.linalg.norm(p.u), np.linalg.norm(p.v))
    lo, hi = p.anchors.min(0), p.anchors.max(0)
    assert p.extent[0] < lo[0] and p.extent[1] > hi[0] and p.extent[2] < lo[1] and p.extent[3] > hi[1]
    _check_against_sampling(net, p, n_grid=80)


def test_conv_net_on_28x28_inputs():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 5, stride=2), torch.nn.ReLU(),
        torch.nn.Conv2d(4, 8, 3, stride=2), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(8 * 5 * 5, 10),
    ).eval()
    net = rl.from_torch(model, input_shape=(1, 28, 28), dtype=np.float64)
    images = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    p = rl.plane_through(net, *images)
    assert p.n_regions > 10
    np.testing.assert_allclose(p.areas.sum(), (p.extent[1] - p.extent[0]) * (p.extent[3] - p.extent[2]))
    _check_against_sampling(net, p, n_grid=60)
    # The net evaluated by torch agrees with the regions' maps at the three images.
    with torch.no_grad():
        logits = model(images.float()).double().numpy()
    pats = net.patterns(p.to_input(p.anchors), packed=True)
    index = {row.tobytes(): r for r, row in enumerate(p.patterns)}
    regions = [index[row.tobytes()] for row in pats]
    np.testing.assert_allclose(p.output(p.anchors, regions), logits, rtol=1e-4, atol=1e-4)


def _segments_cross(p1, p2, segs):
    """Whether the segment p1-p2 crosses any of segs (n, 2, 2)."""
    def orient(a, b, c):
        return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
    a, b = segs[:, 0], segs[:, 1]
    d1, d2 = orient(a, b, p1), orient(a, b, p2)
    d3, d4 = orient(p1[None], p2[None], a), orient(p1[None], p2[None], b)
    return bool(((d1 * d2 <= 0) & (d3 * d4 <= 0)).any())


@pytest.mark.parametrize("n_out", [1, 4])
def test_decision_boundary(n_out):
    rng = np.random.default_rng(7 + n_out)
    net = random_net(rng, [2, 24, 24, n_out], ("leaky_relu", 0.05))
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-2, 2, -2, 2))
    assert len(p.boundary) > 0
    mid = p.boundary.mean(axis=1)
    out = net.forward(mid)
    if n_out == 1:
        np.testing.assert_allclose(out[:, 0], 0, atol=1e-9)
    else:
        top2 = np.sort(out, axis=1)[:, -2:]
        np.testing.assert_allclose(top2[:, 0], top2[:, 1], atol=1e-9)
        k, j = p.boundary_classes.T
        np.testing.assert_allclose(out[np.arange(len(out)), k], top2[:, 1], atol=1e-9)
        np.testing.assert_allclose(out[np.arange(len(out)), j], top2[:, 1], atol=1e-9)
    # Conversely: between two points of different predicted class lies a boundary segment.
    pts = rng.uniform(-2, 2, (300, 2))
    out = net.forward(pts)
    cls = (out[:, 0] > 0).astype(int) if n_out == 1 else out.argmax(1)
    for i in range(0, 300, 2):
        if cls[i] != cls[i + 1]:
            assert _segments_cross(pts[i], pts[i + 1], p.boundary)


def test_same_result_for_any_thread_count():
    rng = np.random.default_rng(11)
    net = random_net(rng, [2, 48, 48, 48, 1], "relu")
    before = rl.num_threads()
    try:
        rl.set_num_threads(1)
        a = rl.plane(net, [0, 0], [1, 0], [0, 1])
        rl.set_num_threads(3)
        b = rl.plane(net, [0, 0], [1, 0], [0, 1])
    finally:
        rl.set_num_threads(before)
    for name in ("vertices", "offsets", "areas", "patterns", "maps", "boundary"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_max_regions_stops_with_a_clear_error():
    rng = np.random.default_rng(0)
    net = random_net(rng, [2, 64, 64, 1], "relu")
    with pytest.raises(ValueError, match="max_regions=100"):
        rl.plane(net, [0, 0], [1, 0], [0, 1], max_regions=100)


def test_accepts_torch_modules():
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    p = rl.plane(model, torch.zeros(2), torch.tensor([1.0, 0]), torch.tensor([0, 1.0]))
    q = rl.plane(rl.from_torch(model), [0, 0], [1, 0], [0, 1])
    np.testing.assert_array_equal(p.patterns, q.patterns)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(origin=[0, 0, 0]), ValueError, "3 entries"),
        (dict(u=[1, 1], v=[2, 2]), ValueError, "linearly independent"),
        (dict(origin=[np.nan, 0]), ValueError, "NaN"),
        (dict(extent=(1, -1, 0, 1)), ValueError, "s0 < s1"),
        (dict(extent=(0, 1, 0)), ValueError, "four numbers"),
        (dict(max_regions=0), ValueError, "positive"),
        (dict(max_regions=1.5), TypeError, "integer"),
        (dict(origin=["a", "b"]), TypeError, "real vector"),
    ],
)
def test_bad_input(kwargs, error, match):
    net = random_net(np.random.default_rng(0), [2, 4, 1])
    args = dict(origin=[0, 0], u=[1, 0], v=[0, 1])
    args.update(kwargs)
    origin, u, v = args.pop("origin"), args.pop("u"), args.pop("v")
    with pytest.raises(error, match=match):
        rl.plane(net, origin, u, v, **args)


def test_bad_net_and_collinear_points():
    with pytest.raises(TypeError, match="PLNet or a torch.nn.Module"):
        rl.plane("net", [0, 0], [1, 0], [0, 1])
    net = random_net(np.random.default_rng(0), [3, 4, 1])
    with pytest.raises(ValueError, match="collinear"):
        rl.plane_through(net, [0, 0, 0], [1, 1, 1], [2, 2, 2])
    with pytest.raises(ValueError, match="same point"):
        rl.plane_through(net, [0, 0, 0], [0, 0, 0], [2, 2, 2])


@pytest.mark.parametrize("seed", range(3))
def test_per_neuron_slopes_identity_neurons_and_linear_stages(seed):
    # Per-neuron slopes (ReLU, leaky, negative, > 1, identity) within a stage, and a stage
    # without kinks between two that have them.
    rng = np.random.default_rng(300 + seed)
    ws = [rng.normal(size=(12, 2)), rng.normal(size=(12, 12)) / 3, rng.normal(size=(10, 12)) / 3,
          rng.normal(size=(3, 10))]
    bs = [rng.normal(size=w.shape[0]) * 0.5 for w in ws]
    slopes = [rng.choice([0.0, 0.1, -0.5, 2.0, 1.0], size=12), "identity",
              rng.choice([0.0, 0.3, 1.0], size=10), "identity"]
    net = rl.PLNet.from_arrays(ws, bs, slopes, dtype=np.float64)
    p = rl.plane(net, [0.1, -0.2], [1.0, 0.3], [-0.2, 1.0], extent=(-2, 2, -2, 2))
    assert len(p.n_regions_per_layer) == 2
    _check_against_sampling(net, p)
    c = p.centroids()
    assert (net.patterns(p.to_input(c), packed=True) == p.patterns).all()


def test_overflowing_weights_stop_with_the_cause():
    ws = [np.full((4, 2), 1e200), np.full((4, 4), 1e200), np.ones((1, 4))]
    net = rl.PLNet.from_arrays(ws, [np.ones(4), np.ones(4), np.zeros(1)])
    with pytest.raises(ValueError, match="overflow float64"):
        rl.plane(net, [0, 0], [1, 0], [0, 1])


def test_max_regions_stops_inside_one_wide_layer():
    # 3000 lines in one layer would make ~4.5 million regions; the limit stops it early.
    rng = np.random.default_rng(0)
    net = rl.PLNet.from_arrays([rng.normal(size=(3000, 2)), np.ones((1, 3000))],
                               [rng.uniform(-0.5, 0.5, 3000), np.zeros(1)])
    with pytest.raises(ValueError, match="max_regions=1000 "):
        rl.plane(net, [0, 0], [1, 0], [0, 1], max_regions=1000)


def _boundary_length(p):
    return float(np.linalg.norm(p.boundary[:, 1] - p.boundary[:, 0], axis=1).sum())


def test_boundary_on_region_edges():
    # A ReLU on the logit puts the decision boundary exactly on the region edges it makes;
    # it must be the same boundary as without that ReLU.
    rng = np.random.default_rng(0)
    W1, b1, W2 = rng.normal(size=(8, 2)), rng.normal(size=8), rng.normal(size=(1, 8))
    b2 = -(np.maximum(0, np.array([0.1, 0.2]) @ W1.T + b1) @ W2.T)
    plain = rl.PLNet.from_arrays([W1, W2], [b1, b2], ["relu", "identity"])
    kinked = rl.PLNet.from_arrays([W1, W2], [b1, b2], ["relu", "relu"])
    a = rl.plane(plain, [0, 0], [1, 0], [0, 1], extent=(-2, 2, -2, 2))
    b = rl.plane(kinked, [0, 0], [1, 0], [0, 1], extent=(-2, 2, -2, 2))
    assert _boundary_length(a) > 1.0
    np.testing.assert_allclose(_boundary_length(b), _boundary_length(a), rtol=1e-9)
    out = kinked.forward(b.boundary.mean(axis=1))
    np.testing.assert_allclose(out, 0, atol=1e-9)


@pytest.mark.parametrize("bias", [1.0, -1.0])
def test_a_logit_vanishing_on_the_slice_border_is_no_boundary(bias):
    net = rl.PLNet.from_arrays([np.array([[0.0, 1.0]])], [np.array([bias])], ["identity"])
    assert len(rl.plane(net, [0, 0], [1, 0], [0, 1]).boundary) == 0


def test_torch_conv_model_directly_with_input_shaped_points():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(2 * 6 * 6, 3)).eval()
    x = torch.rand(3, 1, 8, 8)
    p = rl.plane_through(model, *x)
    q = rl.plane_through(rl.from_torch(model, input_shape=(1, 8, 8)), *x)
    assert p.n_regions == q.n_regions > 1
    assert rl.segment(model, x[0], x[1]).n_regions > 1


def _two_layer(rng, out_rows):
    W1, b1 = rng.normal(size=(10, 2)), rng.normal(size=10)
    W2, b2 = rng.normal(size=(len(out_rows), 10)), rng.normal(size=len(out_rows))
    return W1, b1, W2[out_rows], b2[out_rows]


@pytest.mark.parametrize("rows", [[0, 0, 1], [0, 0, 0], [0, 1, 1, 0, 2]])
def test_duplicated_classes_never_win(rows):
    # Ties go to the lower class: a class equal to a lower one (even when the net's
    # products round the two rows differently) has no boundary of its own.
    W1, b1, W2, b2 = _two_layer(np.random.default_rng(0), rows)
    net = rl.PLNet.from_arrays([W1, W2], [b1, b2])
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-2, 2, -2, 2))
    first = {r: rows.index(r) for r in rows}
    winners = sorted({first[r] for r in rows if len(set(rows)) > 1})
    assert set(np.unique(p.boundary_classes)) <= set(winners)
    if len(set(rows)) == 1:
        assert len(p.boundary) == 0
    s = rl.segment(net, [-2, -2], [2, 2])
    assert set(s.change_before) | set(s.change_after) <= set(winners)


@pytest.mark.parametrize("width", [1e-3, 1e-6, 1e-7])
def test_boundary_on_edges_of_thin_regions(width):
    # logit = relu(s) + relu(-s - width): class 0 only on the strip -width < s < 0, whose
    # two sides (length 2 each) are the boundary, however thin the strip.
    net = rl.PLNet.from_arrays([np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([[1.0, 1.0]])],
                               [np.array([0.0, -width]), np.zeros(1)], ["relu", "relu"])
    p = rl.plane(net, [0, 0], [1, 0], [0, 1])
    assert len(p.boundary) == 2
    np.testing.assert_allclose(_boundary_length(p), 4.0, rtol=1e-12)
    np.testing.assert_allclose(np.sort(p.boundary[:, :, 0].mean(axis=1)), [-width, 0.0], atol=1e-15)


@pytest.mark.parametrize("seed", [0, 2])
def test_output_relu_keeps_every_boundary_edge_of_a_wide_net(seed):
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(2, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),
                            torch.nn.ReLU(), torch.nn.Linear(128, 1)).double()
    a = rl.plane(m, [0, 0], [1, 0], [0, 1], extent=(-4, 4, -4, 4))
    b = rl.plane(torch.nn.Sequential(*m, torch.nn.ReLU()), [0, 0], [1, 0], [0, 1], extent=(-4, 4, -4, 4))
    assert len(b.boundary) == len(a.boundary) > 100
    np.testing.assert_allclose(_boundary_length(b), _boundary_length(a), rtol=1e-9)


def test_overflowing_areas_and_bad_margin_are_errors():
    net = random_net(np.random.default_rng(0), [2, 5, 1])
    with pytest.raises(ValueError, match="overflow"):
        rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-1e155, 1e155, -1e155, 1e155))
    for margin in ["x", None, True]:
        with pytest.raises(TypeError, match="margin"):
            rl.plane_through(net, [0, 0], [1, 0], [0, 1], margin=margin)
    assert rl.segment(net, [0, 0], [1, 1], max_regions=2**70).n_regions >= 1


# ---------------------------------------------------------------- scale and parametrisation
def _sampled_patterns(net, p, n=200, seed=0):
    """The distinct patterns of points sampled inside the slice (strictly)."""
    rng = np.random.default_rng(seed)
    s0, s1, t0, t1 = p.extent
    st_pts = np.stack([rng.uniform(s0, s1, n), rng.uniform(t0, t1, n)], axis=1)
    pats = net.patterns(p.to_input(st_pts), packed=True)
    return {row.tobytes() for row in pats}


@pytest.mark.parametrize("scale", [1.0, 5.0, 100.0])
def test_a_tiny_square_gives_the_same_regions_however_it_is_written(scale):
    # Two lines cross at c; a square of half-width 1e-12 around c, written as origin 0 with
    # an extent around c, or as origin c with an extent around 0. float64 resolves it (the
    # samples inside show 4 patterns), so both must give the 4 quadrants.
    W, c = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([1.0, 1.3]) * scale
    net = rl.PLNet.from_arrays([W, np.ones((1, 2))], [-W @ c, np.zeros(1)])
    e = 1e-12
    a = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(c[0] - e, c[0] + e, c[1] - e, c[1] + e))
    b = rl.plane(net, c, [1, 0], [0, 1], extent=(-e, e, -e, e))
    assert len(_sampled_patterns(net, b)) == 4
    assert a.n_regions == b.n_regions == 4
    assert {r.tobytes() for r in a.patterns} == {r.tobytes() for r in b.patterns} == _sampled_patterns(net, a)
    s0, s1, t0, t1 = a.extent  # c - e, c + e as float64 has them
    np.testing.assert_allclose(a.areas.sum(), (s1 - s0) * (t1 - t0), rtol=1e-12)
    np.testing.assert_allclose(b.areas.sum(), 4 * e * e, rtol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_shifting_the_origin_along_the_slice_changes_nothing(seed):
    # The same slice written with its origin at 0 and at its extent's centre: the same regions
    # (the engine works around the centre either way), far from the origin too.
    rng = np.random.default_rng(40 + seed)
    net = random_net(rng, [3, 16, 16, 2], "relu")
    u, v = np.eye(3)[:2]
    half = 2.0 ** -(10 * seed)  # with the centre a multiple of it, both extents are exact
    centre = np.round(rng.uniform(-1, 1, 2) * 10.0 ** (2 * seed) / half) * half
    x0 = np.array([0.0, 0.0, rng.normal()])
    origin_c = x0 + centre[0] * u + centre[1] * v
    a = rl.plane(net, x0, u, v, extent=(centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half))
    b = rl.plane(net, origin_c, u, v, extent=(-half, half, -half, half))
    assert a.n_regions == b.n_regions
    np.testing.assert_array_equal(a.patterns, b.patterns)
    np.testing.assert_array_equal(a.areas, b.areas)
    np.testing.assert_allclose(a.vertices - centre, b.vertices, atol=4e-16 * np.abs(centre).max())


def _wedge_net(W, c):
    # logit = relu(relu(W (x - c)) . 1): zero on the wedge where both neurons are off, whose
    # two edges (on the neurons' lines) are the decision boundary.
    return rl.PLNet.from_arrays([W, np.ones((1, 2))], [-W @ c, np.zeros(1)], ["relu", "relu"])


@pytest.mark.parametrize("seed", range(8))
def test_boundary_edges_of_a_zero_logit_wedge_far_from_the_origin(seed):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(2, 2))
    c = np.array([1e6, -1e6]) + rng.uniform(-1, 1, 2)
    ext = (-1e-3, 1e-3, -1e-3, 1e-3)
    far = rl.plane(_wedge_net(W, c), c, [1, 0], [0, 1], extent=ext)
    near = rl.plane(_wedge_net(W, np.zeros(2)), [0, 0], [1, 0], [0, 1], extent=ext)
    assert len(near.boundary) == 2
    assert len(far.boundary) == 2
    np.testing.assert_allclose(_boundary_length(far), _boundary_length(near), rtol=1e-6)


def test_boundary_far_out_written_from_the_origin_has_no_overflow():
    # The same wedge at 1e8, written with origin 0: the boundary code works in coordinates
    # centred on the extent (no int64 overflow, no warning).
    import warnings

    W = np.array([[1.0, 0.5], [-0.3, 1.0]])
    c = np.array([1e8, 3e8])
    e = 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = rl.plane(_wedge_net(W, c), [0, 0], [1, 0], [0, 1],
                     extent=(c[0] - e, c[0] + e, c[1] - e, c[1] + e))
    q = rl.plane(_wedge_net(W, np.zeros(2)), [0, 0], [1, 0], [0, 1], extent=(-e, e, -e, e))
    assert len(p.boundary) == len(q.boundary) == 2
    # The lines' offsets at the slice carry the rounding of W x at |x| ~ 3e8 (~1e-8).
    np.testing.assert_allclose(_boundary_length(p), _boundary_length(q), rtol=1e-4)


@pytest.mark.parametrize("size", [1e100, 1e150])
def test_centroids_stay_finite_for_huge_extents(size):
    net = rl.PLNet.from_arrays([np.array([[1.0, 0.5], [0.2, -1.0]]), np.ones((1, 2))], [np.zeros(2), np.zeros(1)])
    p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-size, size, -size, size))
    assert np.isfinite(p.areas).all() and p.n_regions == 4
    c = p.centroids()
    assert np.isfinite(c).all()
    # Each centroid lies in its region: the pattern there is the region's own.
    assert (net.patterns(p.to_input(c), packed=True) == p.patterns).all()
    # The same slice scaled down to 1: the centroids scale with it.
    q = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-1, 1, -1, 1))
    np.testing.assert_allclose(c / size, q.centroids(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("ratio", [1e-8, 1e8])
def test_orthogonal_directions_of_very_different_lengths_are_accepted(ratio):
    # Stretching one axis does not make u and v parallel; only their directions count.
    net = random_net(np.random.default_rng(0), [2, 8, 1])
    p = rl.plane(net, [0, 0], [1, 0], [0, ratio], extent=(-1, 1, -1 / ratio, 1 / ratio))
    q = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(-1, 1, -1, 1))
    assert p.n_regions == q.n_regions
    np.testing.assert_array_equal(np.sort(p.patterns, axis=0), np.sort(q.patterns, axis=0))
    with pytest.raises(ValueError, match="parallel"):
        rl.plane(net, [0, 0], [1, 1e-17], [1e10, 0])
    with pytest.raises(ValueError, match="zero vector"):
        rl.plane(net, [0, 0], [0, 0], [1, 0])


@pytest.mark.parametrize("which", ["origin", "u", "v"])
def test_boolean_points_are_refused_like_forward(which):
    net = random_net(np.random.default_rng(0), [2, 4, 1])
    args = dict(origin=np.array([0.0, 0.0]), u=np.array([1.0, 0.0]), v=np.array([0.0, 1.0]))
    args[which] = np.array([True, False]) if which != "v" else np.array([False, True])
    with pytest.raises(TypeError, match="booleans") as plane_error:
        rl.plane(net, args["origin"], args["u"], args["v"])
    with pytest.raises(TypeError, match="booleans") as forward_error:
        net.forward(args[which][None])
    assert "astype" in str(plane_error.value) and "astype" in str(forward_error.value)


@pytest.mark.parametrize("half", [1e-12, 1.0, 1e12])
@pytest.mark.parametrize("far", [0.0, 1e3])
@pytest.mark.parametrize("written_from_zero", [False, True])
def test_guaranteed_resolution_is_relative_to_the_extent(half, far, written_from_zero):
    # The README's guarantee: features 1e-10 of the extent's half-side apart are resolved,
    # whatever the extent's size, wherever it lies (here up to 1e3 half-sides out) and
    # however it is written. A strip that thin between two parallel neurons is a region.
    c = np.array([far * half, -0.5 * far * half])
    width = 1e-10 * half
    W = np.array([[1.0, 0.2], [1.0, 0.2]])
    b = -W @ c - np.array([0.3 * half, 0.3 * half + width])
    net = rl.PLNet.from_arrays([W, np.ones((1, 2))], [b, np.zeros(1)])
    if written_from_zero:
        p = rl.plane(net, [0, 0], [1, 0], [0, 1], extent=(c[0] - half, c[0] + half, c[1] - half, c[1] + half))
    else:
        p = rl.plane(net, c, [1, 0], [0, 1], extent=(-half, half, -half, half))
    assert p.n_regions == 3
    # The strip's area is its width (along s) times its height, up to the rounding of b.
    np.testing.assert_allclose(np.sort(p.areas)[0], width * 2 * half, rtol=1e-3)


def test_slices_whose_centre_overflows_are_errors():
    net = random_net(np.random.default_rng(0), [2, 4, 1])
    with pytest.raises(ValueError, match="centre is too far out"):
        rl.plane(net, [0, 0], [1e10, 0], [0, 1], extent=(1e300, 1.5e300, 0, 1))
    big = rl.PLNet.from_arrays([np.full((4, 2), 1e300), np.ones((1, 4))], [np.zeros(4), np.zeros(1)])
    with pytest.raises(ValueError, match="overflow float64"):
        rl.plane(big, [1e10, 0], [1, 0], [0, 1])
    with pytest.raises(ValueError, match="overflow float64"):
        rl.segment(big, [1e10, 0], [1e10, 1])
