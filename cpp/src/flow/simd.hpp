// A few double-precision vector operations for the instruction set this translation unit
// is compiled for (AVX-512, AVX2+FMA, or baseline x86-64 / any CPU), so the flow kernels
// are written once and compiled per ISA like the block kernels. Internal to cpp/src/flow.
// The names live in the per-ISA namespace REGIONLAB_ISA_NS (set by the including file):
// the same inline function compiled for two ISAs must not be merged by the linker.
#pragma once
#include <cmath>
#include <cstdint>

#include "regionlab/flow/batch_gradient.hpp"

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#ifndef REGIONLAB_ISA_NS
#error "define REGIONLAB_ISA_NS before including simd.hpp"
#endif

// Unrolls the next loop completely (its count a compile-time constant).
#if defined(__clang__)
#define REGIONLAB_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define REGIONLAB_UNROLL _Pragma("GCC unroll 32")
#else
#define REGIONLAB_UNROLL
#endif

namespace regionlab::flow::REGIONLAB_ISA_NS::simd {

inline int64_t padded(int64_t n) { return padded_row(n); }

#if defined(__AVX512F__)
constexpr int W = 8;  // doubles per vector
using V = __m512d;
inline V zero() { return _mm512_setzero_pd(); }
inline V set1(double x) { return _mm512_set1_pd(x); }
inline V load(const double* p) { return _mm512_loadu_pd(p); }
inline void store(double* p, V v) { _mm512_storeu_pd(p, v); }
inline __mmask8 lanes(int n) { return __mmask8((1u << n) - 1u); }
// The first n lanes (0 < n <= W); the others read as 0 / are left untouched.
inline V load_n(const double* p, int n) { return _mm512_maskz_loadu_pd(lanes(n), p); }
inline void store_n(double* p, V v, int n) { _mm512_mask_storeu_pd(p, lanes(n), v); }
// (x, 0, ..., 0), built in registers (a masked load from a fresh store would stall).
inline V first_lane(double x) { return _mm512_zextpd128_pd512(_mm_set_sd(x)); }
inline V add(V a, V b) { return _mm512_add_pd(a, b); }
inline V mul(V a, V b) { return _mm512_mul_pd(a, b); }
inline V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }  // a * b + c
// The activation slope: 1 where z > 0, else alpha (z == 0 inactive, like torch's autograd).
inline V slope(V z, V alpha) {
  return _mm512_mask_mov_pd(alpha, _mm512_cmp_pd_mask(z, zero(), _CMP_GT_OQ), set1(1.0));
}
// Lane c: one where bit c of bits is set, else other.
inline V select_bits(unsigned bits, V one, V other) { return _mm512_mask_mov_pd(other, __mmask8(bits), one); }
// z where bit c of bits is set, alpha * z elsewhere (one masked multiply).
inline V scale_unset(unsigned bits, V z, V alpha) { return _mm512_mask_mul_pd(z, __mmask8(~bits), z, alpha); }
// one where a > 0, else other (the mask never leaves its register).
inline V select_positive(V a, V one, V other) {
  return _mm512_mask_mov_pd(other, _mm512_cmp_pd_mask(a, zero(), _CMP_GT_OQ), one);
}
// The leaky activation by the sign of z; the slope bits (z > 0) go to vector v of a bit row.
// The mask stays in a mask register (a round trip through a general one costs three ops).
inline V activate_by_sign(V z, V alpha, uint8_t* row, int64_t v) {
  const __mmask8 on = _mm512_cmp_pd_mask(z, zero(), _CMP_GT_OQ);
  _store_mask8(reinterpret_cast<__mmask8*>(row + v), on);
  return _mm512_mask_mul_pd(z, _knot_mask8(on), z, alpha);
}
// Bit c set where lane c of a < b (a <= b); false for NaN.
inline unsigned less_bits(V a, V b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ); }
inline unsigned less_equal_bits(V a, V b) { return _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ); }
inline V sub(V a, V b) { return _mm512_sub_pd(a, b); }
inline V min(V a, V b) { return _mm512_min_pd(a, b); }
inline V abs(V a) { return _mm512_abs_pd(a); }
inline V div(V a, V b) { return _mm512_div_pd(a, b); }
// (Masked form with every lane: the plain intrinsic passes GCC 12 an "undefined" vector
// that -Wuninitialized reports once inlined into the kernels.)
inline V max(V a, V b) { return _mm512_mask_max_pd(a, __mmask8(0xFF), a, b); }
inline V round_int(V a) { return _mm512_roundscale_pd(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
// p * 2^k for integral k (overflow to inf, gradual underflow to 0 handled).
inline V scale2(V p, V k) { return _mm512_scalef_pd(p, k); }
inline double sum(V v) { return _mm512_reduce_add_pd(v); }
// Before calling code built for baseline x86-64 (libm, the loss): a dirty upper register
// state makes its SSE instructions stall (here: exp ran 20x slower).
inline void leave_vector_state() { _mm256_zeroupper(); }
constexpr int kTileRows = 4, kTileVecs = 6;  // register tile of the products: 24 accumulators

#elif defined(__AVX2__)
constexpr int W = 4;
using V = __m256d;
inline V zero() { return _mm256_setzero_pd(); }
inline V set1(double x) { return _mm256_set1_pd(x); }
inline V load(const double* p) { return _mm256_loadu_pd(p); }
inline void store(double* p, V v) { _mm256_storeu_pd(p, v); }
inline __m256i lanes(int n) {
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}
inline V load_n(const double* p, int n) { return _mm256_maskload_pd(p, lanes(n)); }
inline void store_n(double* p, V v, int n) { _mm256_maskstore_pd(p, lanes(n), v); }
inline V first_lane(double x) { return _mm256_zextpd128_pd256(_mm_set_sd(x)); }
inline V add(V a, V b) { return _mm256_add_pd(a, b); }
inline V mul(V a, V b) { return _mm256_mul_pd(a, b); }
inline V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
inline V slope(V z, V alpha) {
  return _mm256_blendv_pd(alpha, set1(1.0), _mm256_cmp_pd(z, zero(), _CMP_GT_OQ));
}
inline unsigned less_bits(V a, V b) { return unsigned(_mm256_movemask_pd(_mm256_cmp_pd(a, b, _CMP_LT_OQ))); }
inline unsigned less_equal_bits(V a, V b) {
  return unsigned(_mm256_movemask_pd(_mm256_cmp_pd(a, b, _CMP_LE_OQ)));
}
inline V sub(V a, V b) { return _mm256_sub_pd(a, b); }
inline V min(V a, V b) { return _mm256_min_pd(a, b); }
inline V abs(V a) { return _mm256_andnot_pd(set1(-0.0), a); }
inline V div(V a, V b) { return _mm256_div_pd(a, b); }
inline V max(V a, V b) { return _mm256_max_pd(a, b); }
inline V round_int(V a) { return _mm256_round_pd(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline V scale2(V p, V k) {
  // 2^k in two halves, each a normal number for k in [-2044, 2046], built in the exponent bits.
  const V h = round_int(mul(k, set1(0.5))), rest = sub(k, h);
  auto pow2 = [](V e) {
    const __m256i bits = _mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(e)),
                                                            _mm256_set1_epi64x(1023)), 52);
    return _mm256_castsi256_pd(bits);
  };
  return mul(mul(p, pow2(h)), pow2(rest));
}
inline V select_bits(unsigned bits, V one, V other) {
  const __m256i bit = _mm256_setr_epi64x(1, 2, 4, 8);
  const __m256i on = _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x(bits), bit), bit);
  return _mm256_blendv_pd(other, one, _mm256_castsi256_pd(on));
}
inline void leave_vector_state() { _mm256_zeroupper(); }
inline double sum(V v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
constexpr int kTileRows = 4, kTileVecs = 3;  // 12 accumulators of 16 registers

#else
// Portable: two doubles a "vector" (the compiler maps it to SSE2 on x86-64). No FMA, so
// results may differ from the other ISAs in the last bits.
constexpr int W = 2;
struct V {
  double x[2];
};
inline V zero() { return V{{0.0, 0.0}}; }
inline V set1(double x) { return V{{x, x}}; }
inline V load(const double* p) { return V{{p[0], p[1]}}; }
inline void store(double* p, V v) { p[0] = v.x[0]; p[1] = v.x[1]; }
inline V load_n(const double* p, int n) { return V{{p[0], n > 1 ? p[1] : 0.0}}; }
inline void store_n(double* p, V v, int n) {
  p[0] = v.x[0];
  if (n > 1) p[1] = v.x[1];
}
inline V first_lane(double x) { return V{{x, 0.0}}; }
inline V add(V a, V b) { return V{{a.x[0] + b.x[0], a.x[1] + b.x[1]}}; }
inline V mul(V a, V b) { return V{{a.x[0] * b.x[0], a.x[1] * b.x[1]}}; }
inline V fma(V a, V b, V c) { return V{{a.x[0] * b.x[0] + c.x[0], a.x[1] * b.x[1] + c.x[1]}}; }
inline V slope(V z, V alpha) {
  return V{{z.x[0] > 0 ? 1.0 : alpha.x[0], z.x[1] > 0 ? 1.0 : alpha.x[1]}};
}
inline V select_bits(unsigned bits, V one, V other) {
  return V{{bits & 1u ? one.x[0] : other.x[0], bits & 2u ? one.x[1] : other.x[1]}};
}
inline unsigned less_bits(V a, V b) { return (a.x[0] < b.x[0] ? 1u : 0u) | (a.x[1] < b.x[1] ? 2u : 0u); }
inline unsigned less_equal_bits(V a, V b) {
  return (a.x[0] <= b.x[0] ? 1u : 0u) | (a.x[1] <= b.x[1] ? 2u : 0u);
}
inline V sub(V a, V b) { return V{{a.x[0] - b.x[0], a.x[1] - b.x[1]}}; }
inline V min(V a, V b) { return V{{b.x[0] < a.x[0] ? b.x[0] : a.x[0], b.x[1] < a.x[1] ? b.x[1] : a.x[1]}}; }
inline V abs(V a) { return V{{a.x[0] < 0 ? -a.x[0] : a.x[0], a.x[1] < 0 ? -a.x[1] : a.x[1]}}; }
inline V div(V a, V b) { return V{{a.x[0] / b.x[0], a.x[1] / b.x[1]}}; }
inline V max(V a, V b) { return V{{b.x[0] > a.x[0] ? b.x[0] : a.x[0], b.x[1] > a.x[1] ? b.x[1] : a.x[1]}}; }
inline V round_int(V a) { return V{{std::nearbyint(a.x[0]), std::nearbyint(a.x[1])}}; }
inline V scale2(V p, V k) { return V{{std::ldexp(p.x[0], int(k.x[0])), std::ldexp(p.x[1], int(k.x[1]))}}; }
inline double sum(V v) { return v.x[0] + v.x[1]; }
inline void leave_vector_state() {}
constexpr int kTileRows = 4, kTileVecs = 3;
#endif

// Sign tests as lane bits (bit c for lane c).
inline unsigned positive_bits(V z) { return less_bits(zero(), z); }
inline unsigned negative_bits(V z) { return less_bits(z, zero()); }
inline unsigned nonnegative_bits(V z) { return less_equal_bits(zero(), z); }
inline V abs_diff(V a, V b) { return abs(sub(a, b)); }

// exp(x) to about 1 ulp: x = k ln2 + r with |r| <= ln2 / 2 (Cody-Waite split of ln2), a
// degree-13 Taylor polynomial for e^r (truncation < 1e-17), then the scaling by 2^k.
inline V exp(V x) {
  x = min(max(x, set1(-746.0)), set1(710.0));  // beyond: 0 and inf after the scaling
  const V k = round_int(mul(x, set1(1.4426950408889634)));
  V r = fma(k, set1(-6.93147180369123816490e-01), x);
  r = fma(k, set1(-1.90821492927058770002e-10), r);
  V q = set1(1.0 / 6227020800.0);  // 1/13!
  const double inv_fact[13] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                               1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
                               1.0 / 6.0, 0.5, 1.0, 1.0};
  for (double c : inv_fact) q = fma(q, r, set1(c));
  return scale2(q, k);
}

static_assert(kRowPad % W == 0, "padding must hold whole vectors");

// The W bits of vector v in a row of bits (bit c % 8 of byte c / 8 for column c).
inline unsigned bits_of(const uint8_t* row, int64_t v) {
  const int64_t c = v * W;
  return (unsigned(row[c / 8]) >> (c % 8)) & ((1u << W) - 1u);
}

// Sets the W bits of vector v in a row of bits.
inline void put_bits(uint8_t* row, int64_t v, unsigned bits) {
  const int64_t c = v * W;
  if (W == 8) {
    row[c / 8] = uint8_t(bits);
  } else {
    const unsigned shift = unsigned(c % 8), m = ((1u << W) - 1u) << shift;
    row[c / 8] = uint8_t((row[c / 8] & ~m) | (bits << shift));
  }
}

#if !defined(__AVX512F__)  // the AVX-512 forms keep their masks in mask registers
inline V scale_unset(unsigned bits, V z, V alpha) { return select_bits(bits, z, mul(alpha, z)); }
inline V select_positive(V a, V one, V other) { return select_bits(positive_bits(a), one, other); }
inline V activate_by_sign(V z, V alpha, uint8_t* row, int64_t v) {
  const unsigned on = positive_bits(z);
  put_bits(row, v, on);
  return scale_unset(on, z, alpha);
}
#endif

// Lanes of the vector starting at column c of a row of n columns.
inline int lanes_at(int64_t c, int64_t n) { return n - c >= W ? W : int(n - c); }

// Stores the vector that starts at column c (< n) of an unpadded row of n columns: its
// lanes past the row's end are left out.
inline void store_in_row(double* row, int64_t c, int64_t n, V v) {
  const int cnt = lanes_at(c, n);
  if (cnt == W) store(row + c, v);
  else store_n(row + c, v, cnt);
}

}  // namespace regionlab::flow::REGIONLAB_ISA_NS::simd
