// The matrix products of the batch gradient, register-tiled for its shapes: short inner
// dimensions (the input dimension, a block of rows) where a general GEMM spends its time
// packing. Each product hands its finished tiles to an epilogue (store, activation, ...)
// while they are still in registers. Compiled per ISA (see simd.hpp).
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "simd.hpp"

namespace regionlab::flow::REGIONLAB_ISA_NS::simd {

// The product's operands: A (m x k), element (r, q) at A[r * a_rs + q * a_cs], so A may be
// a transposed view; B (k x n) row-major with row stride ldb, whole vectors readable up
// to ceil(n / W) per row (zero past n).
struct GemmArgs {
  int64_t k;
  const double* A;
  int64_t a_rs, a_cs;
  const double* B;
  int64_t ldb;
};

// An epilogue provides: V init(r, v) (the accumulator's start for row r, vector v of the
// result) and void finish(r, v, V acc) (what to do with the finished vector).

// Writes (or adds to) a padded result C.
template <bool Accumulate>
struct StoreTo {
  double* C;
  int64_t ldc;
  V init(int64_t r, int64_t v) const { return Accumulate ? load(C + r * ldc + v * W) : zero(); }
  void finish(int64_t r, int64_t v, V acc) const { store(C + r * ldc + v * W, acc); }
};

template <int R, int NV, class Epi>
void gemm_tile(const GemmArgs& g, const Epi& epi, int64_t r0, int64_t v0) {
  V acc[R][NV];  // loops over acc fully unrolled, or GCC may keep it on the stack
  REGIONLAB_UNROLL for (int r = 0; r < R; ++r)
    REGIONLAB_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] = epi.init(r0 + r, v0 + v);
  const double* a = g.A + r0 * g.a_rs;
  const double* b = g.B + v0 * W;
  for (int64_t q = 0; q < g.k; ++q, a += g.a_cs, b += g.ldb) {
    V bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = load(b + v * W);
    for (int r = 0; r < R; ++r) {
      const V av = set1(a[r * g.a_rs]);
      for (int v = 0; v < NV; ++v) acc[r][v] = fma(av, bv[v], acc[r][v]);
    }
  }
  REGIONLAB_UNROLL for (int r = 0; r < R; ++r)
    REGIONLAB_UNROLL for (int v = 0; v < NV; ++v) epi.finish(r0 + r, v0 + v, acc[r][v]);
}

// One result row (m == 1) is a sum over the k rows of B: four interleaved partial sums
// keep the FMA latency off the critical path.
template <int NV, class Epi>
void gemm_row_tile(const GemmArgs& g, const Epi& epi, int64_t v0) {
  constexpr int kSplit = 4;
  V acc[kSplit][NV];
  for (int s = 0; s < kSplit; ++s)
    for (int v = 0; v < NV; ++v) acc[s][v] = zero();
  const double* b = g.B + v0 * W;
  int64_t q = 0;
  for (; q + kSplit <= g.k; q += kSplit)
    for (int s = 0; s < kSplit; ++s) {
      const V av = set1(g.A[(q + s) * g.a_cs]);
      for (int v = 0; v < NV; ++v) acc[s][v] = fma(av, load(b + (q + s) * g.ldb + v * W), acc[s][v]);
    }
  for (; q < g.k; ++q) {
    const V av = set1(g.A[q * g.a_cs]);
    for (int v = 0; v < NV; ++v) acc[0][v] = fma(av, load(b + q * g.ldb + v * W), acc[0][v]);
  }
  for (int v = 0; v < NV; ++v)
    epi.finish(0, v0 + v, add(epi.init(0, v0 + v), add(add(acc[0][v], acc[1][v]), add(acc[2][v], acc[3][v]))));
}

template <class Epi>
using GemmRowTileFn = void (*)(const GemmArgs&, const Epi&, int64_t);
template <class Epi, int... NV>
constexpr std::array<GemmRowTileFn<Epi>, sizeof...(NV)> gemm_row_tiles(std::integer_sequence<int, NV...>) {
  return {&gemm_row_tile<NV + 1, Epi>...};
}

template <class Epi>
using GemmTileFn = void (*)(const GemmArgs&, const Epi&, int64_t, int64_t);

template <class Epi, int R, int... NV>
constexpr std::array<GemmTileFn<Epi>, sizeof...(NV)> gemm_tile_row(std::integer_sequence<int, NV...>) {
  return {&gemm_tile<R, NV + 1, Epi>...};
}
template <class Epi, int... R>
constexpr auto gemm_tile_table(std::integer_sequence<int, R...>) {
  return std::array<std::array<GemmTileFn<Epi>, kTileVecs>, sizeof...(R)>{
      gemm_tile_row<Epi, R + 1>(std::make_integer_sequence<int, kTileVecs>())...};
}

// The m x n result, vectors [0, ceil(n / W)) of each row, tile by tile into epi.
template <class Epi>
void gemm(int64_t m, int64_t n, const GemmArgs& g, const Epi& epi) {
  static constexpr auto table = gemm_tile_table<Epi>(std::make_integer_sequence<int, kTileRows>());
  static constexpr auto row_table = gemm_row_tiles<Epi>(std::make_integer_sequence<int, kTileVecs>());
  const int64_t nv = (n + W - 1) / W;
  const int64_t chunks = (nv + kTileVecs - 1) / kTileVecs;
  for (int64_t ch = 0, v0 = 0; ch < chunks; ++ch) {
    const int64_t width = nv / chunks + (ch < nv % chunks ? 1 : 0);  // balanced chunks
    if (m == 1) {
      row_table[size_t(width - 1)](g, epi, v0);
      v0 += width;
      continue;
    }
    for (int64_t r0 = 0; r0 < m; r0 += kTileRows) {
      const int64_t rows = std::min<int64_t>(kTileRows, m - r0);
      table[size_t(rows - 1)][size_t(width - 1)](g, epi, r0, v0);
    }
    v0 += width;
  }
}

}  // namespace regionlab::flow::REGIONLAB_ISA_NS::simd
