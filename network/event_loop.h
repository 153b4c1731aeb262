// The node's event loop: one thread runs posted work and timers in order. A thin wrapper over
// boost::asio::io_context so that code outside network/ and api/ never includes Asio.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace certledger::network {

class EventLoop {
 public:
  using TimerId = uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs work and timers on the calling thread until Stop().
  void Run();
  // Thread-safe. Run() returns once the work already running finishes.
  void Stop();
  [[nodiscard]] bool stopped() const;

  // Thread-safe: runs `fn` on the loop thread.
  void Post(std::function<void()> fn);
  // Loop thread only: runs `fn` on the loop thread after `delay_ms`, unless cancelled.
  TimerId RunAfter(uint64_t delay_ms, std::function<void()> fn);
  void Cancel(TimerId id);

  // Milliseconds of a monotonic clock (for measuring), and of the wall clock (for block time).
  [[nodiscard]] static int64_t MonotonicMs();
  [[nodiscard]] static int64_t WallMs();

  // For components built on Asio (the transport).
  boost::asio::io_context& io();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace certledger::network
