// The server's device state, split by what a crash may cost (issue #6, "durability without an
// fsync per request"):
//   - soft state (last seen, inventory): batched, written every flush interval; a crash may lose
//     the last interval, the next check-in restores it;
//   - reports (install phases and results, rollout outcomes): acknowledged only after a durable
//     commit, with group commit so that concurrent reports share one transaction and one fsync.
// One interface, two backends: SQLite (default; WAL, versioned migrations) and PostgreSQL
// (libpqxx; several server instances). The same behaviour tests run against both.
// Tenants, releases, tokens and nonces live in the same database: see catalog.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uplift/base/result.hpp"

namespace uplift::server {

enum class StoreErrc : int {
  kDatabase = 120,      // the database refused or failed (message carries its error)
  kSchemaTooNew = 121,  // the database was migrated by a newer server: refusing to touch it
  kInvalid = 122,       // a value outside the schema's bounds (empty id, oversized text)
  kClosed = 123,        // the store is shutting down
};

inline constexpr std::size_t kMaxIdLength = 128;
inline constexpr std::size_t kMaxInventoryBytes = 64 * 1024;
inline constexpr std::size_t kMaxReasonBytes = 4 * 1024;
inline constexpr std::size_t kMaxReportIdLength = 64;

struct DeviceState {
  std::string tenant;
  std::string device_id;
  std::int64_t last_seen = 0;  // Unix seconds
  std::string inventory;       // JSON text, as received (validated by the API layer)
  friend bool operator==(const DeviceState&, const DeviceState&) = default;
};

struct DeviceReport {
  std::string tenant;
  std::string device_id;
  std::int64_t time = 0;  // Unix seconds
  std::string phase;      // downloading, installing, installed, committed, rolled_back, failed...
  int progress = 0;       // percent, 0..100
  std::string result;     // "" while in progress, else "success" / "failure"
  std::string reason;     // failure reason
  // Chosen by the device, unique per device: [A-Za-z0-9_-]{1,64}, "" = none. Appending a report
  // whose (tenant, device, id) is stored already stores nothing and returns the stored seq, so a
  // resend after a lost acknowledgement is harmless.
  std::string report_id{};
  // The release the report is about (the rollout engine counts outcomes per release); 0 = none.
  std::int64_t release_id = 0;
  friend bool operator==(const DeviceReport&, const DeviceReport&) = default;
};

struct StoredReport {
  std::int64_t seq = 0;  // increasing per store; the device's event log order
  DeviceReport report;
};

struct StoreOptions {
  // Soft state is written at least this often (and when this many devices are pending).
  std::chrono::milliseconds state_flush_interval{200};
  std::size_t state_flush_max = 20'000;
  // Reports: up to this many share one transaction. 1 = a transaction (and fsync) per report,
  // the naive design the benchmark compares against.
  std::size_t max_group = 4096;
};

class DeviceStore {
 public:
  virtual ~DeviceStore() = default;
  // Durable: returns the report's sequence number once it is committed (fsync'd). Safe to call
  // from many threads at once; concurrent callers are committed together. A report with the
  // report_id of a stored one (also one in the same group) returns that one's seq.
  virtual Result<std::int64_t> AppendReport(const DeviceReport& report) = 0;
  // Soft: queued (the latest state per device wins) and written within the flush interval.
  virtual Status PutState(const DeviceState& state) = 0;
  // Writes every queued state now (shutdown, tests).
  virtual Status FlushState() = 0;
  virtual Result<std::optional<DeviceState>> GetState(const std::string& tenant,
                                                      const std::string& device_id) = 0;
  // Reports of one device with seq > after_seq, oldest first, at most `limit`.
  virtual Result<std::vector<StoredReport>> Reports(const std::string& tenant,
                                                    const std::string& device_id,
                                                    std::int64_t after_seq, std::size_t limit) = 0;
  virtual int schema_version() const = 0;
  // Transactions committed for reports and for soft state so far (the group-commit figure).
  virtual std::uint64_t report_commits() const = 0;
};

// SQLite at `path` (created if missing): WAL, synchronous=FULL for reports, migrations applied.
Result<std::unique_ptr<DeviceStore>> OpenSqliteStore(const std::string& path,
                                                     StoreOptions options = {});
// PostgreSQL via libpq connection string; migrations run under an advisory lock so several
// server instances can start at once.
Result<std::unique_ptr<DeviceStore>> OpenPostgresStore(const std::string& conninfo,
                                                       StoreOptions options = {});

// The schema version this build writes (docs/server-store.md).
inline constexpr int kStoreSchemaVersion = 2;

}  // namespace uplift::server

UPLIFT_ERROR_DOMAIN(uplift::server::StoreErrc, "store")
