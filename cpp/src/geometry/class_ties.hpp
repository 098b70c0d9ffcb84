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

// s: K rows of m coefficients (one affine score per class on the region).
inline std::vector<char> tied_to_lower(const std::vector<double>& s, int64_t K, int64_t m) {
  std::vector<char> tied(size_t(K), 0);
  for (int64_t k = 1; k < K; ++k)
    for (int64_t j = 0; j < k && !tied[size_t(k)]; ++j) {
      if (tied[size_t(j)]) continue;
      double scale = 0, gap = 0;
      for (int64_t c = 0; c < m; ++c) {
        scale = std::max({scale, std::abs(s[size_t(j * m + c)]), std::abs(s[size_t(k * m + c)])});
        gap = std::max(gap, std::abs(s[size_t(j * m + c)] - s[size_t(k * m + c)]));
      }
      tied[size_t(k)] = gap <= 64 * std::numeric_limits<double>::epsilon() * scale;
    }
  return tied;
}

}  // namespace regionlab::geometry
