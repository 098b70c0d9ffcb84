// Whole-array evaluation: outputs and packed activation patterns of many inputs.
#pragma once
#include <cstdint>

#include "network.hpp"
#include "parallel.hpp"

namespace regionlab {

// Rows of a block sized so that its activations stay in the L2 cache.
int64_t block_rows_for(int64_t max_width);

// Throws InvalidInput naming the first input row holding NaN/Inf.
[[noreturn]] void throw_nonfinite_row(int64_t row);

// out: (n, output_dim). Throws InvalidInput naming the first non-finite row.
template <class T>
void forward(const Network<T>& net, const T* X, int64_t n, T* out, const InterruptCheck& stop);

// keys: (n, n_words) packed patterns, bit i of word k = neuron 64k+i.
template <class T>
void patterns(const Network<T>& net, const T* X, int64_t n, uint64_t* keys,
              const InterruptCheck& stop);

}  // namespace regionlab
