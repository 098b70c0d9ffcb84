"""`rl.bounds`: closed-form linear-region counts from the literature.

Counts are exact Python integers (``math.comb``); densities are floats. Widths are the
*hidden* layers' widths ``n_1 .. n_L`` (the neurons with kinks; the linear output layer
adds no regions) and ``d = n_0`` is the input dimension.

- :func:`zaslavsky`: regions (or bounded regions) of ``n`` generic hyperplanes in ``R^d``,
  i.e. of one hidden layer.
- :func:`serra_upper`, :func:`montufar_lower`, :func:`serra_lower`: bounds on the
  *maximal* number of regions of a deep ReLU network.
- :func:`serra_maxout_upper`: the same upper bound for maxout networks.
- :func:`expected_kinks_per_length`, :func:`expected_kinks_on_segment`: the exact
  expected number of kinks of a random one-layer network along a line.
- :func:`hanin_rolnick_density`: the first-order prediction of Hanin & Rolnick (2019) for
  the density of region boundaries along a line in a randomly initialised deep ReLU net.
- :func:`maxout_expected_kinks_on_segment`: the exact expected number of kinks of a
  random one-layer maxout network along a segment.
- :func:`tseran_montufar_upper`, :func:`tseran_montufar_order`: Tseran & Montúfar's (2021)
  upper bound on the expected number of regions of a random maxout network in a cube,
  and its order of growth.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = [
    "zaslavsky",
    "serra_upper",
    "montufar_lower",
    "serra_lower",
    "serra_maxout_upper",
    "expected_kinks_per_length",
    "expected_kinks_on_segment",
    "hanin_rolnick_density",
    "maxout_expected_kinks_on_segment",
    "tseran_montufar_upper",
    "tseran_montufar_order",
]


# ------------------------------------------------------------------------- validation
def _int(x: Any, name: str, minimum: int) -> int:
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got the bool {x!r}; pass a number")
    try:
        v = operator.index(x)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer, got {type(x).__name__} {x!r}; pass an int "
            "(e.g. int(round(x)) if it holds a whole number)"
        ) from None
    if v < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {v}")
    return v


def _widths(widths: Any, name: str = "widths") -> list[int]:
    if isinstance(widths, (str, bytes)) or not isinstance(widths, (Sequence, np.ndarray)):
        raise TypeError(
            f"{name} must be a sequence of hidden-layer widths, e.g. [n1, n2], got "
            f"{type(widths).__name__}; for one layer of n neurons pass [n]"
        )
    ws = [_int(w, f"{name}[{i}]", 1) for i, w in enumerate(widths)]
    if not ws:
        raise ValueError(f"{name} is empty; pass at least one hidden-layer width")
    return ws


def _positive(x: Any, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive number, got {type(x).__name__} {x!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be positive and finite, got {v}")
    return v


def _point(x: Any, d: int, name: str) -> np.ndarray:
    p = np.asarray(x, dtype=np.float64).reshape(-1)
    if p.shape != (d,):
        raise ValueError(f"{name} must have d = {d} coordinates, got {p.size}")
    if not np.isfinite(p).all():
        raise ValueError(f"{name} must be finite, got {p}")
    return p


# ---------------------------------------------------------------------- region counts
def zaslavsky(n: int, d: int, *, bounded: bool = False) -> int:
    """Regions of ``n`` hyperplanes in general position in ``R^d``.

    ``sum_{i=0}^{d} C(n, i)`` regions, of which ``C(n - 1, d)`` are bounded (``bounded=True``;
    0 when ``n = 0``). This is the number of linear regions of one hidden layer of ``n``
    ReLU (or leaky-ReLU) neurons in general position on ``d`` inputs, and the maximum over
    all one-layer nets.

    References: R. C. Buck, "Partition of space", Amer. Math. Monthly 50 (1943) 541-544;
    T. Zaslavsky, "Facing up to arrangements: face-count formulas for partitions of space
    by hyperplanes", Mem. Amer. Math. Soc. 154 (1975).
    """
    n = _int(n, "n", 0)
    d = _int(d, "d", 1)
    if bounded:
        return math.comb(n - 1, d) if n > 0 else 0
    return sum(math.comb(n, i) for i in range(d + 1))


def serra_upper(widths: Sequence[int], d: int) -> int:
    """Upper bound on the number of linear regions of a ReLU network (Serra et al. 2018, Thm 1).

    For ``d = n_0`` inputs and hidden widths ``n_1 .. n_L``, the number of regions is at most

        sum over (j_1, .., j_L) in J of prod_{l=1}^{L} C(n_l, j_l),
        J = {(j_1, .., j_L) : 0 <= j_l <= min(n_0, n_1 - j_1, .., n_{l-1} - j_{l-1}, n_l)}.

    Evaluated exactly by dynamic programming over the running dimension cap
    ``c_l = min(n_0, n_1 - j_1, .., n_l - j_l)``: O(L d^2) big-integer operations. Equal to
    :func:`zaslavsky` ``(n_1, d)`` for one layer (where it is tight), and to
    ``prod (n_l + 1)`` for ``d = 1`` when every ``n_l >= 2``.

    ReLU only: the cap is the dimension of the image of a region, which zeroed units
    reduce; leaky ReLU keeps it full, and maxout has :func:`serra_maxout_upper`.

    Reference: T. Serra, C. Tjandraatmadja, S. Ramalingam, "Bounding and Counting Linear
    Regions of Deep Neural Networks", ICML 2018, Theorem 1.
    """
    ws = _widths(widths)
    d = _int(d, "d", 1)
    ways = {d: 1}  # cap -> sum of prod C(n_l, j_l) over the prefixes reaching that cap
    for n in ws:
        nxt: dict[int, int] = {}
        for cap, w in ways.items():
            for j in range(min(cap, n) + 1):
                c = min(cap, n - j)
                nxt[c] = nxt.get(c, 0) + w * math.comb(n, j)
        ways = nxt
    return sum(ways.values())


def montufar_lower(widths: Sequence[int], d: int) -> int:
    """Lower bound on the maximal number of regions of a ReLU network (Montúfar et al. 2014).

    For ``d = n_0`` inputs and hidden widths ``n_l >= d``, some network of that shape has
    at least

        (prod_{l=1}^{L-1} floor(n_l / d)^d) * sum_{j=0}^{d} C(n_L, j)

    regions. Raises ``ValueError`` if some ``n_l < d``.

    Reference: G. Montúfar, R. Pascanu, K. Cho, Y. Bengio, "On the Number of Linear Regions
    of Deep Neural Networks", NeurIPS 2014, Theorem 4 (Corollary 5 is its asymptotic form
    for equal widths).
    """
    ws = _widths(widths)
    d = _int(d, "d", 1)
    if min(ws) < d:
        raise ValueError(f"montufar_lower needs every width n_l >= d = {d}, got {ws}; "
                         "the bound says nothing for narrower layers")
    return math.prod((n // d) ** d for n in ws[:-1]) * zaslavsky(ws[-1], d)


def serra_lower(widths: Sequence[int], d: int) -> int:
    """Lower bound on the maximal number of regions of a ReLU network (Serra et al. 2018).

    For ``d = n_0`` inputs and hidden widths ``n_l >= 3 d`` (every layer), some network of
    that shape has at least

        (prod_{l=1}^{L-1} (floor(n_l / d) + 1)^d) * sum_{j=0}^{d} C(n_L, j)

    regions: :func:`montufar_lower` with each factor ``floor(n_l/d)`` raised by one, from a
    1-D construction with one more piece per block. Raises ``ValueError`` if some
    ``n_l < 3 d``.

    Reference: T. Serra, C. Tjandraatmadja, S. Ramalingam, "Bounding and Counting Linear
    Regions of Deep Neural Networks", ICML 2018, its lower-bound theorem (cited to us as
    Theorem 9; numbering not checked against the paper here: the statement above is the
    one implemented).
    """
    ws = _widths(widths)
    d = _int(d, "d", 1)
    if min(ws) < 3 * d:
        raise ValueError(f"serra_lower needs every width n_l >= 3 d = {3 * d}, got {ws}; "
                         "use montufar_lower (needs n_l >= d) for narrower layers")
    return math.prod((n // d + 1) ** d for n in ws[:-1]) * zaslavsky(ws[-1], d)


def serra_maxout_upper(widths: Sequence[int], d: int, rank: int) -> int:
    """Upper bound on the number of linear regions of a rank-``k`` maxout network.

    For ``d = n_0`` inputs and ``n_l`` maxout units of rank ``k`` in layer ``l``:

        prod_{l=1}^{L} sum_{j=0}^{d_l} C(k (k - 1) / 2 * n_l, j),   d_l = min(n_0, .., n_l).

    Each unit's pieces meet on at most ``k(k-1)/2`` hyperplanes (one per pair of its
    affine functions), so one layer is bounded by Zaslavsky's count for
    ``k(k-1)/2 * n_l`` hyperplanes in dimension ``d_l``. For ``k = 2`` and one layer this is
    exactly :func:`zaslavsky` ``(n_1, d)`` (a rank-2 unit is one hyperplane).

    Reference: T. Serra, C. Tjandraatmadja, S. Ramalingam, "Bounding and Counting Linear
    Regions of Deep Neural Networks", ICML 2018, Theorem 10.
    """
    ws = _widths(widths)
    d = _int(d, "d", 1)
    k = _int(rank, "rank", 2)
    pairs = k * (k - 1) // 2
    out, dim = 1, d
    for n in ws:
        dim = min(dim, n)
        out *= sum(math.comb(pairs * n, j) for j in range(dim + 1))
    return out


# ------------------------------------------------------------- random networks on a line
def _kink_density(sw: float, sb: float, r2: float, perp2: float) -> float:
    """One neuron's kink density at a point x with |x|^2 = r2, |x_perp|^2 = perp2."""
    s2 = sb * sb + sw * sw * r2
    return sw * math.sqrt(sb * sb + sw * sw * perp2) / (math.pi * s2)


def expected_kinks_per_length(n: int, d: int, *, weight_std: float, bias_std: float,
                              at: Any = None, direction: Any = None) -> float:
    """Expected kinks per unit length of a random one-layer ReLU net, along a line, at a point.

    The net has ``n`` neurons ``z_j(x) = w_j . x + b_j`` with independent
    ``w_j ~ N(0, weight_std^2 I_d)`` (``weight_std`` is the std of one entry: He
    initialisation is ``sqrt(2 / d)``) and ``b_j ~ N(0, bias_std^2)``. Along the line
    ``x + t u`` (``u = direction / |direction|``) neuron ``j`` kinks where ``z_j = 0``; by the
    Kac-Rice formula its expected number of kinks per unit of ``t`` at ``x`` is
    ``E_w[|w . u| p_b(-w . x)]``. Writing ``S^2 = bias_std^2 + weight_std^2 |x|^2`` and
    ``x_perp = x - (x . u) u``, the Gaussian integral is exactly

        n * weight_std * sqrt(bias_std^2 + weight_std^2 |x_perp|^2) / (pi * S^2),

    which at ``x = 0`` (``at=None``, the default; ``direction`` is then irrelevant) is
    ``n * weight_std / (pi * bias_std)``. Integrating it over a segment gives
    :func:`expected_kinks_on_segment`; over the whole line it gives ``n`` (every hyperplane
    crosses a line once). Two neurons kink at the same point with probability zero, so the
    expected number of regions on a segment is one plus the expected number of kinks.

    This is the one-layer, exact case of the formula of B. Hanin, D. Rolnick, "Complexity
    of Linear Regions in Deep Networks", ICML 2019 (see :func:`hanin_rolnick_density`).
    """
    n = _int(n, "n", 0)
    d = _int(d, "d", 1)
    sw = _positive(weight_std, "weight_std")
    sb = _positive(bias_std, "bias_std")
    if at is None:
        return n * sw / (math.pi * sb)
    x = _point(at, d, "at")
    r2 = float(x @ x)
    if direction is None:
        if r2 == 0.0:
            return n * sw / (math.pi * sb)
        raise ValueError("the density at a point other than the origin depends on the line's "
                         "direction; pass direction= (a vector of d coordinates)")
    u = _point(direction, d, "direction")
    norm = float(np.linalg.norm(u))
    if norm == 0.0:
        raise ValueError("direction is the zero vector; pass the line's direction")
    u = u / norm
    perp = x - (x @ u) * u
    return n * _kink_density(sw, sb, r2, float(perp @ perp))


def expected_kinks_on_segment(n: int, a: Any, b: Any, *, weight_std: float,
                              bias_std: float) -> float:
    """Expected number of kinks of a random one-layer ReLU net on the segment ``[a, b]``.

    Same network as :func:`expected_kinks_per_length` (``d = len(a)``). With ``u`` the unit
    direction from ``a`` to ``b``, ``p = a - (a . u) u`` the foot of the perpendicular from
    the origin, ``K = bias_std^2 + weight_std^2 |p|^2`` and ``t_a = a . u``,
    ``t_b = b . u``, integrating the density along the segment gives exactly

        (n / pi) * (arctan(weight_std t_b / sqrt(K)) - arctan(weight_std t_a / sqrt(K))).

    (Neuron ``j``'s kink is at ``t = -(w_j . p + b_j) / (w_j . u)``, a Cauchy variable.) The
    expected number of regions of the net on the segment is one more than this.
    """
    n = _int(n, "n", 0)
    return n / math.pi * _segment_angle(a, b, weight_std, bias_std)


def _segment_angle(a: Any, b: Any, weight_std: Any, bias_std: Any) -> float:
    """``arctan(weight_std t_b / kappa) - arctan(weight_std t_a / kappa)`` for the segment
    ``[a, b]``, ``kappa^2 = bias_std^2 + weight_std^2 |p|^2`` (``p`` the foot of the
    perpendicular from the origin): the Cauchy mass of a random unit's kinks on it, times pi."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    d = a.size
    if d == 0:
        raise ValueError("a is empty; pass a point with d >= 1 coordinates")
    a = _point(a, d, "a")
    b = _point(b, d, "b")
    sw = _positive(weight_std, "weight_std")
    sb = _positive(bias_std, "bias_std")
    length = float(np.linalg.norm(b - a))
    if length == 0.0:
        raise ValueError("a and b are the same point; a segment needs two distinct end points")
    u = (b - a) / length
    ta = float(a @ u)
    p = a - ta * u
    kappa = math.sqrt(sb * sb + sw * sw * float(p @ p))
    x, y = sw * (ta + length) / kappa, sw * ta / kappa
    # atan(x) - atan(y) without the cancellation far from the origin (both near +-pi/2)
    return math.atan2(sw * length / kappa, 1.0 + x * y)


def hanin_rolnick_density(widths: Sequence[int], d: int, *, bias_std: float,
                          weight_gain: float = 2.0) -> float:
    """First-order prediction of region boundaries crossed per unit length of a line.

    Hanin & Rolnick show that for a ReLU net with independent biases, the expected number
    of region boundaries a line crosses per unit length is
    ``sum_z E[|grad z(x) . u| rho_{b_z}(z(x) - b_z)]`` (one term per hidden neuron ``z``),
    hence at most of order ``C_grad * C_bias * (number of neurons)`` where ``C_bias``
    bounds the bias densities and ``C_grad`` the gradients' sizes. This function evaluates
    that estimate for the standard initialisation: weights of layer ``l`` drawn
    ``N(0, weight_gain / n_{l-1})`` (``n_0 = d``; ``weight_gain = 2`` is He's), biases
    ``N(0, bias_std^2)``. It returns

        sum_{l=1}^{L} n_l * C_grad_l * C_bias,
        C_bias   = 1 / (sqrt(2 pi) * bias_std)               (the largest bias density),
        C_grad_l = sqrt(2 / pi) * sqrt(m_l),  m_l = (weight_gain / d) * (weight_gain / 2)^(l-1),

    i.e. ``sum_l n_l sqrt(m_l) / (pi * bias_std)``. ``m_l = E[(grad z . u)^2]`` is exact (half
    the neurons of a layer are active, symmetrically in the gradient); ``C_grad_l`` treats
    ``grad z . u`` as Gaussian (by Jensen an over-estimate of ``E|grad z . u|``) and
    ``C_bias`` uses the largest bias density. The result is thus an upper-estimate of the
    order of magnitude, not an exact expectation; it is exact for one layer at the origin
    (where it equals :func:`expected_kinks_per_length` with
    ``weight_std = sqrt(weight_gain / d)``). The output layer adds no kinks and is not
    counted.

    Reference: B. Hanin, D. Rolnick, "Complexity of Linear Regions in Deep Networks",
    ICML 2019 (arXiv:1901.09021): the main theorem's ``k = 1`` case and its corollary on
    the number of regions along a line growing linearly in the number of neurons.
    """
    ws = _widths(widths)
    d = _int(d, "d", 1)
    sb = _positive(bias_std, "bias_std")
    gain = _positive(weight_gain, "weight_gain")
    total = sum(n * math.sqrt(gain / d * (gain / 2) ** l) for l, n in enumerate(ws))
    return total / (math.pi * sb)


# ------------------------------------------------------------------ random maxout networks
def _maxout_pair_factor(k: int) -> float:
    """``C(k, 2) * E[Phi(Y)^(k-2)]``, ``Y ~ N(0, 1/2)``: expected kinks of one unit on a line.

    ``E[g(Y)] = pi^-1/2 int exp(-y^2) Phi(y)^(k-2) dy`` by the trapezoidal rule with step
    1/256 on ``[-9, 9]`` (the tails beyond hold less than ``exp(-81)``). The integrand is
    entire and its peak, at ``y ~ sqrt(log k)``, keeps a width of order ``1 / sqrt(log k)``
    (0.12, i.e. 30 steps, at ``k = 10^9``), so the rule converges geometrically.
    ``Phi(y)^(k-2)`` is evaluated as ``exp((k-2) log Phi(y))``, with ``log Phi`` from
    ``erfc`` (``log1p`` for ``y > 0``) so that large ``k`` does not amplify rounding.
    Relative error against adaptive quadrature (``scipy.integrate.quad`` split at the
    peak): below 3e-15 for ranks 3 to 10^4, 1e-14 at 10^9 (checked for ranks up to 10^6 in
    ``tests/test_bounds_maxout_expected.py``). Gauss-Hermite quadrature with fixed nodes,
    used before, lost accuracy as the peak moved out (7e-13 at ``k = 50``, 3e-6 at 1000).
    """
    if k == 2:
        return 1.0
    y = np.linspace(-9.0, 9.0, 18 * 256 + 1)
    log_phi = np.array([math.log1p(-0.5 * math.erfc(v / math.sqrt(2.0))) if v > 0 else
                        math.log(0.5 * math.erfc(-v / math.sqrt(2.0))) for v in y])
    f = np.exp((k - 2) * log_phi - y * y)
    integral = (float(f.sum()) - 0.5 * float(f[0] + f[-1])) * (y[1] - y[0])
    return math.comb(k, 2) * integral / math.sqrt(math.pi)


def maxout_expected_kinks_on_segment(n: int, a: Any, b: Any, *, rank: int, weight_std: float,
                                     bias_std: float) -> float:
    """Expected number of kinks of a random one-layer maxout network on the segment ``[a, b]``.

    The layer has ``n`` maxout units of rank ``K = rank`` on ``d = len(a)`` inputs; unit
    ``i`` computes ``max_k (w_ik . x + b_ik)`` with every weight entry ``N(0, weight_std^2)``
    and every bias ``N(0, bias_std^2)``, all independent (the maxout-He initialisation of
    Tseran & Montúfar draws weights and biases this way). Along the line ``p + t u``
    (``u`` the unit direction, ``p`` the foot of the perpendicular from the origin) the
    candidates are ``K`` random lines in ``t`` with independent intercepts
    ``N(0, kappa^2)``, ``kappa^2 = bias_std^2 + weight_std^2 |p|^2``, and slopes
    ``N(0, weight_std^2)``; the unit kinks where two of them tie at the top. The Kac-Rice
    formula, summed over the ``C(K, 2)`` pairs, gives the exact density

        n C(K, 2) E[Phi(Y)^(K-2)] / pi * weight_std kappa / (kappa^2 + weight_std^2 t^2),
        Y ~ N(0, 1/2),

    (``Phi(Y)^(K-2)``: the other ``K - 2`` candidates lie below the tie), and over the
    segment (``t_a = a . u``, ``t_b = b . u``)

        n C(K, 2) E[Phi(Y)^(K-2)] / pi * (arctan(weight_std t_b / kappa) - arctan(weight_std t_a / kappa)).

    ``C(K, 2) E[Phi(Y)^(K-2)]`` is the expected number of kinks of one unit on the whole
    line: 1 for ``K = 2`` (where this equals :func:`expected_kinks_on_segment` of ``n``
    ReLU-like hyperplanes with both stds times ``sqrt 2``), 3/2 for ``K = 3``,
    ``6 (1/4 + arcsin(1/3) / (2 pi))`` for ``K = 4``, at most ``K - 1``. Ties of two units
    have probability zero, so the expected number of regions on the segment is one more.

    This is the exact one-layer case of the expected-complexity analysis of H. Tseran,
    G. Montúfar, "On the Expected Complexity of Maxout Networks", NeurIPS 2021 (whose
    Kac-Rice argument bounds deep networks; see :func:`tseran_montufar_upper`); the
    computation is ours.
    """
    n = _int(n, "n", 0)
    k = _int(rank, "rank", 2)
    return n * _maxout_pair_factor(k) / math.pi * _segment_angle(a, b, weight_std, bias_std)


def tseran_montufar_upper(n_units: int, d: int, rank: int, *, c_grad: float, c_bias: float,
                          volume: float = 1.0) -> float:
    """Tseran & Montúfar's upper bound on the expected number of regions of a maxout net in a cube.

    For a fully connected maxout network with ``d = n_0`` inputs and ``N = n_units`` rank-``K``
    units in total (any depth), with parameters drawn so that the weights have a density,
    every bias has a conditional density bounded by ``c_bias`` (a Gaussian bias of std
    ``s``: ``1 / (sqrt(2 pi) s)``) and the gradients of the pre-activation features
    ``zeta_{z,k}`` are bounded in expectation by ``c_grad``, the expected number of
    activation regions in a cube ``C`` of volume ``vol(C)`` is, when ``N >= n_0``, at most

        (T K N)^{n_0} C(K n_0, 2 n_0) vol(C) / n_0!,        T = 2^5 c_grad c_bias.

    It is polynomial in ``N`` and ``K`` and does not depend on the depth: at initialisation
    the expected complexity is far below the maximum (:func:`serra_maxout_upper`), which
    grows exponentially with depth. The constants are loose (``2^5 K``); the growth
    order is :func:`tseran_montufar_order`.

    Reference: H. Tseran, G. Montúfar, "On the Expected Complexity of Maxout Networks",
    NeurIPS 2021 (arXiv:2107.00379), the upper bound on the expected number of activation
    regions. The expression above is the one the authors' reference implementation
    evaluates (``regions_formula`` in github.com/hanna-tseran/maxout_complexity); its
    theorem number in the paper was not checked here. ``c_grad`` and ``c_bias`` are
    assumptions of the theorem, not computed by it: estimate them for the distribution at
    hand (the authors take ``c_bias`` from the bias std and ``c_grad`` as the largest mean
    gradient norm over a grid of the cube).
    """
    N = _int(n_units, "n_units", 1)
    d = _int(d, "d", 1)
    k = _int(rank, "rank", 2)
    if N < d:
        raise ValueError(f"the bound needs n_units >= d (N = {N}, d = {d})")
    t = 32 * Fraction(_positive(c_grad, "c_grad")) * Fraction(_positive(c_bias, "c_bias"))
    vol = Fraction(_positive(volume, "volume"))
    return _to_float((t * k * N) ** d * math.comb(k * d, 2 * d) * vol / math.factorial(d),
                     "tseran_montufar_upper")


def tseran_montufar_order(n_units: int, d: int, rank: int | None = None) -> float:
    """Order of growth of the expected number of regions of a random maxout network.

    ``(K N)^{n_0} C(K n_0, 2 n_0) / n_0!`` with ``rank = K``, and ``N^{n_0} / n_0!`` without:
    :func:`tseran_montufar_upper` with its constants (``T``, the volume) dropped, the two
    growth predictions the authors print next to their counts (``regions_predicted_growth_with_K``
    and ``regions_predicted_growth`` in their reference implementation). They are orders
    of magnitude, not bounds: measured counts of shallow nets in a cube of side 6 are of
    the order of ``N^{n_0} / n_0!``.

    Reference: H. Tseran, G. Montúfar, "On the Expected Complexity of Maxout Networks",
    NeurIPS 2021.
    """
    N = _int(n_units, "n_units", 1)
    d = _int(d, "d", 1)
    if rank is None:
        return _to_float(Fraction(N ** d, math.factorial(d)), "tseran_montufar_order")
    k = _int(rank, "rank", 2)
    return _to_float(Fraction((k * N) ** d * math.comb(k * d, 2 * d), math.factorial(d)),
                     "tseran_montufar_order")


def _to_float(value: Fraction, name: str) -> float:
    """An exactly computed bound as the nearest float; one beyond float64 is refused
    (an ``inf`` would read as no bound at all)."""
    try:
        return float(value)
    except OverflowError:
        digits = len(str(value.numerator)) - len(str(value.denominator))
        raise OverflowError(f"{name}: the value is about 10^{digits}, beyond float64 "
                            "(~1.8e308); compare logarithms of smaller inputs instead") from None
