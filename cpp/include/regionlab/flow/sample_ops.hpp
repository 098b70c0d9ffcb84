// One-sample passes, O(parameters) each: the pre-activation of one neuron, its velocity
// along a parameter direction, and the gradient flowing from one neuron. The event
// location and the sliding-mode solve are built from these.
#pragma once
#include <cstdint>
#include <vector>

#include "problem.hpp"

namespace regionlab::flow {

using Mask = std::vector<std::vector<double>>;  // per layer, n x width slopes

// Pre-activations, slopes and activations of one sample through every layer.
struct SampleTrace {
  std::vector<std::vector<double>> z, s, a;
  int64_t sample = 0;  // which sample was traced (its input row is p.X[sample])
  explicit SampleTrace(const FlowProblem& p);
};

// Forward pass of sample i through layers [0, upto] (all layers when upto < 0). Slopes come
// from mask when non-null, else from the sign of z (z > 0 active).
void trace_sample(const FlowProblem& p, const double* theta, int64_t i, const Mask* mask,
                  SampleTrace& tr, int64_t upto = -1);

// z_{l,j} of sample i with the mask's slopes for the layers below l.
double sample_preact(const FlowProblem& p, const double* theta, int64_t i, int64_t l,
                     int64_t j, const Mask& mask, SampleTrace& tr);

// d z_{l,j} / d theta . v for the sample traced in tr (slopes from the trace).
double preact_velocity(const FlowProblem& p, const double* theta, const SampleTrace& tr,
                       int64_t l, int64_t j, const double* v, std::vector<double>& scratch);

// grad += d(seed * z_{l,j}) / d theta for the traced sample (backprop from one neuron).
void backward_from(const FlowProblem& p, const double* theta, const SampleTrace& tr, int64_t l,
                   int64_t j, double seed, double* grad, std::vector<double>& scratch);

// dL/da_{l,j} of the traced sample (L = mean loss, so this includes the 1/n), by
// backprop from the output through the trace's slopes (tr must cover every layer).
double backprop_signal(const FlowProblem& p, const double* theta, const SampleTrace& tr,
                       int64_t l, int64_t j, std::vector<double>& scratch);

// Per-sample Jacobian of the outputs (sign slopes): J is (n * k) x n_params, row i*k + c.
void output_jacobian(const FlowProblem& p, const double* theta, double* J);

// Per-sample gradient of loss_i (sign slopes): G is n x n_params.
void sample_loss_gradients(const FlowProblem& p, const double* theta, double* G);

}  // namespace regionlab::flow
