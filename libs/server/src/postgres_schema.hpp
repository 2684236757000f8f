// The PostgreSQL database that the device store and the catalog share (internal): the one
// migration chain (docs/server-store.md §Schema) and small libpqxx helpers. Migrations run under
// a transaction-scoped advisory lock, so server instances (and a store and a catalog) opening
// the database at once migrate it exactly once.
#pragma once

#include <cstdint>
#include <pqxx/pqxx>
#include <span>
#include <string>

#include "uplift/server/device_store.hpp"

namespace uplift::server::internal::postgres {

// Applies the missing migrations in one transaction on `c`; returns the schema version (then
// kStoreSchemaVersion). kSchemaTooNew for a database migrated by a newer server; kDatabase when
// PostgreSQL fails.
Result<int> Migrate(pqxx::connection& c);
// Migration k (1-based) is element k-1; tests use it to build databases of older versions.
std::span<const char* const> Migrations();

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

// Runs `f`, turning a libpqxx exception into kDatabase ("postgres: <what>: <message>").
template <typename F>
auto Guard(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Error(StoreErrc::kDatabase, std::string("postgres: ") + what + ": " + e.what());
  }
}

}  // namespace uplift::server::internal::postgres
