// The population loss of a two-layer student under Gaussian inputs, in closed form.
//
// Student f(x) = sum_i a_i s(w_i . x) with s(z) = z (z > 0) or alpha z (leaky ReLU; alpha = 0:
// ReLU); teacher g(x) = sum_j b_j relu(v_j . x); x ~ N(0, I_d). The loss
// F = 1/2 E[(f - g)^2] is a sum of arc-cosine kernels
//   k(w, v) = E[relu(w.x) relu(v.x)] = |w||v| (sin t + (pi - t) cos t) / (2 pi),  t = angle(w, v)
// with E[s(w.x) relu(v.x)] = (1-alpha) k(w, v) + alpha w.v / 2 and
// E[s(w.x) s(w'.x)] = (1-alpha)^2 k(w, w') + alpha w.w'.
//
// Where the kernel is not smooth: a zero weight vector contributes nothing to any
// derivative (relu'(0) = 0, torch's convention: E[1{0 > 0} ...] = 0); at parallel or
// antiparallel vectors (t = 0 or pi) the derivatives are their limits, which exist (the
// second-derivative term that would need a direction there has a factor sin t -> 0).
#pragma once
#include <cstdint>
#include <vector>

namespace regionlab::population {

struct Teacher {
  int64_t k = 0, d = 0;
  std::vector<double> V;  // k x d, row-major: the rows v_j
  std::vector<double> b;  // k output weights
  double self_term = 0;   // 1/2 sum_jj' b_j b_j' k(v_j, v_j'): the loss at a zero student
};

Teacher make_teacher(const double* V, const double* b, int64_t k, int64_t d);

// Student: W (n x d, row-major), a (n), leaky slope alpha.
struct Student {
  const double* W;
  const double* a;
  int64_t n;
  double alpha;
  double c = 0;  // output bias: f(x) = sum_i a_i s(w_i . x) + c
};

double loss(const Teacher& t, const Student& s);
// Returns the loss; gW (n x d), ga (n) and gc (1) receive dF/dW, dF/da and dF/dc when
// non-null. With an output bias c: F gains c E[f - g] + c^2 / 2, E[s(w.x)] = (1 - alpha)
// |w| / sqrt(2 pi), E[relu(v.x)] = |v| / sqrt(2 pi).
double gradient(const Teacher& t, const Student& s, double* gW, double* ga, double* gc = nullptr);
// d^2 F / dW^2, (n d) x (n d) row-major, W flattened row-major (a held fixed).
void hessian(const Teacher& t, const Student& s, double* H);

}  // namespace regionlab::population
