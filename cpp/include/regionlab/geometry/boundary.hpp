// Decision boundaries of a slice partition: where the predicted class changes. With one
// output the classes are "logit <= 0" (0) and "logit > 0" (1); with several, the argmax.
#pragma once
#include <cstdint>
#include <vector>

#include "regionlab/geometry/slice_partition.hpp"

namespace regionlab::geometry {

struct BoundarySegments {
  std::vector<double> xy;          // x0, y0, x1, y1 per segment
  std::vector<int64_t> region;     // the region it lies in
  std::vector<int32_t> classes;    // the two classes it separates (lower index first)
};

// Where a class only ties along a region's edge (it wins nowhere inside), the boundary is
// that edge if, and only if, the class wins just across it, in the neighbouring region,
// which this region's map does not know. Such edges are returned as candidates, for the
// caller to check with the network.
struct EdgeCandidates {
  std::vector<double> xy;          // x0, y0, x1, y1 per candidate
  std::vector<int64_t> region;
  std::vector<int32_t> inside;     // the class winning just inside the region
  std::vector<int32_t> outside;    // the class that ties along the edge
  std::vector<double> interior;    // a point inside the region (x, y), to orient the edge
};

// Planar slices: inside each region the outputs are affine, so each class wins on a convex
// piece; the pieces' shared edges are the boundary.
BoundarySegments decision_boundary(const SlicePartition& plane, EdgeCandidates* candidates);

struct ClassChanges {
  std::vector<double> t;           // positions along the segment, increasing
  std::vector<int32_t> before, after;
};

// Segments: every point where the predicted class changes, with the classes either side.
ClassChanges class_changes(const SlicePartition& segment);

}  // namespace regionlab::geometry
