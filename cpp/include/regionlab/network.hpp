// The C++ side of PLNet: affine stages, each followed by per-neuron (leaky) ReLU / identity
// activations (a "slope stage") or by max groups (a "max stage": maxout units, max-pool
// windows; each group outputs its largest candidate, its pattern is the winner's index).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "regionlab/linear_operator.hpp"

namespace regionlab {

// Raw view of one stage, as the ISA-specific kernels see it (plain data, no methods, so
// that kernels compiled for different instruction sets share no inline code).
template <class T>
struct StageView {
  const T* weight;          // (out, in) row-major
  const T* bias;            // (out)
  const T* slope;           // (out) negative slope; 1 = identity (no kink)
  const int32_t* kinked;    // indices of kinked neurons, or nullptr when all are kinked
  int64_t in, out;          // out: the affine map's outputs
  int64_t n_kinked;         // number of pattern bits this stage contributes
  int64_t bit_offset;       // position of its first bit in the pattern
  bool all_relu;            // every slope is 0: activation is max(h, 0)
  // Max stage (n_groups > 0): group g's candidates are group_index[group_offsets[g] ..
  // group_offsets[g+1]) (indices into the affine outputs); it outputs their maximum, and
  // writes the winner's position among them (the first on ties, like numpy.argmax) in
  // group_bits[g] = ceil(log2(k_g)) pattern bits, little-endian, groups in order.
  // Slope stages have n_groups = 0 and null group pointers.
  const int64_t* group_offsets;
  const int32_t* group_index;
  const int32_t* group_bits;
  int64_t n_groups;
  // The stage's linear map when it is structured; null: the dense `weight` (see
  // linear_operator.hpp). With an operator, `weight` is null.
  const LinearOperator<T>* op;
};

// Units a stage passes to the next one: its groups, or its affine outputs.
template <class T>
inline int64_t stage_width(const StageView<T>& st) {
  return st.n_groups > 0 ? st.n_groups : st.out;
}

// Bits needed for the winner index of a group of k candidates.
inline int32_t bits_for_candidates(int64_t k) {
  int32_t b = 0;
  while ((int64_t(1) << b) < k) ++b;
  return b;
}

template <class T>
struct NetView {
  const StageView<T>* stages;
  int64_t n_stages;
  int64_t n_bits;   // pattern length
  int64_t n_words;  // 64-bit words per pattern
};

// Owns a copy of the weights; immutable after construction.
template <class T>
class Network {
 public:
  // weights[k] is (out_k, in_k) row-major; biases[k] and slopes[k] have out_k entries.
  // widths = (in_0, out_0, out_1, ...) are the affine maps' sizes. Stage k is a max stage
  // when group_offsets[k] is non-empty (then slopes[k] is ignored and the next stage takes
  // group_offsets[k].size() - 1 inputs); group_offsets/group_index may be empty vectors
  // for a network of slope stages only. ops[k], when given and non-null, is stage k's
  // linear map (weights[k] is then ignored and may be null).
  Network(const std::vector<const T*>& weights, const std::vector<const T*>& biases,
          const std::vector<const double*>& slopes, const std::vector<int64_t>& widths,
          const std::vector<std::vector<int64_t>>& group_offsets = {},
          const std::vector<std::vector<int32_t>>& group_index = {},
          const std::vector<std::shared_ptr<const LinearOperator<T>>>& ops = {});

  const NetView<T>& view() const { return view_; }
  // The same network truncated after its last stage with a kinked neuron (enough for patterns).
  const NetView<T>& pattern_view() const { return pattern_view_; }
  int64_t input_dim() const { return widths_.front(); }
  int64_t output_dim() const { return stage_width(view_.stages[view_.n_stages - 1]); }
  bool has_max_groups() const { return has_max_groups_; }
  int64_t max_width() const;
  int64_t n_bits() const { return view_.n_bits; }
  int64_t n_words() const { return view_.n_words; }
  // Cumulative bit counts at the end of each stage that has kinked neurons.
  const std::vector<int64_t>& prefix_bits() const { return prefix_bits_; }

 private:
  std::vector<int64_t> widths_;
  std::vector<std::vector<T>> weight_, bias_, slope_;
  std::vector<std::vector<int32_t>> kinked_;
  std::vector<std::vector<int64_t>> group_offsets_;
  std::vector<std::vector<int32_t>> group_index_, group_bits_;
  std::vector<std::shared_ptr<const LinearOperator<T>>> ops_;
  bool has_max_groups_ = false;
  std::vector<StageView<T>> stage_views_;
  std::vector<int64_t> prefix_bits_;
  NetView<T> view_{}, pattern_view_{};
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace regionlab
