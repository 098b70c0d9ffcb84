// Aimed steps: a step ends just past kink crossings and switches their pairs there,
// without a restart evaluation (see FlowField::aim_step in field.hpp).
//
// A crossing switched `late` after its root leaves the state behind by late * jump; the
// switch adds that back (catch_up), so what remains is second order: the jump's own
// change and its effect on the old field over the late stretch, about
// late^2 / 2 * (J jump). The stretch each crossing may take is chosen so that this stays
// under kAimShare of the tolerance (J's size taken from the field's secants over the last
// steps, times a safety factor), and the first-order error under kLateCap tolerances.
//
// The prediction: for each candidate first-layer pair (the screen's pairs moving toward
// their kink, and those past it at the last step's end), z(s) ~ z + z' s + z'' s^2 / 2
// with z and z' exact at the step's start (z' = (x, 1) . f0 on the neuron's row) and
// z'' from the field's change over the last step. A step is cut so that every crossing
// predicted inside it ends within half its allowed stretch; a crossing that then falls
// outside its stretch (or any other event) makes the step end at its first event, as
// without aiming.
#include <algorithm>
#include <cmath>

#include "field.hpp"
#include "root_finding.hpp"

namespace regionlab::flow {

void FlowField::configure_aim(bool on, double rtol, double atol, size_t trained) {
  // (not with duplicate samples: a switch at the step's end moves one sample's slope)
  aim_.on = on && p.n_layers() == 2 && !p.has_ties() && twins_.empty();
  aim_.rtol = rtol;
  aim_.atol = atol;
  aim_.trained = std::max<size_t>(trained, 1);
  aim_.lookahead = 2.0;
  fdot_.assign(aim_.on ? size_t(p.n_params) : 0, 0.0);
}

double FlowField::jump_rate(const double* theta, int64_t i, int64_t j) const {
  const int64_t d = p.width[0];
  const int64_t w0 = p.w_offset[0], b0 = p.b_offset[0];
  const double alpha = p.negative_slope[0][j];
  // The field's jump on row j: -P (s_new - s_old) E (x_i, 1), |s_new - s_old| = |1 - alpha|.
  const double e = std::abs((1.0 - alpha) * first_layer_signal(theta, i, j));
  const double* x = p.X.data() + i * d;
  const double* P = p.precond.data();
  double s2 = 0;
  for (int64_t r = 0; r < d; ++r) {
    const double v = e * P[w0 + j * d + r] * x[r] /
                     (aim_.atol + aim_.rtol * std::abs(theta[w0 + j * d + r]));
    s2 += v * v;
  }
  if (b0 >= 0) {
    const double v = e * P[b0 + j] / (aim_.atol + aim_.rtol * std::abs(theta[b0 + j]));
    s2 += v * v;
  }
  return std::sqrt(s2 / double(aim_.trained));
}

void FlowField::note_step(const double* y0, const double* f0, const double* y1,
                          const double* f1, double h, double next_h) {
  if (!aim_.on) return;
  double df2 = 0, dy2 = 0;
  for (int64_t k = 0; k < p.n_params; ++k) {
    fdot_[k] = (f1[k] - f0[k]) / h;
    df2 += (f1[k] - f0[k]) * (f1[k] - f0[k]);
    dy2 += (y1[k] - y0[k]) * (y1[k] - y0[k]);
  }
  // A recent maximum of the secant: J's size along the flow, for the second-order error.
  const double secant = dy2 > 0 ? std::sqrt(df2 / dy2) : 0.0;
  stiffness_ = std::max(secant, 0.8 * stiffness_);
  // Candidates must cover the next step: pairs that reach their kink within it at the
  // pace of this one.
  aim_.lookahead = std::max(2.0, 1.5 * next_h / h);
}

namespace {

// Smallest s > 0 with c + b s + a s^2 = 0 where c > 0; +inf when there is none.
double first_root(double a, double b, double c) {
  const double inf = INFINITY;
  if (a == 0) return b < 0 ? -c / b : inf;
  const double disc = b * b - 4 * a * c;
  if (disc < 0) return inf;
  const double q = -0.5 * (b + std::copysign(std::sqrt(disc), b));
  double best = inf;
  for (double r : {q / a, q != 0 ? c / q : inf})
    if (r > 0 && r < best) best = r;
  return best;
}

}  // namespace

double FlowField::allowed_lateness(double rate) const {
  // No jump on the pair's row (a frozen first layer): the switch's remaining effect, its
  // forward term s z, is not bounded here, so such crossings are not switched late.
  if (!(rate > 0)) return 0.0;
  const double second = std::sqrt(2 * kAimShare / (rate * kStiffnessSafety * std::max(stiffness_, 1e-300)));
  return std::min(second, kLateCap / rate);
}

double FlowField::aim_step(double t, const double* y, const double* f0, double h) {
  if (!aim_.on || approach_.empty()) return h;
  const int64_t w = p.width[1];
  predicted_.clear();
  for (int64_t ix : approach_) {
    const int64_t i = ix / w, j = ix % w;
    const double sg = side_[0][ix];
    if (sg == 0) continue;  // sliding
    const double z = first_layer_dot(y, i, j), dz = first_layer_dot(f0, i, j),
                 ddz = first_layer_dot(fdot_.data(), i, j);
    if (!(sg * z > 0)) continue;  // at or past the kink: the event search handles it now
    const double s = first_root(0.5 * sg * ddz, sg * dz, sg * z);
    if (s < h) predicted_.push_back({s, allowed_lateness(jump_rate(y, i, j))});
  }
  std::sort(predicted_.begin(), predicted_.end());
  double best = h;
  for (const auto& [s, allow] : predicted_) {
    if (!(s < best)) break;
    best = std::min(best, s + 0.5 * allow);  // half: room for the prediction's error
  }
  if (!(best < h) || best <= 1e-12 * std::max(1.0, t)) return h;
  ++aimed_steps;
  return best;
}

double FlowField::p_gain(int64_t j, int64_t i) const {
  const int64_t d = p.width[0];
  const int64_t w0 = p.w_offset[0], b0 = p.b_offset[0];
  const double* x = p.X.data() + i * d;
  const double* P = p.precond.data() + w0 + j * d;
  double g = b0 >= 0 ? p.precond[b0 + j] : 0.0;
  for (int64_t r = 0; r < d; ++r) g += P[r] * x[r] * x[r];
  return g;
}

double FlowField::first_layer_dot(const double* v, int64_t i, int64_t j) const {
  const int64_t d = p.width[0];
  const int64_t w0 = p.w_offset[0], b0 = p.b_offset[0];
  const double* x = p.X.data() + i * d;
  double acc = b0 >= 0 ? v[b0 + j] : 0.0;
  for (int64_t r = 0; r < d; ++r) acc += v[w0 + j * d + r] * x[r];
  return acc;
}

// Whether the pair, on its new side with the jump included, moves away from its kink at
// least a quarter as fast as it arrived. A slower departure (a pair about to slide, or a
// near-tangent one) is cut at its root: the catch-up's second-order error could put it
// back on the old side.
bool FlowField::leaves_cleanly(const PairId& q, const double* y1, const double* f1) const {
  const int64_t j = q.neuron;
  const double sg = side_[0][q.sample * p.width[1] + j];  // the old side
  const double ds = -sg * (1.0 - p.negative_slope[0][j]);  // to the new side's slope
  const double e = first_layer_signal(y1, q.sample, j);
  const double arrival = first_layer_dot(f1, q.sample, j);
  const double departure = arrival - ds * e * p_gain(j, q.sample);
  return -sg * departure >= 0.25 * std::abs(arrival);
}

bool FlowField::ends_at_event(const Event& ev, const DenseOutput& dense, double h, const double* y1,
                              const double* f1) {
  if (!aim_.on || !(ev.tau > 0) || ev.tau > 1) return false;
  if (crossed_.empty() || !dips_.empty() || exits_found_) return false;
  batch_.clear();
  for (const PairId& q : crossed_) {
    if (q.layer != 0 || in_grace(q)) return false;
    const double sg = side_[0][q.sample * p.width[1] + q.neuron];
    double c[5];
    first_layer_poly(dense, q.sample, q.neuron, c);
    auto g = [&](double t) {
      const double u = 1.0 - t;
      return sg * (c[0] + t * (c[1] + u * (c[2] + t * (c[3] + u * c[4]))));
    };
    const double g0 = g(0.0), g1 = g(1.0);
    if (!(g0 > 0) || !(g1 < 0)) return false;
    const double tau = illinois(g, 0.0, g0, 1.0, g1, 1e-14, 200);
    if ((1.0 - tau) * h > allowed_lateness(jump_rate(y1, q.sample, q.neuron))) return false;
    if (!leaves_cleanly(q, y1, f1)) return false;  // e.g. entering a sliding mode: cut there
    batch_.push_back({tau, q});
  }
  std::sort(batch_.begin(), batch_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  // A switch moves its neuron's row, so a second root on the same neuron would be found
  // on the wrong path (first order); on other neurons the effect is second order.
  neurons_.clear();
  for (const auto& [tau, q] : batch_) neurons_.push_back(q.neuron);
  std::sort(neurons_.begin(), neurons_.end());
  if (std::adjacent_find(neurons_.begin(), neurons_.end()) != neurons_.end()) return false;
  // Nor may a switch push another pair of its neuron across its kink within the step
  // (a crossing the old path never had). The switch moves z of pair (i', j) by at most
  // late |jump|_{P^-1} |(x_i', 1)|_P (the sliding re-solve only shortens the jump in the
  // P^-1 norm); the old path keeps min(|z0|, |z1|) - reach away from the kink.
  for (const auto& [tau, q] : batch_) {
    const int64_t j = q.neuron;
    const double jump = std::abs((1.0 - p.negative_slope[0][j]) * first_layer_signal(y1, q.sample, j)) *
                        std::sqrt(p_gain(j, q.sample));
    const double shift = (1.0 - tau) * h * jump;
    for (int64_t i = 0; i < p.n; ++i) {
      const int64_t ix = i * p.width[1] + j;
      if (i == q.sample || side_[0][ix] == 0) continue;
      const double sg = side_[0][ix];
      const double clear = std::min(sg * z_start_[0][ix], sg * ws_.Z[0][ix]) - curv_[j] * xnorm_[i];
      if (clear <= shift * std::sqrt(p_gain(j, i))) return false;
    }
  }
  return true;
}

void FlowField::apply_at_step_end(double t0, double h, double* y1, double* f1) {
  catch_up_.assign(size_t(p.n_params), 0.0);
  jumps_.resize(batch_.size());
  bool evaluated = false;
  for (size_t e = 0; e < batch_.size(); ++e) {
    const auto& [tau, q] = batch_[e];
    const double t_cross = t0 + tau * h, late = (1.0 - tau) * h;
    f_before_.assign(f1, f1 + p.n_params);
    evaluated |= switch_at_end(q, t_cross, y1, f1);
    std::vector<double>& jump = jumps_[e];
    jump.resize(size_t(p.n_params));
    for (int64_t k = 0; k < p.n_params; ++k) {
      jump[k] = f1[k] - f_before_[k];
      catch_up_[k] += late * jump[k];
    }
  }
  if (evaluated) {
    mark_step_start();  // the pre-activations of the last evaluation are the new start
  } else {
    for (SlidingPair& sp : sliding_) sp.s_begin = sp.s;
  }
  catch_up(y1);
}

bool FlowField::switch_at_end(const PairId& q, double t_cross, const double* y1, double* f1) {
  const int64_t d = p.width[0], w = p.width[1];
  const int64_t w0 = p.w_offset[0], b0 = p.b_offset[0];
  const int64_t ix = q.sample * w + q.neuron;
  const double s_old = mask_[0][ix];
  const int new_state = -side_[0][ix];
  set_side(q, new_state);
  // The field's jump: only row j of the first layer reads the pair's slope (its forward
  // effect, s z with z = O(late) past the root, is left out: O(late) against the jump).
  const double e = first_layer_signal(y1, q.sample, q.neuron);
  const double ds = mask_[0][ix] - s_old;
  const double* x = p.X.data() + q.sample * d;
  const double* P = p.precond.data();
  for (int64_t r = 0; r < d; ++r) f1[w0 + q.neuron * d + r] -= P[w0 + q.neuron * d + r] * ds * e * x[r];
  if (b0 >= 0) f1[b0 + q.neuron] -= P[b0 + q.neuron] * ds * e;
  bool evaluated = false;
  if (!sliding_.empty()) {
    // The sliding slopes on the same neuron see the jump: solve them again.
    if (!solve_sliding(y1, f1)) {
      rhs(y1, f1);
      evaluated = true;
    }
  }
  const int state = slide_if_pushed_back(q, new_state, t_cross, y1, f1, evaluated);
  if (state != 0 && double(state) * sample_preact(p, y1, q.sample, 0, q.neuron, mask_, trace_) <= 0)
    grace_.push_back(q);  // z rounds to the old side: do not count that as a crossing back
  record_event(t_cross, q, state);
  ++end_events;
  evaluated |= release_pushed_out(t_cross, y1, f1);
  return evaluated;
}

void FlowField::correct_dense(double tau, double h, double* theta) const {
  for (size_t e = 0; e < batch_.size() && batch_[e].first < tau; ++e) {
    const double w = (tau - batch_[e].first) * h;
    const std::vector<double>& jump = jumps_[e];
    for (int64_t k = 0; k < p.n_params; ++k) theta[k] += w * jump[k];
  }
}

void FlowField::dense_correction(size_t pieces, double h, std::vector<double>& a,
                                 std::vector<double>& b) const {
  a.assign(size_t(p.n_params), 0.0);
  b.assign(size_t(p.n_params), 0.0);
  for (size_t e = 0; e < pieces; ++e) {
    const std::vector<double>& jump = jumps_[e];
    for (int64_t k = 0; k < p.n_params; ++k) {
      a[k] -= batch_[e].first * h * jump[k];
      b[k] += h * jump[k];
    }
  }
}

// Moves the state by the switches' catch-up (catch_up_), and the start pre-activations of
// the neurons whose rows moved with it.
void FlowField::catch_up(double* y1) {
  const int64_t d = p.width[0], w = p.width[1];
  const int64_t w0 = p.w_offset[0], b0 = p.b_offset[0];
  for (int64_t k = 0; k < p.n_params; ++k) y1[k] += catch_up_[k];
  const double* dy = catch_up_.data();
  row_size_.assign(size_t(w), 0.0);
  double largest = 0;
  for (int64_t j = 0; j < w; ++j) {
    double size = b0 >= 0 ? std::abs(dy[b0 + j]) : 0.0;
    for (int64_t r = 0; r < d; ++r) size = std::max(size, std::abs(dy[w0 + j * d + r]));
    row_size_[j] = size;
    largest = std::max(largest, size);
  }
  for (int64_t j = 0; j < w; ++j) {
    // Rows that a sliding solve only touched up to rounding keep their pre-activations.
    if (!(row_size_[j] > 1e-9 * largest)) continue;
    for (int64_t i = 0; i < p.n; ++i) z_start_[0][i * w + j] += first_layer_dot(dy, i, j);
  }
}

}  // namespace regionlab::flow
