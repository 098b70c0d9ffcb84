#include "regionlab/counter.hpp"

#include <algorithm>
#include <string>

#include "regionlab/errors.hpp"
#include "regionlab/evaluate.hpp"
#include "regionlab/kernels.hpp"

namespace regionlab {

namespace {
// Rows evaluated in parallel before their patterns go into the sets: ~4 MB of patterns
// and fingerprints, so that small nets do not pay thread start-up per few rows.
int64_t chunk_rows(int64_t n_words, int64_t n_levels) {
  const int64_t bytes_per_row = n_words * int64_t(sizeof(uint64_t)) + n_levels * int64_t(sizeof(Fingerprint));
  return std::clamp<int64_t>((int64_t(4) << 20) / bytes_per_row, 4096, 262144);
}
// How far ahead of the insertion the hash-table slot is prefetched.
constexpr int64_t kPrefetchDistance = 8;
}  // namespace

template <class T>
PatternCounter<T>::PatternCounter(std::shared_ptr<const Network<T>> net, CountOptions options)
    : net_(std::move(net)), options_(options) {
  level_bits_ = net_->prefix_bits();
  if (level_bits_.empty()) level_bits_.push_back(0);  // no kinks: one (empty) pattern
  if (options_.with_table || options_.store_patterns)
    table_ = std::make_unique<PatternTable>(options_.store_patterns ? net_->n_words() : 0,
                                            options_.max_patterns);
  const size_t n_sets = options_.store_patterns ? 0 : level_bits_.size() - (table_ ? 1 : 0);
  for (size_t l = 0; l < n_sets; ++l) level_sets_.emplace_back(num_threads(), options_.max_patterns);
}

template <class T>
int64_t PatternCounter<T>::n_patterns() const {
  return table_ ? table_->size() : level_sets_.back().size();
}

template <class T>
std::vector<int64_t> PatternCounter<T>::n_patterns_per_layer() const {
  std::vector<int64_t> out;
  if (net_->prefix_bits().empty()) return out;
  if (options_.store_patterns) {
    // Every sample's prefix is the prefix of its full pattern: count distinct prefixes of
    // the distinct full patterns, comparing the (masked) prefix words exactly.
    const int64_t W = net_->n_words(), n = table_->size();
    std::vector<uint64_t> prefix;
    for (size_t l = 0; l + 1 < level_bits_.size(); ++l) {
      const int64_t bits = level_bits_[l], words = (bits + 63) / 64;
      PatternTable distinct(words, INT64_MAX);
      prefix.resize(size_t(words));
      for (int64_t i = 0; i < n; ++i) {
        std::copy_n(table_->keys().begin() + i * W, words, prefix.begin());
        if (bits % 64) prefix.back() &= (uint64_t(1) << (bits % 64)) - 1;
        distinct.insert(fingerprint(prefix.data(), bits), prefix.data(), i);
      }
      out.push_back(distinct.size());
    }
    out.push_back(n);
    return out;
  }
  for (const auto& s : level_sets_) out.push_back(s.size());
  if (table_) out.push_back(table_->size());
  return out;
}

template <class T>
int64_t PatternCounter<T>::memory_bytes() const {
  int64_t bytes = table_ ? table_->memory_bytes() : 0;
  for (const auto& s : level_sets_) bytes += s.memory_bytes();
  return bytes;
}

template <class T>
void PatternCounter<T>::add(const T* X, int64_t n, int64_t* ids, const InterruptCheck& stop) {
  if (busy_.exchange(true))
    throw InvalidInput("PatternCounter.add is already running in another thread; "
                       "use one counter per thread");
  struct Release {
    std::atomic<bool>& flag;
    ~Release() { flag.store(false); }
  } release{busy_};
  const NetView<T>& view = net_->pattern_view();
  const int64_t W = net_->n_words(), P = int64_t(level_bits_.size());
  const int64_t d = net_->input_dim(), width = net_->max_width();
  const int64_t block = block_rows_for(width);
  const int threads = num_threads();
  const int64_t chunk = chunk_rows(W, P);
  keys_.resize(size_t(std::min(n, chunk) * W));
  fingerprints_.resize(size_t(std::min(n, chunk) * P));
  scratch_.resize(size_t(threads));
  const auto run = kernels<T>().run_block;
  // Levels with a streaming set, and the last one when the table holds it.
  const int64_t n_sets = int64_t(level_sets_.size());
  auto level_used = [&](int64_t l) { return l < n_sets || (table_ && l == P - 1); };

  for (int64_t c0 = 0; c0 < n; c0 += chunk) {
    const int64_t rows = std::min(chunk, n - c0);
    FirstBadRow first_bad;
    parallel_blocks(
        rows, block, threads,
        [&](int t, int64_t b, int64_t e) {
          if (first_bad.after(b)) return;
          uint64_t* keys = keys_.data() + b * W;
          const int64_t bad = run(view, X + (c0 + b) * d, e - b,
                                  scratch_[size_t(t)].get(block, width, d), keys, nullptr);
          if (bad >= 0) {
            first_bad.record(b + bad);
            return;
          }
          for (int64_t r = b; r < e; ++r)
            for (int64_t l = 0; l < P; ++l)
              if (level_used(l))
                fingerprints_[size_t(r * P + l)] = fingerprint(keys_.data() + r * W, level_bits_[size_t(l)]);
        },
        stop);
    first_bad.throw_if_any(n_samples_ + c0);
    insert_chunk(rows, ids ? ids + c0 : nullptr, stop);
    n_samples_ += rows;
  }
}

template <class T>
void PatternCounter<T>::insert_chunk(int64_t rows, int64_t* ids, const InterruptCheck& stop) {
  const int64_t W = net_->n_words(), P = int64_t(level_bits_.size());
  const int64_t n_sets = int64_t(level_sets_.size());
  const int shards = level_sets_.empty() ? 0 : level_sets_.front().n_shards();
  // Task s < shards fills shard s of every level set; the last task (when there is a
  // table) inserts into it in row order, so that ids follow first appearance.
  const int tasks = shards + (table_ ? 1 : 0);
  parallel_blocks(
      tasks, 1, tasks,
      [&](int, int64_t task, int64_t) {
        if (task < shards) {
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t l = 0; l < n_sets; ++l) {
              const Fingerprint& f = fingerprints_[size_t(r * P + l)];
              ShardedDistinctSet& set = level_sets_[size_t(l)];
              if (set.shard_of(f) == task) set.shard(int(task)).insert(f);
            }
          return;
        }
        for (int64_t r = 0; r < rows; ++r) {
          if (r + kPrefetchDistance < rows)
            table_->prefetch(fingerprints_[size_t((r + kPrefetchDistance) * P + P - 1)]);
          const int64_t id = table_->insert(fingerprints_[size_t(r * P + P - 1)],
                                            keys_.data() + r * W, n_samples_ + r);
          if (ids) ids[r] = id;
        }
      },
      stop);
  for (const auto& set : level_sets_)
    if (set.size() > options_.max_patterns) throw_too_many_patterns(options_.max_patterns);
}

template class PatternCounter<float>;
template class PatternCounter<double>;

}  // namespace regionlab
