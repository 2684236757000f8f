// What each database backend provides to the group-commit store (internal).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uplift/server/device_store.hpp"

namespace uplift::server::internal {

class Backend {
 public:
  virtual ~Backend() = default;
  // One durable transaction; the sequence number of each report, in order.
  virtual Result<std::vector<std::int64_t>> CommitReports(
      const std::vector<const DeviceReport*>& reports) = 0;
  // One transaction that need not be durable (soft state); states are distinct devices.
  virtual Status CommitStates(const std::vector<DeviceState>& states) = 0;
  // Reads; may be called from any thread (the backend serialises them on its own connection).
  virtual Result<std::optional<DeviceState>> GetState(const std::string& tenant,
                                                      const std::string& device_id) = 0;
  virtual Result<std::vector<StoredReport>> Reports(const std::string& tenant,
                                                    const std::string& device_id,
                                                    std::int64_t after_seq, std::size_t limit) = 0;
  virtual int schema_version() const = 0;
};

// The backends on their own (migrated): the store's factories wrap them, tests call them
// directly to commit a chosen batch.
Result<std::unique_ptr<Backend>> OpenSqliteBackend(const std::string& path);
Result<std::unique_ptr<Backend>> OpenPostgresBackend(const std::string& conninfo);

// Wraps a backend with the group-commit writer thread.
std::unique_ptr<DeviceStore> MakeGroupStore(std::unique_ptr<Backend> backend, StoreOptions options);

Status Validate(const DeviceReport& r);
Status Validate(const DeviceState& s);

}  // namespace uplift::server::internal
