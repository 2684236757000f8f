// Replay protection on SQLite (internal; docs/server-store.md §Nonces). One server instance
// owns an SQLite database, so its memory is the authority: a sharded hash set answers
// RecordNonce without touching the disk, and a background thread writes new nonces to the
// `nonces` table in one transaction every flush interval (write-behind). Opening loads the
// table, so a restart does not reopen the replay window; a crash loses at most the nonces of
// the last interval (which the timestamp window bounds anyway).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "sqlite_schema.hpp"

namespace uplift::server::internal {

class SqliteNonces {
 public:
  // Loads the table of the migrated database at `path` and starts the writer thread.
  static Result<std::unique_ptr<SqliteNonces>> Open(const std::string& path,
                                                    std::chrono::milliseconds flush_interval);
  // Stops the writer and writes what is pending.
  ~SqliteNonces();
  SqliteNonces(const SqliteNonces&) = delete;
  SqliteNonces& operator=(const SqliteNonces&) = delete;

  // Arguments are validated (no '\n' in them). True if new (now recorded), false if seen.
  bool Record(const std::string& tenant, const std::string& device_id, const std::string& nonce,
              std::int64_t time);
  // Drops nonces with time < older_than from memory, the pending queue and the table.
  Status Prune(std::int64_t older_than);
  // Writes the pending nonces now; on failure they stay pending for the next attempt.
  Status Flush();

 private:
  static constexpr std::size_t kShards = 32;
  struct Pending {
    std::string key;  // tenant '\n' device '\n' nonce
    std::int64_t time;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, std::int64_t> seen;
    std::vector<Pending> pending;
  };

  SqliteNonces(sqlite::Conn conn, std::chrono::milliseconds interval)
      : conn_(std::move(conn)), interval_(interval) {}
  Shard& ShardOf(const std::string& key);
  Status Load();
  void Run();

  std::array<Shard, kShards> shards_;
  std::mutex db_mu_;  // conn_ (the writer thread's flushes, Prune's delete)
  sqlite::Conn conn_;
  std::chrono::milliseconds interval_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace uplift::server::internal
