// Included once per instruction set by batch_gradient_<isa>.cpp, which defines
// REGIONLAB_ISA_NS and renames Eigen's namespace first (see kernels/block_kernel.inl).
#include <Eigen/Core>

#include "regionlab/flow/batch_gradient.hpp"

namespace regionlab::flow {
namespace REGIONLAB_ISA_NS {
namespace {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowVec = Eigen::Matrix<double, 1, Eigen::Dynamic>;
using CMap = Eigen::Map<const RowMat>;
using MMap = Eigen::Map<RowMat>;

void run(const FlowProblem& p, BatchWorkspace& ws, const double* theta,
         const std::vector<std::vector<double>>* mask, double* out) {
  const int64_t n = p.n, L = p.n_layers();
  const double* in = p.X.data();
  for (int64_t l = 0; l < L; ++l) {
    const int64_t nin = p.width[l], nout = p.width[l + 1];
    CMap W(theta + p.w_offset[l], nout, nin);
    CMap Ain(in, n, nin);
    MMap Z(ws.Z[l].data(), n, nout);
    Z.noalias() = Ain * W.transpose();
    if (p.has_bias[l]) Z.rowwise() += Eigen::Map<const RowVec>(theta + p.b_offset[l], nout);
    const double* S;
    if (mask) {
      S = (*mask)[l].data();
    } else {
      // Slopes from the sign of z (z == 0 counts as inactive, like torch's autograd).
      double* s = ws.slope[l].data();
      const double* alpha = p.negative_slope[l].data();
      const double* z = ws.Z[l].data();
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < nout; ++j) s[i * nout + j] = z[i * nout + j] > 0 ? 1.0 : alpha[j];
      S = s;
    }
    MMap A(ws.A[l].data(), n, nout);
    A = Z.cwiseProduct(CMap(S, n, nout));
    in = ws.A[l].data();
  }
  const int64_t k = p.out_dim();
  loss_terms(p.loss, ws.A[L - 1].data(), p.Y.data(), n, k, ws.sample_loss.data(),
             ws.margin.data(), out ? ws.dF.data() : nullptr);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += ws.sample_loss[i];
  ws.loss = total / double(n);
  if (!out) return;

  MMap(ws.E[L - 1].data(), n, k) = CMap(ws.dF.data(), n, k) / double(n);
  for (int64_t l = L - 1; l >= 0; --l) {
    const int64_t nin = p.width[l], nout = p.width[l + 1];
    const double* S = mask ? (*mask)[l].data() : ws.slope[l].data();
    MMap D(ws.D.data(), n, nout);
    D = CMap(ws.E[l].data(), n, nout).cwiseProduct(CMap(S, n, nout));
    CMap Ain(l == 0 ? p.X.data() : ws.A[l - 1].data(), n, nin);
    MMap(out + p.w_offset[l], nout, nin).noalias() = D.transpose() * Ain;
    if (p.has_bias[l])
      Eigen::Map<RowVec>(out + p.b_offset[l], nout) = D.colwise().sum();
    if (l > 0) {
      CMap W(theta + p.w_offset[l], nout, nin);
      MMap(ws.E[l - 1].data(), n, nin).noalias() = D * W;
    }
  }
  Eigen::Map<Eigen::ArrayXd> g(out, p.n_params);
  g = -g * Eigen::Map<const Eigen::ArrayXd>(p.precond.data(), p.n_params);
}

}  // namespace

BatchGradientFn batch_gradient_fn() { return &run; }

}  // namespace REGIONLAB_ISA_NS
}  // namespace regionlab::flow
