// Polls a Ctrl-C check about every 20 ms from a long loop (internal to cpp/src/flow).
#pragma once
#include <chrono>

#include "regionlab/errors.hpp"
#include "regionlab/parallel.hpp"

namespace regionlab::flow {

class InterruptPoller {
 public:
  explicit InterruptPoller(const InterruptCheck& check) : check_(check), last_(clock::now()) {}
  void poll() {
    if (!check_) return;
    const auto now = clock::now();
    if (now - last_ < std::chrono::milliseconds(20)) return;
    last_ = now;
    if (check_()) throw Interrupted();
  }

 private:
  using clock = std::chrono::steady_clock;
  const InterruptCheck& check_;
  clock::time_point last_;
};

}  // namespace regionlab::flow
