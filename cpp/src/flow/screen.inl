// Included once per instruction set after batch_gradient.inl (same REGIONLAB_ISA_NS).
#include "screen.hpp"
#include "simd.hpp"

namespace regionlab::flow {
namespace REGIONLAB_ISA_NS {
namespace {

using namespace simd;

void screen_rows(const ScreenArgs& a, ScreenHits& hits) {
  const V one = set1(1.0), minus_one = set1(-1.0), ahead = set1(a.lookahead);
  for (int64_t i = a.row_begin; i < a.row_end; ++i) {
    const double* z0 = a.z0 + i * a.w;
    const double* z1 = a.z1 + i * a.w;
    const uint8_t* bits = a.bits + i * a.row_bytes;
    const V xn = set1(a.curv ? a.xnorm[i] : 0.0);
    for (int64_t c = 0; c < a.w; c += W) {
      const int cnt = lanes_at(c, a.w);
      const V s = select_bits(bits_of(bits, c / W), one, minus_one);
      const V lo = cnt == W ? load(z0 + c) : load_n(z0 + c, cnt);
      const V hi = cnt == W ? load(z1 + c) : load_n(z1 + c, cnt);
      const V sa = mul(s, lo), sb = mul(s, hi);
      const V reach = a.curv ? mul(load(a.curv + c), xn) : abs_diff(hi, lo);
      const V kinked = load(a.kinked + c);  // pad lanes 0
      // Lane flags: crossed (sb < 0), near (sa, sb >= 0 and min(sa, sb) <= reach).
      const unsigned live = positive_bits(kinked);
      const unsigned cross = negative_bits(sb) & live;
      const unsigned close = nonnegative_bits(sa) & nonnegative_bits(sb) &
                             less_equal_bits(min(sa, sb), reach) & live;
      for (unsigned m = cross; m; m &= m - 1) hits.crossed.push_back(i * a.w + c + __builtin_ctz(m));
      for (unsigned m = close; m; m &= m - 1) hits.near.push_back(i * a.w + c + __builtin_ctz(m));
      if (a.lookahead > 0) {
        // Approaching: sb <= (sa - sb) * lookahead, on the same side at both ends.
        const unsigned coming = nonnegative_bits(sa) & nonnegative_bits(sb) &
                                less_equal_bits(sb, mul(sub(sa, sb), ahead)) & live;
        for (unsigned m = coming; m; m &= m - 1) hits.approach.push_back(i * a.w + c + __builtin_ctz(m));
      }
    }
  }
}

}  // namespace

ScreenFn screen_fn() { return &screen_rows; }

}  // namespace REGIONLAB_ISA_NS
}  // namespace regionlab::flow
