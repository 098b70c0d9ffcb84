// Whole-array evaluation: outputs and packed activation patterns of many inputs.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "kernels.hpp"

#include "network.hpp"
#include "parallel.hpp"

namespace regionlab {

// Rows of a block sized so that its activations stay in the L2 cache (a multiple of
// kGemmRowMultiple, at least kMinGemmRows, so that padded blocks fit the scratch).
int64_t block_rows_for(int64_t max_width);

// One thread's scratch for the block kernels, allocated on first use (threads that get
// no rows allocate nothing).
template <class T>
class ThreadScratch {
 public:
  BlockScratch<T> get(int64_t block, int64_t max_width, int64_t input_dim) {
    const size_t need = size_t(block * (2 * max_width + input_dim));
    if (storage_.size() < need) storage_.resize(need);
    T* s = storage_.data();
    return BlockScratch<T>{s, s + block * max_width, s + 2 * block * max_width};
  }

 private:
  std::vector<T> storage_;
};

// The first input row holding NaN/Inf, found by threads that each own a contiguous share
// of the rows: the minimum over threads is the first row, whatever the thread timing.
class FirstBadRow {
 public:
  void record(int64_t row) {
    int64_t seen = row_.load();
    while (row < seen && !row_.compare_exchange_weak(seen, row)) {
    }
  }
  // A block starting after a recorded bad row cannot hold the first one.
  bool after(int64_t row) const { return row > row_.load(std::memory_order_relaxed); }
  // Throws InvalidInput naming the row (plus `offset`, for rows counted across calls).
  void throw_if_any(int64_t offset) const;

 private:
  std::atomic<int64_t> row_{INT64_MAX};
};

// out: (n, output_dim). Throws InvalidInput naming the first non-finite row.
template <class T>
void forward(const Network<T>& net, const T* X, int64_t n, T* out, const InterruptCheck& stop);

// keys: (n, n_words) packed patterns, bit i of word k = neuron 64k+i.
template <class T>
void patterns(const Network<T>& net, const T* X, int64_t n, uint64_t* keys,
              const InterruptCheck& stop);

}  // namespace regionlab
