#include "uplift/format/device_auth.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

namespace uplift::format {
namespace {

// docs/api/vectors/device-auth.json was computed with the openssl command line, not with this
// code, so a mistake in CanonicalRequest or SignRequest cannot hide in its own expectations.
nlohmann::json LoadVectors() {
  std::ifstream in(std::string(UPLIFT_SOURCE_DIR) + "/docs/api/vectors/device-auth.json");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return nlohmann::json::parse(text);
}

TEST(DeviceAuth, MatchesOpensslVectors) {
  const auto doc = LoadVectors();
  ASSERT_GE(doc["vectors"].size(), 2u);
  for (const auto& v : doc["vectors"]) {
    SCOPED_TRACE(v["name"].get<std::string>());
    const auto credential = FromHex(v["credential"].get<std::string>());
    ASSERT_TRUE(credential);
    const std::string method = v["method"], target = v["target"], tenant = v["tenant"],
                      device = v["device_id"], nonce = v["nonce"], body = v["body"];
    const SignedRequest r{method, target,       tenant, device, v["timestamp"].get<std::int64_t>(),
                          nonce,  AsBytes(body)};
    EXPECT_EQ(CanonicalRequest(r), v["canonical_request"].get<std::string>());
    const std::string signature = v["signature"];
    EXPECT_EQ(SignRequest(*credential, r), signature);
    EXPECT_TRUE(VerifyRequestSignature(*credential, r, signature));
  }
}

TEST(DeviceAuth, RejectsAnyChangedField) {
  const auto doc = LoadVectors();
  const auto& v = doc["vectors"][0];
  const auto credential = *FromHex(v["credential"].get<std::string>());
  const std::string signature = v["signature"], body = v["body"];
  const SignedRequest good{
      "POST",     "/api/device/v1/checkin",           "acme",       "cooker-00042",
      1790000000, "0123456789abcdef0123456789abcdef", AsBytes(body)};
  ASSERT_TRUE(VerifyRequestSignature(credential, good, signature));
  const std::string other_body = body + " ";
  const SignedRequest changed[] = {
      {"GET", good.target, good.tenant, good.device_id, good.timestamp, good.nonce, good.body},
      {good.method, "/api/device/v1/reports", good.tenant, good.device_id, good.timestamp,
       good.nonce, good.body},
      {good.method, good.target, "acme2", good.device_id, good.timestamp, good.nonce, good.body},
      {good.method, good.target, good.tenant, "cooker-00043", good.timestamp, good.nonce,
       good.body},
      {good.method, good.target, good.tenant, good.device_id, good.timestamp + 1, good.nonce,
       good.body},
      {good.method, good.target, good.tenant, good.device_id, good.timestamp,
       "0123456789abcdef0123456789abcdee", good.body},
      {good.method, good.target, good.tenant, good.device_id, good.timestamp, good.nonce,
       AsBytes(other_body)},
  };
  for (const auto& r : changed) EXPECT_FALSE(VerifyRequestSignature(credential, r, signature));
  Bytes other_key = credential;
  other_key[31] ^= 1;
  EXPECT_FALSE(VerifyRequestSignature(other_key, good, signature));
  EXPECT_FALSE(VerifyRequestSignature(credential, good, signature.substr(0, 63)));
  std::string upper = signature;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(VerifyRequestSignature(credential, good, upper));  // lower-case hex only
}

TEST(DeviceAuth, Validators) {
  EXPECT_TRUE(IsValidTenantName("acme"));
  EXPECT_TRUE(IsValidTenantName("a-1"));
  EXPECT_FALSE(IsValidTenantName("-acme"));
  EXPECT_FALSE(IsValidTenantName("Acme"));
  EXPECT_FALSE(IsValidTenantName(""));
  EXPECT_TRUE(IsValidTenantName(std::string(63, 'a')));
  EXPECT_FALSE(IsValidTenantName(std::string(64, 'a')));
  EXPECT_TRUE(IsValidDeviceId("cooker-00042"));
  EXPECT_TRUE(IsValidDeviceId("A.b_c:d-e"));
  EXPECT_FALSE(IsValidDeviceId(".hidden"));
  EXPECT_FALSE(IsValidDeviceId("a/b"));
  EXPECT_TRUE(IsValidDeviceId(std::string(128, 'x')));
  EXPECT_FALSE(IsValidDeviceId(std::string(129, 'x')));
  EXPECT_TRUE(IsValidNonce("0123456789abcdef"));
  EXPECT_FALSE(IsValidNonce("0123456789abcde"));
  EXPECT_FALSE(IsValidNonce(std::string(65, 'a')));
  EXPECT_FALSE(IsValidNonce("0123456789abcdef="));
}

}  // namespace
}  // namespace uplift::format
