// Implementation of polytope_cell.hpp (templated on the dimension, so in a header).
#pragma once

#include <type_traits>

#include "lawrence_volume.hpp"

namespace regionlab::geometry {

namespace polytope_detail {

// Vertices come from chains of edge interpolations, each adding rounding of about eps times
// the box's size, so a vertex that lies on a plane may miss it by many times that: the
// on-plane test allows 1e-12 of the box's size (the resolution the README states), where
// polygons allow 1e-15. Consistent snapping keeps the incidences, hence the faces, right.
constexpr double kPolytopeFloor = 1.0;

// Value of the line at a vertex and whether it is strictly on either side (the same
// tolerance as the intervals' and polygons': relative to the size of the terms).
template <int D>
inline void vertex_side(const LineCoeffs& line, const double* v, double fixed, double& f, int& s) {
  double value = line[D], terms = 0;
  for (int c = 0; c < D; ++c) {
    const double t = line[c] * v[c];
    value += t;
    terms += std::abs(t);
  }
  const double tol = kOnLineTolerance * terms + fixed;
  f = value;
  s = value > tol ? 1 : (value < -tol ? -1 : 0);
}

template <int D>
inline double fixed_tolerance(const LineCoeffs& line) {
  double reach = 0;  // how far the line's value moves across the box
  for (int c = 0; c < D; ++c) reach += std::abs(line[c]) * line.extent(c);
  return kOnLineTolerance * (std::abs(line[D]) + kPolytopeFloor * reach);
}

// Portable bit count (the baseline x86-64 build has no popcnt instruction).
inline int popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return int((x * 0x0101010101010101ull) >> 56);
}

inline int popcount_and(const uint64_t* a, const uint64_t* b, int words) {
  int n = 0;
  for (int w = 0; w < words; ++w) n += popcount64(a[w] & b[w]);
  return n;
}

inline bool contains_all(const uint64_t* sup, const uint64_t* sub, int words) {
  for (int w = 0; w < words; ++w)
    if ((sup[w] & sub[w]) != sub[w]) return false;
  return true;
}

}  // namespace polytope_detail

template <int D>
Side PolytopeCell<D>::classify(LineCoeffs line) const {
  const double fixed = polytope_detail::fixed_tolerance<D>(line);
  bool pos = false, neg = false;
  const int64_t n = n_vertices();
  for (int64_t v = 0; v < n; ++v) {
    double f;
    int s;
    polytope_detail::vertex_side<D>(line, &x[size_t(v * D)], fixed, f, s);
    pos |= s > 0;
    neg |= s < 0;
    if (pos && neg) return Side::cut;
  }
  return pos ? Side::positive : Side::negative;
}

template <int D>
bool PolytopeCell<D>::classify_all(LineBlock lines, Side* side) const {
  const int64_t n = lines.n, nv = n_vertices();
  const double* A = lines.coeffs;
  const double* C = A + D * n;
  // Most lines pass far from a small cell: its bounding ball decides them (every vertex
  // strictly on one side, with the largest tolerance any vertex could have), and only the
  // lines near it are tested vertex by vertex.
  double centre[D] = {}, maxabs[D] = {};
  for (int64_t v = 0; v < nv; ++v)
    for (int c = 0; c < D; ++c) {
      centre[c] += x[size_t(v * D + c)] / double(nv);
      maxabs[c] = std::max(maxabs[c], std::abs(x[size_t(v * D + c)]));
    }
  // |a . (v - centre)| <= |a|_1 |v - centre|_inf: no squares to under/overflow.
  double radius = 0;
  for (int64_t v = 0; v < nv; ++v)
    for (int c = 0; c < D; ++c) radius = std::max(radius, std::abs(x[size_t(v * D + c)] - centre[c]));
  thread_local std::vector<int64_t> near_lines;
  std::vector<int64_t>& near = near_lines;
  near.clear();
  for (int64_t j = 0; j < n; ++j) {
    double fc = C[j], bound = 0, asum = 0;
    for (int c = 0; c < D; ++c) {
      const double a = A[c * n + j];
      fc += a * centre[c];
      bound += std::abs(a) * maxabs[c];
      asum += std::abs(a);
    }
    const double fixed = polytope_detail::fixed_tolerance<D>(LineCoeffs{A + j, n, lines.box_size, -1, lines.axis_extent});
    const double tol_max = kOnLineTolerance * bound + fixed;
    const double reach = asum * radius;
    const double slack = 1e-15 * (std::abs(C[j]) + bound + reach);  // the ball test's own rounding
    if (fc - reach > tol_max + slack) side[j] = Side::positive;
    else if (fc + reach < -slack) side[j] = Side::negative;
    else near.push_back(j);  // near, or not finite: tested vertex by vertex
  }
  bool finite = true;
  for (int64_t j : near) {
    const LineCoeffs line{A + j, n, lines.box_size, -1, lines.axis_extent};
    const double fixed = polytope_detail::fixed_tolerance<D>(line);
    bool pos = false, neg = false;
    double nonfinite = 0;
    for (int64_t v = 0; v < nv; ++v) {
      double f;
      int sv;
      polytope_detail::vertex_side<D>(line, &x[size_t(v * D)], fixed, f, sv);
      pos |= sv > 0;
      neg |= sv < 0;
      nonfinite += f * 0.0;
    }
    side[j] = pos && neg ? Side::cut : (pos ? Side::positive : Side::negative);
    finite &= nonfinite == 0.0;
  }
  return finite;
}

// Buffers reused by every split on a thread (a split allocates only its children).
struct SplitScratch {
  std::vector<double> f, cx;
  std::vector<int> s;
  std::vector<uint64_t> cinc, pinc, common;
  std::vector<int32_t> crossing_of, index, face, counts, remap;
};

template <int D>
void PolytopeCell<D>::split(LineCoeffs line, PolytopeCell& negative, PolytopeCell& positive) const {
  using namespace polytope_detail;
  thread_local SplitScratch scratch;
  SplitScratch& sc = scratch;  // one TLS lookup
  const int64_t nv = n_vertices();
  const double fixed = fixed_tolerance<D>(line);
  sc.f.resize(size_t(nv));
  sc.s.resize(size_t(nv));
  for (int64_t v = 0; v < nv; ++v) vertex_side<D>(line, &x[size_t(v * D)], fixed, sc.f[size_t(v)], sc.s[size_t(v)]);
  const double* f = sc.f.data();
  const int* s = sc.s.data();

  // The children's planes: the parent's and the new one (bit L), before pruning.
  const int64_t L = int64_t(planes.size());
  const int wide = int((L + 1 + 63) / 64);
  // Crossing points, shared by both children.
  sc.cx.clear();
  sc.cinc.clear();
  sc.crossing_of.assign(edges.size() / 2, -1);
  for (size_t e = 0; e < edges.size(); e += 2) {
    const int32_t a = edges[e], b = edges[e + 1];
    if (s[a] * s[b] >= 0) continue;
    const double w = f[a] / (f[a] - f[b]);
    sc.crossing_of[e / 2] = int32_t(sc.cx.size() / D);
    for (int c = 0; c < D; ++c) {
      const double xa = x[size_t(a * D + c)], xb = x[size_t(b * D + c)];
      sc.cx.push_back(xa + w * (xb - xa));
    }
    for (int w2 = 0; w2 < wide; ++w2)
      sc.cinc.push_back(w2 < words ? inc[size_t(a * words + w2)] & inc[size_t(b * words + w2)] : 0);
    sc.cinc[sc.cinc.size() - size_t(wide) + size_t(L >> 6)] |= 1ull << (L & 63);
  }
  const int64_t n_cross = int64_t(sc.cx.size() / D);
  double new_normal[D + 1];
  {
    double coeffs[D + 1];
    for (int c = 0; c <= D; ++c) coeffs[c] = line[c];
    unit_plane(coeffs, new_normal);
  }

  // `fixed` is the incidence width when known at compile time (1: up to 63 planes, the
  // usual case), or 0 for `wide`.
  auto build = [&](int sign, PolytopeCell& out, auto fixed) {
    constexpr int kFixed = decltype(fixed)::value;
    const int wide_here = kFixed > 0 ? kFixed : wide;
    std::vector<double>& px = out.x;
    std::vector<uint64_t>& pinc = sc.pinc;
    px.clear();
    pinc.clear();
    sc.index.assign(size_t(nv), -1);
    sc.face.clear();
    px.reserve(size_t((nv + n_cross) * D));
    for (int64_t v = 0; v < nv; ++v) {
      if (s[v] == -sign) continue;
      sc.index[size_t(v)] = int32_t(px.size() / D);
      px.insert(px.end(), &x[size_t(v * D)], &x[size_t(v * D)] + D);
      for (int w = 0; w < wide_here; ++w) pinc.push_back(w < words ? inc[size_t(v * words + w)] : 0);
      if (s[v] == 0) {
        pinc[pinc.size() - size_t(wide_here) + size_t(L >> 6)] |= 1ull << (L & 63);
        sc.face.push_back(sc.index[size_t(v)]);
      }
    }
    const int32_t first_cross = int32_t(px.size() / D);
    px.insert(px.end(), sc.cx.begin(), sc.cx.end());
    pinc.insert(pinc.end(), sc.cinc.begin(), sc.cinc.end());
    for (int64_t c = 0; c < n_cross; ++c) sc.face.push_back(first_cross + int32_t(c));

    std::vector<int32_t>& pe = out.edges;
    pe.clear();
    for (size_t e = 0; e < edges.size(); e += 2) {
      const int32_t a = edges[e], b = edges[e + 1];
      const int sa = s[a], sb = s[b];
      if (sc.crossing_of[e / 2] >= 0) {
        pe.push_back(sc.index[size_t(sa == sign ? a : b)]);
        pe.push_back(first_cross + sc.crossing_of[e / 2]);
      } else if (sa != -sign && sb != -sign && !(sa == 0 && sb == 0)) {
        pe.push_back(sc.index[size_t(a)]);
        pe.push_back(sc.index[size_t(b)]);
      }
    }
    // Edges of the cut face: pairs on at least D - 1 common planes (the new one included)
    // with no third face vertex on all of them.
    // When every face vertex lies on exactly D planes (a simple vertex: the generic case),
    // D - 1 common planes define a line that holds no third vertex, so no search is needed.
    const std::vector<int32_t>& face = sc.face;
    sc.common.resize(size_t(wide_here));
    uint64_t* common = sc.common.data();
    bool simple = true;
    for (size_t i = 0; i < face.size() && simple; ++i) {
      const uint64_t* a = &pinc[size_t(face[i]) * size_t(wide_here)];
      simple = popcount_and(a, a, wide_here) == D;
    }
    if (simple && kFixed == 1) {
      // D planes each: D - 1 shared iff the two sets differ in at most two planes.
      for (size_t i = 0; i < face.size(); ++i) {
        const uint64_t a = pinc[size_t(face[i])];
        for (size_t j = i + 1; j < face.size(); ++j) {
          uint64_t diff = a ^ pinc[size_t(face[j])];
          diff &= diff - 1;
          if (diff & (diff - 1)) continue;
          pe.push_back(face[i]);
          pe.push_back(face[j]);
        }
      }
    } else {
      for (size_t i = 0; i < face.size(); ++i)
        for (size_t j = i + 1; j < face.size(); ++j) {
          const uint64_t* a = &pinc[size_t(face[i]) * size_t(wide_here)];
          const uint64_t* b = &pinc[size_t(face[j]) * size_t(wide_here)];
          if (popcount_and(a, b, wide_here) < D - 1) continue;
          if (simple) {
            pe.push_back(face[i]);
            pe.push_back(face[j]);
            continue;
          }
          for (int w = 0; w < wide_here; ++w) common[w] = a[w] & b[w];
          bool edge = true;
          for (size_t k = 0; k < face.size() && edge; ++k)
            if (k != i && k != j && contains_all(&pinc[size_t(face[k]) * size_t(wide_here)], common, wide_here))
              edge = false;
          if (edge) {
            pe.push_back(face[i]);
            pe.push_back(face[j]);
          }
        }
    }

    // Planes with fewer than D vertices are no facet: drop them (faces are decided by the
    // facets alone), so incidence sets stay small as cuts accumulate.
    const int64_t n_out = int64_t(px.size() / D);
    sc.counts.assign(size_t(L + 1), 0);
    for (size_t w = 0; w < pinc.size(); ++w)
      for (uint64_t bits = pinc[w]; bits; bits &= bits - 1)
        ++sc.counts[(w % size_t(wide_here)) * 64 + size_t(__builtin_ctzll(bits))];
    sc.remap.assign(size_t(L + 1), -1);
    out.planes.clear();
    out.normals.clear();
    for (int64_t b = 0; b <= L; ++b)
      if (sc.counts[size_t(b)] >= D) {
        sc.remap[size_t(b)] = int32_t(out.planes.size());
        out.planes.push_back(b == L ? line.id : planes[size_t(b)]);
        const double* n = b == L ? new_normal : &normals[size_t(b) * (D + 1)];
        out.normals.insert(out.normals.end(), n, n + D + 1);
      }
    out.words = int32_t(std::max<int64_t>(1, (int64_t(out.planes.size()) + 63) / 64));
    if (int64_t(out.planes.size()) == L + 1 && out.words == wide_here) {
      out.inc.assign(pinc.begin(), pinc.end());
      return;
    }
    out.inc.assign(size_t(n_out * out.words), 0);
    for (int64_t v = 0; v < n_out; ++v)
      for (int w = 0; w < wide_here; ++w)
        for (uint64_t bits = pinc[size_t(v * wide_here + w)]; bits; bits &= bits - 1) {
          const int32_t k = sc.remap[size_t(w * 64 + __builtin_ctzll(bits))];
          if (k >= 0) out.inc[size_t(v * out.words + (k >> 6))] |= 1ull << (k & 63);
        }
  };
  if (wide == 1) {
    build(-1, negative, std::integral_constant<int, 1>{});
    build(1, positive, std::integral_constant<int, 1>{});
  } else {
    build(-1, negative, std::integral_constant<int, 0>{});
    build(1, positive, std::integral_constant<int, 0>{});
  }
}

namespace polytope_detail {

// Volumes: Lasserre's recursion over the face lattice, vol_m(F) = (1/m) sum over the facets
// G = F n H_b of height(apex_F, H_b within aff F) vol_{m-1}(G), with apex_F the face's first
// vertex (so the facets holding it add nothing: the pulling triangulation, summed per
// face). Each face is evaluated once per cell (memoised by its vertex set) instead of once
// per flag, so the work grows with the number of faces, not with the number of simplices
// (exponential in the dimension). A height is the plane's value at the apex over the norm
// of the plane's normal projected into the face (the face's normal space is built from the
// planes on the way down, orthonormalised). Faces of lower dimension than claimed, from
// degenerate incidences, measure ~0. Vertex sets are bit sets: one word when the cell has
// at most 64 vertices (the usual case up to 4 dimensions), four words up to 256, else a
// vector.
template <int W>
struct FixedSet {
  uint64_t w[W] = {};
  bool operator==(const FixedSet& o) const {
    for (int i = 0; i < W; ++i)
      if (w[i] != o.w[i]) return false;
    return true;
  }
  FixedSet operator&(const FixedSet& o) const {
    FixedSet r;
    for (int i = 0; i < W; ++i) r.w[i] = w[i] & o.w[i];
    return r;
  }
};
constexpr int kSetWords = 4;
using WideSet = FixedSet<kSetWords>;
constexpr size_t kSetBits = 64 * kSetWords;

// Any size (cells beyond kSetBits vertices: rare, in high dimensions).
struct DynamicSet {
  std::vector<uint64_t> w;
  bool operator==(const DynamicSet& o) const { return w == o.w; }
  DynamicSet operator&(const DynamicSet& o) const {
    DynamicSet r{w};
    for (size_t i = 0; i < r.w.size(); ++i) r.w[i] &= o.w[i];
    return r;
  }
};

inline const uint64_t* set_words(const uint64_t& s) { return &s; }
template <int W>
inline const uint64_t* set_words(const FixedSet<W>& s) { return s.w; }
inline const uint64_t* set_words(const DynamicSet& s) { return s.w.data(); }
inline uint64_t* set_words(uint64_t& s) { return &s; }
template <int W>
inline uint64_t* set_words(FixedSet<W>& s) { return s.w; }
inline uint64_t* set_words(DynamicSet& s) { return s.w.data(); }
constexpr size_t n_words(const uint64_t&) { return 1; }
template <int W>
constexpr size_t n_words(const FixedSet<W>&) { return W; }
inline size_t n_words(const DynamicSet& s) { return s.w.size(); }

template <class Set>
size_t set_bits(const Set& s) { return 64 * n_words(s); }
// The first member at or after i (set_bits(s) when none).
template <class Set>
size_t bit_from(const Set& s, size_t i) {
  const uint64_t* w = set_words(s);
  const size_t nw = n_words(s);
  for (size_t k = i >> 6; k < nw; ++k) {
    const uint64_t bits = k == (i >> 6) ? w[k] & (~0ull << (i & 63)) : w[k];
    if (bits) return 64 * k + size_t(__builtin_ctzll(bits));
  }
  return set_bits(s);
}
template <class Set>
size_t first_bit(const Set& s) { return bit_from(s, 0); }
template <class Set>
size_t next_bit(const Set& s, size_t i) { return bit_from(s, i + 1); }
template <class Set>
size_t bit_count(const Set& s) {
  size_t n = 0;
  for (size_t k = 0; k < n_words(s); ++k) n += size_t(popcount64(set_words(s)[k]));
  return n;
}
template <class Set>
bool has_bit(const Set& s, size_t i) { return (set_words(s)[i >> 6] >> (i & 63)) & 1u; }
template <class Set>
void put_bit(Set& s, size_t i) { set_words(s)[i >> 6] |= 1ull << (i & 63); }
template <class Set>
uint64_t set_hash(const Set& s, int m) {
  uint64_t h = 0x9E3779B97F4A7C15ull * uint64_t(m + 1);
  for (size_t k = 0; k < n_words(s); ++k) h = (h ^ set_words(s)[k]) * 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 31);
}

// An empty set able to hold `bits` members.
template <class Set>
Set empty_set(size_t bits) {
  if constexpr (std::is_same_v<Set, DynamicSet>) return DynamicSet{std::vector<uint64_t>((bits + 63) / 64)};
  else return Set{};
}

// dir = n minus its components along the orthonormal q[0..j) (twice: orthogonal to working
// precision); returns |dir|^2.
template <int D>
double project_out(const double* n, const double (*q)[D], int j, double* dir) {
  std::copy(n, n + D, dir);
  for (int pass = 0; pass < 2; ++pass)
    for (int r = 0; r < j; ++r) {
      double dot = 0;
      for (int c = 0; c < D; ++c) dot += dir[c] * q[r][c];
      for (int c = 0; c < D; ++c) dir[c] -= dot * q[r][c];
    }
  double n2 = 0;
  for (int c = 0; c < D; ++c) n2 += dir[c] * dir[c];
  return n2;
}

// The memoised recursion for one cell: faces keyed by (vertex set, dimension claimed).
template <int D, class Set>
class FaceVolumes {
 public:
  FaceVolumes(const PolytopeCell<D>& cell, const Set* on)
      : cell_(cell), on_(on), entries_(entry_buffer()), slots_(slot_buffer()) {
    entries_.clear();
    slots_.assign(64, -1);
  }

  // The m-volume of the face `verts` whose normal space has the orthonormal basis q[0..j).
  double volume(const Set& verts, int m, const double (*q)[D], int j) {
    return entries_[size_t(face(verts, m, q, j))].volume;
  }

 private:
  struct Entry {
    Set verts;
    int m;
    double volume;
  };
  static std::vector<Entry>& entry_buffer() {
    thread_local std::vector<Entry> buffer;
    return buffer;
  }
  static std::vector<int32_t>& slot_buffer() {
    thread_local std::vector<int32_t> buffer;
    return buffer;
  }

  const double* point(size_t v) const { return &cell_.x[v * D]; }

  // Index of the face's entry, evaluating it on first use.
  int32_t face(const Set& verts, int m, const double (*q)[D], int j) {
    const int32_t found = find(verts, m);
    return found >= 0 ? found : insert(verts, m, evaluate(verts, m, q, j));
  }

  int32_t find(const Set& verts, int m) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = size_t(set_hash(verts, m)) & mask; slots_[i] >= 0; i = (i + 1) & mask) {
      const Entry& e = entries_[size_t(slots_[i])];
      if (e.m == m && e.verts == verts) return slots_[i];
    }
    return -1;
  }

  int32_t insert(const Set& verts, int m, double volume) {
    entries_.push_back(Entry{verts, m, volume});
    const int32_t id = int32_t(entries_.size() - 1);
    if (2 * entries_.size() > slots_.size()) {  // grown: every entry again
      slots_.assign(slots_.size() * 2, -1);
      for (int32_t k = 0; k <= id; ++k) id_slot(k) = k;
    } else {
      id_slot(id) = id;
    }
    return id;
  }

  // The free slot for entry k (linear probing).
  int32_t& id_slot(int32_t k) {
    const Entry& e = entries_[size_t(k)];
    const size_t mask = slots_.size() - 1;
    size_t i = size_t(set_hash(e.verts, e.m)) & mask;
    while (slots_[i] >= 0) i = (i + 1) & mask;
    return slots_[i];
  }

  double evaluate(const Set& verts, int m, const double (*q)[D], int j) {
    const size_t kEnd = set_bits(verts);
    if (m == 1) {  // the longest distance between its points (two, unless degenerate)
      double best = 0;
      for (size_t i = first_bit(verts); i < kEnd; i = next_bit(verts, i))
        for (size_t k = next_bit(verts, i); k < kEnd; k = next_bit(verts, k)) {
          double n2 = 0;
          for (int c = 0; c < D; ++c) n2 += (point(i)[c] - point(k)[c]) * (point(i)[c] - point(k)[c]);
          best = std::max(best, n2);
        }
      return std::sqrt(best);
    }
    const size_t apex = first_bit(verts);
    constexpr int kSeen = 64;  // the face's facets seen so far: on the stack, then in `more`
    int32_t seen[kSeen];
    std::vector<int32_t> more;
    int n_seen = 0;
    double total = 0;
    double basis[D][D];  // the normal space of a facet: this face's, and the plane's direction
    for (int r = 0; r < j; ++r) std::copy(q[r], q[r] + D, basis[r]);
    for (size_t b = 0; b < cell_.planes.size(); ++b) {
      if (has_bit(on_[b], apex)) continue;  // height 0 (planes holding the whole face too)
      const Set sub = verts & on_[b];
      if (bit_count(sub) < size_t(m)) continue;  // fewer points than an (m-1)-face has
      // The plane's normal within the face, its part orthogonal to the face's normal space:
      // its length from the components along that space (unit vectors), unless the plane
      // is nearly parallel to the face, where it is projected out explicitly.
      const double* plane = &cell_.normals[b * (D + 1)];
      double unit = 0;
      for (int c = 0; c < D; ++c) unit += plane[c] * plane[c];
      if (!(unit > 0.5)) continue;  // no normal: the plane at infinity (no finite face on it)
      double along[D];
      double norm2 = 1;
      for (int r = 0; r < j; ++r) {
        along[r] = 0;
        for (int c = 0; c < D; ++c) along[r] += plane[c] * q[r][c];
        norm2 -= along[r] * along[r];
      }
      const bool explicit_projection = !(norm2 > 1e-4);
      double* dir = basis[j];
      if (explicit_projection) norm2 = project_out<D>(plane, q, j, dir);
      if (!(norm2 > 1e-24)) continue;  // parallel to the face
      const double norm = std::sqrt(norm2);
      int32_t g = find(sub, m - 1);
      if (g < 0) {
        if (!explicit_projection) project_out<D>(plane, q, j, dir);
        for (int c = 0; c < D; ++c) dir[c] /= norm;
        g = insert(sub, m - 1, evaluate(sub, m - 1, basis, j + 1));
      }
      bool dup = false;  // coincident planes give the same facet: count it once
      for (int i = 0; i < std::min(n_seen, kSeen) && !dup; ++i) dup = seen[i] == g;
      for (size_t i = 0; i < more.size() && !dup; ++i) dup = more[i] == g;
      if (dup) continue;
      if (n_seen < kSeen) seen[n_seen] = g;
      else more.push_back(g);
      ++n_seen;
      double value = plane[D];
      for (int c = 0; c < D; ++c) value += plane[c] * point(apex)[c];
      total += entries_[size_t(g)].volume * std::abs(value) / norm;
    }
    return total / m;
  }

  const PolytopeCell<D>& cell_;
  const Set* on_;
  std::vector<Entry>& entries_;
  std::vector<int32_t>& slots_;
};

// face_measure() with sets of type Set.
template <int D, class Set>
double measure_with_sets(const PolytopeCell<D>& cell, const std::vector<int32_t>& verts,
                         const std::vector<int32_t>& active, int m) {
  const int64_t nv = cell.n_vertices();
  const size_t n_planes = cell.planes.size();
  thread_local std::vector<Set> buffer;
  std::vector<Set>& on = buffer;
  on.assign(n_planes, empty_set<Set>(size_t(nv)));
  for (int64_t v = 0; v < nv; ++v)
    for (int w = 0; w < cell.words; ++w)
      for (uint64_t bits = cell.inc[size_t(v * cell.words + w)]; bits; bits &= bits - 1)
        put_bit(on[size_t(w * 64 + __builtin_ctzll(bits))], size_t(v));
  Set mask = empty_set<Set>(size_t(nv));
  for (int32_t v : verts) put_bit(mask, size_t(v));
  double q[D][D];  // the normal space of the planes holding the face, orthonormalised
  int j = 0;
  for (int32_t b : active) {
    if (j == D) break;
    const double norm = std::sqrt(project_out<D>(&cell.normals[size_t(b) * (D + 1)], q, j, q[j]));
    if (!(norm > 1e-12)) continue;
    for (int c = 0; c < D; ++c) q[j][c] /= norm;
    ++j;
  }
  FaceVolumes<D, Set> volumes(cell, on.data());
  return volumes.volume(mask, m, q, j);
}

}  // namespace polytope_detail

template <int D>
double face_measure(const PolytopeCell<D>& cell, const std::vector<int32_t>& verts,
                    const std::vector<int32_t>& active, int m) {
  if (m == 0) return 1.0;
  if (verts.empty()) return 0.0;
  const int64_t nv = cell.n_vertices();
  if (nv <= 64) return polytope_detail::measure_with_sets<D, uint64_t>(cell, verts, active, m);
  if (nv <= int64_t(polytope_detail::kSetBits))
    return polytope_detail::measure_with_sets<D, polytope_detail::WideSet>(cell, verts, active, m);
  return polytope_detail::measure_with_sets<D, polytope_detail::DynamicSet>(cell, verts, active, m);
}

template <int D>
double PolytopeCell<D>::measure() const {
  if constexpr (D >= 3) {  // simple, well-conditioned cells (nearly all): from the vertices
    double volume;
    if (lawrence_volume(*this, volume)) return volume;
  }
  thread_local std::vector<int32_t> all_buffer;
  std::vector<int32_t>& all = all_buffer;
  all.resize(static_cast<size_t>(n_vertices()));
  for (size_t v = 0; v < all.size(); ++v) all[v] = int32_t(v);
  return face_measure(*this, all, {}, D);
}

template <int D>
void PolytopeCell<D>::unit_plane(const double* coeffs, double* out) {
  double amax = 0;  // scaled by the largest entry first: no overflow in the squares
  for (int c = 0; c < D; ++c) amax = std::max(amax, std::abs(coeffs[c]));
  std::fill(out, out + D + 1, 0.0);
  if (!(amax > 0) || !std::isfinite(amax)) return;
  double n2 = 0;
  for (int c = 0; c < D; ++c) n2 += (coeffs[c] / amax) * (coeffs[c] / amax);
  const double norm = std::sqrt(n2);
  for (int c = 0; c <= D; ++c) out[c] = coeffs[c] / amax / norm;
}

template <int D>
PolytopeCell<D> PolytopeCell<D>::box(const double* lo, const double* hi) {
  PolytopeCell cell;
  const int64_t nv = int64_t(1) << D;
  for (int c = 0; c < D; ++c) {
    cell.planes.push_back(box_face_id(c, false));
    cell.planes.push_back(box_face_id(c, true));
    for (const double at : {lo[c], hi[c]}) {  // x_c - at = 0
      double coeffs[D + 1] = {};
      coeffs[c] = 1;
      coeffs[D] = -at;
      cell.push_normal(coeffs);
    }
  }
  cell.words = int32_t((2 * D + 63) / 64);
  cell.inc.assign(size_t(nv * cell.words), 0);
  for (int64_t v = 0; v < nv; ++v) {
    for (int c = 0; c < D; ++c) {
      const bool up = (v >> c) & 1;
      cell.x.push_back(up ? hi[c] : lo[c]);
      const int b = 2 * c + (up ? 1 : 0);
      cell.inc[size_t(v * cell.words + b / 64)] |= 1ull << (b % 64);
      if (!up) {
        cell.edges.push_back(int32_t(v));
        cell.edges.push_back(int32_t(v | (int64_t(1) << c)));
      }
    }
  }
  return cell;
}

template <int D>
PolytopeCell<D> PolytopeCell<D>::simplex() {
  PolytopeCell cell;
  for (int c = 0; c < D; ++c) {
    cell.planes.push_back(simplex_face_id(c));
    double coeffs[D + 1] = {};  // y_c = 0
    coeffs[c] = 1;
    cell.push_normal(coeffs);
  }
  cell.planes.push_back(kInfinityFaceId);
  double far[D + 1];  // sum(y) - 1 = 0
  for (int c = 0; c < D; ++c) far[c] = 1;
  far[D] = -1;
  cell.push_normal(far);
  cell.words = int32_t((D + 1 + 63) / 64);
  cell.inc.assign(size_t((D + 1) * cell.words), 0);
  for (int v = 0; v <= D; ++v) {  // vertex 0: the origin; vertex i: e_{i-1}
    for (int c = 0; c < D; ++c) {
      cell.x.push_back(v == c + 1 ? 1.0 : 0.0);
      if (v != c + 1) cell.inc[size_t(v * cell.words + c / 64)] |= 1ull << (c % 64);
    }
    if (v > 0) cell.inc[size_t(v * cell.words + D / 64)] |= 1ull << (D % 64);
    for (int u = 0; u < v; ++u) {
      cell.edges.push_back(int32_t(u));
      cell.edges.push_back(int32_t(v));
    }
  }
  return cell;
}

template <int D>
PolytopeCell<D> PolytopeCell<D>::cross(double radius) {
  PolytopeCell cell;
  const int64_t n_facets = int64_t(1) << D;  // facet s: sum_c sign_c(s) y_c <= radius
  for (int64_t s = 0; s < n_facets; ++s) {
    cell.planes.push_back(cross_face_id(s));
    double coeffs[D + 1];  // sum_c sign_c y_c - radius = 0, sign_c = -1 where bit c of s is set
    for (int c = 0; c < D; ++c) coeffs[c] = ((s >> c) & 1) ? -1.0 : 1.0;
    coeffs[D] = -radius;
    cell.push_normal(coeffs);
  }
  cell.words = int32_t((n_facets + 63) / 64);
  cell.inc.assign(size_t(2 * D * cell.words), 0);
  for (int v = 0; v < 2 * D; ++v) {  // vertex 2c: +r e_c, 2c+1: -r e_c
    const int c = v / 2;
    const bool minus = v % 2;
    for (int k = 0; k < D; ++k) cell.x.push_back(k == c ? (minus ? -radius : radius) : 0.0);
    for (int64_t s = 0; s < n_facets; ++s)
      if ((((s >> c) & 1) != 0) == minus) cell.inc[size_t(v * cell.words + s / 64)] |= 1ull << (s % 64);
    for (int u = 0; u < v; ++u)
      if (u / 2 != c || D == 1) {  // in one dimension the two vertices make the edge
        cell.edges.push_back(int32_t(u));
        cell.edges.push_back(int32_t(v));
      }
  }
  return cell;
}

}  // namespace regionlab::geometry
