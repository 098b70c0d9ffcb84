// Convex polytopes of dimension D (1..8) as cells of the subdivision engine: vertices, the
// edges between them, and which hyperplanes each vertex lies on. A hyperplane splits a
// polytope by its vertices' signs; new vertices are where it crosses edges, and the new
// edges (in the cut face) are found combinatorially: two cut-face vertices u, v are
// adjacent iff no other vertex lies on every hyperplane that both lie on (the smallest face
// holding u and v is then an edge). Float64 throughout; corners within the on-line
// tolerance of a hyperplane count as on it, so degenerate arrangements (hyperplanes through
// vertices, coincident neurons) give no slivers.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "regionlab/geometry/cells.hpp"

namespace regionlab::geometry {

// Hyperplane ids recorded at the vertices. Ids >= 0 are pattern bits (kinked neurons);
// negative ids are faces of the domain; max-group comparisons have the top bit pattern below.
constexpr int64_t kMaxComparisonFlag = int64_t(1) << 62;
inline int64_t max_comparison_id(int64_t group_bit_pos, int64_t winner, int64_t other) {
  return kMaxComparisonFlag | (group_bit_pos << 40) | (std::min(winner, other) << 20) |
         std::max(winner, other);
}
// Faces of the root polytopes: box face (coordinate c, upper or lower), simplex faces
// (coordinate c >= 0, and the face sum(y) = 1, at infinity for the whole-space pieces).
inline int64_t box_face_id(int c, bool upper) { return -1 - (2 * int64_t(c) + (upper ? 1 : 0)); }
inline int64_t simplex_face_id(int c) { return box_face_id(c, false); }
constexpr int64_t kInfinityFaceId = -1000;
inline int64_t cross_face_id(int64_t signs) { return -2000 - signs; }

template <int D>
struct PolytopeCell {
  static constexpr int kDim = D;
  std::vector<double> x;          // vertex coordinates, D per vertex
  std::vector<uint64_t> inc;      // per vertex, `words` words: bit b = lies on planes[b]
  std::vector<int32_t> edges;     // vertex pairs
  std::vector<int64_t> planes;    // the hyperplanes behind the incidence bits
  // Per plane, D + 1 numbers: a unit normal n and offset c, n . x + c = 0 on the plane (the
  // cutting line's own coefficients, not a fit through the rounded vertices). A zero normal
  // marks a plane at infinity (the homogeneous pieces' t = 0 face, mapped to the input).
  std::vector<double> normals;
  int32_t words = 1;

  int64_t n_vertices() const { return int64_t(x.size()) / D; }
  bool on_plane(int64_t v, int64_t b) const { return (inc[size_t(v * words + (b >> 6))] >> (b & 63)) & 1u; }

  Side classify(LineCoeffs line) const;
  bool classify_all(LineBlock lines, Side* side) const;
  // Only for a line that cuts the cell: the parts where it is negative and positive.
  void split(LineCoeffs line, PolytopeCell& negative, PolytopeCell& positive) const;
  double measure() const;  // D-dimensional volume

  // Roots: a box, the standard simplex {y >= 0, sum y <= 1}, a cross-polytope (|y|_1 <= r).
  static PolytopeCell box(const double* lo, const double* hi);
  static PolytopeCell simplex();
  static PolytopeCell cross(double radius);

  // The plane with these D + 1 coefficients (any scale) as a unit normal and offset.
  static void unit_plane(const double* coeffs, double* out);
  void push_normal(const double* coeffs) {
    double n[D + 1];
    unit_plane(coeffs, n);
    normals.insert(normals.end(), n, n + D + 1);
  }
};

// Volume of the face of `cell` spanned by `verts` (a face of dimension m, inside the planes
// `active`), by Lasserre's recursion over its faces, pulling from each face's first vertex:
// the sum over the facets not holding it of height x facet volume / m. Exact up to
// rounding, any dimension.
template <int D>
double face_measure(const PolytopeCell<D>& cell, const std::vector<int32_t>& verts,
                    const std::vector<int32_t>& active, int m);

}  // namespace regionlab::geometry

#include "polytope_cell.inl"
