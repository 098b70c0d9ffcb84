// Exact partition of a k-dimensional polytope of input space (k = 1..8: a box, a slice of a
// higher-dimensional input, a neighbourhood of a sample, or the pieces of the whole space in
// homogeneous coordinates) into the linear regions of a network, by the same layer-by-layer
// subdivision as the segments and planes, with convex polytope cells.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "regionlab/network.hpp"
#include "regionlab/parallel.hpp"

namespace regionlab::geometry {

constexpr int kMaxPolytopeDim = 8;

enum class RootShape { box, simplex, cross };

struct PolytopeSpec {
  int dim = 3;
  // Input x = map . (y, 1), input_dim x (dim + 1) column-major: one shared map, or one per
  // root (n_roots of them, back to back) in `root_maps`.
  std::vector<double> basis;
  std::vector<double> root_maps;
  int64_t n_roots = 1;
  RootShape shape = RootShape::box;
  std::vector<double> lo, hi;  // box: dim each
  double radius = 1;           // cross-polytope |y|_1 <= radius
  // Homogeneous pieces of the whole space: every stage's bias is multiplied by
  // t = bias_scale . (y, 1) (dim + 1 entries); empty for the plain network.
  std::vector<double> bias_scale;
  // With bias_scale: the coordinates reported (centroids, volumes, vertices) are
  // coord_map . (y, 1) / t, dim x (dim + 1) column-major per root, back to back.
  std::vector<double> coord_maps;
  bool describe = true;   // volumes, centroids, facets, boundary; false: patterns and roots only
  bool volumes = true;    // with describe: also the volumes (the costliest part in 5+ dims)
  bool vertices = false;  // keep each region's vertices
  // Called on the calling thread about every 0.2 s while the work runs, and once at the
  // end, with the pieces found so far per stage with kinks (a long enumeration's
  // progress); returning true stops the work (Interrupted). Empty: no reports.
  std::function<bool(const std::vector<int64_t>&)> progress;
};

struct PolytopePartition {
  int dim = 3;
  int64_t out_dim = 0;
  int64_t n_words = 0;
  std::vector<uint64_t> patterns;        // n x n_words
  std::vector<int32_t> roots;            // the root each region was cut from
  std::vector<double> maps;              // n x out_dim x (dim + 1): output = map . (y, 1)
  std::vector<double> centroids;         // n x dim: y, or coord_map(y) / t for homogeneous pieces
  std::vector<double> radii;             // a ball around the centroid inside the region
  std::vector<double> volumes;           // in the same coordinates; inf when unbounded
  std::vector<uint8_t> unbounded;        // homogeneous pieces: touches the face at infinity
  std::vector<int64_t> facet_offsets;    // n + 1
  std::vector<int64_t> facet_ids;        // pattern bits, domain faces (< 0), max comparisons
  std::vector<double> boundary;          // (dim - 1)-measure of the decision boundary inside
  std::vector<int64_t> vertex_offsets;   // n + 1 when vertices were asked for
  std::vector<double> vertices;          // dim per vertex
  std::vector<int64_t> edge_offsets;     // n + 1 when vertices were asked for
  std::vector<int32_t> edges;            // pairs of indices into the region's own vertices
  std::vector<int64_t> regions_per_stage;

  int64_t n_regions() const { return int64_t(roots.size()); }
};

PolytopePartition partition_polytope(const Network<double>& net, const PolytopeSpec& spec,
                                     int64_t max_regions, int threads,
                                     const InterruptCheck& interrupted);

}  // namespace regionlab::geometry
