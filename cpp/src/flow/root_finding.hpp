// Illinois false position on a bracketed sign change (event location on dense output).
#pragma once
#include <cmath>
#include <functional>

namespace regionlab::flow {

// Earliest root of g on [a, b] with g(a) >= 0 > g(b) (Illinois false position). Returns
// the right end of the final bracket, so g(result) < 0: the state is past the threshold;
// or, with gtol > 0, the first point where |g| <= gtol.
inline double illinois(const std::function<double(double)>& g, double a, double ga, double b,
                double gb, double tol, int max_iter, double gtol = 0) {
  int last = 0;
  for (int it = 0; it < max_iter && b - a > tol; ++it) {
    double c = b - gb * (b - a) / (gb - ga);
    // ga == 0 (a pair starting exactly on its kink) puts the secant's point on a itself,
    // give or take rounding, where g's sign is noise: bisect instead.
    if (!(c > a && c < b) || ga == 0) c = 0.5 * (a + b);
    const double gc = g(c);
    if (std::abs(gc) <= gtol) return c;
    if (gc < 0) {
      b = c; gb = gc;
      if (last == -1) ga *= 0.5;
      last = -1;
    } else {
      a = c; ga = gc;
      if (last == 1) gb *= 0.5;
      last = 1;
    }
  }
  return b;
}

}  // namespace regionlab::flow
