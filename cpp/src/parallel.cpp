#include "regionlab/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "regionlab/errors.hpp"

namespace regionlab {

namespace {
int default_threads() {
  if (const char* env = std::getenv("REGIONLAB_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}
std::atomic<int> g_threads{0};
constexpr int kMaxThreads = 1024;
}  // namespace

int num_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : default_threads();
}

void set_num_threads(int n) { g_threads.store(n > 0 ? std::min(n, kMaxThreads) : 0); }

void parallel_blocks(int64_t n, int64_t block, int threads,
                     const std::function<void(int, int64_t, int64_t)>& body,
                     const InterruptCheck& interrupted) {
  if (n <= 0) return;
  block = std::max<int64_t>(1, block);
  // No more threads than blocks: tiny inputs run on the calling thread alone.
  threads = int(std::max<int64_t>(1, std::min<int64_t>(threads, (n + block - 1) / block)));
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto fail = [&](std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (!error) error = e;
    stop.store(true);
  };
  // The interrupt check takes the GIL: poll it every few milliseconds, not every block.
  constexpr auto kPollInterval = std::chrono::milliseconds(20);
  auto run_share = [&](int t) {
    const int64_t begin = n * t / threads, end = n * (t + 1) / threads;
    auto last_poll = std::chrono::steady_clock::now();
    try {
      for (int64_t b = begin; b < end && !stop.load(std::memory_order_relaxed); b += block) {
        if (t == 0 && interrupted) {
          const auto now = std::chrono::steady_clock::now();
          if (now - last_poll >= kPollInterval) {
            last_poll = now;
            if (interrupted()) throw Interrupted();
          }
        }
        body(t, b, std::min(end, b + block));
      }
    } catch (...) {
      fail(std::current_exception());
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(size_t(threads - 1));
  for (int t = 1; t < threads; ++t) {
    try {
      workers.emplace_back(run_share, t);
    } catch (...) {  // the system refused a thread: stop cleanly instead of std::terminate
      fail(std::current_exception());
      break;
    }
  }
  run_share(0);
  for (auto& w : workers) w.join();
  if (error) std::rethrow_exception(error);
}

namespace {
constexpr auto kTaskPollInterval = std::chrono::milliseconds(20);

class TaskCheckpoint final : public Checkpoint {
 public:
  TaskCheckpoint(const std::atomic<bool>& stop, const InterruptCheck* interrupted)
      : stop_(stop), interrupted_(interrupted), last_poll_(std::chrono::steady_clock::now()) {}
  void operator()() override {
    if (stop_.load(std::memory_order_relaxed)) throw Interrupted();
    if (!interrupted_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_poll_ < kTaskPollInterval) return;
    last_poll_ = now;
    if ((*interrupted_)()) throw Interrupted();
  }

 private:
  const std::atomic<bool>& stop_;
  const InterruptCheck* interrupted_;  // only the calling thread may poll it
  std::chrono::steady_clock::time_point last_poll_;
};
}  // namespace

void parallel_tasks(int64_t n, int threads,
                    const std::function<void(int, int64_t, Checkpoint&)>& body,
                    const InterruptCheck& interrupted) {
  if (n <= 0) return;
  threads = int(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
  std::atomic<int64_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto fail = [&](std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(error_mutex);
    // A worker stopped by another's failure reports Interrupted: keep the original error.
    if (!error) error = e;
    stop.store(true);
  };
  int running = threads;  // guarded by done_mutex; the last worker out wakes the caller
  std::mutex done_mutex;
  std::condition_variable done;
  auto run = [&](int t) {
    TaskCheckpoint checkpoint(stop, t == 0 && interrupted ? &interrupted : nullptr);
    try {
      for (int64_t task = next++; task < n && !stop.load(); task = next++) {
        checkpoint();
        body(t, task, checkpoint);
      }
    } catch (...) {
      if (!stop.load()) fail(std::current_exception());
    }
    std::lock_guard<std::mutex> lock(done_mutex);
    if (--running == 0) done.notify_all();
  };
  std::vector<std::thread> workers;
  workers.reserve(size_t(threads - 1));
  for (int t = 1; t < threads; ++t) {
    try {
      workers.emplace_back(run, t);
    } catch (...) {
      fail(std::current_exception());
      break;
    }
  }
  run(0);
  // Out of tasks, the calling thread keeps watching for Ctrl-C while the others finish
  // theirs. It waits on a condition, not a sleep: a sleep made every call that ended on a
  // worker's last task take a whole poll interval (20 ms for a 1 ms segment).
  if (interrupted) {
    std::unique_lock<std::mutex> lock(done_mutex);
    while (running > 0 && !stop.load()) {
      if (done.wait_for(lock, kTaskPollInterval, [&] { return running == 0; })) break;
      lock.unlock();  // the check takes the GIL; workers must be able to finish meanwhile
      try {
        if (interrupted()) throw Interrupted();
      } catch (...) {
        fail(std::current_exception());
      }
      lock.lock();
    }
  }
  for (auto& w : workers) w.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace regionlab
