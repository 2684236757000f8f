#include "uplift/format/trust_store.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace uplift::format {
namespace {

crypto::PrivateKey Key(crypto::SignatureAlgorithm a = crypto::SignatureAlgorithm::kEd25519) {
  return *crypto::PrivateKey::Generate(a);
}

TEST(TrustStore, SerializesAndParsesBack) {
  TrustStore ts;
  const auto a = Key();
  const auto b = Key(crypto::SignatureAlgorithm::kEcdsaP256Sha256);
  ASSERT_TRUE(ts.AddKey(a.Public(), "release").ok());
  ASSERT_TRUE(ts.AddKey(b.Public(), "release").ok());
  ASSERT_TRUE(ts.AddKey(b.Public(), "root").ok());
  ASSERT_TRUE(ts.SetThreshold("release", 2).ok());
  ASSERT_TRUE(ts.Revoke(std::string(64, 'e')).ok());
  const std::string text = ts.Serialize();
  const auto back = TrustStore::Parse(AsBytes(text));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->Threshold("release"), 2u);
  EXPECT_EQ(back->Threshold("root"), 1u);
  EXPECT_EQ(back->Threshold("nobody"), 0u);
  EXPECT_NE(back->Find(a.Public().id(), "release"), nullptr);
  EXPECT_EQ(back->Find(a.Public().id(), "root"), nullptr);
  EXPECT_TRUE(back->IsRevoked(std::string(64, 'e')));
  EXPECT_EQ(back->Serialize(), text);
}

TEST(TrustStore, RefusesInconsistentFiles) {
  TrustStore ts;
  const auto a = Key();
  ASSERT_TRUE(ts.AddKey(a.Public(), "release").ok());
  const std::string good = ts.Serialize();
  auto mutate = [&](auto f) {
    auto j = nlohmann::json::parse(good);
    f(j);
    return TrustStore::Parse(AsBytes(j.dump()));
  };
  const std::vector<std::pair<const char*, Result<TrustStore>>> cases = {
      {"wrong id", mutate([](auto& j) { j["keys"][0]["id"] = std::string(64, '0'); })},
      {"wrong algorithm", mutate([](auto& j) { j["keys"][0]["algorithm"] = "ecdsa-p256"; })},
      {"zero threshold", mutate([](auto& j) { j["roles"]["release"]["threshold"] = 0; })},
      {"undefined role", mutate([](auto& j) { j["keys"][0]["role"] = "other"; })},
      {"garbage key", mutate([](auto& j) { j["keys"][0]["public_key"] = "nope"; })},
      {"bad revoked id", mutate([](auto& j) { j["revoked"] = {"xyz"}; })},
      {"future format", mutate([](auto& j) { j["format"] = 2; })},
      {"duplicate key", mutate([](auto& j) { j["keys"].push_back(j["keys"][0]); })},
  };
  for (const auto& [what, r] : cases) {
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_TRUE(r.error().Is(Errc::kBadTrustStore)) << what;
  }
  EXPECT_TRUE(TrustStore::Parse(AsBytes("{")).error().Is(Errc::kBadTrustStore));
  EXPECT_FALSE(ts.AddKey(a.Public(), "release").ok());
  EXPECT_FALSE(ts.Revoke("not-an-id").ok());
  EXPECT_FALSE(ts.SetThreshold("release", 0).ok());
}

}  // namespace
}  // namespace uplift::format
