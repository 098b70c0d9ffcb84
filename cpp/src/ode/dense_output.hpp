// The continuous extension of one integration step (shared by every field, cpp/src/ode).
#pragma once
#include <cstdint>
#include <vector>

namespace regionlab::ode {

// Dense output of one step: y(t0 + tau h) = r1 + tau (r2 + (1-tau) (r3 + tau (r4 + (1-tau) r5)))
// (Hairer's form; r5 = 0 gives the cubic Hermite interpolant, r3 = r4 = r5 = 0 linear).
struct DenseOutput {
  std::vector<double> r1, r2, r3, r4, r5;
  double t0 = 0, h = 0;
  bool quartic = false, cubic = false;
  void eval(double tau, double* out) const;
  // Only entries [begin, end) of out.
  void eval_range(double tau, double* out, int64_t begin, int64_t end) const;
};

}  // namespace regionlab::ode
