#include "check.cuh"
#include "hash_table.cuh"
#include "regionlab/fingerprint.hpp"

namespace regionlab::cuda {

namespace {

constexpr int kThreads = 256;
constexpr uint32_t kBusy = 1;  // z of a slot being written (valid z have bit 31 set)

__device__ inline uint32_t load_volatile(const uint32_t* p) { return *reinterpret_cast<const volatile uint32_t*>(p); }

// Waits until the slot's z is published (not kBusy) and returns it.
__device__ inline uint32_t published_z(uint4* slot, uint32_t z) {
  while (z == kBusy) z = load_volatile(&slot->z);
  __threadfence();  // read x, y, w (and the entry) only after z
  return z;
}

// Inserts f into a set; returns true when it was new (the caller counts it).
__device__ bool set_insert(const SetView& s, const Fingerprint& f) {
  for (uint64_t i = slot_hash(f) & s.mask;; i = (i + 1) & s.mask) {
    uint4* slot = s.slots + i;
    uint32_t z = load_volatile(&slot->z);
    if (z == 0) {
      z = atomicCAS(&slot->z, 0u, kBusy);
      if (z == 0) {
        slot->x = f.w[0];
        slot->y = f.w[1];
        __threadfence();
        atomicExch(&slot->z, f.w[2]);
        return true;
      }
    }
    z = published_z(slot, z);
    if (z == f.w[2] && load_volatile(&slot->x) == f.w[0] && load_volatile(&slot->y) == f.w[1])
      return false;
  }
}

__device__ inline bool same_key(const uint64_t* a, const uint64_t* b, int64_t words) {
  for (int64_t k = 0; k < words; ++k)
    if (*reinterpret_cast<const volatile uint64_t*>(a + k) != b[k]) return false;
  return true;
}

// Inserts the pattern `key` (fingerprint f) of sample `sample`; returns its entry.
__device__ uint32_t table_insert(const TableView& t, const Fingerprint& f, const uint64_t* key, long long sample) {
  for (uint64_t i = slot_hash(f) & t.mask;; i = (i + 1) & t.mask) {
    uint4* slot = t.slots + i;
    uint32_t z = load_volatile(&slot->z);
    if (z == 0) {
      z = atomicCAS(&slot->z, 0u, kBusy);
      if (z == 0) {
        const uint32_t e = uint32_t(atomicAdd(t.n_entries, 1ull));
        if (t.keys)
          for (int64_t k = 0; k < t.key_words; ++k) t.keys[int64_t(e) * t.key_words + k] = key[k];
        slot->x = f.w[0];
        slot->y = f.w[1];
        slot->w = e;
        __threadfence();
        atomicExch(&slot->z, f.w[2]);
        atomicMin(t.first_index + e, sample);
        atomicAdd(t.counts + e, 1ull);
        return e;
      }
    }
    z = published_z(slot, z);
    if (z == f.w[2] && load_volatile(&slot->x) == f.w[0] && load_volatile(&slot->y) == f.w[1]) {
      const uint32_t e = load_volatile(&slot->w);
      if (!t.keys || same_key(t.keys + int64_t(e) * t.key_words, key, t.key_words)) {
        atomicMin(t.first_index + e, sample);
        atomicAdd(t.counts + e, 1ull);
        return e;
      }
      // Same fingerprint, different pattern (exact mode): keep probing, like the CPU.
    }
  }
}

__global__ void insert_kernel(InsertBatch b) {
  const int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int y = int(blockIdx.y);  // set y, or the table when y == n_sets
  if (r >= b.rows) return;
  const uint64_t* key = b.keys + r * b.n_words;
  if (y < b.n_sets) {
    const bool fresh = set_insert(b.sets[y], fingerprint(key, b.level_bits[y]));
    // One atomicAdd per group of converged threads (every thread of a block has the same
    // set), not one per new pattern on a single counter.
    const unsigned active = __activemask();
    const unsigned news = __ballot_sync(active, fresh);
    if (news && int(threadIdx.x & 31) == __ffs(active) - 1) atomicAdd(b.sets[y].size, (unsigned long long)__popc(news));
  } else if (b.with_table) {
    const Fingerprint f = fingerprint(key, b.level_bits[b.n_levels - 1]);
    const uint32_t e = table_insert(b.table, f, key, (long long)(b.first_sample + r));
    if (b.row_entry) b.row_entry[r] = e;
  }
}

__global__ void rehash_kernel(const uint4* from, uint64_t n, uint4* to, uint64_t mask) {
  const uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const uint4 s = from[i];
  if (s.z == 0) return;
  Fingerprint f;
  f.w[0] = s.x;
  f.w[1] = s.y;
  f.w[2] = s.z;
  // Fingerprints are distinct and nothing reads the new table meanwhile: claim by z.
  for (uint64_t j = slot_hash(f) & mask;; j = (j + 1) & mask) {
    if (atomicCAS(&to[j].z, 0u, s.z) == 0) {
      to[j].x = s.x;
      to[j].y = s.y;
      to[j].w = s.w;
      return;
    }
  }
}

__global__ void map_ids_kernel(const uint32_t* row_entry, const uint32_t* entry_id, int64_t rows, int64_t* ids) {
  const int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r < rows) ids[r] = int64_t(entry_id[row_entry[r]]);
}

}  // namespace

void map_ids(const uint32_t* row_entry, const uint32_t* entry_id, int64_t rows, int64_t* ids, cudaStream_t stream) {
  if (rows == 0) return;
  map_ids_kernel<<<unsigned((rows + kThreads - 1) / kThreads), kThreads, 0, stream>>>(row_entry, entry_id, rows, ids);
  RL_CUDA_LAUNCHED();
}

void insert_batch(const InsertBatch& b, cudaStream_t stream) {
  if (b.rows == 0) return;
  const int ys = b.n_sets + (b.with_table ? 1 : 0);
  if (ys == 0) return;
  const dim3 grid(unsigned((b.rows + kThreads - 1) / kThreads), unsigned(ys));
  insert_kernel<<<grid, kThreads, 0, stream>>>(b);
  RL_CUDA_LAUNCHED();
}

uint64_t slots_for(int64_t entries) {
  uint64_t slots = 1024;
  while (slots < uint64_t(entries) * 2) slots *= 2;
  return slots;
}

void rehash(const uint4* from, uint64_t from_slots, uint4* to, uint64_t to_mask, cudaStream_t stream) {
  if (from_slots == 0) return;
  const uint64_t blocks = (from_slots + kThreads - 1) / kThreads;
  rehash_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(from, from_slots, to, to_mask);
  RL_CUDA_LAUNCHED();
}

}  // namespace regionlab::cuda
