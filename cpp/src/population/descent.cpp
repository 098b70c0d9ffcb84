#include "regionlab/population/descent.hpp"

#include <cmath>

#include "regionlab/errors.hpp"

namespace regionlab::population {

namespace {

void record(DescentRun& r, int64_t step, double loss, double gnorm, const std::vector<double>& W,
            const std::vector<double>& a) {
  r.rec_c.push_back(r.c);
  r.rec_step.push_back(step);
  r.rec_loss.push_back(loss);
  r.rec_grad_norm.push_back(gnorm);
  r.rec_W.insert(r.rec_W.end(), W.begin(), W.end());
  r.rec_a.insert(r.rec_a.end(), a.begin(), a.end());
}

constexpr int64_t kCheckEvery = 256;  // steps between checkpoints

}  // namespace

DescentRun descend(const Teacher& t, const double* W0, const double* a0, int64_t n, double alpha,
                   const DescentOptions& opt, Checkpoint* checkpoint) {
  if (!(opt.lr > 0) || !std::isfinite(opt.lr)) throw InvalidInput("lr must be positive and finite");
  if (opt.max_steps < 0) throw InvalidInput("steps must be >= 0");
  const int64_t d = t.d;
  DescentRun r;
  r.W.assign(W0, W0 + n * d);
  r.a.assign(a0, a0 + n);
  std::vector<double> gW(static_cast<size_t>(n * d));
  std::vector<double> ga(static_cast<size_t>(n));
  r.c = opt.c0;
  double gc = 0;
  for (int64_t step = 0;; ++step) {
    if (checkpoint && step % kCheckEvery == 0) (*checkpoint)();
    const double F = gradient(t, Student{r.W.data(), r.a.data(), n, alpha, r.c}, gW.data(), ga.data(), &gc);
    double g2 = 0;
    for (double g : gW) g2 += g * g;
    if (opt.train_a)
      for (double g : ga) g2 += g * g;
    if (opt.train_c) g2 += gc * gc;
    const double gnorm = std::sqrt(g2);
    if (!std::isfinite(F) || !std::isfinite(gnorm))
      throw InvalidInput("the population loss overflowed at step " + std::to_string(step) +
                         "; lower lr");
    r.loss = F;
    r.grad_norm = gnorm;
    r.steps = step;
    r.converged = gnorm < opt.tol;
    const bool last = r.converged || step == opt.max_steps;
    if (step == 0 || last || (opt.record_every > 0 && step % opt.record_every == 0))
      record(r, step, F, gnorm, r.W, r.a);
    if (last) break;
    for (size_t q = 0; q < gW.size(); ++q) r.W[q] -= opt.lr * gW[q];
    if (opt.train_a)
      for (int64_t i = 0; i < n; ++i) r.a[size_t(i)] -= opt.lr * ga[size_t(i)];
    if (opt.train_c) r.c -= opt.lr * gc;
  }
  return r;
}

std::vector<DescentRun> descend_many(const Teacher& t, const double* W0, const double* a0,
                                     int64_t runs, int64_t n, double alpha,
                                     const DescentOptions& opt, int threads,
                                     const InterruptCheck& interrupted) {
  std::vector<DescentRun> out(static_cast<size_t>(runs));
  parallel_tasks(runs, threads, [&](int, int64_t run, Checkpoint& checkpoint) {
    out[size_t(run)] = descend(t, W0 + run * n * t.d, a0 + run * n, n, alpha, opt, &checkpoint);
  }, interrupted);
  return out;
}

}  // namespace regionlab::population
