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
using detail::Subdivider;

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

constexpr int64_t kRootsToShare = 64;  // regions before the depth-first phase starts
constexpr int64_t kTasks = 512;        // contiguous runs of them, handed out dynamically

template <class Cell>
SlicePartition partition(const Network<double>& net, const SliceSpec& spec, int64_t max_regions,
                         int threads, const InterruptCheck& interrupted) {
  const NetView<double>& view = net.view();
  std::vector<StageInfo> info(size_t(view.n_stages));
  for (int64_t k = 0; k < view.n_stages; ++k) {
    const StageView<double>& st = view.stages[k];
    info[size_t(k)].kinked_pos.assign(size_t(st.out), -1);
    for (int64_t p = 0; p < st.n_kinked && st.n_groups == 0; ++p)  // max stages: no slopes
      info[size_t(k)].kinked_pos[size_t(st.kinked ? st.kinked[p] : p)] = int32_t(p);
    auto& wt = info[size_t(k)].weight_t;
    if (st.op) continue;  // no rank-one updates through a structured map
    wt.resize(size_t(st.in * st.out));
    for (int64_t o = 0; o < st.out; ++o)
      for (int64_t i = 0; i < st.in; ++i) wt[size_t(i * st.out + o)] = st.weight[o * st.in + i];
  }
  RegionCounter counter(view.n_stages, max_regions);
  threads = std::max(1, threads);
  double box_size = 0;
  for (int c = 0; c < Cell::kDim; ++c)
    box_size = std::max({box_size, std::abs(spec.lo[c]), std::abs(spec.hi[c])});

  // Breadth first on the calling thread until there are enough regions to share out. The
  // split into tasks does not depend on the thread count, so neither does the output.
  std::vector<Node<Cell>> level;
  level.push_back(Node<Cell>{root_cell<Cell>(spec), std::vector<uint64_t>(size_t(view.n_words)), nullptr});
  std::vector<RegionSink<Cell>> sinks(1);
  int64_t stage = 0;
  parallel_tasks(1, 1, [&](int, int64_t, Checkpoint& checkpoint) {
    Subdivider<Cell> sub(view, info, spec.basis, box_size, counter);
    while (stage < view.n_stages && int64_t(level.size()) < kRootsToShare) {
      const bool last = stage + 1 == view.n_stages;
      std::vector<Node<Cell>> next;
      for (size_t begin = 0; begin < level.size(); begin += 64) {
        checkpoint();
        std::vector<Node<Cell>> batch(std::make_move_iterator(level.begin() + begin),
                                      std::make_move_iterator(level.begin() + std::min(level.size(), begin + 64)));
        sub.apply_stage(stage, batch, last ? nullptr : &next, sinks[0], checkpoint);
      }
      level = std::move(next);
      ++stage;
    }
  }, interrupted);

  // Then depth first, in contiguous runs of the remaining regions, one task each.
  if (!level.empty()) {
    const int64_t n = int64_t(level.size());
    const int64_t n_tasks = std::min<int64_t>(n, kTasks);
    sinks.resize(size_t(1 + n_tasks));
    std::vector<std::unique_ptr<Subdivider<Cell>>> subs(static_cast<size_t>(threads));
    parallel_tasks(n_tasks, threads, [&](int t, int64_t task, Checkpoint& checkpoint) {
      if (!subs[size_t(t)])
        subs[size_t(t)] = std::make_unique<Subdivider<Cell>>(view, info, spec.basis, box_size, counter);
      const int64_t begin = n * task / n_tasks, end = n * (task + 1) / n_tasks;
      std::vector<Node<Cell>> roots(std::make_move_iterator(level.begin() + begin),
                                    std::make_move_iterator(level.begin() + end));
      subs[size_t(t)]->run(std::move(roots), stage, sinks[size_t(1 + task)], checkpoint);
    }, interrupted);
  }

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
