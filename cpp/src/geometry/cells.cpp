#include "regionlab/geometry/cells.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../vector_clones.hpp"

namespace regionlab::geometry {

namespace {

// The side of one point: the line's value there, against a tolerance scaled by the size
// of the terms that make it up (so it is invariant under scaling the line, and a point far
// from the origin gets the looser test its rounding calls for).
struct PointSide {
  double value;
  bool positive, negative;  // strictly, beyond the tolerance
};

PointSide side_at(double a, double b, double c, double x, double y, double box_size) {
  const double ax = a * x, by = b * y, f = ax + by + c;
  const double floor = kCoordinateFloor * box_size * (std::abs(a) + std::abs(b));
  const double tol = kOnLineTolerance * (std::abs(ax) + std::abs(by) + std::abs(c) + floor);
  return PointSide{f, f > tol, f < -tol};
}

// A line cuts a cell when some corner is strictly on each side; a line that vanishes on
// the whole cell (or only touches it) leaves it on the negative side, like the `h > 0` bit.
Side side_of(bool any_positive, bool any_negative) {
  if (any_positive && any_negative) return Side::cut;
  return any_positive ? Side::positive : Side::negative;
}

// classify_all() for a cell with corners (x[v], y[v]), v < n_corners: corners outer, lines
// inner, so the inner loop runs over contiguous coefficients and vectorises (compiled for
// AVX-512, AVX2 and baseline x86-64, picked at load time, where the compiler can).
REGIONLAB_VECTOR_CLONES
bool classify_corners(const double* x, const double* y, int64_t n_corners, LineBlock lines,
                      Side* side) {
  const int64_t n = lines.n;
  const double* A = lines.coeffs;
  const double* B = A + n;
  const double* C = A + (y ? 2 : 1) * n;
  // Line j has a corner strictly on its positive side iff max_v (f - tol) > 0, and one on
  // its negative side iff min_v (f + tol) < 0: pure min/max, which vectorises.
  std::vector<double> fixed(static_cast<size_t>(n)), above(static_cast<size_t>(n), -HUGE_VAL),
      below(static_cast<size_t>(n), HUGE_VAL), probe(static_cast<size_t>(n), 0.0);
  for (int64_t j = 0; j < n; ++j)
    fixed[size_t(j)] = kOnLineTolerance * (std::abs(C[j]) + kCoordinateFloor * lines.box_size *
                                                                (std::abs(A[j]) + (y ? std::abs(B[j]) : 0.0)));
  double* hi = above.data();
  double* lo = below.data();
  double* nonfinite = probe.data();  // f * 0 is 0 for every finite f, NaN otherwise
  const double* fx = fixed.data();
  for (int64_t v = 0; v < n_corners; ++v) {
    const double xv = x[v], yv = y ? y[v] : 0.0;
    for (int64_t j = 0; j < n; ++j) {
      const double ax = A[j] * xv, by = B[j] * yv, f = ax + by + C[j];
      const double tol = kOnLineTolerance * (std::abs(ax) + std::abs(by)) + fx[j];
      hi[j] = std::max(hi[j], f - tol);
      lo[j] = std::min(lo[j], f + tol);
      nonfinite[j] += f * 0.0;
    }
  }
  bool finite = true;
  for (int64_t j = 0; j < n; ++j) {
    side[j] = side_of(hi[j] > 0, lo[j] < 0);
    finite &= nonfinite[j] == 0.0;
  }
  return finite;
}

}  // namespace

bool IntervalCell::classify_all(LineBlock lines, Side* side) const {
  const double x[2] = {lo, hi};
  return classify_corners(x, nullptr, 2, lines, side);
}

bool PolygonCell::classify_all(LineBlock lines, Side* side) const {
  const int64_t n = size();
  std::vector<double> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  for (int64_t v = 0; v < n; ++v) x[size_t(v)] = xy[size_t(2 * v)], y[size_t(v)] = xy[size_t(2 * v + 1)];
  return classify_corners(x.data(), y.data(), n, lines, side);
}

Side IntervalCell::classify(LineCoeffs line) const {
  const PointSide l = side_at(line[0], 0, line[1], lo, 0, line.box_size);
  const PointSide h = side_at(line[0], 0, line[1], hi, 0, line.box_size);
  return side_of(l.positive || h.positive, l.negative || h.negative);
}

void IntervalCell::split(LineCoeffs line, IntervalCell& negative, IntervalCell& positive) const {
  const double a = line[0], c = line[1];
  const double root = std::clamp(-c / a, lo, hi);
  if (a > 0) {
    negative = {lo, root};
    positive = {root, hi};
  } else {
    positive = {lo, root};
    negative = {root, hi};
  }
}

Side PolygonCell::classify(LineCoeffs line) const {
  // side_at() for every corner, with the per-line part of the tolerance hoisted, stopping
  // as soon as both sides are seen (the hot loop of the whole partition).
  const double a = line[0], b = line[1], c = line[2];
  const double fixed = kOnLineTolerance *
                       (std::abs(c) + kCoordinateFloor * line.box_size * (std::abs(a) + std::abs(b)));
  bool any_positive = false, any_negative = false;
  for (size_t i = 0; i < xy.size(); i += 2) {
    const double ax = a * xy[i], by = b * xy[i + 1], f = ax + by + c;
    const double tol = kOnLineTolerance * (std::abs(ax) + std::abs(by)) + fixed;
    any_positive |= f > tol;
    any_negative |= f < -tol;
    if (any_positive && any_negative) return Side::cut;
  }
  return side_of(any_positive, any_negative);
}

void PolygonCell::split(LineCoeffs line, PolygonCell& negative, PolygonCell& positive) const {
  const double a = line[0], b = line[1], c = line[2];
  const int64_t n = size();
  negative.xy.clear();
  positive.xy.clear();
  negative.xy.reserve(xy.size() + 4);
  positive.xy.reserve(xy.size() + 4);
  auto side = [&](int64_t i) { return side_at(a, b, c, xy[2 * i], xy[2 * i + 1], line.box_size); };
  // Walk the boundary once: strictly signed corners go to their side, corners on the line
  // to both, and each edge crossing the line adds the crossing point to both.
  PointSide s = side(0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = (i + 1) % n;
    const PointSide t = side(j);
    const double x = xy[2 * i], y = xy[2 * i + 1];
    if (!s.negative) positive.xy.insert(positive.xy.end(), {x, y});
    if (!s.positive) negative.xy.insert(negative.xy.end(), {x, y});
    if ((s.positive && t.negative) || (s.negative && t.positive)) {
      const double w = s.value / (s.value - t.value);
      const double px = x + w * (xy[2 * j] - x), py = y + w * (xy[2 * j + 1] - y);
      positive.xy.insert(positive.xy.end(), {px, py});
      negative.xy.insert(negative.xy.end(), {px, py});
    }
    s = t;
  }
}

double PolygonCell::measure() const {
  // Shoelace sum relative to the first corner: no cancellation for small cells far out.
  const int64_t n = size();
  const double x0 = xy[0], y0 = xy[1];
  double twice = 0;
  for (int64_t i = 1; i + 1 < n; ++i)
    twice += (xy[2 * i] - x0) * (xy[2 * i + 3] - y0) - (xy[2 * i + 2] - x0) * (xy[2 * i + 1] - y0);
  return 0.5 * twice;
}

}  // namespace regionlab::geometry
