// The full-batch forward/backward pass: the one hot loop of gradient flow and GD.
// Compiled once per instruction set (like the block kernels) and chosen at run time.
#pragma once
#include <cstdint>
#include <vector>

#include "problem.hpp"

namespace regionlab::flow {

// Output of one pass plus block-sized scratch. The samples go through the whole network
// (forward, loss, backward) one cache-sized block of rows at a time, so only Z is kept
// for every sample. No Eigen types here: the kernels rename Eigen's namespace per ISA.
struct BatchWorkspace {
  std::vector<std::vector<double>> Z;       // per layer n x width pre-activations
  std::vector<double> sample_loss, margin;  // n
  std::vector<double> dF;                   // n x out: dloss_i/dF (filled when out != null)
  double loss = 0;                          // mean sample loss
  // Scratch for one block of `block` rows.
  int64_t block = 0;
  std::vector<std::vector<double>> A, S;    // per layer block x width activations / slopes
  std::vector<double> D0, D1;               // block x max width: dL/dz of a layer

  explicit BatchWorkspace(const FlowProblem& p);
};

// mask: per layer n x width slopes to use (null: slopes from the sign of z, z > 0 active,
// as torch's autograd does). out: when non-null receives -precond * grad L.
// Always fills ws.Z, ws.loss, ws.sample_loss, ws.margin.
using BatchGradientFn = void (*)(const FlowProblem& p, BatchWorkspace& ws, const double* theta,
                                 const std::vector<std::vector<double>>* mask, double* out);

BatchGradientFn batch_gradient();

}  // namespace regionlab::flow
