#include <exception>
#include <string>
#include <vector>

#include "common.hpp"
#include "regionlab/errors.hpp"
#include "regionlab/geometry/polytope_partition.hpp"

namespace regionlab::bindings {

namespace {

using geometry::PolytopePartition;
using geometry::RootShape;

py::dict polytope_to_dict(PolytopePartition&& p) {
  const py::ssize_t n = p.n_regions(), m = p.dim + 1, dim = p.dim;
  py::dict d;
  d["patterns"] = to_array(std::move(p.patterns), {n, py::ssize_t(p.n_words)});
  d["roots"] = to_array(std::move(p.roots), {n});
  d["maps"] = to_array(std::move(p.maps), {n, py::ssize_t(p.out_dim), m});
  d["regions_per_stage"] = to_array(std::move(p.regions_per_stage), {py::ssize_t(p.regions_per_stage.size())});
  if (!p.centroids.empty() || n == 0) {
    d["centroids"] = to_array(std::move(p.centroids), {n, dim});
    if (!p.volumes.empty() || n == 0) d["volumes"] = to_array(std::move(p.volumes), {n});
    d["radii"] = to_array(std::move(p.radii), {n});
    d["unbounded"] = to_array(std::move(p.unbounded), {n});
    d["boundary"] = to_array(std::move(p.boundary), {n});
    d["facet_offsets"] = to_array(std::move(p.facet_offsets), {n + 1});
    d["facet_ids"] = to_array(std::move(p.facet_ids), {py::ssize_t(p.facet_ids.size())});
  }
  if (!p.vertex_offsets.empty()) {
    d["vertex_offsets"] = to_array(std::move(p.vertex_offsets), {n + 1});
    d["vertices"] = to_array(std::move(p.vertices), {py::ssize_t(p.vertices.size()) / dim, dim});
    d["edge_offsets"] = to_array(std::move(p.edge_offsets), {n + 1});
    d["edges"] = to_array(std::move(p.edges), {py::ssize_t(p.edges.size()) / 2, 2});
  }
  return d;
}

RootShape parse_shape(const std::string& s) {
  if (s == "box") return RootShape::box;
  if (s == "simplex") return RootShape::simplex;
  if (s == "cross") return RootShape::cross;
  throw py::value_error("shape must be 'box', 'simplex' or 'cross', not '" + s + "'");
}

}  // namespace

void bind_regions(py::module_& m) {
  m.def(
      "partition_polytope",
      [](std::shared_ptr<Network<double>> net, const CArray<double>& maps, const std::string& shape,
         std::vector<double> lo, std::vector<double> hi, double radius, std::vector<double> bias_scale,
         const CArray<double>& coord_maps, bool describe, bool volumes, bool vertices, int64_t max_regions,
         const py::object& progress) {
        if (maps.ndim() != 3 || maps.shape(2) != net->input_dim() || maps.shape(0) < 1)
          throw py::value_error("maps must have shape (n_roots, dim + 1, " + std::to_string(net->input_dim()) + ")");
        geometry::PolytopeSpec spec;
        spec.dim = int(maps.shape(1)) - 1;
        spec.n_roots = maps.shape(0);
        if (spec.n_roots == 1) spec.basis.assign(maps.data(), maps.data() + maps.size());
        else spec.root_maps.assign(maps.data(), maps.data() + maps.size());
        spec.shape = parse_shape(shape);
        spec.lo = std::move(lo);
        spec.hi = std::move(hi);
        spec.radius = radius;
        spec.bias_scale = std::move(bias_scale);
        if (!spec.bias_scale.empty()) {
          if (coord_maps.ndim() != 3 || coord_maps.shape(0) != spec.n_roots || coord_maps.shape(1) != spec.dim + 1 ||
              coord_maps.shape(2) != spec.dim)
            throw py::value_error("coord_maps must have shape (n_roots, dim + 1, dim)");
          spec.coord_maps.assign(coord_maps.data(), coord_maps.data() + coord_maps.size());
        }
        spec.describe = describe;
        spec.volumes = volumes;
        spec.vertices = vertices;
        // The progress callback: a borrowed pointer (`progress` outlives the call, and no
        // reference count is touched without the GIL). If it raises, the work stops and
        // its exception is what the call raises.
        std::exception_ptr raised;
        if (!progress.is_none()) {
          PyObject* callback = progress.ptr();
          spec.progress = [callback, &raised](const std::vector<int64_t>& counts) {
            py::gil_scoped_acquire gil;
            try {
              const py::handle fn(callback);
              fn(py::cast(counts));
              return false;
            } catch (...) {
              raised = std::current_exception();
              return true;
            }
          };
        }
        PolytopePartition p;
        try {
          py::gil_scoped_release release;
          p = geometry::partition_polytope(*net, spec, max_regions, num_threads(), python_interrupt_check());
        } catch (const Interrupted&) {
          if (raised) std::rethrow_exception(raised);
          throw;
        }
        return polytope_to_dict(std::move(p));
      },
      py::arg("net").none(false), py::arg("maps"), py::arg("shape"), py::arg("lo"), py::arg("hi"),
      py::arg("radius"), py::arg("bias_scale"), py::arg("coord_maps"), py::arg("describe"), py::arg("volumes"), py::arg("vertices"),
      py::arg("max_regions"), py::arg("progress") = py::none(),
      "Exact partition of polytopes of input space (one per root map: input = map^T (y, 1)) "
      "into linear regions.");
}

}  // namespace regionlab::bindings
