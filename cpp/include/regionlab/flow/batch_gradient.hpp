// The full-batch forward/backward pass: the one hot loop of gradient flow and GD.
// Compiled once per instruction set (like the block kernels) and chosen at run time.
#pragma once
#include <cstdint>
#include <vector>

#include "problem.hpp"

namespace regionlab::flow {

// Scratch for one pass; per layer n x width buffers. No Eigen types here: the kernels
// rename Eigen's namespace per instruction set.
struct BatchWorkspace {
  std::vector<std::vector<double>> Z;      // pre-activations
  std::vector<std::vector<double>> A;      // layer outputs; layer l reads X (l=0) or A[l-1]
  std::vector<std::vector<double>> E;      // backprop signal before the slope: dL/da
  std::vector<std::vector<double>> slope;  // slopes used (sign mode fills these)
  std::vector<double> D;                   // n x max width scratch: dL/dz of one layer
  std::vector<double> dF;                  // n x out
  std::vector<double> sample_loss, margin; // n
  double loss = 0;                         // mean sample loss

  explicit BatchWorkspace(const FlowProblem& p);
};

// mask: per layer n x width slopes to use (null: slopes from the sign of z, z > 0 active,
// as torch's autograd does). out: when non-null receives -precond * grad L.
// Always fills ws.Z, ws.A, ws.loss, ws.sample_loss, ws.margin.
using BatchGradientFn = void (*)(const FlowProblem& p, BatchWorkspace& ws, const double* theta,
                                 const std::vector<std::vector<double>>* mask, double* out);

BatchGradientFn batch_gradient();

}  // namespace regionlab::flow
