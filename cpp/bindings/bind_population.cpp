// The closed-form population loss of two-layer students (regionlab::population).
#include "common.hpp"
#include "regionlab/population/kernel.hpp"

namespace regionlab::bindings {

namespace {

using population::Student;
using population::Teacher;

struct Args {
  Teacher teacher;
  Student student;
};

Args unpack(const CArray<double>& W, const CArray<double>& a, const CArray<double>& V,
            const CArray<double>& b, double alpha) {
  if (W.ndim() != 2 || V.ndim() != 2 || W.shape(1) != V.shape(1))
    throw py::value_error("population: W (k, d) and V (k_teacher, d) must share d");
  if (a.ndim() != 1 || a.shape(0) != W.shape(0) || b.ndim() != 1 || b.shape(0) != V.shape(0))
    throw py::value_error("population: a needs one entry per row of W, b one per row of V");
  Args out{population::make_teacher(V.data(), b.data(), V.shape(0), V.shape(1)),
           Student{W.data(), a.data(), W.shape(0), alpha}};
  return out;
}

}  // namespace

void bind_population(py::module_& m) {
  m.def(
      "population_gradient",
      [](const CArray<double>& W, const CArray<double>& a, const CArray<double>& V,
         const CArray<double>& b, double alpha) {
        Args args = unpack(W, a, V, b, alpha);
        py::array_t<double> gW({W.shape(0), W.shape(1)}), ga(W.shape(0));
        double F;
        {
          py::gil_scoped_release release;
          F = population::gradient(args.teacher, args.student, gW.mutable_data(), ga.mutable_data());
        }
        return py::make_tuple(F, gW, ga);
      },
      py::arg("W"), py::arg("a"), py::arg("V"), py::arg("b"), py::arg("alpha"),
      "(loss, dF/dW, dF/da) of the population loss.");
  m.def(
      "population_hessian",
      [](const CArray<double>& W, const CArray<double>& a, const CArray<double>& V,
         const CArray<double>& b, double alpha) {
        Args args = unpack(W, a, V, b, alpha);
        const int64_t N = W.shape(0) * W.shape(1);
        py::array_t<double> H({N, N});
        {
          py::gil_scoped_release release;
          population::hessian(args.teacher, args.student, H.mutable_data());
        }
        return H;
      },
      py::arg("W"), py::arg("a"), py::arg("V"), py::arg("b"), py::arg("alpha"),
      "d^2F/dW^2 of the population loss, W flattened row-major.");
}

}  // namespace regionlab::bindings
