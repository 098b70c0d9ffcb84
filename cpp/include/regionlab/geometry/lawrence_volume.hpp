// The volume of a simple polytope from its vertices alone (Lawrence, "Polytope volume
// computation", Math. Comp. 1991): for outward normals a_i, a generic direction c and any
// offset d,
//     vol(P) = sum over vertices v of (c . v + d)^D / (D! |det A_v| prod_i g_i),
// where A_v holds the D normals of the facets at v and A_v^T g = c. O(vertices x D^3)
// instead of a walk over every face, which in 5 and 6 dimensions (cells with 3^D faces)
// is most of the work. The sum cancels, so it is trusted only when it is well
// conditioned: every vertex simple with independent facets, at most 6 digits lost to
// cancellation, and two directions c agreeing to 1e-10 (the best two of four when the first
// two do not; measured against the face recursion on 4-6 dimensional nets: within 4e-10,
// the size of the vertices' own rounding relative to small cells); otherwise the caller
// falls back to the recursion.
#pragma once
#include <cmath>
#include <cstdint>

namespace regionlab::geometry {

template <int D>
struct PolytopeCell;

namespace lawrence_detail {

constexpr int kDirs = 2;  // directions c per pass (one factorisation per vertex and pass)

// Fixed directions with no simple relation to the axes or to each other.
constexpr double kDirections[4][8] = {
    {0.5377, 1.8339, -2.2588, 0.8622, 0.3188, -1.3077, -0.4336, 0.3426},
    {-1.1465, 1.1909, 1.1892, -0.0376, 0.3273, 0.1746, -0.1867, 0.7258},
    {-0.5883, 2.1832, -0.1364, 0.1139, 1.0668, 0.0593, -0.0956, -0.8323},
    {0.2944, -1.3362, 0.7143, 1.6236, -0.6918, 0.8580, 1.2540, -1.5937}};

// Solves M x = rhs[k] for every right-hand side by Gaussian elimination with partial
// pivoting; returns det(M) (0 when singular). M is overwritten.
template <int D>
double solve(double (&M)[D][D], double (&rhs)[kDirs][D]) {
  double det = 1, inverse[D];  // one division per pivot
  for (int col = 0; col < D; ++col) {
    int piv = col;
    for (int r = col + 1; r < D; ++r)
      if (std::abs(M[r][col]) > std::abs(M[piv][col])) piv = r;
    if (!(std::abs(M[piv][col]) > 0)) return 0;
    if (piv != col) {
      for (int c = 0; c < D; ++c) std::swap(M[piv][c], M[col][c]);
      for (auto& b : rhs) std::swap(b[piv], b[col]);
      det = -det;
    }
    det *= M[col][col];
    inverse[col] = 1.0 / M[col][col];
    for (int r = col + 1; r < D; ++r) {
      const double f = M[r][col] * inverse[col];
      for (int c = col + 1; c < D; ++c) M[r][c] -= f * M[col][c];
      for (auto& b : rhs) b[r] -= f * b[col];
    }
  }
  for (auto& b : rhs)
    for (int r = D - 1; r >= 0; --r) {
      double s = b[r];
      for (int c = r + 1; c < D; ++c) s -= M[r][c] * b[c];
      b[r] = s * inverse[r];
    }
  return det;
}

// Lawrence's sums (and the sums of the terms' magnitudes) for directions first, first + 1,
// into sum[first + s] etc.; false when some vertex is not simple or its facets are nearly
// dependent. valid[first + s] is false where that direction is nearly parallel to a face at
// some vertex.
template <int D>
bool sums(const PolytopeCell<D>& cell, const double* outward, const double* centre, int first,
          double* sum, double* magnitude, bool* valid) {
  sum += first, magnitude += first, valid += first;
  double fact = 1;
  for (int i = 2; i <= D; ++i) fact *= i;
  const double* dirs[kDirs];
  double floor[kDirs];
  for (int s = 0; s < kDirs; ++s) {
    dirs[s] = kDirections[first + s];
    double cnorm = 0;
    for (int c = 0; c < D; ++c) cnorm += dirs[s][c] * dirs[s][c];
    floor[s] = 1e-10 * fact * std::pow(std::sqrt(cnorm), D);
    sum[s] = magnitude[s] = 0;
    valid[s] = true;
  }
  const int64_t nv = cell.n_vertices();
  for (int64_t v = 0; v < nv; ++v) {
    const double* p = &cell.x[size_t(v * D)];
    int planes_at[D];
    int k = 0;
    for (int w = 0; w < cell.words; ++w)
      for (uint64_t bits = cell.inc[size_t(v * cell.words + w)]; bits; bits &= bits - 1) {
        if (k == D) return false;  // more than D planes: not simple
        planes_at[k++] = w * 64 + __builtin_ctzll(bits);
      }
    if (k != D) return false;
    double At[D][D];  // A_v^T: column i is the outward normal of plane i
    double rhs[kDirs][D];
    for (int i = 0; i < D; ++i) {
      const double* n = &cell.normals[size_t(planes_at[i]) * (D + 1)];
      double norm = 0;
      for (int c = 0; c < D; ++c) {
        At[c][i] = outward[planes_at[i]] * n[c];
        norm += n[c] * n[c];
      }
      if (!(norm > 0.5)) return false;  // not a unit normal (a plane at infinity)
    }
    for (int s = 0; s < kDirs; ++s)
      for (int c = 0; c < D; ++c) rhs[s][c] = dirs[s][c];
    const double det = solve<D>(At, rhs);
    // Unit normals: |det| near 0 means nearly dependent facets at this vertex.
    if (!(std::abs(det) > 1e-8)) return false;
    for (int s = 0; s < kDirs; ++s) {
      double prod = std::abs(det) * fact, height = 0;
      for (int i = 0; i < D; ++i) prod *= rhs[s][i];
      // |g_i| tiny: c nearly parallel to a face at v; its terms would explode.
      if (!(std::abs(prod) > floor[s])) valid[s] = false;
      for (int c = 0; c < D; ++c) height += dirs[s][c] * (p[c] - centre[c]);
      double power = height;
      for (int i = 1; i < D; ++i) power *= height;
      const double term = power / prod;
      sum[s] += term;
      magnitude[s] += std::abs(term);
    }
  }
  return true;
}

}  // namespace lawrence_detail

// The D-volume of `cell` by Lawrence's formula, or false when the cell is not simple or the
// sum is not trustworthy (then `volume` is untouched).
template <int D>
bool lawrence_volume(const PolytopeCell<D>& cell, double& volume) {
  using namespace lawrence_detail;
  const int64_t nv = cell.n_vertices();
  const size_t n_planes = cell.planes.size();
  if (nv <= D) return false;
  double centre[D] = {};
  for (int64_t v = 0; v < nv; ++v)
    for (int c = 0; c < D; ++c) centre[c] += cell.x[size_t(v * D + c)] / double(nv);
  // Outward orientation of each plane: the centre is inside.
  thread_local std::vector<double> outward_buffer;
  std::vector<double>& outward = outward_buffer;
  outward.assign(n_planes, 1.0);
  for (size_t b = 0; b < n_planes; ++b) {
    const double* n = &cell.normals[b * (D + 1)];
    double value = n[D], norm = 0;
    for (int c = 0; c < D; ++c) value += n[c] * centre[c], norm += std::abs(n[c]);
    if (!(norm > 0)) continue;  // a plane at infinity: no simple vertex uses it (checked below)
    outward[b] = value > 0 ? -1.0 : 1.0;
  }
  double sum[2 * kDirs], magnitude[2 * kDirs];
  bool valid[2 * kDirs];
  // The two best-conditioned directions (least cancellation) among those computed.
  auto agree = [&](int count) {
    int best[2] = {-1, -1};
    for (int s = 0; s < count; ++s) {
      if (!valid[s] || !(sum[s] > 0) || !(magnitude[s] <= 1e6 * sum[s])) continue;
      const double ratio = magnitude[s] / sum[s];
      if (best[0] < 0 || ratio < magnitude[best[0]] / sum[best[0]]) best[1] = best[0], best[0] = s;
      else if (best[1] < 0 || ratio < magnitude[best[1]] / sum[best[1]]) best[1] = s;
    }
    if (best[1] < 0 || !(std::abs(sum[best[0]] - sum[best[1]]) <= 1e-10 * sum[best[0]])) return false;
    volume = sum[best[0]];
    return true;
  };
  auto pass = [&](int first) { return sums<D>(cell, outward.data(), centre, first, sum, magnitude, valid); };
  if (!pass(0)) return false;
  if (agree(kDirs)) return true;
  return pass(kDirs) && agree(2 * kDirs);  // two more directions, the best two of four
}

}  // namespace regionlab::geometry
