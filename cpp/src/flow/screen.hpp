// The event search's first pass: every (sample, neuron) pair of a layer, at a step's start
// and end, screened in one vectorised sweep for a sign change or a possible dip (a pair that
// may cross and come back inside the step). Compiled per ISA (screen.inl); internal to
// cpp/src/flow.
#pragma once
#include <cstdint>
#include <vector>

namespace regionlab::flow {

struct ScreenArgs {
  const double* z0;      // n x w pre-activations at the step's start
  const double* z1;      // ... and end
  const uint8_t* bits;   // the pairs' sides as slope bits (1: active), SlopeMask layout
  int64_t row_bytes;
  int64_t row_begin, row_end;  // the samples to screen (of n)
  int64_t w;
  const double* kinked;  // padded per neuron: 1 where the neuron has a kink, else 0
  // A pair on the same side at both ends is "near" when min(|z0|, |z1|) <= reach:
  // reach = curv[j] * xnorm[i] when curv is given, else |z1 - z0|.
  const double* curv;    // padded per neuron, or null
  const double* xnorm;   // per sample (with curv)
  // > 0: also list the pairs on their side at both ends that move toward their kink fast
  // enough to reach it within lookahead more steps of this length (z1 at the current
  // pace): the candidates for the next crossing (see FlowField::aim_step).
  double lookahead = 0;
};

// Flat indices i * w + j of the pairs whose z1 lies on the other side (crossed), of
// those near their kink (near) and of those approaching it (approach, with lookahead).
// Pairs held on their kink have bit 1 here: callers skip them.
struct ScreenHits {
  std::vector<int64_t> crossed, near, approach;
  void clear() { crossed.clear(); near.clear(); approach.clear(); }
};
using ScreenFn = void (*)(const ScreenArgs& a, ScreenHits& hits);

ScreenFn screen_pairs();

}  // namespace regionlab::flow
