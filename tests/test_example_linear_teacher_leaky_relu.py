"""Sarussi, Brutzkus & Globerson (2021) example, and the helper it uses,
``regionlab.boundary_angles`` (angles of an exact slice boundary to a hyperplane)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

import regionlab as rl
from regionlab import boundary_angles
from example_runner import run_quick


def _orthonormal_pair(rng, d):
    q, _ = np.linalg.qr(rng.standard_normal((d, 2)))
    return q[:, 0], q[:, 1]


def test_linear_net_angle_matches_closed_form():
    """f(x) = a . x + b: the boundary is a hyperplane; its angle to w's line in the slice is
    the angle between the two lines' normals in orthonormal slice coordinates."""
    rng = np.random.default_rng(0)
    d = 6
    for _ in range(5):
        a, w, b = rng.standard_normal(d), rng.standard_normal(d), float(rng.normal())
        net = rl.PLNet.from_arrays([a[None, :]], [np.array([b])], activations="identity")
        o = rng.standard_normal(d) * 0.3
        u, v = _orthonormal_pair(rng, d)
        part = rl.plane(net, o, u, v, extent=(-4, 4, -4, 4))
        assert part.boundary.shape[0] >= 1
        n1, n2 = np.array([a @ u, a @ v]), np.array([w @ u, w @ v])
        expect = math.degrees(math.acos(min(1.0, abs(n1 @ n2) / np.linalg.norm(n1) / np.linalg.norm(n2))))
        ba = boundary_angles(part, w)
        np.testing.assert_allclose(ba.angles, expect, atol=1e-7)
        assert ba.mean == pytest.approx(expect, abs=1e-7)
        # the segment lengths: the boundary line's chord through the box
        ends = part.boundary.reshape(-1, 2)
        assert ba.total_length == pytest.approx(np.linalg.norm(ends.max(0) - ends.min(0)), rel=1e-9)


def test_leaky_net_segments_against_autograd_normals():
    """Each segment of a leaky-ReLU net's boundary is perpendicular (in the slice) to the
    network's gradient there (torch autograd at the midpoint); with w in the slice the
    angle to w's line is also the angle to the hyperplane, arcsin(|w . e| / |w| |e|)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    d = 5
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(d, 12), torch.nn.LeakyReLU(0.2), torch.nn.Linear(12, 1)).double()
    w = rng.standard_normal(d)
    u = w / np.linalg.norm(w)
    v = rng.standard_normal(d)
    v -= (v @ u) * u
    v /= np.linalg.norm(v)
    o = 0.2 * rng.standard_normal(d)
    part = rl.plane(model, o, u, v, extent=(-3, 3, -3, 3))
    ba = boundary_angles(part, w, degrees=False)
    assert ba.n_segments >= 3
    for seg, ang, ln in zip(part.boundary, ba.angles, ba.lengths):
        mid = o + seg.mean(0)[0] * u + seg.mean(0)[1] * v
        x = torch.tensor(mid, requires_grad=True)
        model(x[None, :]).sum().backward()
        g = x.grad.numpy()
        g2 = np.array([g @ u, g @ v])              # the gradient within the slice: normal of the segment
        line_dir = np.array([-g2[1], g2[0]])       # the segment's direction (orthonormal slice coords)
        e = seg[1] - seg[0]
        assert abs(line_dir @ e) == pytest.approx(np.linalg.norm(line_dir) * np.linalg.norm(e), rel=1e-7)
        # teacher's line is s = const: angle of (de_s, de_t) to (0, 1)
        expect = math.atan2(abs(line_dir[0]), abs(line_dir[1]))
        assert ang == pytest.approx(expect, abs=1e-7)
        e_in = e[0] * u + e[1] * v
        assert ang == pytest.approx(math.asin(min(1.0, abs(w @ e_in) / np.linalg.norm(w) / np.linalg.norm(e_in))),
                                    abs=1e-7)
        assert ln == pytest.approx(np.linalg.norm(e_in), rel=1e-12)
    assert 0 <= ba.mean <= math.pi / 2 and ba.max == pytest.approx(ba.angles.max())


def test_any_basis_of_the_slice_gives_the_same_angles():
    """u, v need not be orthonormal: one geometric segment written in two bases of the same
    plane has the same angle and length."""
    rng = np.random.default_rng(2)
    d = 7
    u, v = _orthonormal_pair(rng, d)
    w = rng.standard_normal(d)
    seg = np.array([[[0.3, -0.4], [1.2, 0.9]], [[-1.0, 0.0], [-1.0, 2.0]]])
    a = boundary_angles(SimpleNamespace(u=u, v=v, boundary=seg), w)
    # u' = 2u, v' = u + 3v; a point s u + t v = s' u' + t' v' with t' = t / 3, s' = (s - t') / 2
    u2, v2 = 2 * u, u + 3 * v
    t2 = seg[..., 1] / 3
    s2 = (seg[..., 0] - t2) / 2
    b = boundary_angles(SimpleNamespace(u=u2, v=v2, boundary=np.stack([s2, t2], -1)), 5.0 * w)
    np.testing.assert_allclose(b.angles, a.angles, atol=1e-10)
    np.testing.assert_allclose(b.lengths, a.lengths, rtol=1e-12)


def test_errors_and_empty_boundary():
    rng = np.random.default_rng(3)
    d = 4
    u, v = np.eye(d)[0], np.eye(d)[1]
    part = SimpleNamespace(u=u, v=v, boundary=np.zeros((0, 2, 2)))
    ba = boundary_angles(part, np.ones(d))
    assert ba.n_segments == 0 and math.isnan(ba.mean) and math.isnan(ba.max)
    with pytest.raises(ValueError, match="orthogonal"):
        boundary_angles(part, np.eye(d)[2])
    with pytest.raises(ValueError, match="entries"):
        boundary_angles(part, np.ones(d + 1))
    with pytest.raises(ValueError, match="NaN"):
        boundary_angles(part, np.r_[np.nan, rng.standard_normal(d - 1)])
    with pytest.raises(TypeError, match="PlanePartition"):
        boundary_angles(SimpleNamespace(breakpoints=np.zeros(2)), np.ones(d))  # e.g. a SegmentPartition


def _rows(out: str) -> dict:
    rows = {}
    for line in out.splitlines():
        tok = line.split()
        if len(tok) == 8 and tok[0] in ("small", "default"):
            rows.setdefault(tok[0], []).append({"t": float(tok[1]), "mean_cos": float(tok[3]),
                                                "min_cos": float(tok[4]), "frac": float(tok[5].rstrip("%")) / 100,
                                                "angle": float(tok[6])})
    return rows


def test_linear_teacher_leaky_relu_quick(tmp_path):
    """Sarussi et al.: the first-layer weights cluster along +-w* by output sign, and the
    exact decision boundary ends within a few degrees of the teacher's hyperplane."""
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    out = run_quick("linear_teacher_leaky_relu", tmp_path)
    rows = _rows(out)
    start, end = rows["small"][0], rows["small"][-1]
    assert start["t"] == 0 and end["t"] > 100
    # clusters: every neuron along its sign's direction, from a random start
    assert end["mean_cos"] > 0.9 and end["frac"] >= 0.9
    assert end["mean_cos"] > start["mean_cos"] + 0.5 and abs(start["mean_cos"]) < 0.5
    # the boundary: far from the teacher's at init, within a few degrees at the end
    assert start["angle"] > 15 and end["angle"] < 3
    # from torch's default init the alignment grows too, and the boundary aligns
    d0, d1 = rows["default"][0], rows["default"][-1]
    assert d1["mean_cos"] > d0["mean_cos"] + 0.5 and d1["angle"] < 5
    # ... and where fewer of its neurons cluster, the script says whether its boundary is as straight anyway
    if d1["frac"] < end["frac"]:
        same = d1["angle"] <= 1.5 * end["angle"]
        assert ("ends with an equally straight boundary" if same else "ends with a less straight boundary") in out
    assert "agreement with the published claim: yes" in out
    assert (tmp_path / "linear_teacher_leaky_relu.png").stat().st_size > 10_000
