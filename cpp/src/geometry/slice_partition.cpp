#include "regionlab/geometry/slice_partition.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <utility>

#include "regionlab/errors.hpp"
#include "regionlab/geometry/cells.hpp"
#include "subdivider.hpp"

namespace regionlab::geometry {

namespace {

using detail::Node;
using detail::RegionCounter;
using detail::RegionSink;
using detail::StageInfo;

template <class Cell>
Cell root_cell(const SliceSpec& spec);
template <>
IntervalCell root_cell<IntervalCell>(const SliceSpec& spec) {
  return IntervalCell{spec.lo[0], spec.hi[0]};
}
template <>
PolygonCell root_cell<PolygonCell>(const SliceSpec& spec) {
  return PolygonCell{{spec.lo[0], spec.lo[1], spec.hi[0], spec.lo[1], spec.hi[0], spec.hi[1],
                      spec.lo[0], spec.hi[1]}};
}

void append_cell(const IntervalCell& c, SlicePartition& out) {
  out.cells.insert(out.cells.end(), {c.lo, c.hi});
}
void append_cell(const PolygonCell& c, SlicePartition& out) {
  out.cells.insert(out.cells.end(), c.xy.begin(), c.xy.end());
  out.offsets.push_back(out.offsets.back() + c.size());
}

template <class Cell>
void gather(std::vector<RegionSink<Cell>>& sinks, SlicePartition& out) {
  if (Cell::kDim == 2) out.offsets.assign(1, 0);
  for (auto& sink : sinks) {
    for (const Cell& c : sink.cells) {
      append_cell(c, out);
      out.measure.push_back(c.measure());
    }
    out.patterns.insert(out.patterns.end(), sink.patterns.begin(), sink.patterns.end());
    out.maps.insert(out.maps.end(), sink.maps.begin(), sink.maps.end());
    sink = RegionSink<Cell>{};  // free as we go
  }
}

// Segments read best in order along the line.
void sort_along_segment(SlicePartition& out) {
  const int64_t n = out.n_regions(), w = out.n_words, m = out.out_dim * 2;
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return out.cells[size_t(2 * a)] < out.cells[size_t(2 * b)]; });
  SlicePartition sorted = out;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t s = order[size_t(r)];
    std::copy_n(&out.cells[size_t(2 * s)], 2, &sorted.cells[size_t(2 * r)]);
    sorted.measure[size_t(r)] = out.measure[size_t(s)];
    std::copy_n(&out.patterns[size_t(w * s)], w, &sorted.patterns[size_t(w * r)]);
    std::copy_n(&out.maps[size_t(m * s)], m, &sorted.maps[size_t(m * r)]);
  }
  out = std::move(sorted);
}

template <class Cell>
SlicePartition partition(const Network<double>& net, const SliceSpec& spec, int64_t max_regions,
                         int threads, const InterruptCheck& interrupted) {
  const NetView<double>& view = net.view();
  const std::vector<StageInfo> info = detail::stage_info(view);
  RegionCounter counter(view.n_stages, max_regions);
  double box_size = 0;
  for (int c = 0; c < Cell::kDim; ++c)
    box_size = std::max({box_size, std::abs(spec.lo[c]), std::abs(spec.hi[c])});
  std::vector<Node<Cell>> level;
  level.push_back(Node<Cell>{root_cell<Cell>(spec), std::vector<uint64_t>(size_t(view.n_words)), nullptr});
  std::vector<RegionSink<Cell>> sinks = detail::subdivide_all(view, info, std::move(level), spec.basis, box_size,
                                                              counter, nullptr, threads, interrupted);

  SlicePartition out;
  out.dim = Cell::kDim;
  out.out_dim = net.output_dim();
  out.n_words = view.n_words;
  gather(sinks, out);
  for (int64_t k = 0; k < view.n_stages; ++k)
    if (view.stages[k].n_kinked > 0) out.regions_per_stage.push_back(counter.count(k));
  if (Cell::kDim == 1) sort_along_segment(out);
  return out;
}

}  // namespace

SlicePartition partition_slice(const Network<double>& net, const SliceSpec& spec,
                               int64_t max_regions, int threads,
                               const InterruptCheck& interrupted) {
  if (spec.dim != 1 && spec.dim != 2) throw InvalidInput("slice dimension must be 1 or 2");
  if (int64_t(spec.basis.size()) != net.input_dim() * (spec.dim + 1))
    throw InvalidInput("slice basis has the wrong size for this network's input");
  for (int c = 0; c < spec.dim; ++c)
    if (!(spec.lo[c] < spec.hi[c])) throw InvalidInput("slice extent must have lo < hi");
  if (max_regions <= 0) throw InvalidInput("max_regions must be positive");
  if (spec.dim == 1) return partition<IntervalCell>(net, spec, max_regions, threads, interrupted);
  return partition<PolygonCell>(net, spec, max_regions, threads, interrupted);
}

}  // namespace regionlab::geometry
