// The C++ side of PLNet: affine stages with per-neuron (leaky) ReLU / identity activations.
#pragma once
#include <cstdint>
#include <vector>

namespace regionlab {

// Raw view of one stage, as the ISA-specific kernels see it (plain data, no methods, so
// that kernels compiled for different instruction sets share no inline code).
template <class T>
struct StageView {
  const T* weight;          // (out, in) row-major
  const T* bias;            // (out)
  const T* slope;           // (out) negative slope; 1 = identity (no kink)
  const int32_t* kinked;    // indices of kinked neurons, or nullptr when all are kinked
  int64_t in, out;
  int64_t n_kinked;         // number of pattern bits this stage contributes
  int64_t bit_offset;       // position of its first bit in the pattern
  bool all_relu;            // every slope is 0: activation is max(h, 0)
};

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
  Network(const std::vector<const T*>& weights, const std::vector<const T*>& biases,
          const std::vector<const double*>& slopes, const std::vector<int64_t>& widths);

  const NetView<T>& view() const { return view_; }
  // The same network truncated after its last stage with a kinked neuron (enough for patterns).
  const NetView<T>& pattern_view() const { return pattern_view_; }
  int64_t input_dim() const { return widths_.front(); }
  int64_t output_dim() const { return widths_.back(); }
  int64_t max_width() const;
  int64_t n_bits() const { return view_.n_bits; }
  int64_t n_words() const { return view_.n_words; }
  // Cumulative bit counts at the end of each stage that has kinked neurons.
  const std::vector<int64_t>& prefix_bits() const { return prefix_bits_; }

 private:
  std::vector<int64_t> widths_;
  std::vector<std::vector<T>> weight_, bias_, slope_;
  std::vector<std::vector<int32_t>> kinked_;
  std::vector<StageView<T>> stage_views_;
  std::vector<int64_t> prefix_bits_;
  NetView<T> view_{}, pattern_view_{};
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace regionlab
