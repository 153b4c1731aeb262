#include "tests/testing/fault_env.h"

#include <filesystem>
#include <memory>
#include <system_error>

namespace certledger::testing {

namespace {

class FaultFile : public leveldb::WritableFile {
 public:
  FaultFile(FaultInjectionEnv* env, std::string name, leveldb::WritableFile* base, uint64_t size)
      : env_(env), name_(std::move(name)), base_(base), size_(size) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    if (!env_->ConsumeOp()) return leveldb::Status::IOError(name_, "injected append failure");
    leveldb::Status s = base_->Append(data);
    if (s.ok()) {
      size_ += data.size();
      env_->Grew(name_, size_);
    }
    return s;
  }
  leveldb::Status Close() override { return base_->Close(); }
  leveldb::Status Flush() override { return base_->Flush(); }
  leveldb::Status Sync() override {
    if (!env_->ConsumeOp()) return leveldb::Status::IOError(name_, "injected sync failure");
    leveldb::Status s = base_->Flush();  // to the page cache; durability is modelled
    if (s.ok()) env_->Synced(name_);
    return s;
  }

 private:
  FaultInjectionEnv* env_;
  std::string name_;
  std::unique_ptr<leveldb::WritableFile> base_;
  uint64_t size_;
};

}  // namespace

void FaultInjectionEnv::FailAfter(int64_t ops) {
  std::lock_guard lock(mu_);
  fail_after_ = ops < 0 ? -1 : ops_ + ops;
}

int64_t FaultInjectionEnv::write_ops() const {
  std::lock_guard lock(mu_);
  return ops_;
}

bool FaultInjectionEnv::ConsumeOp() {
  std::lock_guard lock(mu_);
  if (fail_after_ >= 0 && ops_ >= fail_after_) return false;
  ++ops_;
  return true;
}

void FaultInjectionEnv::Grew(const std::string& f, uint64_t size) {
  std::lock_guard lock(mu_);
  files_[f].size = size;
}

void FaultInjectionEnv::Synced(const std::string& f) {
  std::lock_guard lock(mu_);
  files_[f].synced = files_[f].size;
}

leveldb::Status FaultInjectionEnv::NewWritableFile(const std::string& f,
                                                   leveldb::WritableFile** r) {
  *r = nullptr;
  if (!ConsumeOp()) return leveldb::Status::IOError(f, "injected create failure");
  leveldb::WritableFile* base = nullptr;
  leveldb::Status s = target()->NewWritableFile(f, &base);
  if (!s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    files_[f] = FileState{};
  }
  *r = new FaultFile(this, f, base, 0);
  return s;
}

leveldb::Status FaultInjectionEnv::NewAppendableFile(const std::string& f,
                                                     leveldb::WritableFile** r) {
  *r = nullptr;
  if (!ConsumeOp()) return leveldb::Status::IOError(f, "injected open failure");
  uint64_t size = 0;
  if (target()->FileExists(f) && !target()->GetFileSize(f, &size).ok()) size = 0;
  leveldb::WritableFile* base = nullptr;
  leveldb::Status s = target()->NewAppendableFile(f, &base);
  if (!s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = files_.try_emplace(f, FileState{size, size});
    if (inserted) it->second = FileState{size, size};  // existing content counts as durable
  }
  *r = new FaultFile(this, f, base, size);
  return s;
}

leveldb::Status FaultInjectionEnv::RenameFile(const std::string& src,
                                              const std::string& target_name) {
  if (!ConsumeOp()) return leveldb::Status::IOError(src, "injected rename failure");
  leveldb::Status s = target()->RenameFile(src, target_name);
  if (s.ok()) {
    std::lock_guard lock(mu_);
    auto it = files_.find(src);
    if (it != files_.end()) {
      files_[target_name] = it->second;
      files_.erase(src);
    } else {
      files_.erase(target_name);
    }
  }
  return s;
}

leveldb::Status FaultInjectionEnv::RemoveFile(const std::string& f) {
  leveldb::Status s = target()->RemoveFile(f);
  if (s.ok()) {
    std::lock_guard lock(mu_);
    files_.erase(f);
  }
  return s;
}

void FaultInjectionEnv::DropUnsyncedData() {
  std::lock_guard lock(mu_);
  for (auto& [name, st] : files_) {
    std::error_code ec;
    if (std::filesystem::exists(name, ec) && std::filesystem::file_size(name, ec) > st.synced) {
      std::filesystem::resize_file(name, st.synced, ec);
    }
    st.size = st.synced;
  }
  fail_after_ = -1;
}

}  // namespace certledger::testing
