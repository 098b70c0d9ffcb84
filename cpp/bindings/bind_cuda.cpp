// regionlab._core's CUDA part (compiled only with REGIONLAB_CUDA=ON): device queries and
// CudaPatternCounter32/64. Marshalling, GIL release and error mapping only.
#include <cstdint>
#include <memory>
#include <optional>

#include "common.hpp"
#include "regionlab/cuda_counter.hpp"

namespace regionlab::bindings {

namespace {

template <class T>
void bind_cuda_counter(py::module_& m, const char* name) {
  using Counter = cuda::CudaPatternCounter<T>;
  auto add = [](Counter& c, const T* x, int64_t n, bool return_ids, bool on_device) -> py::object {
    if (return_ids && !c.has_table())
      throw py::value_error("this counter keeps no ids (create it with with_table=True)");
    std::optional<py::array_t<int64_t>> ids;
    int64_t* id_ptr = nullptr;
    if (return_ids) {
      ids.emplace(py::ssize_t(n));
      id_ptr = ids->mutable_data();
    }
    {
      py::gil_scoped_release release;
      if (on_device)
        c.add_device(x, n, id_ptr, python_interrupt_check());
      else
        c.add_host(x, n, id_ptr, python_interrupt_check());
    }
    if (ids) return *ids;
    return py::none();
  };
  py::class_<Counter>(m, name)
      .def(py::init([](std::shared_ptr<Network<T>> net, bool with_table, bool store_patterns,
                       int64_t max_patterns, int device, int64_t batch_rows) {
             if (max_patterns <= 0) throw py::value_error("max_patterns must be positive");
             py::gil_scoped_release release;
             return std::make_unique<Counter>(net, CountOptions{with_table, store_patterns, max_patterns},
                                              device, batch_rows);
           }),
           py::arg("net").none(false), py::arg("with_table"), py::arg("store_patterns"),
           py::arg("max_patterns"), py::arg("device") = 0, py::arg("batch_rows") = 0)
      .def(
          "add",
          [add](Counter& c, const CArray<T>& X, bool return_ids) {
            const T* x = checked_matrix(X, c.network().input_dim(), "count_patterns");
            return add(c, x, X.shape(0), return_ids, false);
          },
          py::arg("X"), py::arg("return_ids") = false,
          "Counts a host array (copied to the device in batches).")
      .def(
          "add_device",
          [add](Counter& c, uintptr_t ptr, int64_t n, bool return_ids) {
            if (n < 0) throw py::value_error("add_device: n must be >= 0");
            if (n > 0 && ptr == 0) throw py::value_error("add_device: null pointer");
            if (n == 0) return py::object(py::none());
            return add(c, reinterpret_cast<const T*>(ptr), n, return_ids, true);
          },
          py::arg("ptr"), py::arg("n"), py::arg("return_ids") = false,
          "Counts n rows at a device address (row-major, input_dim columns, this counter's dtype "
          "and device), read in place.")
      .def_property_readonly("n_samples", [](const Counter& c) { return idle(c).n_samples(); })
      .def_property_readonly("n_patterns", [](const Counter& c) { return idle(c).n_patterns(); })
      .def_property_readonly("n_patterns_per_layer",
                             [](const Counter& c) { return idle(c).n_patterns_per_layer(); })
      .def_property_readonly("memory_bytes", [](const Counter& c) { return idle(c).memory_bytes(); })
      .def_property_readonly("batch_rows", [](const Counter& c) { return c.batch_rows(); })
      .def("counts",
           [](const Counter& c) -> py::object {
             if (!idle(c).has_table()) return py::none();
             return to_array(c.counts());
           })
      .def("first_index",
           [](const Counter& c) -> py::object {
             if (!idle(c).has_table()) return py::none();
             return to_array(c.first_index());
           })
      .def("patterns", [](const Counter& c) -> py::object {
        if (!idle(c).key_words()) return py::none();
        const std::vector<uint64_t> keys = c.patterns();
        py::array_t<uint64_t> out({py::ssize_t(c.n_patterns()), py::ssize_t(c.key_words())});
        std::copy(keys.begin(), keys.end(), out.mutable_data());
        return out;
      });
}

}  // namespace

void bind_cuda(py::module_& m) {
  m.def("cuda_device_count", &cuda::device_count,
        "Visible CUDA devices (0 when there is no driver or no device).");
  m.def("cuda_status", &cuda::device_status, "Why no CUDA device is usable, or ''.");
  m.def("cuda_device_name", &cuda::device_name, py::arg("device") = 0);
  m.def(
      "cuda_memory",
      [](int device) {
        const cuda::DeviceMemory mem = cuda::device_memory(device);
        return py::make_tuple(mem.free_bytes, mem.total_bytes);
      },
      py::arg("device") = 0, "(free, total) bytes of a device.");
  m.def("cuda_allocated_bytes", &cuda::allocated_bytes, "Device bytes regionlab holds now.");
  m.def("cuda_peak_bytes", &cuda::peak_bytes, "Most device bytes regionlab held since the last reset.");
  m.def("cuda_reset_peak_bytes", &cuda::reset_peak_bytes);
  bind_cuda_counter<float>(m, "CudaPatternCounter32");
  bind_cuda_counter<double>(m, "CudaPatternCounter64");
}

}  // namespace regionlab::bindings
