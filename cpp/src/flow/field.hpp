// The right-hand side of gradient flow with an activation mask held fixed between kinks
// (field.cpp), the Filippov sliding solve (sliding.cpp), and finding and applying events
// (events.cpp, field.cpp). Internal to cpp/src/flow; integrate.cpp drives it.
//
// Conventions: a pair (sample, layer, neuron) has side +1 (active, slope 1), -1 (slope
// alpha) or 0 (sliding: slope s solved in [min(alpha,1), max(alpha,1)] so that dz/dt = 0).
#pragma once
#include <cstdint>
#include <vector>

#include "regionlab/flow/batch_gradient.hpp"
#include "regionlab/flow/integrate.hpp"
#include "regionlab/flow/sample_ops.hpp"
#include "../ode/dense_output.hpp"

namespace regionlab::flow {

using ode::DenseOutput;

struct PairId {
  int64_t sample = -1, layer = -1, neuron = -1;
};

// A pair held on its kink: its slope s in [lo, hi] is solved so that dz/dt = 0.
struct SlidingPair {
  PairId pair;
  double s = 0, lo = 0, hi = 1;
  double t_start = 0;
  double s_begin = 0, s_end = 0;  // s at the current step's start and end
};


class FlowField {
 public:
  FlowField(const FlowProblem& p, FlowResult& out, bool record_events, int threads = 1);

  // Active (+1) / inactive (-1) from the sign of z at theta (z > 0 active).
  void init_mask(const double* theta);
  // f = -precond * grad L with the current mask and the sliding slopes solved; also the
  // pre-activations at theta for the event search (stage_rhs: only f, for Runge-Kutta
  // stages and trial points).
  void rhs(const double* theta, double* f) { evaluate(theta, f, true); }
  void stage_rhs(const double* theta, double* f) { evaluate(theta, f, false); }
  void autotune_threads(const double* theta) {
    regionlab::flow::autotune_threads(p, ws_, theta, &slopes_);
  }

  // After an accepted step whose end state was the last rhs() call: the earliest event in
  // the step, as tau in (0, 1], or tau > 1 when there is none.
  struct Event {
    double tau = 2;
    PairId pair;
    int kind = 0;  // 1: sign change of z; 2: a sliding slope leaves its interval
    int64_t slide_index = -1;
    bool exit_high = false;
  };
  Event find_event(const DenseOutput& dense, std::vector<double>& buf);
  // Applies the event at time t, state theta; leaves f = rhs(theta).
  void apply(const Event& ev, double t, const double* theta, double* f);
  // The integrator calls these right after the rhs() at a step's start / end point.
  void mark_step_start();
  void mark_step_end();
  // The step is accepted whole: its end becomes the next start (undoing the slopes any
  // event search left behind).
  void advance_to_step_end();
  // Closes every open sliding interval at t_end.
  void finish(double t_end);

  int64_t evaluations = 0;
  const FlowProblem& p;

 private:
  void evaluate(const double* theta, double* f, bool keep_z);
  // One pass of the batch kernel with the current slopes (sliding slopes as they stand).
  void run_kernel(const double* theta, double* f, bool keep_z);
  double velocity(const double* theta, const PairId& q, const double* f);
  bool solve_sliding(const double* theta, double* f);
  bool solve_sliding_two_layer(const double* theta, double* f);
  bool solve_sliding_general(const double* theta, double* f);
  void set_side(const PairId& q, int side);
  void record_event(double t, const PairId& q, int new_state);
  void apply_exit(const Event& ev, double t, const double* theta, double* f);

  FlowResult& out_;
  bool record_events_;
  BatchGradientFn kernel_;
  BatchWorkspace ws_;
  Mask mask_;           // every pair's slope, for the one-sample passes
  SlopeMask slopes_;    // the same for the batch kernel (bits + the sliding pairs)
  std::vector<std::vector<int8_t>> side_;  // +1 / -1, 0 = sliding
  std::vector<SlidingPair> sliding_;
  SampleTrace trace_;
  std::vector<double> scratch_;
  std::vector<std::vector<double>> u_;     // d f / d s_k of each sliding pair
  std::vector<double> sys_, rhs_;          // the small linear system
  std::vector<double> signal_;             // dL/da at each sliding pair
  std::vector<int64_t> order_;             // sliding pairs sorted by neuron
  std::vector<PairId> crossed_;
  // Pairs that just left a sliding mode: their z is 0 up to rounding, so |z| < zeta on
  // the wrong side does not count as a crossing (it would chatter).
  std::vector<PairId> grace_;
  double zeta_ = 1e-11;
  bool in_grace(const PairId& q) const;
  void screen_step(const DenseOutput& dense);
  void bound_curvature(const DenseOutput& dense);
  void check_dip_first_layer(const DenseOutput& dense, int64_t i, int64_t j);
  void check_dip_deeper(const DenseOutput& dense, int64_t l, int64_t i, int64_t j);
  std::vector<std::vector<double>> z_start_;  // Z at the current step's start
  std::vector<std::pair<PairId, double>> dips_;  // pairs crossing twice in the step, tau
  std::vector<double> curv_, xnorm_, dip_buf_;
  std::vector<std::vector<double>> kinked_;     // per layer, padded: 1 where the neuron has a kink
  std::vector<int64_t> hit_cross_, hit_near_;   // the screen's output
  std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> hits_;  // ... per thread
};

}  // namespace regionlab::flow
