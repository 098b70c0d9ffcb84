#include <algorithm>

#include "check.cuh"
#include "layer.cuh"

namespace regionlab::cuda {

namespace {

constexpr int kThreads = 256;

inline cublasStatus_t gemm_call(cublasHandle_t h, int m, int n, int k, const float* W, const float* A, float* H) {
  const float one = 1.0f, zero = 0.0f;
  return cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, W, k, A, k, &zero, H, m);
}
inline cublasStatus_t gemm_call(cublasHandle_t h, int m, int n, int k, const double* W, const double* A, double* H) {
  const double one = 1.0, zero = 0.0;
  return cublasDgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, W, k, A, k, &zero, H, m);
}

// One warp per (row, group of 32 consecutive units): the 32 loads and stores of a warp are
// contiguous, and __ballot_sync turns the 32 signs into one pattern word.
template <class T>
__global__ void bias_pack_activate_kernel(DeviceStage<T> st, T* __restrict__ H, int64_t rows,
                                          uint32_t* __restrict__ keys, int64_t key_words32,
                                          bool activate) {
  const int lane = threadIdx.x & 31;
  const int64_t groups = (st.out + 31) / 32;
  const int64_t warp = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (warp >= rows * groups) return;  // uniform across the warp
  const int64_t r = warp / groups, g = warp - r * groups;
  const int64_t j = g * 32 + lane;
  const bool valid = j < st.out;
  T h = T(0);
  if (valid) h = H[r * st.out + j] + st.bias[j];
  const bool positive = valid && h > T(0);
  if (st.n_kinked > 0) {
    uint32_t* key = keys + r * key_words32;
    if (!st.bitpos) {
      const uint32_t word = __ballot_sync(0xffffffffu, positive);
      if (lane == 0) {
        const int64_t pos = st.bit_offset + g * 32, w = pos >> 5;
        const int shift = int(pos & 31);
        if (shift == 0) {
          key[w] = word;  // the whole word belongs to this group
        } else {
          if (word << shift) atomicOr(key + w, word << shift);
          if (word >> (32 - shift)) atomicOr(key + w + 1, word >> (32 - shift));
        }
      }
    } else if (valid && positive) {
      const int32_t pos = st.bitpos[j];
      if (pos >= 0) atomicOr(key + (pos >> 5), 1u << (pos & 31));
    }
  }
  if (valid && activate) {
    // Exactly the CPU epilogue: max(h, 0) for ReLU stages, else h or slope * h.
    if (st.all_relu)
      h = h > T(0) ? h : T(0);
    else
      h = h > T(0) ? h : st.slope[j] * h;
    H[r * st.out + j] = h;
  }
}

template <class T>
struct Bits;
template <>
struct Bits<float> {
  using U = uint32_t;
  static constexpr U exponent = 0x7f800000u;
};
template <>
struct Bits<double> {
  using U = unsigned long long;
  static constexpr U exponent = 0x7ff0000000000000ull;
};

template <class T>
__global__ void nonfinite_kernel(const T* __restrict__ X, int64_t count, int64_t cols,
                                 unsigned long long* bad) {
  using U = typename Bits<T>::U;
  const U* x = reinterpret_cast<const U*>(X);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += int64_t(gridDim.x) * blockDim.x) {
    if ((x[i] & Bits<T>::exponent) == Bits<T>::exponent)
      atomicMin(bad, (unsigned long long)(i / cols));
  }
}

}  // namespace

template <class T>
void gemm(cublasHandle_t handle, const DeviceStage<T>& st, const T* A, int64_t rows, T* H) {
  // Row-major H (rows, out) is column-major (out, rows): H^T = W A^T, with W row-major
  // (out, in) read as the column-major (in, out) matrix W^T, hence CUBLAS_OP_T.
  RL_CUBLAS_CHECK(gemm_call(handle, int(st.out), int(rows), int(st.in), st.weight, A, H));
}

template <class T>
void bias_pack_activate(const DeviceStage<T>& st, T* H, int64_t rows, uint32_t* keys,
                        int64_t key_words32, bool activate, cudaStream_t stream) {
  if (rows == 0) return;
  const int64_t warps = rows * ((st.out + 31) / 32);
  const int64_t blocks = (warps * 32 + kThreads - 1) / kThreads;
  bias_pack_activate_kernel<T><<<unsigned(blocks), kThreads, 0, stream>>>(st, H, rows, keys, key_words32, activate);
  RL_CUDA_LAUNCHED();
}

template <class T>
void find_nonfinite(const T* X, int64_t rows, int64_t cols, unsigned long long* bad, cudaStream_t stream) {
  const int64_t count = rows * cols;
  if (count == 0) return;
  const int64_t blocks = std::min<int64_t>((count + kThreads - 1) / kThreads, 8192);
  nonfinite_kernel<T><<<unsigned(blocks), kThreads, 0, stream>>>(X, count, cols, bad);
  RL_CUDA_LAUNCHED();
}

template void gemm<float>(cublasHandle_t, const DeviceStage<float>&, const float*, int64_t, float*);
template void gemm<double>(cublasHandle_t, const DeviceStage<double>&, const double*, int64_t, double*);
template void bias_pack_activate<float>(const DeviceStage<float>&, float*, int64_t, uint32_t*, int64_t, bool, cudaStream_t);
template void bias_pack_activate<double>(const DeviceStage<double>&, double*, int64_t, uint32_t*, int64_t, bool, cudaStream_t);
template void find_nonfinite<float>(const float*, int64_t, int64_t, unsigned long long*, cudaStream_t);
template void find_nonfinite<double>(const double*, int64_t, int64_t, unsigned long long*, cudaStream_t);

}  // namespace regionlab::cuda
