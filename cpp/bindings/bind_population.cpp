// The closed-form population loss of two-layer students (regionlab::population).
#include "common.hpp"
#include "regionlab/population/descent.hpp"
#include "regionlab/population/flow.hpp"
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
            const CArray<double>& b, double alpha, double c) {
  if (W.ndim() != 2 || V.ndim() != 2 || W.shape(1) != V.shape(1))
    throw py::value_error("population: W (k, d) and V (k_teacher, d) must share d");
  if (a.ndim() != 1 || a.shape(0) != W.shape(0) || b.ndim() != 1 || b.shape(0) != V.shape(0))
    throw py::value_error("population: a needs one entry per row of W, b one per row of V");
  Args out{population::make_teacher(V.data(), b.data(), V.shape(0), V.shape(1)),
           Student{W.data(), a.data(), W.shape(0), alpha, c}};
  return out;
}

// A batch of runs: W0 (runs, k, d), a0 (runs, k) and the teacher, checked.
struct Batch {
  int64_t runs, n, d;
  Teacher teacher;
};

Batch unpack_batch(const CArray<double>& W0, const CArray<double>& a0, const CArray<double>& V,
                   const CArray<double>& b, const char* what) {
  if (W0.ndim() != 3 || a0.ndim() != 2 || a0.shape(0) != W0.shape(0) || a0.shape(1) != W0.shape(1))
    throw py::value_error(std::string(what) + ": W0 (runs, k, d) and a0 (runs, k)");
  if (V.ndim() != 2 || V.shape(1) != W0.shape(2) || b.ndim() != 1 || b.shape(0) != V.shape(0))
    throw py::value_error(std::string(what) + ": V (k_teacher, d) and b (k_teacher)");
  return Batch{W0.shape(0), W0.shape(1), W0.shape(2),
               population::make_teacher(V.data(), b.data(), V.shape(0), W0.shape(2))};
}

// The runs' end points, stacked: W, a, loss, grad_norm, steps (DescentRun or FlowRun).
template <class Run>
py::dict stack_ends(const std::vector<Run>& out, const Batch& bt) {
  const int64_t runs = bt.runs, n = bt.n, d = bt.d;
  py::array_t<double> W({runs, n, d}), a({runs, n}), loss(runs), gnorm(runs);
  py::array_t<int64_t> steps(runs);
  for (int64_t r = 0; r < runs; ++r) {
    const auto& run = out[size_t(r)];
    std::copy(run.W.begin(), run.W.end(), W.mutable_data() + r * n * d);
    std::copy(run.a.begin(), run.a.end(), a.mutable_data() + r * n);
    loss.mutable_data()[r] = run.loss;
    gnorm.mutable_data()[r] = run.grad_norm;
    steps.mutable_data()[r] = run.steps;
  }
  py::array_t<double> c(runs);
  for (int64_t r = 0; r < runs; ++r) c.mutable_data()[r] = out[size_t(r)].c;
  py::dict res;
  res["W"] = W; res["a"] = a; res["c"] = c; res["loss"] = loss; res["grad_norm"] = gnorm;
  res["steps"] = steps;
  return res;
}

// The records of a single run (DescentRun or FlowRun: loss, gradient norm, W, a, c).
template <class Run>
void put_records(py::dict& res, const Run& run, py::ssize_t k, int64_t n, int64_t d) {
  res["rec_loss"] = as_array(run.rec_loss, {k});
  res["rec_grad_norm"] = as_array(run.rec_grad_norm, {k});
  res["rec_W"] = as_array(run.rec_W, {k, n, d});
  res["rec_a"] = as_array(run.rec_a, {k, n});
  res["rec_c"] = as_array(run.rec_c, {k});
}

}  // namespace

void bind_population(py::module_& m) {
  m.def(
      "population_flow",
      [](const CArray<double>& W0, const CArray<double>& a0, const CArray<double>& V,
         const CArray<double>& b, double alpha, double t_end, double rtol, double atol,
         bool train_a, int64_t max_steps, std::vector<double> record_times, int threads,
         double c0, bool train_c) {
        const Batch bt = unpack_batch(W0, a0, V, b, "population_flow");
        const int64_t runs = bt.runs, n = bt.n, d = bt.d;
        const Teacher& t = bt.teacher;
        population::FlowOptions opt;
        opt.t_end = t_end;
        opt.rtol = rtol;
        opt.atol = atol;
        opt.train_a = train_a;
        opt.c0 = c0;
        opt.train_c = train_c;
        opt.max_steps = max_steps;
        opt.record_times = std::move(record_times);
        std::vector<population::FlowRun> out;
        {
          py::gil_scoped_release release;
          out = population::flow_many(t, W0.data(), a0.data(), runs, n, alpha, opt,
                                      threads > 0 ? threads : num_threads(), python_interrupt_check());
        }
        py::dict res = stack_ends(out, bt);
        py::array_t<int64_t> evals(runs);
        for (int64_t r = 0; r < runs; ++r) evals.mutable_data()[r] = out[size_t(r)].evaluations;
        res["evaluations"] = evals;
        if (runs == 1) {
          const auto& run = out[0];
          const auto k = py::ssize_t(run.rec_t.size());
          res["rec_t"] = as_array(run.rec_t, {k});
          put_records(res, run, k, n, d);
          res["rejected"] = run.rejected;
        }
        return res;
      },
      py::arg("W0"), py::arg("a0"), py::arg("V"), py::arg("b"), py::arg("alpha"), py::arg("t_end"),
      py::arg("rtol"), py::arg("atol"), py::arg("train_a"), py::arg("max_steps"),
      py::arg("record_times"), py::arg("threads"), py::arg("c0") = 0.0, py::arg("train_c") = false,
      "Gradient flow on the population loss (adaptive Dormand-Prince), runs over threads.");
  m.def(
      "population_descend",
      [](const CArray<double>& W0, const CArray<double>& a0, const CArray<double>& V,
         const CArray<double>& b, double alpha, double lr, int64_t max_steps, double tol,
         bool train_a, int64_t record_every, int threads, double c0, bool train_c) {
        const Batch bt = unpack_batch(W0, a0, V, b, "population_descend");
        const int64_t runs = bt.runs, n = bt.n, d = bt.d;
        const Teacher& t = bt.teacher;
        population::DescentOptions opt;
        opt.lr = lr;
        opt.max_steps = max_steps;
        opt.tol = tol;
        opt.train_a = train_a;
        opt.c0 = c0;
        opt.train_c = train_c;
        opt.record_every = record_every;
        std::vector<population::DescentRun> out;
        {
          py::gil_scoped_release release;
          out = population::descend_many(t, W0.data(), a0.data(), runs, n, alpha, opt,
                                         threads > 0 ? threads : num_threads(),
                                         python_interrupt_check());
        }
        py::dict res = stack_ends(out, bt);
        py::array_t<bool> converged(runs);
        for (int64_t r = 0; r < runs; ++r) converged.mutable_data()[r] = out[size_t(r)].converged;
        res["converged"] = converged;
        if (runs == 1) {  // the records of a single run
          const auto& run = out[0];
          const auto k = py::ssize_t(run.rec_step.size());
          res["rec_step"] = py::array_t<int64_t>(k, run.rec_step.data());
          put_records(res, run, k, n, d);
        }
        return res;
      },
      py::arg("W0"), py::arg("a0"), py::arg("V"), py::arg("b"), py::arg("alpha"), py::arg("lr"),
      py::arg("max_steps"), py::arg("tol"), py::arg("train_a"), py::arg("record_every"),
      py::arg("threads"), py::arg("c0") = 0.0, py::arg("train_c") = false,
      "Gradient descent on the population loss, runs spread over threads.");
  m.def(
      "population_gradient",
      [](const CArray<double>& W, const CArray<double>& a, const CArray<double>& V,
         const CArray<double>& b, double alpha, double c) {
        Args args = unpack(W, a, V, b, alpha, c);
        py::array_t<double> gW({W.shape(0), W.shape(1)}), ga(W.shape(0));
        double F, gc = 0;
        {
          py::gil_scoped_release release;
          F = population::gradient(args.teacher, args.student, gW.mutable_data(), ga.mutable_data(), &gc);
        }
        return py::make_tuple(F, gW, ga, gc);
      },
      py::arg("W"), py::arg("a"), py::arg("V"), py::arg("b"), py::arg("alpha"), py::arg("c") = 0.0,
      "(loss, dF/dW, dF/da, dF/dc) of the population loss.");
  m.def(
      "population_hessian",
      [](const CArray<double>& W, const CArray<double>& a, const CArray<double>& V,
         const CArray<double>& b, double alpha, double c) {
        Args args = unpack(W, a, V, b, alpha, c);
        const int64_t N = W.shape(0) * W.shape(1);
        py::array_t<double> H({N, N});
        {
          py::gil_scoped_release release;
          population::hessian(args.teacher, args.student, H.mutable_data());
        }
        return H;
      },
      py::arg("W"), py::arg("a"), py::arg("V"), py::arg("b"), py::arg("alpha"), py::arg("c") = 0.0,
      "d^2F/dW^2 of the population loss, W flattened row-major.");
}

}  // namespace regionlab::bindings
