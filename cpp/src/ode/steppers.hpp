// The ODE layer: Runge-Kutta steppers (Dormand-Prince 5(4) with dense output,
// Bogacki-Shampine 3(2), RK4, Euler), their error norm, step-size control and starting
// step, templated on the field. A Field provides rhs(y, f) (a full evaluation: the step's
// end), stage_rhs(y, f) (a Runge-Kutta stage) and mark_step_end(); the data-driven flow
// (cpp/src/flow) and the population flow (cpp/src/population) both drive these.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dense_output.hpp"
#include "regionlab/flow/integrate.hpp"

namespace regionlab::ode {

using Method = flow::Method;

// Dormand-Prince 5(4) coefficients (Hairer, Norsett & Wanner, Table II.5.2).
constexpr double c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9;
constexpr double a21 = 1.0 / 5;
constexpr double a31 = 3.0 / 40, a32 = 9.0 / 40;
constexpr double a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
constexpr double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                 a54 = -212.0 / 729;
constexpr double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247,
                 a64 = 49.0 / 176, a65 = -5103.0 / 18656;
constexpr double a71 = 35.0 / 384, a73 = 500.0 / 1113, a74 = 125.0 / 192,
                 a75 = -2187.0 / 6784, a76 = 11.0 / 84;
// Error coefficients: 5th-order minus embedded 4th-order weights.
constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920,
                 e5 = -17253.0 / 339200, e6 = 22.0 / 525, e7 = -1.0 / 40;
// Dense output (Hairer's DOPRI5 continuous extension).
constexpr double d1 = -12715105075.0 / 11282082432, d3 = 87487479700.0 / 32700410799,
                 d4 = -10690763975.0 / 1880347072, d5 = 701980252875.0 / 199316789632,
                 d6 = -1453857185.0 / 822651844, d7 = 69997945.0 / 29380423;

// RMS of v / (atol + rtol |y|) over `count` entries (0: all). Frozen parameters (precond
// 0) have v = 0 exactly: counting only the trained ones keeps the tolerance theirs.
inline double scaled_norm(const std::vector<double>& v, const std::vector<double>& y, double rtol,
                   double atol, size_t count = 0) {
  double s = 0;
  for (size_t k = 0; k < v.size(); ++k) {
    const double r = v[k] / (atol + rtol * std::abs(y[k]));
    s += r * r;
  }
  return std::sqrt(s / double(count ? count : v.size()));
}

// Bogacki-Shampine 3(2) (Hairer, Norsett & Wanner II.4): three new stages and FSAL.
constexpr double bs_a21 = 1.0 / 2, bs_a32 = 3.0 / 4;
constexpr double bs_b1 = 2.0 / 9, bs_b2 = 1.0 / 3, bs_b3 = 4.0 / 9;
constexpr double bs_e1 = -5.0 / 72, bs_e2 = 1.0 / 12, bs_e3 = 1.0 / 9, bs_e4 = -1.0 / 8;

using Vec = std::vector<double>;

// Stage and error buffers of one step.
struct StepWork {
  Vec tmp, k2, k3, k4, k5, k6, err, ymax;
  size_t trained;  // parameters with a nonzero preconditioner
  StepWork(size_t np, const std::vector<double>& precond)
      : tmp(np), k2(np), k3(np), k4(np), k5(np), k6(np), err(np), ymax(np),
        trained(size_t(std::count_if(precond.begin(), precond.end(),
                                     [](double c) { return c != 0.0; }))) {}
};

inline double error_norm(const Vec& y, const Vec& y1, StepWork& w, double rtol, double atol) {
  for (size_t k = 0; k < y.size(); ++k) w.ymax[k] = std::max(std::abs(y[k]), std::abs(y1[k]));
  return scaled_norm(w.err, w.ymax, rtol, atol, w.trained);
}

// A step of h from (y, f0 = f(y)): y1, f1 = f(y1) (the field's last full evaluation, so
// its pre-activations are at y1), the dense output; returns the scaled error norm (0 for
// the fixed-step methods).
template <class Field>
double dopri5_step(Field& field, const Vec& y, const Vec& f0, double h, Vec& y1, Vec& f1,
                   StepWork& w, DenseOutput& dense, double rtol, double atol) {
  const size_t P = y.size();
  for (size_t k = 0; k < P; ++k) w.tmp[k] = y[k] + h * a21 * f0[k];
  field.stage_rhs(w.tmp.data(), w.k2.data());
  for (size_t k = 0; k < P; ++k) w.tmp[k] = y[k] + h * (a31 * f0[k] + a32 * w.k2[k]);
  field.stage_rhs(w.tmp.data(), w.k3.data());
  for (size_t k = 0; k < P; ++k) w.tmp[k] = y[k] + h * (a41 * f0[k] + a42 * w.k2[k] + a43 * w.k3[k]);
  field.stage_rhs(w.tmp.data(), w.k4.data());
  for (size_t k = 0; k < P; ++k)
    w.tmp[k] = y[k] + h * (a51 * f0[k] + a52 * w.k2[k] + a53 * w.k3[k] + a54 * w.k4[k]);
  field.stage_rhs(w.tmp.data(), w.k5.data());
  for (size_t k = 0; k < P; ++k)
    w.tmp[k] = y[k] + h * (a61 * f0[k] + a62 * w.k2[k] + a63 * w.k3[k] + a64 * w.k4[k] + a65 * w.k5[k]);
  field.stage_rhs(w.tmp.data(), w.k6.data());
  for (size_t k = 0; k < P; ++k)
    y1[k] = y[k] + h * (a71 * f0[k] + a73 * w.k3[k] + a74 * w.k4[k] + a75 * w.k5[k] + a76 * w.k6[k]);
  field.rhs(y1.data(), f1.data());
  field.mark_step_end();
  for (size_t k = 0; k < P; ++k)
    w.err[k] = h * (e1 * f0[k] + e3 * w.k3[k] + e4 * w.k4[k] + e5 * w.k5[k] + e6 * w.k6[k] + e7 * f1[k]);
  // c2..c5 are implied by the a_ij rows (each row sums to its c).
  (void)c2; (void)c3; (void)c4; (void)c5;
  dense.quartic = true;
  dense.cubic = false;
  for (size_t k = 0; k < P; ++k) {
    const double dy = y1[k] - y[k], bspl = h * f0[k] - dy;
    dense.r1[k] = y[k];
    dense.r2[k] = dy;
    dense.r3[k] = bspl;
    dense.r4[k] = dy - h * f1[k] - bspl;
    dense.r5[k] = h * (d1 * f0[k] + d3 * w.k3[k] + d4 * w.k4[k] + d5 * w.k5[k] + d6 * w.k6[k] + d7 * f1[k]);
  }
  return error_norm(y, y1, w, rtol, atol);
}

// The cubic Hermite interpolant through (y, f0) and (y1, f1): third order.
inline void hermite_dense(const Vec& y, const Vec& f0, const Vec& y1, const Vec& f1, double h,
                   DenseOutput& dense) {
  dense.quartic = false;
  dense.cubic = true;
  for (size_t k = 0; k < y.size(); ++k) {
    const double dy = y1[k] - y[k], bspl = h * f0[k] - dy;
    dense.r1[k] = y[k]; dense.r2[k] = dy; dense.r3[k] = bspl; dense.r4[k] = dy - h * f1[k] - bspl;
  }
}

template <class Field>
double bs3_step(Field& field, const Vec& y, const Vec& f0, double h, Vec& y1, Vec& f1,
                StepWork& w, DenseOutput& dense, double rtol, double atol) {
  const size_t P = y.size();
  for (size_t k = 0; k < P; ++k) w.tmp[k] = y[k] + h * bs_a21 * f0[k];
  field.stage_rhs(w.tmp.data(), w.k2.data());
  for (size_t k = 0; k < P; ++k) w.tmp[k] = y[k] + h * bs_a32 * w.k2[k];
  field.stage_rhs(w.tmp.data(), w.k3.data());
  for (size_t k = 0; k < P; ++k) y1[k] = y[k] + h * (bs_b1 * f0[k] + bs_b2 * w.k2[k] + bs_b3 * w.k3[k]);
  field.rhs(y1.data(), f1.data());
  field.mark_step_end();
  for (size_t k = 0; k < P; ++k)
    w.err[k] = h * (bs_e1 * f0[k] + bs_e2 * w.k2[k] + bs_e3 * w.k3[k] + bs_e4 * f1[k]);
  hermite_dense(y, f0, y1, f1, h, dense);
  return error_norm(y, y1, w, rtol, atol);
}

template <class Field>
void rk4_step(Field& field, const Vec& y, const Vec& f0, double h, Vec& y1, Vec& f1,
              StepWork& w, DenseOutput& dense) {
  const size_t P = y.size();
  for (size_t k = 0; k < P; ++k) w.tmp[k] = y[k] + 0.5 * h * f0[k];
  field.stage_rhs(w.tmp.data(), w.k2.data());
  for (size_t k = 0; k < P; ++k) w.tmp[k] = y[k] + 0.5 * h * w.k2[k];
  field.stage_rhs(w.tmp.data(), w.k3.data());
  for (size_t k = 0; k < P; ++k) w.tmp[k] = y[k] + h * w.k3[k];
  field.stage_rhs(w.tmp.data(), w.k4.data());
  for (size_t k = 0; k < P; ++k) y1[k] = y[k] + h / 6.0 * (f0[k] + 2 * w.k2[k] + 2 * w.k3[k] + w.k4[k]);
  field.rhs(y1.data(), f1.data());
  field.mark_step_end();
  hermite_dense(y, f0, y1, f1, h, dense);
}

template <class Field>
void euler_step(Field& field, const Vec& y, const Vec& f0, double h, Vec& y1, Vec& f1,
                DenseOutput& dense) {
  for (size_t k = 0; k < y.size(); ++k) y1[k] = y[k] + h * f0[k];
  field.rhs(y1.data(), f1.data());
  field.mark_step_end();
  dense.quartic = dense.cubic = false;
  for (size_t k = 0; k < y.size(); ++k) { dense.r1[k] = y[k]; dense.r2[k] = y1[k] - y[k]; }
}

// Step sizes of the adaptive methods, and which one to take next. "dopri5" takes
// Dormand-Prince steps, and Bogacki-Shampine steps (3 evaluations instead of 6) where the
// kinks cut the pieces so short that a step ends at the next kink long before its error
// would limit it: the method with fewer expected evaluations per unit time wins, the time
// to the next kink modelled as exponential with the recent mean gap. Each method's step
// size comes from its own error estimates; one that has not run for a while has its
// estimate raised to an optimistic guess, so that a stale one does not lock it out.
// A step this far below the run's time scale (the time reached, or 1, or the horizon asked
// for when that is shorter) no longer moves the state: the solution is blowing up. A flow
// rescaled to a tiny t_end is judged as the original; a long horizon does not raise the
// bar before its time.
inline bool step_collapsed(double h, double t, double t_end) {
  return h < 1e-14 * std::max(std::abs(t), std::min(1.0, std::abs(t_end)));
}

class StepControl {
 public:
  StepControl(Method method, double h0) : method_(method), h5_(h0), h3_(0.5 * h0) {}

  Method next(double t) const {
    if (method_ != Method::dopri5 || events_ < 4) return method_;
    const double gap = std::max(mean_gap_, t - last_event_);
    auto rate = [gap](double stages, double h) { return stages / (gap * -std::expm1(-h / gap)); };
    return rate(3, h3_) < rate(6, h5_) ? Method::bs3 : Method::dopri5;
  }
  double step(Method m) const { return m == Method::bs3 ? h3_ : h5_; }
  // After a step of h with error norm enorm (<= 1: accepted); returns false on rejection.
  // limited: h was cut short of step(m) for another reason (aimed at an event), so its
  // success says nothing against the longer step.
  bool update(Method m, double h, double enorm, bool limited = false) {
    double& hm = m == Method::bs3 ? h3_ : h5_;
    const double expo = m == Method::bs3 ? -1.0 / 3 : -0.2;
    if (!(enorm <= 1.0)) {
      hm = h * (std::isfinite(enorm) ? std::max(0.2, 0.9 * std::pow(enorm, expo)) : 0.2);
      rejected_ = true;
      return false;
    }
    const double fac = enorm > 0 ? 0.9 * std::pow(enorm, expo) : 10.0;
    const double next = h * std::min(rejected_ ? 1.0 : 10.0, std::max(0.2, fac));
    hm = limited ? std::max(hm, next) : next;
    rejected_ = false;
    since_bs3_ = m == Method::bs3 ? 0 : since_bs3_ + 1;
    if (since_bs3_ >= 16 && mean_gap_ < h5_) {
      h3_ = std::max(h3_, 0.5 * h5_);
      since_bs3_ = 0;
    }
    return true;
  }
  void event(double t) {
    const double gap = t - last_event_;
    mean_gap_ = events_ == 0 ? gap : 0.7 * mean_gap_ + 0.3 * gap;
    last_event_ = t;
    ++events_;
  }

 private:
  Method method_;
  double h5_, h3_;
  double mean_gap_ = 0, last_event_ = 0;
  int64_t events_ = 0, since_bs3_ = 0;
  bool rejected_ = false;
};

// Hairer's starting step for a method of order `order`: one explicit Euler probe.
template <class Field>
double starting_step(Field& field, const Vec& y, const Vec& f0, double t_end, double rtol,
                     double atol, int order, StepWork& w) {
  const double n0 = scaled_norm(y, y, rtol, atol), n1 = scaled_norm(f0, y, rtol, atol, w.trained);
  double h0 = (n0 < 1e-5 || n1 < 1e-5) ? 1e-6 : 0.01 * n0 / n1;
  h0 = std::min(h0, t_end);
  for (size_t k = 0; k < y.size(); ++k) w.tmp[k] = y[k] + h0 * f0[k];
  field.stage_rhs(w.tmp.data(), w.k2.data());  // no pair slides at t = 0: nothing to undo
  for (size_t k = 0; k < y.size(); ++k) w.err[k] = (w.k2[k] - f0[k]) / h0;
  const double n2 = scaled_norm(w.err, y, rtol, atol, w.trained);
  const double h1 = std::max(n1, n2) <= 1e-15 ? std::max(1e-6, h0 * 1e-3)
                                             : std::pow(0.01 / std::max(n1, n2), 1.0 / (order + 1));
  return std::min(100 * h0, h1);
}


}  // namespace regionlab::ode
