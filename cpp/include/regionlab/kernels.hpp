// Block kernels: push a block of rows through the network (the matrix products are the
// work). Each is compiled once per instruction set and chosen at run time, so a portable
// wheel still runs the products at this CPU's vector width.
#pragma once
#include <cstdint>

#include "network.hpp"

namespace regionlab {

// A sample's output and pattern must not depend on where the batching puts it, to the
// last bit. Eigen rounds differently for tiny products (matrix-vector, coefficient-wise)
// and for samples in a partial register panel, so every block is padded with zero rows to
// at least kMinGemmRows rows and to a multiple of kGemmRowMultiple (>= every panel width).
constexpr int64_t kMinGemmRows = 32;
constexpr int64_t kGemmRowMultiple = 16;

// Scratch memory for one thread: two (block rows x max_width) activation buffers and a
// (block rows x input_dim) buffer for padding the input of a short block.
template <class T>
struct BlockScratch {
  T* buf0;
  T* buf1;
  T* pad;
};

// Evaluates rows [0, rows) of X (row-major, `in` columns). Writes, when non-null, each
// row's packed pattern into keys (stride n_words, zeroed here) and the network output
// into out (rows x out_dim). Returns the index of the first row holding NaN/Inf, or -1.
template <class T>
using BlockKernel = int64_t (*)(const NetView<T>& net, const T* X, int64_t rows,
                                BlockScratch<T> scratch, uint64_t* keys, T* out);

// R = W * M with W (out x in) row-major, M (in x cols) and R (out x cols) column-major:
// the per-region affine maps of the geometry code, batched into one product.
template <class T>
using MatMulKernel = void (*)(const T* W, const T* M, T* R, int64_t out, int64_t in,
                              int64_t cols);

template <class T>
struct KernelSet {
  BlockKernel<T> run_block;
  MatMulKernel<T> matmul;
};

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };

// The kernels for the best instruction set this CPU supports (or REGIONLAB_ISA's choice:
// generic, avx2, avx512; an unsupported request falls back to the best supported).
const KernelSet<float>& kernels_f32();
const KernelSet<double>& kernels_f64();
Isa active_isa();
const char* isa_name(Isa isa);
// Forces an instruction set (for tests); returns false when the CPU lacks it.
bool set_isa(Isa isa);

template <class T>
const KernelSet<T>& kernels();
template <>
inline const KernelSet<float>& kernels<float>() { return kernels_f32(); }
template <>
inline const KernelSet<double>& kernels<double>() { return kernels_f64(); }

}  // namespace regionlab
