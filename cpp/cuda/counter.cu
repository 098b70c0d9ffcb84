// CudaPatternCounter: streams batches through cuBLAS products, the fused bias/sign/
// activation kernel and the on-device hash sets; only the distinct patterns' data (their
// first samples, counts, patterns) and a few counters come back to the host.
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "check.cuh"
#include "device_buffer.cuh"
#include "hash_table.cuh"
#include "layer.cuh"
#include "regionlab/cuda_counter.hpp"
#include "regionlab/errors.hpp"
#include "regionlab/evaluate.hpp"
#include "regionlab/fingerprint.hpp"
#include "regionlab/pattern_set.hpp"

namespace regionlab::cuda {

namespace {

constexpr int64_t kBufferBudget = int64_t(1) << 30;    // default batch: ~1 GiB of buffers
constexpr int64_t kStagingBytes = int64_t(16) << 20;   // pinned host staging, per buffer
constexpr int64_t kMaxIds = int64_t(UINT32_MAX) - 1;   // entries are uint32 (as on the CPU)

// Streams, cuBLAS handle and events, destroyed even when construction fails half-way.
struct Handles {
  cudaStream_t stream = nullptr, copy_stream = nullptr;
  cudaEvent_t copied[2] = {nullptr, nullptr}, staged[2] = {nullptr, nullptr};
  cublasHandle_t blas = nullptr;
  ~Handles() {
    if (blas) cublasDestroy(blas);
    for (cudaEvent_t e : {copied[0], copied[1], staged[0], staged[1]})
      if (e) cudaEventDestroy(e);
    if (stream) cudaStreamDestroy(stream);
    if (copy_stream) cudaStreamDestroy(copy_stream);
  }
};

struct DeviceSet {
  DeviceBuffer<uint4> slots;
  uint64_t n_slots = 0;
};

}  // namespace

template <class T>
struct CudaPatternCounter<T>::Impl {
  std::shared_ptr<const Network<T>> net;
  CountOptions opt;
  int device;
  int64_t B = 0, d = 0, W = 0, max_width = 0;
  std::vector<int64_t> level_bits;
  int n_levels = 0, n_sets = 0;
  bool with_table = false, store = false;
  Handles h;

  // Parameters of the pattern-relevant stages.
  std::vector<DeviceBuffer<T>> weight, bias, slope;
  std::vector<DeviceBuffer<int32_t>> bitpos;
  std::vector<DeviceStage<T>> stages;
  DeviceBuffer<int64_t> d_level_bits;

  // Per-batch buffers.
  DeviceBuffer<T> act[2], input[2];
  DeviceBuffer<uint64_t> keys;
  DeviceBuffer<uint32_t> row_entry;
  DeviceBuffer<int64_t> row_ids;
  int64_t buffer_rows = 0, input_rows = 0;  // rows the batch / input buffers hold
  PinnedBuffer<T> staging[2];
  int64_t staging_rows = 0;

  // Counters on the device: [0, n_sets) set sizes, [n_sets] table entries, [n_sets+1] bad row.
  DeviceBuffer<unsigned long long> counters;
  PinnedBuffer<unsigned long long> h_counters;

  std::vector<DeviceSet> sets;
  DeviceBuffer<SetView> d_set_views;
  DeviceSet table;
  DeviceBuffer<unsigned long long> t_counts;
  DeviceBuffer<long long> t_first;
  DeviceBuffer<uint64_t> t_keys;
  DeviceBuffer<uint32_t> t_entry_id;
  int64_t t_capacity = 0;

  // Host state.
  std::vector<int64_t> set_sizes;
  int64_t n_entries = 0, n_samples = 0;
  std::vector<uint32_t> entry_of_id, id_of_entry;
  std::vector<int64_t> first_index;  // by id
  std::atomic<bool> busy{false};

  Impl(std::shared_ptr<const Network<T>> n, CountOptions o, int dev, int64_t batch_rows)
      : net(std::move(n)), opt(o), device(dev) {
    if (device < 0 || device >= device_count())
      throw InvalidInput("CUDA device " + std::to_string(device) + " is not visible (" +
                         std::to_string(device_count()) + " visible)");
    // What the device kernels implement: slope stages with dense weights.
    if (net->has_max_groups())
      throw InvalidInput("the GPU counter does not handle max groups (maxout, max pooling) yet; "
                         "count this network with device='cpu'");
    for (int64_t k = 0; k < net->view().n_stages; ++k)
      if (net->view().stages[k].op)
        throw InvalidInput("the GPU counter needs dense stage weights (a structured stage map "
                           "is CPU-only for now)");
    DeviceGuard guard(device);
    opt.max_patterns = std::min(opt.max_patterns, kMaxIds);
    level_bits = net->prefix_bits();
    if (level_bits.empty()) level_bits.push_back(0);  // no kinks: one (empty) pattern
    n_levels = int(level_bits.size());
    with_table = opt.with_table || opt.store_patterns;
    store = opt.store_patterns;
    n_sets = store ? 0 : n_levels - (with_table ? 1 : 0);
    d = net->input_dim();
    W = net->n_words();
    max_width = net->max_width();

    RL_CUDA_CHECK(cudaStreamCreateWithFlags(&h.stream, cudaStreamNonBlocking));
    RL_CUDA_CHECK(cudaStreamCreateWithFlags(&h.copy_stream, cudaStreamNonBlocking));
    for (int i = 0; i < 2; ++i) {
      RL_CUDA_CHECK(cudaEventCreateWithFlags(&h.copied[i], cudaEventDisableTiming));
      RL_CUDA_CHECK(cudaEventCreateWithFlags(&h.staged[i], cudaEventDisableTiming));
    }
    RL_CUBLAS_CHECK(cublasCreate(&h.blas));
    RL_CUBLAS_CHECK(cublasSetStream(h.blas, h.stream));
    RL_CUBLAS_CHECK(cublasSetMathMode(h.blas, CUBLAS_DEFAULT_MATH));  // no TF32

    upload_network();
    choose_batch(batch_rows);
    counters.allocate(size_t(n_sets + 2), "counters");
    RL_CUDA_CHECK(cudaMemset(counters.data(), 0, counters.bytes()));
    h_counters.allocate(size_t(n_sets + 2));
    d_level_bits.allocate(level_bits.size(), "prefix lengths");
    RL_CUDA_CHECK(cudaMemcpy(d_level_bits.data(), level_bits.data(), d_level_bits.bytes(), cudaMemcpyHostToDevice));
    sets.resize(size_t(n_sets));
    set_sizes.assign(size_t(n_sets), 0);
    if (n_sets) d_set_views.allocate(size_t(n_sets), "hash set views");
    RL_CUDA_CHECK(cudaDeviceSynchronize());  // the uploads above are complete
  }

  void upload_network() {
    const NetView<T>& v = net->pattern_view();
    for (int64_t k = 0; k < v.n_stages; ++k) {
      const StageView<T>& s = v.stages[k];
      weight.emplace_back(size_t(s.in * s.out), "weights");
      bias.emplace_back(size_t(s.out), "biases");
      slope.emplace_back(size_t(s.out), "slopes");
      RL_CUDA_CHECK(cudaMemcpy(weight.back().data(), s.weight, weight.back().bytes(), cudaMemcpyHostToDevice));
      RL_CUDA_CHECK(cudaMemcpy(bias.back().data(), s.bias, bias.back().bytes(), cudaMemcpyHostToDevice));
      RL_CUDA_CHECK(cudaMemcpy(slope.back().data(), s.slope, slope.back().bytes(), cudaMemcpyHostToDevice));
      bitpos.emplace_back();
      if (s.kinked) {
        std::vector<int32_t> pos(size_t(s.out), -1);
        for (int64_t i = 0; i < s.n_kinked; ++i) pos[size_t(s.kinked[i])] = int32_t(s.bit_offset + i);
        bitpos.back().allocate(pos.size(), "bit positions");
        RL_CUDA_CHECK(cudaMemcpy(bitpos.back().data(), pos.data(), bitpos.back().bytes(), cudaMemcpyHostToDevice));
      }
      stages.push_back(DeviceStage<T>{weight.back().data(), bias.back().data(), slope.back().data(),
                                      bitpos.back().data(), s.in, s.out, s.bit_offset, s.n_kinked,
                                      s.all_relu});
    }
  }

  void choose_batch(int64_t batch_rows) {
    if (batch_rows > 0) {
      B = std::min<int64_t>(batch_rows, INT_MAX / std::max<int64_t>(max_width, d));
      return;
    }
    size_t free_b = 0, total_b = 0;
    RL_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const int64_t budget = std::min<int64_t>(kBufferBudget, int64_t(free_b) / 4);
    const int64_t per_row = (2 * max_width + 2 * d) * int64_t(sizeof(T)) + W * 8 + 16;
    B = std::clamp<int64_t>(budget / per_row, 1024, int64_t(1) << 22) / 256 * 256;
  }

  // ------------------------------------------------------------------ capacity
  void grow_set(DeviceSet& s, int64_t needed, const char* what) {
    if (slots_for(needed) <= s.n_slots) return;
    // Room for twice as many: a few large rehashes rather than many (each allocates,
    // frees and waits), and the load right after one is at most 1/4.
    const uint64_t want = slots_for(2 * needed);
    DeviceBuffer<uint4> fresh(size_t(want), what);
    RL_CUDA_CHECK(cudaMemsetAsync(fresh.data(), 0, fresh.bytes(), h.stream));
    rehash(s.slots.data(), s.n_slots, fresh.data(), want - 1, h.stream);
    RL_CUDA_CHECK(cudaStreamSynchronize(h.stream));  // the old table is freed next
    s.slots = std::move(fresh);
    s.n_slots = want;
  }

  template <class U>
  void grow_entries(DeviceBuffer<U>& buf, int64_t per_entry, int64_t capacity, int fill, const char* what) {
    DeviceBuffer<U> fresh(size_t(capacity * per_entry), what);
    RL_CUDA_CHECK(cudaMemsetAsync(fresh.data(), fill, fresh.bytes(), h.stream));
    if (n_entries)
      RL_CUDA_CHECK(cudaMemcpyAsync(fresh.data(), buf.data(), size_t(n_entries * per_entry) * sizeof(U),
                                    cudaMemcpyDeviceToDevice, h.stream));
    RL_CUDA_CHECK(cudaStreamSynchronize(h.stream));
    buf = std::move(fresh);
  }

  // Room for `rows` more distinct patterns in every set and the table, so that no insert
  // of the next batch can fail (load stays at most 1/2).
  void reserve(int64_t rows) {
    try {
      bool views_changed = false;
      for (int s = 0; s < n_sets; ++s) {
        const uint64_t before = sets[size_t(s)].n_slots;
        grow_set(sets[size_t(s)], set_sizes[size_t(s)] + rows, "a hash set of patterns");
        views_changed |= sets[size_t(s)].n_slots != before;
      }
      if (views_changed) {
        std::vector<SetView> views;
        for (int s = 0; s < n_sets; ++s) {
          DeviceSet& set = sets[size_t(s)];
          SetView v;
          v.slots = set.slots.data();
          v.mask = set.n_slots - 1;
          v.size = counters.data() + s;
          views.push_back(v);
        }
        RL_CUDA_CHECK(cudaMemcpyAsync(d_set_views.data(), views.data(), d_set_views.bytes(),
                                      cudaMemcpyHostToDevice, h.stream));
        RL_CUDA_CHECK(cudaStreamSynchronize(h.stream));
      }
      if (with_table) {
        grow_set(table, n_entries + rows, "the pattern table");
        if (n_entries + rows > t_capacity) {
          const int64_t cap = std::max(n_entries + rows, 2 * t_capacity);
          grow_entries(t_counts, 1, cap, 0, "pattern counts");
          grow_entries(t_first, 1, cap, 0x7f, "first samples");  // 0x7f7f...: above any index
          grow_entries(t_entry_id, 1, cap, 0, "pattern ids");
          if (store) grow_entries(t_keys, W, cap, 0, "kept patterns");
          t_capacity = cap;
        }
      }
    } catch (const DeviceOutOfMemory& e) {
      throw LimitExceeded(std::string(e.what()) + " while holding " + std::to_string(n_patterns()) +
                          " distinct patterns (max_patterns=" + std::to_string(opt.max_patterns) +
                          "); pass a smaller max_patterns to stop earlier, count fewer samples or "
                          "a smaller batch_size, or count on the CPU (device='cpu')");
    }
  }

  // ------------------------------------------------------------------ one batch
  // Batch buffers for `rows` rows (grown on demand up to B, so small inputs stay small).
  void ensure_batch_buffers(int64_t rows) {
    if (rows <= buffer_rows) return;
    buffer_rows = std::min(B, std::max(rows, 2 * buffer_rows));
    RL_CUDA_CHECK(cudaStreamSynchronize(h.stream));  // nothing queued still reads them
    act[0].allocate(size_t(buffer_rows * max_width), "activations");
    act[1].allocate(size_t(buffer_rows * max_width), "activations");
    keys.allocate(size_t(buffer_rows * W), "packed patterns");
    if (with_table) row_entry.allocate(size_t(buffer_rows), "pattern entries");
  }

  // Queues the work of one batch (X on the device, ready in `stream` order).
  void enqueue(const T* X, int64_t rows) {
    ensure_batch_buffers(rows);
    reserve(rows);
    unsigned long long* bad = counters.data() + n_sets + 1;
    RL_CUDA_CHECK(cudaMemsetAsync(bad, 0xff, sizeof(unsigned long long), h.stream));
    find_nonfinite(X, rows, d, bad, h.stream);
    RL_CUDA_CHECK(cudaMemsetAsync(keys.data(), 0, size_t(rows * W) * sizeof(uint64_t), h.stream));
    const T* A = X;
    for (size_t k = 0; k < stages.size(); ++k) {
      T* H = act[k & 1].data();
      gemm(h.blas, stages[k], A, rows, H);
      bias_pack_activate(stages[k], H, rows, reinterpret_cast<uint32_t*>(keys.data()), 2 * W,
                         k + 1 < stages.size(), h.stream);
      A = H;
    }
    InsertBatch b{};
    b.keys = keys.data();
    b.rows = rows;
    b.n_words = W;
    b.first_sample = n_samples;
    b.level_bits = d_level_bits.data();
    b.n_levels = n_levels;
    b.sets = d_set_views.data();
    b.n_sets = n_sets;
    b.with_table = with_table;
    if (with_table) {
      b.table = TableView{table.slots.data(), table.n_slots - 1, counters.data() + n_sets,
                          t_counts.data(), t_first.data(), store ? t_keys.data() : nullptr, W};
      b.row_entry = row_entry.data();
    }
    insert_batch(b, h.stream);
    RL_CUDA_CHECK(cudaMemcpyAsync(h_counters.data(), counters.data(), counters.bytes(),
                                  cudaMemcpyDeviceToHost, h.stream));
  }

  // Waits for the batch, checks it, and gives the new patterns their ids.
  void finish(int64_t rows, int64_t* ids) {
    RL_CUDA_CHECK(cudaStreamSynchronize(h.stream));
    const unsigned long long bad = h_counters.data()[n_sets + 1];
    if (bad != ~0ull) {
      FirstBadRow first_bad;
      first_bad.record(int64_t(bad));
      first_bad.throw_if_any(n_samples);
    }
    for (int s = 0; s < n_sets; ++s) set_sizes[size_t(s)] = int64_t(h_counters.data()[s]);
    const int64_t entries = with_table ? int64_t(h_counters.data()[n_sets]) : 0;
    for (int64_t size : set_sizes)
      if (size > opt.max_patterns) throw_too_many_patterns(opt.max_patterns);
    if (entries > opt.max_patterns) throw_too_many_patterns(opt.max_patterns);
    if (with_table && entries > n_entries) assign_ids(entries);
    if (ids && with_table) {
      if (row_ids.size() < size_t(rows)) row_ids.allocate(size_t(std::max(B, rows)), "pattern ids of a batch");
      map_ids(row_entry.data(), t_entry_id.data(), rows, row_ids.data(), h.stream);
      RL_CUDA_CHECK(cudaMemcpyAsync(ids, row_ids.data(), size_t(rows) * sizeof(int64_t),
                                    cudaMemcpyDeviceToHost, h.stream));
      RL_CUDA_CHECK(cudaStreamSynchronize(h.stream));
    }
    n_samples += rows;
  }

  // Entries [n_entries, entries) are this batch's new patterns: ids follow their first samples.
  void assign_ids(int64_t entries) {
    const int64_t fresh = entries - n_entries;
    std::vector<long long> first(static_cast<size_t>(fresh));
    RL_CUDA_CHECK(cudaMemcpyAsync(first.data(), t_first.data() + n_entries, size_t(fresh) * sizeof(long long),
                                  cudaMemcpyDeviceToHost, h.stream));
    RL_CUDA_CHECK(cudaStreamSynchronize(h.stream));
    std::vector<uint32_t> order(static_cast<size_t>(fresh));
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return first[a] < first[b]; });
    id_of_entry.resize(size_t(entries));
    for (int64_t rank = 0; rank < fresh; ++rank) {
      const uint32_t e = uint32_t(n_entries) + order[size_t(rank)];
      id_of_entry[e] = uint32_t(n_entries + rank);
      entry_of_id.push_back(e);
      first_index.push_back(int64_t(first[order[size_t(rank)]]));
    }
    RL_CUDA_CHECK(cudaMemcpyAsync(t_entry_id.data() + n_entries, id_of_entry.data() + n_entries,
                                  size_t(fresh) * sizeof(uint32_t), cudaMemcpyHostToDevice, h.stream));
    RL_CUDA_CHECK(cudaStreamSynchronize(h.stream));
    n_entries = entries;
  }

  // ------------------------------------------------------------------ streaming
  static void check_stop(const InterruptCheck& stop) {
    if (stop && stop()) throw Interrupted();
  }

  void add_device(const T* X, int64_t n, int64_t* ids, const InterruptCheck& stop) {
    for (int64_t c0 = 0; c0 < n; c0 += B) {
      const int64_t rows = std::min(B, n - c0);
      enqueue(X + c0 * d, rows);
      finish(rows, ids ? ids + c0 : nullptr);
      check_stop(stop);
    }
  }

  // Copies rows [c0, c0+rows) of host X into input[buf] through the pinned buffers, on
  // the copy stream; copied[buf] marks the end.
  void stage(const T* X, int64_t c0, int64_t rows, int buf, int& turn) {
    for (int64_t s0 = 0; s0 < rows; s0 += staging_rows) {
      const int64_t m = std::min(staging_rows, rows - s0);
      const int p = turn++ & 1;
      RL_CUDA_CHECK(cudaEventSynchronize(h.staged[p]));  // its previous copy has left
      std::memcpy(staging[p].data(), X + (c0 + s0) * d, size_t(m * d) * sizeof(T));
      RL_CUDA_CHECK(cudaMemcpyAsync(input[buf].data() + s0 * d, staging[p].data(), size_t(m * d) * sizeof(T),
                                    cudaMemcpyHostToDevice, h.copy_stream));
      RL_CUDA_CHECK(cudaEventRecord(h.staged[p], h.copy_stream));
    }
    RL_CUDA_CHECK(cudaEventRecord(h.copied[buf], h.copy_stream));
  }

  void add_host(const T* X, int64_t n, int64_t* ids, const InterruptCheck& stop) {
    const int64_t want = std::min(B, n);
    if (want > input_rows) {
      input_rows = want;
      input[0].allocate(size_t(input_rows * d), "input batches");
      input[1].allocate(size_t(input_rows * d), "input batches");
    }
    if (!staging_rows) {
      staging_rows = std::clamp<int64_t>(kStagingBytes / (d * int64_t(sizeof(T))), 1, B);
      staging[0].allocate(size_t(staging_rows * d));
      staging[1].allocate(size_t(staging_rows * d));
    }
    int turn = 0;
    stage(X, 0, std::min(B, n), 0, turn);
    for (int64_t c0 = 0, c = 0; c0 < n; c0 += B, ++c) {
      const int buf = int(c & 1);
      const int64_t rows = std::min(B, n - c0);
      RL_CUDA_CHECK(cudaStreamWaitEvent(h.stream, h.copied[buf], 0));
      enqueue(input[buf].data(), rows);
      // The next batch crosses the bus while this one computes; its buffer was last read
      // by the batch before, which finish() has waited for.
      if (c0 + rows < n) stage(X, c0 + rows, std::min(B, n - c0 - rows), 1 - buf, turn);
      finish(rows, ids ? ids + c0 : nullptr);
      check_stop(stop);
    }
  }

  // ------------------------------------------------------------------ results
  int64_t n_patterns() const { return with_table ? n_entries : (set_sizes.empty() ? 0 : set_sizes.back()); }

  std::vector<uint64_t> kept_patterns() const {
    std::vector<uint64_t> out;
    if (!store || n_entries == 0) return out;
    std::vector<uint64_t> by_entry(static_cast<size_t>(n_entries * W));
    {
      DeviceGuard guard(device);
      RL_CUDA_CHECK(cudaMemcpy(by_entry.data(), t_keys.data(), by_entry.size() * sizeof(uint64_t),
                               cudaMemcpyDeviceToHost));
    }
    out.resize(by_entry.size());
    for (int64_t id = 0; id < n_entries; ++id)
      std::copy_n(by_entry.begin() + int64_t(entry_of_id[size_t(id)]) * W, W, out.begin() + id * W);
    return out;
  }

  std::vector<int64_t> per_layer() const {
    std::vector<int64_t> out;
    if (net->prefix_bits().empty()) return out;
    if (store) {
      // As the CPU counter does: distinct (masked) prefixes of the distinct full patterns.
      const std::vector<uint64_t> keys_host = kept_patterns();
      std::vector<uint64_t> prefix;
      for (size_t l = 0; l + 1 < level_bits.size(); ++l) {
        const int64_t bits = level_bits[l], words = (bits + 63) / 64;
        PatternTable distinct(words, INT64_MAX);
        prefix.resize(size_t(words));
        for (int64_t i = 0; i < n_entries; ++i) {
          std::copy_n(keys_host.begin() + i * W, words, prefix.begin());
          if (bits % 64) prefix.back() &= (uint64_t(1) << (bits % 64)) - 1;
          distinct.insert(fingerprint(prefix.data(), bits), prefix.data(), i);
        }
        out.push_back(distinct.size());
      }
      out.push_back(n_entries);
      return out;
    }
    out = set_sizes;
    if (with_table) out.push_back(n_entries);
    return out;
  }

  std::vector<uint64_t> counts() const {
    std::vector<uint64_t> by_entry(static_cast<size_t>(n_entries)), out(static_cast<size_t>(n_entries));
    if (n_entries) {
      DeviceGuard guard(device);
      RL_CUDA_CHECK(cudaMemcpy(by_entry.data(), t_counts.data(), size_t(n_entries) * sizeof(uint64_t),
                               cudaMemcpyDeviceToHost));
    }
    for (int64_t id = 0; id < n_entries; ++id) out[size_t(id)] = by_entry[entry_of_id[size_t(id)]];
    return out;
  }

  int64_t memory_bytes() const {
    int64_t bytes = table.slots.bytes() + t_counts.bytes() + t_first.bytes() + t_keys.bytes() + t_entry_id.bytes();
    for (const DeviceSet& s : sets) bytes += s.slots.bytes();
    return bytes;
  }
};

// ---------------------------------------------------------------------- the public class
namespace {
struct BusyScope {
  std::atomic<bool>& flag;
  explicit BusyScope(std::atomic<bool>& f) : flag(f) {
    if (flag.exchange(true))
      throw InvalidInput("this CUDA pattern counter is already counting in another thread; "
                         "use one counter per thread");
  }
  ~BusyScope() { flag.store(false); }
};
}  // namespace

template <class T>
CudaPatternCounter<T>::CudaPatternCounter(std::shared_ptr<const Network<T>> net, CountOptions options,
                                          int device, int64_t batch_rows)
    : impl_(std::make_unique<Impl>(std::move(net), options, device, batch_rows)) {}

template <class T>
CudaPatternCounter<T>::~CudaPatternCounter() = default;

template <class T>
void CudaPatternCounter<T>::add_host(const T* X, int64_t n, int64_t* ids, const InterruptCheck& stop) {
  BusyScope busy(impl_->busy);
  DeviceGuard guard(impl_->device);
  impl_->add_host(X, n, ids, stop);
}

template <class T>
void CudaPatternCounter<T>::add_device(const T* X, int64_t n, int64_t* ids, const InterruptCheck& stop) {
  BusyScope busy(impl_->busy);
  DeviceGuard guard(impl_->device);
  cudaPointerAttributes attr{};
  RL_CUDA_CHECK(cudaPointerGetAttributes(&attr, X));
  if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
    throw InvalidInput("count_patterns: the input is not in CUDA device memory");
  if (attr.device != impl_->device)
    throw InvalidInput("count_patterns: the input is on CUDA device " + std::to_string(attr.device) +
                       " but counting runs on device " + std::to_string(impl_->device));
  impl_->add_device(X, n, ids, stop);
}

template <class T>
int64_t CudaPatternCounter<T>::n_samples() const { return impl_->n_samples; }
template <class T>
int64_t CudaPatternCounter<T>::n_patterns() const { return impl_->n_patterns(); }
template <class T>
std::vector<int64_t> CudaPatternCounter<T>::n_patterns_per_layer() const { return impl_->per_layer(); }
template <class T>
bool CudaPatternCounter<T>::has_table() const { return impl_->with_table; }
template <class T>
std::vector<uint64_t> CudaPatternCounter<T>::counts() const { return impl_->counts(); }
template <class T>
std::vector<int64_t> CudaPatternCounter<T>::first_index() const { return impl_->first_index; }
template <class T>
std::vector<uint64_t> CudaPatternCounter<T>::patterns() const { return impl_->kept_patterns(); }
template <class T>
int64_t CudaPatternCounter<T>::key_words() const { return impl_->store ? impl_->W : 0; }
template <class T>
int64_t CudaPatternCounter<T>::memory_bytes() const { return impl_->memory_bytes(); }
template <class T>
int64_t CudaPatternCounter<T>::batch_rows() const { return impl_->B; }
template <class T>
bool CudaPatternCounter<T>::busy() const { return impl_->busy.load(); }
template <class T>
const Network<T>& CudaPatternCounter<T>::network() const { return *impl_->net; }

template class CudaPatternCounter<float>;
template class CudaPatternCounter<double>;

}  // namespace regionlab::cuda
