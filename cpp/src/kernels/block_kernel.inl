// Included once per instruction set by kernel_<isa>.cpp, which defines REGIONLAB_ISA_NS
// and renames Eigen's namespace first, so that no inline function is shared between
// translation units compiled with different -m flags (the linker could otherwise pick an
// AVX-512 copy for the generic path).
#include <Eigen/Core>

#include <cmath>
#include <cstring>

#include "regionlab/kernels.hpp"

namespace regionlab {
namespace REGIONLAB_ISA_NS {
namespace {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Integer type of the same width as T, and the mask of T's exponent bits.
template <class T>
struct FloatBits;
template <>
struct FloatBits<float> {
  using U = uint32_t;
  static constexpr U exponent = 0x7f800000u;
};
template <>
struct FloatBits<double> {
  using U = uint64_t;
  static constexpr U exponent = 0x7ff0000000000000ull;
};

template <class T>
int64_t first_nonfinite_row(const T* X, int64_t rows, int64_t cols) {
  using U = typename FloatBits<T>::U;
  constexpr U mask = FloatBits<T>::exponent;
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = X + r * cols;
    // NaN and Inf are exactly the values with every exponent bit set; an integer OR
    // reduction vectorises, unlike a floating-point one.
    U any = 0;
    for (int64_t j = 0; j < cols; ++j) {
      U b;
      std::memcpy(&b, x + j, sizeof(U));
      any |= U((b & mask) == mask);
    }
    if (any) return r;
  }
  return -1;
}

// Sets bits [offset, offset+n) of `key` from h[0..n) > 0, 64 at a time.
template <class T>
inline void pack_signs(const T* h, int64_t n, int64_t offset, uint64_t* key) {
  for (int64_t base = 0; base < n; base += 64) {
    const int64_t m = n - base < 64 ? n - base : 64;
    uint64_t bits = 0;
    for (int64_t j = 0; j < m; ++j) bits |= uint64_t(h[base + j] > T(0)) << j;
    const int64_t pos = offset + base, word = pos >> 6, shift = pos & 63;
    key[word] |= bits << shift;
    if (shift != 0 && shift + m > 64) key[word + 1] |= bits >> (64 - shift);
  }
}

template <class T>
void epilogue(const StageView<T>& st, T* H, int64_t rows, uint64_t* keys, int64_t n_words) {
  for (int64_t r = 0; r < rows; ++r) {
    T* h = H + r * st.out;
    for (int64_t j = 0; j < st.out; ++j) h[j] += st.bias[j];
    if (keys && st.n_kinked > 0) {
      uint64_t* key = keys + r * n_words;
      if (!st.kinked) {
        pack_signs(h, st.out, st.bit_offset, key);
      } else {
        for (int64_t i = 0; i < st.n_kinked; ++i) {
          const int64_t pos = st.bit_offset + i;
          key[pos >> 6] |= uint64_t(h[st.kinked[i]] > T(0)) << (pos & 63);
        }
      }
    }
    if (st.all_relu) {
      for (int64_t j = 0; j < st.out; ++j) h[j] = h[j] > T(0) ? h[j] : T(0);
    } else if (st.n_kinked > 0) {
      for (int64_t j = 0; j < st.out; ++j) h[j] = h[j] > T(0) ? h[j] : st.slope[j] * h[j];
    }
  }
}

// Max stage: each row's groups take their largest candidate (the first on ties), written
// compactly (n_groups per row) into `dst`, a buffer other than H (a stage may have more
// groups than candidates: overlapping pool windows), and the winners' indices are packed.
template <class T>
void max_epilogue(const StageView<T>& st, T* H, int64_t rows, uint64_t* keys, int64_t n_words,
                  T* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    T* h = H + r * st.out;
    for (int64_t j = 0; j < st.out; ++j) h[j] += st.bias[j];
    uint64_t* key = keys ? keys + r * n_words : nullptr;
    T* row_out = dst + r * st.n_groups;
    int64_t pos = st.bit_offset;
    for (int64_t g = 0; g < st.n_groups; ++g) {
      const int64_t b = st.group_offsets[g], e = st.group_offsets[g + 1];
      int64_t win = 0;
      T best = h[st.group_index[b]];
      for (int64_t i = b + 1; i < e; ++i) {
        const T v = h[st.group_index[i]];
        if (v > best) best = v, win = i - b;
      }
      row_out[g] = best;
      const int32_t nb = st.group_bits[g];
      if (key && nb > 0) {
        const uint64_t w = uint64_t(win);
        key[pos >> 6] |= w << (pos & 63);
        if ((pos & 63) + nb > 64) key[(pos >> 6) + 1] |= w >> (64 - (pos & 63));
      }
      pos += nb;
    }
  }
}

template <class T>
int64_t run_block(const NetView<T>& net, const T* X, int64_t rows, BlockScratch<T> scratch,
                  uint64_t* keys, T* out) {
  const int64_t in0 = net.stages[0].in;
  const int64_t bad = first_nonfinite_row(X, rows, in0);
  if (bad >= 0) return bad;
  if (keys) std::memset(keys, 0, sizeof(uint64_t) * size_t(rows * net.n_words));
  const T* A = X;
  int64_t gemm_rows = (rows + kGemmRowMultiple - 1) / kGemmRowMultiple * kGemmRowMultiple;
  if (gemm_rows < kMinGemmRows) gemm_rows = kMinGemmRows;
  if (gemm_rows != rows) {
    std::memcpy(scratch.pad, X, sizeof(T) * size_t(rows * in0));
    std::memset(scratch.pad + rows * in0, 0, sizeof(T) * size_t((gemm_rows - rows) * in0));
    A = scratch.pad;
  }
  T* bufs[2] = {scratch.buf0, scratch.buf1};
  T* H = nullptr;
  for (int64_t k = 0; k < net.n_stages; ++k) {
    const StageView<T>& st = net.stages[k];
    const bool last = k + 1 == net.n_stages;
    T* free_buf = A == bufs[0] ? bufs[1] : bufs[0];  // never the one holding this input
    H = (last && out && gemm_rows == rows && st.n_groups == 0) ? out : free_buf;
    if (st.op) {
      st.op->apply_rows(A, gemm_rows, H);
    } else {
      Eigen::Map<const RowMat<T>> a(A, gemm_rows, st.in);
      Eigen::Map<const RowMat<T>> w(st.weight, st.out, st.in);
      Eigen::Map<RowMat<T>> h(H, gemm_rows, st.out);
      h.noalias() = a * w.transpose();
    }
    // padding rows are never read again (each GEMM row depends on its own input row only)
    if (st.n_groups > 0) {
      // the other buffer: it held this stage's input (if any), which the product consumed
      T* dst = H == bufs[0] ? bufs[1] : bufs[0];
      max_epilogue(st, H, rows, keys, net.n_words, dst);
      H = dst;
    } else {
      epilogue(st, H, rows, keys, net.n_words);
    }
    A = H;
  }
  if (out && H && H != out)
    std::memcpy(out, H, sizeof(T) * size_t(rows * stage_width(net.stages[net.n_stages - 1])));
  return -1;
}

template <class T>
void matmul(const T* W, const T* M, T* R, int64_t out, int64_t in, int64_t cols) {
  using ColMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  Eigen::Map<const RowMat<T>> w(W, out, in);
  Eigen::Map<const ColMat> m(M, in, cols);
  Eigen::Map<ColMat> r(R, out, cols);
  r.noalias() = w * m;
}

}  // namespace

const KernelSet<float>& kernel_set_f32() {
  static const KernelSet<float> set{&run_block<float>, &matmul<float>};
  return set;
}
const KernelSet<double>& kernel_set_f64() {
  static const KernelSet<double> set{&run_block<double>, &matmul<double>};
  return set;
}

}  // namespace REGIONLAB_ISA_NS
}  // namespace regionlab
