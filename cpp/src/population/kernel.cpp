#include "regionlab/population/kernel.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "regionlab/errors.hpp"

#include "../vector_clones.hpp"

namespace regionlab::population {

namespace {

constexpr double kPi = 3.14159265358979323846;

double dot(const double* x, const double* y, int64_t d) {
  double s = 0;
  for (int64_t c = 0; c < d; ++c) s += x[c] * y[c];
  return s;
}

// The geometry of a pair (w, v): norms, the angle from the orthogonal component (accurate
// near t = 0 and pi, where acos of a rounded cosine is not), and unit vectors.
struct Pair {
  double nw = 0, nv = 0;  // |w|, |v|
  double t = 0, sin_t = 0, cos_t = 1;
  double perp_norm = 0;   // |v's component orthogonal to w|
  bool zero = true;       // w or v is the zero vector
};

Pair pair_of(const double* w, const double* v, int64_t d, std::vector<double>& perp) {
  Pair p;
  p.nw = std::sqrt(dot(w, w, d));
  p.nv = std::sqrt(dot(v, v, d));
  if (p.nw == 0 || p.nv == 0) return p;
  p.zero = false;
  const double along = dot(v, w, d) / p.nw;  // v . u
  perp.resize(size_t(d));
  double pp = 0;
  for (int64_t c = 0; c < d; ++c) {
    perp[size_t(c)] = v[c] - along * w[c] / p.nw;  // v minus its component along u
    pp += perp[size_t(c)] * perp[size_t(c)];
  }
  const double np = std::sqrt(pp);
  p.perp_norm = np;
  p.t = std::atan2(np, along);
  p.sin_t = np / std::hypot(np, along);
  p.cos_t = along / std::hypot(np, along);
  return p;
}

// k(w, v).
double kernel(const Pair& p) {
  if (p.zero) return 0.0;
  return p.nw * p.nv * (p.sin_t + (kPi - p.t) * p.cos_t) / (2 * kPi);
}

// H (d x d block, row stride ld) += scale * d^2 k / dw^2
//   = scale |v| sin t / (2 pi |w|) (I - u u^T + m m^T),  m: the unit vector along v's part
//   orthogonal to u.
void add_hessian_ww(const Pair& p, const double* w, const std::vector<double>& perp, int64_t d,
                    double scale, double* H, int64_t ld) {
  if (p.zero || scale == 0 || p.sin_t == 0) return;
  const double f = scale * p.nv * p.sin_t / (2 * kPi * p.nw), np = p.perp_norm;
  for (int64_t r = 0; r < d; ++r) {
    const double ur = w[r] / p.nw, mr = perp[size_t(r)] / np;
    for (int64_t c = 0; c < d; ++c) {
      const double uc = w[c] / p.nw, mc = perp[size_t(c)] / np;
      H[r * ld + c] += f * ((r == c ? 1.0 : 0.0) - ur * uc + mr * mc);
    }
  }
}

// H += scale * d^2 k / (dw dv^T) = scale ((pi - t) I + sin t (u n^T + m m'^T)) / (2 pi), with
// n = v / |v|, m as above and m' the unit vector along u's part orthogonal to n.
void add_hessian_wv(const Pair& p, const double* w, const double* v, const std::vector<double>& perp,
                    int64_t d, double scale, double* H, int64_t ld) {
  if (p.zero || scale == 0) return;
  const double f = scale / (2 * kPi);
  for (int64_t r = 0; r < d; ++r) H[r * ld + r] += f * (kPi - p.t);
  if (p.sin_t == 0) return;
  const double np = p.perp_norm;
  // m' = (u - cos t n) / sin t
  for (int64_t r = 0; r < d; ++r) {
    const double ur = w[r] / p.nw, mr = perp[size_t(r)] / np;
    for (int64_t c = 0; c < d; ++c) {
      const double nc = v[c] / p.nv, mpc = (w[c] / p.nw - p.cos_t * nc) / p.sin_t;
      H[r * ld + c] += f * p.sin_t * (ur * nc + mr * mpc);
    }
  }
}

void check(const Teacher& t, const Student& s) {
  if (s.n <= 0) throw InvalidInput("the student needs at least one hidden unit");
  if (t.d <= 0 || t.k <= 0) throw InvalidInput("the teacher needs at least one unit");
}

}  // namespace

Teacher make_teacher(const double* V, const double* b, int64_t k, int64_t d) {
  Teacher t;
  t.k = k;
  t.d = d;
  t.V.assign(V, V + k * d);
  t.b.assign(b, b + k);
  std::vector<double> perp;
  double s = 0;
  for (int64_t j = 0; j < k; ++j)
    for (int64_t l = 0; l < k; ++l) s += b[j] * b[l] * kernel(pair_of(V + j * d, V + l * d, d, perp));
  t.self_term = 0.5 * s;
  return t;
}

double loss(const Teacher& t, const Student& s) { return gradient(t, s, nullptr, nullptr); }

// acos(x) and sqrt(1 - x^2) for a block of cosines, branch-free so that it vectorises:
// acos(x) = pi/2 - asin(x) for |x| <= 1/2, 2 asin(sqrt((1 - |x|)/2)) above (mirrored for
// x < 0), asin(s) = s + s^3 P(s^2) with P the degree-12 polynomial interpolating
// (asin(s) - s)/s^3 at Chebyshev nodes of [0, 1/4] (error below 2e-16 there).
// asin(s) for 0 <= s <= 1/2: s + s^3 P(s^2).
inline double asin_small(double s) {
  constexpr double P[13] = {0.16666666666666669,  0.07499999999998433,  0.04464285714635543,
                            0.030381944138531247, 0.02237217294214989,  0.017352392720869973,
                            0.013971212973552933, 0.011479177415184906, 0.01032281435018578,
                            0.005457506718640358, 0.01740087944269402,  -0.014851887071247204,
                            0.028757851367421566};
  const double z = s * s;
  double p = P[12];
  for (int j = 11; j >= 0; --j) p = p * z + P[j];
  return s + s * z * p;
}

REGIONLAB_VECTOR_CLONES
void acos_block(const double* x, int64_t count, double* t, double* sn) {
  for (int64_t q = 0; q < count; ++q) {
    const double c = x[q], ac = std::fabs(c);
    const bool big = ac > 0.5;
    const double as = asin_small(big ? std::sqrt(0.5 * (1.0 - ac)) : ac);
    const double r = big ? 2.0 * as : 0.5 * kPi - as;
    t[q] = c < 0 ? kPi - r : r;
    const double s2 = 1.0 - c * c;
    sn[q] = std::sqrt(s2 > 0.0 ? s2 : 0.0);  // not fmax: a libm call keeps the loop scalar
  }
}

// cos[i m + j] = G / (|a_i| |b_j|) (0 where a row is zero: fixed up by the caller).
REGIONLAB_VECTOR_CLONES
void cosines(const double* G, const double* inv_a, const double* nb, int64_t n, int64_t m,
             double* cos) {
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      const double v = G[i * m + j] * inv_a[i] / nb[j];
      cos[i * m + j] = nb[j] > 0 ? v : 0.0;
    }
}

// From cos (in K), angle (in cv) and sine (in cu): K = k(a, b), cu, cv as pair_terms says.
REGIONLAB_VECTOR_CLONES
void kernel_terms(const double* inv_a, const double* na, const double* nb, int64_t n, int64_t m,
                  double* K, double* cu, double* cv) {
  constexpr double inv_2pi = 1.0 / (2 * kPi);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      const int64_t q = i * m + j;
      const double cs = K[q], t = cv[q], sn = cu[q];
      K[q] = na[i] * nb[j] * (sn + (kPi - t) * cs) * inv_2pi;
      cu[q] = nb[j] * sn * inv_a[i] * inv_2pi;
      cv[q] = (kPi - t) * inv_2pi;
    }
}

// Every pair (row i of A, row j of B): the kernel k(a_i, b_j) and its gradient in a_i,
// cu a_i + cv b_j. The angle comes from the Gram entry (acos_block) where that is accurate
// (|cos| < 0.99), else from b_j's component orthogonal to a_i, computed explicitly. Zero
// rows give k = cu = cv = 0 (relu'(0) = 0). With `same` (B is A) the diagonal holds
// k(a, a) = |a|^2/2 and no gradient terms (the caller adds the self term).
void pair_terms(const double* A, const double* na, int64_t n, const double* B, const double* nb,
                int64_t m, int64_t d, const double* G, bool same, double* K, double* cu, double* cv) {
  const int64_t N = n * m;
  thread_local std::vector<double> inv;  // 1 / |a_i| (0 for a zero row)
  inv.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) inv[size_t(i)] = na[i] > 0 ? 1.0 / na[i] : 0.0;
  cosines(G, inv.data(), nb, n, m, K);
  acos_block(K, N, cv, cu);  // cv <- angle, cu <- sine
  kernel_terms(inv.data(), na, nb, n, m, K, cu, cv);
  // Fix-ups, rare: zero rows, the diagonal, nearly parallel pairs (|cos| >= 0.99).
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      const int64_t q = i * m + j;
      if (na[i] == 0 || nb[j] == 0 || (same && i == j)) {
        K[q] = same && i == j ? 0.5 * na[i] * na[i] : 0.0;
        cu[q] = cv[q] = 0.0;
      } else if (std::abs(G[q]) >= 0.99 * na[i] * nb[j]) {
        // Nearly parallel: the sine from b_j's component orthogonal to a_i, summed
        // explicitly (|b|^2 - (a.b)^2/|a|^2 would cancel), the angle from it.
        const double* a = A + i * d;
        const double* bj = B + j * d;
        const double al = G[q] / (na[i] * na[i]);
        double pp = 0;
        for (int64_t r = 0; r < d; ++r) {
          const double e = bj[r] - al * a[r];
          pp += e * e;
        }
        const double sn = std::min(1.0, std::sqrt(pp) / nb[j]);
        const double cs = G[q] / (na[i] * nb[j]);
        const double t = cs > 0 ? asin_small(sn) : kPi - asin_small(sn);
        K[q] = na[i] * nb[j] * (sn + (kPi - t) * cs) / (2 * kPi);
        cu[q] = nb[j] * sn / (na[i] * 2 * kPi);
        cv[q] = (kPi - t) / (2 * kPi);
      }
    }
  }
}

// out (n x m) = P (n x r) Q (r x m), the tiny products of the kernel (r, m ~ 10-50): Q is
// copied with its rows padded to whole 8-lane vectors, and each row of out is summed 8
// columns at a time in a register, along r in order (so the loop is a chain of FMAs).
using Lanes8 = double __attribute__((vector_size(64)));

REGIONLAB_VECTOR_CLONES
void small_product(const double* P, int64_t n, int64_t r, const double* Q, int64_t m, double* out) {
  const int64_t chunks = (m + 7) / 8;
  thread_local std::vector<double> padded;  // plain doubles: vectors are loaded unaligned
  padded.resize(size_t(r * chunks * 8));
  for (int64_t l = 0; l < r; ++l) {
    double* row = padded.data() + l * chunks * 8;
    std::copy(Q + l * m, Q + (l + 1) * m, row);
    std::fill(row + m, row + chunks * 8, 0.0);
  }
  const double* q = padded.data();
  for (int64_t i = 0; i < n; i += 4) {  // four rows at once: four independent FMA chains
    const int64_t rows = std::min<int64_t>(4, n - i);
    const double* p = P + i * r;
    for (int64_t c = 0; c < chunks; ++c) {
      Lanes8 acc[4] = {};
      if (rows == 4) {
        for (int64_t l = 0; l < r; ++l) {
          Lanes8 ql;
          std::memcpy(&ql, q + (l * chunks + c) * 8, sizeof(ql));
          acc[0] += p[l] * ql;
          acc[1] += p[r + l] * ql;
          acc[2] += p[2 * r + l] * ql;
          acc[3] += p[3 * r + l] * ql;
        }
      } else {
        for (int64_t l = 0; l < r; ++l) {
          Lanes8 ql;
          std::memcpy(&ql, q + (l * chunks + c) * 8, sizeof(ql));
          for (int64_t u = 0; u < rows; ++u) acc[u] += p[u * r + l] * ql;
        }
      }
      const int64_t width = std::min<int64_t>(8, m - 8 * c);
      for (int64_t u = 0; u < rows; ++u)
        for (int64_t j = 0; j < width; ++j) out[(i + u) * m + 8 * c + j] = acc[u][j];
    }
  }
}

// G = A B^T (n x m), rows of length d.
void gram(const double* A, int64_t n, const double* B, int64_t m, int64_t d, double* G) {
  thread_local std::vector<double> Bt;
  Bt.resize(size_t(m * d));
  for (int64_t j = 0; j < m; ++j)
    for (int64_t q = 0; q < d; ++q) Bt[size_t(q * m + j)] = B[j * d + q];
  small_product(A, n, d, Bt.data(), m, G);
}

double gradient(const Teacher& t, const Student& s, double* gW, double* ga, double* gc) {
  check(t, s);
  const int64_t n = s.n, d = t.d, k = t.k;
  const double al = s.alpha, rp = 1.0 - al, rp2 = rp * rp;
  // Per-call scratch (a few n x (n + k) tables).
  thread_local std::vector<double> buf;
  buf.resize(size_t(2 * n + k + 8 * n * (n + k)));
  double* nw = buf.data();
  double* selfc = nw + n;  // row i's coefficient on w_i in dF/dw_i
  double* nv = selfc + n;
  double* Gww = nv + k;
  double* Kww = Gww + n * n;
  double* Uww = Kww + n * n;
  double* Cww = Uww + n * n;
  double* Gwv = Cww + n * n;
  double* Kwv = Gwv + n * k;
  double* Uwv = Kwv + n * k;
  double* Cwv = Uwv + n * k;
  const double* W = s.W;
  const double* V = t.V.data();
  const double* a = s.a;
  const double* b = t.b.data();
  gram(W, n, W, n, d, Gww);
  gram(W, n, V, k, d, Gwv);
  for (int64_t i = 0; i < n; ++i) nw[i] = std::sqrt(Gww[i * n + i]);
  for (int64_t j = 0; j < k; ++j) nv[j] = std::sqrt(dot(V + j * d, V + j * d, d));
  pair_terms(W, nw, n, W, nw, n, d, Gww, true, Kww, Uww, Cww);
  pair_terms(W, nw, n, V, nv, k, d, Gwv, false, Kwv, Uwv, Cwv);

  double F = t.self_term;
  for (int64_t i = 0; i < n; ++i) {
    double dFda = 0, self = a[i] * a[i] * (0.5 * rp2 + al);
    for (int64_t l = 0; l < n; ++l) {
      const double Kss = rp2 * Kww[i * n + l] + al * Gww[i * n + l];
      F += 0.5 * a[i] * a[l] * Kss;
      dFda += a[l] * Kss;
      // the pair's gradient: cu w_i + cv w_l (kernel), al w_l (linear part); in E's row i
      const double c = l == i ? 0.0 : a[i] * a[l];
      self += c * rp2 * Uww[i * n + l];
      // A zero row takes torch's s'(0) = al: d/dw_i = al E[x s(w_l.x)] = al (1+al)/2 w_l,
      // not the al w_l of the merged linear part (whose relu half has relu'(0) = 0 there).
      Cww[i * n + l] = nw[i] == 0 ? c * 0.5 * al * (1.0 + al) : c * (rp2 * Cww[i * n + l] + al);
    }
    for (int64_t j = 0; j < k; ++j) {
      const double Ksr = rp * Kwv[i * k + j] + 0.5 * al * Gwv[i * k + j];
      F -= a[i] * b[j] * Ksr;
      dFda -= b[j] * Ksr;
      const double c = -a[i] * b[j];
      self += c * rp * Uwv[i * k + j];
      Cwv[i * k + j] = c * (rp * Cwv[i * k + j] + 0.5 * al);
    }
    if (ga) ga[i] = dFda;
    selfc[i] = self;
  }
  // The output bias: c E[f - g] + c^2/2, E[s(w.x)] = (1-al) |w| / sqrt(2 pi).
  const double inv_sqrt_2pi = 1.0 / std::sqrt(2 * kPi), c = s.c;
  double mean_f = 0, mean_g = 0;
  for (int64_t i = 0; i < n; ++i) mean_f += a[i] * rp * nw[i] * inv_sqrt_2pi;
  for (int64_t j = 0; j < k; ++j) mean_g += b[j] * nv[j] * inv_sqrt_2pi;
  F += c * (mean_f - mean_g) + 0.5 * c * c;
  if (gc) *gc = mean_f - mean_g + c;
  if (c != 0) {
    for (int64_t i = 0; i < n; ++i) {
      if (ga) ga[i] += c * rp * nw[i] * inv_sqrt_2pi;
      if (nw[i] > 0) selfc[i] += c * a[i] * rp * inv_sqrt_2pi / nw[i];  // d|w|/dw = w/|w|
    }
  }
  if (gW) {
    // gW = diag(self) W + E W + T V, E = Cww (zero diagonal), T = Cwv: one product of
    // [E T] with [W; V], the diagonal added after.
    thread_local std::vector<double> ET, WV;
    ET.resize(size_t(n * (n + k)));
    WV.resize(size_t((n + k) * d));
    for (int64_t i = 0; i < n; ++i) {
      std::copy(Cww + i * n, Cww + (i + 1) * n, ET.begin() + i * (n + k));
      std::copy(Cwv + i * k, Cwv + (i + 1) * k, ET.begin() + i * (n + k) + n);
    }
    std::copy(W, W + n * d, WV.begin());
    std::copy(V, V + k * d, WV.begin() + n * d);
    small_product(ET.data(), n, n + k, WV.data(), d, gW);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t q = 0; q < d; ++q) gW[i * d + q] += selfc[i] * W[i * d + q];
  }
  return F;
}

void hessian(const Teacher& t, const Student& s, double* H) {
  check(t, s);
  const int64_t n = s.n, d = t.d, N = n * d;
  const double al = s.alpha, rp2 = (1.0 - al) * (1.0 - al);
  std::fill(H, H + N * N, 0.0);
  std::vector<double> perp;
  for (int64_t i = 0; i < n; ++i) {
    const double* wi = s.W + i * d;
    const double ai = s.a[i];
    double* Hii = H + (i * d) * N + i * d;
    const double self = ai * ai * (0.5 * rp2 + al);
    for (int64_t q = 0; q < d; ++q) Hii[q * N + q] += self;
    for (int64_t l = 0; l < n; ++l) {
      if (l == i) continue;
      const double* wl = s.W + l * d;
      const Pair p = pair_of(wi, wl, d, perp);
      add_hessian_ww(p, wi, perp, d, ai * s.a[l] * rp2, Hii, N);
      double* Hil = H + (i * d) * N + l * d;
      add_hessian_wv(p, wi, wl, perp, d, ai * s.a[l] * rp2, Hil, N);
      for (int64_t q = 0; q < d; ++q) Hil[q * N + q] += ai * s.a[l] * al;
    }
    for (int64_t j = 0; j < t.k; ++j) {
      const double* vj = t.V.data() + j * d;
      const Pair p = pair_of(wi, vj, d, perp);
      add_hessian_ww(p, wi, perp, d, -ai * t.b[j] * (1.0 - al), Hii, N);
    }
    const double nwi = std::sqrt(dot(wi, wi, d));
    if (s.c != 0 && nwi > 0) {  // the bias term c a_i (1-al) |w_i| / sqrt(2 pi)
      const double f = s.c * ai * (1.0 - al) / (std::sqrt(2 * kPi) * nwi);
      for (int64_t r = 0; r < d; ++r)
        for (int64_t q = 0; q < d; ++q)
          Hii[r * N + q] += f * ((r == q ? 1.0 : 0.0) - wi[r] * wi[q] / (nwi * nwi));
    }
  }
}

}  // namespace regionlab::population
