// Gradient descent on the closed-form population loss (kernel.hpp): one run, or many
// independent runs spread over the threads (a census of random initialisations).
#pragma once
#include <cstdint>
#include <vector>

#include "regionlab/parallel.hpp"
#include "regionlab/population/kernel.hpp"

namespace regionlab::population {

struct DescentOptions {
  double lr = 0.1;
  int64_t max_steps = 1000;
  double tol = 0;            // stop once |grad| < tol (0: run every step)
  bool train_a = false;      // also descend on the output weights a
  double c0 = 0;             // the output bias at the start
  bool train_c = false;      // also descend on the output bias
  int64_t record_every = 0;  // keep (loss, W, a) every this many steps (0: start and end only)
};

struct DescentRun {
  std::vector<double> W, a;   // final parameters
  double c = 0;               // final output bias
  double loss = 0, grad_norm = 0;
  int64_t steps = 0;          // steps taken
  bool converged = false;     // |grad| < tol was reached
  std::vector<int64_t> rec_step;
  std::vector<double> rec_loss, rec_grad_norm, rec_W, rec_a, rec_c;
};

// W <- W - lr dF/dW (and a <- a - lr dF/da with train_a) until |grad| < tol or max_steps.
// `checkpoint` (may be null) is called every few hundred steps (Ctrl-C, other failures).
DescentRun descend(const Teacher& t, const double* W0, const double* a0, int64_t n, double alpha,
                   const DescentOptions& opt, Checkpoint* checkpoint);

// runs x (n x d) initial W and runs x n initial a, on `threads` threads; results in run order.
std::vector<DescentRun> descend_many(const Teacher& t, const double* W0, const double* a0,
                                     int64_t runs, int64_t n, double alpha,
                                     const DescentOptions& opt, int threads,
                                     const InterruptCheck& interrupted);

}  // namespace regionlab::population
