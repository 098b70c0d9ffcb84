#include "regionlab/pattern_set.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "regionlab/errors.hpp"

namespace regionlab {

namespace {

constexpr int64_t kInitialSlots = 1024;
constexpr int64_t kMaxIds = int64_t(UINT32_MAX) - 1;

// Grow at 3/4 full: linear probing stays short, and slots are contiguous in memory.
inline bool over_load(int64_t size, size_t slots) { return size * 4 > int64_t(slots) * 3; }

inline void prefetch_address(const void* p) {
#if defined(__GNUC__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

}  // namespace

void throw_too_many_patterns(int64_t max_patterns) {
  throw LimitExceeded("more than max_patterns=" + std::to_string(max_patterns) +
                      " distinct activation patterns; raise max_patterns if the memory allows "
                      "(about 12-40 bytes per pattern per layer), or count fewer samples");
}

DistinctSet::DistinctSet(int64_t max_entries)
    : slots_(size_t(kInitialSlots)), mask_(uint64_t(kInitialSlots - 1)), max_entries_(max_entries) {}

bool DistinctSet::insert(const Fingerprint& f) {
  for (uint64_t i = slot_hash(f) & mask_;; i = (i + 1) & mask_) {
    Fingerprint& s = slots_[i];
    if (s.empty()) {
      if (size_ >= max_entries_) throw_too_many_patterns(max_entries_);
      s = f;
      if (over_load(++size_, slots_.size())) grow();
      return true;
    }
    if (s == f) return false;
  }
}

void DistinctSet::grow() {
  std::vector<Fingerprint> old(slots_.size() * 2);
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  for (const Fingerprint& f : old) {
    if (f.empty()) continue;
    uint64_t i = slot_hash(f) & mask_;
    while (!slots_[i].empty()) i = (i + 1) & mask_;
    slots_[i] = f;
  }
}

ShardedDistinctSet::ShardedDistinctSet(int n_shards, int64_t max_entries) {
  shards_.reserve(size_t(std::max(1, n_shards)));
  for (int s = 0; s < std::max(1, n_shards); ++s) shards_.emplace_back(max_entries);
}

int64_t ShardedDistinctSet::size() const {
  int64_t n = 0;
  for (const auto& s : shards_) n += s.size();
  return n;
}

int64_t ShardedDistinctSet::memory_bytes() const {
  int64_t n = 0;
  for (const auto& s : shards_) n += s.memory_bytes();
  return n;
}

PatternTable::PatternTable(int64_t key_words, int64_t max_entries)
    : slots_(size_t(kInitialSlots)),
      mask_(uint64_t(kInitialSlots - 1)),
      key_words_(key_words),
      max_entries_(std::min(max_entries, kMaxIds)) {}

void PatternTable::prefetch(const Fingerprint& f) const {
  prefetch_address(&slots_[slot_hash(f) & mask_]);
}

int64_t PatternTable::insert(const Fingerprint& f, const uint64_t* key, int64_t sample_index) {
  for (uint64_t i = slot_hash(f) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.f.empty()) {
      const int64_t id = size();
      if (id >= max_entries_) throw_too_many_patterns(max_entries_);
      s.f = f;
      s.id = uint32_t(id);
      counts_.push_back(1);
      first_index_.push_back(sample_index);
      if (key_words_) keys_.insert(keys_.end(), key, key + key_words_);
      if (over_load(size(), slots_.size())) grow();
      return id;
    }
    if (s.f == f &&
        (!key_words_ || std::memcmp(&keys_[size_t(s.id) * size_t(key_words_)], key,
                                    sizeof(uint64_t) * size_t(key_words_)) == 0)) {
      ++counts_[s.id];
      return s.id;
    }
  }
}

void PatternTable::grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.f.empty()) continue;
    uint64_t i = slot_hash(s.f) & mask_;
    while (!slots_[i].f.empty()) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

int64_t PatternTable::memory_bytes() const {
  return int64_t(slots_.size() * sizeof(Slot) + counts_.capacity() * sizeof(uint64_t) +
                 first_index_.capacity() * sizeof(int64_t) + keys_.capacity() * sizeof(uint64_t));
}

}  // namespace regionlab
