// Chooses the full-batch gradient for the instruction set the block kernels use.
#include <algorithm>
#include <cstddef>

#include "regionlab/flow/batch_gradient.hpp"
#include "regionlab/kernels.hpp"

namespace regionlab::flow {

namespace isa_generic { BatchGradientFn batch_gradient_fn(); }
#ifdef REGIONLAB_HAVE_X86_ISAS
namespace isa_avx2 { BatchGradientFn batch_gradient_fn(); }
namespace isa_avx512 { BatchGradientFn batch_gradient_fn(); }
#endif

BatchGradientFn batch_gradient() {
  switch (active_isa()) {
#ifdef REGIONLAB_HAVE_X86_ISAS
    case Isa::avx512: return isa_avx512::batch_gradient_fn();
    case Isa::avx2: return isa_avx2::batch_gradient_fn();
#endif
    default: return isa_generic::batch_gradient_fn();
  }
}

BatchWorkspace::BatchWorkspace(const FlowProblem& p) {
  const int64_t L = p.n_layers();
  // Rows per block: the block's activations of the widest layer stay near 64 KB.
  block = std::min<int64_t>(p.n, std::max<int64_t>(16, 16384 / p.max_width()));
  Z.resize(L); A.resize(L); S.resize(L);
  for (int64_t l = 0; l < L; ++l) {
    Z[l].assign(size_t(p.n * p.width[l + 1]), 0.0);
    A[l].assign(size_t(block * p.width[l + 1]), 0.0);
    S[l].assign(size_t(block * p.width[l + 1]), 1.0);
  }
  D0.assign(size_t(block * p.max_width()), 0.0);
  D1.assign(size_t(block * p.max_width()), 0.0);
  dF.assign(size_t(p.n * p.out_dim()), 0.0);
  sample_loss.assign(size_t(p.n), 0.0);
  margin.assign(size_t(p.n), 0.0);
}

}  // namespace regionlab::flow
