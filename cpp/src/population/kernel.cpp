#include "regionlab/population/kernel.hpp"

#include <algorithm>
#include <cmath>

#include "regionlab/errors.hpp"

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

// out += scale * d k(w, v) / dw = scale * (|v| sin t u + (pi - t) v) / (2 pi).
void add_kernel_gradient(const Pair& p, const double* w, const double* v, int64_t d, double scale,
                         double* out) {
  if (p.zero || scale == 0) return;
  const double cu = scale * p.nv * p.sin_t / (p.nw * 2 * kPi), cv = scale * (kPi - p.t) / (2 * kPi);
  for (int64_t c = 0; c < d; ++c) out[c] += cu * w[c] + cv * v[c];
}

// H (d x d block, row stride ld) += scale * d^2 k / dw^2
//   = scale |v| sin t / (2 pi |w|) (I - u u^T + m m^T),  m: the unit vector along v's part
//   orthogonal to u.
void add_hessian_ww(const Pair& p, const double* w, const std::vector<double>& perp, int64_t d,
                    double scale, double* H, int64_t ld) {
  if (p.zero || scale == 0 || p.sin_t == 0) return;
  const double f = scale * p.nv * p.sin_t / (2 * kPi * p.nw);
  double np = 0;
  for (double x : perp) np += x * x;
  np = std::sqrt(np);
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
  double np = 0;
  for (double x : perp) np += x * x;
  np = std::sqrt(np);
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

double gradient(const Teacher& t, const Student& s, double* gW, double* ga) {
  check(t, s);
  const int64_t n = s.n, d = t.d;
  const double al = s.alpha, relu_part = 1.0 - al;
  std::vector<double> perp;
  if (gW) std::fill(gW, gW + n * d, 0.0);
  if (ga) std::fill(ga, ga + n, 0.0);
  double F = t.self_term;
  for (int64_t i = 0; i < n; ++i) {
    const double* wi = s.W + i * d;
    const double ai = s.a[i];
    double dFda = 0;
    // student-student: 1/2 sum_ii' a_i a_i' K_ss(w_i, w_i')
    for (int64_t l = 0; l < n; ++l) {
      const double* wl = s.W + l * d;
      const Pair p = pair_of(wi, wl, d, perp);
      const double Kss = relu_part * relu_part * kernel(p) + al * dot(wi, wl, d);
      F += 0.5 * ai * s.a[l] * Kss;
      dFda += s.a[l] * Kss;
      if (!gW) continue;
      double* g = gW + i * d;
      if (l == i) {  // d/dw of 1/2 a^2 K_ss(w, w) = 1/2 a^2 ((1-al)^2 |w|^2 / 2 + al |w|^2)
        const double c = ai * ai * (0.5 * relu_part * relu_part + al);
        for (int64_t q = 0; q < d; ++q) g[q] += c * wi[q];
      } else {
        add_kernel_gradient(p, wi, wl, d, ai * s.a[l] * relu_part * relu_part, g);
        for (int64_t q = 0; q < d; ++q) g[q] += ai * s.a[l] * al * wl[q];
      }
    }
    // student-teacher: - sum_ij a_i b_j K_sr(w_i, v_j)
    for (int64_t j = 0; j < t.k; ++j) {
      const double* vj = t.V.data() + j * d;
      const Pair p = pair_of(wi, vj, d, perp);
      const double Ksr = relu_part * kernel(p) + 0.5 * al * dot(wi, vj, d);
      F -= ai * t.b[j] * Ksr;
      dFda -= t.b[j] * Ksr;
      if (!gW) continue;
      double* g = gW + i * d;
      add_kernel_gradient(p, wi, vj, d, -ai * t.b[j] * relu_part, g);
      for (int64_t q = 0; q < d; ++q) g[q] -= ai * t.b[j] * 0.5 * al * vj[q];
    }
    if (ga) ga[i] = dFda;
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
  }
}

}  // namespace regionlab::population
