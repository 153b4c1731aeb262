// The LevelDB implementation of ledger::Store.
#pragma once

#include <memory>
#include <string>

#include "ledger/store.h"

namespace leveldb {
class Env;
}

namespace certledger::ledger {

struct LevelDBStoreOptions {
  std::string path;                     // directory; created if missing
  size_t block_cache_bytes = 64 << 20;  // LevelDB block cache
  size_t write_buffer_bytes = 16 << 20;
  // Table files (LevelDB's default). 16 MiB files cut a 1M-certificate store from ~1,500 files
  // to ~200 but cost 10-15% of a 4-validator cluster's write throughput on two cores (bigger
  // compactions); keeping every file open (below) serves reads as well.
  size_t table_file_bytes = 2 << 20;
  // Table files kept open; 0: automatic (up to 10,000, leaving 256 descriptors of the process's
  // RLIMIT_NOFILE for everything else, at least 64). LevelDB's default of 1,000 is below the
  // ~1,500 files of a 1M-certificate store: every read then reopened a file and its index.
  int max_open_files = 0;
  bool sync = true;  // fsync every AppendBlock (never turn off outside benchmarks)
  // State-tree nodes kept decoded in memory, per generation (two generations: at most about twice
  // this many; about 150 bytes each), in whole pages (FORMAT.md §12). Pages are content-addressed,
  // so a cached one is never stale.
  size_t state_node_cache_entries = 128 << 10;
  // Storage environment; nullptr = the default. Tests inject a fault-injecting one.
  leveldb::Env* env = nullptr;
  Status Validate() const;
};

// Opens (creating if needed) a LevelDB store. Initialize() must follow.
Result<std::unique_ptr<Store>> OpenLevelDBStore(const LevelDBStoreOptions& options);

}  // namespace certledger::ledger
