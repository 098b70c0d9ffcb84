#include "regionlab/evaluate.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "regionlab/errors.hpp"
#include "regionlab/kernels.hpp"

namespace regionlab {

int64_t block_rows_for(int64_t max_width) {
  // ~128K activations per buffer: 512 KB in float32, inside a 1 MB L2 with room for weights.
  const int64_t rows = (int64_t(1) << 17) / std::max<int64_t>(1, max_width);
  return std::clamp<int64_t>(rows / kGemmRowMultiple * kGemmRowMultiple, kMinGemmRows, 4096);
}

void FirstBadRow::throw_if_any(int64_t offset) const {
  const int64_t row = row_.load();
  if (row == INT64_MAX) return;
  throw InvalidInput("X contains NaN or Inf (first in row " + std::to_string(row + offset) +
                     "; for a float32 network also a value beyond float32's range); "
                     "regionlab needs finite inputs");
}

namespace {

template <class T>
void evaluate(const Network<T>& net, const NetView<T>& view, const T* X, int64_t n,
              uint64_t* keys, T* out, const InterruptCheck& stop) {
  const int threads = num_threads();
  const int64_t block = block_rows_for(net.max_width());
  const int64_t width = net.max_width(), d = net.input_dim();
  std::vector<ThreadScratch<T>> scratch(static_cast<size_t>(threads));
  const auto run = kernels<T>().run_block;
  FirstBadRow first_bad;
  parallel_blocks(
      n, block, threads,
      [&](int t, int64_t b, int64_t e) {
        if (first_bad.after(b)) return;
        const int64_t bad = run(view, X + b * d, e - b, scratch[size_t(t)].get(block, width, d),
                                keys ? keys + b * view.n_words : nullptr,
                                out ? out + b * net.output_dim() : nullptr);
        if (bad >= 0) first_bad.record(b + bad);
      },
      stop);
  first_bad.throw_if_any(0);
}

}  // namespace

template <class T>
void forward(const Network<T>& net, const T* X, int64_t n, T* out, const InterruptCheck& stop) {
  evaluate<T>(net, net.view(), X, n, nullptr, out, stop);
}

template <class T>
void patterns(const Network<T>& net, const T* X, int64_t n, uint64_t* keys,
              const InterruptCheck& stop) {
  evaluate<T>(net, net.pattern_view(), X, n, keys, nullptr, stop);
}

template void forward<float>(const Network<float>&, const float*, int64_t, float*,
                             const InterruptCheck&);
template void forward<double>(const Network<double>&, const double*, int64_t, double*,
                              const InterruptCheck&);
template void patterns<float>(const Network<float>&, const float*, int64_t, uint64_t*,
                              const InterruptCheck&);
template void patterns<double>(const Network<double>&, const double*, int64_t, uint64_t*,
                               const InterruptCheck&);

}  // namespace regionlab
