// A LevelDB Env for crash tests: counts write operations, can make every write fail after a
// given count, and can simulate a power loss by dropping everything not synced.
//
// Sync() records that a file's current length is durable without calling fsync, so a test can
// crash a store at hundreds of points quickly; the durability it models is what LevelDB asked
// for, which is what the store's guarantees rest on. Thread-safe (LevelDB writes from its
// background thread too).
#pragma once

#include <leveldb/env.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace certledger::testing {

class FaultInjectionEnv : public leveldb::EnvWrapper {
 public:
  explicit FaultInjectionEnv(leveldb::Env* base) : EnvWrapper(base) {}

  // After `ops` more write operations (Append, Sync, file creation, rename), every write
  // operation fails with an I/O error. Negative: never fail.
  void FailAfter(int64_t ops);
  [[nodiscard]] int64_t write_ops() const;

  // Simulates a power loss: truncates every file written through this env to its synced length.
  // REQUIRES: no open database uses this env.
  void DropUnsyncedData();

  leveldb::Status NewWritableFile(const std::string& f, leveldb::WritableFile** r) override;
  leveldb::Status NewAppendableFile(const std::string& f, leveldb::WritableFile** r) override;
  leveldb::Status RenameFile(const std::string& src, const std::string& target) override;
  leveldb::Status RemoveFile(const std::string& f) override;

  // Used by the file wrapper.
  bool ConsumeOp();  // false if this operation must fail
  void Grew(const std::string& f, uint64_t size);
  void Synced(const std::string& f);

 private:
  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, FileState> files_;
  int64_t fail_after_ = -1;
  int64_t ops_ = 0;
};

}  // namespace certledger::testing
