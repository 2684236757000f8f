#include "sqlite_schema.hpp"

#include <chrono>
#include <string>
#include <thread>

namespace uplift::server::internal::sqlite {
namespace {

constexpr std::chrono::milliseconds kBusyTimeout{10'000};

// Migration k (1-based) brings the schema from version k-1 to k. Never edit a released entry:
// append a new one. docs/server-store.md describes the tables.
constexpr const char* kMigrations[] = {
    // 1: the device store.
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
    // 2: report ids (idempotent resends) and the catalog.
    R"sql(
ALTER TABLE device_reports ADD COLUMN report_id TEXT NOT NULL DEFAULT '';
ALTER TABLE device_reports ADD COLUMN release_id BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX device_reports_by_report_id ON device_reports (tenant, device_id, report_id)
  WHERE report_id <> '';
CREATE TABLE tenants (
  name TEXT PRIMARY KEY,
  trust_store_json TEXT NOT NULL,
  enrollment_secret_sha256 TEXT NOT NULL,
  created INTEGER NOT NULL,
  releases_generation INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE admin_tokens (
  token_sha256 TEXT PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants (name),
  name TEXT NOT NULL,
  created INTEGER NOT NULL
);
CREATE INDEX admin_tokens_by_tenant ON admin_tokens (tenant);
CREATE TABLE devices (
  tenant TEXT NOT NULL REFERENCES tenants (name),
  device_id TEXT NOT NULL,
  hardware TEXT NOT NULL,
  credential_generation INTEGER NOT NULL,
  origin TEXT NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY (tenant, device_id)
);
CREATE TABLE artifacts (
  tenant TEXT NOT NULL REFERENCES tenants (name),
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY (tenant, sha256)
);
CREATE TABLE releases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL REFERENCES tenants (name),
  product TEXT NOT NULL,
  version TEXT NOT NULL,
  security_counter INTEGER NOT NULL,
  image_sha256 TEXT NOT NULL,
  image_size INTEGER NOT NULL,
  deprecated INTEGER NOT NULL,
  created INTEGER NOT NULL,
  UNIQUE (tenant, product, version)
);
CREATE INDEX releases_by_tenant ON releases (tenant, id);
CREATE TABLE release_compatible (
  release_id INTEGER NOT NULL REFERENCES releases (id),
  position INTEGER NOT NULL,
  hardware TEXT NOT NULL,
  PRIMARY KEY (release_id, hardware)
);
CREATE INDEX release_compatible_by_hardware ON release_compatible (hardware, release_id);
CREATE TABLE release_variants (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  release_id INTEGER NOT NULL REFERENCES releases (id),
  tenant TEXT NOT NULL,
  artifact_sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  delta_source_sha256 TEXT NOT NULL,
  UNIQUE (release_id, delta_source_sha256),
  FOREIGN KEY (tenant, artifact_sha256) REFERENCES artifacts (tenant, sha256)
);
CREATE TABLE nonces (
  tenant TEXT NOT NULL,
  device_id TEXT NOT NULL,
  nonce TEXT NOT NULL,
  time INTEGER NOT NULL,
  PRIMARY KEY (tenant, device_id, nonce)
) WITHOUT ROWID;
CREATE INDEX nonces_by_time ON nonces (time);
)sql",
};
static_assert(std::size(kMigrations) == kStoreSchemaVersion);

}  // namespace

std::span<const char* const> Migrations() { return kMigrations; }

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
  sqlite3_busy_timeout(db.get(), static_cast<int>(kBusyTimeout.count()));
  // Switching a new file to WAL takes an exclusive lock, and when two connections (two
  // processes opening a fresh database together) deadlock on it SQLite answers SQLITE_BUSY at
  // once instead of calling the busy handler: wait and retry as the handler would.
  const auto deadline = std::chrono::steady_clock::now() + kBusyTimeout;
  for (;;) {
    const int wal = sqlite3_exec(db.get(), "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    if (wal == SQLITE_OK) break;
    if ((wal & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() > deadline) {
      return DbError(db.get(), "open " + path + ": journal_mode=WAL");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  UPLIFT_TRY(Exec(db.get(), "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
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

Result<bool> Query::Step(const char* what) {
  const int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return DbError(db_, what);
}

Status Query::Run(const char* what) {
  UPLIFT_ASSIGN(const bool row, Step(what));
  (void)row;
  return Ok();
}

Result<sqlite3_stmt*> Conn::Statement(const char* sql) {
  auto it = stmts_.find(sql);
  if (it == stmts_.end()) {
    UPLIFT_ASSIGN(Stmt s, Prepare(db_.get(), sql));
    it = stmts_.emplace(sql, std::move(s)).first;
  }
  return it->second.get();
}

Result<int> Migrate(sqlite3* db) {
  return InTransaction(db, "BEGIN IMMEDIATE", [&]() -> Result<int> {
    UPLIFT_TRY(Exec(db,
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                    "applied INTEGER NOT NULL)"));
    UPLIFT_ASSIGN(Stmt q, Prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    if (sqlite3_step(q.get()) != SQLITE_ROW) return DbError(db, "schema version");
    int version = sqlite3_column_int(q.get(), 0);
    q.reset();
    if (version > kStoreSchemaVersion) {
      return Error(StoreErrc::kSchemaTooNew, "database schema version " + std::to_string(version) +
                                                 " is newer than this server's " +
                                                 std::to_string(kStoreSchemaVersion));
    }
    for (; version < kStoreSchemaVersion; ++version) {
      if (Status st = Exec(db, kMigrations[version]); !st.ok()) {
        return std::move(st).error().Context("migration " + std::to_string(version + 1));
      }
      const std::string mark = "INSERT INTO schema_migrations (version, applied) VALUES (" +
                               std::to_string(version + 1) + ", strftime('%s','now'))";
      UPLIFT_TRY(Exec(db, mark.c_str()));
    }
    return version;
  });
}

}  // namespace uplift::server::internal::sqlite
