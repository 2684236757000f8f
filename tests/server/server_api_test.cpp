// uplift-server's device and admin APIs over real HTTP on 127.0.0.1, on SQLite and on a real
// PostgreSQL: publishing (verified, content-addressed, nothing stored on refusal), enrollment,
// signed requests (forged, replayed, stale, wrong tenant), offers (full / delta), durable and
// idempotent reports, artifact downloads by signed URL with ranges, tenant isolation, bad input.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "api_client.hpp"
#include "nginx.hpp"
#include "postgres.hpp"
#include "uplift/base/io.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/crypto/keys.hpp"
#include "uplift/format/bundle_writer.hpp"
#include "uplift/format/device_protocol.hpp"
#include "uplift/format/trust_store.hpp"
#include "uplift/server/server.hpp"

namespace uplift::server {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing::Http;
using testing::HttpReply;
using testing::SignedHeaders;

faultlab::PostgresServer* Postgres() {
  static std::unique_ptr<faultlab::PostgresServer> server = [] {
    auto s = faultlab::PostgresServer::Start();
    if (!s.ok()) {
      ADD_FAILURE() << "postgres: " << s.error().message();
      return std::unique_ptr<faultlab::PostgresServer>();
    }
    return std::move(s).value();
  }();
  return server.get();
}

std::string Image(std::size_t size, std::uint8_t seed) {
  std::string s(size, '\0');
  std::uint32_t x = 0x9e3779b9u * (seed + 1u);
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return s;
}

std::string Sha(const std::string& s) { return ToHex(crypto::Sha256::Of(AsBytes(s))); }

struct Backend {
  const char* name;
};

class ServerApi : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "uplift-api-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    key_ = std::make_unique<crypto::PrivateKey>(
        crypto::PrivateKey::Generate(crypto::SignatureAlgorithm::kEd25519).value());
    format::TrustStore ts;
    ASSERT_TRUE(ts.AddKey(key_->Public(), std::string(format::kReleaseRole)).ok());
    trust_json_ = ts.Serialize();
    // Tenants are unique per test: the PostgreSQL database is shared by the whole binary.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    tenant_ = "t";
    for (char c : name) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        tenant_.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      }
    }
    tenant_ = tenant_.substr(0, 40) + "-" + std::to_string(::getpid() % 100000);
    config_.data_dir = dir_ + "/data";
    if (std::string(GetParam().name) == "postgres") {
      ASSERT_NE(Postgres(), nullptr);
      config_.database = Postgres()->ConnectionString();
    }
    config_.port = 0;
    config_.io_threads = 2;
    config_.blocking_threads = 16;
    auto init = InitDataDir(config_, tenant_, trust_json_);
    ASSERT_TRUE(init.ok()) << init.error().message();
    init_ = *init;
    auto s = Server::Start(config_);
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(s).value();
    url_ = server_->url();
  }

  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  std::map<std::string, std::string> Admin(const std::string& token = "") const {
    return {{"Authorization", "Bearer " + (token.empty() ? init_.admin_token : token)}};
  }

  // A signed bundle of `image` as version `version`; a delta payload when `delta_from` is set
  // (its bytes are an arbitrary patch: the server checks hashes, it does not patch).
  std::string WriteBundle(const std::string& image, const std::string& version,
                          const std::string& delta_from = "",
                          const crypto::PrivateKey* key = nullptr, std::string patch = "") {
    format::BundleSpec spec;
    spec.product = "cooker-fw";
    spec.version = *format::SemVer::Parse(version);
    spec.security_counter = 1;
    spec.compatible = {"cooker-v2"};
    spec.created = std::time(nullptr) - 60;
    spec.expires = spec.created + 86400;
    format::PayloadInput p;
    p.name = "rootfs";
    p.target = "rootfs";
    std::shared_ptr<Bytes> data;
    if (delta_from.empty()) {
      data = std::make_shared<Bytes>(image.begin(), image.end());
    } else {
      if (patch.empty()) patch = Image(image.size() / 20, 99);
      data = std::make_shared<Bytes>(patch.begin(), patch.end());
      p.delta_source_sha256 = crypto::Sha256::Of(AsBytes(delta_from));
      p.delta_image_size = image.size();
      p.delta_image_sha256 = crypto::Sha256::Of(AsBytes(image));
    }
    p.open = [data]() -> Result<std::unique_ptr<ByteSource>> {
      return std::unique_ptr<ByteSource>(std::make_unique<MemorySource>(*data));
    };
    spec.payloads.push_back(std::move(p));
    MemorySink out;
    format::WriteOptions wo;
    wo.spill_dir = dir_;
    EXPECT_TRUE(format::WriteBundle(spec, {key != nullptr ? key : key_.get()}, out, wo).ok());
    const std::string path = dir_ + "/b" + std::to_string(++bundles_) + ".upl";
    const Bytes b = out.Take();
    EXPECT_TRUE(WriteFileAtomic(path, b).ok());
    return path;
  }

  HttpReply Publish(const std::string& path, const std::string& token = "") {
    return Http("POST", url_ + "/api/admin/v1/releases", Admin(token), "", path);
  }

  // Enrolls a device; returns its credential.
  Bytes Enroll(const std::string& id, const std::string& hardware = "cooker-v2") {
    const std::string body = format::EncodeEnrollRequest(
        format::EnrollRequest{tenant_, id, hardware, init_.enrollment_secret});
    HttpReply r = Http("POST", url_ + "/api/device/v1/enroll", {}, body);
    EXPECT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.body;
    auto out = format::DecodeEnrollResponse(AsBytes(r.body));
    EXPECT_TRUE(out.ok());
    return out.ok() ? out->credential : Bytes{};
  }

  HttpReply Signed(const Bytes& cred, const std::string& device, const std::string& target,
                   const std::string& body, std::int64_t ts = 0, const std::string& nonce = "",
                   const std::string& tenant = "") {
    if (ts == 0) ts = std::time(nullptr);
    return Http("POST", url_ + target,
                SignedHeaders(cred, "POST", target, tenant.empty() ? tenant_ : tenant, device, ts,
                              body, nonce),
                body);
  }

  HttpReply Checkin(const Bytes& cred, const std::string& device, const std::string& version,
                    const std::string& image_sha) {
    format::Inventory inv;
    inv.version = version;
    inv.image_sha256 = image_sha;
    inv.product = "cooker-fw";
    inv.hardware = "cooker-v2";
    return Signed(cred, device, "/api/device/v1/checkin", format::EncodeCheckin(inv));
  }

  std::size_t StoredArtifacts() const {
    std::size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(config_.data_dir + "/artifacts")) {
      if (e.is_regular_file()) ++n;
    }
    return n;
  }

  std::string dir_;
  std::string tenant_;
  std::string trust_json_;
  std::unique_ptr<crypto::PrivateKey> key_;
  ServerConfig config_;
  InitResult init_;
  std::unique_ptr<Server> server_;
  std::string url_;
  int bundles_ = 0;
};

TEST_P(ServerApi, HealthAndMetrics) {
  HttpReply h = Http("GET", url_ + "/healthz");
  EXPECT_EQ(h.status, 200) << h.body;
  HttpReply m = Http("GET", url_ + "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("uplift_http_requests_total"), std::string::npos);
  EXPECT_NE(m.body.find("route=\"ops\""), std::string::npos) << m.body.substr(0, 2000);
}

TEST_P(ServerApi, PublishVerifiesAndOffersFullThenDelta) {
  const std::string v1 = Image(256 * 1024, 1);
  std::string v2 = v1;
  v2.replace(1000, 5000, Image(5000, 2));
  // A delta before its release is refused, and nothing is stored.
  HttpReply early = Publish(WriteBundle(v2, "2.0.0", v1));
  EXPECT_EQ(early.status, 409) << early.body;
  EXPECT_EQ(StoredArtifacts(), 0u);

  HttpReply full = Publish(WriteBundle(v2, "2.0.0"));
  ASSERT_EQ(full.status, 201) << full.body;
  Json rel = Json::parse(full.body);
  EXPECT_EQ(rel["version"], "2.0.0");
  EXPECT_EQ(rel["image_sha256"], Sha(v2));
  HttpReply delta = Publish(WriteBundle(v2, "2.0.0", v1));
  ASSERT_EQ(delta.status, 200) << delta.body;
  EXPECT_EQ(Json::parse(delta.body)["variants"].size(), 2u);
  // The same full bundle again: refused as a duplicate release.
  EXPECT_EQ(Publish(WriteBundle(v2, "2.0.0")).status, 409);

  const Bytes cred = Enroll("dev-1");
  // Running v1: the delta (5 % of the size) is offered.
  HttpReply c = Checkin(cred, "dev-1", "1.0.0", Sha(v1));
  ASSERT_EQ(c.status, 200) << c.body;
  auto offer = format::DecodeCheckinResponse(AsBytes(c.body));
  ASSERT_TRUE(offer.ok()) << offer.error().message();
  ASSERT_TRUE(offer->update.has_value());
  EXPECT_EQ(offer->update->kind, "delta");
  EXPECT_EQ(offer->update->version, "2.0.0");
  EXPECT_EQ(offer->update->image_sha256, Sha(v2));
  // Running an unknown image: the full bundle.
  HttpReply c2 = Checkin(cred, "dev-1", "1.0.0", Sha("something else"));
  auto offer2 = format::DecodeCheckinResponse(AsBytes(c2.body));
  ASSERT_TRUE(offer2.ok() && offer2->update.has_value()) << c2.body;
  EXPECT_EQ(offer2->update->kind, "full");
  // Running v2 already, or a newer version: nothing.
  auto none = format::DecodeCheckinResponse(AsBytes(Checkin(cred, "dev-1", "2.0.0", Sha(v2)).body));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->update.has_value());
  auto newer =
      format::DecodeCheckinResponse(AsBytes(Checkin(cred, "dev-1", "3.0.0", Sha(v1)).body));
  ASSERT_TRUE(newer.ok());
  EXPECT_FALSE(newer->update.has_value());

  // The offered URL downloads exactly the published bundle, with ranges.
  HttpReply whole = Http("GET", offer2->update->url);
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(Sha(whole.body), offer2->update->sha256);
  EXPECT_EQ(whole.headers["etag"], "\"" + offer2->update->sha256 + "\"");
  HttpReply part = Http("GET", offer2->update->url, {{"Range", "bytes=100-199"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, whole.body.substr(100, 100));
  HttpReply cond = Http("GET", offer2->update->url, {{"If-None-Match", whole.headers["etag"]}});
  EXPECT_EQ(cond.status, 304);
  HttpReply beyond = Http("GET", offer2->update->url, {{"Range", "bytes=999999999-"}});
  EXPECT_EQ(beyond.status, 416);
  // A tampered signature or tenant: forbidden.
  std::string forged = offer2->update->url;
  forged.replace(forged.size() - 4, 4, "0000");
  EXPECT_EQ(Http("GET", forged).status, 403);

  // Deprecated: no longer offered.
  const std::string id = std::to_string(rel["id"].get<std::int64_t>());
  EXPECT_EQ(
      Http("POST", url_ + "/api/admin/v1/releases/" + id + "/deprecate", Admin(), "{}").status,
      200);
  auto after =
      format::DecodeCheckinResponse(AsBytes(Checkin(cred, "dev-1", "1.0.0", Sha(v1)).body));
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->update.has_value());
}

TEST_P(ServerApi, RefusedUploadsLeaveNothingBehind) {
  const std::string v2 = Image(64 * 1024, 3);
  auto stranger = crypto::PrivateKey::Generate(crypto::SignatureAlgorithm::kEd25519).value();
  HttpReply r = Publish(WriteBundle(v2, "2.0.0", "", &stranger));
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Json::parse(r.body)["error"]["code"], "bundle_rejected");
  // A flipped byte in the payload.
  const std::string good = WriteBundle(v2, "2.0.0");
  auto bytes = ReadFile(good, 1 << 24).value();
  bytes[bytes.size() - 100] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomic(good, bytes).ok());
  HttpReply flipped = Publish(good);
  EXPECT_EQ(flipped.status, 422) << flipped.body;
  // Not a bundle at all.
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/junk", AsBytes("hello")).ok());
  EXPECT_EQ(Publish(dir_ + "/junk").status, 422);
  EXPECT_EQ(StoredArtifacts(), 0u);
  // No temporary files left either.
  EXPECT_TRUE(fs::is_empty(config_.data_dir + "/artifacts/tmp"));
  HttpReply list = Http("GET", url_ + "/api/admin/v1/releases", Admin());
  EXPECT_EQ(Json::parse(list.body)["releases"].size(), 0u);
}

TEST_P(ServerApi, EnrollmentIsRetrySafeButNotTakeable) {
  const Bytes first = Enroll("dev-2");
  ASSERT_EQ(first.size(), 32u);
  // The response was lost: the same request gives the same credential.
  EXPECT_EQ(Enroll("dev-2"), first);
  // Once the device has used its credential, nobody can enroll its id again.
  EXPECT_EQ(Checkin(first, "dev-2", "1.0.0", Sha("x")).status, 200);
  ASSERT_TRUE(server_->store().FlushState().ok());
  const std::string body = format::EncodeEnrollRequest(
      format::EnrollRequest{tenant_, "dev-2", "cooker-v2", init_.enrollment_secret});
  HttpReply again = Http("POST", url_ + "/api/device/v1/enroll", {}, body);
  EXPECT_EQ(again.status, 409) << again.body;
  // Wrong secret, unknown tenant: refused alike.
  HttpReply wrong = Http("POST", url_ + "/api/device/v1/enroll", {},
                         format::EncodeEnrollRequest({tenant_, "dev-3", "cooker-v2", "nope"}));
  EXPECT_EQ(wrong.status, 403);
  HttpReply no_tenant = Http("POST", url_ + "/api/device/v1/enroll", {},
                             format::EncodeEnrollRequest({"no-such-tenant", "dev-3", "cooker-v2",
                                                          init_.enrollment_secret}));
  EXPECT_EQ(no_tenant.status, 403);
  EXPECT_EQ(Json::parse(wrong.body)["error"]["code"], "enrollment_refused");
}

TEST_P(ServerApi, SignedRequestsRefuseForgeryReplayAndStaleness) {
  const Bytes cred = Enroll("dev-4");
  format::Inventory inv;
  inv.version = "1.0.0";
  inv.image_sha256 = Sha("x");
  const std::string body = format::EncodeCheckin(inv);
  const std::string target = "/api/device/v1/checkin";
  const std::int64_t now = std::time(nullptr);
  const std::string nonce = "nonce-0123456789abcdef";
  EXPECT_EQ(Signed(cred, "dev-4", target, body, now, nonce).status, 200);
  // The same request again (a replay): refused.
  HttpReply replay = Signed(cred, "dev-4", target, body, now, nonce);
  EXPECT_EQ(replay.status, 401);
  EXPECT_EQ(Json::parse(replay.body)["error"]["code"], "replayed_nonce");
  // Too old / too new: stale, with the server's time to correct a clock.
  HttpReply stale = Signed(cred, "dev-4", target, body, now - 3600);
  EXPECT_EQ(stale.status, 401);
  Json sj = Json::parse(stale.body);
  EXPECT_EQ(sj["error"]["code"], "stale_timestamp");
  EXPECT_NEAR(sj["server_time"].get<double>(), static_cast<double>(now), 5.0);
  EXPECT_EQ(Signed(cred, "dev-4", target, body, now + 3600).status, 401);
  // Another key, another device's name, another tenant, a changed body: all unauthorized.
  Bytes other = cred;
  other[0] ^= 1;
  EXPECT_EQ(Signed(other, "dev-4", target, body).status, 401);
  EXPECT_EQ(Signed(cred, "dev-5", target, body).status, 401);
  EXPECT_EQ(Signed(cred, "dev-4", target, body, 0, "", "other-tenant").status, 401);
  auto h = SignedHeaders(cred, "POST", target, tenant_, "dev-4", now, body);
  HttpReply changed = Http("POST", url_ + target, h, body + " ");
  EXPECT_EQ(changed.status, 401);
  // No headers at all.
  EXPECT_EQ(Http("POST", url_ + target, {}, body).status, 401);
  // After rotation the old credential stops working.
  HttpReply rot = Http("POST", url_ + "/api/admin/v1/devices/dev-4/rotate", Admin(), "{}");
  ASSERT_EQ(rot.status, 200) << rot.body;
  EXPECT_EQ(Signed(cred, "dev-4", target, body).status, 401);
  const Bytes fresh = *FromHex(Json::parse(rot.body)["credential"].get<std::string>());
  EXPECT_EQ(Signed(fresh, "dev-4", target, body).status, 200);
}

TEST_P(ServerApi, ReportsAreDurableAndIdempotent) {
  const Bytes cred = Enroll("dev-6");
  std::vector<format::Report> reports;
  for (int i = 0; i < 3; ++i) {
    reports.push_back(format::Report{
        "rep-" + std::to_string(i), std::time(nullptr), 7, i < 2 ? "installing" : "failed", i * 40,
        i < 2 ? "" : "failure", i < 2 ? "" : "hash mismatch in chunk 3"});
  }
  HttpReply r = Signed(cred, "dev-6", "/api/device/v1/reports", format::EncodeReports(reports));
  ASSERT_EQ(r.status, 200) << r.body;
  auto accepted = format::DecodeAccepted(AsBytes(r.body));
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->size(), 3u);
  // Resent (the acknowledgement was lost): accepted again, stored once.
  HttpReply again = Signed(cred, "dev-6", "/api/device/v1/reports", format::EncodeReports(reports));
  ASSERT_EQ(again.status, 200) << again.body;
  auto stored = server_->store().Reports(tenant_, "dev-6", 0, 100);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 3u);
  EXPECT_EQ((*stored)[2].report.reason, "hash mismatch in chunk 3");
  EXPECT_EQ((*stored)[2].report.release_id, 7);
  HttpReply show = Http("GET", url_ + "/api/admin/v1/devices/dev-6", Admin());
  ASSERT_EQ(show.status, 200);
  EXPECT_EQ(Json::parse(show.body)["reports"].size(), 3u);
  // Bad reports: an unknown phase, too many at once.
  std::string bad = format::EncodeReports(reports);
  const auto pos = bad.find("installing");
  bad.replace(pos, 10, "dancing###");
  EXPECT_EQ(Signed(cred, "dev-6", "/api/device/v1/reports", bad).status, 400);
}

TEST_P(ServerApi, TenantsAreIsolated) {
  auto other = AddTenant(config_, tenant_ + "-b", trust_json_);
  ASSERT_TRUE(other.ok()) << other.error().message();
  ASSERT_EQ(Publish(WriteBundle(Image(4096, 5), "2.0.0")).status, 201);
  Enroll("dev-7");
  // Tenant B's token sees none of A's releases or devices.
  HttpReply rels = Http("GET", url_ + "/api/admin/v1/releases", Admin(other->admin_token));
  ASSERT_EQ(rels.status, 200);
  EXPECT_EQ(Json::parse(rels.body)["releases"].size(), 0u);
  EXPECT_EQ(Http("GET", url_ + "/api/admin/v1/devices/dev-7", Admin(other->admin_token)).status,
            404);
  // A's device cannot authenticate as a device of B.
  const Bytes cred = Enroll("dev-8");
  format::Inventory inv;
  inv.version = "1.0.0";
  inv.image_sha256 = Sha("x");
  EXPECT_EQ(Signed(cred, "dev-8", "/api/device/v1/checkin", format::EncodeCheckin(inv), 0, "",
                   tenant_ + "-b")
                .status,
            401);
  // Bad tokens.
  EXPECT_EQ(Http("GET", url_ + "/api/admin/v1/releases", Admin("upl_nope")).status, 401);
  EXPECT_EQ(Http("GET", url_ + "/api/admin/v1/releases").status, 401);
}

TEST_P(ServerApi, HostileInputGetsA4xxAndStoresNothing) {
  const Bytes cred = Enroll("dev-9");
  // Malformed JSON, wrong types, oversized bodies.
  EXPECT_EQ(Signed(cred, "dev-9", "/api/device/v1/checkin", "{not json").status, 400);
  EXPECT_EQ(
      Signed(cred, "dev-9", "/api/device/v1/checkin", R"({"inventory": {"version": 5}})").status,
      400);
  const std::string huge(200 * 1024, ' ');
  EXPECT_EQ(Http("POST", url_ + "/api/device/v1/checkin", {}, huge).status, 413);
  EXPECT_EQ(Http("POST", url_ + "/api/device/v1/enroll", {}, "[]").status, 400);
  // Path traversal in names and ids.
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/blob", AsBytes("payload")).ok());
  HttpReply trav = Http("POST", url_ + "/api/admin/v1/artifacts?name=..%2F..%2Fetc%2Fpasswd",
                        Admin(), "", dir_ + "/blob");
  EXPECT_EQ(trav.status, 400) << trav.body;
  EXPECT_EQ(Http("GET", url_ + "/api/admin/v1/artifacts/..%2F..%2Fsecret.key", Admin()).status,
            404);
  EXPECT_EQ(Http("GET", url_ + "/api/device/v1/artifacts/../../secret.key?tenant=x&expires=1&sig=0")
                    .status /
                100,
            4);
  EXPECT_EQ(StoredArtifacts(), 0u);
  // Foreign artifacts are stored as-is and bound by their hash.
  HttpReply wrong_hash =
      Http("POST", url_ + "/api/admin/v1/artifacts?name=fw.swu&sha256=" + std::string(64, '0'),
           Admin(), "", dir_ + "/blob");
  EXPECT_EQ(wrong_hash.status, 422);
  EXPECT_EQ(StoredArtifacts(), 0u);
  HttpReply ok = Http("POST", url_ + "/api/admin/v1/artifacts?name=fw.swu&sha256=" + Sha("payload"),
                      Admin(), "", dir_ + "/blob");
  ASSERT_EQ(ok.status, 201) << ok.body;
  HttpReply get = Http("GET", Json::parse(ok.body)["url"].get<std::string>());
  EXPECT_EQ(get.body, "payload");
}

TEST_P(ServerApi, ProvisionedDevicesAndListing) {
  HttpReply add = Http("POST", url_ + "/api/admin/v1/devices", Admin(),
                       R"({"device_id": "bike-1", "hardware": "cooker-v2"})");
  ASSERT_EQ(add.status, 201) << add.body;
  const Bytes cred = *FromHex(Json::parse(add.body)["credential"].get<std::string>());
  EXPECT_EQ(Checkin(cred, "bike-1", "1.0.0", Sha("x")).status, 200);
  EXPECT_EQ(Http("POST", url_ + "/api/admin/v1/devices", Admin(),
                 R"({"device_id": "bike-1", "hardware": "cooker-v2"})")
                .status,
            409);
  // A provisioned device cannot be taken over by enrollment.
  HttpReply enroll =
      Http("POST", url_ + "/api/device/v1/enroll", {},
           format::EncodeEnrollRequest({tenant_, "bike-1", "cooker-v2", init_.enrollment_secret}));
  EXPECT_EQ(enroll.status, 409);
  for (int i = 0; i < 5; ++i) Enroll("dev-" + std::to_string(i));
  HttpReply page = Http("GET", url_ + "/api/admin/v1/devices?limit=4", Admin());
  ASSERT_EQ(page.status, 200);
  Json pj = Json::parse(page.body);
  EXPECT_EQ(pj["devices"].size(), 4u);
  ASSERT_TRUE(pj.contains("next"));
  HttpReply rest =
      Http("GET", url_ + "/api/admin/v1/devices?limit=4&after=" + pj["next"].get<std::string>(),
           Admin());
  EXPECT_EQ(Json::parse(rest.body)["devices"].size(), 2u);
}

// Offers can point to nginx (or a CDN) serving the artifact directory, signed for nginx's own
// secure_link module: real nginx checks the links the server signs.
TEST(ServerArtifactsOnNginx, OffersLinksThatNginxSecureLinkAccepts) {
  std::string tmpl = (fs::temp_directory_path() / "uplift-cdn-XXXXXX").string();
  const std::string dir = ::mkdtemp(tmpl.data());
  auto key = crypto::PrivateKey::Generate(crypto::SignatureAlgorithm::kEd25519).value();
  format::TrustStore ts;
  ASSERT_TRUE(ts.AddKey(key.Public(), std::string(format::kReleaseRole)).ok());
  ServerConfig config;
  config.data_dir = dir + "/data";
  config.port = 0;
  auto init = InitDataDir(config, "cdn", ts.Serialize());
  ASSERT_TRUE(init.ok()) << init.error().message();
  // A second nginx server block on a port of our own, in front of the artifact directory.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  const int port = ntohs(a.sin_port);
  faultlab::NginxOptions nopts;
  nopts.extra_http_config = "server { listen 127.0.0.1:" + std::to_string(port) +
                            "; location /artifacts/ { alias " + config.data_dir +
                            "/artifacts/; secure_link $arg_md5,$arg_expires; "
                            "secure_link_md5 \"$secure_link_expires$uri s3cret\"; "
                            "if ($secure_link = \"\") { return 403; } "
                            "if ($secure_link = \"0\") { return 410; } } }";
  fs::create_directories(dir + "/www");
  auto nginx = faultlab::NginxServer::Start(dir + "/www", nopts);
  ASSERT_TRUE(nginx.ok()) << nginx.error().message();
  config.artifact_base_url = "http://127.0.0.1:" + std::to_string(port) + "/artifacts";
  config.artifact_url_secret = "s3cret";
  auto server = Server::Start(config);
  ASSERT_TRUE(server.ok()) << server.error().message();
  const std::string url = (*server)->url();
  const std::map<std::string, std::string> admin = {
      {"Authorization", "Bearer " + init->admin_token}};
  ASSERT_TRUE(WriteFileAtomic(dir + "/blob", AsBytes("firmware bytes")).ok());
  HttpReply up =
      Http("POST", url + "/api/admin/v1/artifacts?name=fw.bin", admin, "", dir + "/blob");
  ASSERT_EQ(up.status, 201) << up.body;
  const std::string link = Json::parse(up.body)["url"];
  ASSERT_EQ(link.rfind(config.artifact_base_url, 0), 0u) << link;
  HttpReply got = Http("GET", link);
  EXPECT_EQ(got.status, 200) << link << " " << got.body;
  EXPECT_EQ(got.body, "firmware bytes");
  std::string forged = link;
  forged[forged.find("md5=") + 4] ^= 1;
  EXPECT_EQ(Http("GET", forged).status, 403);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerApi,
                         ::testing::Values(Backend{"sqlite"}, Backend{"postgres"}),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace uplift::server
