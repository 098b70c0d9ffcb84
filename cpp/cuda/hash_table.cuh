// On-device open-addressing hash sets of pattern fingerprints (linear probing, power-of-two
// size, load at most 1/2): one per layer prefix, and for the last layer a table that also
// keeps, per distinct pattern, its count, its first sample (atomicMin) and, in exact mode,
// the full packed pattern, compared on a fingerprint match as the CPU's PatternTable does.
//
// A slot is a uint4: x, y, z = the fingerprint's words (z has bit 31 set, so z = 0 marks
// an empty slot and z = 1 one being written), w = the entry of a table slot. A thread
// claims an empty slot by atomicCAS(z, 0, 1), writes x, y, w (and the entry), and then
// publishes z; a thread that finds z = 1 waits for the fingerprint.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "device_buffer.cuh"

namespace regionlab::cuda {

struct SetView {
  uint4* slots;
  uint64_t mask;
  unsigned long long* size;  // distinct fingerprints inserted
};

struct TableView {
  uint4* slots;
  uint64_t mask;
  unsigned long long* n_entries;    // entries allocated (= distinct patterns)
  unsigned long long* counts;       // (capacity)
  long long* first_index;           // (capacity), initialised to a huge value
  uint64_t* keys;                   // (capacity, key_words) when patterns are kept, else null
  int64_t key_words;
};

// Inputs of the insertion kernel: one thread per (row, level).
struct InsertBatch {
  const uint64_t* keys;        // (rows, n_words) packed patterns
  int64_t rows, n_words;
  int64_t first_sample;        // index of row 0 among all samples counted
  const int64_t* level_bits;   // (n_levels) pattern length of each prefix level (device)
  int n_levels;
  const SetView* sets;         // (n_sets) device array
  int n_sets;                  // levels [0, n_sets) go to sets; the last level to the table if any
  bool with_table;
  TableView table;
  uint32_t* row_entry;         // (rows) entry of each row's pattern (with a table), or null
};

void insert_batch(const InsertBatch& b, cudaStream_t stream);

// ids[r] = entry_id[row_entry[r]] (pattern ids of a batch's rows, on the device).
void map_ids(const uint32_t* row_entry, const uint32_t* entry_id, int64_t rows, int64_t* ids, cudaStream_t stream);

// Slots of the smallest power-of-two table with load at most 1/2 for `entries`.
uint64_t slots_for(int64_t entries);

// Moves every filled slot of `from` into the empty table `to` (fingerprints are distinct).
void rehash(const uint4* from, uint64_t from_slots, uint4* to, uint64_t to_mask, cudaStream_t stream);

}  // namespace regionlab::cuda
