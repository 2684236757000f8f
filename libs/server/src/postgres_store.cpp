// PostgreSQL backend (libpqxx 6.4): a writer connection for the group-commit thread and a reader
// connection behind a mutex. A batch of reports is one INSERT ... SELECT FROM unnest(arrays):
// one round trip and one durable commit however many devices reported. Soft state commits with
// synchronous_commit off. Migrations hold an advisory lock: several instances may start at once.
#include <algorithm>
#include <mutex>
#include <pqxx/pqxx>

#include "store_backend.hpp"

namespace uplift::server::internal {
namespace {

constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE device_state (
  tenant TEXT NOT NULL,
  device_id TEXT NOT NULL,
  last_seen BIGINT NOT NULL,
  inventory TEXT NOT NULL,
  PRIMARY KEY (tenant, device_id)
);
CREATE TABLE device_reports (
  seq BIGSERIAL PRIMARY KEY,
  tenant TEXT NOT NULL,
  device_id TEXT NOT NULL,
  time BIGINT NOT NULL,
  phase TEXT NOT NULL,
  progress INTEGER NOT NULL,
  result TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX device_reports_by_device ON device_reports (tenant, device_id, seq);
)sql",
};
static_assert(std::size(kMigrations) == kStoreSchemaVersion);

constexpr long kMigrationLock = 0x55504c4946;  // "UPLIF"

// A PostgreSQL array literal of text values: {"a","b\"c"}.
class ArrayLiteral {
 public:
  void Add(const std::string& v) {
    s_ += s_.empty() ? "{\"" : ",\"";
    for (char c : v) {
      if (c == '"' || c == '\\') s_ += '\\';
      s_ += c;
    }
    s_ += '"';
  }
  void Add(std::int64_t v) { Add(std::to_string(v)); }
  std::string Take() { return s_.empty() ? "{}" : s_ + "}"; }

 private:
  std::string s_;
};

template <typename F>
auto Guard(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Error(StoreErrc::kDatabase, std::string("postgres: ") + what + ": " + e.what());
  }
}

class PostgresBackend final : public Backend {
 public:
  static Result<std::unique_ptr<PostgresBackend>> Open(const std::string& conninfo) {
    return Guard("connect", [&]() -> Result<std::unique_ptr<PostgresBackend>> {
      std::unique_ptr<PostgresBackend> b(new PostgresBackend(conninfo));
      UPLIFT_TRY(b->Migrate());
      return b;
    });
  }

  Result<std::vector<std::int64_t>> CommitReports(
      const std::vector<const DeviceReport*>& reports) override {
    return Guard("insert reports", [&]() -> Result<std::vector<std::int64_t>> {
      ArrayLiteral tenant, device, time, phase, progress, result, reason;
      for (const DeviceReport* r : reports) {
        tenant.Add(r->tenant);
        device.Add(r->device_id);
        time.Add(r->time);
        phase.Add(r->phase);
        progress.Add(static_cast<std::int64_t>(r->progress));
        result.Add(r->result);
        reason.Add(r->reason);
      }
      pqxx::work tx(writer_);
      // Rows are inserted in ordinality order, so their sequence numbers ascend in that order.
      const pqxx::result rows = tx.exec_params(
          "INSERT INTO device_reports (tenant, device_id, time, phase, progress, result, reason) "
          "SELECT t, d, tm, ph, pr, rs, rn FROM unnest($1::text[], $2::text[], $3::bigint[], "
          "$4::text[], $5::int[], $6::text[], $7::text[]) WITH ORDINALITY "
          "AS u(t, d, tm, ph, pr, rs, rn, ord) ORDER BY ord RETURNING seq",
          tenant.Take(), device.Take(), time.Take(), phase.Take(), progress.Take(), result.Take(),
          reason.Take());
      tx.commit();  // synchronous_commit on: durable when this returns
      std::vector<std::int64_t> seqs;
      seqs.reserve(rows.size());
      for (const auto& row : rows) seqs.push_back(row[0].as<std::int64_t>());
      std::sort(seqs.begin(), seqs.end());
      if (seqs.size() != reports.size()) {
        return Error(StoreErrc::kDatabase, "postgres: insert returned " +
                                               std::to_string(seqs.size()) + " rows for " +
                                               std::to_string(reports.size()) + " reports");
      }
      return seqs;
    });
  }

  Status CommitStates(const std::vector<DeviceState>& states) override {
    return Guard("upsert state", [&]() -> Status {
      ArrayLiteral tenant, device, seen, inventory;
      for (const auto& s : states) {
        tenant.Add(s.tenant);
        device.Add(s.device_id);
        seen.Add(s.last_seen);
        inventory.Add(s.inventory);
      }
      pqxx::work tx(writer_);
      tx.exec("SET LOCAL synchronous_commit TO OFF");  // soft state: a crash may lose it
      tx.exec_params(
          "INSERT INTO device_state (tenant, device_id, last_seen, inventory) "
          "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) "
          "ON CONFLICT (tenant, device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen, "
          "inventory = EXCLUDED.inventory",
          tenant.Take(), device.Take(), seen.Take(), inventory.Take());
      tx.commit();
      return Ok();
    });
  }

  Result<std::optional<DeviceState>> GetState(const std::string& tenant,
                                              const std::string& device_id) override {
    std::lock_guard lock(read_mu_);
    return Guard("read state", [&]() -> Result<std::optional<DeviceState>> {
      pqxx::read_transaction tx(reader_);
      const pqxx::result r = tx.exec_params(
          "SELECT last_seen, inventory FROM device_state WHERE tenant = $1 AND device_id = $2",
          tenant, device_id);
      if (r.empty()) return std::optional<DeviceState>();
      return std::optional<DeviceState>(
          DeviceState{tenant, device_id, r[0][0].as<std::int64_t>(), r[0][1].as<std::string>()});
    });
  }

  Result<std::vector<StoredReport>> Reports(const std::string& tenant, const std::string& device_id,
                                            std::int64_t after_seq, std::size_t limit) override {
    std::lock_guard lock(read_mu_);
    return Guard("read reports", [&]() -> Result<std::vector<StoredReport>> {
      pqxx::read_transaction tx(reader_);
      const pqxx::result rows = tx.exec_params(
          "SELECT seq, time, phase, progress, result, reason FROM device_reports WHERE tenant = $1 "
          "AND device_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
          tenant, device_id, after_seq,
          static_cast<std::int64_t>(std::min<std::size_t>(limit, 1'000'000)));
      std::vector<StoredReport> out;
      for (const auto& row : rows) {
        StoredReport r;
        r.seq = row[0].as<std::int64_t>();
        r.report = DeviceReport{tenant,
                                device_id,
                                row[1].as<std::int64_t>(),
                                row[2].as<std::string>(),
                                row[3].as<int>(),
                                row[4].as<std::string>(),
                                row[5].as<std::string>()};
        out.push_back(std::move(r));
      }
      return out;
    });
  }

  int schema_version() const override { return version_; }

 private:
  explicit PostgresBackend(const std::string& conninfo) : writer_(conninfo), reader_(conninfo) {}

  Status Migrate() {
    pqxx::work tx(writer_);
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")");
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "applied TIMESTAMPTZ NOT NULL DEFAULT now())");
    int version =
        tx.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0][0].as<int>();
    if (version > kStoreSchemaVersion) {
      return Error(StoreErrc::kSchemaTooNew, "database schema version " + std::to_string(version) +
                                                 " is newer than this server's " +
                                                 std::to_string(kStoreSchemaVersion));
    }
    for (; version < kStoreSchemaVersion; ++version) {
      tx.exec(kMigrations[version]);
      tx.exec("INSERT INTO schema_migrations (version) VALUES (" + std::to_string(version + 1) +
              ")");
    }
    tx.commit();
    version_ = version;
    return Ok();
  }

  pqxx::connection writer_;
  pqxx::connection reader_;
  std::mutex read_mu_;
  int version_ = 0;
};

}  // namespace
}  // namespace uplift::server::internal

namespace uplift::server {

Result<std::unique_ptr<DeviceStore>> OpenPostgresStore(const std::string& conninfo,
                                                       StoreOptions options) {
  UPLIFT_ASSIGN(auto backend, internal::PostgresBackend::Open(conninfo));
  return internal::MakeGroupStore(std::move(backend), options);
}

}  // namespace uplift::server
