// One-sample forward, tangent and backward passes (plain loops: each is O(parameters)).
#include "regionlab/flow/sample_ops.hpp"

#include <algorithm>
#include <cstring>

namespace regionlab::flow {

SampleTrace::SampleTrace(const FlowProblem& p) {
  const int64_t L = p.n_layers();
  z.resize(L); s.resize(L); a.resize(L);
  for (int64_t l = 0; l < L; ++l) {
    z[l].assign(p.width[l + 1], 0.0);
    s[l].assign(p.width[l + 1], 1.0);
    a[l].assign(p.width[l + 1], 0.0);
  }
}

namespace {

inline const double* layer_input(const FlowProblem& p, const SampleTrace& tr, int64_t l) {
  return l == 0 ? p.X.data() + tr.sample * p.width[0] : tr.a[l - 1].data();
}

inline double row_dot(const double* w, const double* x, int64_t n) {
  double acc = 0;
  for (int64_t k = 0; k < n; ++k) acc += w[k] * x[k];
  return acc;
}

}  // namespace

void trace_sample(const FlowProblem& p, const double* theta, int64_t i, const Mask* mask,
                  SampleTrace& tr, int64_t upto) {
  tr.sample = i;
  const int64_t L = upto < 0 ? p.n_layers() : upto + 1;
  for (int64_t l = 0; l < L; ++l) {
    const int64_t nin = p.width[l], nout = p.width[l + 1];
    const double* x = layer_input(p, tr, l);
    const double* W = theta + p.w_offset[l];
    for (int64_t j = 0; j < nout; ++j) {
      double zj = row_dot(W + j * nin, x, nin);
      if (p.has_bias[l]) zj += theta[p.b_offset[l] + j];
      const double sj = mask ? (*mask)[l][i * nout + j]
                             : (zj > 0 ? 1.0 : p.negative_slope[l][j]);
      tr.z[l][j] = zj;
      tr.s[l][j] = sj;
      tr.a[l][j] = sj * zj;
    }
  }
}

double sample_preact(const FlowProblem& p, const double* theta, int64_t i, int64_t l,
                     int64_t j, const Mask& mask, SampleTrace& tr) {
  tr.sample = i;
  if (l > 0) trace_sample(p, theta, i, &mask, tr, l - 1);
  const int64_t nin = p.width[l];
  double zj = row_dot(theta + p.w_offset[l] + j * nin, layer_input(p, tr, l), nin);
  if (p.has_bias[l]) zj += theta[p.b_offset[l] + j];
  return zj;
}

double preact_velocity(const FlowProblem& p, const double* theta, const SampleTrace& tr,
                       int64_t l, int64_t j, const double* v, std::vector<double>& scratch) {
  // Tangent forward: dz = dW a_in + W da_in + db and da = s * dz, layer by layer up to l,
  // where only row j of layer l is needed.
  const int64_t mw = p.max_width();
  scratch.resize(size_t(2 * mw));
  double* da_in = scratch.data();
  double* da_out = scratch.data() + mw;
  for (int64_t m = 0; m <= l; ++m) {
    const int64_t nin = p.width[m], nout = p.width[m + 1];
    const double* a_in = layer_input(p, tr, m);
    const double* W = theta + p.w_offset[m];
    const double* dW = v + p.w_offset[m];
    const int64_t r0 = m == l ? j : 0, r1 = m == l ? j + 1 : nout;
    for (int64_t r = r0; r < r1; ++r) {
      double dz = row_dot(dW + r * nin, a_in, nin);
      if (m > 0) dz += row_dot(W + r * nin, da_in, nin);
      if (p.has_bias[m]) dz += v[p.b_offset[m] + r];
      if (m == l) return dz;
      da_out[r] = tr.s[m][r] * dz;
    }
    std::swap(da_in, da_out);
  }
  return 0;  // not reached: the loop returns at m == l
}

void backward_from(const FlowProblem& p, const double* theta, const SampleTrace& tr, int64_t l,
                   int64_t j, double seed, double* grad, std::vector<double>& scratch) {
  const int64_t mw = p.max_width();
  scratch.assign(size_t(2 * mw), 0.0);
  double* dz = scratch.data();  // dL/dz of the current layer
  double* e = scratch.data() + mw;
  // Layer l: only neuron j has a nonzero dL/dz.
  for (int64_t m = l; m >= 0; --m) {
    const int64_t nin = p.width[m], nout = p.width[m + 1];
    const double* a_in = layer_input(p, tr, m);
    const double* W = theta + p.w_offset[m];
    double* gW = grad + p.w_offset[m];
    const int64_t r0 = m == l ? j : 0, r1 = m == l ? j + 1 : nout;
    if (m == l) dz[j] = seed;
    std::fill(e, e + nin, 0.0);
    for (int64_t r = r0; r < r1; ++r) {
      const double d = dz[r];
      if (d == 0) continue;
      for (int64_t k = 0; k < nin; ++k) gW[r * nin + k] += d * a_in[k];
      if (p.has_bias[m]) grad[p.b_offset[m] + r] += d;
      if (m > 0)
        for (int64_t k = 0; k < nin; ++k) e[k] += d * W[r * nin + k];
    }
    if (m > 0)
      for (int64_t k = 0; k < nin; ++k) dz[k] = e[k] * tr.s[m - 1][k];
  }
}

double backprop_signal(const FlowProblem& p, const double* theta, const SampleTrace& tr,
                       int64_t l, int64_t j, std::vector<double>& scratch) {
  const int64_t L = p.n_layers(), k = p.out_dim(), mw = p.max_width();
  const int64_t yc = int64_t(p.Y.size()) / p.n;
  scratch.assign(size_t(3 * mw), 0.0);
  double* e = scratch.data();  // dL/da of the current layer
  double* e_next = scratch.data() + mw;
  double li, mi;
  loss_terms(p.loss, tr.a[L - 1].data(), p.Y.data() + tr.sample * yc, 1, k, &li, &mi, e);
  for (int64_t c = 0; c < k; ++c) e[c] /= double(p.n);
  for (int64_t m = L - 1; m > l; --m) {
    const int64_t nin = p.width[m], nout = p.width[m + 1];
    const double* W = theta + p.w_offset[m];
    std::fill(e_next, e_next + nin, 0.0);
    for (int64_t r = 0; r < nout; ++r) {
      const double d = e[r] * tr.s[m][r];
      if (d == 0) continue;
      for (int64_t c = 0; c < nin; ++c) e_next[c] += d * W[r * nin + c];
    }
    std::swap(e, e_next);
  }
  return e[j];
}

void output_jacobian(const FlowProblem& p, const double* theta, double* J) {
  SampleTrace tr(p);
  std::vector<double> scratch;
  const int64_t k = p.out_dim(), L = p.n_layers(), P = p.n_params;
  std::memset(J, 0, sizeof(double) * size_t(p.n * k * P));
  for (int64_t i = 0; i < p.n; ++i) {
    trace_sample(p, theta, i, nullptr, tr);
    for (int64_t c = 0; c < k; ++c)
      backward_from(p, theta, tr, L - 1, c, tr.s[L - 1][c], J + (i * k + c) * P, scratch);
  }
}

void sample_loss_gradients(const FlowProblem& p, const double* theta, double* G) {
  SampleTrace tr(p);
  std::vector<double> scratch;
  const int64_t k = p.out_dim(), L = p.n_layers(), P = p.n_params;
  const int64_t yc = int64_t(p.Y.size()) / p.n;
  std::vector<double> dF(static_cast<size_t>(k));
  double li, mi;
  std::memset(G, 0, sizeof(double) * size_t(p.n * P));
  for (int64_t i = 0; i < p.n; ++i) {
    trace_sample(p, theta, i, nullptr, tr);
    loss_terms(p.loss, tr.a[L - 1].data(), p.Y.data() + i * yc, 1, k, &li, &mi, dF.data());
    for (int64_t c = 0; c < k; ++c)
      backward_from(p, theta, tr, L - 1, c, dF[c] * tr.s[L - 1][c], G + i * P, scratch);
  }
}

}  // namespace regionlab::flow
