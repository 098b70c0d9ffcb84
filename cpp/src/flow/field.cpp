// Gradient-flow right-hand side with a fixed activation mask, Filippov sliding, events.
#include "field.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace regionlab::flow {

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

FlowField::FlowField(const FlowProblem& problem, FlowResult& out, bool record_events,
                     int threads)
    : p(problem), out_(out), record_events_(record_events), kernel_(batch_gradient()),
      ws_(problem, threads), trace_(problem) {
  z_start_ = ws_.Z;
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
  bool all_first = p.n_layers() == 2;
  for (const SlidingPair& sp : sliding_) all_first &= sp.pair.layer == 0;
  return all_first ? solve_sliding_two_layer(theta, f) : solve_sliding_general(theta, f);
}

// One hidden layer, every sliding pair in it: pair k = (i, j) moves only row j of W_0 and
// b_0, so the system splits into one small block per neuron, built in O(d) per entry.
bool FlowField::solve_sliding_two_layer(const double* theta, double* f) {
  const int64_t m = int64_t(sliding_.size()), d = p.width[0], h = p.width[1], k = p.out_dim();
  const double* W1 = theta + p.w_offset[1];
  const double* P = p.precond.data();
  const int64_t w0 = p.w_offset[0], b0 = p.b_offset[0];
  // E_k = dL/da_{0,ij} = sum_c dF_ic / n * s_{1,ic} * W1[c, j]
  signal_.resize(size_t(m));
  order_.resize(size_t(m));
  for (int64_t q = 0; q < m; ++q) {
    const PairId& pr = sliding_[q].pair;
    double e = 0;
    for (int64_t c = 0; c < k; ++c)
      e += ws_.dF[pr.sample * k + c] * mask_[1][pr.sample * k + c] * W1[c * h + pr.neuron];
    signal_[q] = e / double(p.n);
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
        mask_[0][sp.pair.sample * h + j] = sliding_[q].s;
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
    trace_sample(p, theta, q.sample, &mask_, trace_);
    // dL/dz = s * E with E = dL/da, so d(dL/dz)/ds = E.
    const double e = backprop_signal(p, theta, trace_, q.layer, q.neuron, scratch_);
    backward_from(p, theta, trace_, q.layer, q.neuron, e, u_[k].data(), scratch_);
    for (int64_t r = 0; r < P; ++r) u_[k][r] *= -p.precond[r];
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

void FlowField::mark_step_end() {
  for (SlidingPair& sp : sliding_) sp.s_end = sp.s;
}

void FlowField::mark_step_start() {
  for (SlidingPair& sp : sliding_) sp.s_begin = sp.s;
  z_start_.swap(ws_.Z);  // the last rhs() was at the step's start point
}

void FlowField::advance_to_step_end() {
  // ws_.Z holds the step's end point (no event search evaluated since); every rhs()
  // overwrites all of ws_.Z, so a swap is enough.
  z_start_.swap(ws_.Z);
  for (SlidingPair& sp : sliding_) {
    sp.s = sp.s_begin = sp.s_end;
    const PairId& q = sp.pair;
    mask_[q.layer][q.sample * p.width[q.layer + 1] + q.neuron] = sp.s;
  }
}

// A pair can cross its kink and come back within one step: same sign at both ends. In the
// first layer z is linear in theta, so along the dense output it is a polynomial in tau
// with coefficients r_k . (x_i, 1). A cheap bound on the non-linear part screens every
// pair; the few that could dip are checked on that polynomial exactly. Deeper layers:
// pairs that moved further than their distance to the kink are sampled at 15 points.
void FlowField::find_dips(const DenseOutput& dense) {
  dips_.clear();
  if (!dense.quartic && !dense.cubic) return;  // linear: no dip inside a step
  const int64_t d = p.width[0], h = p.width[1];
  const int64_t w0 = p.w_offset[0], b0 = p.b_offset[0];
  const std::vector<double>* rk[3] = {&dense.r3, &dense.r4, &dense.r5};
  // Per neuron: bound on |r3 + tau r4 + tau(1-tau) r5| . (x, 1) / |(x, 1)|, times 1/4.
  curv_.assign(size_t(h), 0.0);
  for (int64_t j = 0; j < h; ++j) {
    double nk[3] = {0, 0, 0};
    for (int k = 0; k < (dense.quartic ? 3 : 2); ++k) {
      const double* r = rk[k]->data();
      double s2 = 0;
      for (int64_t c = 0; c < d; ++c) s2 += r[w0 + j * d + c] * r[w0 + j * d + c];
      if (b0 >= 0) s2 += r[b0 + j] * r[b0 + j];
      nk[k] = std::sqrt(s2);
    }
    curv_[j] = 0.25 * (nk[0] + nk[1] + 0.25 * nk[2]);
  }
  if (xnorm_.empty()) {
    xnorm_.resize(size_t(p.n));
    for (int64_t i = 0; i < p.n; ++i) {
      double s2 = b0 >= 0 ? 1.0 : 0.0;
      for (int64_t c = 0; c < d; ++c) s2 += p.X[i * d + c] * p.X[i * d + c];
      xnorm_[i] = std::sqrt(s2);
    }
  }
  const double* z0 = z_start_[0].data();
  const double* z1 = ws_.Z[0].data();
  const int8_t* sd = side_[0].data();
  flag_.resize(size_t(h));
  for (int64_t i = 0; i < p.n; ++i) {
    // Branch-free screen of a row (it vectorises); the rare flagged pairs are examined.
    const double xn = xnorm_[i];
    int any = 0;
    for (int64_t j = 0; j < h; ++j) {
      const int64_t ix = i * h + j;
      const double sg = sd[ix];
      const double a = sg * z0[ix], b = sg * z1[ix];
      const uint8_t f = uint8_t((a >= 0) & (b >= 0) & (std::min(a, b) <= curv_[j] * xn));
      flag_[j] = f;
      any |= f;
    }
    if (!any) continue;
    for (int64_t j = 0; j < h; ++j) {
      const int64_t ix = i * h + j;
      if (!flag_[j] || sd[ix] == 0 || !p.kinked(0, j)) continue;
      const double a = sd[ix] * z0[ix], b = sd[ix] * z1[ix];
      // z(tau) = c1 + tau (c2 + (1-tau) (c3 + tau (c4 + (1-tau) c5))), c_k = r_k . (x_i, 1)
      double c[5];
      const std::vector<double>* all[5] = {&dense.r1, &dense.r2, &dense.r3, &dense.r4, &dense.r5};
      const double* x = p.X.data() + i * d;
      for (int k = 0; k < 5; ++k) {
        const double* r = all[k]->data();
        double acc = b0 >= 0 ? r[b0 + j] : 0.0;
        for (int64_t q = 0; q < d; ++q) acc += r[w0 + j * d + q] * x[q];
        c[k] = acc;
      }
      if (!dense.quartic) c[4] = 0;
      // The same bound with this pair's own coefficients: most screened pairs stop here.
      if (std::min(a, b) > 0.25 * (std::abs(c[2]) + std::abs(c[3]) + 0.25 * std::abs(c[4])))
        continue;
      const double sg = sd[ix];
      auto g = [&](double t) {
        const double u = 1.0 - t;
        return sg * (c[0] + t * (c[1] + u * (c[2] + t * (c[3] + u * c[4]))));
      };
      constexpr int kSamples = 64;
      double prev_t = 0, prev_g = g(0.0);
      for (int k = 1; k < kSamples; ++k) {
        const double t = double(k) / kSamples, gt = g(t);
        if (gt < 0) {
          dips_.push_back({PairId{i, 0, j}, illinois(g, prev_t, prev_g, t, gt, 1e-14, 200)});
          break;
        }
        prev_t = t; prev_g = gt;
      }
    }
  }
  // Deeper layers: no polynomial; sample the pairs that moved more than their margin.
  for (int64_t l = 1; l < p.n_layers(); ++l) {
    const int64_t w = p.width[l + 1];
    const double* za = z_start_[l].data();
    const double* zb = ws_.Z[l].data();
    const int8_t* sl = side_[l].data();
    for (int64_t i = 0; i < p.n; ++i)
      for (int64_t j = 0; j < w; ++j) {
        const int64_t ix = i * w + j;
        if (sl[ix] == 0 || !p.kinked(l, j)) continue;
        const double a = sl[ix] * za[ix], b = sl[ix] * zb[ix];
        if (a < 0 || b < 0 || std::min(a, b) > std::abs(zb[ix] - za[ix])) continue;
        const PairId q{i, l, j};
        const double sg = sl[ix];
        auto g = [&](double t) {
          dense.eval_range(t, dip_buf_.data(), 0, p.w_offset[l]);
          dense.eval_range(t, dip_buf_.data(), p.w_offset[l] + j * p.width[l],
                           p.w_offset[l] + (j + 1) * p.width[l]);
          if (p.b_offset[l] >= 0) dense.eval_range(t, dip_buf_.data(), p.b_offset[l] + j, p.b_offset[l] + j + 1);
          return sg * sample_preact(p, dip_buf_.data(), i, l, j, mask_, trace_);
        };
        dip_buf_.resize(size_t(p.n_params));
        double prev_t = 0, prev_g = a;
        for (int k = 1; k < 16; ++k) {
          const double t = double(k) / 16, gt = g(t);
          if (gt < 0) {
            dips_.push_back({q, illinois(g, prev_t, prev_g, t, gt, 1e-14, 200)});
            break;
          }
          prev_t = t; prev_g = gt;
        }
      }
  }
}

FlowField::Event FlowField::find_event(const DenseOutput& dense, std::vector<double>& buf) {
  Event best;
  buf.resize(size_t(p.n_params));
  // Pairs whose z ended on the other side of the mask (more than zeta past the kink),
  // from the pass at the step's end (the last rhs() call).
  crossed_.clear();
  for (int64_t l = 0; l < p.n_layers(); ++l) {
    const int64_t w = p.width[l + 1];
    const double* z = ws_.Z[l].data();
    const int8_t* sd = side_[l].data();
    for (int64_t i = 0; i < p.n; ++i) {
      int any = 0;  // branch-free test of the row first: crossings are rare
      for (int64_t j = 0; j < w; ++j) any |= int(double(sd[i * w + j]) * z[i * w + j] < 0);
      if (!any) continue;
      for (int64_t j = 0; j < w; ++j) {
        const int64_t ix = i * w + j;
        if (sd[ix] != 0 && double(sd[ix]) * z[ix] < 0 && p.kinked(l, j) &&
            !(std::abs(z[ix]) < zeta_ && in_grace({i, l, j})))
          crossed_.push_back({i, l, j});
      }
    }
  }
  find_dips(dense);
  // Sliding slopes that left their interval by the step's end.
  std::vector<std::pair<int64_t, bool>> exits;
  for (int64_t k = 0; k < int64_t(sliding_.size()); ++k) {
    const SlidingPair& sp = sliding_[k];
    if (sp.s_end > sp.hi) exits.push_back({k, true});
    else if (sp.s_end < sp.lo) exits.push_back({k, false});
  }
  for (const auto& [q, tau] : dips_)
    if (tau < best.tau) {
      best.tau = tau; best.pair = q; best.kind = 1;
    }
  for (const PairId& q : crossed_) {
    const double sgn = side_[q.layer][q.sample * p.width[q.layer + 1] + q.neuron];
    // z_{l,j} reads the layers below l and row j (and bias j) of layer l only.
    const int64_t nin = p.width[q.layer];
    const int64_t row0 = p.w_offset[q.layer] + q.neuron * nin;
    const int64_t bias = p.b_offset[q.layer] >= 0 ? p.b_offset[q.layer] + q.neuron : -1;
    double thr = 0.0;  // grace: only while z still sits a hair on the wrong side
    auto g = [&](double tau) {
      dense.eval_range(tau, buf.data(), 0, p.w_offset[q.layer]);
      dense.eval_range(tau, buf.data(), row0, row0 + nin);
      if (bias >= 0) dense.eval_range(tau, buf.data(), bias, bias + 1);
      return sgn * sample_preact(p, buf.data(), q.sample, q.layer, q.neuron, mask_, trace_) + thr;
    };
    if (in_grace(q) && g(0.0) < 0) thr = zeta_;
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
    // A slope leaving its interval is found with full passes: look only before the
    // earliest crossing, and only if the slope is already out of range there.
    std::vector<double> f(size_t(p.n_params));
    const double tau_max = std::min(1.0, best.tau);
    std::vector<double> s_at_max;
    if (tau_max < 1.0) {
      dense.eval(tau_max, buf.data());
      rhs(buf.data(), f.data());
      for (const SlidingPair& sp : sliding_) s_at_max.push_back(sp.s);
    }
    for (auto [k, high] : exits) {
      const SlidingPair& sp0 = sliding_[k];
      const double s_max = tau_max < 1.0 ? s_at_max[k] : sp0.s_end;
      const double g1 = high ? sp0.hi - s_max : s_max - sp0.lo;
      if (g1 >= 0) continue;
      const double g0 = high ? sp0.hi - sp0.s_begin : sp0.s_begin - sp0.lo;
      auto g = [&, k = k, high = high](double tau) {
        dense.eval(tau, buf.data());
        rhs(buf.data(), f.data());
        const SlidingPair& sp = sliding_[k];
        return high ? sp.hi - sp.s : sp.s - sp.lo;
      };
      const double tau = g0 < 0 ? 0.0 : illinois(g, 0.0, g0, tau_max, g1, 1e-12, 60);
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
    apply_exit(ev, t, theta, f);
    new_state = 2;  // recorded by apply_exit
  } else {
    new_state = -side_[q.layer][q.sample * w + q.neuron];
    set_side(q, new_state);
    grace_.erase(std::remove_if(grace_.begin(), grace_.end(), [&](const PairId& g) {
                   return g.sample == q.sample && g.layer == q.layer && g.neuron == q.neuron;
                 }), grace_.end());
    // The root is bracketed to the new side, but z recomputed here may round to the old.
    if (new_state * sample_preact(p, theta, q.sample, q.layer, q.neuron, mask_, trace_) <= 0)
      grace_.push_back(q);
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
  if (new_state != 2) record_event(t, q, new_state);
  // The jump in the field can push another sliding pair's slope out of its interval at
  // this very instant: it leaves now (else a later step could miss the exit).
  for (int guard = 0; guard < 1000; ++guard) {
    int64_t out = -1;
    for (int64_t k = 0; k < int64_t(sliding_.size()) && out < 0; ++k) {
      const SlidingPair& sp = sliding_[k];
      const double slack = 1e-9 * (sp.hi - sp.lo);  // as when entering
      if (sp.s > sp.hi + slack || sp.s < sp.lo - slack) out = k;
    }
    if (out < 0) break;
    Event exit;
    exit.kind = 2;
    exit.pair = sliding_[out].pair;
    exit.slide_index = out;
    exit.exit_high = sliding_[out].s > sliding_[out].hi;
    apply_exit(exit, t, theta, f);
  }
}

void FlowField::record_event(double t, const PairId& q, int new_state) {
  if (!record_events_) return;
  out_.ev_time.push_back(t); out_.ev_sample.push_back(q.sample);
  out_.ev_layer.push_back(q.layer); out_.ev_neuron.push_back(q.neuron);
  out_.ev_state.push_back(new_state);
}

void FlowField::apply_exit(const Event& ev, double t, const double* theta, double* f) {
  const PairId& q = ev.pair;
  // Leaving the kink: to the active side when s passed 1, else to the inactive side.
  const SlidingPair& sp = sliding_[ev.slide_index];
  const double alpha = p.negative_slope[q.layer][q.neuron];
  const int new_state = ev.exit_high == (alpha < 1.0) ? 1 : -1;
  out_.sl_sample.push_back(q.sample); out_.sl_layer.push_back(q.layer);
  out_.sl_neuron.push_back(q.neuron); out_.sl_start.push_back(sp.t_start);
  out_.sl_end.push_back(t);
  sliding_.erase(sliding_.begin() + ev.slide_index);
  set_side(q, new_state);
  grace_.push_back(q);  // its z sits at 0 up to rounding, maybe a hair on the other side
  rhs(theta, f);
  record_event(t, q, new_state);
}

bool FlowField::in_grace(const PairId& q) const {
  for (const PairId& g : grace_)
    if (g.sample == q.sample && g.layer == q.layer && g.neuron == q.neuron) return true;
  return false;
}

void FlowField::finish(double t_end) {
  for (const SlidingPair& sp : sliding_) {
    out_.sl_sample.push_back(sp.pair.sample); out_.sl_layer.push_back(sp.pair.layer);
    out_.sl_neuron.push_back(sp.pair.neuron); out_.sl_start.push_back(sp.t_start);
    out_.sl_end.push_back(t_end);
  }
}

}  // namespace regionlab::flow
