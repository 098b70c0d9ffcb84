// Included by batch_gradient.inl inside its per-ISA anonymous namespace. The pass for the
// commonest net of the flow and GD: one hidden layer and one output (d-h-1), no pair held
// on its kink. The general pass makes three sweeps over a block's hidden activations
// (the product's epilogue, the output's dot products, dL/dz); here:
// - small input dimensions (d <= kFoldedInputs): one vector of hidden units at a time,
//   W^T's d rows (forward) or gW^T's (backward) stay in registers while the block's rows
//   stream past; the forward ends each row in its activation and its share of the output,
//   the backward makes each row's dL/dz as it uses it, with the output layer's and the
//   hidden bias's gradients alongside (one_hidden_forward_folded, one_hidden_backward);
// - larger ones: register tiles of rows x hidden vectors whose epilogue is the activation
//   and the output's dot product, a sweep per 8 rows writing dL/dz and those two
//   gradients, and simd::gemm for X^T dL/dz over the block.

// True when run_rows may hand the rows to one_hidden_rows.
bool one_hidden_applies(const FlowProblem& p, const SlopeMask* mask) {
  return p.n_layers() == 2 && p.out_dim() == 1 && p.width[1] > 1 &&
         (!mask || mask->fixed.empty());
}

// Where the hidden slopes come from: the mask's bits; the sign of z, with the bits written
// for the backward sweep; or the sign of z when every negative slope lies in [0, 1], where
// the activation is max(z, alpha z) and a > 0 exactly when z > 0, so the backward sweep
// reads the slopes off the activations and no bits are written.
enum class Slopes { mask, sign_bits, sign_of_a };

struct OneHiddenTile {
  const double* X;    // the block's first row of X (d columns, unpadded)
  int64_t d;
  const double* Wt;   // d x ldh: W^T, padded rows
  const double* bias; // ldh
  const double* alpha;// ldh: the hidden neurons' negative slopes
  const double* w2;   // ldh: the output's weights
  double* A;          // block x ldh: activations out
  uint8_t* bits;      // block x ldh / 8: slope bits (in from the mask, or out from the sign)
  Slopes slopes;
  double* z_out;      // block x h of ws.Z[0] (unpadded), or null
  int64_t h, ldh;
};

// The activation of vector v of a row's z; with Slopes::sign_bits, sets the row's bits.
template <Slopes S>
V activate(V z, V alpha, uint8_t* bit_row, int64_t v) {
  if (S == Slopes::sign_of_a) return max(z, mul(alpha, z));
  if (S == Slopes::sign_bits) return activate_by_sign(z, alpha, bit_row, v);
  return scale_unset(bits_of(bit_row, v), z, alpha);
}

// w2 times the hidden slope of vector v of a row (w2a = alpha w2), from the activation's
// sign or from the row's bits: dL/dz of the hidden layer is the output's dL/dz times this.
template <bool SignOfA>
V slope_times_w2(V a, const uint8_t* bit_row, int64_t v, V w2v, V w2a) {
  return SignOfA ? select_positive(a, w2v, w2a) : select_bits(bits_of(bit_row, v), w2v, w2a);
}

// Calls run(keep_z, slopes) with both as compile-time constants (std::integral_constant)
// for the tile's settings.
template <class Run>
void with_settings(const OneHiddenTile& t, const Run& run) {
  auto with = [&](auto keep_z) {
    switch (t.slopes) {
      case Slopes::mask: return run(keep_z, std::integral_constant<Slopes, Slopes::mask>());
      case Slopes::sign_bits: return run(keep_z, std::integral_constant<Slopes, Slopes::sign_bits>());
      case Slopes::sign_of_a: return run(keep_z, std::integral_constant<Slopes, Slopes::sign_of_a>());
    }
  };
  if (t.z_out) with(std::true_type());
  else with(std::false_type());
}

// Rows [r0, r0 + R) x vectors [v0, v0 + NV) of z = X W^T + b, then a = slope * z (stored),
// the slope bits, and the row's partial output out[r * W ..] += a . w2 over the tile.
template <int R, int NV, bool KeepZ, Slopes S>
void one_hidden_tile(const OneHiddenTile& t, int64_t r0, int64_t v0, double* out) {
  // Locals: the epilogue's stores could alias t's fields, which would be re-read each time.
  const int64_t d = t.d, ldh = t.ldh, h = t.h, c0 = v0 * W;
  const double* bias = t.bias + c0;
  const double* alpha = t.alpha + c0;
  const double* w2 = t.w2 + c0;
  // Every loop over acc fully unrolled: a rolled one makes GCC keep acc on the stack (a
  // store and a load of each accumulator around the product: a third slower).
  V acc[R][NV];
  REGIONLAB_UNROLL for (int v = 0; v < NV; ++v) {
    const V b = load(bias + v * W);
    REGIONLAB_UNROLL for (int r = 0; r < R; ++r) acc[r][v] = b;
  }
  const double* x = t.X + r0 * d;
  const double* wt = t.Wt + c0;
  for (int64_t q = 0; q < d; ++q, wt += ldh) {
    V bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = load(wt + v * W);
    for (int r = 0; r < R; ++r) {
      const V xv = set1(x[r * d + q]);
      for (int v = 0; v < NV; ++v) acc[r][v] = fma(xv, bv[v], acc[r][v]);
    }
  }
  const int64_t rb = ldh / 8;
  double* const z_out = t.z_out;
  REGIONLAB_UNROLL for (int r = 0; r < R; ++r) {
    double* a_row = t.A + (r0 + r) * ldh + c0;
    uint8_t* bit_row = t.bits + (r0 + r) * rb;
    V dot = zero();  // in registers: out is memory, a chain through it would serialise
    REGIONLAB_UNROLL for (int v = 0; v < NV; ++v) {
      const V z = acc[r][v];
      if (KeepZ) store_in_row(z_out + (r0 + r) * h, c0 + v * W, h, z);
      const V a = activate<S>(z, load(alpha + v * W), bit_row, v0 + v);
      store(a_row + v * W, a);
      dot = fma(a, load(w2 + v * W), dot);
    }
    store(out + r * W, add(load(out + r * W), dot));
  }
}

template <int R, int NV>
void one_hidden_tile_fn(const OneHiddenTile& t, int64_t r0, int64_t v0, double* out) {
  with_settings(t, [&](auto keep_z, auto slopes) {
    one_hidden_tile<R, NV, decltype(keep_z)::value, decltype(slopes)::value>(t, r0, v0, out);
  });
}
// (double*, not V*: a vector type's attributes are dropped in a template argument.)
using OneHiddenTileFn = void (*)(const OneHiddenTile&, int64_t, int64_t, double*);
constexpr int kHeadVecs = kTileVecs;
template <int R, int... NV>
constexpr std::array<OneHiddenTileFn, sizeof...(NV)> one_hidden_tiles(std::integer_sequence<int, NV...>) {
  return {&one_hidden_tile_fn<R, NV + 1>...};
}

// Rows [r0, r0 + rows) (rows <= 4) through the hidden layer; f[r] = the output's z.
void one_hidden_forward(const OneHiddenTile& t, int64_t r0, int rows, double b2, double* f) {
  static constexpr std::array<std::array<OneHiddenTileFn, kHeadVecs>, 4> table = {
      one_hidden_tiles<1>(std::make_integer_sequence<int, kHeadVecs>()),
      one_hidden_tiles<2>(std::make_integer_sequence<int, kHeadVecs>()),
      one_hidden_tiles<3>(std::make_integer_sequence<int, kHeadVecs>()),
      one_hidden_tiles<4>(std::make_integer_sequence<int, kHeadVecs>())};
  const int64_t nv = (t.h + W - 1) / W;  // the vectors holding columns < h (ldh may hold more)
  const int64_t chunks = (nv + kHeadVecs - 1) / kHeadVecs;
  double out[4 * W] = {};
  for (int64_t ch = 0, v0 = 0; ch < chunks; ++ch) {
    const int64_t width = nv / chunks + (ch < nv % chunks ? 1 : 0);
    table[size_t(rows - 1)][size_t(width - 1)](t, r0, v0, out);
    v0 += width;
  }
  for (int r = 0; r < rows; ++r) f[r] = sum(load(out + r * W)) + b2;
}

// dL/dz of the hidden layer for G rows (dv: the output's dL/dz), with the output's weight
// gradient (gw2 += dv a) and the hidden bias's (gb1 += column sums of dL/dz); gb1 may be null.
template <int G, bool SignOfA>
void one_hidden_delta(const double* A, const uint8_t* bits, int64_t h, int64_t ldh, const double* w2,
                      const double* alpha, const double* dv, double* D, double* gw2, double* gb1) {
  const int64_t nv = (h + W - 1) / W, rb = ldh / 8;
  V di[G];
  REGIONLAB_UNROLL for (int r = 0; r < G; ++r) di[r] = set1(dv[r]);
  for (int64_t v = 0; v < nv; ++v) {
    const int64_t c = v * W;
    const V w2v = load(w2 + c), w2a = mul(load(alpha + c), w2v);
    V gacc = load(gw2 + c), bacc = zero();
    REGIONLAB_UNROLL for (int r = 0; r < G; ++r) {
      const V a = load(A + r * ldh + c);
      gacc = fma(di[r], a, gacc);
      const V dz = mul(di[r], slope_times_w2<SignOfA>(a, bits + r * rb, v, w2v, w2a));
      store(D + r * ldh + c, dz);
      bacc = add(bacc, dz);
    }
    store(gw2 + c, gacc);
    if (gb1) store(gb1 + c, add(load(gb1 + c), bacc));
  }
}
using OneHiddenDeltaFn = void (*)(const double*, const uint8_t*, int64_t, int64_t, const double*,
                                  const double*, const double*, double*, double*, double*);
template <bool SignOfA, int... G>
constexpr std::array<OneHiddenDeltaFn, sizeof...(G)> one_hidden_deltas(std::integer_sequence<int, G...>) {
  return {&one_hidden_delta<G + 1, SignOfA>...};
}

// Input dimensions up to this take the folded forward and backward (D vectors of
// weights or accumulators, and 8 more, fit the registers).
constexpr int kFoldedInputs = W == 8 ? 20 : 8;

// The whole forward of a block for small input dimensions (D == d), the mirror of
// one_hidden_backward: per vector v of the hidden layer, W^T's D rows stay in registers
// while the block's rows stream past (each row's z a dot product of D terms), then the
// activation, and each row's partial output fpart[i] (W lanes) += a w2.
template <int D, Slopes S, bool KeepZ>
void one_hidden_forward_folded(const OneHiddenTile& t, int64_t rows, double* fpart) {
  const int64_t nv = (t.h + W - 1) / W, rb = t.ldh / 8, ldh = t.ldh, h = t.h;
  for (int64_t v = 0; v < nv; ++v) {
    const int64_t c = v * W;
    V wcol[D];
    REGIONLAB_UNROLL for (int k = 0; k < D; ++k) wcol[k] = load(t.Wt + k * ldh + c);
    const V b = load(t.bias + c), al = load(t.alpha + c), w2 = load(t.w2 + c);
    const double* x = t.X;
    for (int64_t i = 0; i < rows; ++i, x += D) {
      // Four chains: one would make each row wait 4 cycles per term, more than the FP
      // scheduler can hide across rows.
      V zc[4] = {b, zero(), zero(), zero()};
      REGIONLAB_UNROLL for (int k = 0; k < D; ++k) zc[k % 4] = fma(set1(x[k]), wcol[k], zc[k % 4]);
      const V z = add(add(zc[0], zc[1]), add(zc[2], zc[3]));
      if (KeepZ) store_in_row(t.z_out + i * h, c, h, z);
      const V a = activate<S>(z, al, t.bits + i * rb, v);
      store(t.A + i * ldh + c, a);
      double* fp = fpart + i * W;
      store(fp, v == 0 ? mul(a, w2) : fma(a, w2, load(fp)));
    }
  }
}
template <int D>
void one_hidden_forward_folded_fn(const OneHiddenTile& t, int64_t rows, double* fpart) {
  with_settings(t, [&](auto keep_z, auto slopes) {
    one_hidden_forward_folded<D, decltype(slopes)::value, decltype(keep_z)::value>(t, rows, fpart);
  });
}
using OneHiddenForwardFn = void (*)(const OneHiddenTile&, int64_t, double*);
template <int... D>
constexpr std::array<OneHiddenForwardFn, sizeof...(D)> one_hidden_forwards(std::integer_sequence<int, D...>) {
  return {&one_hidden_forward_folded_fn<D + 1>...};
}

// The whole backward of a block for small input dimensions (D == d): per vector v of the
// hidden layer, the D rows of gW^T stay in registers across the block's rows, and each
// row's dL/dz vector is made once, from the activation, the output's dL/dz (dv) and w2,
// as the product uses it (no dL/dz buffer, no separate sweep); the output layer's and the
// hidden bias's gradients accumulate alongside.
template <int D, bool SignOfA>
void one_hidden_backward(const double* X, int64_t rows, const double* A, const uint8_t* bits,
                         int64_t h, int64_t ldh, const double* w2, const double* alpha,
                         const double* dv, double* gWt, double* gw2, double* gb1) {
  const int64_t nv = (h + W - 1) / W, rb = ldh / 8;
  for (int64_t v = 0; v < nv; ++v) {
    const int64_t c = v * W;
    const V w2v = load(w2 + c), w2a = mul(load(alpha + c), w2v);
    V acc[D];
    REGIONLAB_UNROLL for (int k = 0; k < D; ++k) acc[k] = load(gWt + k * ldh + c);
    V g2 = load(gw2 + c), gb = zero();
    const double* x = X;
    for (int64_t i = 0; i < rows; ++i, x += D) {
      const V a = load(A + i * ldh + c), di = set1(dv[i]);
      const V dz = mul(di, slope_times_w2<SignOfA>(a, bits + i * rb, v, w2v, w2a));
      g2 = fma(di, a, g2);
      gb = add(gb, dz);
      REGIONLAB_UNROLL for (int k = 0; k < D; ++k) acc[k] = fma(set1(x[k]), dz, acc[k]);
    }
    REGIONLAB_UNROLL for (int k = 0; k < D; ++k) store(gWt + k * ldh + c, acc[k]);
    store(gw2 + c, g2);
    if (gb1) store(gb1 + c, add(load(gb1 + c), gb));
  }
}
using OneHiddenBackwardFn = void (*)(const double*, int64_t, const double*, const uint8_t*, int64_t,
                                     int64_t, const double*, const double*, const double*, double*,
                                     double*, double*);
template <bool SignOfA, int... D>
constexpr std::array<OneHiddenBackwardFn, sizeof...(D)> one_hidden_backwards(std::integer_sequence<int, D...>) {
  return {&one_hidden_backward<D + 1, SignOfA>...};
}

// The output neuron for rows [i0, i0 + g) of the block at r0, given their z in f: its
// slope (1 unless it has a kink of its own), z kept, the loss; with the gradient, f then
// holds dL/dz of the output (summed into gb2). Returns the rows' loss sum (need_loss).
double output_rows(const FlowProblem& p, BatchWorkspace& ws, uint8_t* top_bits, bool from_sign,
                   bool gradient, int64_t r0, int64_t i0, int64_t g, double* f, double& gb2) {
  const double alpha2 = ws.alpha[1][0], inv_n = 1.0 / double(p.n);
  const int64_t row = r0 + i0;
  for (int64_t r = 0; r < g; ++r) {
    if (ws.keep_z) ws.Z[1][row + r] = f[r];
    if (from_sign) top_bits[i0 + r] = uint8_t(f[r] > 0);
    if (!(top_bits[i0 + r] & 1u)) f[r] *= alpha2;
  }
  block_loss(p, ws, f, row, g, gradient ? ws.dF.data() + row : nullptr);
  double total = 0;
  if (ws.need_loss)
    for (int64_t r = 0; r < g; ++r) total += ws.sample_loss[row + r];
  if (gradient)
    for (int64_t r = 0; r < g; ++r) {
      f[r] = (top_bits[i0 + r] & 1u ? 1.0 : alpha2) * (ws.dF[row + r] * inv_n);
      gb2 += f[r];
    }
  return total;
}

void one_hidden_rows(const FlowProblem& p, BatchWorkspace& ws, BlockScratch& sc,
                     const SlopeMask* mask, bool gradient, int64_t r_begin, int64_t r_end) {
  const int64_t d = p.width[0], h = p.width[1], ldh = padded(h);
  const bool from_sign = mask == nullptr;
  const double* alpha = ws.alpha[0].data();
  const bool unit_slopes = std::all_of(alpha, alpha + h, [](double s) { return s >= 0 && s <= 1; });
  const Slopes slopes = !from_sign ? Slopes::mask : unit_slopes ? Slopes::sign_of_a : Slopes::sign_bits;
  const double b2 = sc.bias[1][0];
  const double* w2 = sc.Wp[1].data();
  double* gw2 = sc.gW[1].data();
  double* gb1 = p.has_bias[0] ? sc.gb[0].data() : nullptr;
  if (gradient) {
    for (auto& g : sc.gW) std::fill(g.begin(), g.end(), 0.0);
    for (auto& g : sc.gb) std::fill(g.begin(), g.end(), 0.0);
  }
  const bool folded = d <= kFoldedInputs;
  double total = 0, gb2 = 0;
  for (int64_t r0 = r_begin; r0 < r_end; r0 += ws.block) {
    const int64_t rows = std::min(ws.block, r_end - r0);
    uint8_t* bits = mask ? const_cast<uint8_t*>(mask->bits[0].data()) + r0 * (ldh / 8)
                         : sc.bits[0].data();
    uint8_t* top_bits = mask ? const_cast<uint8_t*>(mask->bits[1].data()) + r0 : sc.bits[1].data();
    const OneHiddenTile tile{p.X.data() + r0 * d, d, sc.Wt[0].data(), sc.bias[0].data(), alpha, w2,
                             sc.A[0].data(), bits, slopes,
                             ws.keep_z ? ws.Z[0].data() + r0 * h : nullptr, h, ldh};
    double* D = sc.D0.data();
    if (folded) {
      // The whole block at each stage: forward (D: the rows' partial outputs, W lanes
      // each), the output neuron and the loss (F: z, then dL/dz), backward.
      static constexpr auto forward = one_hidden_forwards(std::make_integer_sequence<int, kFoldedInputs>());
      forward[size_t(d - 1)](tile, rows, D);
      double* F = sc.F.data();
      for (int64_t i = 0; i < rows; ++i) F[i] = sum(load(D + i * W)) + b2;
      total += output_rows(p, ws, top_bits, from_sign, gradient, r0, 0, rows, F, gb2);
      if (!gradient) continue;
      static constexpr auto by_bits = one_hidden_backwards<false>(std::make_integer_sequence<int, kFoldedInputs>());
      static constexpr auto by_sign = one_hidden_backwards<true>(std::make_integer_sequence<int, kFoldedInputs>());
      (slopes == Slopes::sign_of_a ? by_sign : by_bits)[size_t(d - 1)](
          p.X.data() + r0 * d, rows, sc.A[0].data(), bits, h, ldh, w2, alpha, F, sc.gW[0].data(),
          gw2, gb1);
      continue;
    }
    for (int64_t i0 = 0; i0 < rows; i0 += 8) {
      const int g = int(std::min<int64_t>(8, rows - i0));
      double f[8];
      one_hidden_forward(tile, i0, std::min(g, 4), b2, f);
      if (g > 4) one_hidden_forward(tile, i0 + 4, g - 4, b2, f + 4);
      total += output_rows(p, ws, top_bits, from_sign, gradient, r0, i0, g, f, gb2);
      if (!gradient) continue;
      static constexpr auto by_bits = one_hidden_deltas<false>(std::make_integer_sequence<int, 8>());
      static constexpr auto by_sign = one_hidden_deltas<true>(std::make_integer_sequence<int, 8>());
      (slopes == Slopes::sign_of_a ? by_sign : by_bits)[size_t(g - 1)](
          sc.A[0].data() + i0 * ldh, bits + i0 * (ldh / 8), h, ldh, w2, alpha, f, D + i0 * ldh, gw2, gb1);
    }
    if (!gradient) continue;
    // gW^T (d x h) += X^T D over the block: X's element (c, i) is X[i * d + c].
    gemm(d, h, GemmArgs{rows, p.X.data() + r0 * d, 1, d, D, ldh}, StoreTo<true>{sc.gW[0].data(), ldh});
  }
  if (gradient && p.has_bias[1]) sc.gb[1][0] += gb2;
  sc.loss = total;
}
