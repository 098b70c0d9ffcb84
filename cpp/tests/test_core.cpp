// Native tests of regionlab_core, no Python involved: forward against a naive loop on
// every instruction set, and pattern counts against Zaslavsky's formula.
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "regionlab/counter.hpp"
#include "regionlab/geometry/slice_partition.hpp"
#include "regionlab/evaluate.hpp"
#include "regionlab/kernels.hpp"

using namespace regionlab;

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

int main() {
  std::mt19937_64 gen(7);
  std::normal_distribution<double> normal;
  const std::vector<int64_t> widths{3, 17, 9, 2};
  std::vector<std::vector<double>> W(3), b(3), s(3);
  for (int k = 0; k < 3; ++k) {
    for (int64_t i = 0; i < widths[k] * widths[k + 1]; ++i) W[k].push_back(normal(gen));
    for (int64_t j = 0; j < widths[k + 1]; ++j) {
      b[k].push_back(normal(gen));
      s[k].push_back(k == 2 ? 1.0 : 0.1);
    }
  }
  Network<double> net({W[0].data(), W[1].data(), W[2].data()}, {b[0].data(), b[1].data(), b[2].data()},
                      {s[0].data(), s[1].data(), s[2].data()}, widths);
  const int64_t n = 1000;
  std::vector<double> X(size_t(n * 3));
  for (double& x : X) x = normal(gen);

  // Naive reference forward.
  std::vector<double> expected(size_t(n * 2));
  for (int64_t r = 0; r < n; ++r) {
    std::vector<double> a(X.begin() + r * 3, X.begin() + r * 3 + 3);
    for (int k = 0; k < 3; ++k) {
      std::vector<double> h(size_t(widths[k + 1]));
      for (int64_t j = 0; j < widths[k + 1]; ++j) {
        double acc = b[k][size_t(j)];
        for (int64_t i = 0; i < widths[k]; ++i) acc += W[k][size_t(j * widths[k] + i)] * a[size_t(i)];
        h[size_t(j)] = acc > 0 ? acc : s[k][size_t(j)] * acc;
      }
      a = h;
    }
    expected[size_t(r * 2)] = a[0];
    expected[size_t(r * 2 + 1)] = a[1];
  }
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512}) {
    if (!set_isa(isa)) continue;
    std::vector<double> out(size_t(n * 2));
    forward(net, X.data(), n, out.data(), nullptr);
    double err = 0;
    for (size_t i = 0; i < out.size(); ++i) err = std::max(err, std::fabs(out[i] - expected[i]));
    std::printf("forward on %s: max error %.3g\n", isa_name(isa), err);
    CHECK(err < 1e-10);
  }

  // One hidden layer of 6 lines in general position, probed densely over a box holding
  // every vertex: 1 + 6 + 15 = 22 regions.
  const int lines = 6;
  std::vector<double> Wl, bl, sl(lines, 0.0);
  for (int i = 0; i < lines; ++i) {
    const double angle = 0.4 * i + 0.05 * i * i;  // distinct directions within [0, 3.2)
    Wl.push_back(std::cos(angle));
    Wl.push_back(std::sin(angle));
    bl.push_back(-1.0);
  }
  auto arrangement = std::make_shared<Network<double>>(std::vector<const double*>{Wl.data()},
                                                       std::vector<const double*>{bl.data()},
                                                       std::vector<const double*>{sl.data()},
                                                       std::vector<int64_t>{2, lines});
  std::vector<double> grid;
  const int side = 1500;
  const double lo = -40, hi = 40;
  for (int i = 0; i < side; ++i)
    for (int j = 0; j < side; ++j) {
      grid.push_back(lo + (hi - lo) * i / (side - 1));
      grid.push_back(lo + (hi - lo) * j / (side - 1));
    }
  PatternCounter<double> counter(arrangement, CountOptions{});
  counter.add(grid.data(), int64_t(grid.size() / 2), nullptr, nullptr);
  std::printf("arrangement of %d lines: %lld regions (expected 22)\n", lines,
              (long long)counter.n_patterns());
  CHECK(counter.n_patterns() == 22);

  // The exact plane partition of the same arrangement: 22 regions whose areas fill the box,
  // and a segment crossing every line once has 7 pieces.
  geometry::SliceSpec plane_spec;
  plane_spec.basis = {1, 0, 0, 1, 0, 0};  // s, t, offset (column-major, 2 inputs)
  plane_spec.lo[0] = plane_spec.lo[1] = lo;
  plane_spec.hi[0] = plane_spec.hi[1] = hi;
  const auto plane = geometry::partition_slice(*arrangement, plane_spec, 1000, 2, nullptr);
  double area = 0;
  for (double a : plane.measure) area += a;
  std::printf("exact plane: %lld regions, area %.12g (expected 22, %.12g)\n",
              (long long)plane.n_regions(), area, (hi - lo) * (hi - lo));
  CHECK(plane.n_regions() == 22);
  CHECK(std::abs(area - (hi - lo) * (hi - lo)) < 1e-9);
  geometry::SliceSpec segment_spec;
  segment_spec.dim = 1;
  // From far on one side of every line (each at distance 1 from the origin) to far on the
  // other, through the origin: it crosses each line once.
  segment_spec.basis = {2 * hi, 2 * hi * 0.37, lo, lo * 0.37};
  segment_spec.lo[0] = 0;
  segment_spec.hi[0] = 1;
  const auto segment = geometry::partition_slice(*arrangement, segment_spec, 1000, 1, nullptr);
  std::printf("exact segment: %lld pieces\n", (long long)segment.n_regions());
  CHECK(segment.n_regions() == 1 + lines);

  std::printf(failures ? "%d failed\n" : "all passed\n", failures);
  return failures ? 1 : 0;
}
