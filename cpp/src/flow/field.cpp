// Gradient-flow right-hand side with a fixed activation mask, and applying events
// (sliding.cpp solves the sliding slopes, events.cpp finds the events).
#include "field.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <unordered_map>

namespace regionlab::flow {

FlowField::FlowField(const FlowProblem& problem, FlowResult& out, bool record_events,
                     int threads)
    : p(problem), out_(out), record_events_(record_events), kernel_(batch_gradient()),
      ws_(problem, threads), slopes_(problem), trace_(problem) {
  ws_.need_loss = false;  // the field needs dloss/dF only
  z_start_ = ws_.Z;
  const int64_t L = p.n_layers();
  mask_.resize(L);
  side_.resize(L);
  kinked_.resize(L);
  for (int64_t l = 0; l < L; ++l) {
    mask_[l].assign(size_t(p.n * p.width[l + 1]), 1.0);
    side_[l].assign(size_t(p.n * p.width[l + 1]), 1);
    kinked_[l].assign(size_t(padded_row(p.width[l + 1])), 0.0);
    for (int64_t j = 0; j < p.width[l + 1]; ++j) kinked_[l][j] = p.kinked(l, j) ? 1.0 : 0.0;
  }
  find_twins();
}

void FlowField::find_twins() {
  const int64_t d = p.width[0];
  std::unordered_map<std::string, int64_t> first;
  std::vector<int64_t> canon(size_t(p.n));
  bool any = false;
  std::string key(size_t(d) * sizeof(double), '\0');
  for (int64_t i = 0; i < p.n; ++i) {
    for (int64_t c = 0; c < d; ++c) {
      const double v = p.X[size_t(i * d + c)] + 0.0;  // -0.0 and 0.0 are one input
      std::memcpy(&key[size_t(c) * sizeof(double)], &v, sizeof(double));
    }
    const auto [it, fresh] = first.emplace(key, i);
    canon[size_t(i)] = it->second;
    any |= !fresh;
  }
  if (!any) return;
  twins_.assign(size_t(p.n), {});
  is_twin_.assign(size_t(p.n), 0);
  for (int64_t i = 0; i < p.n; ++i)
    if (canon[size_t(i)] != i) {
      twins_[size_t(canon[size_t(i)])].push_back(i);
      is_twin_[size_t(i)] = 1;
    }
}

void FlowField::set_side(const PairId& q, int side) {
  const int64_t w = p.width[q.layer + 1];
  with_twins(q.sample, [&](int64_t i) {
    side_[q.layer][i * w + q.neuron] = int8_t(side);
    slopes_.set(q.layer, i, q.neuron, side >= 0);  // sliding: bit 1, slope in fixed
    if (side != 0)
      mask_[q.layer][i * w + q.neuron] = side > 0 ? 1.0 : p.negative_slope[q.layer][q.neuron];
  });
}

void FlowField::set_slope(const PairId& q, double s) {
  const int64_t w = p.width[q.layer + 1];
  with_twins(q.sample, [&](int64_t i) { mask_[q.layer][i * w + q.neuron] = s; });
}

void FlowField::init_mask(const double* theta) {
  kernel_(p, ws_, theta, nullptr, nullptr);  // sign slopes
  // A pair whose z is 0 up to the rounding of its sum (a sample placed on a kink) is on
  // the kink, so inactive (z == 0 counts inactive) whichever way the kernel's summation
  // order rounded it; if the field then moves it off, that is an event at t = 0.
  std::vector<double> a_in(p.X.begin(), p.X.end()), a_out;
  for (int64_t l = 0; l < p.n_layers(); ++l) {
    const int64_t w = p.width[l + 1], nin = p.width[l];
    const double* W = theta + p.w_offset[l];
    a_out.assign(size_t(p.n * w), 0.0);
    for (int64_t i = 0; i < p.n; ++i)
      for (int64_t j = 0; j < w; ++j) {
        double size = p.has_bias[l] ? std::abs(theta[p.b_offset[l] + j]) : 0.0;
        for (int64_t k = 0; k < nin; ++k) size += std::abs(W[j * nin + k] * a_in[size_t(i * nin + k)]);
        const double z = ws_.Z[l][i * w + j];
        const bool on = z > 8 * std::numeric_limits<double>::epsilon() * size;
        side_[l][i * w + j] = on ? 1 : -1;
        mask_[l][i * w + j] = on ? 1.0 : p.negative_slope[l][j];
        slopes_.set(l, i, j, on);
        a_out[size_t(i * w + j)] = (z > 0 ? 1.0 : p.negative_slope[l][j]) * z;
      }
    a_in.swap(a_out);
    // A twin takes its canonical sample's side (their z may round differently at a kink).
    for (int64_t i = 0; i < int64_t(twins_.size()); ++i)
      for (int64_t j = 0; j < w; ++j)
        if (!twins_[size_t(i)].empty()) set_side(PairId{i, l, j}, side_[l][i * w + j]);
  }
}

double FlowField::velocity(const double* theta, const PairId& q, const double* f) {
  trace_sample(p, theta, q.sample, &mask_, trace_, q.layer > 0 ? q.layer - 1 : 0);
  return preact_velocity(p, theta, trace_, q.layer, q.neuron, f, scratch_);
}

void FlowField::run_kernel(const double* theta, double* f, bool keep_z) {
  slopes_.fixed.clear();
  for (const SlidingPair& sp : sliding_)
    with_twins(sp.pair.sample, [&](int64_t i) {
      slopes_.fixed.push_back({sp.pair.layer, i, sp.pair.neuron, sp.s});
    });
  std::sort(slopes_.fixed.begin(), slopes_.fixed.end(),
            [](const SlopeMask::Fixed& a, const SlopeMask::Fixed& b) { return a.sample < b.sample; });
  ws_.keep_z = keep_z;
  kernel_(p, ws_, theta, &slopes_, f);
  ++evaluations;
}

void FlowField::evaluate(const double* theta, double* f, bool keep_z) {
  run_kernel(theta, f, keep_z);
  if (!sliding_.empty()) solve_sliding(theta, f);
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
    set_slope(sp.pair, sp.s);
  }
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
    bool evaluated = false;  // either way the integrator takes f and Z at theta as the start
    new_state = slide_if_pushed_back(q, new_state, t, theta, f, evaluated);
  }
  if (new_state != 2) record_event(t, q, new_state);
  release_pushed_out(t, theta, f);
}

int FlowField::slide_if_pushed_back(const PairId& q, int new_state, double t,
                                    const double* theta, double* f, bool& evaluated) {
  if (!(double(new_state) * velocity(theta, q, f) < 0)) return new_state;
  // f is affine in the slopes (exactly so for one hidden layer): the solve starts from f
  // as evaluated, with the pair at the slope of its new side, and needs no new pass.
  const int64_t ix = q.sample * p.width[q.layer + 1] + q.neuron;
  const double alpha = p.negative_slope[q.layer][q.neuron];
  sliding_.push_back({q, mask_[q.layer][ix], std::min(alpha, 1.0), std::max(alpha, 1.0), t});
  set_side(q, 0);
  if (solve_sliding(theta, f) && sliding_.back().inside(sliding_.back().s)) return 0;
  sliding_.pop_back();
  set_side(q, new_state);
  rhs(theta, f);
  evaluated = true;
  return new_state;
}

bool FlowField::release_pushed_out(double t, const double* theta, double* f) {
  // The jump in the field can push another sliding pair's slope out of its interval at
  // this very instant: it leaves now (else a later step could miss the exit).
  bool evaluated = false;
  for (int guard = 0; guard < 1000; ++guard) {
    int64_t out = -1;
    for (int64_t k = 0; k < int64_t(sliding_.size()) && out < 0; ++k) {
      const SlidingPair& sp = sliding_[k];
      if (!sp.inside(sp.s)) out = k;
    }
    if (out < 0) break;
    Event exit;
    exit.kind = 2;
    exit.pair = sliding_[out].pair;
    exit.slide_index = out;
    exit.exit_high = sliding_[out].room(sliding_[out].s, true) < 0;
    apply_exit(exit, t, theta, f);
    evaluated = true;
  }
  return evaluated;
}

void FlowField::record_event(double t, const PairId& q, int new_state) {
  if (!record_events_) return;
  with_twins(q.sample, [&](int64_t i) {
    out_.ev_time.push_back(t); out_.ev_sample.push_back(i);
    out_.ev_layer.push_back(q.layer); out_.ev_neuron.push_back(q.neuron);
    out_.ev_state.push_back(new_state);
  });
}

void FlowField::record_slide(const PairId& q, double t_start, double t_end) {
  with_twins(q.sample, [&](int64_t i) {
    out_.sl_sample.push_back(i); out_.sl_layer.push_back(q.layer);
    out_.sl_neuron.push_back(q.neuron); out_.sl_start.push_back(t_start);
    out_.sl_end.push_back(t_end);
  });
}

void FlowField::apply_exit(const Event& ev, double t, const double* theta, double* f) {
  const PairId& q = ev.pair;
  // Leaving the kink: to the active side when s passed 1, else to the inactive side.
  const SlidingPair& sp = sliding_[ev.slide_index];
  const double alpha = p.negative_slope[q.layer][q.neuron];
  const int new_state = ev.exit_high == (alpha < 1.0) ? 1 : -1;
  record_slide(q, sp.t_start, t);
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

void FlowField::note_repelling(double t) {
  for (SlidingPair& sp : sliding_) {
    const double alpha = p.negative_slope[sp.pair.layer][sp.pair.neuron];
    if (sp.repelled || !(sp.gain * (1.0 - alpha) > 0)) continue;
    sp.repelled = true;
    with_twins(sp.pair.sample, [&](int64_t i) {
      out_.rep_time.push_back(t); out_.rep_sample.push_back(i);
      out_.rep_layer.push_back(sp.pair.layer); out_.rep_neuron.push_back(sp.pair.neuron);
    });
  }
}

void FlowField::finish(double t_end) {
  for (const SlidingPair& sp : sliding_) record_slide(sp.pair, sp.t_start, t_end);
}

}  // namespace regionlab::flow
