// SQLite backend: one writer connection (the group-commit thread) with synchronous=FULL for
// reports and NORMAL for soft state (WAL: a NORMAL commit is not fsync'd until a later FULL one
// or a checkpoint), and one reader connection behind a mutex.
#include <sqlite3.h>

#include <mutex>

#include "store_backend.hpp"

namespace uplift::server::internal {
namespace {

// Migration k (1-based) brings the schema from version k-1 to k. Never edit a released entry:
// append a new one.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE device_state (
  tenant TEXT NOT NULL,
  device_id TEXT NOT NULL,
  last_seen INTEGER NOT NULL,
  inventory TEXT NOT NULL,
  PRIMARY KEY (tenant, device_id)
);
CREATE TABLE device_reports (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL,
  device_id TEXT NOT NULL,
  time INTEGER NOT NULL,
  phase TEXT NOT NULL,
  progress INTEGER NOT NULL,
  result TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX device_reports_by_device ON device_reports (tenant, device_id, seq);
)sql",
};
static_assert(std::size(kMigrations) == kStoreSchemaVersion);

struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbDeleter>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

Error DbError(sqlite3* db, const std::string& what) {
  return Error(StoreErrc::kDatabase, "sqlite: " + what + ": " + sqlite3_errmsg(db));
}

Status Exec(sqlite3* db, const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg != nullptr ? msg : "error";
    sqlite3_free(msg);
    return Error(StoreErrc::kDatabase, std::string("sqlite: ") + m);
  }
  return Ok();
}

Result<Stmt> Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    return DbError(db, "prepare");
  }
  return Stmt(s);
}

Result<Db> OpenDb(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return Error(StoreErrc::kDatabase, "sqlite: open " + path + ": " +
                                           (raw != nullptr ? sqlite3_errmsg(raw) : "no memory"));
  }
  sqlite3_busy_timeout(db.get(), 10'000);
  UPLIFT_TRY(
      Exec(db.get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  return db;
}

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
std::string Text(sqlite3_stmt* s, int i) {
  const auto* p = sqlite3_column_text(s, i);
  return p != nullptr ? std::string(reinterpret_cast<const char*>(p),
                                    static_cast<std::size_t>(sqlite3_column_bytes(s, i)))
                      : std::string();
}

class SqliteBackend final : public Backend {
 public:
  static Result<std::unique_ptr<SqliteBackend>> Open(const std::string& path) {
    std::unique_ptr<SqliteBackend> b(new SqliteBackend());
    UPLIFT_ASSIGN(b->writer_, OpenDb(path));
    UPLIFT_TRY(b->Migrate());
    UPLIFT_ASSIGN(b->reader_, OpenDb(path));
    sqlite3* w = b->writer_.get();
    UPLIFT_ASSIGN(b->insert_report_,
                  Prepare(w,
                          "INSERT INTO device_reports (tenant, device_id, time, phase, progress, "
                          "result, reason) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    UPLIFT_ASSIGN(b->upsert_state_,
                  Prepare(w,
                          "INSERT INTO device_state (tenant, device_id, last_seen, inventory) "
                          "VALUES (?, ?, ?, ?) ON CONFLICT (tenant, device_id) DO UPDATE SET "
                          "last_seen = excluded.last_seen, inventory = excluded.inventory"));
    sqlite3* r = b->reader_.get();
    UPLIFT_ASSIGN(b->get_state_, Prepare(r,
                                         "SELECT last_seen, inventory FROM device_state "
                                         "WHERE tenant = ? AND device_id = ?"));
    UPLIFT_ASSIGN(b->get_reports_,
                  Prepare(r,
                          "SELECT seq, time, phase, progress, result, reason FROM device_reports "
                          "WHERE tenant = ? AND device_id = ? AND seq > ? ORDER BY seq LIMIT ?"));
    return b;
  }

  Result<std::vector<std::int64_t>> CommitReports(
      const std::vector<const DeviceReport*>& reports) override {
    sqlite3* db = writer_.get();
    UPLIFT_TRY(Exec(db, "BEGIN IMMEDIATE"));
    std::vector<std::int64_t> seqs;
    seqs.reserve(reports.size());
    sqlite3_stmt* s = insert_report_.get();
    for (const DeviceReport* r : reports) {
      sqlite3_reset(s);
      BindText(s, 1, r->tenant);
      BindText(s, 2, r->device_id);
      sqlite3_bind_int64(s, 3, r->time);
      BindText(s, 4, r->phase);
      sqlite3_bind_int(s, 5, r->progress);
      BindText(s, 6, r->result);
      BindText(s, 7, r->reason);
      if (sqlite3_step(s) != SQLITE_DONE) {
        Error e = DbError(db, "insert report");
        (void)Exec(db, "ROLLBACK");
        return e;
      }
      seqs.push_back(sqlite3_last_insert_rowid(db));
    }
    UPLIFT_TRY(Exec(db, "COMMIT"));  // synchronous=FULL: fsync'd before this returns
    return seqs;
  }

  Status CommitStates(const std::vector<DeviceState>& states) override {
    sqlite3* db = writer_.get();
    UPLIFT_TRY(Exec(db, "PRAGMA synchronous=NORMAL"));
    Status st = Exec(db, "BEGIN IMMEDIATE");
    sqlite3_stmt* s = upsert_state_.get();
    for (std::size_t i = 0; st.ok() && i < states.size(); ++i) {
      sqlite3_reset(s);
      BindText(s, 1, states[i].tenant);
      BindText(s, 2, states[i].device_id);
      sqlite3_bind_int64(s, 3, states[i].last_seen);
      BindText(s, 4, states[i].inventory);
      if (sqlite3_step(s) != SQLITE_DONE) st = DbError(db, "upsert state");
    }
    st = st.ok() ? Exec(db, "COMMIT") : (void(Exec(db, "ROLLBACK")), st);
    const Status back = Exec(db, "PRAGMA synchronous=FULL");
    if (!st.ok()) return st;
    return back;
  }

  Result<std::optional<DeviceState>> GetState(const std::string& tenant,
                                              const std::string& device_id) override {
    std::lock_guard lock(read_mu_);
    sqlite3_stmt* s = get_state_.get();
    sqlite3_reset(s);
    BindText(s, 1, tenant);
    BindText(s, 2, device_id);
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return std::optional<DeviceState>();
    if (rc != SQLITE_ROW) return DbError(reader_.get(), "read state");
    return std::optional<DeviceState>(
        DeviceState{tenant, device_id, sqlite3_column_int64(s, 0), Text(s, 1)});
  }

  Result<std::vector<StoredReport>> Reports(const std::string& tenant, const std::string& device_id,
                                            std::int64_t after_seq, std::size_t limit) override {
    std::lock_guard lock(read_mu_);
    sqlite3_stmt* s = get_reports_.get();
    sqlite3_reset(s);
    BindText(s, 1, tenant);
    BindText(s, 2, device_id);
    sqlite3_bind_int64(s, 3, after_seq);
    sqlite3_bind_int64(s, 4, static_cast<std::int64_t>(std::min<std::size_t>(limit, 1'000'000)));
    std::vector<StoredReport> out;
    for (;;) {
      const int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return DbError(reader_.get(), "read reports");
      StoredReport r;
      r.seq = sqlite3_column_int64(s, 0);
      r.report = DeviceReport{
          tenant,     device_id, sqlite3_column_int64(s, 1), Text(s, 2), sqlite3_column_int(s, 3),
          Text(s, 4), Text(s, 5)};
      out.push_back(std::move(r));
    }
    return out;
  }

  int schema_version() const override { return version_; }

 private:
  SqliteBackend() = default;

  Status Migrate() {
    sqlite3* db = writer_.get();
    UPLIFT_TRY(Exec(db, "BEGIN IMMEDIATE"));
    auto fail = [&](Error e) {
      (void)Exec(db, "ROLLBACK");
      return e;
    };
    if (Status st = Exec(db,
                         "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER "
                         "PRIMARY KEY, applied INTEGER NOT NULL)");
        !st.ok()) {
      return fail(st.error());
    }
    auto q = Prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!q.ok()) return fail(q.error());
    if (sqlite3_step(q->get()) != SQLITE_ROW) return fail(DbError(db, "schema version"));
    int version = sqlite3_column_int(q->get(), 0);
    q->reset();
    if (version > kStoreSchemaVersion) {
      return fail(Error(StoreErrc::kSchemaTooNew,
                        "database schema version " + std::to_string(version) +
                            " is newer than this server's " + std::to_string(kStoreSchemaVersion)));
    }
    for (; version < kStoreSchemaVersion; ++version) {
      if (Status st = Exec(db, kMigrations[version]); !st.ok()) return fail(st.error());
      const std::string mark = "INSERT INTO schema_migrations (version, applied) VALUES (" +
                               std::to_string(version + 1) + ", strftime('%s','now'))";
      if (Status st = Exec(db, mark.c_str()); !st.ok()) return fail(st.error());
    }
    version_ = version;
    return Exec(db, "COMMIT");
  }

  Db writer_;
  Db reader_;
  Stmt insert_report_, upsert_state_, get_state_, get_reports_;
  std::mutex read_mu_;
  int version_ = 0;
};

}  // namespace
}  // namespace uplift::server::internal

namespace uplift::server {

Result<std::unique_ptr<DeviceStore>> OpenSqliteStore(const std::string& path,
                                                     StoreOptions options) {
  UPLIFT_ASSIGN(auto backend, internal::SqliteBackend::Open(path));
  return internal::MakeGroupStore(std::move(backend), options);
}

}  // namespace uplift::server
