// Included once per instruction set by batch_gradient_<isa>.cpp, which defines
// REGIONLAB_ISA_NS and renames Eigen's namespace first (see kernels/block_kernel.inl).
#include <Eigen/Core>

#include <algorithm>
#include <cstring>

#include "regionlab/flow/batch_gradient.hpp"

namespace regionlab::flow {
namespace REGIONLAB_ISA_NS {
namespace {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowVec = Eigen::Matrix<double, 1, Eigen::Dynamic>;
using CMap = Eigen::Map<const RowMat>;
using MMap = Eigen::Map<RowMat>;

void run_rows(const FlowProblem& p, BatchWorkspace& ws, BlockScratch& sc, const double* theta,
              const std::vector<std::vector<double>>* mask, double* out, int64_t r_begin,
              int64_t r_end) {
  const int64_t n = p.n, L = p.n_layers(), k = p.out_dim();
  double total = 0;
  for (int64_t r0 = r_begin; r0 < r_end; r0 += ws.block) {
    const int64_t rows = std::min(ws.block, r_end - r0);
    // Slopes of layer l for this block: the mask's rows, or those the forward pass chose.
    auto slopes = [&](int64_t l) -> const double* {
      return mask ? (*mask)[l].data() + r0 * p.width[l + 1] : sc.S[l].data();
    };
    // ---- forward through every layer for this block of rows
    const double* in = p.X.data() + r0 * p.width[0];
    for (int64_t l = 0; l < L; ++l) {
      const int64_t nin = p.width[l], nout = p.width[l + 1];
      double* z = ws.Z[l].data() + r0 * nout;
      MMap Z(z, rows, nout);
      Z.noalias() = CMap(in, rows, nin) * CMap(theta + p.w_offset[l], nout, nin).transpose();
      // One pass adds the bias, picks the slopes and forms the activations.
      double* a = sc.A[l].data();
      double* s = sc.S[l].data();
      const bool bias = p.has_bias[l];
      const double* b = bias ? theta + p.b_offset[l] : nullptr;
      if (mask) {
        const double* m = (*mask)[l].data() + r0 * nout;
        for (int64_t i = 0; i < rows; ++i) {
          double* zi = z + i * nout;
          if (bias)
            for (int64_t j = 0; j < nout; ++j) zi[j] += b[j];
          for (int64_t j = 0; j < nout; ++j) a[i * nout + j] = m[i * nout + j] * zi[j];
        }
      } else {
        // Slopes from the sign of z (z == 0 counts as inactive, like torch's autograd).
        const double* alpha = p.negative_slope[l].data();
        for (int64_t i = 0; i < rows; ++i) {
          double* zi = z + i * nout;
          for (int64_t j = 0; j < nout; ++j) {
            // Arithmetic select: the compiler vectorises it without masked loads.
            const double zz = bias ? zi[j] + b[j] : zi[j];
            const double on = zz > 0 ? 1.0 : 0.0;
            const double sj = alpha[j] + on * (1.0 - alpha[j]);
            zi[j] = zz;
            s[i * nout + j] = sj;
            a[i * nout + j] = sj * zz;
          }
        }
      }
      in = a;
    }
    loss_terms(p.loss, sc.A[L - 1].data(), p.Y.data() + r0 * (int64_t(p.Y.size()) / n), rows,
               k, ws.sample_loss.data() + r0, ws.margin.data() + r0,
               out ? ws.dF.data() + r0 * k : nullptr);
    for (int64_t i = 0; i < rows; ++i) total += ws.sample_loss[r0 + i];
    if (!out) continue;
    // ---- backward: D = dL/dz of the block, layer by layer
    double* d = sc.D0.data();
    double* d_next = sc.D1.data();
    {
      const double inv_n = 1.0 / double(n);
      const double* s = slopes(L - 1);
      const double* dF = ws.dF.data() + r0 * k;
      for (int64_t e = 0; e < rows * k; ++e) d[e] = dF[e] * inv_n * s[e];
    }
    bool bias_done = false;  // the layer's bias gradient was summed by the layer above
    for (int64_t l = L - 1; l >= 0; --l) {
      const int64_t nin = p.width[l], nout = p.width[l + 1];
      CMap D(d, rows, nout);
      const double* a_in = l == 0 ? p.X.data() + r0 * nin : sc.A[l - 1].data();
      if (nout == 1 && l > 0) {
        // One output (the usual last layer): its weight gradient, dL/dz of the layer below
        // and that layer's bias gradient in a single pass over the rows.
        const double* s = slopes(l - 1);
        const double* W = theta + p.w_offset[l];
        double* gw = out + p.w_offset[l];
        double* gb_below = p.has_bias[l - 1] ? out + p.b_offset[l - 1] : nullptr;
        double gb = 0;
        for (int64_t i = 0; i < rows; ++i) {
          const double di = d[i];
          const double* ai = a_in + i * nin;
          const double* si = s + i * nin;
          double* dn = d_next + i * nin;
          gb += di;
          for (int64_t c = 0; c < nin; ++c) {
            gw[c] += di * ai[c];
            dn[c] = di * W[c] * si[c];
          }
          if (gb_below)
            for (int64_t c = 0; c < nin; ++c) gb_below[c] += dn[c];
        }
        if (p.has_bias[l] && !bias_done) out[p.b_offset[l]] += gb;
        bias_done = gb_below != nullptr;
        std::swap(d, d_next);
        continue;
      }
      MMap(out + p.w_offset[l], nout, nin).noalias() += D.transpose() * CMap(a_in, rows, nin);
      const bool skip_bias = bias_done;
      bias_done = false;
      if (p.has_bias[l] && !skip_bias) {
        double* gb = out + p.b_offset[l];  // column sums, row by row (contiguous)
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < nout; ++j) gb[j] += d[i * nout + j];
      }
      if (l == 0) break;
      const double* s = slopes(l - 1);
      const double* W = theta + p.w_offset[l];
      if (nout == 1) {
        // One output: d_next = d * w (outer product) times the slopes, in one pass.
        for (int64_t i = 0; i < rows; ++i) {
          double* dn = d_next + i * nin;
          const double* si = s + i * nin;
          const double di = d[i];
          for (int64_t c = 0; c < nin; ++c) dn[c] = di * W[c] * si[c];
        }
      } else if (nout <= 4) {
        // A thin layer: rank-nout update, fused with the slopes; a GEMM of depth nout
        // would spend its time packing.
        for (int64_t i = 0; i < rows; ++i) {
          double* dn = d_next + i * nin;
          const double* si = s + i * nin;
          const double* di = d + i * nout;
          for (int64_t c = 0; c < nin; ++c) dn[c] = di[0] * W[c];
          for (int64_t r = 1; r < nout; ++r)
            for (int64_t c = 0; c < nin; ++c) dn[c] += di[r] * W[r * nin + c];
          for (int64_t c = 0; c < nin; ++c) dn[c] *= si[c];
        }
      } else {
        MMap E(d_next, rows, nin);
        E.noalias() = D * CMap(W, nout, nin);
        for (int64_t e = 0; e < rows * nin; ++e) d_next[e] *= s[e];
      }
      std::swap(d, d_next);
    }
  }
  sc.loss = total;
}

}  // namespace

BatchRowsFn batch_rows_fn() { return &run_rows; }

}  // namespace REGIONLAB_ISA_NS
}  // namespace regionlab::flow
