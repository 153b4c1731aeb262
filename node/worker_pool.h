// A fixed pool of worker threads for CPU-bound work that must not run on the node's event loop
// (signature verification of gossiped transactions). Tasks run in FIFO order across the
// workers; the destructor finishes the queued tasks and joins the threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace certledger::node {

class WorkerPool {
 public:
  explicit WorkerPool(size_t threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Thread-safe. Returns false (and drops the task) once more than `max_queue` tasks wait.
  bool Submit(std::function<void()> task, size_t max_queue = 100000);
  // Thread-safe. Queues `task` ahead of every waiting task (consensus work that must not wait
  // behind gossip verification).
  void SubmitUrgent(std::function<void()> task);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace certledger::node
