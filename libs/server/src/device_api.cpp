// The device API (docs/api/device-api.md): enrollment, signed check-ins and reports, artifact
// downloads by signed URL.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "api_context.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/crypto/kdf.hpp"
#include "uplift/format/device_auth.hpp"
#include "uplift/format/device_protocol.hpp"
#include "uplift/format/semver.hpp"

namespace uplift::server::internal {
namespace {

using Json = nlohmann::json;

// A delta is offered only when it saves a meaningful share of the download.
constexpr double kDeltaWorthwhile = 0.8;

HttpResponse AuthError(ApiContext& ctx, std::string_view code, std::string_view message) {
  ctx.metrics.AuthFailure(code).Increment();
  return ErrorResponse(401, code, message);
}

// Checks the five signature headers of a device request. On success fills `device`.
std::optional<HttpResponse> Authenticate(ApiContext& ctx, const HttpRequest& req,
                                         DeviceRecord& device) {
  const std::string* tenant = req.Header(format::kHeaderTenant);
  const std::string* id = req.Header(format::kHeaderDevice);
  const std::string* ts = req.Header(format::kHeaderTimestamp);
  const std::string* nonce = req.Header(format::kHeaderNonce);
  const std::string* sig = req.Header(format::kHeaderSignature);
  if (tenant == nullptr || id == nullptr || ts == nullptr || nonce == nullptr || sig == nullptr) {
    return AuthError(ctx, "unauthorized", "missing Uplift-* signature headers");
  }
  if (!format::IsValidTenantName(*tenant) || !format::IsValidDeviceId(*id) ||
      !format::IsValidNonce(*nonce) || ts->empty() || ts->size() > 12 ||
      !std::all_of(ts->begin(), ts->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return AuthError(ctx, "unauthorized", "malformed Uplift-* signature headers");
  }
  const std::int64_t timestamp = std::stoll(*ts);
  const std::int64_t now = ctx.clock.NowUnix();
  if (timestamp < now - ctx.config.auth_window_seconds ||
      timestamp > now + ctx.config.auth_window_seconds) {
    ctx.metrics.AuthFailure("stale_timestamp").Increment();
    Json body = {
        {"error",
         {{"code", "stale_timestamp"},
          {"message", "timestamp " + *ts + " is " + std::to_string(std::llabs(timestamp - now)) +
                          " s from server time " + std::to_string(now)}}},
        {"server_time", now}};
    return JsonResponse(401, body.dump());
  }
  auto rec = ctx.Device(*tenant, *id);
  if (!rec.ok()) return Unavailable(rec.error());
  if (!rec->has_value()) return AuthError(ctx, "unauthorized", "bad signature or unknown device");
  const Bytes credential =
      DeriveDeviceCredential(ctx.keys.device, *tenant, *id, (*rec)->credential_generation);
  const format::SignedRequest signed_request{req.method, req.target, *tenant,          *id,
                                             timestamp,  *nonce,     AsBytes(req.body)};
  if (!format::VerifyRequestSignature(credential, signed_request, *sig)) {
    return AuthError(ctx, "unauthorized", "bad signature or unknown device");
  }
  // Only a request with a valid signature may spend a nonce (no one else can burn them).
  auto fresh = ctx.catalog.RecordNonce(*tenant, *id, *nonce, timestamp);
  if (!fresh.ok()) return Unavailable(fresh.error());
  if (!*fresh) return AuthError(ctx, "replayed_nonce", "nonce already used by this device");
  device = **rec;
  return std::nullopt;
}

HttpResponse Malformed(const Error& e) { return BadRequest(e.message()); }

HttpResponse Enroll(ApiContext& ctx, HttpRequest& req) {
  auto in = format::DecodeEnrollRequest(AsBytes(req.body));
  if (!in.ok()) return Malformed(in.error());
  if (!in->hardware.empty() && !format::IsValidDeviceId(in->hardware)) {
    return BadRequest("hardware: expected [A-Za-z0-9._:-]{1,128}");
  }
  auto tenant = ctx.Tenant(in->tenant);
  if (!tenant.ok()) return Unavailable(tenant.error());
  const std::string given = ToHex(crypto::Sha256::Of(AsBytes(in->enrollment_secret)));
  // One answer for an unknown tenant, closed enrollment and a wrong secret: nothing to probe.
  if (!tenant->has_value() || (*tenant)->enrollment_secret_sha256.empty() ||
      !crypto::ConstantTimeEqual(AsBytes(given), AsBytes((*tenant)->enrollment_secret_sha256))) {
    ctx.metrics.AuthFailure("enrollment_refused").Increment();
    return ErrorResponse(403, "enrollment_refused", "enrollment refused");
  }
  int status = 201;
  auto existing = ctx.catalog.GetDevice(in->tenant, in->device_id);
  if (!existing.ok()) return Unavailable(existing.error());
  DeviceRecord device;
  if (!existing->has_value()) {
    device =
        DeviceRecord{in->tenant, in->device_id, in->hardware, 1, "enrolled", ctx.clock.NowUnix()};
    if (Status st = ctx.catalog.CreateDevice(device); !st.ok()) {
      if (!st.error().Is(CatalogErrc::kExists)) return FromError(st.error());
      // Enrolled concurrently (a retry racing the first attempt): answer as for a repeat.
      existing = ctx.catalog.GetDevice(in->tenant, in->device_id);
      if (!existing.ok()) return Unavailable(existing.error());
      if (!existing->has_value())
        return Unavailable(Error(StoreErrc::kDatabase, "device vanished"));
    }
  }
  if (existing->has_value()) {
    device = **existing;
    auto state = ctx.store.GetState(in->tenant, in->device_id);
    if (!state.ok()) return Unavailable(state.error());
    // Safe to repeat until the device has used its credential; after that, a second claimant.
    if (state->has_value() || device.hardware != in->hardware || device.origin != "enrolled") {
      return ErrorResponse(
          409, "device_exists",
          "device " + in->device_id + " is enrolled already; an operator must re-provision it");
    }
    status = 200;
  }
  ctx.metrics.enrollments.Increment();
  if (status == 201) {
    spdlog::info("tenant {}: enrolled device {} ({})", device.tenant, device.device_id,
                 device.hardware);
  }
  const format::EnrollResponse out{
      device.tenant, device.device_id,
      DeriveDeviceCredential(ctx.keys.device, device.tenant, device.device_id,
                             device.credential_generation)};
  return JsonResponse(status, format::EncodeEnrollResponse(out));
}

bool Compatible(const ReleaseRecord& r, const std::string& hardware) {
  return std::find(r.compatible.begin(), r.compatible.end(), hardware) != r.compatible.end();
}

// The newest allowed release above the running version (rollouts refine this in issue #7).
std::optional<format::UpdateOffer> ChooseOffer(ApiContext& ctx, const DeviceRecord& device,
                                               const format::Inventory& inv,
                                               const std::vector<ReleaseRecord>& releases) {
  auto running = format::SemVer::Parse(inv.version);
  if (!running) return std::nullopt;
  const std::string& hardware = device.hardware.empty() ? inv.hardware : device.hardware;
  const ReleaseRecord* best = nullptr;
  std::optional<format::SemVer> best_version;
  for (const ReleaseRecord& r : releases) {
    if (r.deprecated || r.variants.empty() || !Compatible(r, hardware)) continue;
    if (!inv.product.empty() && r.product != inv.product) continue;
    if (r.image_sha256 == inv.image_sha256) continue;
    auto v = format::SemVer::Parse(r.version);
    if (!v || running->Compare(*v) != std::strong_ordering::less) continue;
    if (best == nullptr || best_version->Compare(*v) == std::strong_ordering::less) {
      best = &r;
      best_version = *v;
    }
  }
  if (best == nullptr) return std::nullopt;
  const ReleaseVariant* full = nullptr;
  const ReleaseVariant* delta = nullptr;
  for (const ReleaseVariant& v : best->variants) {
    if (v.delta_source_sha256.empty()) {
      if (full == nullptr) full = &v;
    } else if (v.delta_source_sha256 == inv.image_sha256) {
      delta = &v;
    }
  }
  const ReleaseVariant* pick = full;
  if (delta != nullptr &&
      (full == nullptr ||
       static_cast<double>(delta->size) < kDeltaWorthwhile * static_cast<double>(full->size))) {
    pick = delta;
  }
  if (pick == nullptr) return std::nullopt;  // only deltas from other sources
  format::UpdateOffer o;
  o.release_id = best->id;
  o.product = best->product;
  o.version = best->version;
  o.kind = pick == delta ? "delta" : "full";
  o.url = ArtifactUrl(ctx, device.tenant, pick->artifact_sha256);
  o.sha256 = pick->artifact_sha256;
  o.size = pick->size;
  o.image_sha256 = best->image_sha256;
  return o;
}

HttpResponse Checkin(ApiContext& ctx, HttpRequest& req) {
  DeviceRecord device;
  if (auto err = Authenticate(ctx, req, device)) return std::move(*err);
  auto inv = format::DecodeCheckin(AsBytes(req.body));
  if (!inv.ok()) return Malformed(inv.error());
  if (!format::SemVer::Parse(inv->version)) {
    return BadRequest("inventory.version: not a semantic version: " + inv->version);
  }
  const std::int64_t now = ctx.clock.NowUnix();
  if (Status st = ctx.store.PutState(DeviceState{device.tenant, device.device_id, now, req.body});
      !st.ok()) {
    return FromError(st.error());
  }
  ctx.metrics.checkins.Increment();
  auto releases = ctx.Releases(device.tenant);
  if (!releases.ok()) return Unavailable(releases.error());
  format::CheckinResponse out;
  out.server_time = now;
  out.poll_seconds = ctx.config.poll_seconds;
  out.update = ChooseOffer(ctx, device, *inv, **releases);
  if (out.update) ctx.metrics.offers.Increment();
  return JsonResponse(200, format::EncodeCheckinResponse(out));
}

HttpResponse Reports(ApiContext& ctx, HttpRequest& req) {
  DeviceRecord device;
  if (auto err = Authenticate(ctx, req, device)) return std::move(*err);
  auto reports = format::DecodeReports(AsBytes(req.body));
  if (!reports.ok()) return Malformed(reports.error());
  std::vector<std::string> accepted;
  accepted.reserve(reports->size());
  for (const format::Report& r : *reports) {
    DeviceReport dr;
    dr.tenant = device.tenant;
    dr.device_id = device.device_id;
    dr.time = r.time;
    dr.phase = r.phase;
    dr.progress = r.progress;
    dr.result = r.result;
    dr.reason = r.reason;
    dr.report_id = r.id;
    dr.release_id = r.release_id;
    // Durable before it is acknowledged; concurrent devices share the commit.
    if (auto seq = ctx.store.AppendReport(dr); !seq.ok()) return FromError(seq.error());
    accepted.push_back(r.id);
    ctx.metrics.reports.Increment();
  }
  return JsonResponse(200, format::EncodeAccepted(accepted));
}

HttpResponse Artifact(ApiContext& ctx, HttpRequest& req) {
  const std::string sha(req.Param("sha256"));
  const auto tenant = req.QueryParam("tenant");
  const auto expires = req.QueryParam("expires");
  const auto sig = req.QueryParam("sig");
  if (!IsSha256Hex(sha) || !tenant || !expires || !sig || expires->empty() ||
      expires->size() > 12 ||
      !std::all_of(expires->begin(), expires->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return ErrorResponse(403, "forbidden", "artifact URL is not signed");
  }
  const std::int64_t exp = std::stoll(*expires);
  const std::string expected = SignArtifactPath(ctx.keys, req.path, *tenant, exp);
  if (sig->size() != expected.size() ||
      !crypto::ConstantTimeEqual(AsBytes(*sig), AsBytes(expected))) {
    return ErrorResponse(403, "forbidden", "artifact URL signature is wrong");
  }
  if (exp < ctx.clock.NowUnix()) return ErrorResponse(403, "forbidden", "artifact URL expired");
  auto rec = ctx.catalog.GetArtifact(*tenant, sha);
  if (!rec.ok()) return Unavailable(rec.error());
  if (!rec->has_value()) return NotFound("no such artifact");
  auto stored = ctx.artifacts.Find(sha);
  if (!stored.ok()) return NotFound("artifact missing from the store");
  return ServeFile(req, stored->path, stored->size, "\"" + sha + "\"", (*rec)->created,
                   "application/octet-stream", "private, max-age=31536000, immutable");
}

}  // namespace

std::string SignArtifactPath(const ServerKeys& keys, std::string_view path, std::string_view tenant,
                             std::int64_t expires) {
  std::string msg = "GET\n";
  msg.append(path).append("\n").append(tenant).append("\n").append(std::to_string(expires));
  return ToHex(crypto::HmacSha256(keys.url, AsBytes(msg)));
}

std::vector<Route> DeviceRoutes(ApiContext& ctx) {
  // Signed requests leave the I/O threads: run there, they gave ~1.4x the requests/s on SQLite
  // but a p99 of seconds with 1,000 connections (connections starved), see docs/BENCHMARKS.md
  // §Server. On SQLite they are CPU-bound (nonces in memory): the compute pool, a thread per core.
  // On PostgreSQL each waits for a database round trip (nonces): the blocking pool.
  const bool pg = !ctx.config.database.empty();
  RouteOptions signed_opts;
  signed_opts.compute = !pg;
  signed_opts.blocking = pg;
  signed_opts.max_body_bytes = format::kMaxApiBodyBytes;
  RouteOptions blocking_opts = signed_opts;
  blocking_opts.compute = false;
  blocking_opts.blocking = true;
  return {
      {"POST", "/api/device/v1/enroll", [&ctx](HttpRequest& r) { return Enroll(ctx, r); },
       blocking_opts},
      {"POST", "/api/device/v1/checkin", [&ctx](HttpRequest& r) { return Checkin(ctx, r); },
       signed_opts},
      // Waits for a durable commit.
      {"POST", "/api/device/v1/reports", [&ctx](HttpRequest& r) { return Reports(ctx, r); },
       blocking_opts},
      {"GET", "/api/device/v1/artifacts/{sha256}",
       [&ctx](HttpRequest& r) { return Artifact(ctx, r); }, signed_opts},
  };
}

}  // namespace uplift::server::internal
