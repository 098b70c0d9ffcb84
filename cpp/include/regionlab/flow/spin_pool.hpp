// A tiny pool of persistent threads for work items of ~10-100 microseconds (one batch
// gradient), where starting threads per call would cost more than the work. Helpers spin
// briefly between calls, then sleep.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace regionlab::flow {

class SpinPool {
 public:
  explicit SpinPool(int helpers);
  ~SpinPool();
  SpinPool(const SpinPool&) = delete;
  SpinPool& operator=(const SpinPool&) = delete;

  int size() const { return int(threads_.size()) + 1; }
  // Runs job(t) for t in [0, size()), t = 0 on the calling thread; returns when all are
  // done and rethrows the first exception a job raised.
  void run(const std::function<void(int)>& job);

 private:
  void worker(int t);

  std::vector<std::thread> threads_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int)>* job_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::exception_ptr error_;
};

}  // namespace regionlab::flow
