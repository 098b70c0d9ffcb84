#include "regionlab/counter.hpp"

#include <algorithm>
#include <string>

#include "regionlab/errors.hpp"
#include "regionlab/evaluate.hpp"
#include "regionlab/kernels.hpp"

namespace regionlab {

namespace {
// Rows evaluated in parallel before the (serial, order-preserving) hash insertions.
constexpr int64_t kChunkRows = 16384;
// How far ahead of the insertion the hash-table slot is prefetched.
constexpr int64_t kPrefetchDistance = 8;
}  // namespace

template <class T>
PatternCounter<T>::PatternCounter(std::shared_ptr<const Network<T>> net, CountOptions options)
    : net_(std::move(net)), options_(options) {
  level_bits_ = net_->prefix_bits();
  if (level_bits_.empty()) level_bits_.push_back(0);  // no kinks: one (empty) pattern
  for (size_t l = 0; l + 1 < level_bits_.size(); ++l)
    prefix_sets_.emplace_back(options_.max_patterns);
  if (options_.with_table || options_.store_patterns) {
    table_ = std::make_unique<PatternTable>(options_.store_patterns ? net_->n_words() : 0,
                                            options_.max_patterns);
  } else {
    full_set_ = std::make_unique<DistinctSet>(options_.max_patterns);
  }
}

template <class T>
int64_t PatternCounter<T>::n_patterns() const {
  return table_ ? table_->size() : full_set_->size();
}

template <class T>
std::vector<int64_t> PatternCounter<T>::n_patterns_per_layer() const {
  std::vector<int64_t> out;
  if (net_->prefix_bits().empty()) return out;
  for (const auto& s : prefix_sets_) out.push_back(s.size());
  out.push_back(n_patterns());
  return out;
}

template <class T>
int64_t PatternCounter<T>::memory_bytes() const {
  int64_t bytes = table_ ? table_->memory_bytes() : full_set_->memory_bytes();
  for (const auto& s : prefix_sets_) bytes += s.memory_bytes();
  return bytes;
}

template <class T>
void PatternCounter<T>::add(const T* X, int64_t n, int64_t* ids, const InterruptCheck& stop) {
  const NetView<T>& view = net_->pattern_view();
  const int64_t W = net_->n_words(), P = int64_t(level_bits_.size());
  const int64_t d = net_->input_dim(), width = net_->max_width();
  const int64_t block = block_rows_for(width);
  const int threads = num_threads();
  keys_.resize(size_t(std::min(n, kChunkRows) * W));
  fingerprints_.resize(size_t(std::min(n, kChunkRows) * P));
  scratch_.resize(size_t(threads));
  for (auto& s : scratch_) s.resize(size_t(2 * block * width));
  const auto run = kernels<T>().run_block;

  for (int64_t c0 = 0; c0 < n; c0 += kChunkRows) {
    const int64_t rows = std::min(kChunkRows, n - c0);
    parallel_blocks(
        rows, block, threads,
        [&](int t, int64_t b, int64_t e) {
          T* s = scratch_[size_t(t)].data();
          uint64_t* keys = keys_.data() + b * W;
          const int64_t bad =
              run(view, X + (c0 + b) * d, e - b, BlockScratch<T>{s, s + block * width}, keys, nullptr);
          if (bad >= 0) throw_nonfinite_row(n_samples_ + c0 + b + bad);
          for (int64_t r = b; r < e; ++r)
            for (int64_t l = 0; l < P; ++l)
              fingerprints_[size_t(r * P + l)] = fingerprint(keys_.data() + r * W, level_bits_[size_t(l)]);
        },
        stop);
    insert_chunk(rows, ids ? ids + c0 : nullptr);
    n_samples_ += rows;
  }
}

template <class T>
void PatternCounter<T>::insert_chunk(int64_t rows, int64_t* ids) {
  const int64_t W = net_->n_words(), P = int64_t(level_bits_.size());
  for (int64_t r = 0; r < rows; ++r) {
    const Fingerprint* f = &fingerprints_[size_t(r * P)];
    if (r + kPrefetchDistance < rows) {
      const Fingerprint* ahead = f + kPrefetchDistance * P;
      for (int64_t l = 0; l + 1 < P; ++l) prefix_sets_[size_t(l)].prefetch(ahead[l]);
      if (table_) table_->prefetch(ahead[P - 1]);
      else full_set_->prefetch(ahead[P - 1]);
    }
    for (int64_t l = 0; l + 1 < P; ++l) prefix_sets_[size_t(l)].insert(f[l]);
    if (table_) {
      const int64_t id = table_->insert(f[P - 1], keys_.data() + r * W, n_samples_ + r);
      if (ids) ids[r] = id;
    } else {
      full_set_->insert(f[P - 1]);
    }
  }
}

template class PatternCounter<float>;
template class PatternCounter<double>;

}  // namespace regionlab
