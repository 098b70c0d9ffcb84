// Event location: sign changes of z (also those that come back inside a step) and
// sliding slopes leaving their interval, by root finding on the dense output.
#include "field.hpp"
#include "regionlab/flow/spin_pool.hpp"
#include "root_finding.hpp"
#include "screen.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace regionlab::flow {


// The bound on the non-linear part of z(tau) along the step for each first-layer neuron
// j: with z(tau) = c1 + tau (c2 + (1-tau) (c3 + tau (c4 + (1-tau) c5))), c_k = r_k . (x_i, 1),
// |z(tau) - linear| <= curv[j] |(x_i, 1)| with curv[j] = (|r3_j| + |r4_j| + |r5_j| / 4) / 4.
void FlowField::bound_curvature(const DenseOutput& dense) {
  const int64_t d = p.width[0], h = p.width[1];
  const int64_t w0 = p.w_offset[0], b0 = p.b_offset[0];
  const std::vector<double>* rk[3] = {&dense.r3, &dense.r4, &dense.r5};
  curv_.assign(size_t(padded_row(h)), 0.0);
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
}

void FlowField::first_layer_poly(const DenseOutput& dense, int64_t i, int64_t j, double c[5]) const {
  const std::vector<double>* all[5] = {&dense.r1, &dense.r2, &dense.r3, &dense.r4, &dense.r5};
  for (int k = 0; k < 5; ++k) c[k] = first_layer_dot(all[k]->data(), i, j);
  if (!dense.quartic) c[4] = 0;
}

// A first-layer pair near its kink at both ends of the step: in the first layer z is
// linear in theta, so along the dense output it is a polynomial in tau; look for a root.
void FlowField::check_dip_first_layer(const DenseOutput& dense, int64_t i, int64_t j) {
  const int64_t ix = i * p.width[1] + j;
  const double sg = side_[0][ix];
  const double a = sg * z_start_[0][ix], b = sg * ws_.Z[0][ix];
  double c[5];
  first_layer_poly(dense, i, j, c);
  // The same bound with this pair's own coefficients: most screened pairs stop here.
  if (std::min(a, b) > 0.25 * (std::abs(c[2]) + std::abs(c[3]) + 0.25 * std::abs(c[4]))) return;
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
      return;
    }
    prev_t = t; prev_g = gt;
  }
}

// Deeper layers: no polynomial; a pair that moved more than its margin is sampled at 15
// points along the step.
void FlowField::check_dip_deeper(const DenseOutput& dense, int64_t l, int64_t i, int64_t j) {
  const int64_t w = p.width[l + 1], ix = i * w + j;
  const double sg = side_[l][ix];
  const double a = sg * z_start_[l][ix];
  const PairId q{i, l, j};
  dip_buf_.resize(size_t(p.n_params));
  auto g = [&](double t) {
    dense.eval_range(t, dip_buf_.data(), 0, p.w_offset[l]);
    dense.eval_range(t, dip_buf_.data(), p.w_offset[l] + j * p.width[l],
                     p.w_offset[l] + (j + 1) * p.width[l]);
    if (p.b_offset[l] >= 0) dense.eval_range(t, dip_buf_.data(), p.b_offset[l] + j, p.b_offset[l] + j + 1);
    return sg * sample_preact(p, dip_buf_.data(), i, l, j, mask_, trace_);
  };
  double prev_t = 0, prev_g = a;
  for (int k = 1; k < 16; ++k) {
    const double t = double(k) / 16, gt = g(t);
    if (gt < 0) {
      dips_.push_back({q, illinois(g, prev_t, prev_g, t, gt, 1e-14, 200)});
      return;
    }
    prev_t = t; prev_g = gt;
  }
}

// One vectorised screen per layer finds the pairs that ended on the other side of their
// kink (more than zeta past it, unless just released) and those that may have crossed
// and come back inside the step (dips); both exclude pairs held on their kink.
void FlowField::screen_step(const DenseOutput& dense) {
  crossed_.clear();
  dips_.clear();
  const bool curved = dense.quartic || dense.cubic;  // linear: no dip inside a step
  if (curved) bound_curvature(dense);
  const ScreenFn screen = screen_pairs();
  const int T = ws_.active;
  hits_.resize(size_t(T));
  approach_.clear();
  for (int64_t l = 0; l < p.n_layers(); ++l) {
    const int64_t w = p.width[l + 1];
    // Rows split over the batch kernel's threads; the hits are merged in row order.
    auto job = [&](int t) {
      ScreenArgs args{z_start_[l].data(), ws_.Z[l].data(), slopes_.bits[l].data(),
                      slopes_.row_bytes(l), p.n * t / T, p.n * (t + 1) / T, w,
                      kinked_[l].data(), l == 0 ? curv_.data() : nullptr, xnorm_.data()};
      args.lookahead = aim_.on && l == 0 ? aim_.lookahead : 0.0;
      hits_[t].clear();
      screen(args, hits_[t]);
    };
    if (T > 1) ws_.pool->run(job);
    else job(0);
    hit_cross_.clear();
    hit_near_.clear();
    for (const ScreenHits& hits : hits_) {
      hit_cross_.insert(hit_cross_.end(), hits.crossed.begin(), hits.crossed.end());
      hit_near_.insert(hit_near_.end(), hits.near.begin(), hits.near.end());
      if (l == 0) approach_.insert(approach_.end(), hits.approach.begin(), hits.approach.end());
    }
    // Pairs past their kink at the end may cross after a cut at an earlier event.
    if (l == 0) approach_.insert(approach_.end(), hit_cross_.begin(), hit_cross_.end());
    for (int64_t ix : hit_cross_) {
      const int64_t i = ix / w, j = ix % w;
      if (side_[l][ix] == 0 || is_twin(i)) continue;
      if (std::abs(ws_.Z[l][ix]) < zeta_ && in_grace({i, l, j})) continue;
      crossed_.push_back({i, l, j});
    }
    if (curved)
      for (int64_t ix : hit_near_) {
        if (side_[l][ix] == 0 || is_twin(ix / w)) continue;
        if (l == 0) check_dip_first_layer(dense, ix / w, ix % w);
        else check_dip_deeper(dense, l, ix / w, ix % w);
      }
  }
}

FlowField::Event FlowField::find_event(const DenseOutput& dense, std::vector<double>& buf) {
  Event best;
  buf.resize(size_t(p.n_params));
  // A pair stays in grace while it sits at its kink: drop those clear of it at the start.
  grace_.erase(std::remove_if(grace_.begin(), grace_.end(), [&](const PairId& q) {
                 return !(std::abs(z_start_[q.layer][q.sample * p.width[q.layer + 1] + q.neuron]) < zeta_);
               }), grace_.end());
  screen_step(dense);
  // Sliding slopes that left their interval by the step's end.
  std::vector<std::pair<int64_t, bool>> exits;
  for (int64_t k = 0; k < int64_t(sliding_.size()); ++k) {
    const SlidingPair& sp = sliding_[k];
    if (sp.room(sp.s_end, true) < 0) exits.push_back({k, true});
    else if (sp.room(sp.s_end, false) < 0) exits.push_back({k, false});
  }
  exits_found_ = !exits.empty();
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
    // Only the earliest crossing matters: a pair still on its side at the best time so
    // far crosses later (the next step finds it again).
    const double hi = std::min(1.0, best.tau);
    const double g1 = g(hi);
    if (g1 >= 0) continue;  // not crossed by then (at tau = 1: the dense output disagrees)
    const double g0 = g(0.0);
    const double tau = g0 < 0 ? 0.0 : illinois(g, 0.0, g0, hi, g1, 1e-14, 200);
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
      stage_rhs(buf.data(), f.data());
      for (const SlidingPair& sp : sliding_) s_at_max.push_back(sp.s);
    }
    for (auto [k, high] : exits) {
      const SlidingPair& sp0 = sliding_[k];
      const double s_max = tau_max < 1.0 ? s_at_max[k] : sp0.s_end;
      if (sp0.room(s_max, high) >= 0) continue;
      // The exit is where s reaches the end of its interval itself; the slack only keeps
      // the solve's rounding from ending a slide (it decides that one happened).
      const double g1 = sp0.room(s_max, high) - sp0.slack();
      const double g0 = sp0.room(sp0.s_begin, high) - sp0.slack();
      auto g = [&, k = k, high = high](double tau) {
        dense.eval(tau, buf.data());
        stage_rhs(buf.data(), f.data());
        const SlidingPair& sp = sliding_[k];
        return sp.room(sp.s, high) - sp.slack();
      };
      // Leaving at slope hi - ds instead of hi makes the field jump by ds |u| (u: the
      // field's derivative in that slope) for ds / (ds/dt): an error of order ds^2 |u| /
      // (ds/dt) in theta, but of ds / (ds/dt) in the exit's reported time. So the root is
      // found to 1e-11 of the slope interval: the time to the integrator's own accuracy
      // (false position converges fast; each iteration is a full pass).
      const double tau = g0 < 0 ? 0.0
                                : illinois(g, 0.0, g0, tau_max, g1, 1e-13, 100, 1e-11 * (sp0.hi - sp0.lo));
      if (tau < best.tau) {
        best.tau = tau; best.pair = sliding_[k].pair; best.kind = 2;
        best.slide_index = k; best.exit_high = high;
      }
    }
  }
  return best;
}

}  // namespace regionlab::flow
