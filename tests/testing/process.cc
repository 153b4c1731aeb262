#include "tests/testing/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>

#include <chrono>
#include <thread>

namespace certledger::testing {

Process Process::Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  Process p;
  pid_t pid = ::fork();
  if (pid == 0) {
    // If the test process dies (a crash, a sanitizer abort), its children die with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    // Children must not inherit a blocked signal mask from the test runner.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::perror(args[0]);  // into the log: why the child never ran
    ::_exit(127);
  }
  p.pid_ = pid;
  return p;
}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0 && running()) {
      ::kill(pid_, SIGKILL);
      Wait(5000);
    }
    pid_ = o.pid_;
    exit_status_ = o.exit_status_;
    o.pid_ = -1;
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && running()) {
    ::kill(pid_, SIGKILL);
    Wait(5000);
  }
}

bool Process::running() {
  if (pid_ <= 0 || exit_status_ != -1) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = status;
    return false;
  }
  return r == 0;
}

void Process::Signal(int sig) const {
  if (pid_ > 0 && exit_status_ == -1) ::kill(pid_, sig);
}

bool Process::Wait(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

bool Process::Stop(int timeout_ms) {
  if (!running()) return true;
  Signal(SIGTERM);
  if (Wait(timeout_ms)) return true;
  Signal(SIGKILL);
  Wait(5000);
  return false;
}

}  // namespace certledger::testing
