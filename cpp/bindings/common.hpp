// Helpers shared by the binding files: array checks and the Ctrl-C hook.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "regionlab/parallel.hpp"

namespace regionlab::bindings {

namespace py = pybind11;

template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// Polled by the core's calling thread between blocks (it holds no GIL there).
inline InterruptCheck python_interrupt_check() {
  return [] {
    // Never take the GIL while the interpreter shuts down (it would end this thread).
#if PY_VERSION_HEX >= 0x030D0000
    if (Py_IsFinalizing()) return false;
#else
    if (_Py_IsFinalizing()) return false;
#endif
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
  };
}

template <class T>
const T* checked_matrix(const CArray<T>& X, int64_t cols, const char* what) {
  if (X.ndim() != 2 || X.shape(1) != cols)
    throw py::value_error(std::string(what) + ": expected a 2-D array with " +
                          std::to_string(cols) + " columns");
  return X.data();
}

// A vector as a 1-D array (a copy).
template <class V>
py::array_t<typename V::value_type> to_array(const V& v) {
  py::array_t<typename V::value_type> out(py::ssize_t(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

// Hands the vector's buffer to numpy without copying (large partitions are most of memory).
template <class T>
py::array_t<T> to_array(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule free_when_done(owned, [](void* ptr) { delete static_cast<std::vector<T>*>(ptr); });
  return py::array_t<T>(shape, owned->data(), free_when_done);
}

// A vector of doubles as an array of `shape` (a copy).
inline py::array_t<double> as_array(const std::vector<double>& v, std::vector<py::ssize_t> shape) {
  py::array_t<double> out(shape);
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

// A counter, unless another thread is inside add() (which runs without the GIL).
template <class Counter>
const Counter& idle(const Counter& c) {
  if (c.busy()) throw py::value_error("this PatternCounter is being filled by another thread");
  return c;
}

void bind_network(py::module_& m);
void bind_counter(py::module_& m);
void bind_geometry(py::module_& m);
void bind_regions(py::module_& m);
void bind_flow(py::module_& m);
void bind_population(py::module_& m);
// Only in builds with REGIONLAB_CUDA=ON (cpp/bindings/bind_cuda.cpp).
void bind_cuda(py::module_& m);

}  // namespace regionlab::bindings
