// Filippov sliding: the slopes of the pairs held on their kinks, solved each evaluation.
#include "field.hpp"

#include <algorithm>
#include <cmath>

namespace regionlab::flow {

namespace {

// Solves the m x m system A x = b in place (partial pivoting). False when singular.
bool solve_small(std::vector<double>& A, std::vector<double>& b, int64_t m) {
  double scale = 0;
  for (double v : A) scale = std::max(scale, std::abs(v));
  if (scale == 0) return false;
  for (int64_t c = 0; c < m; ++c) {
    int64_t piv = c;
    for (int64_t r = c + 1; r < m; ++r)
      if (std::abs(A[r * m + c]) > std::abs(A[piv * m + c])) piv = r;
    if (std::abs(A[piv * m + c]) <= 1e-14 * scale) return false;
    if (piv != c) {
      for (int64_t k = 0; k < m; ++k) std::swap(A[c * m + k], A[piv * m + k]);
      std::swap(b[c], b[piv]);
    }
    for (int64_t r = c + 1; r < m; ++r) {
      const double f = A[r * m + c] / A[c * m + c];
      for (int64_t k = c; k < m; ++k) A[r * m + k] -= f * A[c * m + k];
      b[r] -= f * b[c];
    }
  }
  for (int64_t c = m - 1; c >= 0; --c) {
    double acc = b[c];
    for (int64_t k = c + 1; k < m; ++k) acc -= A[c * m + k] * b[k];
    b[c] = acc / A[c * m + c];
  }
  return true;
}

}  // namespace

// f is affine in the sliding slopes (exactly so for one hidden layer): f(s) = f + sum_k
// (s_k - s_k^cur) u_k with u_k = df/ds_k, and dz_k/dt = J_k . f(s). Solve dz/dt = 0.
bool FlowField::solve_sliding(const double* theta, double* f) {
  bool all_first = p.n_layers() == 2 && !p.has_ties();  // the fast path assumes untied rows
  for (const SlidingPair& sp : sliding_) all_first &= sp.pair.layer == 0;
  return all_first ? solve_sliding_two_layer(theta, f) : solve_sliding_general(theta, f);
}

// E = dL/da_{0,ij} = sum_c dF_ic / n * s_{1,ic} * W1[c, j] (one hidden layer).
double FlowField::first_layer_signal(const double* theta, int64_t i, int64_t j) const {
  const int64_t h = p.width[1], k = p.out_dim();
  const double* W1 = theta + p.w_offset[1];
  double e = 0;
  for (int64_t c = 0; c < k; ++c) e += ws_.dF[i * k + c] * mask_[1][i * k + c] * W1[c * h + j];
  return e / double(p.n);
}

// One hidden layer, every sliding pair in it: pair k = (i, j) moves only row j of W_0 and
// b_0, so the system splits into one small block per neuron, built in O(d) per entry.
bool FlowField::solve_sliding_two_layer(const double* theta, double* f) {
  const int64_t m = int64_t(sliding_.size()), d = p.width[0];
  const double* P = p.precond.data();
  const int64_t w0 = p.w_offset[0], b0 = p.b_offset[0];
  signal_.resize(size_t(m));
  order_.resize(size_t(m));
  for (int64_t q = 0; q < m; ++q) {
    const PairId& pq = sliding_[q].pair;
    // Twins share one slope: their signals add (same inputs, their own dloss/dF).
    signal_[q] = 0;
    with_twins(pq.sample, [&](int64_t i) { signal_[q] += first_layer_signal(theta, i, pq.neuron); });
    order_[q] = q;
  }
  std::sort(order_.begin(), order_.end(), [&](int64_t a, int64_t b) {
    return sliding_[a].pair.neuron < sliding_[b].pair.neuron;
  });
  bool ok = true;
  for (int64_t g0 = 0; g0 < m;) {
    const int64_t j = sliding_[order_[g0]].pair.neuron;
    int64_t g1 = g0;
    while (g1 < m && sliding_[order_[g1]].pair.neuron == j) ++g1;
    const int64_t mg = g1 - g0;
    const double* Pw = P + w0 + j * d;
    const double Pb = b0 >= 0 ? P[b0 + j] : 0.0;
    sys_.assign(size_t(mg * mg), 0.0);
    rhs_.assign(size_t(mg), 0.0);
    for (int64_t a = 0; a < mg; ++a) {
      const double* xa = p.X.data() + sliding_[order_[g0 + a]].pair.sample * d;
      double c = 0;
      for (int64_t r = 0; r < d; ++r) c += f[w0 + j * d + r] * xa[r];
      if (b0 >= 0) c += f[b0 + j];
      rhs_[a] = -c;
      for (int64_t b = 0; b < mg; ++b) {
        const double* xb = p.X.data() + sliding_[order_[g0 + b]].pair.sample * d;
        double g = Pb;
        for (int64_t r = 0; r < d; ++r) g += Pw[r] * xa[r] * xb[r];
        sys_[a * mg + b] = -signal_[order_[g0 + b]] * g;
        if (a == b) sliding_[order_[g0 + a]].gain = sys_[a * mg + b];
      }
    }
    if (solve_small(sys_, rhs_, mg)) {
      for (int64_t b = 0; b < mg; ++b) {
        const int64_t q = order_[g0 + b];
        const SlidingPair& sp = sliding_[q];
        const double* xb = p.X.data() + sp.pair.sample * d;
        const double coef = -rhs_[b] * signal_[q];
        for (int64_t r = 0; r < d; ++r) f[w0 + j * d + r] += coef * Pw[r] * xb[r];
        if (b0 >= 0) f[b0 + j] += coef * Pb;
        sliding_[q].s += rhs_[b];
        set_slope(sp.pair, sliding_[q].s);
      }
    } else {
      ok = false;
    }
    g0 = g1;
  }
  return ok;
}

bool FlowField::solve_sliding_general(const double* theta, double* f) {
  const int64_t m = int64_t(sliding_.size()), P = p.n_params;
  u_.resize(size_t(m));
  for (int64_t k = 0; k < m; ++k) {
    const PairId& q = sliding_[k].pair;
    u_[k].assign(size_t(P), 0.0);
    // dL/dz = s * E with E = dL/da, so d(dL/dz)/ds = E; twins share s: theirs add.
    with_twins(q.sample, [&](int64_t i) {
      trace_sample(p, theta, i, &mask_, trace_);
      const double e = backprop_signal(p, theta, trace_, q.layer, q.neuron, scratch_);
      backward_from(p, theta, trace_, q.layer, q.neuron, e, u_[k].data(), scratch_);
    });
    for (int64_t r = 0; r < P; ++r) u_[k][r] *= -p.precond[r];
    if (p.has_ties()) apply_ties(p, u_[k].data());
  }
  sys_.assign(size_t(m * m), 0.0);
  rhs_.assign(size_t(m), 0.0);
  for (int64_t k = 0; k < m; ++k) {
    const PairId& q = sliding_[k].pair;
    if (q.layer > 0) trace_sample(p, theta, q.sample, &mask_, trace_, q.layer - 1);
    trace_.sample = q.sample;
    rhs_[k] = -preact_velocity(p, theta, trace_, q.layer, q.neuron, f, scratch_);
    for (int64_t c = 0; c < m; ++c)
      sys_[k * m + c] = preact_velocity(p, theta, trace_, q.layer, q.neuron, u_[c].data(), scratch_);
    sliding_[k].gain = sys_[k * m + k];
  }
  if (!solve_small(sys_, rhs_, m)) return false;
  for (int64_t k = 0; k < m; ++k) {
    const PairId& q = sliding_[k].pair;
    const double ds = rhs_[k];
    for (int64_t r = 0; r < P; ++r) f[r] += ds * u_[k][r];
    sliding_[k].s += ds;
    set_slope(q, sliding_[k].s);
  }
  return true;
}

}  // namespace regionlab::flow
