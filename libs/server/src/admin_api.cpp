// The admin API (docs/api/admin-api.md): releases, artifacts, devices, the tenant's trust store,
// enrollment and tokens. Every route takes a bearer token bound to one tenant.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <deque>
#include <nlohmann/json.hpp>
#include <vector>

#include "api_context.hpp"
#include "uplift/base/io.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/crypto/kdf.hpp"
#include "uplift/format/bundle_reader.hpp"
#include "uplift/format/device_auth.hpp"
#include "uplift/format/trust_store.hpp"

namespace uplift::server::internal {
namespace {

using Json = nlohmann::json;

// Reads through to a source while hashing every byte: one pass verifies and content-addresses.
class HashingSource final : public ByteSource {
 public:
  explicit HashingSource(ByteSource& inner) : inner_(inner) {}
  Result<std::size_t> Read(MutableByteView buf) override {
    UPLIFT_ASSIGN(const std::size_t n, inner_.Read(buf));
    hash_.Update(ByteView(buf.data(), n));
    size_ += n;
    return n;
  }
  std::string Finish() { return ToHex(hash_.Finish()); }
  std::uint64_t size() const { return size_; }

 private:
  ByteSource& inner_;
  crypto::Sha256 hash_;
  std::uint64_t size_ = 0;
};

std::string RandomSecret() {
  auto bytes = crypto::RandomBytes(32);
  return bytes.ok() ? ToHex(*bytes) : std::string();
}

// Resolves the bearer token to its tenant.
std::optional<HttpResponse> AuthenticateAdmin(ApiContext& ctx, const HttpRequest& req,
                                              std::string& tenant) {
  const std::string* auth = req.Header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth == nullptr || auth->size() <= kBearer.size() || auth->size() > 256 ||
      !auth->starts_with(kBearer)) {
    ctx.metrics.AuthFailure("admin_token").Increment();
    return ErrorResponse(401, "unauthorized", "missing 'Authorization: Bearer <admin token>'");
  }
  const std::string hash =
      ToHex(crypto::Sha256::Of(AsBytes(std::string_view(*auth).substr(kBearer.size()))));
  std::optional<TokenRecord> token = ctx.tokens.Get(hash);
  if (!token) {
    auto found = ctx.catalog.FindToken(hash);
    if (!found.ok()) return Unavailable(found.error());
    if (!found->has_value()) {
      ctx.metrics.AuthFailure("admin_token").Increment();
      return ErrorResponse(401, "unauthorized", "unknown admin token");
    }
    token = **found;
    ctx.tokens.Put(hash, *token);
  }
  tenant = token->tenant;
  return std::nullopt;
}

Json ReleaseJson(const ReleaseRecord& r) {
  Json variants = Json::array();
  for (const auto& v : r.variants) {
    variants.push_back({{"kind", v.delta_source_sha256.empty() ? "full" : "delta"},
                        {"artifact_sha256", v.artifact_sha256},
                        {"size", v.size},
                        {"delta_source_sha256", v.delta_source_sha256}});
  }
  return {{"id", r.id},
          {"product", r.product},
          {"version", r.version},
          {"security_counter", r.security_counter},
          {"compatible", r.compatible},
          {"image_sha256", r.image_sha256},
          {"image_size", r.image_size},
          {"deprecated", r.deprecated},
          {"created", r.created},
          {"variants", variants}};
}

Json DeviceJson(const DeviceRecord& d) {
  return {{"device_id", d.device_id},
          {"hardware", d.hardware},
          {"origin", d.origin},
          {"credential_generation", d.credential_generation},
          {"created", d.created}};
}

std::optional<std::int64_t> ParseId(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

Result<Json> ParseJsonBody(const HttpRequest& req) {
  Json j = Json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(StoreErrc::kInvalid, "body: expected a JSON object");
  }
  return j;
}

// ---- releases -------------------------------------------------------------------------------

HttpResponse ListReleases(ApiContext& ctx, const std::string& tenant) {
  auto list = ctx.catalog.ListReleases(tenant);
  if (!list.ok()) return FromError(list.error());
  Json out = Json::array();
  for (const auto& r : *list) out.push_back(ReleaseJson(r));
  return JsonResponse(200, Json{{"releases", out}}.dump());
}

HttpResponse GetRelease(ApiContext& ctx, const std::string& tenant, const HttpRequest& req) {
  auto id = ParseId(req.Param("id"));
  if (!id) return NotFound("no such release");
  auto r = ctx.catalog.GetRelease(tenant, *id);
  if (!r.ok()) return FromError(r.error());
  if (!r->has_value()) return NotFound("no such release");
  return JsonResponse(200, ReleaseJson(**r).dump());
}

HttpResponse Deprecate(ApiContext& ctx, const std::string& tenant, const HttpRequest& req,
                       bool deprecated) {
  auto id = ParseId(req.Param("id"));
  if (!id) return NotFound("no such release");
  if (Status st = ctx.catalog.SetDeprecated(tenant, *id, deprecated); !st.ok()) {
    return FromError(st.error());
  }
  ctx.InvalidateReleases(tenant);
  return GetRelease(ctx, tenant, req);
}

HttpResponse Rejected(ApiContext& ctx, std::string_view message) {
  ctx.metrics.uploads_rejected.Increment();
  spdlog::warn("upload refused: {}", message);
  return ErrorResponse(422, "bundle_rejected", message);
}

// Verifies an uploaded bundle against the tenant's trust store (signatures, threshold, expiry,
// every payload and chunk hash), stores it content-addressed and records the release or the
// delta variant. Nothing is stored unless every check passed.
HttpResponse Publish(ApiContext& ctx, const std::string& tenant, HttpRequest& req) {
  auto tenant_rec = ctx.Tenant(tenant);
  if (!tenant_rec.ok()) return Unavailable(tenant_rec.error());
  if (!tenant_rec->has_value()) return NotFound("tenant gone");
  auto trust = format::TrustStore::Parse(AsBytes((*tenant_rec)->trust_store_json));
  if (!trust.ok()) return Rejected(ctx, "tenant trust store: " + trust.error().message());
  if (req.body_file.empty()) return BadRequest("body: expected a bundle");

  auto file = FileSource::Open(req.body_file);
  if (!file.ok()) return FromError(file.error());
  HashingSource src(*file);
  format::VerifyOptions opts;
  opts.trust = &*trust;
  opts.now = ctx.clock.NowUnix();
  auto reader = format::BundleReader::Open(src, opts);
  if (!reader.ok()) return Rejected(ctx, reader.error().message());
  const format::Manifest& m = reader->manifest();
  for (std::size_t i = 0; i < m.payloads.size(); ++i) {
    NullSink sink;
    if (Status st = reader->ReadPayload(sink); !st.ok()) return Rejected(ctx, st.error().message());
  }
  if (Status st = reader->Finish(); !st.ok()) return Rejected(ctx, st.error().message());
  const std::string sha = src.Finish();
  const std::uint64_t size = src.size();

  const std::string target = req.QueryParam("target").value_or("rootfs");
  const format::PayloadInfo* image = nullptr;
  for (const auto& p : m.payloads) {
    if (p.target == target) {
      image = &p;
      break;
    }
  }
  if (image == nullptr) {
    return Rejected(ctx, "bundle has no payload with target '" + target + "'");
  }
  const std::string version = m.version.ToString();
  auto existing = ctx.catalog.FindRelease(tenant, m.product, version);
  if (!existing.ok()) return FromError(existing.error());
  const bool is_delta = image->delta_source_sha256.has_value();
  if (is_delta) {
    if (!existing->has_value()) {
      return ErrorResponse(
          409, "release_missing",
          "publish the full bundle of " + m.product + " " + version + " before its deltas");
    }
    if ((*existing)->image_sha256 != ToHex(image->image_sha256)) {
      return ErrorResponse(
          409, "image_mismatch",
          "this delta produces a different image than release " + std::to_string((*existing)->id));
    }
  } else if (existing->has_value()) {
    return ErrorResponse(409, "release_exists",
                         m.product + " " + version + " is published already (release " +
                             std::to_string((*existing)->id) + ")");
  }

  auto stored = ctx.artifacts.AdoptHashed(req.body_file, sha, size);
  if (!stored.ok()) return FromError(stored.error());
  const std::int64_t now = ctx.clock.NowUnix();
  ArtifactRecord art{
      tenant, sha, size, "bundle", m.product + "-" + version + (is_delta ? "-delta" : "") + ".upl",
      now};
  // Names must stay in the catalog's alphabet even for odd product names.
  for (char& c : art.name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
  }
  if (art.name.size() > 128) art.name.resize(128);
  if (Status st = ctx.catalog.PutArtifact(art); !st.ok()) return FromError(st.error());

  ReleaseVariant variant{sha, size, is_delta ? ToHex(*image->delta_source_sha256) : ""};
  std::int64_t id = 0;
  if (is_delta) {
    id = (*existing)->id;
    if (Status st = ctx.catalog.AddVariant(tenant, id, variant); !st.ok()) {
      return FromError(st.error());
    }
  } else {
    ReleaseRecord r;
    r.tenant = tenant;
    r.product = m.product;
    r.version = version;
    r.security_counter = m.security_counter;
    r.compatible = m.compatible;
    r.image_sha256 = ToHex(image->image_sha256);
    r.image_size = image->image_size;
    r.created = now;
    r.variants = {variant};
    auto created = ctx.catalog.CreateRelease(r);
    if (!created.ok()) return FromError(created.error());
    id = *created;
  }
  ctx.InvalidateReleases(tenant);
  ctx.metrics.uploads_accepted.Increment();
  spdlog::info("tenant {}: published {} {} ({} bundle {}, {} bytes) as release {}", tenant,
               m.product, version, is_delta ? "delta" : "full", sha, size, id);
  auto rec = ctx.catalog.GetRelease(tenant, id);
  if (!rec.ok() || !rec->has_value()) return Unavailable(Error(StoreErrc::kDatabase, "reread"));
  return JsonResponse(is_delta ? 200 : 201, ReleaseJson(**rec).dump());
}

// ---- artifacts ------------------------------------------------------------------------------

// Foreign artifacts (an SWUpdate .swu, a modem firmware): stored as-is, bound by their hash. A
// `sha256` query parameter makes the server refuse bytes that do not match it.
HttpResponse UploadArtifact(ApiContext& ctx, const std::string& tenant, HttpRequest& req) {
  const std::string name = req.QueryParam("name").value_or("");
  // The catalog's alphabet for names (checked before any byte is stored).
  const bool name_ok =
      !name.empty() && name.size() <= 128 && name.front() != '.' &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  if (!name_ok) return BadRequest("name: expected [A-Za-z0-9._-]{1,128}, not starting with '.'");
  if (req.body_file.empty()) return BadRequest("body: expected the artifact bytes");
  const auto want = req.QueryParam("sha256");
  auto file = FileSource::Open(req.body_file);
  if (!file.ok()) return FromError(file.error());
  HashingSource src(*file);
  std::vector<std::uint8_t> buf(1 << 20);
  for (;;) {
    auto n = src.Read(buf);
    if (!n.ok()) return FromError(n.error());
    if (*n == 0) break;
  }
  const std::string sha = src.Finish();
  if (want && *want != sha) {
    ctx.metrics.uploads_rejected.Increment();
    return ErrorResponse(422, "hash_mismatch", "body SHA-256 " + sha + " != " + *want);
  }
  auto stored = ctx.artifacts.AdoptHashed(req.body_file, sha, src.size());
  if (!stored.ok()) return FromError(stored.error());
  ArtifactRecord art{tenant, sha, src.size(), "foreign", name, ctx.clock.NowUnix()};
  if (Status st = ctx.catalog.PutArtifact(art); !st.ok()) return FromError(st.error());
  ctx.metrics.uploads_accepted.Increment();
  return JsonResponse(201, Json{{"sha256", sha},
                                {"size", src.size()},
                                {"name", name},
                                {"kind", "foreign"},
                                {"url", ArtifactUrl(ctx, tenant, sha)}}
                               .dump());
}

HttpResponse DownloadArtifact(ApiContext& ctx, const std::string& tenant, HttpRequest& req) {
  const std::string sha(req.Param("sha256"));
  if (!IsSha256Hex(sha)) return NotFound("no such artifact");
  auto rec = ctx.catalog.GetArtifact(tenant, sha);
  if (!rec.ok()) return FromError(rec.error());
  if (!rec->has_value()) return NotFound("no such artifact");
  auto stored = ctx.artifacts.Find(sha);
  if (!stored.ok()) return NotFound("artifact missing from the store");
  HttpResponse r = ServeFile(req, stored->path, stored->size, "\"" + sha + "\"", (*rec)->created);
  r.Set("Content-Disposition", "attachment; filename=\"" + (*rec)->name + "\"");
  return r;
}

// ---- devices --------------------------------------------------------------------------------

HttpResponse ListDevices(ApiContext& ctx, const std::string& tenant, const HttpRequest& req) {
  const std::string after = req.QueryParam("after").value_or("");
  std::size_t limit = 100;
  if (auto l = req.QueryParam("limit")) {
    auto v = ParseId(*l);
    if (!v || *v < 1 || *v > 1000) return BadRequest("limit: expected 1..1000");
    limit = static_cast<std::size_t>(*v);
  }
  auto list = ctx.catalog.ListDevices(tenant, after, limit);
  if (!list.ok()) return FromError(list.error());
  Json out = Json::array();
  for (const auto& d : *list) {
    Json j = DeviceJson(d);
    auto st = ctx.store.GetState(tenant, d.device_id);
    if (st.ok() && st->has_value()) {
      j["last_seen"] = (*st)->last_seen;
      Json inv = Json::parse((*st)->inventory, nullptr, false);
      if (!inv.is_discarded() && inv.contains("inventory")) {
        j["version"] = inv["inventory"].value("version", "");
      }
    }
    out.push_back(std::move(j));
  }
  Json body = {{"devices", out}};
  if (list->size() == limit) body["next"] = list->back().device_id;
  return JsonResponse(200, body.dump());
}

HttpResponse ShowDevice(ApiContext& ctx, const std::string& tenant, const HttpRequest& req) {
  const std::string id(req.Param("id"));
  auto d = ctx.catalog.GetDevice(tenant, id);
  if (!d.ok()) return FromError(d.error());
  if (!d->has_value()) return NotFound("no such device");
  Json j = DeviceJson(**d);
  auto st = ctx.store.GetState(tenant, id);
  if (!st.ok()) return FromError(st.error());
  if (st->has_value()) {
    j["last_seen"] = (*st)->last_seen;
    Json inv = Json::parse((*st)->inventory, nullptr, false);
    j["inventory"] = inv.is_discarded() ? Json() : inv.value("inventory", Json());
  }
  // The newest 100 of the event log (paged through: the log can be long).
  std::deque<StoredReport> newest;
  for (std::int64_t after = 0;;) {
    auto page = ctx.store.Reports(tenant, id, after, 1000);
    if (!page.ok()) return FromError(page.error());
    for (auto& r : *page) {
      newest.push_back(std::move(r));
      if (newest.size() > 100) newest.pop_front();
    }
    if (page->size() < 1000) break;
    after = newest.back().seq;
  }
  Json rs = Json::array();
  for (const auto& r : newest) {
    rs.push_back({{"seq", r.seq},
                  {"id", r.report.report_id},
                  {"release_id", r.report.release_id},
                  {"time", r.report.time},
                  {"phase", r.report.phase},
                  {"progress", r.report.progress},
                  {"result", r.report.result},
                  {"reason", r.report.reason}});
  }
  j["reports"] = rs;
  return JsonResponse(200, j.dump());
}

HttpResponse CredentialResponse(ApiContext& ctx, int status, const DeviceRecord& d) {
  Json j = DeviceJson(d);
  j["credential"] = ToHex(
      DeriveDeviceCredential(ctx.keys.device, d.tenant, d.device_id, d.credential_generation));
  return JsonResponse(status, j.dump());
}

HttpResponse AddDevice(ApiContext& ctx, const std::string& tenant, const HttpRequest& req) {
  auto body = ParseJsonBody(req);
  if (!body.ok()) return BadRequest(body.error().message());
  const std::string id = (*body).value("device_id", "");
  const std::string hardware = (*body).value("hardware", "");
  if (!format::IsValidDeviceId(id)) return BadRequest("device_id: expected [A-Za-z0-9._:-]{1,128}");
  if (!hardware.empty() && !format::IsValidDeviceId(hardware)) {
    return BadRequest("hardware: expected [A-Za-z0-9._:-]{1,128}");
  }
  DeviceRecord d{tenant, id, hardware, 1, "provisioned", ctx.clock.NowUnix()};
  if (Status st = ctx.catalog.CreateDevice(d); !st.ok()) return FromError(st.error());
  return CredentialResponse(ctx, 201, d);
}

HttpResponse RotateDevice(ApiContext& ctx, const std::string& tenant, const HttpRequest& req) {
  const std::string id(req.Param("id"));
  auto gen = ctx.catalog.RotateCredential(tenant, id);
  if (!gen.ok()) return FromError(gen.error());
  ctx.devices.Erase(tenant + "/" + id);
  auto d = ctx.catalog.GetDevice(tenant, id);
  if (!d.ok() || !d->has_value()) return NotFound("no such device");
  return CredentialResponse(ctx, 200, **d);
}

// ---- tenant ---------------------------------------------------------------------------------

HttpResponse ShowTenant(ApiContext& ctx, const std::string& tenant) {
  auto t = ctx.catalog.GetTenant(tenant);
  if (!t.ok()) return FromError(t.error());
  if (!t->has_value()) return NotFound("tenant gone");
  Json trust = Json::parse((*t)->trust_store_json, nullptr, false);
  return JsonResponse(200, Json{{"name", (*t)->name},
                                {"created", (*t)->created},
                                {"enrollment_open", !(*t)->enrollment_secret_sha256.empty()},
                                {"trust_store", trust.is_discarded() ? Json() : trust}}
                               .dump());
}

HttpResponse PutTrust(ApiContext& ctx, const std::string& tenant, const HttpRequest& req) {
  auto trust = format::TrustStore::Parse(AsBytes(req.body));
  if (!trust.ok()) return BadRequest(trust.error().message());
  auto t = ctx.catalog.GetTenant(tenant);
  if (!t.ok()) return FromError(t.error());
  if (!t->has_value()) return NotFound("tenant gone");
  TenantRecord rec = **t;
  rec.trust_store_json = trust->Serialize();
  if (Status st = ctx.catalog.UpdateTenant(rec); !st.ok()) return FromError(st.error());
  ctx.tenants.Erase(tenant);
  return ShowTenant(ctx, tenant);
}

HttpResponse SetEnrollment(ApiContext& ctx, const std::string& tenant, const HttpRequest& req) {
  auto body = ParseJsonBody(req);
  if (!body.ok()) return BadRequest(body.error().message());
  if (!body->contains("open") || !(*body)["open"].is_boolean()) {
    return BadRequest("open: expected true or false");
  }
  auto t = ctx.catalog.GetTenant(tenant);
  if (!t.ok()) return FromError(t.error());
  if (!t->has_value()) return NotFound("tenant gone");
  TenantRecord rec = **t;
  std::string secret;
  if ((*body)["open"].get<bool>()) {
    secret = RandomSecret();
    if (secret.empty()) return Unavailable(Error(StoreErrc::kDatabase, "no randomness"));
    rec.enrollment_secret_sha256 = ToHex(crypto::Sha256::Of(AsBytes(secret)));
  } else {
    rec.enrollment_secret_sha256.clear();
  }
  if (Status st = ctx.catalog.UpdateTenant(rec); !st.ok()) return FromError(st.error());
  ctx.tenants.Erase(tenant);
  Json out = {{"enrollment_open", !secret.empty()}};
  if (!secret.empty()) out["enrollment_secret"] = secret;
  return JsonResponse(200, out.dump());
}

HttpResponse AddToken(ApiContext& ctx, const std::string& tenant, const HttpRequest& req) {
  auto body = ParseJsonBody(req);
  if (!body.ok()) return BadRequest(body.error().message());
  const std::string name = body->value("name", "");
  if (!format::IsValidDeviceId(name)) return BadRequest("name: expected [A-Za-z0-9._:-]{1,128}");
  const std::string token = "upl_" + RandomSecret();
  TokenRecord rec{ToHex(crypto::Sha256::Of(AsBytes(token))), tenant, name, ctx.clock.NowUnix()};
  if (Status st = ctx.catalog.AddToken(rec); !st.ok()) return FromError(st.error());
  return JsonResponse(201, Json{{"name", name}, {"token", token}}.dump());
}

}  // namespace

std::vector<Route> AdminRoutes(ApiContext& ctx) {
  // Every admin route: authenticate, then run on the blocking pool (database, files).
  auto wrap = [&ctx](auto fn) {
    return [&ctx, fn](HttpRequest& req) -> HttpResponse {
      std::string tenant;
      if (auto err = AuthenticateAdmin(ctx, req, tenant)) return std::move(*err);
      return fn(ctx, tenant, req);
    };
  };
  RouteOptions json_opts;
  json_opts.blocking = true;
  json_opts.max_body_bytes = 1 << 20;
  RouteOptions upload_opts;
  upload_opts.blocking = true;
  upload_opts.stream_body = true;
  upload_opts.max_body_bytes = ctx.config.max_upload_bytes;
  const std::string p = "/api/admin/v1";
  return {
      {"GET", p + "/releases",
       wrap([](ApiContext& c, const std::string& t, HttpRequest&) { return ListReleases(c, t); }),
       json_opts},
      {"POST", p + "/releases", wrap(Publish), upload_opts},
      {"GET", p + "/releases/{id}", wrap([](ApiContext& c, const std::string& t, HttpRequest& r) {
         return GetRelease(c, t, r);
       }),
       json_opts},
      {"POST", p + "/releases/{id}/deprecate",
       wrap([](ApiContext& c, const std::string& t, HttpRequest& r) {
         return Deprecate(c, t, r, true);
       }),
       json_opts},
      {"POST", p + "/releases/{id}/undeprecate",
       wrap([](ApiContext& c, const std::string& t, HttpRequest& r) {
         return Deprecate(c, t, r, false);
       }),
       json_opts},
      {"POST", p + "/artifacts", wrap(UploadArtifact), upload_opts},
      {"GET", p + "/artifacts/{sha256}", wrap(DownloadArtifact), json_opts},
      {"GET", p + "/devices", wrap([](ApiContext& c, const std::string& t, HttpRequest& r) {
         return ListDevices(c, t, r);
       }),
       json_opts},
      {"POST", p + "/devices",
       wrap([](ApiContext& c, const std::string& t, HttpRequest& r) { return AddDevice(c, t, r); }),
       json_opts},
      {"GET", p + "/devices/{id}", wrap([](ApiContext& c, const std::string& t, HttpRequest& r) {
         return ShowDevice(c, t, r);
       }),
       json_opts},
      {"POST", p + "/devices/{id}/rotate",
       wrap([](ApiContext& c, const std::string& t, HttpRequest& r) {
         return RotateDevice(c, t, r);
       }),
       json_opts},
      {"GET", p + "/tenant",
       wrap([](ApiContext& c, const std::string& t, HttpRequest&) { return ShowTenant(c, t); }),
       json_opts},
      {"PUT", p + "/tenant/trust",
       wrap([](ApiContext& c, const std::string& t, HttpRequest& r) { return PutTrust(c, t, r); }),
       json_opts},
      {"POST", p + "/tenant/enrollment",
       wrap([](ApiContext& c, const std::string& t, HttpRequest& r) {
         return SetEnrollment(c, t, r);
       }),
       json_opts},
      {"POST", p + "/tokens",
       wrap([](ApiContext& c, const std::string& t, HttpRequest& r) { return AddToken(c, t, r); }),
       json_opts},
  };
}

}  // namespace uplift::server::internal
