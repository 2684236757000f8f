// The catalog on SQLite: one writer connection behind a mutex (catalog writes are rare admin
// actions; each is one BEGIN IMMEDIATE transaction, fsync'd), a few reader connections so
// concurrent API threads read in parallel (WAL: readers never wait for the writer), and the
// nonce set in memory with write-behind persistence (sqlite_nonces.hpp).
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>

#include "catalog_validate.hpp"
#include "sqlite_nonces.hpp"
#include "sqlite_schema.hpp"

namespace uplift::server::internal {
namespace {

using sqlite::Conn;
using sqlite::Query;

struct Sql {
  const char* what;  // for error messages
  const char* text;  // also the key of the connection's statement cache
};

constexpr Sql kTenantExists{"find tenant", "SELECT 1 FROM tenants WHERE name = ?"};
constexpr Sql kInsertTenant{
    "insert tenant",
    "INSERT INTO tenants (name, trust_store_json, enrollment_secret_sha256, created) "
    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"};
constexpr Sql kGetTenant{"read tenant",
                         "SELECT name, trust_store_json, enrollment_secret_sha256, created FROM "
                         "tenants WHERE name = ?"};
constexpr Sql kListTenants{"list tenants",
                           "SELECT name, trust_store_json, enrollment_secret_sha256, created FROM "
                           "tenants ORDER BY name"};
constexpr Sql kUpdateTenant{"update tenant",
                            "UPDATE tenants SET trust_store_json = ?, enrollment_secret_sha256 = ? "
                            "WHERE name = ?"};
constexpr Sql kInsertToken{"insert token",
                           "INSERT INTO admin_tokens (token_sha256, tenant, name, created) "
                           "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"};
constexpr Sql kFindToken{"read token",
                         "SELECT token_sha256, tenant, name, created FROM admin_tokens "
                         "WHERE token_sha256 = ?"};
constexpr Sql kDeleteToken{"revoke token", "DELETE FROM admin_tokens WHERE token_sha256 = ?"};
constexpr Sql kInsertDevice{
    "insert device",
    "INSERT INTO devices (tenant, device_id, hardware, credential_generation, origin, created) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"};
constexpr Sql kGetDevice{"read device",
                         "SELECT tenant, device_id, hardware, credential_generation, origin, "
                         "created FROM devices WHERE tenant = ? AND device_id = ?"};
constexpr Sql kListDevices{"list devices",
                           "SELECT tenant, device_id, hardware, credential_generation, origin, "
                           "created FROM devices WHERE tenant = ? AND device_id > ? "
                           "ORDER BY device_id LIMIT ?"};
constexpr Sql kRotate{"rotate credential",
                      "UPDATE devices SET credential_generation = credential_generation + 1 "
                      "WHERE tenant = ? AND device_id = ? RETURNING credential_generation"};
constexpr Sql kInsertArtifact{
    "insert artifact",
    "INSERT INTO artifacts (tenant, sha256, size, kind, name, created) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"};
constexpr Sql kGetArtifact{"read artifact",
                           "SELECT tenant, sha256, size, kind, name, created FROM artifacts "
                           "WHERE tenant = ? AND sha256 = ?"};
constexpr Sql kBumpGeneration{"bump releases generation",
                              "UPDATE tenants SET releases_generation = releases_generation + 1 "
                              "WHERE name = ?"};
constexpr Sql kGeneration{"read releases generation",
                          "SELECT releases_generation FROM tenants WHERE name = ?"};
constexpr Sql kInsertRelease{
    "insert release",
    "INSERT INTO releases (tenant, product, version, security_counter, image_sha256, "
    "image_size, deprecated, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING "
    "RETURNING id"};
constexpr Sql kInsertCompatible{"insert compatible",
                                "INSERT INTO release_compatible (release_id, position, hardware) "
                                "VALUES (?, ?, ?)"};
constexpr Sql kInsertVariant{
    "insert variant",
    "INSERT INTO release_variants (release_id, tenant, artifact_sha256, size, "
    "delta_source_sha256) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"};
constexpr Sql kReleaseExists{"find release", "SELECT 1 FROM releases WHERE tenant = ? AND id = ?"};
constexpr Sql kCountVariants{"count variants",
                             "SELECT COUNT(*) FROM release_variants WHERE release_id = ?"};
constexpr Sql kSetDeprecated{"set deprecated",
                             "UPDATE releases SET deprecated = ? WHERE tenant = ? AND id = ?"};
// Release rows: the columns ReleaseRow expects.
#define UPLIFT_RELEASE_COLUMNS                                                        \
  "SELECT id, tenant, product, version, security_counter, image_sha256, image_size, " \
  "deprecated, created FROM releases "
constexpr Sql kGetRelease{"read release", UPLIFT_RELEASE_COLUMNS "WHERE tenant = ? AND id = ?"};
constexpr Sql kFindRelease{
    "find release", UPLIFT_RELEASE_COLUMNS "WHERE tenant = ? AND product = ? AND version = ?"};
constexpr Sql kListReleases{"list releases",
                            UPLIFT_RELEASE_COLUMNS "WHERE tenant = ? ORDER BY id DESC"};
#undef UPLIFT_RELEASE_COLUMNS
constexpr Sql kCompatibleOf{"read compatible",
                            "SELECT release_id, hardware FROM release_compatible "
                            "WHERE release_id = ? ORDER BY position"};
constexpr Sql kCompatibleOfTenant{
    "read compatible",
    "SELECT c.release_id, c.hardware FROM release_compatible c JOIN releases r "
    "ON r.id = c.release_id WHERE r.tenant = ? ORDER BY c.release_id, c.position"};
// Full variant first, then deltas in insertion order.
constexpr Sql kVariantsOf{"read variants",
                          "SELECT release_id, artifact_sha256, size, delta_source_sha256 FROM "
                          "release_variants WHERE release_id = ? "
                          "ORDER BY delta_source_sha256 <> '', id"};
constexpr Sql kVariantsOfTenant{"read variants",
                                "SELECT release_id, artifact_sha256, size, delta_source_sha256 "
                                "FROM release_variants WHERE tenant = ? "
                                "ORDER BY release_id, delta_source_sha256 <> '', id"};

constexpr std::size_t kReaders = 4;
constexpr std::chrono::milliseconds kNonceFlushInterval{100};

void BindOne(Query& q, const std::string& v) { q.Bind(v); }
void BindOne(Query& q, std::int64_t v) { q.Bind(v); }

// Runs `sql` with `args` bound, handing each result row to `on_row`; returns the number of rows
// an INSERT, UPDATE or DELETE changed.
template <typename OnRow, typename... A>
Result<int> Run(Conn& c, const Sql& sql, OnRow&& on_row, const A&... args) {
  UPLIFT_ASSIGN(sqlite3_stmt * s, c.Statement(sql.text));
  Query q(c.get(), s);
  (BindOne(q, args), ...);
  for (;;) {
    UPLIFT_ASSIGN(const bool row, q.Step(sql.what));
    if (!row) break;
    on_row(q);
  }
  return sqlite3_changes(c.get());
}

template <typename... A>
Result<int> Change(Conn& c, const Sql& sql, const A&... args) {
  return Run(
      c, sql, [](const Query&) {}, args...);
}

template <typename... A>
Result<bool> Exists(Conn& c, const Sql& sql, const A&... args) {
  bool found = false;
  UPLIFT_TRY(Run(
      c, sql, [&](const Query&) { found = true; }, args...));
  return found;
}

std::int64_t I64(std::uint64_t v) { return static_cast<std::int64_t>(v); }  // validated <2^53
std::uint64_t U64(std::int64_t v) { return static_cast<std::uint64_t>(v); }

TenantRecord ReadTenant(const Query& q) { return {q.Str(0), q.Str(1), q.Str(2), q.Int(3)}; }
TokenRecord ReadToken(const Query& q) { return {q.Str(0), q.Str(1), q.Str(2), q.Int(3)}; }
DeviceRecord ReadDevice(const Query& q) {
  return {q.Str(0), q.Str(1), q.Str(2), q.Int(3), q.Str(4), q.Int(5)};
}
ArtifactRecord ReadArtifact(const Query& q) {
  return {q.Str(0), q.Str(1), U64(q.Int(2)), q.Str(3), q.Str(4), q.Int(5)};
}
ReleaseRecord ReleaseRow(const Query& q) {
  ReleaseRecord r;
  r.id = q.Int(0);
  r.tenant = q.Str(1);
  r.product = q.Str(2);
  r.version = q.Str(3);
  r.security_counter = U64(q.Int(4));
  r.image_sha256 = q.Str(5);
  r.image_size = U64(q.Int(6));
  r.deprecated = q.Int(7) != 0;
  r.created = q.Int(8);
  return r;
}

Error NoTenant(const std::string& tenant) {
  return Error(CatalogErrc::kNotFound, "no tenant \"" + tenant + "\"");
}
Error NoRelease(const std::string& tenant, std::int64_t id) {
  return Error(CatalogErrc::kNotFound,
               "no release " + std::to_string(id) + " of tenant \"" + tenant + "\"");
}

// kNotFound unless the tenant holds the artifact.
Status NeedArtifact(Conn& c, const std::string& tenant, const std::string& sha256) {
  UPLIFT_ASSIGN(const bool found, Exists(c, kGetArtifact, tenant, sha256));
  if (!found) {
    return Error(CatalogErrc::kNotFound,
                 "no artifact " + sha256 + " in tenant \"" + tenant + "\" for the variant");
  }
  return Ok();
}

Status InsertVariant(Conn& c, const std::string& tenant, std::int64_t release_id,
                     const ReleaseVariant& v) {
  UPLIFT_TRY(NeedArtifact(c, tenant, v.artifact_sha256));
  UPLIFT_ASSIGN(const int n, Change(c, kInsertVariant, release_id, tenant, v.artifact_sha256,
                                    I64(v.size), v.delta_source_sha256));
  if (n == 0) {
    return Error(CatalogErrc::kExists,
                 "release " + std::to_string(release_id) + " has a " +
                     (v.delta_source_sha256.empty() ? std::string("full variant")
                                                    : "variant from " + v.delta_source_sha256));
  }
  return Ok();
}

// Adds compatible hardware and variants to the releases in `by_id`, in their stored order.
template <typename... A>
Status FillReleases(Conn& c, std::map<std::int64_t, ReleaseRecord*>& by_id, const Sql& compatible,
                    const Sql& variants, const A&... args) {
  UPLIFT_TRY(Run(
      c, compatible,
      [&](const Query& q) {
        if (auto it = by_id.find(q.Int(0)); it != by_id.end()) {
          it->second->compatible.push_back(q.Str(1));
        }
      },
      args...));
  UPLIFT_TRY(Run(
      c, variants,
      [&](const Query& q) {
        if (auto it = by_id.find(q.Int(0)); it != by_id.end()) {
          it->second->variants.push_back(ReleaseVariant{q.Str(1), U64(q.Int(2)), q.Str(3)});
        }
      },
      args...));
  return Ok();
}

class SqliteCatalog final : public Catalog {
 public:
  static Result<std::unique_ptr<SqliteCatalog>> Open(const std::string& path) {
    UPLIFT_ASSIGN(sqlite::Db writer, sqlite::OpenDb(path));
    UPLIFT_TRY(sqlite::Migrate(writer.get()));
    std::unique_ptr<SqliteCatalog> c(new SqliteCatalog(Conn(std::move(writer))));
    for (Reader& r : c->readers_) {
      UPLIFT_ASSIGN(sqlite::Db db, sqlite::OpenDb(path));
      r.conn.emplace(std::move(db));
    }
    UPLIFT_ASSIGN(c->nonces_, SqliteNonces::Open(path, kNonceFlushInterval));
    return c;
  }

  Status CreateTenant(const TenantRecord& t) override {
    UPLIFT_TRY(ValidateTenant(t));
    return Write([&](Conn& c) -> Status {
      UPLIFT_ASSIGN(const int n, Change(c, kInsertTenant, t.name, t.trust_store_json,
                                        t.enrollment_secret_sha256, t.created));
      if (n == 0) return Error(CatalogErrc::kExists, "tenant \"" + t.name + "\" exists");
      return Ok();
    });
  }

  Result<std::optional<TenantRecord>> GetTenant(const std::string& name) override {
    UPLIFT_TRY(ValidateTenantName(name));
    return ReadOne<TenantRecord>(kGetTenant, ReadTenant, name);
  }

  Result<std::vector<TenantRecord>> ListTenants() override {
    return Read([&](Conn& c) -> Result<std::vector<TenantRecord>> {
      std::vector<TenantRecord> out;
      UPLIFT_TRY(Run(c, kListTenants, [&](const Query& q) { out.push_back(ReadTenant(q)); }));
      return out;
    });
  }

  Status UpdateTenant(const TenantRecord& t) override {
    UPLIFT_TRY(ValidateTenant(t));
    return Write([&](Conn& c) -> Status {
      UPLIFT_ASSIGN(const int n, Change(c, kUpdateTenant, t.trust_store_json,
                                        t.enrollment_secret_sha256, t.name));
      if (n == 0) return NoTenant(t.name);
      return Ok();
    });
  }

  Status AddToken(const TokenRecord& t) override {
    UPLIFT_TRY(ValidateToken(t));
    return Write([&](Conn& c) -> Status {
      UPLIFT_ASSIGN(const bool tenant, Exists(c, kTenantExists, t.tenant));
      if (!tenant) return NoTenant(t.tenant);
      UPLIFT_ASSIGN(const int n,
                    Change(c, kInsertToken, t.token_sha256, t.tenant, t.name, t.created));
      if (n == 0) return Error(CatalogErrc::kExists, "a token with this hash exists");
      return Ok();
    });
  }

  Result<std::optional<TokenRecord>> FindToken(const std::string& token_sha256) override {
    UPLIFT_TRY(ValidateSha256("token sha256", token_sha256));
    return ReadOne<TokenRecord>(kFindToken, ReadToken, token_sha256);
  }

  Status RevokeToken(const std::string& token_sha256) override {
    UPLIFT_TRY(ValidateSha256("token sha256", token_sha256));
    return Write([&](Conn& c) -> Status {
      UPLIFT_ASSIGN(const int n, Change(c, kDeleteToken, token_sha256));
      if (n == 0) return Error(CatalogErrc::kNotFound, "no token with this hash");
      return Ok();
    });
  }

  Status CreateDevice(const DeviceRecord& d) override {
    UPLIFT_TRY(ValidateDevice(d));
    return Write([&](Conn& c) -> Status {
      UPLIFT_ASSIGN(const bool tenant, Exists(c, kTenantExists, d.tenant));
      if (!tenant) return NoTenant(d.tenant);
      UPLIFT_ASSIGN(const int n, Change(c, kInsertDevice, d.tenant, d.device_id, d.hardware,
                                        d.credential_generation, d.origin, d.created));
      if (n == 0) {
        return Error(CatalogErrc::kExists,
                     "device \"" + d.device_id + "\" of tenant \"" + d.tenant + "\" exists");
      }
      return Ok();
    });
  }

  Result<std::optional<DeviceRecord>> GetDevice(const std::string& tenant,
                                                const std::string& device_id) override {
    UPLIFT_TRY(ValidateDeviceKey(tenant, device_id));
    return ReadOne<DeviceRecord>(kGetDevice, ReadDevice, tenant, device_id);
  }

  Result<std::vector<DeviceRecord>> ListDevices(const std::string& tenant,
                                                const std::string& after_id,
                                                std::size_t limit) override {
    UPLIFT_TRY(after_id.empty() ? ValidateTenantName(tenant) : ValidateDeviceKey(tenant, after_id));
    const auto n = static_cast<std::int64_t>(std::min(limit, kMaxListDevices));
    return Read([&](Conn& c) -> Result<std::vector<DeviceRecord>> {
      std::vector<DeviceRecord> out;
      UPLIFT_TRY(Run(
          c, kListDevices, [&](const Query& q) { out.push_back(ReadDevice(q)); }, tenant, after_id,
          n));
      return out;
    });
  }

  Result<std::int64_t> RotateCredential(const std::string& tenant,
                                        const std::string& device_id) override {
    UPLIFT_TRY(ValidateDeviceKey(tenant, device_id));
    return Write([&](Conn& c) -> Result<std::int64_t> {
      std::optional<std::int64_t> generation;
      UPLIFT_TRY(Run(
          c, kRotate, [&](const Query& q) { generation = q.Int(0); }, tenant, device_id));
      if (!generation) {
        return Error(CatalogErrc::kNotFound,
                     "no device \"" + device_id + "\" in tenant \"" + tenant + "\"");
      }
      return *generation;
    });
  }

  Status PutArtifact(const ArtifactRecord& a) override {
    UPLIFT_TRY(ValidateArtifact(a));
    return Write([&](Conn& c) -> Status {
      UPLIFT_ASSIGN(const bool tenant, Exists(c, kTenantExists, a.tenant));
      if (!tenant) return NoTenant(a.tenant);
      UPLIFT_ASSIGN(const int n, Change(c, kInsertArtifact, a.tenant, a.sha256, I64(a.size), a.kind,
                                        a.name, a.created));
      if (n == 1) return Ok();
      std::optional<ArtifactRecord> old;
      UPLIFT_TRY(Run(
          c, kGetArtifact, [&](const Query& q) { old = ReadArtifact(q); }, a.tenant, a.sha256));
      if (old && (old->size != a.size || old->kind != a.kind)) {
        return Error(CatalogErrc::kExists, "artifact " + a.sha256 + " exists with size " +
                                               std::to_string(old->size) + " and kind " +
                                               old->kind + ", not " + std::to_string(a.size) + " " +
                                               a.kind);
      }
      return Ok();
    });
  }

  Result<std::optional<ArtifactRecord>> GetArtifact(const std::string& tenant,
                                                    const std::string& sha256) override {
    UPLIFT_TRY(ValidateTenantName(tenant));
    UPLIFT_TRY(ValidateSha256("artifact sha256", sha256));
    return ReadOne<ArtifactRecord>(kGetArtifact, ReadArtifact, tenant, sha256);
  }

  Result<std::int64_t> CreateRelease(const ReleaseRecord& r) override {
    UPLIFT_TRY(ValidateRelease(r));
    return Write([&](Conn& c) -> Result<std::int64_t> {
      UPLIFT_ASSIGN(const int bumped, Change(c, kBumpGeneration, r.tenant));
      if (bumped == 0) return NoTenant(r.tenant);
      std::optional<std::int64_t> id;
      UPLIFT_TRY(Run(
          c, kInsertRelease, [&](const Query& q) { id = q.Int(0); }, r.tenant, r.product, r.version,
          I64(r.security_counter), r.image_sha256, I64(r.image_size),
          std::int64_t{r.deprecated ? 1 : 0}, r.created));
      if (!id) {
        return Error(CatalogErrc::kExists,
                     "tenant \"" + r.tenant + "\" has a release of " + r.product + " " + r.version);
      }
      for (std::size_t i = 0; i < r.compatible.size(); ++i) {
        UPLIFT_TRY(
            Change(c, kInsertCompatible, *id, static_cast<std::int64_t>(i), r.compatible[i]));
      }
      for (const ReleaseVariant& v : r.variants) UPLIFT_TRY(InsertVariant(c, r.tenant, *id, v));
      return *id;
    });
  }

  Status AddVariant(const std::string& tenant, std::int64_t release_id,
                    const ReleaseVariant& variant) override {
    UPLIFT_TRY(ValidateTenantName(tenant));
    UPLIFT_TRY(ValidateVariant(variant));
    return Write([&](Conn& c) -> Status {
      UPLIFT_ASSIGN(const bool found, Exists(c, kReleaseExists, tenant, release_id));
      if (!found) return NoRelease(tenant, release_id);
      std::int64_t count = 0;
      UPLIFT_TRY(Run(
          c, kCountVariants, [&](const Query& q) { count = q.Int(0); }, release_id));
      if (static_cast<std::size_t>(count) >= kMaxVariants) {
        return Error(StoreErrc::kInvalid,
                     "release " + std::to_string(release_id) + " has 256 variants already");
      }
      UPLIFT_TRY(InsertVariant(c, tenant, release_id, variant));
      UPLIFT_TRY(Change(c, kBumpGeneration, tenant));
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
    return Read([&](Conn& c) -> Result<std::vector<ReleaseRecord>> {
      return sqlite::InTransaction(c.get(), "BEGIN", [&]() -> Result<std::vector<ReleaseRecord>> {
        std::vector<ReleaseRecord> out;
        UPLIFT_TRY(Run(
            c, kListReleases, [&](const Query& q) { out.push_back(ReleaseRow(q)); }, tenant));
        std::map<std::int64_t, ReleaseRecord*> by_id;
        for (ReleaseRecord& r : out) by_id[r.id] = &r;
        UPLIFT_TRY(FillReleases(c, by_id, kCompatibleOfTenant, kVariantsOfTenant, tenant));
        return out;
      });
    });
  }

  Status SetDeprecated(const std::string& tenant, std::int64_t id, bool deprecated) override {
    UPLIFT_TRY(ValidateTenantName(tenant));
    return Write([&](Conn& c) -> Status {
      UPLIFT_ASSIGN(const int n,
                    Change(c, kSetDeprecated, std::int64_t{deprecated ? 1 : 0}, tenant, id));
      if (n == 0) return NoRelease(tenant, id);
      UPLIFT_TRY(Change(c, kBumpGeneration, tenant));
      return Ok();
    });
  }

  Result<std::int64_t> ReleasesGeneration(const std::string& tenant) override {
    UPLIFT_TRY(ValidateTenantName(tenant));
    UPLIFT_ASSIGN(auto generation,
                  ReadOne<std::int64_t>(
                      kGeneration, [](const Query& q) { return q.Int(0); }, tenant));
    if (!generation) return NoTenant(tenant);
    return *generation;
  }

  Result<bool> RecordNonce(const std::string& tenant, const std::string& device_id,
                           const std::string& nonce, std::int64_t time) override {
    UPLIFT_TRY(ValidateNonce(tenant, device_id, nonce));
    return nonces_->Record(tenant, device_id, nonce, time);
  }

  Status PruneNonces(std::int64_t older_than) override { return nonces_->Prune(older_than); }

 private:
  struct Reader {
    std::mutex mu;
    std::optional<Conn> conn;
  };

  explicit SqliteCatalog(Conn writer) : writer_(std::move(writer)) {}

  // `body(conn)` inside one write transaction on the writer connection.
  template <typename F>
  auto Write(F&& body) -> decltype(body(std::declval<Conn&>())) {
    std::lock_guard lock(write_mu_);
    return sqlite::InTransaction(writer_.get(), "BEGIN IMMEDIATE", [&] { return body(writer_); });
  }

  // `body(conn)` on a free reader connection (or the next one, waiting for it when all are busy).
  template <typename F>
  auto Read(F&& body) -> decltype(body(std::declval<Conn&>())) {
    const std::size_t start = next_reader_.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < kReaders; ++i) {
      Reader& r = readers_[(start + i) % kReaders];
      std::unique_lock lock(r.mu, std::try_to_lock);
      if (lock.owns_lock()) return body(*r.conn);
    }
    Reader& r = readers_[start % kReaders];
    std::lock_guard lock(r.mu);
    return body(*r.conn);
  }

  template <typename T, typename Make, typename... A>
  Result<std::optional<T>> ReadOne(const Sql& sql, Make&& make, const A&... args) {
    return Read([&](Conn& c) -> Result<std::optional<T>> {
      std::optional<T> out;
      UPLIFT_TRY(Run(
          c, sql, [&](const Query& q) { out = make(q); }, args...));
      return out;
    });
  }

  template <typename... A>
  Result<std::optional<ReleaseRecord>> ReadRelease(const Sql& sql, const A&... args) {
    return Read([&](Conn& c) -> Result<std::optional<ReleaseRecord>> {
      return sqlite::InTransaction(c.get(), "BEGIN", [&]() -> Result<std::optional<ReleaseRecord>> {
        std::optional<ReleaseRecord> out;
        UPLIFT_TRY(Run(
            c, sql, [&](const Query& q) { out = ReleaseRow(q); }, args...));
        if (!out) return out;
        std::map<std::int64_t, ReleaseRecord*> by_id{{out->id, &*out}};
        UPLIFT_TRY(FillReleases(c, by_id, kCompatibleOf, kVariantsOf, out->id));
        return out;
      });
    });
  }

  std::mutex write_mu_;
  Conn writer_;
  std::array<Reader, kReaders> readers_;
  std::atomic<std::size_t> next_reader_{0};
  std::unique_ptr<SqliteNonces> nonces_;
};

}  // namespace
}  // namespace uplift::server::internal

namespace uplift::server {

Result<std::unique_ptr<Catalog>> OpenSqliteCatalog(const std::string& path) {
  UPLIFT_ASSIGN(auto catalog, internal::SqliteCatalog::Open(path));
  return std::unique_ptr<Catalog>(std::move(catalog));
}

}  // namespace uplift::server
