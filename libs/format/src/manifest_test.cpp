#include "uplift/format/manifest.hpp"

#include <gtest/gtest.h>

namespace uplift::format {
namespace {

Manifest Valid() {
  Manifest m;
  m.product = "gateway";
  m.version = *SemVer::Parse("1.0.0-rc.1");
  m.security_counter = 3;
  m.compatible = {"gw-a"};
  m.created = 100;
  m.expires = 200;
  PayloadInfo p;
  p.name = "rootfs";
  p.target = "rootfs";
  p.size = 10;
  p.image_size = 10;
  p.sha256.fill(0xab);
  p.image_sha256.fill(0xab);
  p.chunks_root.fill(0xcd);
  m.payloads.push_back(p);
  return m;
}

Status Check(const Manifest& m) {
  return ManifestFromJson(ManifestToJson(m)).ok() ? Ok()
                                                  : ManifestFromJson(ManifestToJson(m)).error();
}

TEST(Manifest, SerializesCanonicallyAndParsesBack) {
  const auto text = SerializeManifest(Valid());
  ASSERT_TRUE(text.ok());
  const auto back = ParseManifest(AsBytes(*text));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->version.ToString(), "1.0.0-rc.1");
  EXPECT_EQ(back->payloads[0].chunks_root, Valid().payloads[0].chunks_root);
  EXPECT_EQ(*SerializeManifest(*back), *text);
}

TEST(Manifest, SchemaViolationsAreMalformed) {
  std::vector<std::pair<const char*, Manifest>> cases;
  auto add = [&](const char* what, auto mutate) {
    Manifest m = Valid();
    mutate(m);
    cases.emplace_back(what, m);
  };
  add("empty product", [](Manifest& m) { m.product = ""; });
  add("slash in product", [](Manifest& m) { m.product = "a/b"; });
  add("no hardware", [](Manifest& m) { m.compatible.clear(); });
  add("duplicate hardware", [](Manifest& m) { m.compatible = {"x", "x"}; });
  add("expires before created", [](Manifest& m) { m.expires = m.created; });
  add("no payloads", [](Manifest& m) { m.payloads.clear(); });
  add("path traversal name", [](Manifest& m) { m.payloads[0].name = "../etc"; });
  add("upper-case target", [](Manifest& m) { m.payloads[0].target = "Rootfs"; });
  add("chunk not power of two", [](Manifest& m) { m.payloads[0].chunk_size = 5000; });
  add("chunk too small", [](Manifest& m) { m.payloads[0].chunk_size = 2048; });
  add("chunk too big", [](Manifest& m) { m.payloads[0].chunk_size = 8 << 20; });
  add("plain image with other image hash", [](Manifest& m) { m.payloads[0].image_size = 11; });
  add("duplicate payload", [](Manifest& m) { m.payloads.push_back(m.payloads[0]); });
  add("bad metadata key", [](Manifest& m) { m.metadata["a b"] = "x"; });
  add("long metadata value", [](Manifest& m) { m.metadata["k"] = std::string(1025, 'x'); });
  for (const auto& [what, m] : cases) {
    const auto st = Check(m);
    ASSERT_FALSE(st.ok()) << what;
    EXPECT_TRUE(st.error().Is(Errc::kMalformedManifest)) << what << ": " << st.error().message();
    EXPECT_FALSE(SerializeManifest(m).ok()) << what;
  }
}

TEST(Manifest, TypeErrorsNameThePath) {
  Json j = ManifestToJson(Valid());
  j["payloads"][0]["size"] = "10";
  const auto r = ManifestFromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("$.payloads[0].size"), std::string::npos)
      << r.error().message();
  j = ManifestToJson(Valid());
  j["payloads"][0]["sha256"] = std::string(64, 'A');  // upper-case hex is not canonical
  EXPECT_FALSE(ManifestFromJson(j).ok());
  j = ManifestToJson(Valid());
  j["security_counter"] = -1;
  EXPECT_FALSE(ManifestFromJson(j).ok());
}

TEST(Manifest, FutureFormatIsUnsupported) {
  Json j = ManifestToJson(Valid());
  j["format"] = 2;
  const auto r = ManifestFromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kUnsupportedVersion));
}

TEST(Manifest, CriticalMustNameAPresentField) {
  Json j = ManifestToJson(Valid());
  j["critical"] = {"metadata"};  // known but absent
  EXPECT_TRUE(ManifestFromJson(j).error().Is(Errc::kMalformedManifest));
  j["critical"] = {"product"};
  EXPECT_TRUE(ManifestFromJson(j).ok());
}

TEST(Names, FileSafe) {
  EXPECT_TRUE(IsValidName("rootfs.a-1_b"));
  for (const char* bad : {"", ".hidden", "-x", "a/b", "..", "A", "a b", "a\\b"}) {
    EXPECT_FALSE(IsValidName(bad)) << bad;
  }
  EXPECT_FALSE(IsValidName(std::string(65, 'a')));
  EXPECT_TRUE(IsValidIdentifier("Board:Rev+2"));
  EXPECT_FALSE(IsValidIdentifier(":x"));
}

}  // namespace
}  // namespace uplift::format
