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
#include "../src/flow/root_finding.hpp"

using namespace regionlab;

// A 1-D convolution (kernel of 3, zero padding), applied without a matrix: the kind of
// structured map the LinearOperator interface is for.
class Conv1d final : public LinearOperator<double> {
 public:
  Conv1d(int64_t n, std::vector<double> kernel) : n_(n), k_(std::move(kernel)) {}
  int64_t out_dim() const override { return n_; }
  int64_t in_dim() const override { return n_; }
  double at(const double* x, int64_t stride, int64_t j) const {
    double acc = 0;
    for (int64_t t = -1; t <= 1; ++t)
      if (j + t >= 0 && j + t < n_) acc += k_[size_t(t + 1)] * x[(j + t) * stride];
    return acc;
  }
  void apply_rows(const double* X, int64_t n, double* Y) const override {
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < n_; ++j) Y[r * n_ + j] = at(X + r * n_, 1, j);
  }
  void apply_columns(const double* M, int64_t m, double* R) const override {
    for (int64_t c = 0; c < m; ++c)
      for (int64_t j = 0; j < n_; ++j) R[c * n_ + j] = at(M + c * n_, 1, j);
  }
  std::vector<double> dense() const {  // the same map as a matrix, for the comparison
    std::vector<double> W(size_t(n_ * n_), 0.0);
    for (int64_t j = 0; j < n_; ++j)
      for (int64_t t = -1; t <= 1; ++t)
        if (j + t >= 0 && j + t < n_) W[size_t(j * n_ + j + t)] = k_[size_t(t + 1)];
    return W;
  }

 private:
  int64_t n_;
  std::vector<double> k_;
};

// A network 2 -> 8 (ReLU) -> conv 8 (ReLU) -> 1, once with the convolution as a structured
// operator and once as its dense matrix: every engine must give the same answers.
static int check_structured_stage(std::mt19937_64& gen);

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

// Event location from a pair sitting exactly on its kink (g(0) == 0, with rounding noise
// just after): the secant's first point lands on 0 give or take rounding, and the noise
// there must not pass for the crossing; the real one is at 0.3.
static int check_root_from_the_kink() {
  auto g = [](double t) { return t < 1e-15 ? -1e-20 : t * (0.3 - t); };
  const double b = 0.6233116558279139;  // the secant from (0, 0) lands at +1.1e-16
  const double root = regionlab::flow::illinois(g, 0.0, 0.0, b, g(b), 1e-14, 200);
  return std::abs(root - 0.3) < 1e-12 ? 0 : 1;
}

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
  if (check_root_from_the_kink()) {
    std::printf("FAILED: a root search starting on the kink stopped at its rounding noise\n");
    ++failures;
  }
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

  failures += check_structured_stage(gen);

  std::printf(failures ? "%d failed\n" : "all passed\n", failures);
  return failures ? 1 : 0;
}

static int check_structured_stage(std::mt19937_64& gen) {
  int bad = 0;
  std::normal_distribution<double> normal;
  std::vector<double> W0, b0, s0(8, 0.0), b1, s1(8, 0.0), W2, b2{0.3}, s2{1.0};
  for (int i = 0; i < 16; ++i) W0.push_back(normal(gen));
  for (int i = 0; i < 8; ++i) b0.push_back(normal(gen)), b1.push_back(0.2 * normal(gen)), W2.push_back(normal(gen));
  auto conv = std::make_shared<Conv1d>(8, std::vector<double>{0.5, -1.0, 0.8});
  const std::vector<double> W1 = conv->dense();
  const std::vector<int64_t> widths{2, 8, 8, 1};
  const std::vector<const double*> biases{b0.data(), b1.data(), b2.data()}, slopes{s0.data(), s1.data(), s2.data()};
  auto dense = std::make_shared<Network<double>>(std::vector<const double*>{W0.data(), W1.data(), W2.data()},
                                                 biases, slopes, widths);
  auto structured = std::make_shared<Network<double>>(
      std::vector<const double*>{W0.data(), nullptr, W2.data()}, biases, slopes, widths,
      std::vector<std::vector<int64_t>>{}, std::vector<std::vector<int32_t>>{},
      std::vector<std::shared_ptr<const LinearOperator<double>>>{nullptr, conv, nullptr});
  std::vector<double> X;
  for (int i = 0; i < 2 * 5000; ++i) X.push_back(2 * normal(gen));
  std::vector<double> a(5000), b(5000);
  forward(*dense, X.data(), 5000, a.data(), nullptr);
  forward(*structured, X.data(), 5000, b.data(), nullptr);
  double err = 0;
  for (size_t i = 0; i < a.size(); ++i) err = std::max(err, std::fabs(a[i] - b[i]));
  std::printf("structured stage: forward differs from dense by %.3g\n", err);
  if (!(err < 1e-12)) std::printf("FAILED structured forward\n"), ++bad;
  PatternCounter<double> ca(dense, CountOptions{}), cb(structured, CountOptions{});
  ca.add(X.data(), 5000, nullptr, nullptr);
  cb.add(X.data(), 5000, nullptr, nullptr);
  std::printf("structured stage: %lld patterns (dense %lld)\n", (long long)cb.n_patterns(),
              (long long)ca.n_patterns());
  if (ca.n_patterns() != cb.n_patterns()) std::printf("FAILED structured count\n"), ++bad;
  geometry::SliceSpec spec;
  spec.basis = {1, 0, 0, 1, 0, 0};
  spec.lo[0] = spec.lo[1] = -3;
  spec.hi[0] = spec.hi[1] = 3;
  const auto pa = geometry::partition_slice(*dense, spec, 100000, 2, nullptr);
  const auto pb = geometry::partition_slice(*structured, spec, 100000, 2, nullptr);
  std::printf("structured stage: %lld plane regions (dense %lld)\n", (long long)pb.n_regions(),
              (long long)pa.n_regions());
  if (pa.n_regions() != pb.n_regions() || pa.patterns != pb.patterns)
    std::printf("FAILED structured plane\n"), ++bad;
  return bad;
}
