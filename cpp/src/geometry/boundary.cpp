#include "class_ties.hpp"
#include "regionlab/geometry/boundary.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

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

// Keeps the part where h = a x + b y + c >= 0 (Sutherland-Hodgman on one convex polygon);
// corners within rounding of the line count as on it.
void clip(LabelledPolygon& poly, double a, double b, double c, double box_size, int32_t new_label) {
  const size_t n = poly.label.size();
  if (n == 0) return;
  LabelledPolygon out;
  auto h = [&](size_t i) { return a * poly.xy[2 * i] + b * poly.xy[2 * i + 1] + c; };
  auto inside = [&](size_t i, double hi) {
    const double floor = kCoordinateFloor * box_size * (std::abs(a) + std::abs(b));
    const double tol = kOnLineTolerance * (std::abs(a * poly.xy[2 * i]) + std::abs(b * poly.xy[2 * i + 1]) +
                                           std::abs(c) + floor);
    return hi >= -tol;
  };
  for (size_t i = 0; i < n; ++i) {
    const size_t j = (i + 1) % n;
    const double hi = h(i), hj = h(j);
    const bool in_i = inside(i, hi), in_j = inside(j, hj);
    auto cross = [&] {
      const double w = hi / (hi - hj);
      return std::pair<double, double>{poly.xy[2 * i] + w * (poly.xy[2 * j] - poly.xy[2 * i]),
                                       poly.xy[2 * i + 1] + w * (poly.xy[2 * j + 1] - poly.xy[2 * i + 1])};
    };
    if (in_i) {
      out.xy.insert(out.xy.end(), {poly.xy[2 * i], poly.xy[2 * i + 1]});
      out.label.push_back(poly.label[i]);
      if (!in_j) {
        const auto [x, y] = cross();
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

double area(const double* xy, size_t n) {
  double twice = 0;
  for (size_t i = 1; i + 1 < n; ++i)
    twice += (xy[2 * i] - xy[0]) * (xy[2 * i + 3] - xy[1]) - (xy[2 * i + 2] - xy[0]) * (xy[2 * i + 1] - xy[1]);
  return 0.5 * twice;
}

// The classes that can win somewhere in the region. A class beaten by one other class at
// every corner is beaten on the whole (convex) region; none is left when one class wins
// at every corner, since it then wins everywhere and there is no boundary inside.
std::vector<int32_t> contenders(const std::vector<double>& s, int64_t K, const double* xy, size_t n,
                                double box_size) {
  std::vector<double> score(n * size_t(K));
  for (size_t v = 0; v < n; ++v)
    for (int64_t k = 0; k < K; ++k)
      score[v * size_t(K) + size_t(k)] = s[size_t(3 * k)] * xy[2 * v] + s[size_t(3 * k + 1)] * xy[2 * v + 1] + s[size_t(3 * k + 2)];
  // Whether class j beats class k at corner v by more than rounding (judged like a corner on
  // the line where their scores are equal).
  auto clearly_beats = [&](int64_t j, int64_t k, size_t v) {
    const double a = s[size_t(3 * j)] - s[size_t(3 * k)], b = s[size_t(3 * j + 1)] - s[size_t(3 * k + 1)];
    const double c = s[size_t(3 * j + 2)] - s[size_t(3 * k + 2)];
    const double x = xy[2 * v], y = xy[2 * v + 1];
    const double tol = kOnLineTolerance * (std::abs(a * x) + std::abs(b * y) + std::abs(c) +
                                           kCoordinateFloor * box_size * (std::abs(a) + std::abs(b)));
    return score[v * size_t(K) + size_t(j)] - score[v * size_t(K) + size_t(k)] > tol;
  };
  // The class that wins clearly at corner v, or -1 at a (near) tie.
  auto winner = [&](size_t v) -> int64_t {
    const double* row = &score[v * size_t(K)];
    const int64_t best = std::max_element(row, row + K) - row;
    for (int64_t k = 0; k < K; ++k)
      if (k != best && !clearly_beats(best, k, v)) return -1;
    return best;
  };
  const int64_t first = winner(0);
  bool same_winner = first >= 0;
  for (size_t v = 1; v < n && same_winner; ++v) same_winner = winner(v) == first;
  std::vector<int32_t> out;
  if (same_winner) return out;
  for (int64_t k = 0; k < K; ++k) {
    bool beaten = false;
    for (int64_t j = 0; j < K && !beaten; ++j) {
      if (j == k) continue;
      beaten = true;
      for (size_t v = 0; v < n && beaten; ++v) beaten = clearly_beats(j, k, v);
    }
    if (!beaten) out.push_back(int32_t(k));
  }
  return out;
}

// A class that only ties along a segment of the region (a piece of no area): the segment,
// with the class winning just inside, for the caller to compare with the other side.
void add_edge_candidate(const LabelledPolygon& piece, int64_t r, int32_t k, const std::vector<double>& s,
                        int64_t K, const double* corners, size_t n_corners, double min_length,
                        EdgeCandidates& out);

// The two corners of a degenerate (zero-area) piece that are farthest apart.
std::pair<size_t, size_t> farthest_pair(const std::vector<double>& xy) {
  const size_t n = xy.size() / 2;
  std::pair<size_t, size_t> best{0, 0};
  double best_d = -1;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      const double d = std::hypot(xy[2 * i] - xy[2 * j], xy[2 * i + 1] - xy[2 * j + 1]);
      if (d > best_d) best = {i, j}, best_d = d;
    }
  return best;
}

void add_edge_candidate(const LabelledPolygon& piece, int64_t r, int32_t k, const std::vector<double>& s,
                        int64_t K, const double* corners, size_t n_corners, double min_length,
                        EdgeCandidates& out) {
  const auto [i, j] = farthest_pair(piece.xy);
  const double x0 = piece.xy[2 * i], y0 = piece.xy[2 * i + 1], x1 = piece.xy[2 * j], y1 = piece.xy[2 * j + 1];
  if (std::hypot(x1 - x0, y1 - y0) <= min_length) return;  // a touch at one point
  double cx = 0, cy = 0;
  for (size_t v = 0; v < n_corners; ++v) cx += corners[2 * v], cy += corners[2 * v + 1];
  cx /= double(n_corners);
  cy /= double(n_corners);
  // Just inside, from the segment's middle towards the region's corner average.
  const double px = 0.5 * (x0 + x1) + 1e-6 * (cx - 0.5 * (x0 + x1));
  const double py = 0.5 * (y0 + y1) + 1e-6 * (cy - 0.5 * (y0 + y1));
  int32_t inside = k == 0 ? 1 : 0;
  auto score = [&](int64_t c) { return s[size_t(3 * c)] * px + s[size_t(3 * c + 1)] * py + s[size_t(3 * c + 2)]; };
  for (int64_t c = 0; c < K; ++c)
    if (c != k && score(c) > score(inside)) inside = int32_t(c);
  out.xy.insert(out.xy.end(), {x0, y0, x1, y1});
  out.region.push_back(r);
  out.inside.push_back(inside);
  out.outside.push_back(k);
  out.interior.insert(out.interior.end(), {cx, cy});
}

}  // namespace

BoundarySegments decision_boundary(const SlicePartition& plane, EdgeCandidates* candidates) {
  BoundarySegments out;
  const int64_t n = plane.n_regions();
  double box_size = 0;  // the slice's box: every corner lies in it
  for (double v : plane.cells) box_size = std::max(box_size, std::abs(v));
  for (int64_t r = 0; r < n; ++r) {
    int64_t K = 0;
    const std::vector<double> s = class_scores(plane, r, K);
    const int64_t begin = plane.offsets[size_t(r)], end = plane.offsets[size_t(r + 1)];
    const double* corners = &plane.cells[size_t(2 * begin)];
    const size_t n_corners = size_t(end - begin);
    std::vector<int32_t> classes = contenders(s, K, corners, n_corners, box_size);
    const std::vector<char> tied = tied_to_lower(s, K, 3);
    classes.erase(std::remove_if(classes.begin(), classes.end(), [&](int32_t k) { return tied[size_t(k)]; }),
                  classes.end());
    if (classes.size() < 2) continue;
    const double region_area = area(corners, n_corners);
    double extent = 0;
    for (size_t v = 0; v < 2 * n_corners; ++v) extent = std::max(extent, std::abs(corners[v]));
    const double min_length = 1e-12 * std::max(extent, 1e-300);
    for (const int32_t k : classes) {
      LabelledPolygon cell;
      cell.xy.assign(corners, corners + 2 * n_corners);
      cell.label.assign(n_corners, -1);
      for (const int32_t j : classes) {
        if (j == k || cell.label.empty()) continue;
        clip(cell, s[size_t(3 * k)] - s[size_t(3 * j)], s[size_t(3 * k + 1)] - s[size_t(3 * j + 1)],
             s[size_t(3 * k + 2)] - s[size_t(3 * j + 2)], box_size, j);
      }
      const size_t m = cell.label.size();
      if (m < 3) continue;
      if (area(cell.xy.data(), m) <= 1e-12 * region_area) {
        if (candidates) add_edge_candidate(cell, r, k, s, K, corners, n_corners, min_length, *candidates);
        continue;
      }
      // Each boundary edge appears in both classes' pieces: keep it from the lower class.
      for (size_t e = 0; e < m; ++e) {
        if (cell.label[e] <= k) continue;
        const size_t f = (e + 1) % m;
        const double x0 = cell.xy[2 * e], y0 = cell.xy[2 * e + 1], x1 = cell.xy[2 * f], y1 = cell.xy[2 * f + 1];
        if (std::hypot(x1 - x0, y1 - y0) <= min_length) continue;
        out.xy.insert(out.xy.end(), {x0, y0, x1, y1});
        out.region.push_back(r);
        out.classes.insert(out.classes.end(), {k, cell.label[e]});
      }
    }
  }
  return out;
}

ClassChanges class_changes(const SlicePartition& segment) {
  // Below the engine's resolution along the segment (its parameter spans [-1/2, 1/2]),
  // lines that cross "just after" a point are judged there: where several class lines meet
  // at one point (all logits 0 where every unit is off, with a bias-free output layer),
  // rounding would otherwise report changes to a class that never leads, 1e-17 wide.
  constexpr double kResolution = 1e-12;
  ClassChanges out;
  int32_t current = -1;
  const int64_t n = segment.n_regions();
  for (int64_t r = 0; r < n; ++r) {
    int64_t K = 0;
    const std::vector<double> s = class_scores(segment, r, K);
    const double lo = segment.cells[size_t(2 * r)], hi = segment.cells[size_t(2 * r + 1)];
    // A piece below the resolution (a corner where several kinks nearly meet) leads to no
    // class of its own: the class after it is judged in the next piece.
    if (current >= 0 && hi - lo <= kResolution) continue;
    auto score = [&](int64_t k, double t) { return s[size_t(2 * k)] * t + s[size_t(2 * k + 1)]; };
    const std::vector<char> tied = tied_to_lower(s, K, 2);
    // A point just after t inside the piece, where the class that leads after t is judged.
    auto probe = [&](double t) { return std::min(t + kResolution, 0.5 * (t + hi)); };
    // The leader at p: the best score, ties going to the steeper line.
    auto leader_at = [&](double p) {
      int64_t best = 0;
      for (int64_t k = 1; k < K; ++k) {
        if (tied[size_t(k)]) continue;
        const double d = score(k, p) - score(best, p);
        if (d > 0 || (d == 0 && s[size_t(2 * k)] > s[size_t(2 * best)])) best = k;
      }
      return best;
    };
    double t = lo, p = probe(lo);
    int64_t k = leader_at(p);
    for (int64_t step = 0; step <= 2 * K; ++step) {  // the leaders' slopes only grow
      if (current >= 0 && k != current) {
        out.t.push_back(t);
        out.before.push_back(current);
        out.after.push_back(int32_t(k));
      }
      current = int32_t(k);
      // The next line to overtake k inside (p, hi): the earliest crossing of a steeper one
      // (one within the resolution of hi is judged by the next piece, at its start).
      const double end = hi - kResolution;
      double next_t = end;
      for (int64_t j = 0; j < K; ++j) {
        const double slope_gap = s[size_t(2 * j)] - s[size_t(2 * k)];
        if (j == k || tied[size_t(j)] || slope_gap <= 0) continue;
        const double cross = (s[size_t(2 * k + 1)] - s[size_t(2 * j + 1)]) / slope_gap;
        if (cross > p && cross < next_t) next_t = cross;
      }
      if (next_t >= end) break;
      t = next_t;
      p = probe(t);
      k = leader_at(p);
    }
  }
  return out;
}

}  // namespace regionlab::geometry
