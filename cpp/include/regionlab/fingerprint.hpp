// 95-bit fingerprints of activation patterns.
//
// A pattern of at most 95 bits is mapped to its fingerprint by a bijection (exact: two
// patterns share a fingerprint only if they are equal). A longer one is hashed to 95 bits: two distinct patterns collide with probability ~2^-95, so among n distinct
// patterns a miscount has probability below n^2 / 2^96 (1e-15 at n = 10^7). Bit 95 is
// always set, so the all-zero value can mark an empty hash-table slot.
#pragma once
#include <cstdint>
#include <cstring>

// The CUDA kernels (cpp/cuda) compute the very same fingerprints on the device.
#if defined(__CUDACC__)
#define REGIONLAB_HD __host__ __device__
#else
#define REGIONLAB_HD
#endif

namespace regionlab {

struct Fingerprint {
  uint32_t w[3];
  REGIONLAB_HD bool operator==(const Fingerprint& o) const {
    return w[0] == o.w[0] && w[1] == o.w[1] && w[2] == o.w[2];
  }
  REGIONLAB_HD bool empty() const { return (w[0] | w[1] | w[2]) == 0; }
  REGIONLAB_HD uint64_t low64() const { return uint64_t(w[0]) | (uint64_t(w[1]) << 32); }
};

constexpr int64_t kExactFingerprintBits = 95;

REGIONLAB_HD inline uint64_t mix64(uint64_t x) {  // splitmix64's finaliser: a bijection with full avalanche
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Fingerprint of bits [0, n_bits) of a packed pattern.
REGIONLAB_HD inline Fingerprint fingerprint(const uint64_t* words, int64_t n_bits) {
  const int64_t full = n_bits >> 6, rem = n_bits & 63;
  const uint64_t tail = rem ? words[full] & ((uint64_t(1) << rem) - 1) : 0;
  uint64_t lo, hi;
  if (n_bits <= kExactFingerprintBits) {
    lo = full >= 1 ? words[0] : tail;
    hi = full >= 2 ? words[1] : (full == 1 ? tail : 0);  // at most 31 bits
    // Scramble invertibly, so that the low 64 bits can index hash tables directly:
    // mix64 is a bijection, and each step only adds a function of the other half.
    lo = mix64(lo ^ (hi * 0x9e3779b97f4a7c15ULL));
    hi ^= (lo >> 33) & 0x7fffffffULL;
  } else {
    // Two chained lanes with different seeds; each step is a bijection of the state.
    uint64_t a = 0x9e3779b97f4a7c15ULL ^ uint64_t(n_bits), b = 0xc2b2ae3d27d4eb4fULL + uint64_t(n_bits);
    for (int64_t i = 0; i < full; ++i) {
      a = mix64(a ^ words[i]);
      b = mix64((b + 0x165667b19e3779f9ULL) ^ (words[i] * 0xff51afd7ed558ccdULL));
    }
    if (rem) {
      a = mix64(a ^ tail);
      b = mix64((b + 0x165667b19e3779f9ULL) ^ (tail * 0xff51afd7ed558ccdULL));
    }
    lo = a;
    hi = b;
  }
  Fingerprint f;
  f.w[0] = uint32_t(lo);
  f.w[1] = uint32_t(lo >> 32);
  f.w[2] = uint32_t(hi) | 0x80000000u;
  return f;
}

// Where a fingerprint starts probing in a table of 2^k slots (its low bits). Fingerprints
// are uniformly scrambled already, so no further mixing is needed.
REGIONLAB_HD inline uint64_t slot_hash(const Fingerprint& f) { return f.low64(); }

}  // namespace regionlab
