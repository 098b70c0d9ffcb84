// Device discovery and the tally of regionlab's device memory.
#include <atomic>
#include <string>

#include "device_buffer.cuh"
#include "regionlab/cuda_counter.hpp"

namespace regionlab::cuda {

namespace {
std::atomic<int64_t> g_allocated{0}, g_peak{0};
}

void track_device_bytes(int64_t delta) {
  const int64_t now = g_allocated.fetch_add(delta) + delta;
  int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

int64_t allocated_bytes() { return g_allocated.load(); }
int64_t peak_bytes() { return g_peak.load(); }
void reset_peak_bytes() { g_peak.store(g_allocated.load()); }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

std::string device_status() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  }
  return n > 0 ? std::string() : std::string("no CUDA device is visible");
}

std::string device_name(int device) {
  cudaDeviceProp prop{};
  RL_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

DeviceMemory device_memory(int device) {
  DeviceGuard guard(device);
  size_t free_b = 0, total_b = 0;
  RL_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  return {int64_t(free_b), int64_t(total_b)};
}

}  // namespace regionlab::cuda
