// Chooses the row kernel for this CPU and splits the rows over the thread pool.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>

#include "regionlab/flow/batch_gradient.hpp"
#include "screen.hpp"
#include "regionlab/flow/spin_pool.hpp"
#include "regionlab/kernels.hpp"
#include "regionlab/parallel.hpp"

namespace regionlab::flow {

namespace isa_generic { BatchRowsFn batch_rows_fn(); ScreenFn screen_fn(); }
#ifdef REGIONLAB_HAVE_X86_ISAS
namespace isa_avx2 { BatchRowsFn batch_rows_fn(); ScreenFn screen_fn(); }
namespace isa_avx512 { BatchRowsFn batch_rows_fn(); ScreenFn screen_fn(); }
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

// The weights in the layouts the kernels read (see BlockScratch).
void lay_out_weights(const FlowProblem& p, BlockScratch& sc, const double* theta) {
  for (int64_t l = 0; l < p.n_layers(); ++l) {
    const int64_t nin = p.width[l], nout = p.width[l + 1];
    const int64_t ldi = padded_row(nin), ldo = padded_row(nout);
    const double* W = theta + p.w_offset[l];
    if (l > 0 || nout == 1) {  // the first layer's W is read transposed only
      double* wp = sc.Wp[l].data();
      for (int64_t j = 0; j < nout; ++j)
        std::memcpy(wp + j * ldi, W + j * nin, sizeof(double) * size_t(nin));
    }
    if (nout > 1) {
      // theta was just written by another core: read it in order (the hardware prefetches
      // that), write the transpose into this thread's own cache.
      double* wt = sc.Wt[l].data();
      for (int64_t j = 0; j < nout; ++j)
        for (int64_t c = 0; c < nin; ++c) wt[c * ldo + j] = W[j * nin + c];
    }
    if (p.has_bias[l])
      std::memcpy(sc.bias[l].data(), theta + p.b_offset[l], sizeof(double) * size_t(nout));
  }
}

// The threads' partial gradients (sc.gW, sc.gb of scratch[0..T)) summed in thread order,
// into theta's layout, scaled by -precond.
void unpack_gradient(const FlowProblem& p, const std::vector<BlockScratch>& scratch, int T,
                     double* out) {
  const double* P = p.precond.data();
  for (int64_t l = 0; l < p.n_layers(); ++l) {
    const int64_t nin = p.width[l], nout = p.width[l + 1], ldo = padded_row(nout);
    const int64_t w0 = p.w_offset[l];
    auto sum_w = [&](int64_t at) {
      double acc = scratch[0].gW[l][at];
      for (int t = 1; t < T; ++t) acc += scratch[t].gW[l][at];
      return acc;
    };
    if (nout == 1) {
      for (int64_t c = 0; c < nin; ++c) out[w0 + c] = -P[w0 + c] * sum_w(c);
    } else {
      for (int64_t j = 0; j < nout; ++j)  // contiguous writes, strided reads
        for (int64_t c = 0; c < nin; ++c) out[w0 + j * nin + c] = -P[w0 + j * nin + c] * sum_w(c * ldo + j);
    }
    if (p.has_bias[l])
      for (int64_t j = 0; j < nout; ++j) {
        double acc = scratch[0].gb[l][j];
        for (int t = 1; t < T; ++t) acc += scratch[t].gb[l][j];
        out[p.b_offset[l] + j] = -P[p.b_offset[l] + j] * acc;
      }
  }
}

void run(const FlowProblem& p, BatchWorkspace& ws, const double* theta,
         const SlopeMask* mask, double* out) {
  const BatchRowsFn rows = rows_kernel();
  const int T = ws.active;
  const bool gradient = out != nullptr;
  if (T == 1) {
    lay_out_weights(p, ws.scratch[0], theta);
    rows(p, ws, ws.scratch[0], mask, gradient, 0, p.n);
  } else {
    // Thread t takes an even share of the rows (a multiple of 8, so a share ends on a
    // whole register tile) and cuts it into its own blocks.
    std::function<void(int)> job = [&](int t) {
      lay_out_weights(p, ws.scratch[t], theta);
      auto edge = [&](int k) { return std::min(p.n, (p.n * k / T + 7) / 8 * 8); };
      rows(p, ws, ws.scratch[t], mask, gradient, edge(t), t + 1 == T ? p.n : edge(t + 1));
    };
    ws.pool->run(job);
  }
  // One pass sums the partials and unpacks them (cheaper than each thread unpacking its
  // own and the caller adding those up).
  if (gradient) {
    unpack_gradient(p, ws.scratch, T, out);
    if (p.has_ties()) apply_ties(p, out);
  }
  if (ws.need_loss) {
    double total = 0;
    for (int t = 0; t < T; ++t) total += ws.scratch[t].loss;
    ws.loss = total / double(p.n);
  }
}

}  // namespace

BatchGradientFn batch_gradient() { return &run; }

ScreenFn screen_pairs() {
  switch (active_isa()) {
#ifdef REGIONLAB_HAVE_X86_ISAS
    case Isa::avx512: return isa_avx512::screen_fn();
    case Isa::avx2: return isa_avx2::screen_fn();
#endif
    default: return isa_generic::screen_fn();
  }
}

BatchWorkspace::BatchWorkspace(const FlowProblem& p, int threads) {
  const int64_t L = p.n_layers();
  // Rows per block: the block's padded activations of the widest layer stay near 64 KB.
  block = std::min<int64_t>(p.n, std::max<int64_t>(16, 8192 / padded_row(p.max_width())));
  const int64_t nb = (p.n + block - 1) / block;
  // A second thread pays off once each has a couple of blocks of real work.
  if (threads <= 0) threads = num_threads();
  int T = int(std::max<int64_t>(1, std::min<int64_t>(threads, nb / 2)));
  if (p.n * p.width[0] * p.max_width() < (1 << 17)) T = 1;
  Z.resize(L);
  alpha.resize(L);
  for (int64_t l = 0; l < L; ++l) {
    const int64_t nout = p.width[l + 1];
    Z[l].assign(size_t(p.n * nout), 0.0);
    alpha[l].assign(size_t(padded_row(nout)), 0.0);
    std::copy(p.negative_slope[l].begin(), p.negative_slope[l].end(), alpha[l].begin());
  }
  scratch.resize(size_t(T));
  for (int t = 0; t < T; ++t) {
    BlockScratch& sc = scratch[t];
    sc.A.resize(L); sc.bits.resize(L); sc.gW.resize(L); sc.gb.resize(L);
    sc.Wt.resize(L); sc.Wp.resize(L); sc.bias.resize(L);
    for (int64_t l = 0; l < L; ++l) {
      const int64_t nin = p.width[l], nout = p.width[l + 1];
      if (nout > 1) sc.Wt[l].assign(size_t(nin * padded_row(nout)), 0.0);
      if (l > 0 || nout == 1) sc.Wp[l].assign(size_t(nout * padded_row(nin)), 0.0);
      sc.bias[l].assign(size_t(padded_row(nout)), 0.0);
      sc.A[l].assign(size_t(block * padded_row(nout)), 0.0);
      sc.bits[l].assign(size_t(block * padded_row(nout) / 8), uint8_t(0));
      sc.gW[l].assign(size_t(nout == 1 ? padded_row(nin) : nin * padded_row(nout)), 0.0);
      sc.gb[l].assign(size_t(padded_row(nout)), 0.0);
    }
    sc.D0.assign(size_t(block * padded_row(p.max_width())), 0.0);
    sc.D1.assign(size_t(block * padded_row(p.max_width())), 0.0);
    sc.F.assign(size_t(block * p.out_dim()), 0.0);
  }
  dF.assign(size_t(p.n * p.out_dim()), 0.0);
  sample_loss.assign(size_t(p.n), 0.0);
  margin.assign(size_t(p.n), 0.0);
  if (T > 1) pool = std::make_shared<SpinPool>(T - 1);
  active = T;
}

void autotune_threads(const FlowProblem& p, BatchWorkspace& ws, const double* theta,
                      const SlopeMask* mask) {
  const int all = int(ws.scratch.size());
  if (all <= 1) return;
  std::vector<double> g(size_t(p.n_params));
  auto time_passes = [&](int threads, int passes) {
    ws.active = threads;
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < passes; ++k) run(p, ws, theta, mask, g.data());
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  time_passes(1, 1);  // warm-up
  time_passes(all, 1);
  // Rounds alternate between the two, and each keeps its best: on a shared machine a
  // neighbour's burst during one side's only window used to pick the wrong count.
  double one = 1e300, many = 1e300;
  for (int round = 0; round < 3; ++round) {
    one = std::min(one, time_passes(1, 2));
    many = std::min(many, time_passes(all, 2));
  }
  ws.active = many < 0.9 * one ? all : 1;
}

BatchWorkspace::~BatchWorkspace() = default;

SlopeMask::SlopeMask(const FlowProblem& p) : width(p.width.begin() + 1, p.width.end()) {
  bits.resize(width.size());
  for (size_t l = 0; l < width.size(); ++l)
    bits[l].assign(size_t(p.n * row_bytes(int64_t(l))), uint8_t(0));
}

}  // namespace regionlab::flow
