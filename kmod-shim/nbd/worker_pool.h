// A fixed set of threads running queued jobs. FileVolume uses it so that
// requests complete asynchronously and out of order, as they will with the
// replication engine.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tandem::nbd {

class WorkerPool {
 public:
  explicit WorkerPool(unsigned threads);
  // Runs every job already queued, then stops the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void post(std::function<void()> job);

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tandem::nbd
