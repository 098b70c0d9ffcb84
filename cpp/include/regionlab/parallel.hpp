// Splitting rows across threads, with Ctrl-C and exceptions carried back to the caller.
#pragma once
#include <cstdint>
#include <functional>

namespace regionlab {

// Worker threads used by the core (default: hardware threads, or REGIONLAB_NUM_THREADS).
int num_threads();
void set_num_threads(int n);  // n <= 0 restores the default

// Polled by the calling thread between blocks; returns true to stop (then Interrupted is
// thrown). The bindings pass one that checks Python's signals.
using InterruptCheck = std::function<bool()>;

// Runs body(thread, begin, end) over contiguous blocks of at most `block` rows of [0, n):
// thread t owns the t-th contiguous share, so outputs land in row order. The calling
// thread is thread 0. Rethrows the first exception a worker raised.
void parallel_blocks(int64_t n, int64_t block, int threads,
                     const std::function<void(int, int64_t, int64_t)>& body,
                     const InterruptCheck& interrupted);

// Handed to each task body: call it often (say once per unit of work). On the calling thread
// it polls `interrupted` every few milliseconds; on every thread it throws once another
// thread has failed or Ctrl-C was seen, so long tasks stop promptly.
class Checkpoint {
 public:
  virtual void operator()() = 0;
  virtual ~Checkpoint() = default;
};

// Runs body(thread, task, checkpoint) for task = 0..n-1, handed out dynamically (tasks of
// uneven cost balance across threads). Rethrows the first exception a worker raised.
void parallel_tasks(int64_t n, int threads,
                    const std::function<void(int, int64_t, Checkpoint&)>& body,
                    const InterruptCheck& interrupted);

}  // namespace regionlab
