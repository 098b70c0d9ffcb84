// regionlab._core flow functions: gradient flow, gradient descent, per-sample gradients.
#include <memory>

#include "common.hpp"
#include "regionlab/flow/batch_gradient.hpp"
#include "regionlab/flow/integrate.hpp"
#include "regionlab/flow/sample_ops.hpp"

namespace regionlab::bindings {

namespace {

using flow::FlowProblem;
using flow::FlowResult;

template <class V>
py::array_t<typename V::value_type> vec_to_array(const V& v) {
  py::array_t<typename V::value_type> out(py::ssize_t(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

py::array_t<double> rows_to_array(const std::vector<double>& v, int64_t cols) {
  const int64_t rows = cols > 0 ? int64_t(v.size()) / cols : 0;
  py::array_t<double> out({py::ssize_t(rows), py::ssize_t(cols)});
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

py::dict result_to_dict(const FlowProblem& p, const FlowResult& r) {
  py::dict d;
  d["t"] = vec_to_array(r.t);
  d["loss"] = vec_to_array(r.loss);
  d["params"] = rows_to_array(r.params, p.n_params);
  d["sample_loss"] = rows_to_array(r.sample_loss, p.n);
  d["margin"] = rows_to_array(r.margin, p.n);
  d["ev_time"] = vec_to_array(r.ev_time);
  d["ev_sample"] = vec_to_array(r.ev_sample);
  d["ev_layer"] = vec_to_array(r.ev_layer);
  d["ev_neuron"] = vec_to_array(r.ev_neuron);
  d["ev_state"] = vec_to_array(r.ev_state);
  d["sl_sample"] = vec_to_array(r.sl_sample);
  d["sl_layer"] = vec_to_array(r.sl_layer);
  d["sl_neuron"] = vec_to_array(r.sl_neuron);
  d["sl_start"] = vec_to_array(r.sl_start);
  d["sl_end"] = vec_to_array(r.sl_end);
  d["rep_time"] = vec_to_array(r.rep_time);
  d["rep_sample"] = vec_to_array(r.rep_sample);
  d["rep_layer"] = vec_to_array(r.rep_layer);
  d["rep_neuron"] = vec_to_array(r.rep_neuron);
  d["steps"] = r.steps;
  d["rejected"] = r.rejected;
  d["evaluations"] = r.evaluations;
  d["low_order_steps"] = r.low_order_steps;
  d["aimed_steps"] = r.aimed_steps;
  d["end_events"] = r.end_events;
  if (!r.dense_t0.empty()) {
    d["dense_t0"] = vec_to_array(r.dense_t0);
    d["dense_t1"] = vec_to_array(r.dense_t1);
    d["dense_h"] = vec_to_array(r.dense_h);
    d["dense_coef"] = rows_to_array(r.dense_coef, 5 * p.n_params);
  }
  return d;
}

const double* checked_theta(const FlowProblem& p, const CArray<double>& theta) {
  if (theta.ndim() != 1 || theta.shape(0) != p.n_params)
    throw py::value_error("theta must be a 1-D array of " + std::to_string(p.n_params) +
                          " parameters");
  return theta.data();
}

}  // namespace

void bind_flow(py::module_& m) {
  py::class_<FlowProblem, std::shared_ptr<FlowProblem>>(m, "FlowProblem")
      .def(py::init([](std::vector<int64_t> width, std::vector<uint8_t> has_bias,
                       std::vector<std::vector<double>> slopes, const CArray<double>& X,
                       const CArray<double>& Y, int loss, std::vector<double> precond,
                       std::vector<int64_t> tie_offsets, std::vector<int64_t> tie_members,
                       std::vector<double> tie_coef, std::vector<double> tie_precond) {
             if (width.empty()) throw py::value_error("width must not be empty");
             const double* x = checked_matrix(X, width[0], "X");
             if (Y.ndim() != 2 || Y.shape(0) != X.shape(0))
               throw py::value_error("Y must be 2-D with one row per sample");
             if (loss < 0 || loss > 3) throw py::value_error("unknown loss code");
             auto p = std::make_shared<FlowProblem>(flow::make_problem(
                 std::move(width), std::move(has_bias), std::move(slopes), x, X.shape(0),
                 Y.data(), Y.shape(1), flow::Loss(loss), std::move(precond)));
             flow::set_ties(*p, std::move(tie_offsets), std::move(tie_members),
                            std::move(tie_coef), std::move(tie_precond));
             return p;
           }),
           py::arg("width"), py::arg("has_bias"), py::arg("slopes"), py::arg("X"), py::arg("Y"),
           py::arg("loss"), py::arg("precond"), py::arg("tie_offsets") = std::vector<int64_t>{},
           py::arg("tie_members") = std::vector<int64_t>{},
           py::arg("tie_coef") = std::vector<double>{},
           py::arg("tie_precond") = std::vector<double>{})
      .def_property_readonly("n_params", [](const FlowProblem& p) { return p.n_params; })
      .def_property_readonly("n", [](const FlowProblem& p) { return p.n; });

  m.def(
      "flow_integrate",
      [](const FlowProblem& p, const CArray<double>& theta, int method, double t_end,
         double rtol, double atol, double step, int64_t max_steps, bool events,
         std::vector<double> record_times, int threads, bool keep_dense, bool aim) {
        const double* th = checked_theta(p, theta);
        if (method < 0 || method > 3) throw py::value_error("unknown method code");
        flow::IntegrateOptions opt;
        opt.method = flow::Method(method);
        opt.t_end = t_end; opt.rtol = rtol; opt.atol = atol; opt.step = step;
        opt.max_steps = max_steps; opt.events = events;
        opt.record_times = std::move(record_times);
        opt.threads = threads;
        opt.keep_dense = keep_dense;
        opt.aim = aim;
        FlowResult r;
        {
          py::gil_scoped_release release;
          r = flow::integrate(p, th, opt, python_interrupt_check());
        }
        return result_to_dict(p, r);
      },
      py::arg("problem"), py::arg("theta"), py::arg("method"), py::arg("t_end"), py::arg("rtol"),
      py::arg("atol"), py::arg("step"), py::arg("max_steps"), py::arg("events"),
      py::arg("record_times"), py::arg("threads") = 1, py::arg("keep_dense") = false,
      py::arg("aim") = true);

  m.def(
      "flow_gd",
      [](const FlowProblem& p, const CArray<double>& theta, double lr, int64_t steps,
         int64_t record_every, bool events, int threads, double momentum, double weight_decay,
         int64_t batch_size, const CArray<int64_t>& order) {
        const double* th = checked_theta(p, theta);
        if (order.ndim() != 1) throw py::value_error("order must be a 1-D array of sample indices");
        flow::GdOptions opt;
        opt.lr = lr; opt.steps = steps; opt.record_every = record_every; opt.events = events;
        opt.threads = threads; opt.momentum = momentum; opt.weight_decay = weight_decay;
        opt.batch_size = batch_size;
        opt.order.assign(order.data(), order.data() + order.shape(0));
        FlowResult r;
        {
          py::gil_scoped_release release;
          r = flow::gradient_descent(p, th, opt, python_interrupt_check());
        }
        return result_to_dict(p, r);
      },
      py::arg("problem"), py::arg("theta"), py::arg("lr"), py::arg("steps"),
      py::arg("record_every"), py::arg("events"), py::arg("threads") = 1,
      py::arg("momentum") = 0.0, py::arg("weight_decay") = 0.0, py::arg("batch_size") = 0,
      py::arg("order") = CArray<int64_t>(0));

  m.def(
      "flow_gradient",
      [](const FlowProblem& p, const CArray<double>& theta) {
        const double* th = checked_theta(p, theta);
        flow::BatchWorkspace ws(p, 1);
        py::array_t<double> f(py::ssize_t(p.n_params));
        double* out = f.mutable_data();
        {
          py::gil_scoped_release release;
          flow::batch_gradient()(p, ws, th, nullptr, out);
        }
        return py::make_tuple(ws.loss, f);
      },
      py::arg("problem"), py::arg("theta"),
      "(mean loss, -precond * grad L) with slopes from the sign of z.");

  m.def(
      "flow_output_jacobian",
      [](const FlowProblem& p, const CArray<double>& theta) {
        const double* th = checked_theta(p, theta);
        py::array_t<double> J({py::ssize_t(p.n * p.out_dim()), py::ssize_t(p.n_params)});
        double* out = J.mutable_data();
        {
          py::gil_scoped_release release;
          flow::output_jacobian(p, th, out);
        }
        return J;
      },
      py::arg("problem"), py::arg("theta"));

  m.def(
      "flow_sample_gradients",
      [](const FlowProblem& p, const CArray<double>& theta) {
        const double* th = checked_theta(p, theta);
        py::array_t<double> G({py::ssize_t(p.n), py::ssize_t(p.n_params)});
        double* out = G.mutable_data();
        {
          py::gil_scoped_release release;
          flow::sample_loss_gradients(p, th, out);
        }
        return G;
      },
      py::arg("problem"), py::arg("theta"));
}

}  // namespace regionlab::bindings
