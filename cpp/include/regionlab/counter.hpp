// Streaming count of distinct activation patterns: memory grows with the number of
// distinct patterns, never with the number of samples.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "evaluate.hpp"
#include "network.hpp"
#include "parallel.hpp"
#include "pattern_set.hpp"

namespace regionlab {

struct CountOptions {
  // Keep ids, counts and first-sample indices (needed for counts and per-sample ids).
  bool with_table = false;
  // Store full patterns and compare them, so counting never relies on fingerprints.
  bool store_patterns = false;
  int64_t max_patterns = INT64_MAX;
};

template <class T>
class PatternCounter {
 public:
  PatternCounter(std::shared_ptr<const Network<T>> net, CountOptions options);

  // Counts rows [0, n) of X (row-major, input_dim columns). When `ids` is non-null it
  // receives each row's pattern id (ids follow the order of first appearance).
  void add(const T* X, int64_t n, int64_t* ids, const InterruptCheck& stop);

  int64_t n_samples() const { return n_samples_; }
  int64_t n_patterns() const;
  // Distinct patterns of layers 1..l for each layer l that has kinked neurons. With
  // store_patterns they are computed exactly from the stored patterns.
  std::vector<int64_t> n_patterns_per_layer() const;
  // True while add() runs (it releases the GIL): results must not be read meanwhile.
  bool busy() const { return busy_.load(); }
  const PatternTable* table() const { return table_.get(); }
  const Network<T>& network() const { return *net_; }
  int64_t memory_bytes() const;

 private:
  void insert_chunk(int64_t rows, int64_t* ids, const InterruptCheck& stop);

  std::shared_ptr<const Network<T>> net_;
  CountOptions options_;
  std::vector<int64_t> level_bits_;  // pattern length at each prefix level; last = full
  // One per level, but the last level lives in table_ when ids or counts are kept, and
  // with store_patterns there are none (per-layer counts come from the stored patterns).
  std::vector<ShardedDistinctSet> level_sets_;
  std::unique_ptr<PatternTable> table_;  // the last level, with ids and counts
  int64_t n_samples_ = 0;
  std::atomic<bool> busy_{false};
  // Reused chunk buffers.
  std::vector<uint64_t> keys_;
  std::vector<Fingerprint> fingerprints_;
  std::vector<ThreadScratch<T>> scratch_;
};

extern template class PatternCounter<float>;
extern template class PatternCounter<double>;

}  // namespace regionlab
