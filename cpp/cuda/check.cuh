// Every CUDA runtime and cuBLAS call goes through these: a failure throws CudaError
// (RuntimeError in Python) with the CUDA error's name and text and the call that failed.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace regionlab::cuda {

struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  throw CudaError(std::string("CUDA error ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) +
                  ") in " + call + " at " + file + ":" + std::to_string(line));
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line) {
  throw CudaError(std::string("cuBLAS error ") + cublasGetStatusName(s) + " (" +
                  cublasGetStatusString(s) + ") in " + call + " at " + file + ":" + std::to_string(line));
}

}  // namespace regionlab::cuda

#define RL_CUDA_CHECK(call)                                                          \
  do {                                                                               \
    const cudaError_t rl_err_ = (call);                                              \
    if (rl_err_ != cudaSuccess)                                                      \
      ::regionlab::cuda::throw_cuda_error(rl_err_, #call, __FILE__, __LINE__);       \
  } while (0)

#define RL_CUBLAS_CHECK(call)                                                        \
  do {                                                                               \
    const cublasStatus_t rl_st_ = (call);                                            \
    if (rl_st_ != CUBLAS_STATUS_SUCCESS)                                             \
      ::regionlab::cuda::throw_cublas_error(rl_st_, #call, __FILE__, __LINE__);      \
  } while (0)

// After a kernel launch: a bad configuration is reported here, a fault at the next sync.
#define RL_CUDA_LAUNCHED() RL_CUDA_CHECK(cudaGetLastError())
