// Open-addressing hash sets of activation patterns (linear probing, power-of-two size).
#pragma once
#include <cstdint>
#include <vector>

#include "fingerprint.hpp"

namespace regionlab {

// Throws LimitExceeded naming the max_patterns limit.
[[noreturn]] void throw_too_many_patterns(int64_t max_patterns);

// Counts distinct fingerprints; 12 bytes a slot, nothing else stored.
class DistinctSet {
 public:
  explicit DistinctSet(int64_t max_entries);
  // True when f was not in the set yet.
  bool insert(const Fingerprint& f);
  int64_t size() const { return size_; }
  int64_t memory_bytes() const { return int64_t(slots_.size() * sizeof(Fingerprint)); }

 private:
  void grow();
  std::vector<Fingerprint> slots_;
  uint64_t mask_;
  int64_t size_ = 0, max_entries_;
};

// A DistinctSet split by fingerprint into shards that threads fill in parallel, each
// thread owning one shard: no locks, no merging, and the same memory as one set.
class ShardedDistinctSet {
 public:
  ShardedDistinctSet(int n_shards, int64_t max_entries);
  int n_shards() const { return int(shards_.size()); }
  int shard_of(const Fingerprint& f) const {
    // From the high half of the slot hash (independent of the low bits that pick the
    // slot), by multiply-shift rather than a division.
    return int(((slot_hash(f) >> 32) * uint64_t(shards_.size())) >> 32);
  }
  DistinctSet& shard(int s) { return shards_[size_t(s)]; }
  int64_t size() const;
  int64_t memory_bytes() const;

 private:
  std::vector<DistinctSet> shards_;
};

// Distinct patterns with ids in order of first appearance, their counts, the index of
// the first sample showing each, and (optionally) the full packed patterns, compared on
// a fingerprint match so that counting is exact however long the patterns are.
class PatternTable {
 public:
  // key_words = 0: fingerprints only; otherwise the packed patterns are stored too.
  PatternTable(int64_t key_words, int64_t max_entries);
  // Id of the pattern (new ones get the next id); counts it once more.
  int64_t insert(const Fingerprint& f, const uint64_t* key, int64_t sample_index);
  void prefetch(const Fingerprint& f) const;
  int64_t size() const { return int64_t(counts_.size()); }
  const std::vector<uint64_t>& counts() const { return counts_; }
  const std::vector<int64_t>& first_index() const { return first_index_; }
  const std::vector<uint64_t>& keys() const { return keys_; }  // (size, key_words)
  int64_t key_words() const { return key_words_; }
  int64_t memory_bytes() const;

 private:
  struct Slot {
    Fingerprint f;
    uint32_t id;  // meaningful only when f is not empty
  };
  void grow();
  std::vector<Slot> slots_;
  uint64_t mask_;
  int64_t key_words_, max_entries_;
  std::vector<uint64_t> counts_;
  std::vector<int64_t> first_index_;
  std::vector<uint64_t> keys_;
};

}  // namespace regionlab
