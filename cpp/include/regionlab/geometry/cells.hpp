// Cells of a slice partition (intervals of a line, convex polygons of a plane) and how a
// neuron's zero line {g0 x + g1 y + g2 = 0} in slice coordinates classifies and splits them.
#pragma once
#include <cstdint>
#include <vector>

namespace regionlab::geometry {

enum class Side { negative, positive, cut };

// A corner whose value is within this fraction of the size of its terms (|a x| + |b y| +
// |c|, plus the coordinate floor below) counts as on the line: a neuron that only grazes a corner or runs along an edge
// does not split the cell (no slivers from rounding).
constexpr double kOnLineTolerance = 1e-12;

// Coordinates computed from the slice's box carry rounding of about 1e-16 times its size,
// so the on-line test also allows this fraction of the box size in each coordinate (it
// matters near the origin, where the other terms vanish).
constexpr double kCoordinateFloor = 1e-3;

// A line's coefficients in slice coordinates, `stride` apart (a column-major block), and
// the size of the slice's box (the largest |coordinate| in it).
struct LineCoeffs {
  const double* g;
  int64_t stride;
  double box_size;
  int64_t id = -1;  // which hyperplane it is (polytopes record it at their vertices)
  // The box's largest |coordinate| per axis, or null for box_size on every axis: a box whose
  // sides differ by 1e8 needs each axis's own size, or the floor swamps the thin axis.
  const double* axis_extent = nullptr;
  double operator[](int c) const { return g[c * stride]; }
  double extent(int c) const { return axis_extent ? axis_extent[c] : box_size; }
};

// Many lines at once: lines j = 0..n-1 with coefficients coeffs[c * n + j] (a column-major
// block); side[j] receives the Side of line j, as classify() would give it. classify_all()
// returns false when some line has an Inf or NaN value on the cell.
struct LineBlock {
  const double* coeffs;
  int64_t n;
  double box_size;
  const double* axis_extent = nullptr;  // as in LineCoeffs
};

struct IntervalCell {
  static constexpr int kDim = 1;
  double lo = 0, hi = 0;

  Side classify(LineCoeffs line) const;
  bool classify_all(LineBlock lines, Side* side) const;
  // Only for a line that cuts the cell: the parts where it is negative and positive.
  void split(LineCoeffs line, IntervalCell& negative, IntervalCell& positive) const;
  double measure() const { return hi - lo; }
};

struct PolygonCell {
  static constexpr int kDim = 2;
  std::vector<double> xy;  // vertices x0, y0, x1, y1, ... in counter-clockwise order

  int64_t size() const { return int64_t(xy.size() / 2); }
  Side classify(LineCoeffs line) const;
  bool classify_all(LineBlock lines, Side* side) const;
  void split(LineCoeffs line, PolygonCell& negative, PolygonCell& positive) const;
  double measure() const;  // area
};

}  // namespace regionlab::geometry
