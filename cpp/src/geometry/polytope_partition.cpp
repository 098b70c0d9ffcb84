#include "regionlab/geometry/polytope_partition.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include <Eigen/Dense>

#include "regionlab/errors.hpp"
#include "regionlab/evaluate.hpp"
#include "regionlab/geometry/polytope_cell.hpp"
#include "class_ties.hpp"
#include "subdivider.hpp"

namespace regionlab::geometry {

namespace {

using detail::Node;
using detail::RegionCounter;
using detail::RegionSink;
using detail::StageInfo;

constexpr int64_t kClassCutId = -4000;  // kClassCutId - j: a class's part cut by class j

using detail::PolytopeRecords;

// A region's classes: K affine scores (rows of D + 1 numbers) and which of them equal a
// lower one there (they never lead).
struct Classes {
  std::vector<double> rows;
  int64_t K = 0;
  std::vector<char> tied;
};

template <int D>
class Describer {
 public:
  // The simplices' coordinates are in [0, 1]: t below this is rounding of t = 0 (a vertex
  // 1e12 ray lengths out counts as at infinity).
  static constexpr double kFiniteT = 1e-12;

  Describer(const PolytopeSpec& spec, const Network<double>& net, double box_size, const double* axis_extent)
      : spec_(spec), net_(net), out_dim_(net.output_dim()), box_size_(box_size), axis_extent_(axis_extent),
        homogeneous_(!spec.bias_scale.empty()) {
    if (!homogeneous_) return;
    // Per root, P^-1 for (y, t) = P (s, 1): a plane [n, c] . (s, 1) = 0 of the piece is
    // [n, c] P^-1 . (y, t) = 0 in the input's coordinates (t = 1 there).
    for (int64_t r = 0; r < spec.n_roots; ++r) {
      Eigen::Matrix<double, D + 1, D + 1> P;
      const double* m = &spec.coord_maps[size_t(r) * size_t(D * (D + 1))];
      for (int c = 0; c <= D; ++c) {
        for (int i = 0; i < D; ++i) P(i, c) = m[c * D + i];
        P(D, c) = spec.bias_scale[size_t(c)];
      }
      inverse_.push_back(P.inverse());
    }
  }

  void describe(const PolytopeCell<D>& cell, const double* map, int32_t root, PolytopeRecords& out) const {
    const int64_t nv = cell.n_vertices();
    double centroid[D] = {}, point[D];
    for (int64_t v = 0; v < nv; ++v)
      for (int c = 0; c < D; ++c) centroid[c] += cell.x[size_t(v * D + c)] / double(nv);
    if (homogeneous_) to_input(centroid, root, point);
    else std::copy(centroid, centroid + D, point);
    // Volumes, vertices and radii are measured in the input's coordinates.
    const PolytopeCell<D> mapped = homogeneous_ ? map_cell(cell, root) : PolytopeCell<D>();
    const PolytopeCell<D>& metric = homogeneous_ ? mapped : cell;
    // Facets: planes whose vertex sets are maximal (a lower face's vertices all lie on some
    // facet's plane, and planes with under D vertices were pruned at the cuts; coincident
    // planes of one facet all count). The radius of a ball around the centroid inside the
    // cell: its distance to the nearest facet (for homogeneous pieces, measured in the
    // input's coordinates, seams included: a ball inside the piece).
    int64_t n_facets = 0;
    bool at_infinity = false;
    double radius = HUGE_VAL;
    const int64_t n_planes = int64_t(cell.planes.size());
    const int32_t vw = int32_t((nv + 63) / 64);
    thread_local std::vector<uint64_t> on_buffer;
    thread_local std::vector<int32_t> count_buffer;
    std::vector<uint64_t>& on = on_buffer;  // per plane, its vertices
    std::vector<int32_t>& count = count_buffer;
    on.assign(size_t(n_planes * vw), 0);
    count.assign(size_t(n_planes), 0);
    for (int64_t v = 0; v < nv; ++v)
      for (int w = 0; w < cell.words; ++w)
        for (uint64_t bits = cell.inc[size_t(v * cell.words + w)]; bits; bits &= bits - 1) {
          const size_t b = size_t(w * 64 + __builtin_ctzll(bits));
          on[b * size_t(vw) + size_t(v >> 6)] |= 1ull << (v & 63);
          ++count[b];
        }
    for (int64_t b = 0; b < n_planes; ++b) {
      if (count[size_t(b)] < D) continue;
      const uint64_t* mine = &on[size_t(b * vw)];
      bool facet = true;
      for (int64_t o = 0; o < n_planes && facet; ++o) {
        if (o == b || count[size_t(o)] <= count[size_t(b)]) continue;
        const uint64_t* other = &on[size_t(o * vw)];
        bool inside = true;
        for (int32_t w = 0; w < vw && inside; ++w) inside = (other[w] & mine[w]) == mine[w];
        facet = !inside;
      }
      if (!facet) continue;
      const bool infinity = homogeneous_ && cell.planes[size_t(b)] == kInfinityFaceId;
      out.facet_ids.push_back(cell.planes[size_t(b)]);
      ++n_facets;
      if (!infinity) radius = std::min(radius, plane_distance(&metric.normals[size_t(b) * (D + 1)], point));
    }
    // Unbounded: some vertex at infinity (t = 0). Tested on the vertices, not on the plane
    // t = 0, which a region meeting infinity in a lower-dimensional face (a strip) has not
    // kept among its facets.
    if (homogeneous_)
      for (int64_t v = 0; v < nv && !at_infinity; ++v) at_infinity = at_infinity_(&cell.x[size_t(v * D)]);
    out.radii.push_back(radius);
    out.facet_counts.push_back(n_facets);
    out.unbounded.push_back(at_infinity);
    out.centroids.insert(out.centroids.end(), point, point + D);

    if (spec_.volumes) out.volumes.push_back(at_infinity ? HUGE_VAL : metric.measure());
    const Classes classes = classes_of(map);
    out.boundary.push_back(boundary_measure(cell, classes, root) + facet_boundary(cell, classes, root));
    if (spec_.vertices) {
      out.vertex_counts.push_back(nv);
      out.vertices.insert(out.vertices.end(), metric.x.begin(), metric.x.end());
      out.edge_counts.push_back(int64_t(cell.edges.size() / 2));
      out.edges.insert(out.edges.end(), cell.edges.begin(), cell.edges.end());
    }
  }

 private:
  // Homogeneous pieces: t(y) = bias_scale . (y, 1); a point with t within rounding of 0 is
  // at infinity (to_input() makes it NaN).
  double t_of(const double* y) const {
    double t = spec_.bias_scale[D];
    for (int c = 0; c < D; ++c) t += spec_.bias_scale[size_t(c)] * y[c];
    return t;
  }
  bool at_infinity_(const double* y) const { return !(t_of(y) > kFiniteT); }

  // Homogeneous pieces: y -> x = (coord_map . (y, 1)) / t(y); points at infinity become NaN.
  void to_input(const double* y, int32_t root, double* x) const {
    const double* m = &spec_.coord_maps[size_t(root) * size_t(D * (D + 1))];
    const double t = t_of(y);
    double r[D];
    for (int i = 0; i < D; ++i) {
      r[i] = m[D * D + i];
      for (int c = 0; c < D; ++c) r[i] += m[c * D + i] * y[c];
    }
    const bool finite = t > kFiniteT;
    for (int i = 0; i < D; ++i) x[i] = finite ? r[i] / t : std::numeric_limits<double>::quiet_NaN();
  }

  static double plane_distance(const double* plane, const double* x) {
    double value = plane[D];
    for (int c = 0; c < D; ++c) value += plane[c] * x[c];
    return std::abs(value);  // unit normals; a plane at infinity (zero normal) is never nearest
  }

  // A plane of the piece, [n, c] . (y, 1) = 0, in the input's coordinates: [n, c] P^-1,
  // normalised (a zero normal: the plane at infinity).
  std::array<double, D + 1> input_plane(const double* plane, int32_t root) const {
    Eigen::Matrix<double, 1, D + 1> row;
    for (int k = 0; k <= D; ++k) row(k) = plane[k];
    const Eigen::Matrix<double, 1, D + 1> w = row * inverse_[size_t(root)];
    double coeffs[D + 1];
    for (int k = 0; k <= D; ++k) coeffs[k] = w(k);
    std::array<double, D + 1> out;
    PolytopeCell<D>::unit_plane(coeffs, out.data());
    if (std::all_of(out.begin(), out.begin() + D, [](double a) { return a == 0; })) out[D] = HUGE_VAL;
    return out;
  }

  PolytopeCell<D> map_cell(const PolytopeCell<D>& cell, int32_t root) const {
    PolytopeCell<D> out = cell;
    for (size_t v = 0; v < cell.x.size(); v += D) to_input(&cell.x[v], root, &out.x[v]);
    for (size_t b = 0; b < cell.planes.size(); ++b) {
      const std::array<double, D + 1> plane = input_plane(&cell.normals[b * (D + 1)], root);
      std::copy(plane.begin(), plane.end(), &out.normals[b * (D + 1)]);
    }
    return out;
  }


  // The decision boundary inside the region: the faces between the parts where each class
  // leads (ties go to the lower class). A class's part is the cell cut by its comparisons
  // with the others; a face of it on one of those cuts is boundary when the class just
  // across is another, counted from the side of the larger class, so a face where several
  // classes meet (three equal along a line) counts once. (One output: the classes
  // "logit <= 0" and "logit > 0", the face {logit = 0}.)
  double boundary_measure(const PolytopeCell<D>& cell, const Classes& classes, int32_t root) const {
    const std::vector<double>& rows = classes.rows;
    const std::vector<char>& tied = classes.tied;
    const int64_t K = classes.K;
    double total = 0;
    for (int64_t k = 1; k < K; ++k) {  // (class 0, the smallest, never counts a face)
      if (tied[size_t(k)]) continue;
      PolytopeCell<D> part = cell;
      bool empty = false;
      for (int64_t j = 0; j < K && !empty; ++j)
        if (j != k && !tied[size_t(j)]) empty = !keep_at_least(part, rows, k, j);
      if (empty) continue;
      for (int64_t b = 0; b < int64_t(part.planes.size()); ++b) {
        const int64_t id = part.planes[size_t(b)];
        const bool cut = id <= kClassCutId && id > kClassCutId - K;
        // Whole space: the seams between its simplicial pieces cross regions, and a class
        // line (or a unit's facet) lying exactly along one is no cut: judged across too.
        const bool seam = homogeneous_ && id < 0 && id >= -2 * D;
        if (!cut && !seam) continue;  // the cell's own facets (facet_boundary), the domain
        double in[D], across[D];
        if (!face_probes(part, b, in, across)) continue;
        const int64_t beyond = cut ? leader(rows, K, across) : network_class(across, root);
        if (beyond >= 0 && beyond < k) total += plane_face_measure(part, b, root);
      }
    }
    return total;
  }

  // Cuts `part` to where class a scores at least class b (the cut recorded as kClassCutId
  // - b); false when nothing is left.
  bool keep_at_least(PolytopeCell<D>& part, const std::vector<double>& rows, int64_t a,
                     int64_t b) const {
    double diff[D + 1];
    for (int c = 0; c <= D; ++c) diff[c] = rows[size_t(a * (D + 1) + c)] - rows[size_t(b * (D + 1) + c)];
    LineCoeffs line{diff, 1, box_size_, -1, axis_extent_};
    line.id = kClassCutId - b;
    const Side side = part.classify(line);
    if (side == Side::negative) return false;
    if (side == Side::cut) {
      PolytopeCell<D> neg, pos;
      part.split(line, neg, pos);
      part = std::move(pos);
    }
    return true;
  }

  // Points just inside and just outside the middle of the cell's face on its plane b
  // (false when the face has fewer than D vertices: not a facet).
  static bool face_probes(const PolytopeCell<D>& cell, int64_t b, double* in, double* out) {
    const int64_t nv = cell.n_vertices();
    double centre[D] = {}, face[D] = {};
    int64_t on = 0;
    for (int64_t v = 0; v < nv; ++v) {
      const double* x = &cell.x[size_t(v * D)];
      for (int q = 0; q < D; ++q) centre[q] += x[q] / double(nv);
      if (cell.on_plane(v, b)) {
        ++on;
        for (int q = 0; q < D; ++q) face[q] += x[q];
      }
    }
    if (on < D) return false;
    for (int q = 0; q < D; ++q) {
      face[q] /= double(on);
      in[q] = face[q] + 1e-6 * (centre[q] - face[q]);
      out[q] = face[q] - 1e-6 * (centre[q] - face[q]);
    }
    return true;
  }

  // argmax of the class scores at y (ties: the lowest class, numpy's and torch's argmax).
  static int64_t leader(const std::vector<double>& rows, int64_t K, const double* y) {
    std::vector<double> v(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) {
      v[size_t(k)] = rows[size_t(k * (D + 1) + D)];
      for (int c = 0; c < D; ++c) v[size_t(k)] += rows[size_t(k * (D + 1) + c)] * y[c];
    }
    return argmax_lowest(v.data(), K);
  }

  // A region's classes (see Classes): a single output is the two classes "logit <= 0",
  // score 0, and "logit > 0", the logit.
  Classes classes_of(const double* map) const {
    const int64_t m = D + 1;
    Classes c;
    if (out_dim_ == 1) {
      c.K = 2;
      c.rows.assign(size_t(2 * m), 0.0);
      std::copy(map, map + m, c.rows.begin() + m);
    } else {
      c.K = out_dim_;
      c.rows.assign(map, map + c.K * m);
    }
    c.tied = tied_to_lower(c.rows, c.K, m);
    return c;
  }

  // The class the network gives at the piece point y (its input through the root's map),
  // or -1 where y is at infinity or the network's values are not finite there.
  int64_t network_class(const double* y, int32_t root) const {
    const int64_t in = net_.input_dim();
    const double* m = spec_.root_maps.empty() ? spec_.basis.data()
                                              : &spec_.root_maps[size_t(root * (D + 1) * in)];
    double t = 1.0;
    if (homogeneous_) {
      t = t_of(y);
      if (!(t > kFiniteT)) return -1;
    }
    std::vector<double> x(static_cast<size_t>(in)), out(static_cast<size_t>(out_dim_));
    for (int64_t i = 0; i < in; ++i) {
      double v = m[D * in + i];
      for (int c = 0; c < D; ++c) v += m[c * in + i] * y[c];
      x[size_t(i)] = v / t;  // homogeneous pieces scale the biases by t: the point is x / t
    }
    try {
      forward<double>(net_, x.data(), 1, out.data(), InterruptCheck());
    } catch (const InvalidInput&) {
      return -1;
    }
    if (out_dim_ == 1) return out[0] > 0 ? 1 : 0;
    return argmax_lowest(out.data(), out_dim_);
  }

  // Decision boundary lying on the region's own facets. Where two classes tie on a whole
  // facet (with a bias-free output layer every logit is 0 where all units are off, and the
  // class lines of the neighbouring regions meet on their facets) the class changes across
  // the facet, and no cut through the interior sees it. Of the two regions sharing such a
  // facet, the one whose own class (just inside) has the larger index counts it; the other
  // side's class is the network's just outside the facet's centre.
  double facet_boundary(const PolytopeCell<D>& cell, const Classes& classes, int32_t root) const {
    const std::vector<double>& rows = classes.rows;
    const std::vector<char>& tied = classes.tied;
    const int64_t K = classes.K;
    std::vector<double> diff(size_t(D + 1));
    const int64_t nv = cell.n_vertices();
    double centre[D] = {};
    for (int64_t v = 0; v < nv; ++v)
      for (int q = 0; q < D; ++q) centre[q] += cell.x[size_t(v * D + q)] / double(nv);
    double total = 0;
    for (int64_t b = 0; b < int64_t(cell.planes.size()); ++b) {
      if (cell.planes[size_t(b)] < 0) continue;  // the domain's faces and seams
      // Classes i, j tie on the whole plane b where their score difference is a non-zero
      // multiple of the plane's coefficients.
      const double* n = &cell.normals[size_t(b * (D + 1))];
      auto tied_on_plane = [&](int64_t i, int64_t j) {
        double dn = 0, nn = 0, dd = 0;
        for (int c = 0; c <= D; ++c) {
          diff[size_t(c)] = rows[size_t(i * (D + 1) + c)] - rows[size_t(j * (D + 1) + c)];
          dn += diff[size_t(c)] * n[c];
          nn += n[c] * n[c];
          dd += diff[size_t(c)] * diff[size_t(c)];
        }
        if (!(nn > 0) || !(dd > 0)) return false;
        const double lambda = dn / nn;
        double rr = 0;
        for (int c = 0; c <= D; ++c) rr += (diff[size_t(c)] - lambda * n[c]) * (diff[size_t(c)] - lambda * n[c]);
        return rr <= 1e-18 * dd;
      };
      // The face splits by the class c that leads just inside; the part where c leads is
      // boundary when the class beyond is another, and the side whose own class has the
      // larger index counts it. That class beyond ties with c on the whole plane, and
      // from the counting side the two are not identical (identical, the lower would
      // lead there): so only a class c tied on plane b with a lower class can count.
      for (int64_t c = 1; c < K; ++c) {
        if (tied[size_t(c)]) continue;
        std::vector<int64_t> with_c;  // the classes tied with c on plane b
        bool lower = false;
        for (int64_t k = 0; k < K; ++k)
          if (k != c && !tied[size_t(k)] && tied_on_plane(c, k)) {
            with_c.push_back(k);
            lower |= k < c;
          }
        if (!lower) continue;  // (most facets stop here)
        // c leads inside against every class tied with it on the plane (the sign of
        // their difference is the side of the plane: one sign over the region) ...
        bool leads = true;
        for (int64_t k : with_c) {
          double gap = rows[size_t(c * (D + 1) + D)] - rows[size_t(k * (D + 1) + D)];
          for (int q = 0; q < D; ++q)
            gap += (rows[size_t(c * (D + 1) + q)] - rows[size_t(k * (D + 1) + q)]) * centre[q];
          leads &= gap > 0;
        }
        if (!leads) continue;
        // ... and, on the part of the facet it keeps, against every other class.
        PolytopeCell<D> part = cell;
        bool empty = false;
        for (int64_t k = 0; k < K && !empty; ++k)
          if (k != c && !tied[size_t(k)] && std::find(with_c.begin(), with_c.end(), k) == with_c.end())
            empty = !keep_at_least(part, rows, c, k);
        if (!empty) total += facet_part_boundary(part, cell.planes[size_t(b)], c, with_c, tied, root);
      }
    }
    return total;
  }

  // The measure of `part`'s face on plane `id`, where class c leads just inside, when the
  // class beyond is a lower one (of `with_c`, those tied with c on the plane). Across a
  // facet only its unit flips (another kink meeting the face would cut this region too),
  // so one region lies beyond the whole face: its class is read at one point outside.
  double facet_part_boundary(const PolytopeCell<D>& part, int64_t id, int64_t c,
                             const std::vector<int64_t>& with_c, const std::vector<char>& tied,
                             int32_t root) const {
    const auto it = std::find(part.planes.begin(), part.planes.end(), id);
    if (it == part.planes.end()) return 0.0;
    const int64_t b = int64_t(it - part.planes.begin());
    double in[D], out[D];
    if (!face_probes(part, b, in, out)) return 0.0;
    const int64_t beyond = network_class(out, root);
    // Beyond is a class tied with c on the plane: one of with_c, or one equal here to a
    // lower class (every logit 0 where all units are off).
    if (beyond < 0 || beyond >= c ||
        (!tied[size_t(beyond)] && std::find(with_c.begin(), with_c.end(), beyond) == with_c.end()))
      return 0.0;
    return plane_face_measure(part, b, root);
  }

  // The (D-1)-measure of the cell's face on its plane b (0 when that face is lower-
  // dimensional; inf where it reaches infinity), in the input's coordinates.
  double plane_face_measure(const PolytopeCell<D>& cell, int64_t plane, int32_t root) const {
    const int32_t b = int32_t(plane);
    std::vector<int32_t> face;
    for (int32_t v = 0; v < cell.n_vertices(); ++v)
      if (cell.on_plane(v, b)) face.push_back(v);
    if (int64_t(face.size()) < D) return 0.0;
    std::vector<int32_t> active{b};
    if (!homogeneous_) return face_measure(cell, face, active, D - 1);
    for (int32_t v : face)
      if (at_infinity_(&cell.x[size_t(v) * D])) return HUGE_VAL;
    return face_measure(map_cell(cell, root), face, active, D - 1);
  }

  const PolytopeSpec& spec_;
  const Network<double>& net_;
  int64_t out_dim_;
  double box_size_;
  const double* axis_extent_;  // per axis for boxes, or null
  bool homogeneous_;
  std::vector<Eigen::Matrix<double, D + 1, D + 1>, Eigen::aligned_allocator<Eigen::Matrix<double, D + 1, D + 1>>> inverse_;
};

template <int D>
PolytopeCell<D> root_cell(const PolytopeSpec& spec) {
  switch (spec.shape) {
    case RootShape::simplex: return PolytopeCell<D>::simplex();
    case RootShape::cross: return PolytopeCell<D>::cross(spec.radius);
    default: return PolytopeCell<D>::box(spec.lo.data(), spec.hi.data());
  }
}

template <int D>
PolytopePartition partition(const Network<double>& net, const PolytopeSpec& spec, int64_t max_regions,
                            int threads, const InterruptCheck& interrupted) {
  using Cell = PolytopeCell<D>;
  const NetView<double>& view = net.view();
  const std::vector<StageInfo> info = detail::stage_info(view);
  RegionCounter counter(view.n_stages, max_regions);
  threads = std::max(1, threads);
  double box_size = spec.shape == RootShape::simplex ? 1.0 : spec.radius;
  std::vector<double> axis_extent;  // boxes: each axis's own size (sides may differ by 1e10)
  if (spec.shape == RootShape::box) {
    box_size = 0;
    for (int c = 0; c < D; ++c) {
      axis_extent.push_back(std::max(std::abs(spec.lo[size_t(c)]), std::abs(spec.hi[size_t(c)])));
      box_size = std::max(box_size, axis_extent.back());
    }
  }
  const double* extent = axis_extent.empty() ? nullptr : axis_extent.data();
  const double* bias_scale = spec.bias_scale.empty() ? nullptr : spec.bias_scale.data();
  const int64_t map_size = net.input_dim() * (D + 1);

  std::vector<Node<Cell>> level;
  const Cell root = root_cell<D>(spec);
  for (int64_t r = 0; r < spec.n_roots; ++r) {
    std::shared_ptr<const detail::ZBlock> z;
    if (!spec.root_maps.empty())
      z = std::make_shared<detail::ZBlock>(&spec.root_maps[size_t(r * map_size)],
                                           &spec.root_maps[size_t((r + 1) * map_size)]);
    level.push_back(Node<Cell>{root, std::vector<uint64_t>(size_t(view.n_words)), z, int32_t(r)});
  }
  // Each region is described as it is found, on the thread that found it.
  RegionSink<Cell> blank;
  const Describer<D> describer(spec, net, box_size, extent);
  if (spec.describe)
    blank.describe = [&describer](const Cell& cell, const double* map, int32_t root, PolytopeRecords& out) {
      describer.describe(cell, map, root, out);
    };
  // Progress rides on the Ctrl-C poll (only the calling thread makes it), throttled; the
  // counts are those of the stages with kinks, as in regions_per_stage.
  auto kinked_counts = [&] {
    std::vector<int64_t> counts;
    for (int64_t k = 0; k < view.n_stages; ++k)
      if (view.stages[k].n_kinked > 0) counts.push_back(counter.count(k));
    return counts;
  };
  auto report = [&] { return spec.progress(kinked_counts()); };
  std::chrono::steady_clock::time_point last_report = std::chrono::steady_clock::now();
  const InterruptCheck poll = !spec.progress ? interrupted : InterruptCheck([&]() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report >= std::chrono::milliseconds(200)) {
      last_report = now;
      if (report()) return true;
    }
    return interrupted && interrupted();
  });
  std::vector<RegionSink<Cell>> sinks = detail::subdivide_all(view, info, std::move(level), spec.basis, box_size,
                                                              counter, bias_scale, threads, poll, blank, extent);
  if (spec.progress && report()) throw Interrupted();  // the final counts

  PolytopePartition out;
  out.dim = D;
  out.out_dim = net.output_dim();
  out.n_words = view.n_words;
  out.facet_offsets.assign(1, 0);
  if (spec.vertices) out.vertex_offsets.assign(1, 0), out.edge_offsets.assign(1, 0);
  for (size_t s = 0; s < sinks.size(); ++s) {
    RegionSink<Cell>& sink = sinks[s];
    out.patterns.insert(out.patterns.end(), sink.patterns.begin(), sink.patterns.end());
    out.maps.insert(out.maps.end(), sink.maps.begin(), sink.maps.end());
    out.roots.insert(out.roots.end(), sink.roots.begin(), sink.roots.end());
    PolytopeRecords& d = sink.records;
    out.centroids.insert(out.centroids.end(), d.centroids.begin(), d.centroids.end());
    out.volumes.insert(out.volumes.end(), d.volumes.begin(), d.volumes.end());
    out.radii.insert(out.radii.end(), d.radii.begin(), d.radii.end());
    out.boundary.insert(out.boundary.end(), d.boundary.begin(), d.boundary.end());
    out.unbounded.insert(out.unbounded.end(), d.unbounded.begin(), d.unbounded.end());
    out.facet_ids.insert(out.facet_ids.end(), d.facet_ids.begin(), d.facet_ids.end());
    for (int64_t c : d.facet_counts) out.facet_offsets.push_back(out.facet_offsets.back() + c);
    out.vertices.insert(out.vertices.end(), d.vertices.begin(), d.vertices.end());
    for (int64_t c : d.vertex_counts) out.vertex_offsets.push_back(out.vertex_offsets.back() + c);
    out.edges.insert(out.edges.end(), d.edges.begin(), d.edges.end());
    for (int64_t c : d.edge_counts) out.edge_offsets.push_back(out.edge_offsets.back() + c);
    sink = RegionSink<Cell>{};
  }
  out.regions_per_stage = kinked_counts();
  return out;
}

template <int D>
PolytopePartition dispatch(const Network<double>& net, const PolytopeSpec& spec, int64_t max_regions,
                           int threads, const InterruptCheck& interrupted) {
  if constexpr (D > kMaxPolytopeDim) {
    throw InvalidInput("polytope dimension must be 1.." + std::to_string(kMaxPolytopeDim));
  } else {
    if (spec.dim == D) return partition<D>(net, spec, max_regions, threads, interrupted);
    return dispatch<D + 1>(net, spec, max_regions, threads, interrupted);
  }
}

}  // namespace

PolytopePartition partition_polytope(const Network<double>& net, const PolytopeSpec& spec,
                                     int64_t max_regions, int threads,
                                     const InterruptCheck& interrupted) {
  const int D = spec.dim;
  if (D < 1 || D > kMaxPolytopeDim)
    throw InvalidInput("the region's dimension must be 1.." + std::to_string(kMaxPolytopeDim));
  const int64_t map_size = net.input_dim() * (D + 1);
  if (spec.n_roots < 1) throw InvalidInput("need at least one root region");
  if (spec.root_maps.empty() ? int64_t(spec.basis.size()) != map_size
                             : int64_t(spec.root_maps.size()) != map_size * spec.n_roots)
    throw InvalidInput("the slice's map has the wrong size for this network's input");
  if (spec.shape == RootShape::box) {
    if (int64_t(spec.lo.size()) != D || int64_t(spec.hi.size()) != D)
      throw InvalidInput("the box needs one (lower, upper) pair per dimension");
    for (int c = 0; c < D; ++c)
      if (!(spec.lo[size_t(c)] < spec.hi[size_t(c)])) throw InvalidInput("the box needs lower < upper");
  }
  if (spec.shape == RootShape::cross && !(spec.radius > 0)) throw InvalidInput("radius must be positive");
  if (!spec.bias_scale.empty() && int64_t(spec.bias_scale.size()) != D + 1)
    throw InvalidInput("bias_scale needs dim + 1 entries");
  if (!spec.bias_scale.empty() && int64_t(spec.coord_maps.size()) != spec.n_roots * D * (D + 1))
    throw InvalidInput("homogeneous pieces need a coordinate map per root");
  if (max_regions <= 0) throw InvalidInput("max_regions must be positive");
  return dispatch<1>(net, spec, max_regions, threads, interrupted);
}

}  // namespace regionlab::geometry
