"""A slow, obviously-correct reference enumerator of the linear regions of a PLNet in a box.

Used by the tests of the exact n-dimensional engine (``rl.regions``). It shares no code
with regionlab's C++ core: it reads the PLNet's stages (numpy weights, biases, negative
slopes, max groups) and enumerates regions by recursive linear programming with
``scipy.optimize.linprog`` (HiGHS) only.

Algorithm. A cell is ``(pattern bits so far, polytope A y <= b, affine map a = P y + q of
the current stage's input)``; it starts as the box. Stage by stage, every kinked neuron
(negative slope != 1) splits each cell into its parts with ``z > 0`` (bit 1, the
convention of ``net.patterns``) and ``z < 0`` (bit 0); every max group with ``k > 1``
candidates splits it into the parts where candidate ``i`` wins (``h_i >= h_j`` for all
``j``), the winner's position ``i`` written little-endian in ``ceil(log2 k)`` bits. A part
is kept iff it has a nonempty interior: its Chebyshev ball (the largest ball inside,
found by the LP ``max t s.t. a_i . y + t ||a_i|| <= b_i``) has radius ``> tol`` with
``tol = rel_tol * max box width``. Parts certified by a ball already known to lie inside
them skip the LP (a pure speed-up: the certificate is exact geometry). Neurons that are
constant on a cell (gradient zero up to rounding) do not cut it: the cell goes to the side
of the constant's sign (``0`` counts as bit 0 / as a tie, and ties go to the first
candidate, like ``numpy.argmax``). Then the cell's affine map is pushed through the stage.

Computation is in float64, in coordinates ``y = (x - centre) / s`` (``s`` the largest
half-width: an isotropic scaling, so Chebyshev balls map to Chebyshev balls); results
are mapped back to ``x``. Volumes are computed independently of the LPs: the polytope's
vertices from ``scipy.spatial.HalfspaceIntersection`` (Chebyshev centre as interior
point), then ``scipy.spatial.ConvexHull(vertices).volume`` for d = 2, 3, and for d >= 4 the
cone recursion over the face lattice (:func:`cone_volume`: Qhull's hull of the vertices
fails or loses accuracy on thin cells there); an interval's length for d = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.spatial import ConvexHull, HalfspaceIntersection

__all__ = [
    "reference_regions",
    "reference_count_by_sampling",
    "reference_patterns",
    "polytope_volume",
    "cone_volume",
]

# A neuron (or candidate difference) whose gradient on a cell is below this fraction of
# the sum of its terms' magnitudes is rounding noise: constant on the cell.
_CONSTANT_EPS = 1e-12
_HIGHS_OPTIONS = {
    "primal_feasibility_tolerance": 1e-10,
    "dual_feasibility_tolerance": 1e-10,
}


@dataclass
class _Cell:
    A: np.ndarray  # (m, d) unit-norm rows, scaled coordinates
    b: np.ndarray  # (m,)
    x0: np.ndarray  # centre of a ball known to lie inside the cell
    r: float  # its radius (> tol)
    bits: list  # pattern bits so far (bools, pattern order)
    P: np.ndarray  # current stage input = P y + q
    q: np.ndarray
    choice: list  # this stage's choices: per-neuron bit, or per-group winner position
    affine: tuple = ()  # this stage's outputs on the cell: (M, c, scale), h = M y + c


def _chebyshev(A, b):
    """Largest ball inside {y : A y <= b} (rows of A unit-norm): (centre, radius)."""
    m, d = A.shape
    c = np.zeros(d + 1)
    c[-1] = -1.0
    A_ub = np.hstack([A, np.ones((m, 1))])
    res = linprog(c, A_ub=A_ub, b_ub=b, bounds=[(None, None)] * (d + 1), method="highs",
                  options=_HIGHS_OPTIONS)
    if res.status != 0:
        raise RuntimeError(f"Chebyshev LP failed: {res.message}")
    return res.x[:d], float(res.x[d])


def _child(cell, constraints, tol):
    """The part of ``cell`` where every ``g . y + h >= 0`` (``> 0`` where strict), or None
    when it has no interior (Chebyshev radius <= tol). ``constraints``: (g, h, scale, strict)."""
    rows, rhs = [], []
    r = cell.r
    for g, h, scale, strict in constraints:
        n = float(np.linalg.norm(g))
        val = float(g @ cell.x0 + h)
        if n <= _CONSTANT_EPS * scale:  # constant on the cell
            if val > 0 or (val == 0 and not strict):
                continue
            return None
        rows.append(-g / n)
        rhs.append(h / n)
        r = min(r, val / n)  # distance from x0 to the cut, on the kept side
    if not rows:
        return cell.A, cell.b, cell.x0, cell.r
    A = np.vstack([cell.A] + [np.asarray(rows)])
    b = np.concatenate([cell.b, rhs])
    if r > tol:  # the ball (x0, r) lies inside the part: interior certified
        return A, b, cell.x0, r
    x0, r = _chebyshev(A, b)
    if r > tol:
        return A, b, x0, r
    return None


def _split(cells, options_of, tol):
    """Replace every cell by its parts: ``options_of(cell)`` lists (choice, new bits,
    constraints) for each alternative."""
    out = []
    for cell in cells:
        for choice, bits, constraints in options_of(cell):
            part = _child(cell, constraints, tol)
            if part is None:
                continue
            A, b, x0, r = part
            out.append(_Cell(A, b, x0, r, cell.bits + bits, cell.P, cell.q, cell.choice + [choice],
                             cell.affine))
    return out


def _stage_affine(stage, cell):
    """The stage's affine outputs on the cell: h = M y + c, and each row's term scale."""
    W = np.asarray(stage.weight, dtype=np.float64)
    bias = np.asarray(stage.bias, dtype=np.float64)
    M = W @ cell.P
    c = W @ cell.q + bias
    scale = np.abs(W) @ np.linalg.norm(cell.P, axis=1) + 1e-300
    return M, c, scale


def _neuron_options(j):
    def options(cell):
        M, c, s = cell.affine
        return [
            (True, [True], [(M[j], c[j], s[j], True)]),  # z > 0: bit 1
            (False, [False], [(-M[j], -c[j], s[j], False)]),  # z <= 0: bit 0
        ]

    return options


def _group_options(cands):
    k = len(cands)
    nb = math.ceil(math.log2(k))

    def options(cell):
        M, c, s = cell.affine
        opts = []
        for i in range(k):
            cons = []
            for j in range(k):
                if j == i:
                    continue
                a, b = cands[i], cands[j]
                # h_i - h_j >= 0; strictly where j comes first (ties go to the first).
                cons.append((M[a] - M[b], c[a] - c[b], s[a] + s[b], j < i))
            opts.append((i, [bool((i >> t) & 1) for t in range(nb)], cons))
        return opts

    return options


def _walk(net, tol, A0, b0, centre, s):
    d = net.input_dim
    cells = [_Cell(A0, b0, np.zeros(d), 1.0 * min(b0), [], np.eye(d) * s, centre.copy(), [])]
    for stage in net.stages:
        for cell in cells:
            cell.choice = []
            cell.affine = _stage_affine(stage, cell)
        if stage.is_max:
            off, idx = np.asarray(stage.group_offsets), np.asarray(stage.group_index)
            groups = [idx[off[g]:off[g + 1]].astype(int) for g in range(len(off) - 1)]
            for cands in groups:
                if len(cands) == 1:
                    for cell in cells:
                        cell.choice.append(0)
                    continue
                cells = _split(cells, _group_options(cands), tol)
            for cell in cells:
                M, c, _ = cell.affine
                rows = [cands[w] for cands, w in zip(groups, cell.choice)]
                cell.P, cell.q = M[rows], c[rows]
        else:
            slopes = np.asarray(stage.negative_slope, dtype=np.float64)
            kinked = slopes != 1.0
            for j in range(stage.affine_features):
                if not kinked[j]:
                    continue
                cells = _split(cells, _neuron_options(j), tol)
            for cell in cells:
                M, c, _ = cell.affine
                gain = np.ones(len(c))
                gain[np.flatnonzero(kinked)] = [1.0 if on else sl for on, sl in
                                                zip(cell.choice, slopes[kinked])]
                cell.P, cell.q = gain[:, None] * M, gain * c
        for cell in cells:
            cell.affine = ()
    return cells


def polytope_vertices(A, b, interior):
    """Vertices of the bounded polytope {y : A y <= b}, ``interior`` strictly inside."""
    A, b = np.asarray(A, np.float64), np.asarray(b, np.float64)
    if A.shape[1] == 1:
        a = A[:, 0]
        return np.array([[np.max(b[a < 0] / a[a < 0])], [np.min(b[a > 0] / a[a > 0])]])
    hs = HalfspaceIntersection(np.hstack([A, -b[:, None]]), np.asarray(interior, np.float64))
    return hs.intersections


def cone_volume(V, A, b, *, active_tol=1e-9):
    """Volume of the polytope {A y <= b} (rows of A unit-norm) with vertices ``V``, by the
    cone recursion over its face lattice: ``vol_k(F) = sum over facets G of F of
    dist(c_F, aff G) vol_{k-1}(G) / k`` (``c_F`` the mean of F's vertices, inside F), with
    2-faces by the shoelace formula. The lattice is read from which vertices lie on which
    hyperplane (``|a_j . v - b_j| <= active_tol``): the facets of a face F are the maximal
    proper subsets ``F ∩ H_j``, and ``aff G = aff F ∩ H_j``, so ``dist(c_F, aff G) =
    (b_j - a_j . c_F) / |a_j projected on F's directions|``. No hull algorithm, so no facet
    merging: the default in d >= 4, where Qhull's ConvexHull of the vertices can fail
    ("wide merge") or, forced on, lose ~1e-6 of a thin cell's volume."""
    V = np.asarray(V, np.float64)
    A, b = np.asarray(A, np.float64), np.asarray(b, np.float64)
    on_plane = np.abs(V @ A.T - b) <= active_tol  # (n_vertices, n_rows)
    memo = {}

    def vol(idx, k):  # k-volume of the k-dimensional face with vertex indices idx (sorted)
        key = idx.tobytes()
        if key in memo:
            return memo[key]
        P = V[idx]
        c = P.mean(0)
        basis = np.linalg.svd(P - c)[2][:k]  # orthonormal basis of the face's directions
        if k == 2:  # a convex polygon: sort by angle around c, shoelace
            Q = (P - c) @ basis.T
            Q = Q[np.argsort(np.arctan2(Q[:, 1], Q[:, 0]))]
            R = np.roll(Q, -1, axis=0)
            memo[key] = 0.5 * abs(float(np.sum(Q[:, 0] * R[:, 1] - Q[:, 1] * R[:, 0])))
            return memo[key]
        on = on_plane[idx]  # (|F|, n_rows)
        count = on.sum(0)
        faces = {}  # vertex subset (bitmask) -> a hyperplane holding it
        for j in np.flatnonzero((count >= k) & (count < len(idx))):
            mask = int.from_bytes(np.packbits(on[:, j], bitorder="little").tobytes(), "little")
            faces.setdefault(mask, j)
        total = 0.0
        for mask, j in faces.items():
            if any(other != mask and other & mask == mask for other in faces):
                continue  # inside a bigger proper face: not a facet
            h = (b[j] - A[j] @ c) / np.linalg.norm(basis @ A[j])
            total += h * vol(idx[on[:, j]], k - 1) / k
        memo[key] = total
        return total

    return vol(np.arange(len(V)), V.shape[1])


def polytope_volume(A, b, interior, *, method=None):
    """Volume and vertices of the bounded polytope {y : A y <= b} (rows of A unit-norm),
    ``interior`` strictly inside. ``method``: ``"hull"`` (Qhull's ConvexHull of the
    vertices; the default for d <= 3), ``"cones"`` (:func:`cone_volume`; the default for
    d >= 4). d = 1: the interval's length."""
    V = polytope_vertices(A, b, interior)
    d = V.shape[1]
    if d == 1:
        return float(V[1, 0] - V[0, 0]), V
    method = method or ("hull" if d <= 3 else "cones")
    if method == "hull":
        return float(ConvexHull(V).volume), V
    if method == "cones":
        return cone_volume(V, A, b), V
    raise ValueError(f"unknown volume method {method!r}; use 'hull' or 'cones'")


def reference_regions(net, lower, upper, *, rel_tol=1e-9, volume_method=None):
    """Every linear region of ``net`` inside the box ``[lower, upper]`` (d = 1..6), by LP.

    Returns a dict, regions sorted by pattern (lexicographic on the packed bytes):

    - ``patterns``: ``(n, ceil(n_neurons / 8))`` uint8, the layout of
      ``net.patterns(X, packed=True)`` (little-endian bits; kinked neurons in stage then
      neuron order, bit = pre-activation > 0; max groups' winner positions).
    - ``interior_points``: ``(n, d)`` Chebyshev centres; ``radii``: ``(n,)`` their radii.
    - ``volumes``: ``(n,)`` from the vertices (HalfspaceIntersection, then ConvexHull for
      d <= 3, the cone recursion over the face lattice for d >= 4; ``volume_method``
      "hull"/"cones" forces one, see :func:`polytope_volume`).
    - ``A``, ``b``: lists of each region's H-representation ``A x <= b`` (box included,
      redundant rows kept); ``vertices``: list of ``(m_i, d)`` arrays.
    - ``map_weight`` ``(n, out, d)``, ``map_bias`` ``(n, out)``: the network's output on
      each region is ``map_weight[i] @ x + map_bias[i]``.
    - ``tol``: the Chebyshev radius below which a part counts as empty (``rel_tol`` times
      the largest box width).
    """
    lower = np.asarray(lower, dtype=np.float64).reshape(-1)
    upper = np.asarray(upper, dtype=np.float64).reshape(-1)
    d = net.input_dim
    if lower.shape != (d,) or upper.shape != (d,):
        raise ValueError(f"lower/upper must have shape ({d},)")
    if not (upper > lower).all():
        raise ValueError("need lower < upper in every coordinate")
    centre = 0.5 * (lower + upper)
    half = 0.5 * (upper - lower)
    s = float(half.max())
    # Box in scaled coordinates y = (x - centre) / s: |y_k| <= half_k / s.
    A0 = np.vstack([np.eye(d), -np.eye(d)])
    b0 = np.concatenate([half, half]) / s
    tol = rel_tol * 2.0  # rel_tol * (max width = 2 s) / s
    cells = _walk(net, tol, A0, b0, centre, s)

    n_bits = net.n_neurons
    n_bytes = (n_bits + 7) // 8
    bits = np.array([c.bits for c in cells], dtype=bool).reshape(len(cells), -1)
    if bits.shape[1] != n_bits:
        raise AssertionError(f"built {bits.shape[1]} bits per pattern, net has {n_bits}")
    patterns = np.packbits(bits, axis=1, bitorder="little").reshape(len(cells), n_bytes)
    order = np.lexsort(patterns.T[::-1]) if n_bytes else np.arange(len(cells))
    patterns = np.ascontiguousarray(patterns[order])
    if len({p.tobytes() for p in patterns}) != len(patterns):
        raise AssertionError("two regions share a pattern")

    pts, radii, vols, As, bs, verts, mw, mb = [], [], [], [], [], [], [], []
    for i in order:
        cell = cells[i]
        y0, r = _chebyshev(cell.A, cell.b)
        vol, v = polytope_volume(cell.A, cell.b, y0, method=volume_method)
        pts.append(centre + s * y0)
        radii.append(s * r)
        vols.append(vol * s**d)
        verts.append(centre + s * v)
        # A y <= b with y = (x - centre) / s  <=>  A x <= s b + A centre.
        As.append(cell.A.copy())
        bs.append(s * cell.b + cell.A @ centre)
        W = cell.P / s
        mw.append(W)
        mb.append(cell.q - W @ centre)
    out_dim = net.output_dim
    return {
        "patterns": patterns,
        "interior_points": np.array(pts).reshape(-1, d),
        "radii": np.array(radii),
        "volumes": np.array(vols),
        "A": As,
        "b": bs,
        "vertices": verts,
        "map_weight": np.array(mw).reshape(-1, out_dim, d),
        "map_bias": np.array(mb).reshape(-1, out_dim),
        "tol": rel_tol * float(2 * half.max()),
    }


def reference_patterns(net, X, *, packed=True):
    """Activation patterns by a plain float64 numpy forward pass (no C++), in the layout
    of ``net.patterns``: packed uint8 rows, or bool ``(n, n_neurons)``."""
    a = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    cols = []
    for st in net.stages:
        h = a @ np.asarray(st.weight, np.float64).T + np.asarray(st.bias, np.float64)
        if st.is_max:
            off, idx = np.asarray(st.group_offsets), np.asarray(st.group_index)
            vals = []
            for g in range(len(off) - 1):
                cand = h[:, idx[off[g]:off[g + 1]]]
                win = np.argmax(cand, axis=1)  # first maximum on ties
                vals.append(cand[np.arange(len(h)), win])
                k = cand.shape[1]
                for t in range(math.ceil(math.log2(k)) if k > 1 else 0):
                    cols.append((win >> t) & 1 == 1)
            a = np.stack(vals, axis=1)
        else:
            sl = np.asarray(st.negative_slope, np.float64)
            cols.extend(h[:, j] > 0 for j in np.flatnonzero(sl != 1.0))
            a = np.where(h > 0, h, sl * h)
    bits = np.stack(cols, axis=1) if cols else np.zeros((len(a), 0), bool)
    if not packed:
        return bits
    return np.packbits(bits, axis=1, bitorder="little").reshape(len(a), (bits.shape[1] + 7) // 8)


def reference_count_by_sampling(net, lower, upper, n_samples, seed, *, batch=65536):
    """The distinct packed patterns (a set of ``bytes``, each a row of
    ``net.patterns(X, packed=True)``) seen at ``n_samples`` uniform points of the box;
    patterns come from the numpy forward pass :func:`reference_patterns`. A subset of the
    exact regions' patterns."""
    lower = np.asarray(lower, dtype=np.float64).reshape(-1)
    upper = np.asarray(upper, dtype=np.float64).reshape(-1)
    rng = np.random.default_rng(seed)
    seen = set()
    done = 0
    while done < n_samples:
        m = min(batch, n_samples - done)
        X = lower + rng.random((m, len(lower))) * (upper - lower)
        P = reference_patterns(net, X, packed=True)
        seen.update(row.tobytes() for row in np.unique(P, axis=0))
        done += m
    return seen
