// Classes that can never win an argmax inside a region: those whose score equals a lower
// class's up to rounding (duplicated output rows, or every logit 0 where all units are
// off). Ties go to the lower class, like numpy.argmax and torch.argmax.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace regionlab::geometry {

// s: K rows of m coefficients (one affine score per class on the region, the constant
// last). The slopes and the constant are compared each on its own scale, so a large
// common offset does not hide different slopes.
inline std::vector<char> tied_to_lower(const std::vector<double>& s, int64_t K, int64_t m) {
  constexpr double kTol = 64 * std::numeric_limits<double>::epsilon();
  std::vector<char> tied(size_t(K), 0);
  for (int64_t k = 1; k < K; ++k)
    for (int64_t j = 0; j < k && !tied[size_t(k)]; ++j) {
      if (tied[size_t(j)]) continue;
      bool same = true;
      double scale = 0, gap = 0;
      for (int64_t c = 0; c < m; ++c) {
        scale = std::max({scale, std::abs(s[size_t(j * m + c)]), std::abs(s[size_t(k * m + c)])});
        gap = std::max(gap, std::abs(s[size_t(j * m + c)] - s[size_t(k * m + c)]));
        if (c == m - 2 || c == m - 1) {  // the slopes done, then the constant
          same &= gap <= kTol * scale;
          scale = gap = 0;
        }
      }
      tied[size_t(k)] = same;
    }
  return tied;
}

// The class that wins at scores v (K of them): the largest, a tie within rounding of the
// largest going to the lowest class (numpy's and torch's argmax, robust to rounding).
inline int64_t argmax_lowest(const double* v, int64_t K) {
  double top = -HUGE_VAL, scale = 0;
  for (int64_t k = 0; k < K; ++k) top = std::max(top, v[k]), scale = std::max(scale, std::abs(v[k]));
  for (int64_t k = 0; k < K; ++k)
    if (v[k] >= top - 64 * std::numeric_limits<double>::epsilon() * scale) return k;
  return 0;
}

}  // namespace regionlab::geometry
