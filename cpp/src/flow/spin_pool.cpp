// Persistent helper threads: spin ~0.2 ms for the next job, then sleep on a condition.
#include "regionlab/flow/spin_pool.hpp"

#include <chrono>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define REGIONLAB_PAUSE() _mm_pause()
#else
#define REGIONLAB_PAUSE() std::this_thread::yield()
#endif

namespace regionlab::flow {

namespace {
constexpr auto kSpin = std::chrono::microseconds(200);
}

SpinPool::SpinPool(int helpers) {
  for (int t = 1; t <= helpers; ++t) threads_.emplace_back([this, t] { worker(t); });
}

SpinPool::~SpinPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (std::thread& th : threads_) th.join();
}

void SpinPool::worker(int t) {
  uint64_t seen = 0;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && !stop_.load()) {
      REGIONLAB_PAUSE();
      if (++spins % 64 == 0 && std::chrono::steady_clock::now() - start > kSpin) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] {
          return generation_.load(std::memory_order_acquire) != seen || stop_.load();
        });
      }
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    try {
      (*job_)(t);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void SpinPool::run(const std::function<void(int)>& job) {
  job_ = &job;
  pending_.store(int(threads_.size()), std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  std::exception_ptr mine;
  try {
    job(0);
  } catch (...) {
    mine = std::current_exception();
  }
  int spins = 0;
  while (pending_.load(std::memory_order_acquire) != 0) {
    REGIONLAB_PAUSE();
    if (++spins > 4096) std::this_thread::yield();  // a helper may be descheduled
  }
  if (mine) std::rethrow_exception(mine);
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

}  // namespace regionlab::flow
