// A gradient-flow problem: an MLP's trainable parameters as one flat float64 vector, the
// data, the loss and the per-parameter preconditioner that encodes the parameterization.
#pragma once
#include <cstdint>
#include <vector>

namespace regionlab::flow {

enum class Loss { mse = 0, logistic = 1, exp = 2, cross_entropy = 3 };

// Layer l maps width[l] -> width[l+1]: z = W a + b, then a' = z (z > 0) or slope*z.
// theta holds, layer by layer, W (row-major, out x in) then b (when the layer has one),
// the order of a torch Sequential's state_dict.
struct FlowProblem {
  int64_t n = 0;                       // samples
  std::vector<int64_t> width;          // width[0] = input dim, width.back() = output dim
  std::vector<uint8_t> has_bias;       // per layer
  std::vector<std::vector<double>> negative_slope;  // per layer, per neuron (1 = no kink)
  std::vector<int64_t> w_offset, b_offset;          // into theta; b_offset -1 without bias
  int64_t n_params = 0;
  std::vector<double> X;               // n x width[0], row-major
  std::vector<double> Y;               // n x width.back() (mse, cross_entropy one-hot) or n x 1
  Loss loss = Loss::mse;
  std::vector<double> precond;         // d theta/dt = -precond * grad L (diagonal)
  // Tied entries: several entries of theta driven by one parameter of the source model,
  // entry = const + coef * parameter (a convolution's weight, a module used twice). Class c
  // holds tie_members[tie_offsets[c] .. tie_offsets[c+1]) with coefficients tie_coef (same
  // positions), and moves as its parameter: d entry/dt = -tie_precond[c] coef sum_m coef_m
  // dL/d entry_m. Members have precond 1 (apply_ties() turns -grad into that). Empty: none.
  std::vector<int64_t> tie_offsets, tie_members;
  std::vector<double> tie_coef, tie_precond;

  int64_t n_layers() const { return int64_t(width.size()) - 1; }
  int64_t out_dim() const { return width.back(); }
  int64_t max_width() const;
  bool kinked(int64_t layer, int64_t neuron) const {
    return negative_slope[layer][neuron] != 1.0;
  }
  bool has_ties() const { return tie_offsets.size() > 1; }
};

// v holds -precond * grad L (what the kernel writes); on each tie class, replaces the
// members' entries by the class's field (see FlowProblem::tie_offsets). Linear in v.
void apply_ties(const FlowProblem& p, double* v);

// Sets p's tie classes, checking them (members in range and distinct, precond 1 there).
void set_ties(FlowProblem& p, std::vector<int64_t> offsets, std::vector<int64_t> members,
              std::vector<double> coef, std::vector<double> class_precond);

// Builds offsets and checks sizes; throws InvalidInput with a message on bad input.
FlowProblem make_problem(std::vector<int64_t> width, std::vector<uint8_t> has_bias,
                         std::vector<std::vector<double>> negative_slope, const double* X,
                         int64_t n, const double* Y, int64_t y_cols, Loss loss,
                         std::vector<double> precond);

// Per-sample loss l_i, margin, and dl_i/dF (when dF is non-null) for outputs F (n x k).
// mse: 1/2 |F-Y|^2, margin y*f when k == 1 (else NaN); logistic: log(1+exp(-y f));
// exp: exp(-y f); margins y*f; cross_entropy: -sum_k Y_k log softmax_k, margin
// F_c - max_{k != c} F_k with c = argmax Y. sample_loss / margin may be null (skipped).
void loss_terms(Loss loss, const double* F, const double* Y, int64_t n, int64_t k,
                double* sample_loss, double* margin, double* dF);

}  // namespace regionlab::flow
