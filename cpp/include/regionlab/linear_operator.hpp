// The linear part of a stage when it is not stored as a dense matrix: a convolution applied
// without materialising its matrix, a sparse or low-rank map. Engines ask a stage for the
// two products they need; a stage without an operator uses its dense weight (the fast,
// ISA-specific GEMM paths), so a structured map plugs in here without touching the engines.
#pragma once
#include <cstdint>

namespace regionlab {

template <class T>
class LinearOperator {
 public:
  virtual ~LinearOperator() = default;
  virtual int64_t out_dim() const = 0;
  virtual int64_t in_dim() const = 0;
  // A batch of inputs: Y = X A^T, with X (n x in) and Y (n x out) row-major (the counting
  // and evaluation kernels). A row's result must not depend on the other rows (bit for
  // bit), so that a sample's pattern does not depend on how it was batched.
  virtual void apply_rows(const T* X, int64_t n, T* Y) const = 0;
  // Affine maps of regions: R = A M, with M (in x m) and R (out x m) column-major (the
  // slice engines, m = regions x (slice dimension + 1)).
  virtual void apply_columns(const T* M, int64_t m, T* R) const = 0;
};

}  // namespace regionlab
