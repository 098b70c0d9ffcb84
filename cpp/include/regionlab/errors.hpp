// Exceptions the core throws; the bindings map each to one Python exception type.
#pragma once
#include <stdexcept>
#include <string>

namespace regionlab {

// Bad user input (shapes, NaN/Inf, ...): ValueError in Python.
struct InvalidInput : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// A documented size limit (max_patterns, max_regions, ...) would be exceeded: ValueError.
struct LimitExceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The user pressed Ctrl-C while the core was working: KeyboardInterrupt.
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

}  // namespace regionlab
