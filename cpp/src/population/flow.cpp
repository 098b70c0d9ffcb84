#include "regionlab/population/flow.hpp"

#include <cmath>
#include <string>

#include "../ode/steppers.hpp"
#include "regionlab/errors.hpp"

namespace regionlab::population {

namespace {

// dy/dt = -grad F, y = W, then a (when it trains), then c (when the bias trains).
class PopulationField {
 public:
  PopulationField(const Teacher& t, const double* a0, int64_t n, double alpha, bool train_a,
                  double c0, bool train_c)
      : t_(t), n_(n), alpha_(alpha), train_a_(train_a), train_c_(train_c), c0_(c0),
        a_(a0, a0 + n), gW_(size_t(n * t.d)), ga_(size_t(n)) {}
  const double* a_of(const double* y) const { return train_a_ ? y + n_ * t_.d : a_.data(); }
  double c_of(const double* y) const { return train_c_ ? y[n_ * t_.d + (train_a_ ? n_ : 0)] : c0_; }
  void rhs(const double* y, double* f) {
    double gc = 0;
    gradient(t_, Student{y, a_of(y), n_, alpha_, c_of(y)}, gW_.data(), ga_.data(), &gc);
    for (size_t q = 0; q < gW_.size(); ++q) f[q] = -gW_[q];
    int64_t off = n_ * t_.d;
    if (train_a_) {
      for (int64_t i = 0; i < n_; ++i) f[off + i] = -ga_[size_t(i)];
      off += n_;
    }
    if (train_c_) f[off] = -gc;
    ++evaluations;
  }
  void stage_rhs(const double* y, double* f) { rhs(y, f); }
  void mark_step_end() {}
  // (loss, |grad|) at y.
  std::pair<double, double> measure(const double* y) {
    double gc = 0;
    const double F = gradient(t_, Student{y, a_of(y), n_, alpha_, c_of(y)}, gW_.data(), ga_.data(), &gc);
    double g2 = 0;
    for (double g : gW_) g2 += g * g;
    if (train_a_)
      for (double g : ga_) g2 += g * g;
    if (train_c_) g2 += gc * gc;
    return {F, std::sqrt(g2)};
  }
  const std::vector<double>& fixed_a() const { return a_; }
  int64_t evaluations = 0;

 private:
  const Teacher& t_;
  int64_t n_;
  double alpha_;
  bool train_a_, train_c_;
  double c0_;
  std::vector<double> a_, gW_, ga_;
};

}  // namespace

FlowRun flow(const Teacher& t, const double* W0, const double* a0, int64_t n, double alpha,
             const FlowOptions& opt, Checkpoint* checkpoint) {
  using namespace ode;
  if (!(opt.t_end > 0) || !std::isfinite(opt.t_end)) throw InvalidInput("t_end must be > 0");
  if (!(opt.rtol > 0) || !(opt.atol > 0)) throw InvalidInput("rtol and atol must be > 0");
  const int64_t d = t.d, P = n * d + (opt.train_a ? n : 0) + (opt.train_c ? 1 : 0);
  PopulationField field(t, a0, n, alpha, opt.train_a, opt.c0, opt.train_c);
  const size_t np = static_cast<size_t>(P);
  Vec y(np), f0(np), y1(np), f1(np), buf(np);
  std::copy(W0, W0 + n * d, y.begin());
  if (opt.train_a) std::copy(a0, a0 + n, y.begin() + n * d);
  if (opt.train_c) y[size_t(P - 1)] = opt.c0;
  StepWork work(np, std::vector<double>(np, 1.0));
  DenseOutput dense;
  for (Vec* v : {&dense.r1, &dense.r2, &dense.r3, &dense.r4, &dense.r5}) v->assign(np, 0.0);
  FlowRun run;
  auto record = [&](double at, const double* state) {
    const auto [F, g] = field.measure(state);
    run.rec_t.push_back(at);
    run.rec_loss.push_back(F);
    run.rec_grad_norm.push_back(g);
    run.rec_W.insert(run.rec_W.end(), state, state + n * d);
    if (opt.train_a) run.rec_a.insert(run.rec_a.end(), state + n * d, state + n * d + n);
    else run.rec_a.insert(run.rec_a.end(), field.fixed_a().begin(), field.fixed_a().end());
    run.rec_c.push_back(field.c_of(state));
  };
  field.rhs(y.data(), f0.data());
  const auto& rt = opt.record_times;
  size_t next = 0;
  while (next < rt.size() && rt[next] <= 0) record(rt[next++], y.data());
  StepControl control(Method::dopri5, starting_step(field, y, f0, opt.t_end, opt.rtol, opt.atol, 4, work));
  double time = 0;
  while (time < opt.t_end) {
    if (checkpoint && (run.steps + run.rejected) % 64 == 0) (*checkpoint)();
    if (run.steps + run.rejected >= opt.max_steps)
      throw LimitExceeded("population flow: max_steps=" + std::to_string(opt.max_steps) +
                          " reached at t=" + std::to_string(time) + "; raise max_steps");
    double h = control.step(Method::dopri5);
    const bool last = time + h >= opt.t_end * (1 - 1e-15);
    if (last) h = opt.t_end - time;
    const double enorm = dopri5_step(field, y, f0, h, y1, f1, work, dense, opt.rtol, opt.atol);
    if (!control.update(Method::dopri5, h, enorm)) {
      ++run.rejected;
      if (ode::step_collapsed(control.step(Method::dopri5), time, opt.t_end))
        throw LimitExceeded("population flow: the step size collapsed at t=" + std::to_string(time));
      continue;
    }
    ++run.steps;
    const double t1 = last ? opt.t_end : time + h;
    while (next < rt.size() && rt[next] <= t1) {
      const double tau = std::min(1.0, (rt[next] - time) / h);
      if (tau >= 1.0) {
        record(rt[next++], y1.data());
      } else {
        dense.eval(tau, buf.data());
        record(rt[next++], buf.data());
      }
    }
    y.swap(y1);
    f0.swap(f1);
    time = t1;
  }
  while (next < rt.size()) record(rt[next++], y.data());
  const auto [F, g] = field.measure(y.data());
  run.loss = F;
  run.grad_norm = g;
  run.W.assign(y.begin(), y.begin() + n * d);
  if (opt.train_a) run.a.assign(y.begin() + n * d, y.begin() + n * d + n);
  else run.a = field.fixed_a();
  run.c = field.c_of(y.data());
  run.evaluations = field.evaluations;
  return run;
}

std::vector<FlowRun> flow_many(const Teacher& t, const double* W0, const double* a0, int64_t runs,
                               int64_t n, double alpha, const FlowOptions& opt, int threads,
                               const InterruptCheck& interrupted) {
  std::vector<FlowRun> out(static_cast<size_t>(runs));
  parallel_tasks(runs, threads, [&](int, int64_t r, Checkpoint& checkpoint) {
    out[size_t(r)] = flow(t, W0 + r * n * t.d, a0 + r * n, n, alpha, opt, &checkpoint);
  }, interrupted);
  return out;
}

}  // namespace regionlab::population
