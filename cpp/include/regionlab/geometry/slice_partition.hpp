// Exact partition of a line segment or a planar slice of input space into the linear
// regions of a network: layer-by-layer subdivision of intervals / convex polygons, each
// carrying the affine map (in slice coordinates) of the current layer's input.
#pragma once
#include <cstdint>
#include <vector>

#include "regionlab/network.hpp"
#include "regionlab/parallel.hpp"

namespace regionlab::geometry {

struct SliceSpec {
  int dim = 2;                // 1: a segment, 2: a plane
  // input x = basis . (coords, 1): input_dim x (dim + 1), column-major (the direction
  // vectors, then the offset).
  std::vector<double> basis;
  double lo[2] = {0, 0};      // coordinate box: coords[c] in [lo[c], hi[c]]
  double hi[2] = {1, 1};
};

struct SlicePartition {
  int dim = 2;
  int64_t out_dim = 0;
  int64_t n_words = 0;               // 64-bit words per pattern
  // dim 1: (lo, hi) of each region, sorted along the segment. dim 2: every region's
  // vertices (x, y), counter-clockwise; region r owns vertices [offsets[r], offsets[r+1]).
  std::vector<double> cells;
  std::vector<int64_t> offsets;      // dim 2 only: n_regions + 1 entries
  std::vector<double> measure;       // length (dim 1) or area (dim 2) of each region
  std::vector<uint64_t> patterns;    // n_regions x n_words, bit i = kinked neuron i is > 0
  std::vector<double> maps;          // n_regions x out_dim x (dim + 1): output = map . (coords, 1)
  std::vector<int64_t> regions_per_stage;  // regions of the first k kinked stages, k = 1..

  int64_t n_regions() const { return int64_t(measure.size()); }
};

// Throws LimitExceeded once any layer prefix has more than max_regions regions, Interrupted
// on Ctrl-C (polled through `interrupted` on the calling thread).
SlicePartition partition_slice(const Network<double>& net, const SliceSpec& spec,
                               int64_t max_regions, int threads,
                               const InterruptCheck& interrupted);

}  // namespace regionlab::geometry
