// Server assembly: data directory and keys, stores, caches, metrics, /healthz and /metrics, and
// the routes of the device and admin APIs on the HTTP layer.
#include "uplift/server/server.hpp"

#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "api_context.hpp"
#include "uplift/base/io.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/crypto/kdf.hpp"
#include "uplift/format/device_auth.hpp"
#include "uplift/format/trust_store.hpp"

namespace uplift::server {

Bytes DeriveDeviceCredential(ByteView device_key, const std::string& tenant,
                             const std::string& device_id, std::int64_t generation) {
  std::string msg = tenant;
  msg.push_back('\0');
  msg.append(device_id);
  msg.push_back('\0');
  msg.append(std::to_string(generation));
  return crypto::HmacSha256(device_key, AsBytes(msg));
}

namespace internal {

constexpr std::size_t kSecretKeyBytes = 32;

std::string SecretKeyPath(const std::string& data_dir) { return data_dir + "/secret.key"; }

Result<Bytes> LoadSecretKey(const std::string& data_dir) {
  auto key = ReadFile(SecretKeyPath(data_dir), 64);
  if (!key.ok()) {
    return Error(ServerErrc::kDataDir,
                 "data directory " + data_dir +
                     " is not initialised (run `uplift server init`): " + key.error().message());
  }
  if (key->size() != kSecretKeyBytes) {
    return Error(ServerErrc::kDataDir, SecretKeyPath(data_dir) + ": expected 32 bytes");
  }
  return key;
}

Result<ServerKeys> DeriveServerKeys(ByteView secret) {
  ServerKeys k;
  UPLIFT_ASSIGN(k.device,
                crypto::HkdfSha256(secret, {}, AsBytes("uplift device credential v1"), 32));
  UPLIFT_ASSIGN(k.url, crypto::HkdfSha256(secret, {}, AsBytes("uplift artifact url v1"), 32));
  UPLIFT_ASSIGN(k.token, crypto::HkdfSha256(secret, {}, AsBytes("uplift admin session v1"), 32));
  return k;
}

Metrics::Metrics()
    : requests(prometheus::BuildCounter()
                   .Name("uplift_http_requests_total")
                   .Help("HTTP requests answered, by route class and status code")
                   .Register(*registry)),
      durations(prometheus::BuildHistogram()
                    .Name("uplift_http_request_duration_seconds")
                    .Help("Time from request read to response written, by route class")
                    .Register(*registry)),
      checkins(prometheus::BuildCounter()
                   .Name("uplift_checkins_total")
                   .Help("Authenticated device check-ins")
                   .Register(*registry)
                   .Add({})),
      offers(prometheus::BuildCounter()
                 .Name("uplift_offers_total")
                 .Help("Check-ins answered with an update offer")
                 .Register(*registry)
                 .Add({})),
      reports(prometheus::BuildCounter()
                  .Name("uplift_reports_total")
                  .Help("Device reports durably stored")
                  .Register(*registry)
                  .Add({})),
      enrollments(prometheus::BuildCounter()
                      .Name("uplift_enrollments_total")
                      .Help("Successful enrollments (including repeats)")
                      .Register(*registry)
                      .Add({})),
      auth_failures(prometheus::BuildCounter()
                        .Name("uplift_auth_failures_total")
                        .Help("Refused device and admin authentications, by reason")
                        .Register(*registry)),
      uploads_accepted(prometheus::BuildCounter()
                           .Name("uplift_uploads_accepted_total")
                           .Help("Bundles and artifacts stored")
                           .Register(*registry)
                           .Add({})),
      uploads_rejected(prometheus::BuildCounter()
                           .Name("uplift_uploads_rejected_total")
                           .Help("Uploads refused by verification (nothing stored)")
                           .Register(*registry)
                           .Add({})),
      artifact_bytes(prometheus::BuildCounter()
                         .Name("uplift_response_bytes_total")
                         .Help("Response bytes written (bodies and files)")
                         .Register(*registry)
                         .Add({})),
      open_connections(prometheus::BuildGauge()
                           .Name("uplift_http_open_connections")
                           .Help("Open client connections")
                           .Register(*registry)
                           .Add({})),
      report_commits(prometheus::BuildGauge()
                         .Name("uplift_store_report_commits")
                         .Help("Durable report transactions so far (group commit)")
                         .Register(*registry)
                         .Add({})) {}

namespace {

std::string_view RouteClass(std::string_view path) {
  if (path == "/api/device/v1/checkin") return "checkin";
  if (path == "/api/device/v1/reports") return "reports";
  if (path == "/api/device/v1/enroll") return "enroll";
  if (path.starts_with("/api/device/v1/artifacts/")) return "artifact";
  if (path.starts_with("/api/admin/")) return "admin";
  if (path == "/metrics" || path == "/healthz") return "ops";
  return "other";
}

}  // namespace

void Metrics::Observe(std::string_view path, int status, std::uint64_t bytes,
                      std::chrono::nanoseconds duration) {
  // Family::Add looks the labels up under a lock: cheap next to a request, bounded label set.
  const std::string route(RouteClass(path));
  requests.Add({{"route", route}, {"code", std::to_string(status)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
  durations.Add({{"route", route}}, kBuckets)
      .Observe(std::chrono::duration<double>(duration).count());
  artifact_bytes.Increment(static_cast<double>(bytes));
}

prometheus::Counter& Metrics::AuthFailure(std::string_view reason) {
  return auth_failures.Add({{"reason", std::string(reason)}});
}

HttpResponse BadRequest(std::string_view message) {
  return ErrorResponse(400, "bad_request", message);
}
HttpResponse NotFound(std::string_view message) { return ErrorResponse(404, "not_found", message); }
HttpResponse Unavailable(const Error& e) {
  HttpResponse r = ErrorResponse(503, "unavailable", e.message());
  r.Set("Retry-After", "5");
  return r;
}

HttpResponse FromError(const Error& e) {
  if (e.Is(CatalogErrc::kNotFound) || e.Is(base::Errc::kNotFound)) {
    return NotFound(e.message());
  }
  if (e.Is(CatalogErrc::kExists)) return ErrorResponse(409, "exists", e.message());
  if (e.Is(StoreErrc::kInvalid) || e.Is(base::Errc::kInvalidArgument)) {
    return BadRequest(e.message());
  }
  return Unavailable(e);
}

Result<std::optional<DeviceRecord>> ApiContext::Device(const std::string& tenant,
                                                       const std::string& id) {
  const std::string key = tenant + "/" + id;
  if (auto hit = devices.Get(key)) return std::optional<DeviceRecord>(std::move(*hit));
  UPLIFT_ASSIGN(auto rec, catalog.GetDevice(tenant, id));
  if (rec) devices.Put(key, *rec);
  return rec;
}

Result<std::optional<TenantRecord>> ApiContext::Tenant(const std::string& name) {
  if (auto hit = tenants.Get(name)) return std::optional<TenantRecord>(std::move(*hit));
  UPLIFT_ASSIGN(auto rec, catalog.GetTenant(name));
  if (rec) tenants.Put(name, *rec);
  return rec;
}

Result<std::shared_ptr<const std::vector<ReleaseRecord>>> ApiContext::Releases(
    const std::string& tenant) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(releases_mu);
    auto it = releases.find(tenant);
    if (it != releases.end() && it->second.releases &&
        now - it->second.checked < std::chrono::seconds(1)) {
      return it->second.releases;
    }
  }
  // Another instance may have published: compare generations (one cheap query a second).
  UPLIFT_ASSIGN(const std::int64_t gen, catalog.ReleasesGeneration(tenant));
  {
    std::lock_guard lock(releases_mu);
    auto& snap = releases[tenant];
    if (snap.releases && snap.generation == gen) {
      snap.checked = now;
      return snap.releases;
    }
  }
  UPLIFT_ASSIGN(auto list, catalog.ListReleases(tenant));
  auto shared = std::make_shared<const std::vector<ReleaseRecord>>(std::move(list));
  std::lock_guard lock(releases_mu);
  releases[tenant] = ReleaseSnapshot{gen, now, shared};
  return shared;
}

void ApiContext::InvalidateReleases(const std::string& tenant) {
  std::lock_guard lock(releases_mu);
  releases.erase(tenant);
}

std::string ArtifactUrl(const ApiContext& ctx, const std::string& tenant,
                        const std::string& sha256) {
  const std::int64_t expires = ctx.clock.NowUnix() + ctx.config.artifact_url_ttl_seconds;
  if (!ctx.config.artifact_base_url.empty()) {
    // nginx secure_link: md5 over "<expires><uri> <secret>", base64url without padding.
    std::string base = ctx.config.artifact_base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    const std::string rel = "/" + sha256.substr(0, 2) + "/" + sha256;
    std::string uri_path = rel;
    // The URI nginx sees includes the base URL's path component.
    if (auto scheme = base.find("://"); scheme != std::string::npos) {
      if (auto slash = base.find('/', scheme + 3); slash != std::string::npos) {
        uri_path = base.substr(slash) + rel;
      }
    }
    const std::string material =
        std::to_string(expires) + uri_path + " " + ctx.config.artifact_url_secret;
    const auto md5 = crypto::Md5ForInterop(AsBytes(material));
    return base + rel + "?md5=" + ToBase64Url(md5) + "&expires=" + std::to_string(expires);
  }
  const std::string path = "/api/device/v1/artifacts/" + sha256;
  return ctx.public_url + path + "?tenant=" + tenant + "&expires=" + std::to_string(expires) +
         "&sig=" + SignArtifactPath(ctx.keys, path, tenant, expires);
}

bool IsPostgres(const std::string& database) { return !database.empty(); }

struct Stores {
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<DeviceStore> store;
};

Result<Stores> OpenStores(const ServerConfig& config) {
  Stores s;
  StoreOptions opts;
  opts.state_flush_interval = config.state_flush_interval;
  if (IsPostgres(config.database)) {
    UPLIFT_ASSIGN(s.store, OpenPostgresStore(config.database, opts));
    UPLIFT_ASSIGN(s.catalog, OpenPostgresCatalog(config.database));
  } else {
    const std::string path = config.data_dir + "/uplift.db";
    UPLIFT_ASSIGN(s.store, OpenSqliteStore(path, opts));
    UPLIFT_ASSIGN(s.catalog, OpenSqliteCatalog(path));
  }
  return s;
}

class ServerImpl final : public Server {
 public:
  ServerImpl(ServerConfig config, const Clock& clock, Stores stores, ArtifactStore artifacts,
             ServerKeys keys)
      : stores_(std::move(stores)),
        artifacts_(std::move(artifacts)),
        ctx_(std::move(config), *stores_.catalog, *stores_.store, artifacts_, std::move(keys),
             clock, metrics_) {}

  ~ServerImpl() override { Stop(); }

  Status Listen() {
    HttpServerOptions o;
    o.address = ctx_.config.listen_address;
    o.port = ctx_.config.port;
    o.io_threads = ctx_.config.io_threads;
    o.blocking_threads = ctx_.config.blocking_threads;
    o.temp_dir = artifacts_.temp_dir();
    o.tls_cert_file = ctx_.config.tls_cert_file;
    o.tls_key_file = ctx_.config.tls_key_file;
    o.on_response = [this](const HttpRequest& req, int status, std::uint64_t bytes,
                           std::chrono::nanoseconds d) {
      metrics_.Observe(req.path, status, bytes, d);
    };
    std::vector<Route> routes = DeviceRoutes(ctx_);
    for (auto& r : AdminRoutes(ctx_)) routes.push_back(std::move(r));
    routes.push_back({"GET", "/healthz", [this](HttpRequest&) { return Health(); },
                      RouteOptions{.blocking = true}});
    routes.push_back({"GET", "/metrics", [this](HttpRequest&) { return MetricsText(); },
                      RouteOptions{.blocking = true}});
    UPLIFT_ASSIGN(http_, HttpServer::Start(std::move(o), std::move(routes)));
    janitor_ = std::thread([this] { Janitor(); });
    const bool tls = !ctx_.config.tls_cert_file.empty();
    url_ = std::string(tls ? "https://" : "http://") + ctx_.config.listen_address + ":" +
           std::to_string(http_->port());
    ctx_.public_url = ctx_.config.public_url.empty() ? url_ : ctx_.config.public_url;
    while (!ctx_.public_url.empty() && ctx_.public_url.back() == '/') ctx_.public_url.pop_back();
    return Ok();
  }

  std::uint16_t port() const override { return http_->port(); }
  std::string url() const override { return url_; }
  Catalog& catalog() override { return *stores_.catalog; }
  DeviceStore& store() override { return *stores_.store; }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    {
      std::lock_guard lock(janitor_mu_);
      janitor_stop_ = true;
    }
    janitor_cv_.notify_all();
    if (janitor_.joinable()) janitor_.join();
    if (http_) {
      http_->Stop(
          std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.config.shutdown_grace));
    }
    (void)stores_.store->FlushState();
  }

 private:
  HttpResponse Health() {
    // A read through each store: a server whose database is gone must say so.
    auto t = stores_.catalog->GetTenant("healthz");
    if (!t.ok()) return Unavailable(t.error());
    return JsonResponse(
        200, nlohmann::json{{"status", "ok"}, {"schema_version", stores_.store->schema_version()}}
                 .dump());
  }

  HttpResponse MetricsText() {
    metrics_.open_connections.Set(static_cast<double>(http_ ? http_->open_connections() : 0));
    metrics_.report_commits.Set(static_cast<double>(stores_.store->report_commits()));
    HttpResponse r;
    r.body = prometheus::TextSerializer().Serialize(metrics_.registry->Collect());
    r.Set("Content-Type", "text/plain; version=0.0.4");
    return r;
  }

  // Drops nonces older than any timestamp the auth window still accepts, once a minute.
  void Janitor() {
    std::unique_lock lock(janitor_mu_);
    while (
        !janitor_cv_.wait_for(lock, std::chrono::seconds(60), [this] { return janitor_stop_; })) {
      lock.unlock();
      const std::int64_t bound = ctx_.clock.NowUnix() - ctx_.config.auth_window_seconds - 60;
      if (Status st = stores_.catalog->PruneNonces(bound); !st.ok()) {
        spdlog::warn("pruning nonces: {}", st.error().message());
      }
      lock.lock();
    }
  }

  Stores stores_;
  ArtifactStore artifacts_;
  Metrics metrics_;
  ApiContext ctx_;
  std::unique_ptr<HttpServer> http_;
  std::string url_;
  std::atomic<bool> stopped_{false};
  std::thread janitor_;
  std::mutex janitor_mu_;
  std::condition_variable janitor_cv_;
  bool janitor_stop_ = false;
};

Status ValidateConfig(const ServerConfig& c) {
  if (c.data_dir.empty()) return Error(ServerErrc::kConfig, "data_dir is required");
  if (c.poll_seconds < 1 || c.poll_seconds > 86400) {
    return Error(ServerErrc::kConfig, "poll_seconds: expected 1..86400");
  }
  if (c.auth_window_seconds < 10 || c.auth_window_seconds > 3600) {
    return Error(ServerErrc::kConfig, "auth_window_seconds: expected 10..3600");
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return Error(ServerErrc::kConfig, "tls: set both the certificate and the key file");
  }
  if (!c.artifact_base_url.empty() && c.artifact_url_secret.empty()) {
    return Error(ServerErrc::kConfig, "artifacts.base_url needs artifacts.url_secret");
  }
  return Ok();
}

Result<InitResult> CreateTenant(Catalog& catalog, const std::string& tenant,
                                const std::string& trust_store_json, std::int64_t now) {
  if (!format::IsValidTenantName(tenant)) {
    return Error(ServerErrc::kConfig,
                 "tenant: expected [a-z0-9][a-z0-9-]{0,62}, got '" + tenant + "'");
  }
  UPLIFT_ASSIGN(const format::TrustStore trust,
                format::TrustStore::Parse(AsBytes(trust_store_json)));
  UPLIFT_ASSIGN(const Bytes token_bytes, crypto::RandomBytes(32));
  UPLIFT_ASSIGN(const Bytes secret_bytes, crypto::RandomBytes(32));
  InitResult out{tenant, "upl_" + ToHex(token_bytes), ToHex(secret_bytes)};
  UPLIFT_TRY(catalog.CreateTenant(TenantRecord{
      tenant, trust.Serialize(), ToHex(crypto::Sha256::Of(AsBytes(out.enrollment_secret))), now}));
  UPLIFT_TRY(catalog.AddToken(
      TokenRecord{ToHex(crypto::Sha256::Of(AsBytes(out.admin_token))), tenant, "init", now}));
  return out;
}

}  // namespace internal

using namespace internal;  // NOLINT(google-build-using-namespace)

Result<std::unique_ptr<Server>> Server::Start(ServerConfig config, const Clock* clock) {
  static const SystemClock kSystemClock;
  const Clock& c = clock != nullptr ? *clock : kSystemClock;
  UPLIFT_TRY(ValidateConfig(config));
  UPLIFT_ASSIGN(const Bytes secret, LoadSecretKey(config.data_dir));
  UPLIFT_ASSIGN(ServerKeys keys, DeriveServerKeys(secret));
  UPLIFT_ASSIGN(ArtifactStore artifacts, ArtifactStore::Open(config.data_dir + "/artifacts"));
  UPLIFT_ASSIGN(Stores stores, OpenStores(config));
  auto server = std::make_unique<ServerImpl>(std::move(config), c, std::move(stores),
                                             std::move(artifacts), std::move(keys));
  UPLIFT_TRY(server->Listen());
  return std::unique_ptr<Server>(std::move(server));
}

Result<InitResult> InitDataDir(const ServerConfig& config, const std::string& tenant,
                               const std::string& trust_store_json) {
  if (config.data_dir.empty()) return Error(ServerErrc::kConfig, "data_dir is required");
  if (::mkdir(config.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError("mkdir " + config.data_dir, errno);
  }
  struct stat st {};
  if (::stat(SecretKeyPath(config.data_dir).c_str(), &st) == 0) {
    return Error(ServerErrc::kInitExists,
                 config.data_dir + " is initialised already (secret.key exists)");
  }
  UPLIFT_ASSIGN(const Bytes secret, crypto::RandomBytes(kSecretKeyBytes));
  UPLIFT_ASSIGN(ArtifactStore artifacts, ArtifactStore::Open(config.data_dir + "/artifacts"));
  (void)artifacts;
  UPLIFT_ASSIGN(Stores stores, OpenStores(config));
  UPLIFT_ASSIGN(InitResult out,
                CreateTenant(*stores.catalog, tenant, trust_store_json, SystemClock().NowUnix()));
  // Last: a data directory with a key is initialised, so a failed init can simply be rerun.
  UPLIFT_TRY(WriteFileAtomic(SecretKeyPath(config.data_dir), secret, 0600));
  return out;
}

Result<InitResult> AddTenant(const ServerConfig& config, const std::string& tenant,
                             const std::string& trust_store_json) {
  UPLIFT_TRY(LoadSecretKey(config.data_dir));
  UPLIFT_ASSIGN(Stores stores, OpenStores(config));
  return CreateTenant(*stores.catalog, tenant, trust_store_json, SystemClock().NowUnix());
}

}  // namespace uplift::server
