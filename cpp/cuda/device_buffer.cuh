// Owning device and pinned-host buffers. Device bytes are tallied (now and peak) so that
// benchmarks can report what regionlab held.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "check.cuh"

namespace regionlab::cuda {

// Out of device memory: names what was being allocated and what to do.
struct DeviceOutOfMemory : CudaError {
  using CudaError::CudaError;
};

void track_device_bytes(int64_t delta);  // device.cu

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(size_t n, const char* what) { allocate(n, what); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      swap(o);
    }
    return *this;
  }
  void swap(DeviceBuffer& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
  }

  // Discards the contents.
  void allocate(size_t n, const char* what) {
    release();
    if (n == 0) return;
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, n * sizeof(T));
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear the sticky-free error so later calls work
      throw DeviceOutOfMemory("out of CUDA device memory allocating " +
                              std::to_string((n * sizeof(T)) >> 20) + " MiB for " + what);
    }
    if (e != cudaSuccess) throw_cuda_error(e, "cudaMalloc", __FILE__, __LINE__);
    p_ = static_cast<T*>(p);
    n_ = n;
    track_device_bytes(int64_t(n_ * sizeof(T)));
  }
  void release() noexcept {
    if (p_) {
      cudaFree(p_);
      track_device_bytes(-int64_t(n_ * sizeof(T)));
    }
    p_ = nullptr;
    n_ = 0;
  }
  T* data() const { return p_; }
  size_t size() const { return n_; }
  int64_t bytes() const { return int64_t(n_ * sizeof(T)); }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

template <class T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() {
    if (p_) cudaFreeHost(p_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void allocate(size_t n) {
    if (p_) cudaFreeHost(p_);
    p_ = nullptr;
    n_ = 0;
    if (n == 0) return;
    void* p = nullptr;
    RL_CUDA_CHECK(cudaMallocHost(&p, n * sizeof(T)));
    p_ = static_cast<T*>(p);
    n_ = n;
  }
  T* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

// Makes `device` current for a scope and restores the caller's (torch's) device after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    RL_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) RL_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace regionlab::cuda
