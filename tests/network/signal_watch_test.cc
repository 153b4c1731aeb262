#include "network/signal_watch.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace certledger::network {
namespace {

bool Blocked(int sig) {
  sigset_t current;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &current);
  return sigismember(&current, sig) == 1;
}

// Each signal reaches the callback on the watch's thread; threads started after the watch leave
// the signals to it (blocked), and so does the constructing thread after the watch is gone.
TEST(SignalWatchTest, DeliversEachSignalToTheCallback) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> got;
  auto wait_for = [&](size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return got.size() >= n; });
  };
  {
    SignalWatch watch({SIGUSR1, SIGUSR2}, [&](int sig) {
      std::lock_guard lock(mu);
      got.push_back(sig);
      cv.notify_all();
    });
    bool blocked_in_new_thread = false;
    std::thread([&] { blocked_in_new_thread = Blocked(SIGUSR1) && Blocked(SIGUSR2); }).join();
    EXPECT_TRUE(blocked_in_new_thread);

    ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
    ASSERT_TRUE(wait_for(1));
    ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
    ASSERT_TRUE(wait_for(2));
    ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);  // the watch goes on after the first one
    ASSERT_TRUE(wait_for(3));
  }
  EXPECT_EQ(got, (std::vector<int>{SIGUSR1, SIGUSR2, SIGUSR1}));
  EXPECT_TRUE(Blocked(SIGUSR1));
  // Nothing is pending: unblock again for the tests that follow.
  sigset_t both;
  sigemptyset(&both);
  sigaddset(&both, SIGUSR1);
  sigaddset(&both, SIGUSR2);
  ::pthread_sigmask(SIG_UNBLOCK, &both, nullptr);
}

// A watch that never saw a signal stops and joins promptly.
TEST(SignalWatchTest, StopsWithoutSignals) {
  const auto start = std::chrono::steady_clock::now();
  {
    SignalWatch watch({SIGUSR2}, [](int) {});
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, SIGUSR2);
  ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
}

}  // namespace
}  // namespace certledger::network
