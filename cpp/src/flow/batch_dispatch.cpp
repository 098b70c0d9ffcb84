// Chooses the row kernel for this CPU and splits the rows over the thread pool.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>

#include "regionlab/flow/batch_gradient.hpp"
#include "regionlab/flow/spin_pool.hpp"
#include "regionlab/kernels.hpp"
#include "regionlab/parallel.hpp"

namespace regionlab::flow {

namespace isa_generic { BatchRowsFn batch_rows_fn(); }
#ifdef REGIONLAB_HAVE_X86_ISAS
namespace isa_avx2 { BatchRowsFn batch_rows_fn(); }
namespace isa_avx512 { BatchRowsFn batch_rows_fn(); }
#endif

namespace {

BatchRowsFn rows_kernel() {
  switch (active_isa()) {
#ifdef REGIONLAB_HAVE_X86_ISAS
    case Isa::avx512: return isa_avx512::batch_rows_fn();
    case Isa::avx2: return isa_avx2::batch_rows_fn();
#endif
    default: return isa_generic::batch_rows_fn();
  }
}

void run(const FlowProblem& p, BatchWorkspace& ws, const double* theta,
         const std::vector<std::vector<double>>* mask, double* out) {
  const BatchRowsFn rows = rows_kernel();
  const int T = ws.active;
  if (out) std::memset(out, 0, sizeof(double) * size_t(p.n_params));
  if (T == 1) {
    rows(p, ws, ws.scratch[0], theta, mask, out, 0, p.n);
  } else {
    // Thread t takes a contiguous run of whole blocks; thread 0 sums straight into out.
    const int64_t nb = (p.n + ws.block - 1) / ws.block;
    std::function<void(int)> job = [&](int t) {
      const int64_t b0 = nb * t / T, b1 = nb * (t + 1) / T;
      double* g = nullptr;
      if (out) {
        g = t == 0 ? out : ws.scratch[t].grad.data();
        if (t > 0) std::memset(g, 0, sizeof(double) * size_t(p.n_params));
      }
      rows(p, ws, ws.scratch[t], theta, mask, g, b0 * ws.block, std::min(p.n, b1 * ws.block));
    };
    ws.pool->run(job);
    if (out)
      for (int t = 1; t < T; ++t) {
        const double* g = ws.scratch[t].grad.data();
        for (int64_t r = 0; r < p.n_params; ++r) out[r] += g[r];
      }
  }
  double total = 0;
  for (int t = 0; t < T; ++t) total += ws.scratch[t].loss;
  ws.loss = total / double(p.n);
  if (out)
    for (int64_t r = 0; r < p.n_params; ++r) out[r] *= -p.precond[r];
}

}  // namespace

BatchGradientFn batch_gradient() { return &run; }

BatchWorkspace::BatchWorkspace(const FlowProblem& p, int threads) {
  const int64_t L = p.n_layers();
  // Rows per block: the block's activations of the widest layer stay near 128 KB.
  block = std::min<int64_t>(p.n, std::max<int64_t>(16, 16384 / p.max_width()));
  const int64_t nb = (p.n + block - 1) / block;
  // A second thread pays off once each has a couple of blocks of real work.
  if (threads <= 0) threads = num_threads();
  int T = int(std::max<int64_t>(1, std::min<int64_t>(threads, nb / 2)));
  if (p.n * p.width[0] * p.max_width() < (1 << 17)) T = 1;
  Z.resize(L);
  for (int64_t l = 0; l < L; ++l) Z[l].assign(size_t(p.n * p.width[l + 1]), 0.0);
  scratch.resize(size_t(T));
  for (int t = 0; t < T; ++t) {
    BlockScratch& sc = scratch[t];
    sc.A.resize(L); sc.S.resize(L);
    for (int64_t l = 0; l < L; ++l) {
      sc.A[l].assign(size_t(block * p.width[l + 1]), 0.0);
      sc.S[l].assign(size_t(block * p.width[l + 1]), 1.0);
    }
    sc.D0.assign(size_t(block * p.max_width()), 0.0);
    sc.D1.assign(size_t(block * p.max_width()), 0.0);
    if (t > 0) sc.grad.assign(size_t(p.n_params), 0.0);
  }
  dF.assign(size_t(p.n * p.out_dim()), 0.0);
  sample_loss.assign(size_t(p.n), 0.0);
  margin.assign(size_t(p.n), 0.0);
  if (T > 1) pool = std::make_shared<SpinPool>(T - 1);
  active = T;
}

void autotune_threads(const FlowProblem& p, BatchWorkspace& ws, const double* theta,
                      const std::vector<std::vector<double>>* mask) {
  const int all = int(ws.scratch.size());
  if (all <= 1) return;
  std::vector<double> g(size_t(p.n_params));
  auto time_passes = [&](int threads) {
    ws.active = threads;
    run(p, ws, theta, mask, g.data());  // warm-up
    double best = 1e300;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int k = 0; k < 3; ++k) run(p, ws, theta, mask, g.data());
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  const double one = time_passes(1), many = time_passes(all);
  ws.active = many < 0.9 * one ? all : 1;
}

BatchWorkspace::~BatchWorkspace() = default;

}  // namespace regionlab::flow
