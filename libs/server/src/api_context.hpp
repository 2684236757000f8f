// What the API handlers share (internal): configuration, stores, keys, caches, metrics.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "uplift/base/bytes.hpp"
#include "uplift/base/clock.hpp"
#include "uplift/server/artifact_store.hpp"
#include "uplift/server/catalog.hpp"
#include "uplift/server/device_store.hpp"
#include "uplift/server/http.hpp"
#include "uplift/server/server.hpp"

namespace uplift::server::internal {

// Keys derived from the server's secret key (HKDF, distinct labels), so one 32-byte secret
// serves every purpose without one use weakening another.
struct ServerKeys {
  Bytes device;  // device credentials: HMAC(device, tenant \0 device \0 generation)
  Bytes url;     // artifact URLs signed by this server
  Bytes token;   // reserved: signed admin sessions
};
Result<ServerKeys> DeriveServerKeys(ByteView secret_key);
Result<Bytes> LoadSecretKey(const std::string& data_dir);
std::string SecretKeyPath(const std::string& data_dir);

// A small map whose entries expire: catalog rows read on every request (devices, tokens,
// tenants) are cached for a few seconds; revocations take effect within that time.
template <typename V>
class TtlCache {
 public:
  TtlCache(std::chrono::milliseconds ttl, std::size_t max_entries) : ttl_(ttl), max_(max_entries) {}
  std::optional<V> Get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    if (std::chrono::steady_clock::now() >= it->second.expires) {
      map_.erase(it);
      return std::nullopt;
    }
    return it->second.value;
  }
  void Put(const std::string& key, V value) {
    std::lock_guard lock(mu_);
    // Bounded by dropping everything: cheap, rare, and only costs a few database reads.
    if (map_.size() >= max_) map_.clear();
    map_[key] = Entry{std::move(value), std::chrono::steady_clock::now() + ttl_};
  }
  void Erase(const std::string& key) {
    std::lock_guard lock(mu_);
    map_.erase(key);
  }

 private:
  struct Entry {
    V value;
    std::chrono::steady_clock::time_point expires;
  };
  std::chrono::milliseconds ttl_;
  std::size_t max_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> map_;
};

struct Metrics {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& durations;
  prometheus::Counter& checkins;
  prometheus::Counter& offers;
  prometheus::Counter& reports;
  prometheus::Counter& enrollments;
  prometheus::Family<prometheus::Counter>& auth_failures;
  prometheus::Counter& uploads_accepted;
  prometheus::Counter& uploads_rejected;
  prometheus::Counter& artifact_bytes;
  prometheus::Gauge& open_connections;
  prometheus::Gauge& report_commits;
  Metrics();
  // The handful of route classes requests are counted under (bounded label values).
  void Observe(std::string_view path, int status, std::uint64_t bytes,
               std::chrono::nanoseconds duration);
  prometheus::Counter& AuthFailure(std::string_view reason);
};

struct ApiContext {
  ApiContext(ServerConfig config_in, Catalog& catalog_in, DeviceStore& store_in,
             ArtifactStore& artifacts_in, ServerKeys keys_in, const Clock& clock_in,
             Metrics& metrics_in)
      : config(std::move(config_in)),
        catalog(catalog_in),
        store(store_in),
        artifacts(artifacts_in),
        keys(std::move(keys_in)),
        clock(clock_in),
        metrics(metrics_in) {}

  ServerConfig config;
  Catalog& catalog;
  DeviceStore& store;
  ArtifactStore& artifacts;
  ServerKeys keys;
  const Clock& clock;
  Metrics& metrics;
  std::string public_url;  // without trailing '/'

  TtlCache<DeviceRecord> devices{std::chrono::seconds(5), 200'000};
  TtlCache<TokenRecord> tokens{std::chrono::seconds(5), 10'000};
  TtlCache<TenantRecord> tenants{std::chrono::seconds(5), 10'000};

  // Releases per tenant, refreshed when the catalog's generation moves (checked at most once a
  // second, so a check-in costs no release query).
  struct ReleaseSnapshot {
    std::int64_t generation = -1;
    std::chrono::steady_clock::time_point checked{};
    std::shared_ptr<const std::vector<ReleaseRecord>> releases;
  };
  std::mutex releases_mu;
  std::unordered_map<std::string, ReleaseSnapshot> releases;
  Result<std::shared_ptr<const std::vector<ReleaseRecord>>> Releases(const std::string& tenant);
  void InvalidateReleases(const std::string& tenant);

  Result<std::optional<DeviceRecord>> Device(const std::string& tenant, const std::string& id);
  Result<std::optional<TenantRecord>> Tenant(const std::string& name);
};

// Errors as HTTP responses: {"error": {"code", "message"}}.
HttpResponse BadRequest(std::string_view message);
HttpResponse NotFound(std::string_view message);
HttpResponse Unavailable(const Error& e);
// Maps a library error to a response (kNotFound → 404, kExists → 409, kInvalid → 400, else 503).
HttpResponse FromError(const Error& e);

std::vector<Route> DeviceRoutes(ApiContext& ctx);
std::vector<Route> AdminRoutes(ApiContext& ctx);

// The URL a device downloads an artifact from (this server's signed URL or the external base).
std::string ArtifactUrl(const ApiContext& ctx, const std::string& tenant,
                        const std::string& sha256);
std::string SignArtifactPath(const ServerKeys& keys, std::string_view path, std::string_view tenant,
                             std::int64_t expires);

}  // namespace uplift::server::internal
