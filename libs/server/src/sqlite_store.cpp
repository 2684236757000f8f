// SQLite backend: one writer connection (the group-commit thread) with synchronous=FULL for
// reports and NORMAL for soft state (WAL: a NORMAL commit is not fsync'd until a later FULL one
// or a checkpoint), and one reader connection behind a mutex.
#include <mutex>

#include "sqlite_schema.hpp"
#include "store_backend.hpp"

namespace uplift::server::internal {
namespace {

using sqlite::BindText;
using sqlite::Db;
using sqlite::DbError;
using sqlite::Exec;
using sqlite::OpenDb;
using sqlite::Prepare;
using sqlite::Stmt;
using sqlite::Text;

class SqliteBackend final : public Backend {
 public:
  static Result<std::unique_ptr<SqliteBackend>> Open(const std::string& path) {
    std::unique_ptr<SqliteBackend> b(new SqliteBackend());
    UPLIFT_ASSIGN(b->writer_, OpenDb(path));
    UPLIFT_ASSIGN(b->version_, sqlite::Migrate(b->writer_.get()));
    UPLIFT_ASSIGN(b->reader_, OpenDb(path));
    sqlite3* w = b->writer_.get();
    UPLIFT_ASSIGN(
        b->insert_report_,
        Prepare(w,
                "INSERT INTO device_reports (tenant, device_id, time, phase, progress, "
                "result, reason, report_id, release_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    UPLIFT_ASSIGN(b->find_report_, Prepare(w,
                                           "SELECT seq FROM device_reports WHERE tenant = ? AND "
                                           "device_id = ? AND report_id = ?"));
    UPLIFT_ASSIGN(b->upsert_state_,
                  Prepare(w,
                          "INSERT INTO device_state (tenant, device_id, last_seen, inventory) "
                          "VALUES (?, ?, ?, ?) ON CONFLICT (tenant, device_id) DO UPDATE SET "
                          "last_seen = excluded.last_seen, inventory = excluded.inventory"));
    sqlite3* r = b->reader_.get();
    UPLIFT_ASSIGN(b->get_state_, Prepare(r,
                                         "SELECT last_seen, inventory FROM device_state "
                                         "WHERE tenant = ? AND device_id = ?"));
    UPLIFT_ASSIGN(
        b->get_reports_,
        Prepare(r,
                "SELECT seq, time, phase, progress, result, reason, report_id, release_id FROM "
                "device_reports "
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
      // A resend (its acknowledgement was lost) gets the stored report's seq and adds nothing;
      // the lookup also sees a duplicate committed earlier in this very transaction.
      if (!r->report_id.empty()) {
        auto seq = FindReport(*r);
        if (!seq.ok()) {
          (void)Exec(db, "ROLLBACK");
          return seq.error();
        }
        if (*seq != 0) {
          seqs.push_back(*seq);
          continue;
        }
      }
      sqlite3_reset(s);
      BindText(s, 1, r->tenant);
      BindText(s, 2, r->device_id);
      sqlite3_bind_int64(s, 3, r->time);
      BindText(s, 4, r->phase);
      sqlite3_bind_int(s, 5, r->progress);
      BindText(s, 6, r->result);
      BindText(s, 7, r->reason);
      BindText(s, 8, r->report_id);
      sqlite3_bind_int64(s, 9, r->release_id);
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
      r.report = DeviceReport{tenant,
                              device_id,
                              sqlite3_column_int64(s, 1),
                              Text(s, 2),
                              sqlite3_column_int(s, 3),
                              Text(s, 4),
                              Text(s, 5),
                              Text(s, 6),
                              sqlite3_column_int64(s, 7)};
      out.push_back(std::move(r));
    }
    return out;
  }

  int schema_version() const override { return version_; }

 private:
  SqliteBackend() = default;

  Db writer_;
  Db reader_;
  // The seq of the stored report with r's id, 0 if there is none (seqs start at 1).
  Result<std::int64_t> FindReport(const DeviceReport& r) {
    sqlite3_stmt* f = find_report_.get();
    sqlite3_reset(f);
    BindText(f, 1, r.tenant);
    BindText(f, 2, r.device_id);
    BindText(f, 3, r.report_id);
    const int rc = sqlite3_step(f);
    if (rc == SQLITE_DONE) return std::int64_t{0};
    if (rc != SQLITE_ROW) return DbError(writer_.get(), "find report");
    const std::int64_t seq = sqlite3_column_int64(f, 0);
    sqlite3_reset(f);
    return seq;
  }

  Stmt insert_report_, find_report_, upsert_state_, get_state_, get_reports_;
  std::mutex read_mu_;
  int version_ = 0;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenSqliteBackend(const std::string& path) {
  UPLIFT_ASSIGN(auto backend, SqliteBackend::Open(path));
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace uplift::server::internal

namespace uplift::server {

Result<std::unique_ptr<DeviceStore>> OpenSqliteStore(const std::string& path,
                                                     StoreOptions options) {
  UPLIFT_ASSIGN(auto backend, internal::OpenSqliteBackend(path));
  return internal::MakeGroupStore(std::move(backend), options);
}

}  // namespace uplift::server
