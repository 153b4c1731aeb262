#include "network/signal_watch.h"

#include <pthread.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <thread>
#include <utility>

namespace certledger::network {

struct SignalWatch::Impl {
  explicit Impl(std::function<void(int)> fn) : on_signal(std::move(fn)) {}

  void Wait() {
    signals.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;  // cancelled: the watch is going away
      on_signal(signo);
      Wait();
    });
  }

  std::function<void(int)> on_signal;
  boost::asio::io_context io;
  boost::asio::signal_set signals{io};
  sigset_t mask{};
  std::thread thread;
};

SignalWatch::SignalWatch(std::initializer_list<int> signals, std::function<void(int)> on_signal)
    : impl_(std::make_unique<Impl>(std::move(on_signal))) {
  sigemptyset(&impl_->mask);
  for (int s : signals) {
    sigaddset(&impl_->mask, s);
    impl_->signals.add(s);
  }
  ::pthread_sigmask(SIG_BLOCK, &impl_->mask, nullptr);
  impl_->Wait();
  impl_->thread = std::thread([impl = impl_.get()] {
    // The one thread that takes these signals: asio's handler runs here and wakes the
    // io_context, whose wait then calls on_signal.
    ::pthread_sigmask(SIG_UNBLOCK, &impl->mask, nullptr);
    impl->io.run();
  });
}

SignalWatch::~SignalWatch() {
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace certledger::network
