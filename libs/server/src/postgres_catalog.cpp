// The catalog on PostgreSQL (libpqxx 6.4): a small pool of connections (a libpqxx connection is
// not thread-safe, so each call leases one), prepared statements, one transaction per write,
// single-statement reads in autocommit (one round trip), and nonces in an UNLOGGED table with
// INSERT ... ON CONFLICT DO NOTHING: every server instance sees every nonce, no fsync per call.
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>

#include "catalog_validate.hpp"
#include "postgres_schema.hpp"

namespace uplift::server::internal {
namespace {

using postgres::Guard;

struct Sql {
  const char* name;  // of the prepared statement
  const char* text;
};

constexpr Sql kTenantExists{"tenant_exists", "SELECT 1 FROM tenants WHERE name = $1"};
constexpr Sql kInsertTenant{
    "insert_tenant",
    "INSERT INTO tenants (name, trust_store_json, enrollment_secret_sha256, created) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"};
constexpr Sql kGetTenant{"get_tenant",
                         "SELECT name, trust_store_json, enrollment_secret_sha256, created FROM "
                         "tenants WHERE name = $1"};
constexpr Sql kListTenants{"list_tenants",
                           "SELECT name, trust_store_json, enrollment_secret_sha256, created FROM "
                           "tenants ORDER BY name COLLATE \"C\""};
constexpr Sql kUpdateTenant{"update_tenant",
                            "UPDATE tenants SET trust_store_json = $2, enrollment_secret_sha256 = "
                            "$3 WHERE name = $1"};
constexpr Sql kInsertToken{"insert_token",
                           "INSERT INTO admin_tokens (token_sha256, tenant, name, created) "
                           "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"};
constexpr Sql kFindToken{"find_token",
                         "SELECT token_sha256, tenant, name, created FROM admin_tokens "
                         "WHERE token_sha256 = $1"};
constexpr Sql kDeleteToken{"delete_token", "DELETE FROM admin_tokens WHERE token_sha256 = $1"};
constexpr Sql kInsertDevice{
    "insert_device",
    "INSERT INTO devices (tenant, device_id, hardware, credential_generation, origin, created) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"};
constexpr Sql kGetDevice{"get_device",
                         "SELECT tenant, device_id, hardware, credential_generation, origin, "
                         "created FROM devices WHERE tenant = $1 AND device_id = $2"};
// Byte order (COLLATE "C"), as on SQLite, whatever the database's locale.
constexpr Sql kListDevices{"list_devices",
                           "SELECT tenant, device_id, hardware, credential_generation, origin, "
                           "created FROM devices WHERE tenant = $1 AND device_id COLLATE \"C\" > "
                           "$2 ORDER BY device_id COLLATE \"C\" LIMIT $3"};
constexpr Sql kRotate{"rotate",
                      "UPDATE devices SET credential_generation = credential_generation + 1 "
                      "WHERE tenant = $1 AND device_id = $2 RETURNING credential_generation"};
constexpr Sql kInsertArtifact{"insert_artifact",
                              "INSERT INTO artifacts (tenant, sha256, size, kind, name, created) "
                              "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"};
constexpr Sql kGetArtifact{"get_artifact",
                           "SELECT tenant, sha256, size, kind, name, created FROM artifacts "
                           "WHERE tenant = $1 AND sha256 = $2"};
constexpr Sql kBumpGeneration{"bump_generation",
                              "UPDATE tenants SET releases_generation = releases_generation + 1 "
                              "WHERE name = $1"};
constexpr Sql kGeneration{"generation", "SELECT releases_generation FROM tenants WHERE name = $1"};
constexpr Sql kInsertRelease{
    "insert_release",
    "INSERT INTO releases (tenant, product, version, security_counter, image_sha256, "
    "image_size, deprecated, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
    "ON CONFLICT DO NOTHING RETURNING id"};
constexpr Sql kInsertCompatible{
    "insert_compatible",
    "INSERT INTO release_compatible (release_id, position, hardware) SELECT $1, p - 1, h "
    "FROM unnest($2::text[]) WITH ORDINALITY AS u(h, p)"};
constexpr Sql kInsertVariant{
    "insert_variant",
    "INSERT INTO release_variants (release_id, tenant, artifact_sha256, size, "
    "delta_source_sha256) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"};
constexpr Sql kLockRelease{"lock_release",
                           "SELECT (SELECT COUNT(*) FROM release_variants v WHERE v.release_id = "
                           "r.id) FROM releases r WHERE tenant = $1 AND id = $2 FOR UPDATE"};
constexpr Sql kSetDeprecated{"set_deprecated",
                             "UPDATE releases SET deprecated = $3 WHERE tenant = $1 AND id = $2"};
#define UPLIFT_RELEASE_COLUMNS                                                        \
  "SELECT id, tenant, product, version, security_counter, image_sha256, image_size, " \
  "deprecated, created FROM releases "
constexpr Sql kGetRelease{"get_release", UPLIFT_RELEASE_COLUMNS "WHERE tenant = $1 AND id = $2"};
constexpr Sql kFindRelease{
    "find_release", UPLIFT_RELEASE_COLUMNS "WHERE tenant = $1 AND product = $2 AND version = $3"};
constexpr Sql kListReleases{"list_releases",
                            UPLIFT_RELEASE_COLUMNS "WHERE tenant = $1 ORDER BY id DESC"};
#undef UPLIFT_RELEASE_COLUMNS
constexpr Sql kCompatibleOf{"compatible_of",
                            "SELECT release_id, hardware FROM release_compatible "
                            "WHERE release_id = $1 ORDER BY position"};
constexpr Sql kCompatibleOfTenant{
    "compatible_of_tenant",
    "SELECT c.release_id, c.hardware FROM release_compatible c JOIN releases r "
    "ON r.id = c.release_id WHERE r.tenant = $1 ORDER BY c.release_id, c.position"};
// Full variant first, then deltas in insertion order.
constexpr Sql kVariantsOf{"variants_of",
                          "SELECT release_id, artifact_sha256, size, delta_source_sha256 FROM "
                          "release_variants WHERE release_id = $1 "
                          "ORDER BY delta_source_sha256 <> '', id"};
constexpr Sql kVariantsOfTenant{"variants_of_tenant",
                                "SELECT release_id, artifact_sha256, size, delta_source_sha256 "
                                "FROM release_variants WHERE tenant = $1 "
                                "ORDER BY release_id, delta_source_sha256 <> '', id"};
constexpr Sql kRecordNonce{"record_nonce",
                           "INSERT INTO nonces (tenant, device_id, nonce, time) "
                           "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"};
constexpr Sql kPruneNonces{"prune_nonces", "DELETE FROM nonces WHERE time < $1"};

constexpr const Sql* kStatements[] = {
    &kTenantExists,       &kInsertTenant,  &kGetTenant,        &kListTenants,   &kUpdateTenant,
    &kInsertToken,        &kFindToken,     &kDeleteToken,      &kInsertDevice,  &kGetDevice,
    &kListDevices,        &kRotate,        &kInsertArtifact,   &kGetArtifact,   &kBumpGeneration,
    &kGeneration,         &kInsertRelease, &kInsertCompatible, &kInsertVariant, &kLockRelease,
    &kSetDeprecated,      &kGetRelease,    &kFindRelease,      &kListReleases,  &kCompatibleOf,
    &kCompatibleOfTenant, &kVariantsOf,    &kVariantsOfTenant, &kRecordNonce,   &kPruneNonces,
};

// At most this many connections per catalog; enough for the API's blocking pool to call in
// parallel without exhausting PostgreSQL's default 100 connections across instances.
constexpr std::size_t kMaxConnections = 16;

// A snapshot for reads of several statements (a release with its hardware and variants).
using SnapshotRead = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;

std::int64_t I64(std::uint64_t v) { return static_cast<std::int64_t>(v); }  // validated <2^53
std::uint64_t U64(const pqxx::field& f) { return static_cast<std::uint64_t>(f.as<std::int64_t>()); }

TenantRecord TenantRow(const pqxx::row& r) {
  return {r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
          r[3].as<std::int64_t>()};
}
TokenRecord TokenRow(const pqxx::row& r) {
  return {r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
          r[3].as<std::int64_t>()};
}
DeviceRecord DeviceRow(const pqxx::row& r) {
  return {r[0].as<std::string>(),  r[1].as<std::string>(), r[2].as<std::string>(),
          r[3].as<std::int64_t>(), r[4].as<std::string>(), r[5].as<std::int64_t>()};
}
ArtifactRecord ArtifactRow(const pqxx::row& r) {
  return {r[0].as<std::string>(), r[1].as<std::string>(), U64(r[2]),
          r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<std::int64_t>()};
}
ReleaseRecord ReleaseRow(const pqxx::row& row) {
  ReleaseRecord r;
  r.id = row[0].as<std::int64_t>();
  r.tenant = row[1].as<std::string>();
  r.product = row[2].as<std::string>();
  r.version = row[3].as<std::string>();
  r.security_counter = U64(row[4]);
  r.image_sha256 = row[5].as<std::string>();
  r.image_size = U64(row[6]);
  r.deprecated = row[7].as<bool>();
  r.created = row[8].as<std::int64_t>();
  return r;
}

Error NoTenant(const std::string& tenant) {
  return Error(CatalogErrc::kNotFound, "no tenant \"" + tenant + "\"");
}
Error NoRelease(const std::string& tenant, std::int64_t id) {
  return Error(CatalogErrc::kNotFound,
               "no release " + std::to_string(id) + " of tenant \"" + tenant + "\"");
}

// Adds compatible hardware and variants (rows of kCompatibleOf* and kVariantsOf*) to the
// releases in `by_id`, in their stored order.
void FillReleases(std::map<std::int64_t, ReleaseRecord*>& by_id, const pqxx::result& compatible,
                  const pqxx::result& variants) {
  for (const auto& row : compatible) {
    if (auto it = by_id.find(row[0].as<std::int64_t>()); it != by_id.end()) {
      it->second->compatible.push_back(row[1].as<std::string>());
    }
  }
  for (const auto& row : variants) {
    if (auto it = by_id.find(row[0].as<std::int64_t>()); it != by_id.end()) {
      it->second->variants.push_back(
          ReleaseVariant{row[1].as<std::string>(), U64(row[2]), row[3].as<std::string>()});
    }
  }
}

Status InsertVariant(pqxx::work& tx, const std::string& tenant, std::int64_t release_id,
                     const ReleaseVariant& v) {
  if (tx.exec_prepared(kGetArtifact.name, tenant, v.artifact_sha256).empty()) {
    return Error(CatalogErrc::kNotFound, "no artifact " + v.artifact_sha256 + " in tenant \"" +
                                             tenant + "\" for the variant");
  }
  const pqxx::result r = tx.exec_prepared(kInsertVariant.name, release_id, tenant,
                                          v.artifact_sha256, I64(v.size), v.delta_source_sha256);
  if (r.affected_rows() == 0) {
    return Error(CatalogErrc::kExists,
                 "release " + std::to_string(release_id) + " has a " +
                     (v.delta_source_sha256.empty() ? std::string("full variant")
                                                    : "variant from " + v.delta_source_sha256));
  }
  return Ok();
}

// Connections leased one caller at a time; opened on demand up to kMaxConnections, dropped
// when libpqxx reports them broken (the next lease opens a fresh one).
class Pool {
 public:
  explicit Pool(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<pqxx::connection> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), c_(std::move(o.c_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (c_) pool_->Return(std::move(c_));
    }
    pqxx::connection& conn() { return *c_; }
    void Discard() {
      c_.reset();
      pool_->Forget();
    }

   private:
    Pool* pool_;
    std::unique_ptr<pqxx::connection> c_;
  };

  Result<Lease> Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < kMaxConnections; });
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    ++open_;
    lock.unlock();
    auto c = Guard("connect", [&]() -> Result<std::unique_ptr<pqxx::connection>> {
      auto conn = std::make_unique<pqxx::connection>(conninfo_);
      for (const Sql* s : kStatements) conn->prepare(s->name, s->text);
      return conn;
    });
    if (!c.ok()) {
      Forget();
      return std::move(c).error();
    }
    return Lease(this, std::move(c).value());
  }

 private:
  void Return(std::unique_ptr<pqxx::connection> c) {
    {
      std::lock_guard lock(mu_);
      idle_.push_back(std::move(c));
    }
    cv_.notify_one();
  }
  void Forget() {
    {
      std::lock_guard lock(mu_);
      --open_;
    }
    cv_.notify_one();
  }

  std::string conninfo_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::size_t open_ = 0;  // idle and leased
};

class PostgresCatalog final : public Catalog {
 public:
  static Result<std::unique_ptr<PostgresCatalog>> Open(const std::string& conninfo) {
    std::unique_ptr<PostgresCatalog> c(new PostgresCatalog(conninfo));
    UPLIFT_ASSIGN(Pool::Lease lease, c->pool_.Acquire());
    UPLIFT_TRY(postgres::Migrate(lease.conn()));
    return c;
  }

  Status CreateTenant(const TenantRecord& t) override {
    UPLIFT_TRY(ValidateTenant(t));
    return With("create tenant", [&](pqxx::connection& c) -> Status {
      pqxx::nontransaction tx(c);
      const pqxx::result r = tx.exec_prepared(kInsertTenant.name, t.name, t.trust_store_json,
                                              t.enrollment_secret_sha256, t.created);
      if (r.affected_rows() == 0)
        return Error(CatalogErrc::kExists, "tenant \"" + t.name + "\" exists");
      return Ok();
    });
  }

  Result<std::optional<TenantRecord>> GetTenant(const std::string& name) override {
    UPLIFT_TRY(ValidateTenantName(name));
    return ReadOne<TenantRecord>("read tenant", kGetTenant, TenantRow, name);
  }

  Result<std::vector<TenantRecord>> ListTenants() override {
    return With("list tenants", [&](pqxx::connection& c) -> Result<std::vector<TenantRecord>> {
      pqxx::nontransaction tx(c);
      std::vector<TenantRecord> out;
      for (const auto& row : tx.exec_prepared(kListTenants.name)) out.push_back(TenantRow(row));
      return out;
    });
  }

  Status UpdateTenant(const TenantRecord& t) override {
    UPLIFT_TRY(ValidateTenant(t));
    return With("update tenant", [&](pqxx::connection& c) -> Status {
      pqxx::nontransaction tx(c);
      const pqxx::result r = tx.exec_prepared(kUpdateTenant.name, t.name, t.trust_store_json,
                                              t.enrollment_secret_sha256);
      if (r.affected_rows() == 0) return NoTenant(t.name);
      return Ok();
    });
  }

  Status AddToken(const TokenRecord& t) override {
    UPLIFT_TRY(ValidateToken(t));
    return With("add token", [&](pqxx::connection& c) -> Status {
      pqxx::work tx(c);
      if (tx.exec_prepared(kTenantExists.name, t.tenant).empty()) return NoTenant(t.tenant);
      const pqxx::result r =
          tx.exec_prepared(kInsertToken.name, t.token_sha256, t.tenant, t.name, t.created);
      if (r.affected_rows() == 0)
        return Error(CatalogErrc::kExists, "a token with this hash exists");
      tx.commit();
      return Ok();
    });
  }

  Result<std::optional<TokenRecord>> FindToken(const std::string& token_sha256) override {
    UPLIFT_TRY(ValidateSha256("token sha256", token_sha256));
    return ReadOne<TokenRecord>("read token", kFindToken, TokenRow, token_sha256);
  }

  Status RevokeToken(const std::string& token_sha256) override {
    UPLIFT_TRY(ValidateSha256("token sha256", token_sha256));
    return With("revoke token", [&](pqxx::connection& c) -> Status {
      pqxx::nontransaction tx(c);
      if (tx.exec_prepared(kDeleteToken.name, token_sha256).affected_rows() == 0) {
        return Error(CatalogErrc::kNotFound, "no token with this hash");
      }
      return Ok();
    });
  }

  Status CreateDevice(const DeviceRecord& d) override {
    UPLIFT_TRY(ValidateDevice(d));
    return With("create device", [&](pqxx::connection& c) -> Status {
      pqxx::work tx(c);
      if (tx.exec_prepared(kTenantExists.name, d.tenant).empty()) return NoTenant(d.tenant);
      const pqxx::result r = tx.exec_prepared(kInsertDevice.name, d.tenant, d.device_id, d.hardware,
                                              d.credential_generation, d.origin, d.created);
      if (r.affected_rows() == 0) {
        return Error(CatalogErrc::kExists,
                     "device \"" + d.device_id + "\" of tenant \"" + d.tenant + "\" exists");
      }
      tx.commit();
      return Ok();
    });
  }

  Result<std::optional<DeviceRecord>> GetDevice(const std::string& tenant,
                                                const std::string& device_id) override {
    UPLIFT_TRY(ValidateDeviceKey(tenant, device_id));
    return ReadOne<DeviceRecord>("read device", kGetDevice, DeviceRow, tenant, device_id);
  }

  Result<std::vector<DeviceRecord>> ListDevices(const std::string& tenant,
                                                const std::string& after_id,
                                                std::size_t limit) override {
    UPLIFT_TRY(after_id.empty() ? ValidateTenantName(tenant) : ValidateDeviceKey(tenant, after_id));
    const auto n = static_cast<std::int64_t>(std::min(limit, kMaxListDevices));
    return With("list devices", [&](pqxx::connection& c) -> Result<std::vector<DeviceRecord>> {
      pqxx::nontransaction tx(c);
      std::vector<DeviceRecord> out;
      for (const auto& row : tx.exec_prepared(kListDevices.name, tenant, after_id, n)) {
        out.push_back(DeviceRow(row));
      }
      return out;
    });
  }

  Result<std::int64_t> RotateCredential(const std::string& tenant,
                                        const std::string& device_id) override {
    UPLIFT_TRY(ValidateDeviceKey(tenant, device_id));
    return With("rotate credential", [&](pqxx::connection& c) -> Result<std::int64_t> {
      pqxx::nontransaction tx(c);
      const pqxx::result r = tx.exec_prepared(kRotate.name, tenant, device_id);
      if (r.empty()) {
        return Error(CatalogErrc::kNotFound,
                     "no device \"" + device_id + "\" in tenant \"" + tenant + "\"");
      }
      return r[0][0].as<std::int64_t>();
    });
  }

  Status PutArtifact(const ArtifactRecord& a) override {
    UPLIFT_TRY(ValidateArtifact(a));
    return With("put artifact", [&](pqxx::connection& c) -> Status {
      pqxx::work tx(c);
      if (tx.exec_prepared(kTenantExists.name, a.tenant).empty()) return NoTenant(a.tenant);
      const pqxx::result r = tx.exec_prepared(kInsertArtifact.name, a.tenant, a.sha256, I64(a.size),
                                              a.kind, a.name, a.created);
      if (r.affected_rows() == 0) {
        const pqxx::result old = tx.exec_prepared(kGetArtifact.name, a.tenant, a.sha256);
        if (!old.empty()) {
          const ArtifactRecord o = ArtifactRow(old[0]);
          if (o.size != a.size || o.kind != a.kind) {
            return Error(CatalogErrc::kExists, "artifact " + a.sha256 + " exists with size " +
                                                   std::to_string(o.size) + " and kind " + o.kind +
                                                   ", not " + std::to_string(a.size) + " " +
                                                   a.kind);
          }
        }
      }
      tx.commit();
      return Ok();
    });
  }

  Result<std::optional<ArtifactRecord>> GetArtifact(const std::string& tenant,
                                                    const std::string& sha256) override {
    UPLIFT_TRY(ValidateTenantName(tenant));
    UPLIFT_TRY(ValidateSha256("artifact sha256", sha256));
    return ReadOne<ArtifactRecord>("read artifact", kGetArtifact, ArtifactRow, tenant, sha256);
  }

  Result<std::int64_t> CreateRelease(const ReleaseRecord& r) override {
    UPLIFT_TRY(ValidateRelease(r));
    return With("create release", [&](pqxx::connection& c) -> Result<std::int64_t> {
      pqxx::work tx(c);
      // First, so that concurrent changes of one tenant's releases take turns on its row.
      if (tx.exec_prepared(kBumpGeneration.name, r.tenant).affected_rows() == 0) {
        return NoTenant(r.tenant);
      }
      const pqxx::result ins = tx.exec_prepared(kInsertRelease.name, r.tenant, r.product, r.version,
                                                I64(r.security_counter), r.image_sha256,
                                                I64(r.image_size), r.deprecated, r.created);
      if (ins.empty()) {
        return Error(CatalogErrc::kExists,
                     "tenant \"" + r.tenant + "\" has a release of " + r.product + " " + r.version);
      }
      const auto id = ins[0][0].as<std::int64_t>();
      postgres::ArrayLiteral hardware;
      for (const auto& hw : r.compatible) hardware.Add(hw);
      tx.exec_prepared(kInsertCompatible.name, id, hardware.Take());
      for (const ReleaseVariant& v : r.variants) UPLIFT_TRY(InsertVariant(tx, r.tenant, id, v));
      tx.commit();
      return id;
    });
  }

  Status AddVariant(const std::string& tenant, std::int64_t release_id,
                    const ReleaseVariant& variant) override {
    UPLIFT_TRY(ValidateTenantName(tenant));
    UPLIFT_TRY(ValidateVariant(variant));
    return With("add variant", [&](pqxx::connection& c) -> Status {
      pqxx::work tx(c);
      if (tx.exec_prepared(kBumpGeneration.name, tenant).affected_rows() == 0) {
        return NoRelease(tenant, release_id);
      }
      const pqxx::result found = tx.exec_prepared(kLockRelease.name, tenant, release_id);
      if (found.empty()) return NoRelease(tenant, release_id);
      if (static_cast<std::size_t>(found[0][0].as<std::int64_t>()) >= kMaxVariants) {
        return Error(StoreErrc::kInvalid,
                     "release " + std::to_string(release_id) + " has 256 variants already");
      }
      UPLIFT_TRY(InsertVariant(tx, tenant, release_id, variant));
      tx.commit();
      return Ok();
    });
  }

  Result<std::optional<ReleaseRecord>> GetRelease(const std::string& tenant,
                                                  std::int64_t id) override {
    UPLIFT_TRY(ValidateTenantName(tenant));
    return ReadRelease(kGetRelease, tenant, id);
  }

  Result<std::optional<ReleaseRecord>> FindRelease(const std::string& tenant,
                                                   const std::string& product,
                                                   const std::string& version) override {
    UPLIFT_TRY(ValidateTenantName(tenant));
    UPLIFT_TRY(ValidateProductVersion(product, version));
    return ReadRelease(kFindRelease, tenant, product, version);
  }

  Result<std::vector<ReleaseRecord>> ListReleases(const std::string& tenant) override {
    UPLIFT_TRY(ValidateTenantName(tenant));
    return With("list releases", [&](pqxx::connection& c) -> Result<std::vector<ReleaseRecord>> {
      SnapshotRead tx(c);
      std::vector<ReleaseRecord> out;
      for (const auto& row : tx.exec_prepared(kListReleases.name, tenant)) {
        out.push_back(ReleaseRow(row));
      }
      std::map<std::int64_t, ReleaseRecord*> by_id;
      for (ReleaseRecord& r : out) by_id[r.id] = &r;
      FillReleases(by_id, tx.exec_prepared(kCompatibleOfTenant.name, tenant),
                   tx.exec_prepared(kVariantsOfTenant.name, tenant));
      tx.commit();
      return out;
    });
  }

  Status SetDeprecated(const std::string& tenant, std::int64_t id, bool deprecated) override {
    UPLIFT_TRY(ValidateTenantName(tenant));
    return With("set deprecated", [&](pqxx::connection& c) -> Status {
      pqxx::work tx(c);
      if (tx.exec_prepared(kBumpGeneration.name, tenant).affected_rows() == 0) {
        return NoRelease(tenant, id);
      }
      if (tx.exec_prepared(kSetDeprecated.name, tenant, id, deprecated).affected_rows() == 0) {
        return NoRelease(tenant, id);
      }
      tx.commit();
      return Ok();
    });
  }

  Result<std::int64_t> ReleasesGeneration(const std::string& tenant) override {
    UPLIFT_TRY(ValidateTenantName(tenant));
    UPLIFT_ASSIGN(auto generation,
                  ReadOne<std::int64_t>(
                      "read releases generation", kGeneration,
                      [](const pqxx::row& r) { return r[0].as<std::int64_t>(); }, tenant));
    if (!generation) return NoTenant(tenant);
    return *generation;
  }

  Result<bool> RecordNonce(const std::string& tenant, const std::string& device_id,
                           const std::string& nonce, std::int64_t time) override {
    UPLIFT_TRY(ValidateNonce(tenant, device_id, nonce));
    return With("record nonce", [&](pqxx::connection& c) -> Result<bool> {
      pqxx::nontransaction tx(c);
      return tx.exec_prepared(kRecordNonce.name, tenant, device_id, nonce, time).affected_rows() ==
             1;
    });
  }

  Status PruneNonces(std::int64_t older_than) override {
    return With("prune nonces", [&](pqxx::connection& c) -> Status {
      pqxx::nontransaction tx(c);
      tx.exec_prepared(kPruneNonces.name, older_than);
      return Ok();
    });
  }

 private:
  explicit PostgresCatalog(std::string conninfo) : pool_(std::move(conninfo)) {}

  // `body(connection)` on a leased connection; libpqxx exceptions become kDatabase, and a
  // connection that broke is not returned to the pool.
  template <typename F>
  auto With(const char* what, F&& body) -> decltype(body(std::declval<pqxx::connection&>())) {
    UPLIFT_ASSIGN(Pool::Lease lease, pool_.Acquire());
    try {
      return body(lease.conn());
    } catch (const std::exception& e) {
      if (!lease.conn().is_open()) lease.Discard();
      return Error(StoreErrc::kDatabase, std::string("postgres: ") + what + ": " + e.what());
    }
  }

  template <typename T, typename Make, typename... A>
  Result<std::optional<T>> ReadOne(const char* what, const Sql& sql, Make&& make,
                                   const A&... args) {
    return With(what, [&](pqxx::connection& c) -> Result<std::optional<T>> {
      pqxx::nontransaction tx(c);
      const pqxx::result r = tx.exec_prepared(sql.name, args...);
      if (r.empty()) return std::optional<T>();
      return std::optional<T>(make(r[0]));
    });
  }

  template <typename... A>
  Result<std::optional<ReleaseRecord>> ReadRelease(const Sql& sql, const A&... args) {
    return With("read release", [&](pqxx::connection& c) -> Result<std::optional<ReleaseRecord>> {
      SnapshotRead tx(c);
      const pqxx::result r = tx.exec_prepared(sql.name, args...);
      if (r.empty()) return std::optional<ReleaseRecord>();
      std::optional<ReleaseRecord> out = ReleaseRow(r[0]);
      std::map<std::int64_t, ReleaseRecord*> by_id{{out->id, &*out}};
      FillReleases(by_id, tx.exec_prepared(kCompatibleOf.name, out->id),
                   tx.exec_prepared(kVariantsOf.name, out->id));
      tx.commit();
      return out;
    });
  }

  Pool pool_;
};

}  // namespace
}  // namespace uplift::server::internal

namespace uplift::server {

Result<std::unique_ptr<Catalog>> OpenPostgresCatalog(const std::string& conninfo) {
  UPLIFT_ASSIGN(auto catalog, internal::PostgresCatalog::Open(conninfo));
  return std::unique_ptr<Catalog>(std::move(catalog));
}

}  // namespace uplift::server
