// One stage on the device: H = A W^T in cuBLAS, then bias, sign bits and activation fused
// in one kernel.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace regionlab::cuda {

// A stage's parameters in device memory.
template <class T>
struct DeviceStage {
  const T* weight;       // (out, in) row-major, as Linear stores it
  const T* bias;         // (out)
  const T* slope;        // (out)
  const int32_t* bitpos; // (out) bit of each unit in the pattern, -1 if unkinked; null when
                         // every unit is kinked (bits bit_offset .. bit_offset+out-1)
  int64_t in, out, bit_offset, n_kinked;
  bool all_relu;
};

// H (rows, out) row-major = A (rows, in) row-major times weight^T. No TF32: the handle
// is in CUBLAS_DEFAULT_MATH, so float32 products are computed in float32.
template <class T>
void gemm(cublasHandle_t handle, const DeviceStage<T>& st, const T* A, int64_t rows, T* H);

// H += bias; bits of kinked units (h > 0) OR-ed into the packed patterns `keys`
// (rows x key_words32 uint32 words, little-endian halves of the uint64 words the CPU
// uses); then, if `activate`, H = activation(H) in place.
template <class T>
void bias_pack_activate(const DeviceStage<T>& st, T* H, int64_t rows, uint32_t* keys,
                        int64_t key_words32, bool activate, cudaStream_t stream);

// Smallest row (plus 0) of X (rows, cols) holding NaN or Inf, atomically min-ed into *bad.
template <class T>
void find_nonfinite(const T* X, int64_t rows, int64_t cols, unsigned long long* bad, cudaStream_t stream);

}  // namespace regionlab::cuda
