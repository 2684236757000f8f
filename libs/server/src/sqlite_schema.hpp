// The SQLite database that the device store and the catalog share (internal): connection
// helpers and the one migration chain (docs/server-store.md §Schema). Whichever opens the file
// first brings the schema up to date; BEGIN IMMEDIATE makes concurrent openers take turns.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>

#include "uplift/server/device_store.hpp"

namespace uplift::server::internal::sqlite {

struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbDeleter>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

Error DbError(sqlite3* db, const std::string& what);
Status Exec(sqlite3* db, const char* sql);
Result<Stmt> Prepare(sqlite3* db, const char* sql);
// Opens (creating) `path` in WAL mode with synchronous=FULL, foreign keys on, a 10 s busy wait.
Result<Db> OpenDb(const std::string& path);
void BindText(sqlite3_stmt* s, int i, const std::string& v);
std::string Text(sqlite3_stmt* s, int i);

// Applies the missing migrations in one transaction; returns the schema version (then
// kStoreSchemaVersion). kSchemaTooNew for a database migrated by a newer server.
Result<int> Migrate(sqlite3* db);
// Migration k (1-based) is element k-1; tests use it to build databases of older versions.
std::span<const char* const> Migrations();

// A statement in use: bound, stepped, and reset when it goes out of scope, so no statement
// keeps a read snapshot open (which would hide later commits and block checkpoints).
class Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~Query() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Bind(const std::string& v) {
    BindText(s_, ++bound_, v);
    return *this;
  }
  Query& Bind(std::int64_t v) {
    sqlite3_bind_int64(s_, ++bound_, v);
    return *this;
  }
  // true: a row is available; false: done. kDatabase on failure.
  Result<bool> Step(const char* what);
  // Steps a statement that returns no rows.
  Status Run(const char* what);
  std::int64_t Int(int i) const { return sqlite3_column_int64(s_, i); }
  std::string Str(int i) const { return Text(s_, i); }
  int extended_error() const { return sqlite3_extended_errcode(db_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
  int bound_ = 0;
};

// A connection and its prepared statements, keyed by the SQL text's address (string literals).
// Not thread-safe: the owner serialises access.
class Conn {
 public:
  explicit Conn(Db db) : db_(std::move(db)) {}
  sqlite3* get() const { return db_.get(); }
  Result<sqlite3_stmt*> Statement(const char* sql);

 private:
  Db db_;
  std::unordered_map<const char*, Stmt> stmts_;
};

// Runs `body` inside `begin` ... COMMIT on `db`, rolling back if it fails. Writers begin with
// "BEGIN IMMEDIATE" (the write lock up front, no upgrade deadlock); readers that need one
// snapshot across several queries with "BEGIN".
template <typename F>
auto InTransaction(sqlite3* db, const char* begin, F&& body) -> decltype(body()) {
  UPLIFT_TRY(Exec(db, begin));
  auto result = body();
  if (!result.ok()) {
    (void)Exec(db, "ROLLBACK");
    return result;
  }
  if (Status st = Exec(db, "COMMIT"); !st.ok()) {
    (void)Exec(db, "ROLLBACK");
    return std::move(st).error();
  }
  return result;
}

}  // namespace uplift::server::internal::sqlite
