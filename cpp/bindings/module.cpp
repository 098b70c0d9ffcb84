// regionlab._core: marshalling, GIL release and error mapping only.
#include <pybind11/pybind11.h>

#include "common.hpp"
#include "regionlab/errors.hpp"
#include "regionlab/kernels.hpp"

namespace py = pybind11;
using namespace regionlab;

PYBIND11_MODULE(_core, m) {
  m.doc() = "regionlab's C++ core (internal; use the regionlab package)";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Interrupted&) {
      // PyErr_CheckSignals already set KeyboardInterrupt (or the handler's exception).
      if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    } catch (const InvalidInput& e) {
      // A KeyboardInterrupt raised while the workers stopped takes precedence.
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const LimitExceeded& e) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  m.def("isa", [] { return std::string(isa_name(active_isa())); },
        "Instruction set the kernels run with: generic, avx2 or avx512.");
  m.def(
      "set_isa",
      [](const std::string& name) {
        for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512})
          if (name == isa_name(isa)) return set_isa(isa);
        throw py::value_error("unknown instruction set '" + name + "'; use generic, avx2 or avx512");
      },
      "Force an instruction set; returns False when this CPU lacks it.");
  m.def("num_threads", &num_threads, "Threads the core uses.");
  m.def("set_num_threads", &set_num_threads, "Set the core's thread count (<= 0: default).");

  regionlab::bindings::bind_network(m);
  regionlab::bindings::bind_counter(m);
  regionlab::bindings::bind_geometry(m);
  regionlab::bindings::bind_regions(m);
  regionlab::bindings::bind_flow(m);
  regionlab::bindings::bind_population(m);
#ifdef REGIONLAB_WITH_CUDA
  regionlab::bindings::bind_cuda(m);
#endif
}
