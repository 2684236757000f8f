// The server's catalog: tenants, admin tokens, devices, releases, artifacts and request nonces.
// Written rarely (admin actions, enrollments) and read on every request, so reads are served
// from the database without caching here; the API layer caches what it must. Same two backends
// and the same schema-migration chain as the device store (docs/server-store.md).
//
// Tenancy: every row carries its tenant and every lookup takes one; nothing crosses tenants.
// Secrets: admin tokens and enrollment secrets are stored as SHA-256 hashes only; device
// credentials are not stored at all (derived from the server's secret key, see the API layer).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uplift/base/result.hpp"
#include "uplift/server/device_store.hpp"

namespace uplift::server {

enum class CatalogErrc : int {
  kExists = 124,    // a row with this key exists already
  kNotFound = 125,  // no such tenant / device / release / artifact
};

struct TenantRecord {
  std::string name;                      // [a-z0-9][a-z0-9-]{0,62}
  std::string trust_store_json;          // format::TrustStore, verified by the API layer
  std::string enrollment_secret_sha256;  // hex; "" = enrollment closed
  std::int64_t created = 0;
  friend bool operator==(const TenantRecord&, const TenantRecord&) = default;
};

struct TokenRecord {
  std::string token_sha256;  // hex of SHA-256 of the bearer token (the primary key)
  std::string tenant;
  std::string name;  // what it is for ("ci", "alice")
  std::int64_t created = 0;
  friend bool operator==(const TokenRecord&, const TokenRecord&) = default;
};

struct DeviceRecord {
  std::string tenant;
  std::string device_id;  // [A-Za-z0-9._:-]{1,128}
  std::string hardware;   // declared at enrollment
  // Bumped to revoke a device's credential (re-provisioning); the credential is derived from it.
  std::int64_t credential_generation = 1;
  std::string origin;  // "enrolled" or "provisioned"
  std::int64_t created = 0;
  friend bool operator==(const DeviceRecord&, const DeviceRecord&) = default;
};

struct ArtifactRecord {
  std::string tenant;
  std::string sha256;  // hex, 64 chars: the content address
  std::uint64_t size = 0;
  std::string kind;  // "bundle" (an Uplift bundle) or "foreign" (e.g. an SWUpdate .swu), as-is
  std::string name;  // a display/download name, [A-Za-z0-9._-]{1,128}
  std::int64_t created = 0;
  friend bool operator==(const ArtifactRecord&, const ArtifactRecord&) = default;
};

// One downloadable form of a release: the full bundle, or a delta bundle from one source image.
struct ReleaseVariant {
  std::string artifact_sha256;
  std::uint64_t size = 0;
  std::string delta_source_sha256;  // hex; "" = the full bundle
  friend bool operator==(const ReleaseVariant&, const ReleaseVariant&) = default;
};

struct ReleaseRecord {
  std::int64_t id = 0;  // assigned by CreateRelease
  std::string tenant;
  std::string product;
  std::string version;  // SemVer text
  std::uint64_t security_counter = 0;
  std::vector<std::string> compatible;  // hardware ids
  std::string image_sha256;             // hex: the image a device runs after this release
  std::uint64_t image_size = 0;
  bool deprecated = false;
  std::int64_t created = 0;
  std::vector<ReleaseVariant> variants;  // full first, then deltas in insertion order
  friend bool operator==(const ReleaseRecord&, const ReleaseRecord&) = default;
};

// Every method is safe to call from many threads at once. Failures: StoreErrc::kInvalid for a
// value outside the bounds of docs/server-store.md (checked before the database is touched),
// StoreErrc::kDatabase when the database fails, and the CatalogErrc noted per method. Creating
// anything in a tenant that does not exist is kNotFound.
class Catalog {
 public:
  virtual ~Catalog() = default;

  virtual Status CreateTenant(const TenantRecord& tenant) = 0;  // kExists
  virtual Result<std::optional<TenantRecord>> GetTenant(const std::string& name) = 0;
  virtual Result<std::vector<TenantRecord>> ListTenants() = 0;
  // Replaces the trust store and the enrollment secret (`created` is kept). kNotFound.
  virtual Status UpdateTenant(const TenantRecord& tenant) = 0;

  virtual Status AddToken(const TokenRecord& token) = 0;  // kExists
  virtual Result<std::optional<TokenRecord>> FindToken(const std::string& token_sha256) = 0;
  virtual Status RevokeToken(const std::string& token_sha256) = 0;  // kNotFound

  virtual Status CreateDevice(const DeviceRecord& device) = 0;  // kExists
  virtual Result<std::optional<DeviceRecord>> GetDevice(const std::string& tenant,
                                                        const std::string& device_id) = 0;
  // Devices of a tenant ordered by id (bytewise), starting after `after_id` ("" = from the
  // start); at most `limit`, and never more than 10,000.
  virtual Result<std::vector<DeviceRecord>> ListDevices(const std::string& tenant,
                                                        const std::string& after_id,
                                                        std::size_t limit) = 0;
  // Bumps credential_generation; returns the new value. kNotFound.
  virtual Result<std::int64_t> RotateCredential(const std::string& tenant,
                                                const std::string& device_id) = 0;

  // Idempotent per (tenant, sha256): a stored one keeps its name; kExists if it was stored
  // with another size or kind.
  virtual Status PutArtifact(const ArtifactRecord& artifact) = 0;
  virtual Result<std::optional<ArtifactRecord>> GetArtifact(const std::string& tenant,
                                                            const std::string& sha256) = 0;

  // Creates the release with its variants; returns its id. kExists if the tenant already has a
  // release of this product and version; kNotFound if a variant's artifact is not in the
  // tenant's artifacts (PutArtifact first).
  virtual Result<std::int64_t> CreateRelease(const ReleaseRecord& release) = 0;
  // Adds a delta variant to an existing release (kNotFound, also for a missing artifact);
  // kExists if one from the same source exists.
  virtual Status AddVariant(const std::string& tenant, std::int64_t release_id,
                            const ReleaseVariant& variant) = 0;
  virtual Result<std::optional<ReleaseRecord>> GetRelease(const std::string& tenant,
                                                          std::int64_t id) = 0;
  virtual Result<std::optional<ReleaseRecord>> FindRelease(const std::string& tenant,
                                                           const std::string& product,
                                                           const std::string& version) = 0;
  // All releases of a tenant (newest id first), variants included.
  virtual Result<std::vector<ReleaseRecord>> ListReleases(const std::string& tenant) = 0;
  virtual Status SetDeprecated(const std::string& tenant, std::int64_t id, bool deprecated) = 0;
  // Increases whenever any release of the tenant is created, changed or gets a variant, so API
  // servers can cache the release list and notice (also changes made by other instances).
  // 0 for a new tenant; kNotFound for an unknown one.
  virtual Result<std::int64_t> ReleasesGeneration(const std::string& tenant) = 0;

  // Replay protection: true if (tenant, device, nonce) was not seen before and is now recorded
  // with `time` (Unix seconds); false if it was seen. Rows older than PruneNonces' bound may be
  // dropped. SQLite keeps recent nonces in a durable table as well so a restart does not
  // reopen the window (written behind every 100 ms: a crash may lose the last interval).
  // The nonce is 16-64 characters of [A-Za-z0-9_-] (format::IsValidNonce), else kInvalid.
  virtual Result<bool> RecordNonce(const std::string& tenant, const std::string& device_id,
                                   const std::string& nonce, std::int64_t time) = 0;
  // Drops nonces whose time is < older_than; call it periodically (it bounds SQLite's memory).
  virtual Status PruneNonces(std::int64_t older_than) = 0;
};

// The catalog in the same database as the device store (same path / connection string); the
// migrations of both live in one chain, so opening either brings the schema up to date.
Result<std::unique_ptr<Catalog>> OpenSqliteCatalog(const std::string& path);
Result<std::unique_ptr<Catalog>> OpenPostgresCatalog(const std::string& conninfo);

}  // namespace uplift::server

UPLIFT_ERROR_DOMAIN(uplift::server::CatalogErrc, "catalog")
