// Child processes for multi-process tests: spawn with output to a log file, signal, wait with a
// deadline. The destructor kills (SIGKILL) and reaps a child that is still running, so a failing
// test never leaves processes behind.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace certledger::testing {

class Process {
 public:
  Process() = default;
  // Starts `argv[0]` with `argv`; stdout and stderr go to `log_path` (appended).
  static Process Spawn(const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  Process(Process&& o) noexcept : pid_(o.pid_), exit_status_(o.exit_status_) { o.pid_ = -1; }
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  [[nodiscard]] bool running();
  [[nodiscard]] pid_t pid() const { return pid_; }
  void Signal(int sig) const;
  // Waits up to `timeout_ms` for the child to exit; true if it did (exit_status() is then valid).
  bool Wait(int timeout_ms);
  // SIGTERM, wait up to `timeout_ms`, then SIGKILL. Returns true if it exited on SIGTERM.
  bool Stop(int timeout_ms);
  [[nodiscard]] int exit_status() const { return exit_status_; }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

}  // namespace certledger::testing
