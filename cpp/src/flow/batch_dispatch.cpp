// Chooses the full-batch gradient for the instruction set the block kernels use.
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
  Z.resize(L); A.resize(L); E.resize(L); slope.resize(L);
  for (int64_t l = 0; l < L; ++l) {
    const size_t sz = size_t(p.n * p.width[l + 1]);
    Z[l].assign(sz, 0.0); A[l].assign(sz, 0.0); E[l].assign(sz, 0.0); slope[l].assign(sz, 1.0);
  }
  D.assign(size_t(p.n * p.max_width()), 0.0);
  dF.assign(size_t(p.n * p.out_dim()), 0.0);
  sample_loss.assign(size_t(p.n), 0.0);
  margin.assign(size_t(p.n), 0.0);
}

}  // namespace regionlab::flow
