// Cells of a slice partition (intervals of a line, convex polygons of a plane) and how a
// neuron's zero line {g0 x + g1 y + g2 = 0} in slice coordinates classifies and splits them.
#pragma once
#include <cstdint>
#include <vector>

namespace regionlab::geometry {

enum class Side { negative, positive, cut };

// Values within this fraction of a line's scale over the cell count as on the line: a
// neuron that only grazes a vertex or runs along an edge does not split the cell.
constexpr double kOnLineTolerance = 1e-11;

// A line's coefficients in slice coordinates, `stride` apart (a column-major block).
struct LineCoeffs {
  const double* g;
  int64_t stride;
  double operator[](int c) const { return g[c * stride]; }
};

struct IntervalCell {
  static constexpr int kDim = 1;
  double lo = 0, hi = 0;

  Side classify(LineCoeffs line) const;
  // Only for a line that cuts the cell: the parts where it is negative and positive.
  void split(LineCoeffs line, IntervalCell& negative, IntervalCell& positive) const;
  double measure() const { return hi - lo; }
  // A point strictly inside (for evaluating signs).
  void interior_point(double* p) const { p[0] = 0.5 * (lo + hi); }
};

struct PolygonCell {
  static constexpr int kDim = 2;
  std::vector<double> xy;  // vertices x0, y0, x1, y1, ... in counter-clockwise order

  int64_t size() const { return int64_t(xy.size() / 2); }
  Side classify(LineCoeffs line) const;
  void split(LineCoeffs line, PolygonCell& negative, PolygonCell& positive) const;
  double measure() const;  // area
  void interior_point(double* p) const;  // the vertex average
};

}  // namespace regionlab::geometry
