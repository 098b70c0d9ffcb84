// Problem set-up (offsets, checks) and the four losses.
#include "regionlab/flow/problem.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "regionlab/errors.hpp"

namespace regionlab::flow {

void apply_ties(const FlowProblem& p, double* v) {
  const int64_t classes = int64_t(p.tie_offsets.size()) - 1;
  for (int64_t c = 0; c < classes; ++c) {
    const int64_t b = p.tie_offsets[size_t(c)], e = p.tie_offsets[size_t(c) + 1];
    double s = 0;
    for (int64_t m = b; m < e; ++m) s += p.tie_coef[size_t(m)] * v[p.tie_members[size_t(m)]];
    const double scale = p.tie_precond[size_t(c)] * s;
    for (int64_t m = b; m < e; ++m) v[p.tie_members[size_t(m)]] = p.tie_coef[size_t(m)] * scale;
  }
}

void set_ties(FlowProblem& p, std::vector<int64_t> offsets, std::vector<int64_t> members,
              std::vector<double> coef, std::vector<double> class_precond) {
  if (offsets.empty()) offsets.push_back(0);
  const int64_t classes = int64_t(offsets.size()) - 1;
  if (offsets.front() != 0 || offsets.back() != int64_t(members.size()) ||
      coef.size() != members.size() || int64_t(class_precond.size()) != classes)
    throw InvalidInput("tie classes: offsets, members, coefficients and preconditioners disagree");
  std::vector<uint8_t> seen(size_t(p.n_params), 0);
  for (int64_t c = 0; c < classes; ++c)
    if (offsets[size_t(c) + 1] <= offsets[size_t(c)]) throw InvalidInput("tie classes must not be empty");
  for (int64_t m : members) {
    if (m < 0 || m >= p.n_params || seen[size_t(m)]) throw InvalidInput("tie members must be distinct entries");
    if (p.precond[size_t(m)] != 1.0) throw InvalidInput("tied entries need preconditioner 1");
    seen[size_t(m)] = 1;
  }
  p.tie_offsets = std::move(offsets);
  p.tie_members = std::move(members);
  p.tie_coef = std::move(coef);
  p.tie_precond = std::move(class_precond);
}

int64_t FlowProblem::max_width() const {
  return *std::max_element(width.begin(), width.end());
}

FlowProblem make_problem(std::vector<int64_t> width, std::vector<uint8_t> has_bias,
                         std::vector<std::vector<double>> negative_slope, const double* X,
                         int64_t n, const double* Y, int64_t y_cols, Loss loss,
                         std::vector<double> precond) {
  FlowProblem p;
  if (width.size() < 2) throw InvalidInput("the network needs at least one layer");
  const int64_t L = int64_t(width.size()) - 1;
  if (int64_t(has_bias.size()) != L || int64_t(negative_slope.size()) != L)
    throw InvalidInput("one bias flag and one slope vector per layer are needed");
  for (int64_t l = 0; l < L; ++l) {
    if (width[l] < 1 || width[l + 1] < 1) throw InvalidInput("layer widths must be positive");
    if (int64_t(negative_slope[l].size()) != width[l + 1])
      throw InvalidInput("layer " + std::to_string(l) + ": one negative slope per neuron");
  }
  if (n < 1) throw InvalidInput("need at least one sample");
  const int64_t k = width.back();
  const int64_t want_y = (loss == Loss::logistic || loss == Loss::exp) ? 1 : k;
  if (y_cols != want_y)
    throw InvalidInput("labels have " + std::to_string(y_cols) + " columns, expected " +
                       std::to_string(want_y));
  int64_t off = 0;
  for (int64_t l = 0; l < L; ++l) {
    p.w_offset.push_back(off);
    off += width[l] * width[l + 1];
    p.b_offset.push_back(has_bias[l] ? off : -1);
    if (has_bias[l]) off += width[l + 1];
  }
  p.n_params = off;
  if (int64_t(precond.size()) != off) throw InvalidInput("one preconditioner entry per parameter");
  p.n = n;
  p.width = std::move(width);
  p.has_bias = std::move(has_bias);
  p.negative_slope = std::move(negative_slope);
  p.X.assign(X, X + n * p.width[0]);
  p.Y.assign(Y, Y + n * y_cols);
  p.loss = loss;
  p.precond = std::move(precond);
  for (double v : p.X)
    if (!std::isfinite(v)) throw InvalidInput("X contains NaN or Inf");
  for (double v : p.Y)
    if (!std::isfinite(v)) throw InvalidInput("y contains NaN or Inf");
  return p;
}

namespace {

// log(1 + exp(x)) without overflow.
inline double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

}  // namespace

void loss_terms(Loss loss, const double* F, const double* Y, int64_t n, int64_t k,
                double* sample_loss, double* margin, double* dF) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  switch (loss) {
    case Loss::mse:
      for (int64_t i = 0; i < n; ++i) {
        double s = 0;
        for (int64_t c = 0; c < k; ++c) {
          const double r = F[i * k + c] - Y[i * k + c];
          s += r * r;
          if (dF) dF[i * k + c] = r;
        }
        if (sample_loss) sample_loss[i] = 0.5 * s;
        if (margin) margin[i] = k == 1 ? Y[i] * F[i] : nan;
      }
      return;
    case Loss::logistic:
    case Loss::exp:
      for (int64_t i = 0; i < n; ++i) {
        const double m = Y[i] * F[i];
        if (margin) margin[i] = m;
        if (loss == Loss::logistic) {
          if (sample_loss) sample_loss[i] = softplus(-m);
          // d/dF log(1+exp(-yF)) = -y * sigmoid(-m)
          if (dF) dF[i] = -Y[i] / (1.0 + std::exp(m));
        } else {
          const double e = std::exp(-m);
          if (sample_loss) sample_loss[i] = e;
          if (dF) dF[i] = -Y[i] * e;
        }
      }
      return;
    case Loss::cross_entropy:
      for (int64_t i = 0; i < n; ++i) {
        const double* f = F + i * k;
        const double* y = Y + i * k;
        double mx = f[0];
        int64_t c = 0;
        double ysum = 0;
        for (int64_t j = 0; j < k; ++j) {
          mx = std::max(mx, f[j]);
          if (y[j] > y[c]) c = j;
          ysum += y[j];
        }
        double z = 0;
        for (int64_t j = 0; j < k; ++j) z += std::exp(f[j] - mx);
        const double lse = mx + std::log(z);
        double l = 0, other = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < k; ++j) {
          l += y[j] * (lse - f[j]);
          if (j != c) other = std::max(other, f[j]);
          if (dF) dF[i * k + j] = ysum * std::exp(f[j] - lse) - y[j];
        }
        if (sample_loss) sample_loss[i] = l;
        if (margin) margin[i] = f[c] - other;
      }
      return;
  }
}

}  // namespace regionlab::flow
