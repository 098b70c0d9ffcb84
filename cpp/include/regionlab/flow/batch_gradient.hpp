// The full-batch forward/backward pass: the one hot loop of gradient flow and GD.
// The row kernel is compiled once per instruction set (like the block kernels) and chosen
// at run time; rows are split over a small pool of persistent threads.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "problem.hpp"

namespace regionlab::flow {

class SpinPool;

// Rows of the kernels' buffers are padded to a multiple of this many doubles (the widest
// vector), so every ISA reads and writes whole vectors there.
constexpr int64_t kRowPad = 8;
inline int64_t padded_row(int64_t n) { return (n + kRowPad - 1) / kRowPad * kRowPad; }

// The activation slopes a pass uses instead of those from the sign of z (the flow holds
// them fixed between kinks): one bit per (sample, neuron) pair, 1 for slope 1 and 0 for
// the neuron's negative slope, and the few pairs with another slope (held on their kink),
// whose bit must be 1. Bits, not doubles: the pass reads them for every pair.
struct SlopeMask {
  struct Fixed {
    int64_t layer, sample, neuron;
    double s;
  };
  std::vector<std::vector<uint8_t>> bits;  // per layer: n rows of row_bytes(layer) bytes
  std::vector<Fixed> fixed;                // sorted by sample
  std::vector<int64_t> width;

  SlopeMask() = default;
  explicit SlopeMask(const FlowProblem& p);
  int64_t row_bytes(int64_t layer) const { return padded_row(width[layer]) / 8; }
  void set(int64_t layer, int64_t sample, int64_t neuron, bool slope_one) {
    uint8_t& b = bits[layer][sample * row_bytes(layer) + neuron / 8];
    const uint8_t m = uint8_t(1u << (neuron % 8));
    b = slope_one ? uint8_t(b | m) : uint8_t(b & ~m);
  }
};

// Per-thread scratch for one block of `block` rows, and the thread's partial sums. Rows of
// every buffer here are padded to a multiple of 8 doubles (whole vectors), pad lanes 0.
struct BlockScratch {
  std::vector<std::vector<double>> A;     // per layer: block x width activations
  std::vector<std::vector<uint8_t>> bits; // per layer: the sign slopes' bits (as SlopeMask)
  std::vector<double> D0, D1;             // block x max width: dL/dz of a layer
  std::vector<double> F;                  // block x out: the outputs, unpadded, for the loss
  // Partial gradient, per layer: weights as in x out (transposed) when out > 1, as one
  // padded row when out == 1; biases as one padded row.
  std::vector<std::vector<double>> gW, gb;
  // The weights, laid out for the kernels by each thread at the start of a pass (its own
  // copy: a helper core reading the caller's fresh copy would wait on cache transfers).
  std::vector<std::vector<double>> Wt;      // per layer with out > 1: W^T, in x out
  std::vector<std::vector<double>> Wp;      // per layer after the first, or with out == 1: W, out x in
  std::vector<std::vector<double>> bias;    // per layer: b (zeros without a bias)
  double loss = 0;                        // partial sum of sample losses
};

// Output of one pass. The samples go through the whole network (forward, loss, backward)
// one cache-sized block of rows at a time, so only Z is kept for every sample. No Eigen
// types here: the kernels rename Eigen's namespace per instruction set.
struct BatchWorkspace {
  std::vector<std::vector<double>> Z;       // per layer n x width pre-activations
  std::vector<double> sample_loss, margin;  // n (filled when need_loss)
  std::vector<double> dF;                   // n x out: dloss_i/dF (filled when out != null)
  double loss = 0;                          // mean sample loss (when need_loss)
  // false: skip the sample losses and margins (the flow's field needs only dloss/dF).
  bool need_loss = true;
  // false: leave Z as it is (a Runge-Kutta stage needs only the gradient).
  bool keep_z = true;
  int64_t block = 0;                        // rows per block
  std::vector<std::vector<double>> alpha;   // per layer: negative slopes (pad lanes 0)
  std::vector<BlockScratch> scratch;        // one per thread
  std::shared_ptr<SpinPool> pool;           // null: single-threaded
  int active = 1;                           // threads in use (<= scratch.size())

  // threads <= 0: regionlab::num_threads(); fewer are used when there are few blocks.
  explicit BatchWorkspace(const FlowProblem& p, int threads = 0);
  ~BatchWorkspace();
};

// mask: the slopes to use (null: slopes from the sign of z, z > 0 active, as torch's
// autograd does). out: when non-null receives -precond * grad L.
// Fills ws.Z when ws.keep_z, ws.loss / sample_loss / margin when ws.need_loss.
using BatchGradientFn = void (*)(const FlowProblem& p, BatchWorkspace& ws, const double* theta,
                                 const SlopeMask* mask, double* out);

BatchGradientFn batch_gradient();

// With more than one thread available: time a few passes with one thread and with all,
// and keep the faster (a second thread is a loss when another process holds that core).
void autotune_threads(const FlowProblem& p, BatchWorkspace& ws, const double* theta,
                      const SlopeMask* mask);

// The per-ISA kernel: rows [r_begin, r_end) with the weights in sc.Wt / Wp / bias; when
// `gradient`, sc.gW / sc.gb receive the rows' gradient (zeroed here, not preconditioned);
// sample-loss sum into sc.loss when ws.need_loss.
using BatchRowsFn = void (*)(const FlowProblem& p, BatchWorkspace& ws, BlockScratch& sc,
                             const SlopeMask* mask, bool gradient, int64_t r_begin,
                             int64_t r_end);

}  // namespace regionlab::flow
