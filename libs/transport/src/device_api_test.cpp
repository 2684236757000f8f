// The parts of the device API client that need no server: signing headers, the error mapping,
// server URL prefixes.
#include "uplift/transport/device_api.hpp"

#include <gtest/gtest.h>

#include "uplift/base/errors.hpp"
#include "uplift/format/device_auth.hpp"
#include "uplift/format/errors.hpp"
#include "uplift/transport/errors.hpp"

namespace uplift::transport {
namespace {

DeviceCredentials Creds() { return {"acme", "cooker-00042", Bytes(32, 7)}; }

TEST(DeviceApi, SignedHeaderLinesVerify) {
  const std::string body = R"({"inventory":{}})";
  const auto lines = SignedHeaderLines(Creds(), "POST", "/p/api/device/v1/checkin", AsBytes(body),
                                       1790000000, "0123456789abcdef0123456789abcdef");
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "Uplift-Tenant: acme");
  EXPECT_EQ(lines[1], "Uplift-Device: cooker-00042");
  EXPECT_EQ(lines[2], "Uplift-Timestamp: 1790000000");
  EXPECT_EQ(lines[3], "Uplift-Nonce: 0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(lines[4].starts_with("Uplift-Signature: "));
  const std::string sig = lines[4].substr(18);
  const format::SignedRequest r{
      "POST",     "/p/api/device/v1/checkin",         "acme",       "cooker-00042",
      1790000000, "0123456789abcdef0123456789abcdef", AsBytes(body)};
  EXPECT_TRUE(format::VerifyRequestSignature(Creds().credential, r, sig));
}

TEST(DeviceApi, RandomNoncesAreValidAndDistinct) {
  auto nonces = RandomNonces();
  const auto a = nonces();
  const auto b = nonces();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(format::IsValidNonce(*a));
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
}

TEST(DeviceApi, ResponseErrorsAreRetryableOrFatalPerTheContract) {
  const auto body = [](const char* code) {
    return format::EncodeApiError({code, "why", std::nullopt});
  };
  for (int status : {500, 502, 503, 504, 408, 429}) {
    const Error e = ResponseError("POST /x", status, AsBytes(body("unavailable")));
    EXPECT_TRUE(e.Is(base::Errc::kUnavailable)) << status;
  }
  for (int status : {400, 413}) {
    const Error e = ResponseError("POST /x", status, AsBytes(body("bad_request")));
    EXPECT_TRUE(e.Is(base::Errc::kInvalidArgument)) << status;
  }
  for (int status : {401, 403, 404, 409, 501}) {
    const Error e = ResponseError("POST /x", status, AsBytes(body("unauthorized")));
    EXPECT_TRUE(e.Is(Errc::kRefused)) << status;
  }
  const Error e = ResponseError("POST /api/device/v1/checkin", 409, AsBytes(body("device_exists")));
  EXPECT_EQ(e.message(), "POST /api/device/v1/checkin: HTTP 409 device_exists: why");
  // Not the documented JSON (a proxy's page): quoted, bounded, control characters replaced.
  const std::string html = "<html>\n" + std::string(1000, 'x');
  const Error p = ResponseError("POST /x", 502, AsBytes(html));
  EXPECT_TRUE(p.Is(base::Errc::kUnavailable));
  EXPECT_LT(p.message().size(), 260u);
  EXPECT_NE(p.message().find("<html>?x"), std::string::npos) << p.message();
}

TEST(DeviceApi, ServerPathPrefix) {
  EXPECT_EQ(*ServerPathPrefix("https://updates.example.com"), "");
  EXPECT_EQ(*ServerPathPrefix("https://updates.example.com/"), "");
  EXPECT_EQ(*ServerPathPrefix("http://127.0.0.1:8080/uplift/"), "/uplift");
  EXPECT_TRUE(ServerPathPrefix("ftp://x").error().Is(Errc::kBadUrl));
  EXPECT_TRUE(ServerPathPrefix("https://").error().Is(Errc::kBadUrl));
  EXPECT_TRUE(ServerPathPrefix("https://x/a b").error().Is(Errc::kBadUrl));
  EXPECT_TRUE(ServerPathPrefix("https://x/?q=1").error().Is(Errc::kBadUrl));
}

TEST(DeviceApi, CreateChecksCredentials) {
  FakeClock clock(1790000000);
  DeviceApiOptions o;
  o.server_url = "https://x";
  EXPECT_TRUE(DeviceApiClient::Create(o, Creds(), clock).ok());
  auto bad = Creds();
  bad.credential.pop_back();
  EXPECT_TRUE(DeviceApiClient::Create(o, bad, clock).error().Is(base::Errc::kInvalidArgument));
  bad = Creds();
  bad.tenant = "ACME";
  EXPECT_TRUE(DeviceApiClient::Create(o, bad, clock).error().Is(base::Errc::kInvalidArgument));
  o.server_url = "x";
  EXPECT_TRUE(DeviceApiClient::Create(o, Creds(), clock).error().Is(Errc::kBadUrl));
}

TEST(DeviceApi, SendReportsBoundsTheBatchBeforeAnyRequest) {
  FakeClock clock(1790000000);
  DeviceApiOptions o;
  o.server_url = "http://127.0.0.1:9";  // never contacted
  auto c = DeviceApiClient::Create(o, Creds(), clock);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE((*c)->SendReports({}).error().Is(base::Errc::kInvalidArgument));
  std::vector<format::Report> many(format::kMaxReportsPerRequest + 1);
  EXPECT_TRUE((*c)->SendReports(many).error().Is(base::Errc::kInvalidArgument));
}

}  // namespace
}  // namespace uplift::transport
