#include "regionlab/geometry/cells.hpp"

#include <algorithm>
#include <cmath>

namespace regionlab::geometry {

namespace {

// Value of the line at each vertex, and the tolerance below which a value counts as zero:
// relative to the size of the terms, so it is invariant under scaling the line.
struct VertexValues {
  double min = 0, max = 0, tol = 0;
};

Side side_of(const VertexValues& v) {
  if (v.max <= v.tol) return Side::negative;  // also a line that vanishes on the whole cell
  if (v.min >= -v.tol) return Side::positive;
  return Side::cut;
}

}  // namespace

Side IntervalCell::classify(LineCoeffs line) const {
  const double a = line[0], c = line[1];
  const double f0 = a * lo + c, f1 = a * hi + c;
  VertexValues v{std::min(f0, f1), std::max(f0, f1),
                 kOnLineTolerance * (std::abs(a) * std::max(std::abs(lo), std::abs(hi)) +
                                     std::abs(c))};
  return side_of(v);
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
  const double a = line[0], b = line[1], c = line[2];
  VertexValues v{HUGE_VAL, -HUGE_VAL, 0};
  double sx = 0, sy = 0;
  for (size_t i = 0; i < xy.size(); i += 2) {
    const double f = a * xy[i] + b * xy[i + 1] + c;
    v.min = std::min(v.min, f);
    v.max = std::max(v.max, f);
    sx = std::max(sx, std::abs(xy[i]));
    sy = std::max(sy, std::abs(xy[i + 1]));
  }
  v.tol = kOnLineTolerance * (std::abs(a) * sx + std::abs(b) * sy + std::abs(c));
  return side_of(v);
}

void PolygonCell::split(LineCoeffs line, PolygonCell& negative, PolygonCell& positive) const {
  const double a = line[0], b = line[1], c = line[2];
  const int64_t n = size();
  double sx = 0, sy = 0;
  for (size_t i = 0; i < xy.size(); i += 2) {
    sx = std::max(sx, std::abs(xy[i]));
    sy = std::max(sy, std::abs(xy[i + 1]));
  }
  const double tol = kOnLineTolerance * (std::abs(a) * sx + std::abs(b) * sy + std::abs(c));
  negative.xy.clear();
  positive.xy.clear();
  negative.xy.reserve(xy.size() + 4);
  positive.xy.reserve(xy.size() + 4);
  auto value = [&](int64_t i) { return a * xy[2 * i] + b * xy[2 * i + 1] + c; };
  // Walk the boundary once: strictly signed vertices go to their side, vertices on the line
  // to both, and each edge crossing the line adds the crossing point to both.
  double f = value(0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = (i + 1) % n;
    const double fj = value(j);
    const double x = xy[2 * i], y = xy[2 * i + 1];
    if (f > tol) {
      positive.xy.insert(positive.xy.end(), {x, y});
    } else if (f < -tol) {
      negative.xy.insert(negative.xy.end(), {x, y});
    } else {
      positive.xy.insert(positive.xy.end(), {x, y});
      negative.xy.insert(negative.xy.end(), {x, y});
    }
    if ((f > tol && fj < -tol) || (f < -tol && fj > tol)) {
      const double w = f / (f - fj);
      const double px = x + w * (xy[2 * j] - x), py = y + w * (xy[2 * j + 1] - y);
      positive.xy.insert(positive.xy.end(), {px, py});
      negative.xy.insert(negative.xy.end(), {px, py});
    }
    f = fj;
  }
}

double PolygonCell::measure() const {
  const int64_t n = size();
  double twice = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = (i + 1) % n;
    twice += xy[2 * i] * xy[2 * j + 1] - xy[2 * j] * xy[2 * i + 1];
  }
  return 0.5 * twice;
}

void PolygonCell::interior_point(double* p) const {
  const int64_t n = size();
  p[0] = p[1] = 0;
  for (int64_t i = 0; i < n; ++i) {
    p[0] += xy[2 * i];
    p[1] += xy[2 * i + 1];
  }
  p[0] /= double(n);
  p[1] /= double(n);
}

}  // namespace regionlab::geometry
