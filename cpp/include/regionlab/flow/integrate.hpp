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
  bool keep_dense = false;      // keep every step's dense output (FlowResult::dense_*)
  // Adaptive methods, one hidden layer: end steps just past predicted kink crossings and
  // switch there (no restart evaluation); false: cut every step at its first kink.
  bool aim = true;
};

// Event new_state: +1 the pair became active (z > 0), -1 inactive, 0 it entered sliding.
struct FlowResult {
  std::vector<double> t, loss, params, sample_loss, margin;  // records (row per record)
  std::vector<double> ev_time;
  std::vector<int64_t> ev_sample, ev_layer, ev_neuron, ev_state;
  std::vector<double> sl_start, sl_end;
  std::vector<int64_t> sl_sample, sl_layer, sl_neuron;
  // Slides that turned repelling (first time each, about the end of its step).
  std::vector<double> rep_time;
  std::vector<int64_t> rep_sample, rep_layer, rep_neuron;
  int64_t steps = 0, rejected = 0, evaluations = 0;
  int64_t low_order_steps = 0;  // dopri5: accepted Bogacki-Shampine steps
  int64_t aimed_steps = 0;      // steps shortened to end at a predicted crossing
  int64_t end_events = 0;       // crossings switched at their step's end (no restart)
  // With keep_dense, one row per accepted piece [t0, t1] (a step, cut at its event):
  // theta(t) = r1 + tau (r2 + (1-tau) (r3 + tau (r4 + (1-tau) r5))), tau = (t - t0) / h,
  // r5 = 0 for cubic pieces, r3 = r4 = r5 = 0 for linear ones. dense_coef holds r1..r5,
  // n_params each, per piece.
  std::vector<double> dense_t0, dense_t1, dense_h, dense_coef;
};

struct GdOptions {
  double lr = 0.1;
  int64_t steps = 0, record_every = 1;
  bool events = true;
  int threads = 1;
  double momentum = 0, weight_decay = 0;  // torch.optim.SGD's (dampening 0, no Nesterov)
  // Mini-batches: 0 (or >= n) for full batch. Else step k uses batch k % nb (nb =
  // ceil(n / batch_size)) of epoch k / nb: the samples order[e*n + b*batch_size ...],
  // batch_size of them (fewer in an epoch's last batch); order holds one permutation of
  // [0, n) per epoch, concatenated, for at least ceil(steps / nb) epochs.
  int64_t batch_size = 0;
  std::vector<int64_t> order;
};

FlowResult integrate(const FlowProblem& p, const double* theta0, const IntegrateOptions& opt,
                     const InterruptCheck& interrupted);

// Gradient descent with slopes from the sign of z (torch.optim.SGD's update with
// d = precond * (grad L_batch + weight_decay * theta), buf = momentum * buf + d,
// theta -= lr * buf), recording the full-data loss at every record_every-th step and at
// the last (time k * lr). Events (when asked) are the sign changes over all samples between
// consecutive iterates, stamped with the later time (with mini-batches this costs one
// full-data forward pass per step).
FlowResult gradient_descent(const FlowProblem& p, const double* theta0, const GdOptions& opt,
                            const InterruptCheck& interrupted);

}  // namespace regionlab::flow
