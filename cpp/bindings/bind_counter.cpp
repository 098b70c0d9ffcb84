#include <memory>
#include <optional>
#include <vector>

#include "common.hpp"
#include "regionlab/counter.hpp"

namespace regionlab::bindings {

namespace {

template <class T>
void bind_counter_type(py::module_& m, const char* name) {
  using Counter = PatternCounter<T>;
  py::class_<Counter>(m, name)
      .def(py::init([](std::shared_ptr<Network<T>> net, bool with_table, bool store_patterns,
                       int64_t max_patterns) {
             if (max_patterns <= 0) throw py::value_error("max_patterns must be positive");
             return std::make_unique<Counter>(
                 net, CountOptions{with_table, store_patterns, max_patterns});
           }),
           py::arg("net").none(false), py::arg("with_table"), py::arg("store_patterns"),
           py::arg("max_patterns"))
      .def(
          "add",
          [](Counter& c, const CArray<T>& X, bool return_ids) -> py::object {
            const T* x = checked_matrix(X, c.network().input_dim(), "count_patterns");
            const int64_t n = X.shape(0);
            if (return_ids && !c.table())
              throw py::value_error("this counter keeps no ids (create it with with_table=True)");
            std::optional<py::array_t<int64_t>> ids;
            int64_t* id_ptr = nullptr;
            if (return_ids) {
              ids.emplace(py::ssize_t(n));
              id_ptr = ids->mutable_data();
            }
            {
              py::gil_scoped_release release;
              c.add(x, n, id_ptr, python_interrupt_check());
            }
            if (ids) return *ids;
            return py::none();
          },
          py::arg("X"), py::arg("return_ids") = false)
      .def_property_readonly("n_samples", [](const Counter& c) { return idle(c).n_samples(); })
      .def_property_readonly("n_patterns", [](const Counter& c) { return idle(c).n_patterns(); })
      .def_property_readonly("n_patterns_per_layer",
                             [](const Counter& c) { return idle(c).n_patterns_per_layer(); })
      .def_property_readonly("memory_bytes", [](const Counter& c) { return idle(c).memory_bytes(); })
      .def("counts",
           [](const Counter& c) -> py::object {
             const PatternTable* t = idle(c).table();
             return t ? py::object(to_array(t->counts())) : py::none();
           })
      .def("first_index",
           [](const Counter& c) -> py::object {
             const PatternTable* t = idle(c).table();
             return t ? py::object(to_array(t->first_index())) : py::none();
           })
      .def("patterns", [](const Counter& c) -> py::object {
        const PatternTable* t = idle(c).table();
        if (!t || !t->key_words()) return py::none();
        py::array_t<uint64_t> out({t->size(), t->key_words()});
        std::copy(t->keys().begin(), t->keys().end(), out.mutable_data());
        return out;
      });
}

}  // namespace

void bind_counter(py::module_& m) {
  bind_counter_type<float>(m, "PatternCounter32");
  bind_counter_type<double>(m, "PatternCounter64");
}

}  // namespace regionlab::bindings
