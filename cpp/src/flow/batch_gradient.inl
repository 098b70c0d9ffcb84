// Included once per instruction set by batch_gradient_<isa>.cpp, which defines
// REGIONLAB_ISA_NS first. One block of rows goes forward through every layer, through the
// loss and back while it is in cache; the products are simd::gemm's register tiles, and
// the activation slopes travel as bits (one per pair) rather than doubles.
#include <algorithm>
#include <cstring>

#include "regionlab/flow/batch_gradient.hpp"
#include "simd.hpp"
#include "small_gemm.hpp"

namespace regionlab::flow {
namespace REGIONLAB_ISA_NS {
namespace {

using namespace simd;

inline int64_t vectors(int64_t n) { return (n + W - 1) / W; }

// a . w over n entries; a may be unpadded (its last vector is read lane-exact).
inline double dot_row(const double* a, const double* w, int64_t n) {
  V acc0 = zero(), acc1 = zero();
  int64_t c = 0;
  for (; c + 2 * W <= n; c += 2 * W) {
    acc0 = fma(load(a + c), load(w + c), acc0);
    acc1 = fma(load(a + c + W), load(w + c + W), acc1);
  }
  for (; c < n; c += W) acc0 = fma(load_n(a + c, lanes_at(c, n)), load(w + c), acc0);
  return sum(add(acc0, acc1));
}

// y += s * x over n entries (y padded; x may be unpadded).
inline void axpy_row(double s, const double* x, int64_t n, double* y) {
  const V sv = set1(s);
  for (int64_t c = 0; c < n; c += W) store(y + c, fma(sv, load_n(x + c, lanes_at(c, n)), load(y + c)));
}

// Where one layer's slope bits are for a block: the mask's rows, or the bits the forward
// pass took from the sign of z (sc.bits). Bit set: slope 1; clear: the neuron's alpha.
struct SlopeBits {
  uint8_t* p;
  int64_t row_bytes;
  const double* alpha;  // padded; pad lanes 0 (and their bits 0), so their slope is 0
  V at(int64_t r, int64_t v) const {
    return select_bits(bits_of(p + r * row_bytes, v), set1(1.0), load(alpha + v * W));
  }
  // Sign slopes: set the bits of vector v of row r from z > 0.
  void put(int64_t r, int64_t v, V z) const { put_bits(p + r * row_bytes, v, positive_bits(z)); }
};

SlopeBits bits_of_layer(const FlowProblem& p, const BatchWorkspace& ws, BlockScratch& sc,
                        const SlopeMask* mask, int64_t l, int64_t r0) {
  const int64_t rb = padded(p.width[l + 1]) / 8;
  uint8_t* rows = mask ? const_cast<uint8_t*>(mask->bits[l].data()) + r0 * rb : sc.bits[l].data();
  return SlopeBits{rows, rb, ws.alpha[l].data()};
}

// Forward epilogue: z = acc (+ bias from init); a = slope * z into sc.A, and the sign
// slopes' bits when there is no mask.
struct Activate {
  const double* bias;
  SlopeBits bits;
  bool from_sign;
  double* z_out;  // unpadded rows of ws.Z, or null
  double* A;
  int64_t cols, ld;
  V init(int64_t, int64_t v) const { return load(bias + v * W); }
  void finish(int64_t r, int64_t v, V z) const {
    const int64_t c = v * W;
    if (z_out) store_in_row(z_out + r * cols, c, cols, z);
    if (from_sign) bits.put(r, v, z);
    store(A + r * ld + c, mul(bits.at(r, v), z));
  }
};

// The mask's pairs held on their kink, in this block and layer: their bit gave slope 1,
// so buf holds the value for slope 1 there; scale it by the pair's slope s.
void apply_fixed_slopes(const SlopeMask* mask, int64_t l, int64_t r0, int64_t rows,
                        double* buf, int64_t ld) {
  if (!mask || mask->fixed.empty()) return;
  const auto& fx = mask->fixed;
  auto it = std::lower_bound(fx.begin(), fx.end(), r0,
                             [](const SlopeMask::Fixed& f, int64_t r) { return f.sample < r; });
  for (; it != fx.end() && it->sample < r0 + rows; ++it)
    if (it->layer == l) buf[(it->sample - r0) * ld + it->neuron] *= it->s;
}

// Backward epilogue: dL/da of layer l (acc) times its slopes is dL/dz, stored into D.
struct Delta {
  SlopeBits bits;
  double* D;
  int64_t ld;
  V init(int64_t, int64_t) const { return zero(); }
  void finish(int64_t r, int64_t v, V acc) const { store(D + r * ld + v * W, mul(acc, bits.at(r, v))); }
};

// The gradient of layer l's bias: gb += column sums of the block's dL/dz (1^T D, in
// registers across the rows).
void add_bias_gradient(const FlowProblem& p, BlockScratch& sc, int64_t l, int64_t rows,
                       const double* D) {
  if (!p.has_bias[l]) return;
  static const double one = 1.0;
  const int64_t w = p.width[l + 1];
  gemm(1, w, GemmArgs{rows, &one, 0, 0, D, padded(w)}, StoreTo<true>{sc.gb[l].data(), 0});
}

// z = A w + b for a layer with one output, four rows at a time (w's loads shared).
template <class Epi>
void rows_dot(int64_t rows, const double* A, int64_t lda, const double* w, int64_t n, double b,
              const Epi& epi) {
  int64_t i = 0;
  for (; i + 4 <= rows && lda % W == 0; i += 4) {
    V acc[4] = {zero(), zero(), zero(), zero()};
    for (int64_t c = 0; c < n; c += W) {
      const V wv = load(w + c);  // padded: zero past n, and A's pad lanes are 0 too
      for (int r = 0; r < 4; ++r) acc[r] = fma(load(A + (i + r) * lda + c), wv, acc[r]);
    }
    for (int r = 0; r < 4; ++r) epi.finish(i + r, 0, first_lane(sum(acc[r]) + b));
  }
  for (; i < rows; ++i) epi.finish(i, 0, first_lane(dot_row(A + i * lda, w, n) + b));
}

// Layer l forward for a block: sc.A[l] = slopes * z (and z to ws.Z when kept).
void forward_layer(const FlowProblem& p, BatchWorkspace& ws, BlockScratch& sc,
                   const SlopeMask* mask, int64_t l, int64_t r0, int64_t rows) {
  const int64_t nin = p.width[l], nout = p.width[l + 1], ldo = padded(nout);
  const double* in = l == 0 ? p.X.data() + r0 * nin : sc.A[l - 1].data();
  const int64_t ld_in = l == 0 ? nin : padded(nin);
  const Activate act{sc.bias[l].data(), bits_of_layer(p, ws, sc, mask, l, r0), mask == nullptr,
                     ws.keep_z ? ws.Z[l].data() + r0 * nout : nullptr, sc.A[l].data(), nout, ldo};
  if (nout == 1)
    rows_dot(rows, in, ld_in, sc.Wp[l].data(), nin, sc.bias[l][0], act);
  else
    gemm(rows, nout, GemmArgs{nin, in, ld_in, 1, sc.Wt[l].data(), ldo}, act);
  apply_fixed_slopes(mask, l, r0, rows, sc.A[l].data(), ldo);
}

// dloss_i/dF_i for rows of one output (mse, logistic, exp) with the vectorised exp;
// false for the other losses (then loss_terms does it).
bool scalar_loss_gradient(Loss loss, const double* F, const double* Y, int64_t n, double* dF) {
  if (loss == Loss::cross_entropy) return false;
  const V one = set1(1.0), minus_one = set1(-1.0);
  for (int64_t i = 0; i < n; i += W) {
    const int cnt = lanes_at(i, n);
    const V f = load_n(F + i, cnt), y = load_n(Y + i, cnt);
    V g;
    if (loss == Loss::mse) g = sub(f, y);
    else if (loss == Loss::logistic) g = div(mul(minus_one, y), add(one, exp(mul(y, f))));  // -y sigmoid(-yf)
    else g = mul(mul(minus_one, y), exp(mul(minus_one, mul(y, f))));                         // -y e^{-yf}
    store_n(dF + i, g, cnt);
  }
  return true;
}

// The rows' losses and margins (when ws.need_loss) and dloss/dF (when dF is non-null).
void block_loss(const FlowProblem& p, BatchWorkspace& ws, const double* F, int64_t row,
                int64_t rows, double* dF) {
  const int64_t k = p.out_dim(), y_cols = int64_t(p.Y.size()) / p.n;
  const double* Y = p.Y.data() + row * y_cols;
  const bool fast = dF && k == 1 && scalar_loss_gradient(p.loss, F, Y, rows, dF);
  if (!ws.need_loss && (fast || !dF)) return;
  leave_vector_state();  // libm follows
  loss_terms(p.loss, F, Y, rows, k, ws.need_loss ? ws.sample_loss.data() + row : nullptr,
             ws.need_loss ? ws.margin.data() + row : nullptr, fast ? nullptr : dF);
}

// True when some pair of layer l is held on its kink.
bool has_fixed(const SlopeMask* mask, int64_t l) {
  if (!mask) return false;
  for (const SlopeMask::Fixed& f : mask->fixed)
    if (f.layer == l) return true;
  return false;
}

// A last layer with one output (the usual binary / scalar head), fused: four rows at a
// time, its output, the loss, its gradient and dL/dz of the layer below (with that
// layer's bias gradient), while the rows' activations are in L1. Returns the block's
// loss sum (when ws.need_loss); d_below receives dL/dz of layer L-2.
double scalar_head(const FlowProblem& p, BatchWorkspace& ws, BlockScratch& sc,
                   const SlopeMask* mask, bool gradient, int64_t r0, int64_t rows,
                   double* d_below) {
  const int64_t L = p.n_layers(), l = L - 1, nin = p.width[l];
  const int64_t ld = padded(nin), nv = vectors(nin);
  const double* a_in = sc.A[l - 1].data();
  const double* w = sc.Wp[l].data();
  const double b = sc.bias[l][0];
  const SlopeBits top = bits_of_layer(p, ws, sc, mask, l, r0);
  const SlopeBits below = bits_of_layer(p, ws, sc, mask, l - 1, r0);
  const Activate act{sc.bias[l].data(), top, mask == nullptr,
                     ws.keep_z ? ws.Z[l].data() + r0 : nullptr, sc.A[l].data(), 1, padded(1)};
  double* gw = sc.gW[l].data();
  double* gb_below = p.has_bias[l - 1] ? sc.gb[l - 1].data() : nullptr;
  const double inv_n = 1.0 / double(p.n);
  double total = 0, gb_top = 0;
  constexpr int G = 8;
  for (int64_t i0 = 0; i0 < rows; i0 += G) {
    const int g = int(std::min<int64_t>(G, rows - i0));
    double f[G], dF[G], d[G];
    for (int r = 0; r < g; ++r) {
      const double* ar = a_in + (i0 + r) * ld;
      V acc = zero();
      for (int64_t v = 0; v < nv; ++v) acc = fma(load(ar + v * W), load(w + v * W), acc);
      act.finish(i0 + r, 0, first_lane(sum(acc) + b));
      f[r] = sc.A[l][(i0 + r) * padded(1)];
    }
    const int64_t row = r0 + i0;
    block_loss(p, ws, f, row, g, gradient ? dF : nullptr);
    if (ws.need_loss)
      for (int r = 0; r < g; ++r) total += ws.sample_loss[row + r];
    if (!gradient) continue;
    for (int r = 0; r < g; ++r) {
      ws.dF[row + r] = dF[r];
      d[r] = dF[r] * inv_n * (bits_of(top.p + (i0 + r) * top.row_bytes, 0) & 1u ? 1.0 : ws.alpha[l][0]);
      gb_top += d[r];
    }
    for (int64_t v = 0; v < nv; ++v) {
      const V wv = load(w + v * W);
      V gacc = load(gw + v * W), bacc = gb_below ? load(gb_below + v * W) : zero();
      for (int r = 0; r < g; ++r) {
        const int64_t ix = (i0 + r) * ld + v * W;
        gacc = fma(set1(d[r]), load(a_in + ix), gacc);
        const V dn = mul(mul(set1(d[r]), wv), below.at(i0 + r, v));
        store(d_below + ix, dn);
        bacc = add(bacc, dn);
      }
      store(gw + v * W, gacc);
      if (gb_below) store(gb_below + v * W, bacc);
    }
  }
  if (gradient && p.has_bias[l]) sc.gb[l][0] += gb_top;
  if (gradient && mask && !mask->fixed.empty()) {
    // Pairs of layer L-2 held on their kink: their bit gave slope 1; scale, and correct
    // the bias sum taken above.
    const auto& fx = mask->fixed;
    for (auto it = std::lower_bound(fx.begin(), fx.end(), r0,
                                    [](const SlopeMask::Fixed& f, int64_t r) { return f.sample < r; });
         it != fx.end() && it->sample < r0 + rows; ++it) {
      if (it->layer != l - 1) continue;
      double& dz = d_below[(it->sample - r0) * ld + it->neuron];
      if (gb_below) gb_below[it->neuron] += (it->s - 1.0) * dz;
      dz *= it->s;
    }
  }
  return total;
}

#include "one_hidden_rows.inl"

void run_rows(const FlowProblem& p, BatchWorkspace& ws, BlockScratch& sc,
              const SlopeMask* mask, bool gradient, int64_t r_begin, int64_t r_end) {
  if (one_hidden_applies(p, mask)) return one_hidden_rows(p, ws, sc, mask, gradient, r_begin, r_end);
  const int64_t n = p.n, L = p.n_layers(), k = p.out_dim();
  if (gradient) {
    for (auto& g : sc.gW) std::fill(g.begin(), g.end(), 0.0);
    for (auto& g : sc.gb) std::fill(g.begin(), g.end(), 0.0);
  }
  double total = 0;
  const double inv_n = 1.0 / double(n);
  const bool fused_head = L >= 2 && k == 1 && !has_fixed(mask, L - 1);
  for (int64_t r0 = r_begin; r0 < r_end; r0 += ws.block) {
    const int64_t rows = std::min(ws.block, r_end - r0);
    double* d = sc.D0.data();
    double* d_next = sc.D1.data();
    int64_t l = L - 1;  // the layer whose dL/dz is in d
    if (fused_head) {
      for (int64_t q = 0; q + 1 < L; ++q) forward_layer(p, ws, sc, mask, q, r0, rows);
      total += scalar_head(p, ws, sc, mask, gradient, r0, rows, d);
      if (!gradient) continue;
      l = L - 2;
    } else {
      for (int64_t q = 0; q < L; ++q) forward_layer(p, ws, sc, mask, q, r0, rows);
      const int64_t ldk = padded(k);
      const double* out_act = sc.A[L - 1].data();
      for (int64_t i = 0; i < rows; ++i)
        std::memcpy(sc.F.data() + i * k, out_act + i * ldk, sizeof(double) * size_t(k));
      block_loss(p, ws, sc.F.data(), r0, rows, gradient ? ws.dF.data() + r0 * k : nullptr);
      if (ws.need_loss)
        for (int64_t i = 0; i < rows; ++i) total += ws.sample_loss[r0 + i];
      if (!gradient) continue;
      // dL/dz of the last layer
      const double* dF = ws.dF.data() + r0 * k;
      const V scale = set1(inv_n);
      const Delta top{bits_of_layer(p, ws, sc, mask, L - 1, r0), d, ldk};
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t c = 0; c < k; c += W)
          top.finish(i, c / W, mul(scale, load_n(dF + i * k + c, lanes_at(c, k))));
      apply_fixed_slopes(mask, L - 1, r0, rows, d, ldk);
      add_bias_gradient(p, sc, L - 1, rows, d);
    }
    // ---- backward from layer l: weight gradient, then dL/dz of the layer below
    for (; l >= 0; --l) {
      const int64_t nin = p.width[l], nout = p.width[l + 1];
      const int64_t ldi = padded(nin), ldo = padded(nout);
      const double* a_in = l == 0 ? p.X.data() + r0 * nin : sc.A[l - 1].data();
      const int64_t ld_in = l == 0 ? nin : ldi;
      if (nout == 1 && l == 0) {
        double* gw = sc.gW[l].data();  // X's rows are not padded: no whole-vector reads
        for (int64_t i = 0; i < rows; ++i) axpy_row(d[i * ldo], a_in + i * ld_in, nin, gw);
      } else if (nout == 1) {
        // gw (1 x nin) += d^T a_in, accumulated in registers across the rows.
        gemm(1, nin, GemmArgs{rows, d, 0, ldo, a_in, ld_in}, StoreTo<true>{sc.gW[l].data(), 0});
      } else {
        // gW^T (nin x nout) += a_in^T d: A's element (c, i) is a_in[i * ld_in + c].
        gemm(nin, nout, GemmArgs{rows, a_in, 1, ld_in, d, ldo},
             StoreTo<true>{sc.gW[l].data(), ldo});
      }
      if (l == 0) break;
      const Delta below{bits_of_layer(p, ws, sc, mask, l - 1, r0), d_next, ldi};
      if (nout == 1) {
        const double* w = sc.Wp[l].data();
        const int64_t nvi = vectors(nin);
        for (int64_t i = 0; i < rows; ++i) {
          const V di = set1(d[i * ldo]);
          for (int64_t v = 0; v < nvi; ++v) below.finish(i, v, mul(di, load(w + v * W)));
        }
      } else {
        gemm(rows, nin, GemmArgs{nout, d, ldo, 1, sc.Wp[l].data(), ldi}, below);
      }
      apply_fixed_slopes(mask, l - 1, r0, rows, d_next, ldi);
      add_bias_gradient(p, sc, l - 1, rows, d_next);
      std::swap(d, d_next);
    }
  }
  sc.loss = total;
}

}  // namespace

BatchRowsFn batch_rows_fn() { return &run_rows; }

}  // namespace REGIONLAB_ISA_NS
}  // namespace regionlab::flow
