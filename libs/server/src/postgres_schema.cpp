#include "postgres_schema.hpp"

namespace uplift::server::internal::postgres {
namespace {

// Migration k (1-based) brings the schema from version k-1 to k. Never edit a released entry:
// append a new one. docs/server-store.md describes the tables.
constexpr const char* kMigrations[] = {
    // 1: the device store.
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
    // 2: report ids (idempotent resends) and the catalog. Nonces are UNLOGGED: no WAL, so
    // recording one costs no fsync; PostgreSQL empties the table after a crash of its own.
    R"sql(
ALTER TABLE device_reports ADD COLUMN report_id TEXT NOT NULL DEFAULT '';
ALTER TABLE device_reports ADD COLUMN release_id BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX device_reports_by_report_id ON device_reports (tenant, device_id, report_id)
  WHERE report_id <> '';
CREATE TABLE tenants (
  name TEXT PRIMARY KEY,
  trust_store_json TEXT NOT NULL,
  enrollment_secret_sha256 TEXT NOT NULL,
  created BIGINT NOT NULL,
  releases_generation BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE admin_tokens (
  token_sha256 TEXT PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants (name),
  name TEXT NOT NULL,
  created BIGINT NOT NULL
);
CREATE INDEX admin_tokens_by_tenant ON admin_tokens (tenant);
CREATE TABLE devices (
  tenant TEXT NOT NULL REFERENCES tenants (name),
  device_id TEXT NOT NULL,
  hardware TEXT NOT NULL,
  credential_generation BIGINT NOT NULL,
  origin TEXT NOT NULL,
  created BIGINT NOT NULL,
  PRIMARY KEY (tenant, device_id)
);
CREATE TABLE artifacts (
  tenant TEXT NOT NULL REFERENCES tenants (name),
  sha256 TEXT NOT NULL,
  size BIGINT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  created BIGINT NOT NULL,
  PRIMARY KEY (tenant, sha256)
);
CREATE TABLE releases (
  id BIGSERIAL PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants (name),
  product TEXT NOT NULL,
  version TEXT NOT NULL,
  security_counter BIGINT NOT NULL,
  image_sha256 TEXT NOT NULL,
  image_size BIGINT NOT NULL,
  deprecated BOOLEAN NOT NULL,
  created BIGINT NOT NULL,
  UNIQUE (tenant, product, version)
);
CREATE INDEX releases_by_tenant ON releases (tenant, id);
CREATE TABLE release_compatible (
  release_id BIGINT NOT NULL REFERENCES releases (id),
  position INTEGER NOT NULL,
  hardware TEXT NOT NULL,
  PRIMARY KEY (release_id, hardware)
);
CREATE INDEX release_compatible_by_hardware ON release_compatible (hardware, release_id);
CREATE TABLE release_variants (
  id BIGSERIAL PRIMARY KEY,
  release_id BIGINT NOT NULL REFERENCES releases (id),
  tenant TEXT NOT NULL,
  artifact_sha256 TEXT NOT NULL,
  size BIGINT NOT NULL,
  delta_source_sha256 TEXT NOT NULL,
  UNIQUE (release_id, delta_source_sha256),
  FOREIGN KEY (tenant, artifact_sha256) REFERENCES artifacts (tenant, sha256)
);
CREATE UNLOGGED TABLE nonces (
  tenant TEXT NOT NULL,
  device_id TEXT NOT NULL,
  nonce TEXT NOT NULL,
  time BIGINT NOT NULL,
  PRIMARY KEY (tenant, device_id, nonce)
);
-- BRIN: times ascend with insertion, so a block-range summary finds old rows for pruning at
-- almost no cost per insert (a B-tree here costs a second index insertion per nonce).
CREATE INDEX nonces_by_time ON nonces USING brin (time);
)sql",
};
static_assert(std::size(kMigrations) == kStoreSchemaVersion);

constexpr long kMigrationLock = 0x55504c4946;  // "UPLIF"

}  // namespace

std::span<const char* const> Migrations() { return kMigrations; }

Result<int> Migrate(pqxx::connection& c) {
  return Guard("migrate", [&]() -> Result<int> {
    pqxx::work tx(c);
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
    return version;
  });
}

}  // namespace uplift::server::internal::postgres
