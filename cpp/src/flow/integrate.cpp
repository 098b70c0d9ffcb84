// The integration loop: Dormand-Prince 5(4) (or RK4 / Euler) on each smooth piece, with a
// restart at every event the field reports, and records taken from the dense output.
#include "regionlab/flow/integrate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "field.hpp"
#include "interrupt_poller.hpp"
#include "../ode/steppers.hpp"
#include "regionlab/errors.hpp"

namespace regionlab::flow {

using namespace ode;  // the steppers, step control and dense output this loop drives

namespace {

// Takes the records: parameters, loss, per-sample loss and margin (sign slopes).
class Recorder {
 public:
  Recorder(const FlowProblem& p, FlowResult& out)
      : p_(p), out_(out), kernel_(batch_gradient()), ws_(p, 1) {}  // records are rare: one thread
  void record(double t, const double* theta) {
    kernel_(p_, ws_, theta, nullptr, nullptr);
    out_.t.push_back(t);
    out_.loss.push_back(ws_.loss);
    out_.params.insert(out_.params.end(), theta, theta + p_.n_params);
    out_.sample_loss.insert(out_.sample_loss.end(), ws_.sample_loss.begin(), ws_.sample_loss.end());
    out_.margin.insert(out_.margin.end(), ws_.margin.begin(), ws_.margin.end());
  }

 private:
  const FlowProblem& p_;
  FlowResult& out_;
  BatchGradientFn kernel_;
  BatchWorkspace ws_;
};

// Appends the accepted piece [t0, t1] of a step's dense output to out.dense_* (the
// coefficients a lower-order piece does not use are stored as 0).
// With a and b, the piece is dense + a + b tau (see FlowField::dense_correction).
void keep_dense(const DenseOutput& dense, double t0, double t1, FlowResult& out,
                const Vec* a = nullptr, const Vec* b = nullptr) {
  out.dense_t0.push_back(t0);
  out.dense_t1.push_back(t1);
  out.dense_h.push_back(dense.h);
  const size_t P = dense.r1.size();
  const Vec* rows[5] = {&dense.r1, &dense.r2, &dense.r3, &dense.r4, &dense.r5};
  const int used = dense.quartic ? 5 : dense.cubic ? 4 : 2;
  for (int r = 0; r < 5; ++r) {
    const size_t at = out.dense_coef.size();
    if (r < used)
      out.dense_coef.insert(out.dense_coef.end(), rows[r]->begin(), rows[r]->end());
    else
      out.dense_coef.insert(out.dense_coef.end(), P, 0.0);
    const Vec* add = r == 0 ? a : r == 1 ? b : nullptr;
    if (add)
      for (size_t k = 0; k < P; ++k) out.dense_coef[at + k] += (*add)[k];
  }
}

// A step whose crossings switched at its end: its dense output in pieces between their
// roots, each corrected for the switches before it.
void keep_switched_dense(const DenseOutput& dense, const FlowField& field, double t0, double t1,
                         FlowResult& out) {
  Vec a, b;
  const size_t n = field.step_switches();
  for (size_t e = 0; e <= n; ++e) {
    const double end = e < n ? t0 + field.switch_tau(e) * dense.h : t1;
    field.dense_correction(e, dense.h, a, b);
    keep_dense(dense, t0, end, out, &a, &b);
  }
}

}  // namespace

FlowResult integrate(const FlowProblem& p, const double* theta0, const IntegrateOptions& opt,
                     const InterruptCheck& interrupted) {
  if (!(opt.t_end > 0) || !std::isfinite(opt.t_end)) throw InvalidInput("t_end must be > 0");
  const bool adaptive = opt.method == Method::dopri5 || opt.method == Method::bs3;
  if (!adaptive && !(opt.step > 0)) throw InvalidInput("rk4 and euler need a positive step");
  const size_t np = static_cast<size_t>(p.n_params);
  FlowResult out;
  FlowField field(p, out, opt.events, opt.threads);
  Recorder rec(p, out);
  InterruptPoller poll(interrupted);
  Vec y(theta0, theta0 + np), f0(np), y1(np), f1(np), buf(np);
  StepWork work(np, p.precond);
  DenseOutput dense;
  for (Vec* v : {&dense.r1, &dense.r2, &dense.r3, &dense.r4, &dense.r5}) v->assign(np, 0.0);

  field.init_mask(y.data());
  if (opt.threads <= 0) field.autotune_threads(y.data());
  field.rhs(y.data(), f0.data());
  for (const double v : f0)
    if (!std::isfinite(v))
      throw InvalidInput("integrate: the field is not finite at the start (the network's outputs "
                         "or the loss's gradient overflow float64); rescale the data or the weights");
  field.mark_step_start();
  field.mark_step_end();

  const auto& rt = opt.record_times;
  size_t next_rec = 0;
  while (next_rec < rt.size() && rt[next_rec] <= 0) rec.record(rt[next_rec++], y.data());

  double h0 = opt.step;
  if (adaptive && !(h0 > 0))
    h0 = starting_step(field, y, f0, opt.t_end, opt.rtol, opt.atol,
                       opt.method == Method::bs3 ? 2 : 4, work);
  StepControl control(opt.method, h0);
  field.configure_aim(opt.aim && adaptive, opt.rtol, opt.atol, work.trained);
  double t = 0;
  while (t < opt.t_end) {
    poll.poll();
    if (out.steps + out.rejected >= opt.max_steps) {
      std::ostringstream msg;
      msg << "integrate: max_steps=" << opt.max_steps << " reached at t=" << t << " of t_end="
          << opt.t_end << " (" << out.steps << " steps, " << out.ev_time.size()
          << " events so far); raise max_steps, or loosen rtol/atol";
      throw LimitExceeded(msg.str());
    }
    const Method m = control.next(t);
    double h = adaptive ? control.step(m) : opt.step;
    bool aimed = false;
    if (adaptive && field.aiming()) {
      const double h_aim = field.aim_step(t, y.data(), f0.data(), h);
      aimed = h_aim < h;
      h = h_aim;
    }
    const bool last = t + h >= opt.t_end * (1 - 1e-15);
    if (last) h = opt.t_end - t;
    // Steps that no longer move t (also those that step control shrank after rejections).
    if (adaptive && !last && ode::step_collapsed(h, t, opt.t_end)) {
      std::ostringstream msg;
      msg << "integrate: the step size collapsed to " << h << " at t=" << t
          << " (the field is far too steep, or the flow blowing up: check the data, the weights "
             "and the learning problem)";
      throw LimitExceeded(msg.str());
    }
    if (m == Method::dopri5 || m == Method::bs3) {
      const double enorm =
          m == Method::dopri5 ? dopri5_step(field, y, f0, h, y1, f1, work, dense, opt.rtol, opt.atol)
                              : bs3_step(field, y, f0, h, y1, f1, work, dense, opt.rtol, opt.atol);
      if (!control.update(m, h, enorm, aimed)) {
        ++out.rejected;
        continue;  // (a collapsed step is caught at the top of the loop)
      }
      if (m == Method::bs3) ++out.low_order_steps;
    } else if (m == Method::rk4) {
      rk4_step(field, y, f0, h, y1, f1, work, dense);
    } else {
      euler_step(field, y, f0, h, y1, f1, dense);
    }
    ++out.steps;
    dense.t0 = t;
    dense.h = h;
    if (adaptive)
      field.note_step(y.data(), f0.data(), y1.data(), f1.data(), h, control.step(control.next(t + h)));
    const FlowField::Event ev = field.find_event(dense, buf);
    // Crossings close enough to the step's end (an aimed step's usual case) switch there,
    // where f1 is known: the step is kept whole.
    const bool at_end = ev.tau <= 1.0 && field.ends_at_event(ev, dense, h, y1.data(), f1.data());
    const bool has_event = ev.tau <= 1.0 && !at_end;
    const double t_stop = has_event ? (ev.tau >= 1.0 && last ? opt.t_end : t + ev.tau * h)
                                    : (last ? opt.t_end : t + h);
    if (opt.keep_dense && !at_end) keep_dense(dense, t, t_stop, out);
    while (!at_end && next_rec < rt.size() && rt[next_rec] <= t_stop) {
      const double tau = std::min(1.0, (rt[next_rec] - t) / h);
      if (tau >= 1.0 && !has_event) {
        rec.record(rt[next_rec++], y1.data());
      } else {
        dense.eval(tau, buf.data());
        rec.record(rt[next_rec++], buf.data());
      }
    }
    if (has_event) {
      dense.eval(ev.tau, y.data());
      t = t_stop;
      field.apply(ev, t, y.data(), f0.data());
      field.mark_step_start();
      control.event(t);
    } else {
      y.swap(y1);
      f0.swap(f1);
      const double t_start = t;
      t = t_stop;
      field.advance_to_step_end();
      if (at_end) {
        field.apply_at_step_end(t_start, h, y.data(), f0.data());
        control.event(t);
        // Records and the kept dense output see the switches (y: the caught-up end).
        if (opt.keep_dense) keep_switched_dense(dense, field, t_start, t, out);
        while (next_rec < rt.size() && rt[next_rec] <= t) {
          const double tau = (rt[next_rec] - t_start) / h;
          if (tau >= 1.0) {
            rec.record(rt[next_rec++], y.data());
          } else {
            dense.eval(tau, buf.data());
            field.correct_dense(tau, h, buf.data());
            rec.record(rt[next_rec++], buf.data());
          }
        }
      }
    }
    field.note_repelling(t);
  }
  while (next_rec < rt.size()) rec.record(rt[next_rec++], y.data());
  field.finish(t);
  out.evaluations = field.evaluations;
  out.aimed_steps = field.aimed_steps;
  out.end_events = field.end_events;
  return out;
}

}  // namespace regionlab::flow
