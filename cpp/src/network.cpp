#include "regionlab/network.hpp"

#include <algorithm>
#include <string>

#include "regionlab/errors.hpp"

namespace regionlab {

template <class T>
Network<T>::Network(const std::vector<const T*>& weights, const std::vector<const T*>& biases,
                    const std::vector<const double*>& slopes, const std::vector<int64_t>& widths,
                    const std::vector<std::vector<int64_t>>& group_offsets,
                    const std::vector<std::vector<int32_t>>& group_index,
                    const std::vector<std::shared_ptr<const LinearOperator<T>>>& ops)
    : widths_(widths), ops_(ops) {
  const size_t n = weights.size();
  if (n == 0 || biases.size() != n || slopes.size() != n || widths.size() != n + 1)
    throw InvalidInput("Network: need one weight, bias and slope array per stage");
  if (!(group_offsets.empty() || group_offsets.size() == n) ||
      group_index.size() != group_offsets.size())
    throw InvalidInput("Network: need one (possibly empty) group list per stage");
  group_offsets_ = group_offsets;
  group_index_ = group_index;
  group_offsets_.resize(n);
  group_index_.resize(n);
  group_bits_.resize(n);
  if (!(ops_.empty() || ops_.size() == n))
    throw InvalidInput("Network: need one (possibly null) linear operator per stage");
  ops_.resize(n);
  weight_.resize(n);
  bias_.resize(n);
  slope_.resize(n);
  kinked_.resize(n);
  stage_views_.resize(n);
  int64_t bits = 0, last_kinked_stage = -1;
  for (size_t k = 0; k < n; ++k) {
    const int64_t in = k == 0 ? widths[0] : stage_width(stage_views_[k - 1]), out = widths[k + 1];
    if (in <= 0 || out <= 0) throw InvalidInput("Network: every layer needs at least one unit");
    if (ops_[k] && (ops_[k]->in_dim() != in || ops_[k]->out_dim() != out))
      throw InvalidInput("Network: stage " + std::to_string(k) + "'s linear operator has the wrong shape");
    if (!ops_[k]) weight_[k].assign(weights[k], weights[k] + in * out);
    bias_[k].assign(biases[k], biases[k] + out);
    slope_[k].resize(size_t(out));
    bool all_relu = true;
    for (int64_t j = 0; j < out; ++j) {
      slope_[k][size_t(j)] = T(slopes[k][j]);
      if (slopes[k][j] != 1.0) kinked_[k].push_back(int32_t(j));
      if (slopes[k][j] != 0.0) all_relu = false;
    }
    StageView<T>& v = stage_views_[k];
    const std::vector<int64_t>& offs = group_offsets_[k];
    const std::vector<int32_t>& idx = group_index_[k];
    v.n_groups = offs.empty() ? 0 : int64_t(offs.size()) - 1;
    v.group_offsets = v.n_groups > 0 ? offs.data() : nullptr;
    v.group_index = v.n_groups > 0 ? idx.data() : nullptr;
    v.group_bits = nullptr;
    if (v.n_groups > 0) {
      has_max_groups_ = true;
      if (offs.front() != 0 || offs.back() != int64_t(idx.size()))
        throw InvalidInput("Network: group offsets must start at 0 and end at the index count");
      for (int64_t g = 0; g < v.n_groups; ++g) {
        if (offs[size_t(g) + 1] <= offs[size_t(g)])
          throw InvalidInput("Network: every max group needs at least one candidate");
        group_bits_[k].push_back(bits_for_candidates(offs[size_t(g) + 1] - offs[size_t(g)]));
      }
      for (int32_t i : idx)
        if (i < 0 || i >= out) throw InvalidInput("Network: a max group candidate is out of range");
      v.group_bits = group_bits_[k].data();
      kinked_[k].clear();
    }
    v.weight = ops_[k] ? nullptr : weight_[k].data();
    v.op = ops_[k].get();
    v.bias = bias_[k].data();
    v.slope = slope_[k].data();
    v.in = in;
    v.out = out;
    v.n_kinked = int64_t(kinked_[k].size());
    v.kinked = v.n_kinked == out ? nullptr : kinked_[k].data();
    if (v.n_groups > 0) {  // pattern bits: the winners' indices; no slopes apply
      v.n_kinked = 0;
      for (int32_t b : group_bits_[k]) v.n_kinked += b;
      v.kinked = nullptr;
      all_relu = false;
    }
    v.bit_offset = bits;
    v.all_relu = all_relu;
    bits += v.n_kinked;
    if (v.n_kinked > 0) {
      prefix_bits_.push_back(bits);
      last_kinked_stage = int64_t(k);
    }
  }
  view_ = NetView<T>{stage_views_.data(), int64_t(n), bits, std::max<int64_t>(1, (bits + 63) / 64)};
  pattern_view_ = view_;
  pattern_view_.n_stages = last_kinked_stage + 1;
}

template <class T>
int64_t Network<T>::max_width() const {
  // a max stage's groups can outnumber its affine outputs (overlapping pool windows)
  int64_t w = *std::max_element(widths_.begin() + 1, widths_.end());
  for (const StageView<T>& st : stage_views_) w = std::max(w, st.n_groups);
  return w;
}

template class Network<float>;
template class Network<double>;

}  // namespace regionlab
