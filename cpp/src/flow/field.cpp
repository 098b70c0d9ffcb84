// Gradient-flow right-hand side with a fixed activation mask, Filippov sliding, events.
#include "field.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace regionlab::flow {

void DenseOutput::eval(double tau, double* out) const {
  const size_t P = r1.size();
  const double u = 1.0 - tau;
  if (quartic) {
    for (size_t k = 0; k < P; ++k)
      out[k] = r1[k] + tau * (r2[k] + u * (r3[k] + tau * (r4[k] + u * r5[k])));
  } else if (cubic) {
    for (size_t k = 0; k < P; ++k) out[k] = r1[k] + tau * (r2[k] + u * (r3[k] + tau * r4[k]));
  } else {
    for (size_t k = 0; k < P; ++k) out[k] = r1[k] + tau * r2[k];
  }
}

namespace {

// Earliest root of g on [a, b] with g(a) >= 0 > g(b) (Illinois false position). Returns
// the right end of the final bracket, so g(result) < 0: the state is past the threshold.
double illinois(const std::function<double(double)>& g, double a, double ga, double b,
                double gb, double tol, int max_iter) {
  int last = 0;
  for (int it = 0; it < max_iter && b - a > tol; ++it) {
    double c = b - gb * (b - a) / (gb - ga);
    if (!(c > a && c < b)) c = 0.5 * (a + b);
    const double gc = g(c);
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

FlowField::FlowField(const FlowProblem& problem, FlowResult& out, bool record_events)
    : p(problem), out_(out), record_events_(record_events), kernel_(batch_gradient()),
      ws_(problem), trace_(problem) {
  const int64_t L = p.n_layers();
  mask_.resize(L);
  side_.resize(L);
  for (int64_t l = 0; l < L; ++l) {
    mask_[l].assign(size_t(p.n * p.width[l + 1]), 1.0);
    side_[l].assign(size_t(p.n * p.width[l + 1]), 1);
  }
}

void FlowField::set_side(const PairId& q, int side) {
  const int64_t w = p.width[q.layer + 1];
  side_[q.layer][q.sample * w + q.neuron] = int8_t(side);
  if (side != 0)
    mask_[q.layer][q.sample * w + q.neuron] = side > 0 ? 1.0 : p.negative_slope[q.layer][q.neuron];
}

void FlowField::init_mask(const double* theta) {
  kernel_(p, ws_, theta, nullptr, nullptr);  // sign slopes
  for (int64_t l = 0; l < p.n_layers(); ++l) {
    const int64_t w = p.width[l + 1];
    for (int64_t i = 0; i < p.n; ++i)
      for (int64_t j = 0; j < w; ++j) {
        const bool on = ws_.Z[l][i * w + j] > 0;
        side_[l][i * w + j] = on ? 1 : -1;
        mask_[l][i * w + j] = on ? 1.0 : p.negative_slope[l][j];
      }
  }
}

double FlowField::velocity(const double* theta, const PairId& q, const double* f) {
  trace_sample(p, theta, q.sample, &mask_, trace_, q.layer > 0 ? q.layer - 1 : 0);
  return preact_velocity(p, theta, trace_, q.layer, q.neuron, f, scratch_);
}

void FlowField::rhs(const double* theta, double* f) {
  kernel_(p, ws_, theta, &mask_, f);
  ++evaluations;
  if (!sliding_.empty()) solve_sliding(theta, f);
}

// f is affine in the sliding slopes (exactly so for one hidden layer): f(s) = f + sum_k
// (s_k - s_k^cur) u_k with u_k = df/ds_k, and dz_k/dt = J_k . f(s). Solve dz/dt = 0.
bool FlowField::solve_sliding(const double* theta, double* f) {
  const int64_t m = int64_t(sliding_.size()), P = p.n_params;
  u_.resize(size_t(m));
  for (int64_t k = 0; k < m; ++k) {
    const PairId& q = sliding_[k].pair;
    const int64_t w = p.width[q.layer + 1];
    u_[k].assign(size_t(P), 0.0);
    trace_sample(p, theta, q.sample, &mask_, trace_);
    // dL/dz = s * E with E = dL/da (already / n), so d(dL/dz)/ds = E.
    backward_from(p, theta, trace_, q.layer, q.neuron, ws_.E[q.layer][q.sample * w + q.neuron],
                  u_[k].data(), scratch_);
    for (int64_t r = 0; r < P; ++r) u_[k][r] *= -p.precond[r];
  }
  sys_.assign(size_t(m * m), 0.0);
  rhs_.assign(size_t(m), 0.0);
  for (int64_t k = 0; k < m; ++k) {
    const PairId& q = sliding_[k].pair;
    trace_sample(p, theta, q.sample, &mask_, trace_, q.layer > 0 ? q.layer - 1 : 0);
    rhs_[k] = -preact_velocity(p, theta, trace_, q.layer, q.neuron, f, scratch_);
    for (int64_t c = 0; c < m; ++c)
      sys_[k * m + c] = preact_velocity(p, theta, trace_, q.layer, q.neuron, u_[c].data(), scratch_);
  }
  if (!solve_small(sys_, rhs_, m)) return false;
  for (int64_t k = 0; k < m; ++k) {
    const PairId& q = sliding_[k].pair;
    const double ds = rhs_[k];
    for (int64_t r = 0; r < P; ++r) f[r] += ds * u_[k][r];
    sliding_[k].s += ds;
    mask_[q.layer][q.sample * p.width[q.layer + 1] + q.neuron] = sliding_[k].s;
  }
  return true;
}

FlowField::Event FlowField::find_event(const DenseOutput& dense, std::vector<double>& buf) {
  Event best;
  buf.resize(size_t(p.n_params));
  // Sliding slopes that left their interval by the step's end (state of the last rhs()).
  std::vector<std::pair<int64_t, bool>> exits;
  for (int64_t k = 0; k < int64_t(sliding_.size()); ++k) {
    if (sliding_[k].s > sliding_[k].hi) exits.push_back({k, true});
    else if (sliding_[k].s < sliding_[k].lo) exits.push_back({k, false});
  }
  // Pairs whose z ended on the other side of the mask (more than zeta past the kink).
  std::vector<PairId> crossed;
  for (int64_t l = 0; l < p.n_layers(); ++l) {
    const int64_t w = p.width[l + 1];
    const double* z = ws_.Z[l].data();
    const int8_t* sd = side_[l].data();
    for (int64_t i = 0; i < p.n; ++i)
      for (int64_t j = 0; j < w; ++j) {
        const int64_t ix = i * w + j;
        if (sd[ix] != 0 && double(sd[ix]) * z[ix] < -zeta_ && p.kinked(l, j))
          crossed.push_back({i, l, j});
      }
  }
  for (const PairId& q : crossed) {
    const double sgn = side_[q.layer][q.sample * p.width[q.layer + 1] + q.neuron];
    auto g = [&](double tau) {
      dense.eval(tau, buf.data());
      return sgn * sample_preact(p, buf.data(), q.sample, q.layer, q.neuron, mask_, trace_) + zeta_;
    };
    const double g1 = g(1.0);
    const double g0 = g(0.0);
    double tau;
    if (g0 < 0) tau = 0;
    else if (g1 >= 0) continue;  // the dense output disagrees with the stage value: skip
    else tau = illinois(g, 0.0, g0, 1.0, g1, 1e-14, 200);
    if (tau < best.tau) {
      best.tau = tau; best.pair = q; best.kind = 1;
    }
  }
  if (!exits.empty()) {
    std::vector<double> f(size_t(p.n_params));
    for (auto [k, high] : exits) {
      auto g = [&, k = k, high = high](double tau) {
        dense.eval(tau, buf.data());
        rhs(buf.data(), f.data());
        const SlidingPair& sp = sliding_[k];
        return high ? sp.hi - sp.s : sp.s - sp.lo;
      };
      const double g1 = g(1.0);
      const double g0 = g(0.0);
      double tau;
      if (g0 < 0) tau = 0;
      else if (g1 >= 0) continue;
      else tau = illinois(g, 0.0, g0, 1.0, g1, 1e-12, 60);
      if (tau < best.tau) {
        best.tau = tau; best.pair = sliding_[k].pair; best.kind = 2;
        best.slide_index = k; best.exit_high = high;
      }
    }
  }
  return best;
}

void FlowField::apply(const Event& ev, double t, const double* theta, double* f) {
  const PairId& q = ev.pair;
  const int64_t w = p.width[q.layer + 1];
  int new_state;
  if (ev.kind == 2) {
    // Leaving the kink: to the active side when s passed 1, else to the inactive side.
    const SlidingPair& sp = sliding_[ev.slide_index];
    const double alpha = p.negative_slope[q.layer][q.neuron];
    const bool to_one = ev.exit_high == (alpha < 1.0);
    new_state = to_one ? 1 : -1;
    out_.sl_sample.push_back(q.sample); out_.sl_layer.push_back(q.layer);
    out_.sl_neuron.push_back(q.neuron); out_.sl_start.push_back(sp.t_start);
    out_.sl_end.push_back(t);
    sliding_.erase(sliding_.begin() + ev.slide_index);
    set_side(q, new_state);
    rhs(theta, f);
  } else {
    new_state = -side_[q.layer][q.sample * w + q.neuron];
    set_side(q, new_state);
    rhs(theta, f);
    // Pushed straight back by the field on the new side: the pair slides on its kink.
    if (double(new_state) * velocity(theta, q, f) < 0) {
      const double alpha = p.negative_slope[q.layer][q.neuron];
      SlidingPair sp{q, 0.5 * (alpha + 1.0), std::min(alpha, 1.0), std::max(alpha, 1.0), t};
      mask_[q.layer][q.sample * w + q.neuron] = sp.s;
      side_[q.layer][q.sample * w + q.neuron] = 0;
      sliding_.push_back(sp);
      kernel_(p, ws_, theta, &mask_, f);
      ++evaluations;
      const double slack = 1e-9 * (sp.hi - sp.lo);
      const bool ok = solve_sliding(theta, f) && sliding_.back().s >= sp.lo - slack &&
                      sliding_.back().s <= sp.hi + slack;
      if (ok) {
        new_state = 0;
      } else {
        sliding_.pop_back();
        set_side(q, new_state);
        rhs(theta, f);
      }
    }
  }
  if (record_events_) {
    out_.ev_time.push_back(t); out_.ev_sample.push_back(q.sample);
    out_.ev_layer.push_back(q.layer); out_.ev_neuron.push_back(q.neuron);
    out_.ev_state.push_back(new_state);
  }
}

void FlowField::finish(double t_end) {
  for (const SlidingPair& sp : sliding_) {
    out_.sl_sample.push_back(sp.pair.sample); out_.sl_layer.push_back(sp.pair.layer);
    out_.sl_neuron.push_back(sp.pair.neuron); out_.sl_start.push_back(sp.t_start);
    out_.sl_end.push_back(t_end);
  }
}

}  // namespace regionlab::flow
