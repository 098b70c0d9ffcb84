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

// Per-thread scratch for one block of `block` rows, and the thread's partial sums.
struct BlockScratch {
  std::vector<std::vector<double>> A, S;  // per layer block x width activations / slopes
  std::vector<double> D0, D1;             // block x max width: dL/dz of a layer
  std::vector<double> grad;               // partial gradient (threads other than 0)
  double loss = 0;                        // partial sum of sample losses
};

// Output of one pass. The samples go through the whole network (forward, loss, backward)
// one cache-sized block of rows at a time, so only Z is kept for every sample. No Eigen
// types here: the kernels rename Eigen's namespace per instruction set.
struct BatchWorkspace {
  std::vector<std::vector<double>> Z;       // per layer n x width pre-activations
  std::vector<double> sample_loss, margin;  // n
  std::vector<double> dF;                   // n x out: dloss_i/dF (filled when out != null)
  double loss = 0;                          // mean sample loss
  int64_t block = 0;                        // rows per block
  std::vector<BlockScratch> scratch;        // one per thread
  std::shared_ptr<SpinPool> pool;           // null: single-threaded
  int active = 1;                           // threads in use (<= scratch.size())

  // threads <= 0: regionlab::num_threads(); fewer are used when there are few blocks.
  explicit BatchWorkspace(const FlowProblem& p, int threads = 0);
  ~BatchWorkspace();
};

// mask: per layer n x width slopes to use (null: slopes from the sign of z, z > 0 active,
// as torch's autograd does). out: when non-null receives -precond * grad L.
// Always fills ws.Z, ws.loss, ws.sample_loss, ws.margin.
using BatchGradientFn = void (*)(const FlowProblem& p, BatchWorkspace& ws, const double* theta,
                                 const std::vector<std::vector<double>>* mask, double* out);

BatchGradientFn batch_gradient();

// With more than one thread available: time a few passes with one thread and with all,
// and keep the faster (a second thread is a loss when another process holds that core).
void autotune_threads(const FlowProblem& p, BatchWorkspace& ws, const double* theta,
                      const std::vector<std::vector<double>>* mask);

// The per-ISA kernel: rows [r_begin, r_end) (whole blocks), gradient accumulated into
// grad (not preconditioned) when non-null, sample-loss sum into sc.loss.
using BatchRowsFn = void (*)(const FlowProblem& p, BatchWorkspace& ws, BlockScratch& sc,
                             const double* theta, const std::vector<std::vector<double>>* mask,
                             double* grad, int64_t r_begin, int64_t r_end);

}  // namespace regionlab::flow
