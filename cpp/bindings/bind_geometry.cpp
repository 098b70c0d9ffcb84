#include <string>
#include <vector>

#include "common.hpp"
#include "regionlab/geometry/boundary.hpp"
#include "regionlab/geometry/slice_partition.hpp"

namespace regionlab::bindings {

namespace {

using geometry::SlicePartition;

py::dict partition_to_dict(SlicePartition&& p) {
  const py::ssize_t n = p.n_regions(), m = p.dim + 1;
  py::dict d;
  const py::ssize_t n_stages = py::ssize_t(p.regions_per_stage.size());
  const py::ssize_t n_vertices = py::ssize_t(p.cells.size() / 2);
  d["measure"] = to_array(std::move(p.measure), {n});
  d["patterns"] = to_array(std::move(p.patterns), {n, py::ssize_t(p.n_words)});
  d["maps"] = to_array(std::move(p.maps), {n, py::ssize_t(p.out_dim), m});
  d["regions_per_stage"] = to_array(std::move(p.regions_per_stage), {n_stages});
  if (p.dim == 1) {
    d["cells"] = to_array(std::move(p.cells), {n, 2});
  } else {
    d["vertices"] = to_array(std::move(p.cells), {n_vertices, 2});
    d["offsets"] = to_array(std::move(p.offsets), {n + 1});
  }
  return d;
}

// Rebuilds the parts of a partition the boundary code reads, from the saved arrays.
SlicePartition partition_from_arrays(int dim, const CArray<double>& cells,
                                     const CArray<int64_t>* offsets, const CArray<double>& maps) {
  SlicePartition p;
  p.dim = dim;
  if (maps.ndim() != 3 || maps.shape(2) != dim + 1)
    throw py::value_error("maps must have shape (n_regions, out_dim, " + std::to_string(dim + 1) + ")");
  const int64_t n = maps.shape(0);
  p.out_dim = maps.shape(1);
  p.maps.assign(maps.data(), maps.data() + maps.size());
  p.cells.assign(cells.data(), cells.data() + cells.size());
  p.measure.assign(size_t(n), 0.0);
  if (offsets) {
    if (offsets->ndim() != 1 || offsets->shape(0) != n + 1)
      throw py::value_error("offsets must have n_regions + 1 entries");
    p.offsets.assign(offsets->data(), offsets->data() + offsets->size());
    if (p.offsets.front() != 0 || p.offsets.back() * 2 != int64_t(p.cells.size()))
      throw py::value_error("offsets do not match the vertex buffer");
    for (int64_t r = 0; r < n; ++r)
      if (p.offsets[size_t(r + 1)] - p.offsets[size_t(r)] < 3)
        throw py::value_error("every polygon needs at least 3 vertices (offsets must increase)");
  } else if (int64_t(p.cells.size()) != 2 * n) {
    throw py::value_error("cells must have shape (n_regions, 2)");
  }
  return p;
}

}  // namespace

void bind_geometry(py::module_& m) {
  m.def(
      "partition_slice",
      [](std::shared_ptr<Network<double>> net, const CArray<double>& basis, std::vector<double> lo,
         std::vector<double> hi, int64_t max_regions) {
        const int dim = int(lo.size());
        if ((dim != 1 && dim != 2) || hi.size() != lo.size())
          throw py::value_error("extent must give one (lo, hi) pair per slice dimension (1 or 2)");
        if (basis.ndim() != 2 || basis.shape(0) != dim + 1 || basis.shape(1) != net->input_dim())
          throw py::value_error("basis must have shape (" + std::to_string(dim + 1) + ", " +
                                std::to_string(net->input_dim()) + ")");
        geometry::SliceSpec spec;
        spec.dim = dim;
        spec.basis.assign(basis.data(), basis.data() + basis.size());
        for (int c = 0; c < dim; ++c) {
          spec.lo[c] = lo[size_t(c)];
          spec.hi[c] = hi[size_t(c)];
        }
        SlicePartition p;
        {
          py::gil_scoped_release release;
          p = geometry::partition_slice(*net, spec, max_regions, num_threads(),
                                        python_interrupt_check());
        }
        return partition_to_dict(std::move(p));
      },
      py::arg("net").none(false), py::arg("basis"), py::arg("lo"), py::arg("hi"),
      py::arg("max_regions"),
      "Exact partition of a segment (1 coordinate) or plane (2) of input space; basis rows "
      "are the direction(s) then the offset.");
  m.def(
      "decision_boundary",
      [](const CArray<double>& vertices, const CArray<int64_t>& offsets, const CArray<double>& maps) {
        SlicePartition p = partition_from_arrays(2, vertices, &offsets, maps);
        geometry::BoundarySegments b;
        geometry::EdgeCandidates c;
        {
          py::gil_scoped_release release;
          b = geometry::decision_boundary(p, &c);
        }
        const py::ssize_t s = py::ssize_t(b.region.size()), e = py::ssize_t(c.region.size());
        py::dict edges;
        edges["segments"] = to_array(std::move(c.xy), {e, 2, 2});
        edges["region"] = to_array(std::move(c.region), {e});
        edges["inside"] = to_array(std::move(c.inside), {e});
        edges["outside"] = to_array(std::move(c.outside), {e});
        edges["interior"] = to_array(std::move(c.interior), {e, 2});
        return py::make_tuple(to_array(std::move(b.xy), {s, 2, 2}), to_array(std::move(b.region), {s}),
                              to_array(std::move(b.classes), {s, 2}), edges);
      },
      py::arg("vertices"), py::arg("offsets"), py::arg("maps"));
  m.def(
      "class_changes",
      [](const CArray<double>& cells, const CArray<double>& maps) {
        SlicePartition p = partition_from_arrays(1, cells, nullptr, maps);
        geometry::ClassChanges c = geometry::class_changes(p);
        const py::ssize_t s = py::ssize_t(c.t.size());
        return py::make_tuple(to_array(std::move(c.t), {s}), to_array(std::move(c.before), {s}),
                              to_array(std::move(c.after), {s}));
      },
      py::arg("cells"), py::arg("maps"));
}

}  // namespace regionlab::bindings
