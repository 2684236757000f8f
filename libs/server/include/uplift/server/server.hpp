// uplift-server as a library: the device API, the admin API, /healthz and /metrics over the HTTP
// layer, on a catalog + device store (SQLite or PostgreSQL) and an artifact store. The program
// (apps/uplift-server), the tests and the demo all run it through this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "uplift/base/bytes.hpp"
#include "uplift/base/clock.hpp"
#include "uplift/base/result.hpp"
#include "uplift/server/catalog.hpp"
#include "uplift/server/device_store.hpp"

namespace uplift::server {

enum class ServerErrc : int {
  kConfig = 140,      // a configuration value is missing or out of range
  kDataDir = 141,     // the data directory is missing, not initialised, or has a bad secret key
  kInitExists = 142,  // `init` on a data directory that is initialised already
};

struct ServerConfig {
  // Holds secret.key (32 random bytes, 0600), artifacts/ and, by default, uplift.db.
  std::string data_dir;
  // "" = SQLite at <data_dir>/uplift.db; "postgresql://..." or "host=... dbname=..." = PostgreSQL.
  std::string database;
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: ephemeral (tests)
  int io_threads = 0;         // 0: one per core
  int blocking_threads = 64;  // durable report commits wait here: this many can share one fsync
  std::string tls_cert_file;  // both set: HTTPS
  std::string tls_key_file;
  // The URL devices reach this server at (offers' artifact URLs start with it).
  // "" = http(s)://<listen_address>:<port>.
  std::string public_url;
  // When set, artifact URLs in offers point here instead (nginx or a CDN serving a copy of
  // <data_dir>/artifacts), signed for nginx's secure_link module with artifact_url_secret:
  // <base>/<aa>/<sha256>?md5=<token>&expires=<t>.
  std::string artifact_base_url;
  std::string artifact_url_secret;
  std::int64_t artifact_url_ttl_seconds = 7 * 24 * 3600;  // long downloads resume across days
  std::uint32_t poll_seconds = 300;                       // what check-ins tell devices
  std::int64_t auth_window_seconds = 300;                 // timestamp tolerance of signed requests
  std::chrono::milliseconds state_flush_interval{200};
  std::chrono::seconds shutdown_grace{10};
  std::uint64_t max_upload_bytes = 4ULL << 30;
};

// What `uplift server init` creates and prints once (the secrets are not stored in clear).
struct InitResult {
  std::string tenant;
  std::string admin_token;
  std::string enrollment_secret;
};

// Creates the data directory (secret key, artifacts/, database), the first tenant with its trust
// store (format::TrustStore JSON, checked), an admin token and an enrollment secret.
// ServerErrc::kInitExists if the directory holds a secret key already.
Result<InitResult> InitDataDir(const ServerConfig& config, const std::string& tenant,
                               const std::string& trust_store_json);
// Adds a tenant to an initialised data directory (same outputs).
Result<InitResult> AddTenant(const ServerConfig& config, const std::string& tenant,
                             const std::string& trust_store_json);

class Server {
 public:
  // Opens the data directory and database (migrating it), starts listening.
  // `clock` (tests) must outlive the server; null = the system clock.
  static Result<std::unique_ptr<Server>> Start(ServerConfig config, const Clock* clock = nullptr);
  virtual ~Server() = default;
  virtual std::uint16_t port() const = 0;
  virtual std::string url() const = 0;  // e.g. http://127.0.0.1:8080
  // Graceful: stops accepting, answers requests already read, flushes soft state.
  virtual void Stop() = 0;
  virtual Catalog& catalog() = 0;
  virtual DeviceStore& store() = 0;
};

// The device credential the server derives (docs/api/device-api.md §Enrollment): for tools that
// provision devices offline and for tests.
Bytes DeriveDeviceCredential(ByteView secret_key, const std::string& tenant,
                             const std::string& device_id, std::int64_t generation);

}  // namespace uplift::server

UPLIFT_ERROR_DOMAIN(uplift::server::ServerErrc, "server")
