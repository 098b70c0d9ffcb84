// The engine of the slice partitions: regions are cut stage by stage, depth first, with
// the affine maps of a batch of regions computed by one matrix product. Internal to
// slice_partition.cpp (a header only to keep that file to the driver).
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "regionlab/errors.hpp"
#include "regionlab/geometry/cells.hpp"
#include "regionlab/geometry/polytope_cell.hpp"
#include "regionlab/kernels.hpp"
#include "regionlab/network.hpp"
#include "regionlab/parallel.hpp"

namespace regionlab::geometry::detail {

using ZBlock = std::vector<double>;

// A region of the first k stages, waiting for stage k. Its input map to stage k is
// act(z) with the activation slopes its pattern selects for stage k - 1.
template <class Cell>
struct Node {
  Cell cell;
  std::vector<uint64_t> pattern;        // bits of stages < k are set
  // Stage k-1 pre-activation, (out x (dim+1)) col-major. At stage 0: the root's own input
  // map (in x (dim+1)), or null for the slice's basis.
  std::shared_ptr<const ZBlock> z;
  int32_t root = 0;  // which root region it was cut from
};

// Final regions found by one task, in the order found.
template <class Cell>
struct RegionSink {
  std::vector<Cell> cells;
  std::vector<uint64_t> patterns;
  std::vector<double> maps;
  std::vector<int32_t> roots;
  void add_cell(Cell& cell) { cells.push_back(std::move(cell)); }
};

// What the polytope partitions keep of each region once it is found (its cell is then
// reused for the next cut): filled by the driver's `describe` hook.
struct PolytopeRecords {
  std::vector<double> centroids, radii, volumes, boundary, vertices;
  std::vector<uint8_t> unbounded;
  std::vector<int64_t> facet_counts, facet_ids, vertex_counts;
  std::vector<int32_t> edges;  // with the vertices: pairs of the region's own vertex indices
  std::vector<int64_t> edge_counts;
};

template <int D>
struct RegionSink<PolytopeCell<D>> {
  std::vector<uint64_t> patterns;
  std::vector<double> maps;
  std::vector<int32_t> roots;
  PolytopeRecords records;
  // Called with each final region (its pattern, map and root already stored); none: only
  // the patterns and roots are kept (counting).
  std::function<void(const PolytopeCell<D>&, const double* map, int32_t root, PolytopeRecords&)> describe;

  void add_cell(const PolytopeCell<D>& c) {
    if (!describe) return;
    const size_t map_len = maps.size() / roots.size();
    describe(c, &maps[maps.size() - map_len], roots.back(), records);
  }
};

// Per-stage lookups shared by every thread.
struct StageInfo {
  std::vector<int32_t> kinked_pos;  // neuron -> its position among the kinked ones, or -1
  std::vector<double> weight_t;     // the weight transposed, (in x out) row-major
};

inline bool test_bit(const std::vector<uint64_t>& words, int64_t i) {
  return (words[size_t(i >> 6)] >> (i & 63)) & 1u;
}
inline void set_bit(std::vector<uint64_t>& words, int64_t i) { words[size_t(i >> 6)] |= 1ull << (i & 63); }

// Regions of each stage seen so far (all threads), checked against max_regions.
class RegionCounter {
 public:
  RegionCounter(int64_t n_stages, int64_t max_regions)
      : counts_(size_t(n_stages)), max_regions_(max_regions) {
    for (auto& c : counts_) c.store(0);
  }
  void add(int64_t stage, int64_t n) {
    if (counts_[size_t(stage)].fetch_add(n) + n > max_regions_)
      throw LimitExceeded("the slice has more than max_regions=" + std::to_string(max_regions_) +
                          " regions (after stage " + std::to_string(stage + 1) +
                          "); raise max_regions, or take a smaller slice");
  }
  int64_t count(int64_t stage) const { return counts_[size_t(stage)].load(); }

 private:
  std::vector<std::atomic<int64_t>> counts_;
  int64_t max_regions_;
};

// Calls f(point) with each corner of a cell (slice coordinates).
template <class F>
void for_each_corner(const IntervalCell& cell, F&& f) {
  f(&cell.lo);
  f(&cell.hi);
}
template <class F>
void for_each_corner(const PolygonCell& cell, F&& f) {
  for (size_t v = 0; v + 1 < cell.xy.size(); v += 2) f(&cell.xy[v]);
}
template <int D, class F>
void for_each_corner(const PolytopeCell<D>& cell, F&& f) {
  for (size_t v = 0; v < cell.x.size(); v += D) f(&cell.x[v]);
}

template <class Cell>
class Subdivider {
  static constexpr int D = Cell::kDim;
  static constexpr int64_t kBatch = 64;  // regions per matrix product
  // A sibling's map is updated neuron by neuron when fewer than in/kDeltaFraction neurons
  // differ (rank-one updates cost about as much as that share of a matrix product).
  static constexpr int64_t kDeltaFraction = 8;
  static constexpr int64_t kCountEvery = 4096;  // pieces between max_regions / Ctrl-C checks

 public:
  // bias_scale (dim + 1 entries, or null for (0, ..., 0, 1)): the factor of every stage's
  // bias as an affine function of the slice coordinates; the whole-space pieces evaluate the
  // network in homogeneous coordinates, t f(x / t), where it is t.
  Subdivider(const NetView<double>& net, const std::vector<StageInfo>& info,
             const std::vector<double>& basis, double box_size, RegionCounter& counter,
             const double* bias_scale = nullptr, const double* axis_extent = nullptr)
      : net_(net), info_(info), basis_(basis), box_size_(box_size), axis_extent_(axis_extent),
        counter_(counter), bias_scale_(bias_scale) {}

  // Pushes `roots` (regions waiting for stage `stage`) through every remaining stage,
  // depth first so that only a few batches per stage are alive at once.
  void run(std::vector<Node<Cell>> roots, int64_t stage, RegionSink<Cell>& sink,
           Checkpoint& checkpoint) {
    std::vector<std::vector<Node<Cell>>> frontier(size_t(net_.n_stages));
    frontier[size_t(stage)] = std::move(roots);
    std::vector<Node<Cell>> batch;
    for (;;) {
      int64_t k = net_.n_stages - 1;
      while (k >= 0 && frontier[size_t(k)].empty()) --k;
      if (k < 0) break;
      checkpoint();
      auto& pending = frontier[size_t(k)];
      const int64_t take = std::min<int64_t>(kBatch, int64_t(pending.size()));
      batch.assign(std::make_move_iterator(pending.end() - take),
                   std::make_move_iterator(pending.end()));
      pending.resize(pending.size() - size_t(take));
      apply_stage(k, batch, k + 1 < net_.n_stages ? &frontier[size_t(k + 1)] : nullptr, sink,
                  checkpoint);
    }
  }

  // Applies stage k to `batch`: children go to `next`, or to `sink` after the last stage.
  void apply_stage(int64_t k, std::vector<Node<Cell>>& batch, std::vector<Node<Cell>>* next,
                   RegionSink<Cell>& sink, Checkpoint& checkpoint) {
    const StageView<double>& st = net_.stages[k];
    const int64_t n = int64_t(batch.size()), block = st.out * (D + 1);
    plan_products(k, batch);
    const int64_t cols = (D + 1) * int64_t(gemm_nodes_.size());
    inputs_.resize(size_t(st.in * cols));
    for (size_t g = 0; g < gemm_nodes_.size(); ++g)
      input_map(batch[size_t(gemm_nodes_[g])], k, &inputs_[size_t(st.in * (D + 1)) * g]);
    products_.resize(size_t(st.out * cols));
    if (st.op)
      st.op->apply_columns(inputs_.data(), cols, products_.data());
    else
      kernels<double>().matmul(st.weight, inputs_.data(), products_.data(), st.out, st.in, cols);
    // All maps first: subdividing a region consumes its pattern, which siblings still read.
    maps_.resize(size_t(n));
    for (int64_t r = 0; r < n; ++r) {
      const Plan& plan = plans_[size_t(r)];
      const double* base = &products_[size_t(block * plan.product)];
      auto z = std::make_shared<ZBlock>(base, base + block);
      if (plan.sibling >= 0) add_sibling_delta(k, batch[size_t(r)], batch[size_t(plan.sibling)], *z);
      if (bias_scale_) {
        for (int c = 0; c <= D; ++c)
          for (int64_t j = 0; j < st.out; ++j) (*z)[size_t(c * st.out + j)] += bias_scale_[c] * st.bias[j];
      } else {
        for (int64_t j = 0; j < st.out; ++j) (*z)[size_t(D * st.out + j)] += st.bias[j];
      }
      maps_[size_t(r)] = std::move(z);
    }
    for (int64_t r = 0; r < n; ++r)
      subdivide(batch[size_t(r)], k, std::move(maps_[size_t(r)]), next, sink, checkpoint);
  }

 private:
  // How a region's stage-k pre-activation map is made: column block `product` of the batch
  // product, plus (when sibling >= 0) the change from that sibling's activations to its own.
  struct Plan {
    int64_t product;
    int64_t sibling;
  };

  // Siblings (regions cut from one parent) share the parent's map z and differ only in the
  // few neurons that cut the parent. So one product per family suffices: a sibling's map is
  // the family's first member's plus a rank-one term per differing neuron.
  void plan_products(int64_t k, const std::vector<Node<Cell>>& batch) {
    const int64_t n = int64_t(batch.size());
    plans_.assign(size_t(n), Plan{0, -1});
    gemm_nodes_.clear();
    // After a max stage the inputs are winners, not slopes: no rank-one updates.
    // A structured map has no stored columns for the rank-one updates either.
    const bool deltas = k > 0 && net_.stages[k - 1].n_groups == 0 && !net_.stages[k].op;
    const int64_t max_delta = deltas ? net_.stages[k].in / kDeltaFraction : 0;
    int64_t family_first = -1;
    for (int64_t r = 0; r < n; ++r) {
      const bool sibling = family_first >= 0 && batch[size_t(r)].z == batch[size_t(family_first)].z;
      if (sibling && deltas &&
          differing_bits(k, batch[size_t(r)], batch[size_t(family_first)]) <= max_delta) {
        plans_[size_t(r)] = Plan{plans_[size_t(family_first)].product, family_first};
        continue;
      }
      if (!sibling) family_first = r;
      plans_[size_t(r)] = Plan{int64_t(gemm_nodes_.size()), -1};
      gemm_nodes_.push_back(r);
    }
  }

  // Calls f(neuron) for each neuron of stage k-1 whose pattern bit differs in a and b.
  template <class F>
  void for_differing(int64_t k, const Node<Cell>& a, const Node<Cell>& b, F&& f) const {
    const StageView<double>& prev = net_.stages[k - 1];
    const int64_t begin = prev.bit_offset, end = begin + prev.n_kinked;
    for (int64_t w = begin >> 6; w <= (end - 1) >> 6 && end > begin; ++w) {
      uint64_t x = a.pattern[size_t(w)] ^ b.pattern[size_t(w)];
      if ((w << 6) < begin) x &= ~0ull << (begin - (w << 6));
      if (end - (w << 6) < 64) x &= (1ull << (end - (w << 6))) - 1;
      while (x) {
        const int64_t p = (w << 6) + __builtin_ctzll(x) - begin;
        x &= x - 1;
        f(prev.kinked ? prev.kinked[p] : p, begin + p);
      }
    }
  }

  int64_t differing_bits(int64_t k, const Node<Cell>& a, const Node<Cell>& b) const {
    int64_t count = 0;
    for_differing(k, a, b, [&](int64_t, int64_t) { ++count; });
    return count;
  }

  // z (the sibling's product, without bias) += W[:, i] (act_node(i) - act_sibling(i)) z_prev(i)
  // for every stage k-1 neuron i where the two differ.
  void add_sibling_delta(int64_t k, const Node<Cell>& node, const Node<Cell>& sibling,
                         ZBlock& z) const {
    const StageView<double>& st = net_.stages[k];
    const StageView<double>& prev = net_.stages[k - 1];
    const double* wt = info_[size_t(k)].weight_t.data();
    const double* zp = node.z->data();
    for_differing(k, node, sibling, [&](int64_t i, int64_t bit) {
      const double gap = 1.0 - prev.slope[i];  // act(on) - act(off)
      const double sign = test_bit(node.pattern, bit) ? gap : -gap;
      const double* w = wt + i * st.out;
      for (int c = 0; c <= D; ++c) {
        const double scale = sign * zp[c * prev.out + i];
        double* zc = z.data() + c * st.out;
        for (int64_t o = 0; o < st.out; ++o) zc[o] += scale * w[o];
      }
    });
  }

  // NaN would make every line "cut" every cell: stop with the cause instead.
  [[noreturn]] static void throw_overflow(int64_t k) {
    throw InvalidInput("the pre-activations of stage " + std::to_string(k + 1) +
                       " overflow float64 on this slice; rescale the weights or the slice");
  }

  // The region's input map to stage k, (in x (dim+1)) column-major.
  void input_map(const Node<Cell>& node, int64_t k, double* dst) {
    if (k == 0) {
      if (node.z) std::copy(node.z->begin(), node.z->end(), dst);
      else std::copy(basis_.begin(), basis_.end(), dst);
      return;
    }
    const StageView<double>& prev = net_.stages[k - 1];
    const double* z = node.z->data();
    if (prev.n_groups > 0) {  // each group passes on its winner's map
      const int64_t G = prev.n_groups;
      for (int64_t g = 0; g < G; ++g) {
        const int64_t j = winner(prev, node.pattern, g);
        for (int c = 0; c <= D; ++c) dst[c * G + g] = z[c * prev.out + j];
      }
      return;
    }
    const auto& pos = info_[size_t(k - 1)].kinked_pos;
    act_.resize(size_t(prev.out));
    for (int64_t i = 0; i < prev.out; ++i) {
      const int32_t p = pos[size_t(i)];
      act_[size_t(i)] = p < 0 || test_bit(node.pattern, prev.bit_offset + p) ? 1.0 : prev.slope[i];
    }
    for (int c = 0; c <= D; ++c)
      for (int64_t i = 0; i < prev.out; ++i) dst[c * prev.out + i] = act_[size_t(i)] * z[c * prev.out + i];
  }

  // Splits the region by stage k's kinked neurons (the cells of their line arrangement
  // inside it) and hands each piece on with its pattern bits for stage k.
  void subdivide(Node<Cell>& node, int64_t k, std::shared_ptr<const ZBlock> z,
                 std::vector<Node<Cell>>* next, RegionSink<Cell>& sink, Checkpoint& checkpoint) {
    const StageView<double>& st = net_.stages[k];
    auto line = [&](int64_t p) {
      const int64_t j = st.kinked ? st.kinked[p] : p;
      return LineCoeffs{z->data() + j, st.out, box_size_, st.bit_offset + p, axis_extent_};
    };
    // Pieces are counted (against max_regions) and Ctrl-C polled as they come: one parent
    // cut by thousands of neurons can make millions of them.
    int64_t produced = 0;
    const int32_t root = node.root;
    auto emit = [&](Cell&& cell, const std::vector<uint64_t>& pattern) {
      if (++produced == kCountEvery) {
        counter_.add(k, produced);
        produced = 0;
        checkpoint();
      }
      if (next) {
        next->push_back(Node<Cell>{std::move(cell), pattern, z, root});
      } else {
        sink.roots.push_back(root);
        emit_final(cell, pattern, *z, k, sink);
      }
    };
    if (st.n_groups > 0) {
      split_by_max_groups(node, k, *z, emit);
      counter_.add(k, produced);
      return;
    }
    if (st.n_kinked == 0) {
      emit(std::move(node.cell), node.pattern);
      counter_.add(k, produced);
      return;
    }
    std::vector<CutPiece>& stack = stack_;
    stack.clear();
    CutPiece first = spare_piece();
    std::swap(first.cell, node.cell);
    std::swap(first.pattern, node.pattern);
    sides_.resize(size_t(st.out));
    if (!first.cell.classify_all(LineBlock{z->data(), st.out, box_size_, axis_extent_}, sides_.data()))
      throw_overflow(k);
    for (int64_t p = 0; p < st.n_kinked; ++p) {
      const Side side = sides_[size_t(st.kinked ? st.kinked[p] : p)];
      if (side == Side::positive) set_bit(first.pattern, st.bit_offset + p);
      else if (side == Side::cut) first.cutting.push_back(int32_t(p));
    }
    stack.push_back(std::move(first));
    while (!stack.empty()) {
      CutPiece piece = std::move(stack.back());
      stack.pop_back();
      if (piece.cutting.empty()) {
        emit(std::move(piece.cell), piece.pattern);  // a final cell is copied: reused after
        spare_.push_back(std::move(piece));
        continue;
      }
      const int32_t p = piece.cutting.front();
      piece.cell.split(line(p), parts_[0], parts_[1]);
      for (int s = 1; s >= 0; --s) {  // pushes the negative side last: it is split first
        CutPiece child = spare_piece();
        std::swap(child.cell, parts_[s]);  // parts_ keep the spare's buffers for the next split
        child.pattern.assign(piece.pattern.begin(), piece.pattern.end());
        if (s == 1) set_bit(child.pattern, st.bit_offset + p);
        for (size_t q = 1; q < piece.cutting.size(); ++q) {
          const int32_t other = piece.cutting[q];
          const Side side = child.cell.classify(line(other));
          if (side == Side::positive) set_bit(child.pattern, st.bit_offset + other);
          else if (side == Side::cut) child.cutting.push_back(other);
        }
        stack.push_back(std::move(child));
      }
      spare_.push_back(std::move(piece));
    }
    counter_.add(k, produced);
  }

  // A piece of a region being cut by one stage: its cell, its pattern so far, the lines
  // that still cut it. Consumed pieces are kept as spares so their buffers are reused.
  struct CutPiece {
    Cell cell;
    std::vector<uint64_t> pattern;
    std::vector<int32_t> cutting;
  };
  CutPiece spare_piece() {
    if (spare_.empty()) return CutPiece{};
    CutPiece p = std::move(spare_.back());
    spare_.pop_back();
    p.pattern.clear();
    p.cutting.clear();
    return p;
  }

  // The affine output of stage st that group g's winner index (in `pattern`) selects.
  static int64_t winner(const StageView<double>& st, const std::vector<uint64_t>& pattern,
                        int64_t g) {
    int64_t pos = st.bit_offset;
    for (int64_t h = 0; h < g; ++h) pos += st.group_bits[h];
    int64_t w = 0;
    for (int32_t b = 0; b < st.group_bits[g]; ++b) w |= int64_t(test_bit(pattern, pos + b)) << b;
    return st.group_index[st.group_offsets[g] + w];
  }

  // Splits the region into the cells where each group's candidates win, group after group:
  // candidate i of a group keeps {h_i > h_j, j < i} and {h_j <= h_i, j > i} (ties go to the
  // first candidate), so only comparisons that decide a winner ever cut.
  template <class Emit>
  void split_by_max_groups(Node<Cell>& node, int64_t k, const ZBlock& z, Emit&& emit) {
    const StageView<double>& st = net_.stages[k];
    struct Piece {
      Cell cell;
      std::vector<uint64_t> pattern;
    };
    std::vector<Piece> pieces, next;
    pieces.push_back(Piece{std::move(node.cell), std::move(node.pattern)});
    std::vector<double> diff(size_t(D + 1));
    LineCoeffs line{diff.data(), 1, box_size_, -1, axis_extent_};
    Cell parts[2];
    int64_t pos = st.bit_offset;
    for (int64_t g = 0; g < st.n_groups; ++g) {
      const int64_t b = st.group_offsets[g], kk = st.group_offsets[g + 1] - b;
      const int32_t nb = st.group_bits[g];
      if (kk == 1) continue;
      next.clear();
      for (Piece& piece : pieces) {
        // Candidates that win at a corner come first in every comparison: most others lose
        // to one of them on the whole cell, after a single test.
        order_.clear();
        for_each_corner(piece.cell, [&](const double* x) {
          int64_t best = 0;
          double best_v = -HUGE_VAL;
          for (int64_t i = 0; i < kk; ++i) {
            const int64_t o = st.group_index[b + i];
            double v = z[size_t(D * st.out + o)];
            for (int c = 0; c < D; ++c) v += z[size_t(c * st.out + o)] * x[c];
            if (v > best_v) best_v = v, best = i;
          }
          if (std::find(order_.begin(), order_.end(), best) == order_.end()) order_.push_back(best);
        });
        const size_t n_first = order_.size();
        for (int64_t j = 0; j < kk; ++j)
          if (std::find(order_.begin(), order_.begin() + long(n_first), j) == order_.begin() + long(n_first))
            order_.push_back(j);
        for (int64_t i = 0; i < kk; ++i) {
          const Cell* cell = &piece.cell;  // copied only once a comparison cuts it
          Cell owned;
          bool alive = true;
          for (size_t q = 0; q < order_.size() && alive; ++q) {
            const int64_t j = order_[q];
            if (j == i) continue;
            // The line h_hi - h_lo; candidate i keeps its positive side when j < i.
            const bool keep_positive = j < i;
            const int64_t hi = st.group_index[b + (keep_positive ? i : j)];
            const int64_t lo = st.group_index[b + (keep_positive ? j : i)];
            for (int c = 0; c <= D; ++c) diff[size_t(c)] = z[size_t(c * st.out + hi)] - z[size_t(c * st.out + lo)];
            line.id = max_comparison_id(pos, i, j);
            const Side side = cell->classify(line);
            if (side == Side::cut) {
              cell->split(line, parts[0], parts[1]);
              owned = std::move(parts[keep_positive ? 1 : 0]);
              cell = &owned;
            } else if ((side == Side::positive) != keep_positive) {
              alive = false;
            }
          }
          if (!alive) continue;
          Piece child{cell == &owned ? std::move(owned) : piece.cell, piece.pattern};
          for (int32_t bit = 0; bit < nb; ++bit)
            if ((i >> bit) & 1) set_bit(child.pattern, pos + bit);
          next.push_back(std::move(child));
        }
      }
      pieces.swap(next);
      pos += nb;
    }
    for (Piece& piece : pieces) emit(std::move(piece.cell), piece.pattern);
  }

  // A region of the whole network: its output map is the last stage's activation of z.
  void emit_final(Cell& cell, const std::vector<uint64_t>& pattern, const ZBlock& z, int64_t k,
                  RegionSink<Cell>& sink) const {
    const StageView<double>& st = net_.stages[k];
    if (st.n_groups > 0) {  // the winners' maps
      for (int64_t g = 0; g < st.n_groups; ++g) {
        const int64_t j = winner(st, pattern, g);
        for (int c = 0; c <= D; ++c) {
          const double m = z[size_t(c * st.out + j)];
          if (!std::isfinite(m)) throw_overflow(k);
          sink.maps.push_back(m);
        }
      }
      sink.patterns.insert(sink.patterns.end(), pattern.begin(), pattern.end());
      sink.add_cell(cell);
      return;
    }
    const auto& pos = info_[size_t(k)].kinked_pos;
    for (int64_t o = 0; o < st.out; ++o) {
      const int32_t p = pos[size_t(o)];
      const double act = p < 0 || test_bit(pattern, st.bit_offset + p) ? 1.0 : st.slope[o];
      for (int c = 0; c <= D; ++c) {
        const double m = act * z[size_t(c * st.out + o)];
        if (!std::isfinite(m)) throw_overflow(k);
        sink.maps.push_back(m);
      }
    }
    sink.patterns.insert(sink.patterns.end(), pattern.begin(), pattern.end());
    sink.add_cell(cell);
  }

  const NetView<double>& net_;
  const std::vector<StageInfo>& info_;
  const std::vector<double>& basis_;
  double box_size_;  // largest |coordinate| of the slice's box
  const double* axis_extent_;  // per axis (boxes of polytopes), or null
  RegionCounter& counter_;
  const double* bias_scale_;
  std::vector<double> inputs_, products_;  // batch scratch
  std::vector<Plan> plans_;
  std::vector<Side> sides_;  // every neuron's side of the region being cut
  std::vector<double> act_;  // activation slopes of the region's previous stage
  std::vector<std::shared_ptr<const ZBlock>> maps_;
  std::vector<int64_t> gemm_nodes_;
  std::vector<int64_t> order_;  // a max group's candidates in the order they are compared
  std::vector<CutPiece> stack_, spare_;
  Cell parts_[2];
};

// Per-stage lookups for the engine: kinked positions and transposed weights.
inline std::vector<StageInfo> stage_info(const NetView<double>& view) {
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
  return info;
}

// Runs the whole subdivision from `level` (root regions waiting for stage 0): breadth first
// on the calling thread until there are enough regions to share out, then depth first in
// contiguous runs of them, one task each. The split into tasks does not depend on the
// thread count, so neither does the output (the sinks, in order).
template <class Cell>
std::vector<RegionSink<Cell>> subdivide_all(const NetView<double>& view, const std::vector<StageInfo>& info,
                                            std::vector<Node<Cell>> level, const std::vector<double>& basis,
                                            double box_size, RegionCounter& counter, const double* bias_scale,
                                            int threads, const InterruptCheck& interrupted,
                                            const RegionSink<Cell>& blank = RegionSink<Cell>{},
                                            const double* axis_extent = nullptr) {
  constexpr int64_t kRootsToShare = 64;  // regions before the depth-first phase starts
  constexpr int64_t kTasks = 512;        // contiguous runs of them, handed out dynamically
  threads = std::max(1, threads);
  std::vector<RegionSink<Cell>> sinks(1, blank);
  int64_t stage = 0;
  parallel_tasks(1, 1, [&](int, int64_t, Checkpoint& checkpoint) {
    Subdivider<Cell> sub(view, info, basis, box_size, counter, bias_scale, axis_extent);
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
  if (!level.empty()) {
    const int64_t n = int64_t(level.size());
    const int64_t n_tasks = std::min<int64_t>(n, kTasks);
    sinks.resize(size_t(1 + n_tasks), blank);
    std::vector<std::unique_ptr<Subdivider<Cell>>> subs(static_cast<size_t>(threads));
    parallel_tasks(n_tasks, threads, [&](int t, int64_t task, Checkpoint& checkpoint) {
      if (!subs[size_t(t)])
        subs[size_t(t)] = std::make_unique<Subdivider<Cell>>(view, info, basis, box_size, counter, bias_scale, axis_extent);
      const int64_t begin = n * task / n_tasks, end = n * (task + 1) / n_tasks;
      std::vector<Node<Cell>> roots(std::make_move_iterator(level.begin() + begin),
                                    std::make_move_iterator(level.begin() + end));
      subs[size_t(t)]->run(std::move(roots), stage, sinks[size_t(1 + task)], checkpoint);
    }, interrupted);
  }
  return sinks;
}

}  // namespace regionlab::geometry::detail
