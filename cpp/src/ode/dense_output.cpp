#include "dense_output.hpp"

namespace regionlab::ode {

void DenseOutput::eval(double tau, double* out) const { eval_range(tau, out, 0, int64_t(r1.size())); }

void DenseOutput::eval_range(double tau, double* out, int64_t begin, int64_t end) const {
  const double u = 1.0 - tau;
  if (quartic) {
    for (int64_t k = begin; k < end; ++k)
      out[k] = r1[k] + tau * (r2[k] + u * (r3[k] + tau * (r4[k] + u * r5[k])));
  } else if (cubic) {
    for (int64_t k = begin; k < end; ++k)
      out[k] = r1[k] + tau * (r2[k] + u * (r3[k] + tau * r4[k]));
  } else {
    for (int64_t k = begin; k < end; ++k) out[k] = r1[k] + tau * r2[k];
  }
}

}  // namespace regionlab::ode
