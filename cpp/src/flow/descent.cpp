// Gradient descent: full batch or mini-batches, with torch.optim.SGD's momentum and weight
// decay; every step in C++.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>

#include "interrupt_poller.hpp"
#include "regionlab/errors.hpp"
#include "regionlab/flow/batch_gradient.hpp"
#include "regionlab/flow/integrate.hpp"

namespace regionlab::flow {

namespace {

// The samples of one mini-batch as a problem of their own (the kernel's mean is then the
// batch mean, as in a torch loop). Rows are copied in for each step.
class BatchProblem {
 public:
  BatchProblem(const FlowProblem& full, int64_t rows, int threads)
      : full_(full), p_(full), y_cols_(int64_t(full.Y.size()) / full.n) {
    p_.n = rows;
    p_.X.assign(size_t(rows * full.width[0]), 0.0);
    p_.Y.assign(size_t(rows * y_cols_), 0.0);
    ws_ = std::make_unique<BatchWorkspace>(p_, threads);
    ws_->need_loss = false;
    ws_->keep_z = false;
  }
  void load(const int64_t* samples) {
    const int64_t d = full_.width[0];
    for (int64_t r = 0; r < p_.n; ++r) {
      std::copy_n(full_.X.data() + samples[r] * d, d, p_.X.data() + r * d);
      std::copy_n(full_.Y.data() + samples[r] * y_cols_, y_cols_, p_.Y.data() + r * y_cols_);
    }
  }
  const FlowProblem& problem() const { return p_; }
  BatchWorkspace& workspace() { return *ws_; }

 private:
  const FlowProblem& full_;
  FlowProblem p_;
  int64_t y_cols_;
  std::unique_ptr<BatchWorkspace> ws_;
};

void check_options(const FlowProblem& p, const GdOptions& o, int64_t batches_per_epoch) {
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw InvalidInput("lr must be a positive number");
  if (o.steps < 0) throw InvalidInput("steps must be >= 0");
  if (o.record_every < 1) throw InvalidInput("record_every must be >= 1");
  if (!(o.momentum >= 0) || !std::isfinite(o.momentum))
    throw InvalidInput("momentum must be a finite number >= 0");
  if (!(o.weight_decay >= 0) || !std::isfinite(o.weight_decay))
    throw InvalidInput("weight_decay must be a finite number >= 0");
  if (batches_per_epoch == 0) return;
  const int64_t epochs = (o.steps + batches_per_epoch - 1) / batches_per_epoch;
  if (int64_t(o.order.size()) < epochs * p.n)
    throw InvalidInput("order must hold one permutation of the samples per epoch (" +
                       std::to_string(epochs) + " epochs of " + std::to_string(p.n) + ")");
  for (int64_t s : o.order)
    if (s < 0 || s >= p.n) throw InvalidInput("order holds a sample index out of range");
}

// True when no entry is NaN or infinite. Integer bit tests that vectorise (a loop of
// std::isfinite stays scalar, ~1 µs a step on 2,000 parameters): adding 2^52 to the
// exponent bits carries into bit 63 exactly when they are all ones.
bool all_finite(const double* x, int64_t n) {
  constexpr uint64_t kExponent = 0x7ff0000000000000ull;
  uint64_t acc = 0;
  for (int64_t r = 0; r < n; ++r) {
    uint64_t u;
    std::memcpy(&u, x + r, sizeof u);
    acc |= (u & kExponent) + (uint64_t(1) << 52);
  }
  return (acc >> 63) == 0;
}

}  // namespace

FlowResult gradient_descent(const FlowProblem& p, const double* theta0, const GdOptions& opt,
                            const InterruptCheck& interrupted) {
  const bool minibatch = opt.batch_size > 0 && opt.batch_size < p.n;
  const int64_t bs = minibatch ? opt.batch_size : p.n;
  const int64_t nb = minibatch ? (p.n + bs - 1) / bs : 0;
  check_options(p, opt, nb);
  const int64_t P = p.n_params, L = p.n_layers(), steps = opt.steps;
  const double lr = opt.lr, mu = opt.momentum, wd = opt.weight_decay;
  FlowResult out;
  InterruptPoller poll(interrupted);
  BatchGradientFn kernel = batch_gradient();
  BatchWorkspace ws(p, opt.threads);  // all samples: records, events, full-batch steps
  std::unique_ptr<BatchProblem> batch, last_batch;  // an epoch's last batch may be shorter
  if (minibatch) {
    batch = std::make_unique<BatchProblem>(p, bs, opt.threads);
    if (p.n % bs) last_batch = std::make_unique<BatchProblem>(p, p.n % bs, opt.threads);
    if (opt.threads <= 0) {
      batch->load(opt.order.data());
      autotune_threads(batch->problem(), batch->workspace(), theta0, nullptr);
    }
  } else if (opt.threads <= 0) {
    autotune_threads(p, ws, theta0, nullptr);
  }
  std::vector<double> theta(theta0, theta0 + P), g(static_cast<size_t>(P));
  std::vector<double> buf(mu != 0 ? size_t(P) : 0);
  std::vector<std::vector<uint8_t>> prev(static_cast<size_t>(L));
  auto record = [&](int64_t k) {
    out.t.push_back(double(k) * lr);
    out.loss.push_back(ws.loss);
    out.params.insert(out.params.end(), theta.begin(), theta.end());
    out.sample_loss.insert(out.sample_loss.end(), ws.sample_loss.begin(), ws.sample_loss.end());
    out.margin.insert(out.margin.end(), ws.margin.begin(), ws.margin.end());
  };
  auto compare_signs = [&](int64_t k) {
    for (int64_t l = 0; l < L; ++l) {
      const int64_t w = p.width[l + 1];
      auto& pv = prev[l];
      const bool first = pv.empty();
      if (first) pv.resize(size_t(p.n * w));
      for (int64_t i = 0; i < p.n; ++i)
        for (int64_t j = 0; j < w; ++j) {
          const uint8_t on = ws.Z[l][i * w + j] > 0;
          if (!first && on != pv[i * w + j] && p.kinked(l, j)) {
            out.ev_time.push_back(double(k) * lr); out.ev_sample.push_back(i);
            out.ev_layer.push_back(l); out.ev_neuron.push_back(j);
            out.ev_state.push_back(on ? 1 : -1);
          }
          pv[i * w + j] = on;
        }
    }
  };
  // g = -precond * grad of the step's batch (the kernel's output).
  auto batch_gradient_at = [&](int64_t k) {
    const int64_t e = k / nb, b = k % nb;
    BatchProblem& bp = (last_batch && b == nb - 1) ? *last_batch : *batch;
    bp.load(opt.order.data() + e * p.n + b * bs);
    kernel(bp.problem(), bp.workspace(), theta.data(), nullptr, g.data());
    ++out.evaluations;
  };
  const double* Pc = p.precond.data();
  for (int64_t k = 0; k <= steps; ++k) {
    poll.poll();
    const bool rec = k % opt.record_every == 0 || k == steps;
    ws.need_loss = rec;  // the loss only where recorded
    ws.keep_z = opt.events;
    if (!minibatch) {
      kernel(p, ws, theta.data(), nullptr, k < steps ? g.data() : nullptr);
      out.evaluations += k < steps ? 1 : 0;
    } else if (rec || opt.events) {
      kernel(p, ws, theta.data(), nullptr, nullptr);
    }
    if (opt.events) compare_signs(k);
    if (rec) record(k);
    if (k == steps) break;
    if (minibatch) batch_gradient_at(k);
    if (mu == 0 && wd == 0) {
      for (int64_t r = 0; r < P; ++r) theta[r] += lr * g[r];
    } else {
      for (int64_t r = 0; r < P; ++r) {
        double d = g[r] - wd * (Pc[r] * theta[r]);  // -precond * (grad + wd * theta)
        if (mu != 0) d = buf[r] = k == 0 ? d : mu * buf[r] + d;
        theta[r] += lr * d;
      }
    }
    if (!all_finite(theta.data(), P)) {
      std::ostringstream msg;
      msg << "gd: the parameters became NaN/Inf at step " << k + 1 << "; lower lr";
      throw InvalidInput(msg.str());
    }
  }
  out.steps = steps;
  if (!minibatch) out.evaluations = steps + 1;
  return out;
}

}  // namespace regionlab::flow
