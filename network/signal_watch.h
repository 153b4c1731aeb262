// Process signals (SIGINT, SIGTERM, ...) delivered to a callback on a thread of its own, through
// an asio::signal_set: the node's Ctrl-C without Asio outside network/.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>

namespace certledger::network {

class SignalWatch {
 public:
  // Blocks `signals` in the calling thread, so that every thread it starts afterwards leaves them
  // to this watch (a thread interrupted by a signal handler could see EINTR where it does not
  // expect it), and runs `on_signal(signo)` on the watch's own thread each time one arrives.
  // Construct it before starting the threads that must not see the signals.
  SignalWatch(std::initializer_list<int> signals, std::function<void(int)> on_signal);
  // Stops watching and joins the thread. The signals stay blocked in the constructing thread, so
  // one that arrives later stays pending instead of killing the process.
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace certledger::network
