// Gradient flow on the closed-form population loss (kernel.hpp), integrated by the shared
// ODE layer (cpp/src/ode: adaptive Dormand-Prince 5(4) with dense output). The field is
// smooth except where a row reaches 0 or two rows become parallel, a set the flow
// crosses in measure zero; the kernel's documented limits hold there.
#pragma once
#include <cstdint>
#include <vector>

#include "regionlab/parallel.hpp"
#include "regionlab/population/kernel.hpp"

namespace regionlab::population {

struct FlowOptions {
  double t_end = 1;
  double rtol = 1e-8, atol = 1e-10;
  bool train_a = false;
  double c0 = 0;          // the output bias at the start
  bool train_c = false;   // the bias flows too
  int64_t max_steps = 1000000;
  std::vector<double> record_times;  // sorted, in [0, t_end]
};

struct FlowRun {
  std::vector<double> W, a;  // at t_end
  double c = 0;
  double loss = 0, grad_norm = 0;
  int64_t steps = 0, rejected = 0, evaluations = 0;
  std::vector<double> rec_t, rec_loss, rec_grad_norm, rec_W, rec_a, rec_c;
};

FlowRun flow(const Teacher& t, const double* W0, const double* a0, int64_t n, double alpha,
             const FlowOptions& opt, Checkpoint* checkpoint);

std::vector<FlowRun> flow_many(const Teacher& t, const double* W0, const double* a0, int64_t runs,
                               int64_t n, double alpha, const FlowOptions& opt, int threads,
                               const InterruptCheck& interrupted);

}  // namespace regionlab::population
