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
#include "screen.hpp"

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
  // d(dz/dt)/ds at the last solve: the kink attracts the pair from both sides while
  // gain * (1 - alpha) < 0; past that the slide goes on as an unstable solution.
  double gain = 0;
  bool repelled = false;  // reported once per slide
  // A slope this little outside [lo, hi] (the solve's rounding) still counts as inside,
  // on entering and on leaving alike (else a pair let in there would leave at once).
  double slack() const { return 1e-9 * (hi - lo); }
  // How far s is from leaving through the high (or low) end: < 0 once it has left.
  double room(double s_now, bool high) const {
    return high ? hi + slack() - s_now : s_now - (lo - slack());
  }
  bool inside(double s_now) const { return room(s_now, true) >= 0 && room(s_now, false) >= 0; }
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
  // After an accepted step ending at t: records the slides that no longer attract their
  // pair (the path on from there is one of several Filippov solutions, the unstable one).
  void note_repelling(double t);

  // Aimed steps (aim.cpp; one hidden layer, no tied parameters). Kink crossings of
  // first-layer pairs inside a step switch at the step's end, where the field, the
  // pre-activations and dloss/dF are already known, instead of cutting the step at the
  // first one and evaluating afresh; the state then catches up with the switches (the
  // error left is second order in each one's lateness and kept under kAimShare of the
  // tolerance). Steps are shortened so that the crossings predicted in them qualify.
  static constexpr double kAimShare = 0.2, kLateCap = 20.0, kStiffnessSafety = 16.0;
  void configure_aim(bool on, double rtol, double atol, size_t trained);
  bool aiming() const { return aim_.on; }
  // The next step's length: h, or less so that the crossings predicted in it qualify.
  double aim_step(double t, const double* y, const double* f0, double h);
  // After each step's evaluation at its end, with the step's f0 and f1 (same slopes).
  void note_step(const double* y0, const double* f0, const double* y1, const double* f1,
                 double h, double next_h);
  // Whether every event of the step just taken (end state y1) is a first-layer crossing
  // that can switch at the step's end; if so they are kept for apply_at_step_end.
  bool ends_at_event(const Event& ev, const DenseOutput& dense, double h, const double* y1,
                     const double* f1);
  // Switches them (after advance_to_step_end): f1 becomes the new field, y1 catches up;
  // the events are recorded at their roots.
  void apply_at_step_end(double t0, double h, double* y1, double* f1);
  // After apply_at_step_end: its switches' roots, and the step's dense output made
  // exact again past them: theta(tau) = dense(tau) + sum over roots tau_e < tau of
  // (tau - tau_e) h jump_e (correct_dense adds that to theta); dense_correction gives the
  // same sum over the first `pieces` roots as a + b tau.
  size_t step_switches() const { return batch_.size(); }
  double switch_tau(size_t e) const { return batch_[e].first; }
  void correct_dense(double tau, double h, double* theta) const;
  void dense_correction(size_t pieces, double h, std::vector<double>& a,
                        std::vector<double>& b) const;
  int64_t aimed_steps = 0, end_events = 0;

  int64_t evaluations = 0;
  const FlowProblem& p;

 private:
  struct Aim {
    bool on = false;
    double rtol = 0, atol = 0, lookahead = 0;
    size_t trained = 1;
  } aim_;
  std::vector<int64_t> approach_;  // flat first-layer pairs that may cross next (screen)
  std::vector<double> fdot_;       // d f / dt over the last step (for predictions)
  bool exits_found_ = false;       // the last find_event saw a sliding slope leave
  std::vector<double> f_before_;   // the field before an end-of-step switch
  std::vector<double> catch_up_;   // sum of late * jump over a step's switches
  std::vector<std::vector<double>> jumps_;  // each switch's jump of the field (batch_ order)
  std::vector<double> row_size_;   // per first-layer neuron: how far catch_up moves its row
  std::vector<std::pair<double, PairId>> batch_;   // the step's crossings: root tau, pair
  std::vector<int64_t> neurons_;
  std::vector<std::pair<double, double>> predicted_;  // aim: predicted root, allowed lateness
  double stiffness_ = 0;           // recent |f1 - f0| / |y1 - y0| (the field's secant)
  double allowed_lateness(double rate) const;
  bool switch_at_end(const PairId& q, double t_cross, const double* y1, double* f1);
  bool leaves_cleanly(const PairId& q, const double* y1, const double* f1) const;
  // (x_i, 1)^T P (x_i, 1) on first-layer neuron j's row.
  double p_gain(int64_t j, int64_t i) const;
  // (x_i, 1) . (W_0[j], b_0[j]) read from a vector in theta's layout (theta itself: z of
  // pair (i, 0, j); the field: dz/dt; a dense-output coefficient: that term of z(tau)).
  double first_layer_dot(const double* v, int64_t i, int64_t j) const;
  void catch_up(double* y1);
  void first_layer_poly(const DenseOutput& dense, int64_t i, int64_t j, double c[5]) const;
  // dL/da of first-layer neuron j for sample i at the last evaluation (includes 1/n).
  double first_layer_signal(const double* theta, int64_t i, int64_t j) const;
  // The step error's norm of the field's jump when pair (i, 0, j) switches, per unit time.
  double jump_rate(const double* theta, int64_t i, int64_t j) const;
  void evaluate(const double* theta, double* f, bool keep_z);
  // One pass of the batch kernel with the current slopes (sliding slopes as they stand).
  void run_kernel(const double* theta, double* f, bool keep_z);
  double velocity(const double* theta, const PairId& q, const double* f);
  bool solve_sliding(const double* theta, double* f);
  bool solve_sliding_two_layer(const double* theta, double* f);
  bool solve_sliding_general(const double* theta, double* f);
  // Pair q and its twins (the samples with the same inputs) take this side / slope.
  void set_side(const PairId& q, int side);
  void set_slope(const PairId& q, double s);
  // Records the event for q and for each of its twins.
  void record_event(double t, const PairId& q, int new_state);
  void record_slide(const PairId& q, double t_start, double t_end);
  // Samples with equal inputs have equal pre-activations at every layer for ever, so they
  // cross and slide together: only the first of them (its canonical sample) is screened
  // and solved for, and every change of state is applied to all of them. twins_[i]: the
  // others, for a canonical sample i with any (empty when the data has no duplicates).
  std::vector<std::vector<int64_t>> twins_;
  std::vector<uint8_t> is_twin_;  // 1 for a non-canonical duplicate (never screened)
  void find_twins();
  const std::vector<int64_t>& twins_of(int64_t i) const {
    static const std::vector<int64_t> none;
    return twins_.empty() ? none : twins_[size_t(i)];
  }
  // f(i) for sample i and then for each of its twins.
  template <class F>
  void with_twins(int64_t i, F&& f) const {
    f(i);
    for (int64_t t : twins_of(i)) f(t);
  }
  bool is_twin(int64_t i) const { return !is_twin_.empty() && is_twin_[size_t(i)]; }
  void apply_exit(const Event& ev, double t, const double* theta, double* f);
  // Sliding pairs whose slope a jump of the field pushed out of its interval leave now;
  // true when that took a full evaluation (f and the pre-activations then are new).
  bool release_pushed_out(double t, const double* theta, double* f);
  // After pair q crossed to new_state, f its field at theta: if the field pushes it
  // straight back, it slides on its kink (slope solved, f updated). Returns its state (0:
  // sliding); sets evaluated when the solve failed and f was evaluated afresh.
  int slide_if_pushed_back(const PairId& q, int new_state, double t, const double* theta,
                           double* f, bool& evaluated);

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
  std::vector<ScreenHits> hits_;                // ... per thread
};

}  // namespace regionlab::flow
