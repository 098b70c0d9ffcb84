#include "regionlab/geometry/boundary.hpp"

#include <algorithm>
#include <cmath>

#include "regionlab/geometry/cells.hpp"

namespace regionlab::geometry {

namespace {

// The class scores on one region as affine functions of the slice coordinates:
// score k = coef[k][0] x (+ coef[k][1] y) + coef[k][dim]. One output becomes the two
// scores (0, logit), so both cases are an argmax.
std::vector<double> class_scores(const SlicePartition& p, int64_t r, int64_t& n_classes) {
  const int64_t m = p.dim + 1;
  const double* map = &p.maps[size_t(r * p.out_dim * m)];
  if (p.out_dim == 1) {
    n_classes = 2;
    std::vector<double> s(size_t(2 * m), 0.0);
    std::copy_n(map, m, s.begin() + m);
    return s;
  }
  n_classes = p.out_dim;
  return std::vector<double>(map, map + p.out_dim * m);
}

// A convex polygon whose edge i (vertex i to i+1) remembers the line it came from:
// -1 for the region's own boundary, j for "score k = score j".
struct LabelledPolygon {
  std::vector<double> xy;
  std::vector<int32_t> label;
};

// Keeps the part where h = a x + b y + c >= 0 (Sutherland-Hodgman on one convex polygon).
void clip(LabelledPolygon& poly, double a, double b, double c, double tol, int32_t new_label) {
  const size_t n = poly.label.size();
  if (n == 0) return;
  LabelledPolygon out;
  auto h = [&](size_t i) { return a * poly.xy[2 * i] + b * poly.xy[2 * i + 1] + c; };
  for (size_t i = 0; i < n; ++i) {
    const size_t j = (i + 1) % n;
    const double hi = h(i), hj = h(j);
    const bool in_i = hi >= -tol, in_j = hj >= -tol;
    auto cross = [&] {
      const double w = hi / (hi - hj);
      return std::pair<double, double>{poly.xy[2 * i] + w * (poly.xy[2 * j] - poly.xy[2 * i]),
                                       poly.xy[2 * i + 1] + w * (poly.xy[2 * j + 1] - poly.xy[2 * i + 1])};
    };
    if (in_i) {
      out.xy.insert(out.xy.end(), {poly.xy[2 * i], poly.xy[2 * i + 1]});
      if (in_j) {
        out.label.push_back(poly.label[i]);
      } else {
        const auto [x, y] = cross();
        out.label.push_back(poly.label[i]);
        out.xy.insert(out.xy.end(), {x, y});
        out.label.push_back(new_label);
      }
    } else if (in_j) {
      const auto [x, y] = cross();
      out.xy.insert(out.xy.end(), {x, y});
      out.label.push_back(poly.label[i]);
    }
  }
  if (out.label.size() < 3) out = LabelledPolygon{};
  poly = std::move(out);
}

}  // namespace

BoundarySegments decision_boundary(const SlicePartition& plane) {
  BoundarySegments out;
  const int64_t n = plane.n_regions();
  for (int64_t r = 0; r < n; ++r) {
    int64_t K = 0;
    const std::vector<double> s = class_scores(plane, r, K);
    const int64_t begin = plane.offsets[size_t(r)], end = plane.offsets[size_t(r + 1)];
    double extent = 0;
    for (int64_t v = begin; v < end; ++v)
      extent = std::max({extent, std::abs(plane.cells[size_t(2 * v)]), std::abs(plane.cells[size_t(2 * v + 1)])});
    const double min_length = 1e-12 * std::max(extent, 1e-300);
    for (int64_t k = 0; k < K; ++k) {
      LabelledPolygon cell;
      cell.xy.assign(plane.cells.begin() + 2 * begin, plane.cells.begin() + 2 * end);
      cell.label.assign(size_t(end - begin), -1);
      for (int64_t j = 0; j < K && !cell.label.empty(); ++j) {
        if (j == k) continue;
        const double a = s[size_t(3 * k)] - s[size_t(3 * j)], b = s[size_t(3 * k + 1)] - s[size_t(3 * j + 1)],
                     c = s[size_t(3 * k + 2)] - s[size_t(3 * j + 2)];
        const double tol = kOnLineTolerance * (std::abs(a) * extent + std::abs(b) * extent + std::abs(c));
        clip(cell, a, b, c, tol, int32_t(j));
      }
      // Each boundary edge appears in both classes' pieces: keep it from the lower class.
      const size_t m = cell.label.size();
      for (size_t e = 0; e < m; ++e) {
        if (cell.label[e] <= k) continue;
        const size_t f = (e + 1) % m;
        const double x0 = cell.xy[2 * e], y0 = cell.xy[2 * e + 1], x1 = cell.xy[2 * f], y1 = cell.xy[2 * f + 1];
        if (std::hypot(x1 - x0, y1 - y0) <= min_length) continue;
        out.xy.insert(out.xy.end(), {x0, y0, x1, y1});
        out.region.push_back(r);
        out.classes.insert(out.classes.end(), {int32_t(k), cell.label[e]});
      }
    }
  }
  return out;
}

ClassChanges class_changes(const SlicePartition& segment) {
  ClassChanges out;
  int32_t current = -1;
  const int64_t n = segment.n_regions();
  for (int64_t r = 0; r < n; ++r) {
    int64_t K = 0;
    const std::vector<double> s = class_scores(segment, r, K);
    const double lo = segment.cells[size_t(2 * r)], hi = segment.cells[size_t(2 * r + 1)];
    auto score = [&](int64_t k, double t) { return s[size_t(2 * k)] * t + s[size_t(2 * k + 1)]; };
    // The winner just after t: the best score, ties going to the steeper line.
    auto winner_after = [&](double t) {
      int64_t best = 0;
      for (int64_t k = 1; k < K; ++k) {
        const double d = score(k, t) - score(best, t);
        if (d > 0 || (d == 0 && s[size_t(2 * k)] > s[size_t(2 * best)])) best = k;
      }
      return best;
    };
    double t = lo;
    int64_t k = winner_after(lo);
    for (;;) {
      if (current >= 0 && k != current) {
        out.t.push_back(t);
        out.before.push_back(current);
        out.after.push_back(int32_t(k));
      }
      current = int32_t(k);
      // The next line to overtake k inside (t, hi): the earliest crossing of a steeper one.
      double next_t = hi;
      int64_t next_k = -1;
      for (int64_t j = 0; j < K; ++j) {
        const double slope_gap = s[size_t(2 * j)] - s[size_t(2 * k)];
        if (j == k || slope_gap <= 0) continue;
        const double cross = (s[size_t(2 * k + 1)] - s[size_t(2 * j + 1)]) / slope_gap;
        if (cross > t && (cross < next_t || (cross == next_t && next_k >= 0 &&
                                             s[size_t(2 * j)] > s[size_t(2 * next_k)]))) {
          next_t = cross;
          next_k = j;
        }
      }
      if (next_k < 0) break;
      t = next_t;
      k = next_k;
    }
  }
  return out;
}

}  // namespace regionlab::geometry
