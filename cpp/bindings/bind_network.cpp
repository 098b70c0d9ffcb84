#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "regionlab/evaluate.hpp"
#include "regionlab/network.hpp"

namespace regionlab::bindings {

namespace {

template <class T>
std::shared_ptr<Network<T>> make_network(const std::vector<CArray<T>>& weights,
                                         const std::vector<CArray<T>>& biases,
                                         const std::vector<CArray<double>>& slopes,
                                         const std::vector<CArray<int64_t>>& group_offsets,
                                         const std::vector<CArray<int32_t>>& group_index) {
  const size_t n = weights.size();
  if (n == 0 || biases.size() != n || slopes.size() != n)
    throw py::value_error("Network: need one weight, bias and slope array per stage");
  if (!(group_offsets.empty() || (group_offsets.size() == n && group_index.size() == n)))
    throw py::value_error("Network: need one group offsets and index array per stage");
  std::vector<std::vector<int64_t>> offs(group_offsets.size());
  std::vector<std::vector<int32_t>> idx(group_index.size());
  for (size_t k = 0; k < group_offsets.size(); ++k) {
    if (group_offsets[k].ndim() != 1 || group_index[k].ndim() != 1)
      throw py::value_error("Network: group offsets and indices must be 1-D");
    offs[k].assign(group_offsets[k].data(), group_offsets[k].data() + group_offsets[k].shape(0));
    idx[k].assign(group_index[k].data(), group_index[k].data() + group_index[k].shape(0));
    if (offs[k].size() == 1) offs[k].clear();  // [0]: no groups, a slope stage
  }
  int64_t prev_width = -1;  // units the previous stage passes on
  std::vector<const T*> w, b;
  std::vector<const double*> s;
  std::vector<int64_t> widths;
  for (size_t k = 0; k < n; ++k) {
    if (weights[k].ndim() != 2) throw py::value_error("Network: weights must be 2-D (out, in)");
    const int64_t out = weights[k].shape(0), in = weights[k].shape(1);
    if (k == 0) widths.push_back(in);
    else if (in != prev_width)
      throw py::value_error("Network: stage " + std::to_string(k) + " takes " +
                            std::to_string(in) + " inputs, previous stage gives " +
                            std::to_string(prev_width));
    prev_width = k < offs.size() && !offs[k].empty() ? int64_t(offs[k].size()) - 1 : out;
    if (biases[k].ndim() != 1 || biases[k].shape(0) != out || slopes[k].ndim() != 1 ||
        slopes[k].shape(0) != out)
      throw py::value_error("Network: stage " + std::to_string(k) +
                            " bias and slopes must have one entry per output");
    widths.push_back(out);
    w.push_back(weights[k].data());
    b.push_back(biases[k].data());
    s.push_back(slopes[k].data());
  }
  return std::make_shared<Network<T>>(w, b, s, widths, offs, idx);
}

template <class T>
void bind_network_type(py::module_& m, const char* name) {
  py::class_<Network<T>, std::shared_ptr<Network<T>>>(m, name)
      .def(py::init(&make_network<T>), py::arg("weights"), py::arg("biases"), py::arg("slopes"),
           py::arg("group_offsets") = std::vector<CArray<int64_t>>{},
           py::arg("group_index") = std::vector<CArray<int32_t>>{})
      .def_property_readonly("input_dim", &Network<T>::input_dim)
      .def_property_readonly("output_dim", &Network<T>::output_dim)
      .def_property_readonly("n_bits", &Network<T>::n_bits)
      .def_property_readonly("n_words", &Network<T>::n_words)
      .def(
          "forward",
          [](const Network<T>& net, const CArray<T>& X) {
            const T* x = checked_matrix(X, net.input_dim(), "forward");
            const int64_t n = X.shape(0);
            py::array_t<T> out({n, net.output_dim()});
            T* o = out.mutable_data();
            {
              py::gil_scoped_release release;
              forward(net, x, n, o, python_interrupt_check());
            }
            return out;
          },
          py::arg("X"))
      .def(
          "patterns",
          [](const Network<T>& net, const CArray<T>& X) {
            const T* x = checked_matrix(X, net.input_dim(), "patterns");
            const int64_t n = X.shape(0);
            py::array_t<uint64_t> keys({n, net.n_words()});
            uint64_t* k = keys.mutable_data();
            {
              py::gil_scoped_release release;
              patterns(net, x, n, k, python_interrupt_check());
            }
            return keys;
          },
          py::arg("X"), "Packed patterns (n, n_words) uint64, bit i of word k = neuron 64k+i.");
}

}  // namespace

void bind_network(py::module_& m) {
  bind_network_type<float>(m, "Network32");
  bind_network_type<double>(m, "Network64");
}

}  // namespace regionlab::bindings
