// Exact gradient flow (events at every kink, Filippov sliding) and gradient descent.
#pragma once
#include <cstdint>
#include <vector>

#include "regionlab/parallel.hpp"
#include "problem.hpp"

namespace regionlab::flow {

// dopri5: Dormand-Prince 5(4), with Bogacki-Shampine 3(2) steps where kinks are so dense
// that they are cheaper (see StepControl in integrate.cpp); bs3: Bogacki-Shampine only.
enum class Method { dopri5 = 0, rk4 = 1, euler = 2, bs3 = 3 };

struct IntegrateOptions {
  Method method = Method::dopri5;
  double t_end = 1.0;
  double rtol = 1e-7, atol = 1e-9;
  double step = 0.0;            // fixed step of rk4 / euler; dopri5: first step (0 = auto)
  int64_t max_steps = 1000000;  // accepted + rejected steps
  bool events = true;           // false: keep no event table (kinks are still located)
  int threads = 1;              // batch-gradient threads; 0: up to num_threads(), timed
  std::vector<double> record_times;  // increasing, within [0, t_end]
};

// Event new_state: +1 the pair became active (z > 0), -1 inactive, 0 it entered sliding.
struct FlowResult {
  std::vector<double> t, loss, params, sample_loss, margin;  // records (row per record)
  std::vector<double> ev_time;
  std::vector<int64_t> ev_sample, ev_layer, ev_neuron, ev_state;
  std::vector<double> sl_start, sl_end;
  std::vector<int64_t> sl_sample, sl_layer, sl_neuron;
  int64_t steps = 0, rejected = 0, evaluations = 0;
  int64_t low_order_steps = 0;  // dopri5: accepted Bogacki-Shampine steps
};

FlowResult integrate(const FlowProblem& p, const double* theta0, const IntegrateOptions& opt,
                     const InterruptCheck& interrupted);

// Gradient descent theta <- theta - lr * precond * grad L with slopes from the sign of z,
// recording at every record_every-th step and at the last (time k * lr). Events (when
// asked) are the sign changes between consecutive iterates, stamped with the later time.
FlowResult gradient_descent(const FlowProblem& p, const double* theta0, double lr,
                            int64_t steps, int64_t record_every, bool events, int threads,
                            const InterruptCheck& interrupted);

}  // namespace regionlab::flow
