#include "uplift/format/device_protocol.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "uplift/format/errors.hpp"

namespace uplift::format {
namespace {

const std::string kHexA(64, 'a');
const std::string kHexB(64, 'b');

Inventory FullInventory() {
  Inventory i;
  i.product = "cooker-fw";
  i.version = "1.2.0";
  i.image_sha256 = kHexA;
  i.hardware = "cooker-v2";
  i.booted_slot = "a";
  i.slot_state = "idle";
  i.battery_percent = 81;
  i.charging = false;
  i.network_type = "wifi";
  i.metered = false;
  i.attributes = {{"region", "eu"}, {"site", "lab-3"}};
  return i;
}

UpdateOffer Offer() {
  UpdateOffer o;
  o.release_id = 7;
  o.product = "cooker-fw";
  o.version = "1.3.0";
  o.kind = "delta";
  o.url = "https://updates.example.com/api/device/v1/artifacts/" + kHexB +
          "?tenant=acme&expires=1790003600&sig=00";
  o.sha256 = kHexB;
  o.size = 812345;
  o.image_sha256 = kHexA;
  return o;
}

Report MakeReport(std::string id, std::string phase, std::string result) {
  Report r;
  r.id = std::move(id);
  r.time = 1790000100;
  r.release_id = 7;
  r.phase = std::move(phase);
  r.progress = 40;
  r.result = std::move(result);
  return r;
}

// Decodes `json` with `decode` and expects kMalformedMessage whose message names `path`.
template <typename Decode>
void ExpectMalformed(Decode decode, const std::string& json, const std::string& path) {
  SCOPED_TRACE(json.substr(0, 200));
  const auto r = decode(AsBytes(json));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kMalformedMessage)) << r.error().message();
  EXPECT_NE(r.error().message().find(path), std::string::npos) << r.error().message();
}

TEST(DeviceProtocol, EnrollRoundTrips) {
  const EnrollRequest req{"acme", "cooker-00042", "cooker-v2", "s3cret"};
  const auto back = DecodeEnrollRequest(AsBytes(EncodeEnrollRequest(req)));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, req);
  EnrollResponse resp{"acme", "cooker-00042", Bytes(32, 0xab)};
  const std::string wire = EncodeEnrollResponse(resp);
  std::string ab;
  for (int i = 0; i < 32; ++i) ab += "ab";
  EXPECT_EQ(wire, R"({"tenant":"acme","device_id":"cooker-00042","credential":")" + ab + "\"}");
  const auto back2 = DecodeEnrollResponse(AsBytes(wire));
  ASSERT_TRUE(back2.ok()) << back2.error().message();
  EXPECT_EQ(*back2, resp);
}

TEST(DeviceProtocol, EnrollRefusesBadFields) {
  ExpectMalformed(DecodeEnrollRequest,
                  R"({"tenant":"Acme","device_id":"d","enrollment_secret":"s"})", "enroll.tenant");
  ExpectMalformed(DecodeEnrollRequest,
                  R"({"tenant":"acme","device_id":".d","enrollment_secret":"s"})",
                  "enroll.device_id");
  ExpectMalformed(DecodeEnrollRequest,
                  R"({"tenant":"acme","device_id":"d","enrollment_secret":""})",
                  "enroll.enrollment_secret");
  ExpectMalformed(DecodeEnrollRequest, R"({"tenant":"acme","device_id":"d"})", "enroll");
  ExpectMalformed(DecodeEnrollRequest,
                  R"({"tenant":"acme","device_id":"d","hardware":"a b","enrollment_secret":"s"})",
                  "enroll.hardware");
  ExpectMalformed(
      DecodeEnrollResponse,
      R"({"tenant":"acme","device_id":"d","credential":")" + std::string(64, 'A') + "\"}",
      "enrollment.credential");
  ExpectMalformed(
      DecodeEnrollResponse,
      R"({"tenant":"acme","device_id":"d","credential":")" + std::string(62, 'a') + "\"}",
      "enrollment.credential");
}

TEST(DeviceProtocol, CheckinRoundTripsFullAndMinimal) {
  const Inventory full = FullInventory();
  const auto back = DecodeCheckin(AsBytes(EncodeCheckin(full)));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, full);
  Inventory minimal;
  minimal.version = "0.1.0-rc.1+build.5";
  minimal.image_sha256 = kHexA;
  const std::string wire = EncodeCheckin(minimal);
  EXPECT_EQ(wire,
            R"({"inventory":{"version":"0.1.0-rc.1+build.5","image_sha256":")" + kHexA + "\"}}");
  const auto back2 = DecodeCheckin(AsBytes(wire));
  ASSERT_TRUE(back2.ok()) << back2.error().message();
  EXPECT_EQ(*back2, minimal);
}

TEST(DeviceProtocol, CheckinDecodesTheDocumentedExampleAndIgnoresUnknownFields) {
  const std::string json = R"({"inventory": {
    "product": "cooker-fw", "version": "1.2.0", "image_sha256": ")" +
                           kHexA + R"(",
    "hardware": "cooker-v2", "slot": {"booted": "a", "state": "idle", "future": 1},
    "battery": {"percent": 81, "charging": false}, "network": {"type": "wifi", "metered": false},
    "attributes": {"region": "eu", "site": "lab-3"}, "later_field": [1, 2]}, "extra": {}})";
  const auto inv = DecodeCheckin(AsBytes(json));
  ASSERT_TRUE(inv.ok()) << inv.error().message();
  EXPECT_EQ(*inv, FullInventory());
}

TEST(DeviceProtocol, CheckinRefusesHostileInventories) {
  const std::string head = R"({"inventory":{"version":"1.0.0","image_sha256":")" + kHexA + "\"";
  ExpectMalformed(DecodeCheckin, R"({"inventory":{"image_sha256":")" + kHexA + "\"}}",
                  "checkin.inventory");
  ExpectMalformed(DecodeCheckin,
                  R"({"inventory":{"version":"1.0","image_sha256":")" + kHexA + "\"}}",
                  "checkin.inventory.version");
  ExpectMalformed(
      DecodeCheckin,
      R"({"inventory":{"version":"1.0.0","image_sha256":")" + std::string(64, 'A') + "\"}}",
      "checkin.inventory.image_sha256");
  ExpectMalformed(DecodeCheckin, R"({"inventory":{"version":1,"image_sha256":")" + kHexA + "\"}}",
                  "checkin.inventory.version");
  ExpectMalformed(DecodeCheckin, head + R"(,"battery":{"percent":101}}})",
                  "checkin.inventory.battery.percent");
  ExpectMalformed(DecodeCheckin, head + R"(,"battery":{"percent":50.5}}})",
                  "checkin.inventory.battery.percent");
  ExpectMalformed(DecodeCheckin, head + R"(,"battery":{"charging":"no"}}})",
                  "checkin.inventory.battery.charging");
  ExpectMalformed(DecodeCheckin, head + R"(,"battery":[]}})", "checkin.inventory.battery");
  ExpectMalformed(DecodeCheckin, head + R"(,"slot":{"booted":"c"}}})",
                  "checkin.inventory.slot.booted");
  ExpectMalformed(DecodeCheckin, head + R"(,"attributes":{"k":1}}})",
                  "checkin.inventory.attributes.k");
  ExpectMalformed(DecodeCheckin, head + R"(,"attributes":{"k":"a\nb"}}})",
                  "checkin.inventory.attributes.k");
  ExpectMalformed(DecodeCheckin, head + R"(,"attributes":{"k":")" + std::string(257, 'v') + "\"}}}",
                  "checkin.inventory.attributes.k");
  std::string many = head + R"(,"attributes":{)";
  for (int i = 0; i < 65; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"v\"";
  ExpectMalformed(DecodeCheckin, many + "}}}", "checkin.inventory.attributes");
  ExpectMalformed(DecodeCheckin, R"({"inventory":[]})", "checkin.inventory");
  ExpectMalformed(DecodeCheckin, "[]", "body");
  ExpectMalformed(DecodeCheckin, "{\"inventory\":", "body");
  ExpectMalformed(DecodeCheckin, "", "body");
  ExpectMalformed(DecodeCheckin, "{\"a\":\"\xff\"}", "body");  // not UTF-8
  // Over the body limit, even though it is valid JSON: refused before parsing.
  ExpectMalformed(DecodeCheckin, head + R"(,"pad":")" + std::string(kMaxApiBodyBytes, 'x') + "\"}}",
                  "body");
}

TEST(DeviceProtocol, DeepNestingWithinTheLimitDoesNotCrash) {
  const std::string deep = std::string(30000, '[') + std::string(30000, ']');
  ExpectMalformed(DecodeCheckin, deep, "body");
  const std::string deep_obj =
      "{\"inventory\":" + std::string(20000, '[') + std::string(20000, ']') + "}";
  ExpectMalformed(DecodeCheckin, deep_obj, "checkin.inventory");
}

TEST(DeviceProtocol, CheckinResponseRoundTripsWithAndWithoutOffer) {
  CheckinResponse r{1790000000, 300, Offer()};
  const auto back = DecodeCheckinResponse(AsBytes(EncodeCheckinResponse(r)));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, r);
  const CheckinResponse none{1790000000, 60, std::nullopt};
  const std::string wire = EncodeCheckinResponse(none);
  EXPECT_EQ(wire, R"({"server_time":1790000000,"poll_seconds":60,"update":null})");
  const auto back2 = DecodeCheckinResponse(AsBytes(wire));
  ASSERT_TRUE(back2.ok()) << back2.error().message();
  EXPECT_EQ(*back2, none);
  const auto absent = DecodeCheckinResponse(AsBytes(R"({"server_time":5,"poll_seconds":1})"));
  ASSERT_TRUE(absent.ok()) << absent.error().message();
  EXPECT_FALSE(absent->update);
}

TEST(DeviceProtocol, CheckinResponseRefusesBadOffers) {
  const auto with = [](const std::string& field, const std::string& value) {
    nlohmann::json j = nlohmann::json::parse(EncodeCheckinResponse({1, 300, Offer()}));
    j["update"][field] = nlohmann::json::parse(value);
    return j.dump();
  };
  ExpectMalformed(DecodeCheckinResponse, with("release_id", "0"),
                  "checkin_response.update.release_id");
  ExpectMalformed(DecodeCheckinResponse, with("release_id", "\"7\""),
                  "checkin_response.update.release_id");
  ExpectMalformed(DecodeCheckinResponse, with("kind", "\"patch\""), "checkin_response.update.kind");
  ExpectMalformed(DecodeCheckinResponse, with("url", "\"ftp://x/y\""),
                  "checkin_response.update.url");
  ExpectMalformed(DecodeCheckinResponse, with("url", "\"https:///path\""),
                  "checkin_response.update.url");
  ExpectMalformed(DecodeCheckinResponse, with("url", "\"https://x/a b\""),
                  "checkin_response.update.url");
  ExpectMalformed(DecodeCheckinResponse,
                  with("url", "\"https://x/" + std::string(kMaxUrlLength, 'a') + "\""),
                  "checkin_response.update.url");
  ExpectMalformed(DecodeCheckinResponse, with("sha256", "\"" + kHexA.substr(1) + "\""),
                  "checkin_response.update.sha256");
  ExpectMalformed(DecodeCheckinResponse, with("size", "-1"), "checkin_response.update.size");
  ExpectMalformed(DecodeCheckinResponse, with("size", "18446744073709551615"),
                  "checkin_response.update.size");
  ExpectMalformed(DecodeCheckinResponse, with("version", "\"v1\""),
                  "checkin_response.update.version");
  ExpectMalformed(DecodeCheckinResponse, R"({"server_time":1,"poll_seconds":0})",
                  "checkin_response.poll_seconds");
  ExpectMalformed(DecodeCheckinResponse, R"({"server_time":1,"poll_seconds":86401})",
                  "checkin_response.poll_seconds");
  ExpectMalformed(DecodeCheckinResponse, R"({"server_time":1e3,"poll_seconds":1})",
                  "checkin_response.server_time");
  ExpectMalformed(DecodeCheckinResponse, R"({"server_time":1,"poll_seconds":1,"update":"x"})",
                  "checkin_response.update");
}

TEST(DeviceProtocol, ReportsRoundTrip) {
  std::vector<Report> reports = {MakeReport("r1", "downloading", ""),
                                 MakeReport("r-2_X", "committed", "success"),
                                 MakeReport("r3", "rolled_back", "failure")};
  reports[2].reason = std::string(kMaxReportReason, 'w');
  const auto back = DecodeReports(AsBytes(EncodeReports(reports)));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, reports);
  const std::vector<std::string> ids = {"r1", "r-2_X"};
  const auto accepted = DecodeAccepted(AsBytes(EncodeAccepted(ids)));
  ASSERT_TRUE(accepted.ok()) << accepted.error().message();
  EXPECT_EQ(*accepted, ids);
  EXPECT_EQ(EncodeAccepted({}), R"({"accepted":[]})");
}

TEST(DeviceProtocol, EncodersNeverThrowOnInvalidUtf8) {
  Report r = MakeReport("r1", "failed", "failure");
  r.reason = "bad \xff\xfe bytes";
  const auto back = DecodeReports(AsBytes(EncodeReports({r})));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_NE((*back)[0].reason, r.reason);  // replaced, still a valid body
}

TEST(DeviceProtocol, ReportsRefuseHostileInput) {
  const auto one = [](const std::string& field, const std::string& value) {
    nlohmann::json j = nlohmann::json::parse(EncodeReports({MakeReport("r1", "installing", "")}));
    j["reports"][0][field] = nlohmann::json::parse(value);
    return j.dump();
  };
  ExpectMalformed(DecodeReports, one("id", "\"a b\""), "reports.reports[0].id");
  ExpectMalformed(DecodeReports, one("id", "\"\""), "reports.reports[0].id");
  ExpectMalformed(DecodeReports, one("id", "\"" + std::string(65, 'a') + "\""),
                  "reports.reports[0].id");
  ExpectMalformed(DecodeReports, one("phase", "\"done\""), "reports.reports[0].phase");
  ExpectMalformed(DecodeReports, one("progress", "101"), "reports.reports[0].progress");
  ExpectMalformed(DecodeReports, one("result", "\"success\""), "reports.reports[0].result");
  ExpectMalformed(DecodeReports,
                  one("reason", "\"" + std::string(kMaxReportReason + 1, 'r') + "\""),
                  "reports.reports[0].reason");
  ExpectMalformed(DecodeReports, one("time", "-1"), "reports.reports[0].time");
  ExpectMalformed(DecodeReports, one("release_id", "null"), "reports.reports[0]");
  ExpectMalformed(DecodeReports, R"({"reports":[]})", "reports.reports");
  ExpectMalformed(DecodeReports, R"({"reports":[1]})", "reports.reports[0]");
  ExpectMalformed(DecodeReports, R"({"reports":{}})", "reports.reports");
  std::vector<Report> many(kMaxReportsPerRequest + 1, MakeReport("r", "installing", ""));
  ExpectMalformed(DecodeReports, EncodeReports(many), "reports.reports");
  many.pop_back();
  EXPECT_TRUE(DecodeReports(AsBytes(EncodeReports(many))).ok());
  ExpectMalformed(DecodeAccepted, R"({"accepted":["ok",1]})", "accepted.accepted[1]");
  ExpectMalformed(DecodeAccepted, R"({"accepted":["a/b"]})", "accepted.accepted[0]");
}

TEST(DeviceProtocol, ApiErrorsRoundTripAndReadServerTimeInBothPlaces) {
  const ApiError e{"stale_timestamp", "timestamp 1 is 412 s from server time 413", 413};
  const auto back = DecodeApiError(AsBytes(EncodeApiError(e)));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, e);
  const auto top = DecodeApiError(
      AsBytes(R"({"error":{"code":"stale_timestamp","message":"m"},"server_time":1790000412})"));
  ASSERT_TRUE(top.ok()) << top.error().message();
  EXPECT_EQ(top->server_time, 1790000412);
  const auto plain = DecodeApiError(AsBytes(R"({"error":{"code":"not_found"}})"));
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_FALSE(plain->server_time);
  ExpectMalformed(DecodeApiError, R"({"error":{"code":"Bad Code"}})", "error_body.error.code");
  ExpectMalformed(DecodeApiError, R"({"error":"x"})", "error_body.error");
  ExpectMalformed(DecodeApiError, "<html>502</html>", "body");
}

TEST(DeviceProtocol, PhaseNames) {
  for (const char* p :
       {"downloading", "installing", "installed", "committed", "rolled_back", "failed"}) {
    EXPECT_TRUE(IsValidReportPhase(p)) << p;
  }
  EXPECT_FALSE(IsValidReportPhase("idle"));
  EXPECT_FALSE(IsValidReportPhase(""));
}

}  // namespace
}  // namespace uplift::format
