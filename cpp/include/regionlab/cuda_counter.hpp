// Counting activation patterns on a CUDA device (built only with REGIONLAB_CUDA=ON).
//
// The same results as PatternCounter (cpp/include/regionlab/counter.hpp): the same
// fingerprints, the same per-layer prefix semantics, ids in order of first appearance.
// This header has no CUDA types, so that plain C++ (the bindings) can include it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "counter.hpp"
#include "network.hpp"
#include "parallel.hpp"

namespace regionlab::cuda {

// Visible CUDA devices; 0 (never an exception) when there is no driver or no device.
int device_count();
// Why device_count() is 0 (the CUDA error), or "" when devices are visible.
std::string device_status();
// Name and memory of one device.
std::string device_name(int device);
struct DeviceMemory {
  int64_t free_bytes, total_bytes;
};
DeviceMemory device_memory(int device);
// Bytes regionlab itself holds on CUDA devices now, and the most it held since the last
// reset_peak_bytes() (cuBLAS's own workspace not included).
int64_t allocated_bytes();
int64_t peak_bytes();
void reset_peak_bytes();

template <class T>
class CudaPatternCounter {
 public:
  // batch_rows <= 0: chosen from the widths (about 1 GB of device buffers, at most a
  // quarter of the free device memory).
  CudaPatternCounter(std::shared_ptr<const Network<T>> net, CountOptions options, int device,
                     int64_t batch_rows);
  ~CudaPatternCounter();
  CudaPatternCounter(const CudaPatternCounter&) = delete;
  CudaPatternCounter& operator=(const CudaPatternCounter&) = delete;

  // Rows [0, n) of X (row-major, input_dim columns). add_host: X in host memory (copied
  // to the device in batches); add_device: X in this counter's device memory (read in
  // place; the caller makes sure it is ready). ids (host memory, n entries) may be null.
  void add_host(const T* X, int64_t n, int64_t* ids, const InterruptCheck& stop);
  void add_device(const T* X, int64_t n, int64_t* ids, const InterruptCheck& stop);

  int64_t n_samples() const;
  int64_t n_patterns() const;
  std::vector<int64_t> n_patterns_per_layer() const;
  bool has_table() const;
  // Patterns in order of first appearance (with a table).
  std::vector<uint64_t> counts() const;
  std::vector<int64_t> first_index() const;
  // (n_patterns, key_words) packed patterns when they are kept, else empty.
  std::vector<uint64_t> patterns() const;
  int64_t key_words() const;
  int64_t memory_bytes() const;  // device bytes of the tables
  int64_t batch_rows() const;
  bool busy() const;
  const Network<T>& network() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class CudaPatternCounter<float>;
extern template class CudaPatternCounter<double>;

}  // namespace regionlab::cuda
