// The test vectors of docs/formats/bundle.md §Test vectors. The committed files are what a third
// party builds a verifier against, so this test keeps them true: the library must write exactly
// those bytes, accept them, and refuse each listed mutation with the listed error code.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "bundle_test_support.hpp"
#include "uplift/crypto/crc.hpp"
#include "uplift/crypto/hash.hpp"

namespace uplift::format {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

const std::string kVectorDir = std::string(UPLIFT_SOURCE_DIR) + "/docs/formats/vectors/";

// RFC 8032 section 7.1, TEST 1: a published secret key, so anyone can rebuild the vector.
constexpr std::string_view kSeedHex =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
// PKCS#8 PrivateKeyInfo for Ed25519 (RFC 8410) up to the 32-byte seed.
constexpr std::string_view kPkcs8Prefix = "302e020100300506032b657004220420";

// Values the spec page prints; checked here so the page cannot drift from the files.
constexpr std::string_view kKeyId =
    "06e3fd8fda29bb60ab59557de61edb0aecdb231134be30e75b455f8e1b792fa9";
constexpr std::string_view kPublicKeyPem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "-----END PUBLIC KEY-----\n";
constexpr std::string_view kChunk0 =
    "d67c656e01756650d77717b0839985a056ec28ffe174601d690fc407a2ceffca";
constexpr std::string_view kChunk1 =
    "d3891b8dd15f7fd52e169f1fc5312e91adf2b9178648db4cfa850dbabc0a4c32";
constexpr std::string_view kManifest =
    R"({"compatible":["board-a"],"created":1700000000,"expires":1900000000,"format":1,)"
    R"("payloads":[{"chunk_size":4096,)"
    R"("chunks_root":"87f5138f2e8229400aff6a7c09ecfc77b1cf994812ab8386cdcee59f2a751da2",)"
    R"("compression":"none",)"
    R"("image_sha256":"69dbee893909fa17d1be397e0c07691336fe42049c29d403467d3d4a1fc3b5a1",)"
    R"("image_size":5000,"name":"fw",)"
    R"("sha256":"69dbee893909fa17d1be397e0c07691336fe42049c29d403467d3d4a1fc3b5a1",)"
    R"("size":5000,"target":"fw"}],"product":"demo","security_counter":1,"version":"1.0.0"})";

// Layout of the vector: header 48 | manifest 484 | signatures 102 | chunk index 64 | payload 5000.
constexpr std::size_t kManifestOffset = 48;
constexpr std::size_t kSignaturesOffset = 532;
constexpr std::size_t kChunkIndexOffset = 634;
constexpr std::size_t kPayloadOffset = 698;
constexpr std::size_t kBundleSize = 5698;

constexpr std::int64_t kVerifyTime = 1'750'000'000;
constexpr std::int64_t kVectorExpires = 1'900'000'000;

std::string Base64(ByteView data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < data.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, data.size() - i);
    std::uint32_t v = std::uint32_t{data[i]} << 16;
    if (n > 1) v |= std::uint32_t{data[i + 1]} << 8;
    if (n > 2) v |= data[i + 2];
    for (std::size_t k = 0; k < 4; ++k) {
      out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 0x3f] : '=';
    }
  }
  return out;
}

crypto::PrivateKey VectorKey() {
  const Bytes der = *FromHex(std::string(kPkcs8Prefix) + std::string(kSeedHex));
  const std::string pem =
      "-----BEGIN PRIVATE KEY-----\n" + Base64(der) + "\n-----END PRIVATE KEY-----\n";
  auto key = crypto::PrivateKey::FromPem(pem);
  if (!key.ok()) std::abort();
  return std::move(key).value();
}

Bytes VectorPayload() {
  Bytes b(5000);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i % 251);
  return b;
}

BundleSpec VectorSpec() {
  BundleSpec s;
  s.product = "demo";
  s.version = *SemVer::Parse("1.0.0");
  s.security_counter = 1;
  s.compatible = {"board-a"};
  s.created = 1'700'000'000;
  s.expires = kVectorExpires;
  s.payloads.push_back(
      MemoryPayload("fw", std::make_shared<Bytes>(VectorPayload()), Compression::kNone, 4096));
  return s;
}

std::string ReadText(const std::string& name) {
  auto bytes = ReadFile(kVectorDir + name, 1 << 20);
  if (!bytes.ok()) {
    ADD_FAILURE() << name << ": " << bytes.error().message();
    return {};
  }
  return std::string(AsChars(*bytes));
}

// The .hex file: lower-case hex, 64 digits (32 bytes) a line, each line ending in '\n'.
Bytes ReadHexVector(const std::string& name) {
  const std::string text = ReadText(name);
  std::string hex;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      EXPECT_TRUE(i - line_start == 64 || i + 1 == text.size()) << name << ": line at " << i;
      line_start = i + 1;
      continue;
    }
    EXPECT_TRUE((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f'))
        << name << ": character " << i;
    hex += text[i];
  }
  auto bytes = FromHex(hex);
  if (!bytes) {
    ADD_FAILURE() << name << ": not hex";
    return {};
  }
  return *bytes;
}

TrustStore VectorTrust() {
  const std::string text = ReadText("trust-basic.json");
  auto ts = TrustStore::Parse(AsBytes(text));
  if (!ts.ok()) {
    ADD_FAILURE() << ts.error().message();
    return {};
  }
  return *ts;
}

VerifyOptions VectorOptions(const TrustStore& trust) {
  VerifyOptions o;
  o.trust = &trust;
  o.now = kVerifyTime;
  o.hardware = "board-a";
  return o;
}

// Rewrites the header's CRC-32C after a deliberate header edit.
void FixCrc(Bytes& b) { StoreLe32(&b[44], crypto::Crc32c(ByteView(b.data(), 44))); }

TEST(BundleVectors, LibraryWritesExactlyTheCommittedBytes) {
  const crypto::PrivateKey key = VectorKey();
  const Bytes built = Build(VectorSpec(), {&key});
  const Bytes expected = ReadHexVector("bundle-v1-basic.hex");
  ASSERT_EQ(expected.size(), kBundleSize);
  ASSERT_EQ(built.size(), expected.size());
  for (std::size_t i = 0; i < built.size(); ++i) {
    ASSERT_EQ(built[i], expected[i]) << "first difference at byte " << i;
  }
}

TEST(BundleVectors, PrintedValuesMatchTheVector) {
  const crypto::PrivateKey key = VectorKey();
  EXPECT_EQ(key.Public().id(), kKeyId);
  EXPECT_EQ(key.Public().ToPem(), kPublicKeyPem);

  const Bytes payload = VectorPayload();
  EXPECT_EQ(ToHex(crypto::Sha256::Of(ByteView(payload).first(4096))), kChunk0);
  EXPECT_EQ(ToHex(crypto::Sha256::Of(ByteView(payload).subspan(4096))), kChunk1);

  const Bytes bundle = ReadHexVector("bundle-v1-basic.hex");
  ASSERT_EQ(bundle.size(), kBundleSize);
  const auto header = BundleHeader::Decode(bundle);
  ASSERT_TRUE(header.ok()) << header.error().message();
  EXPECT_EQ(header->manifest_size, kManifest.size());
  EXPECT_EQ(kManifestOffset + header->manifest_size, kSignaturesOffset);
  EXPECT_EQ(kSignaturesOffset + header->signatures_size, kChunkIndexOffset);
  EXPECT_EQ(kChunkIndexOffset + header->chunk_index_size, kPayloadOffset);
  EXPECT_EQ(header->total_size(), kBundleSize);
  EXPECT_EQ(AsChars(ByteView(bundle).subspan(kManifestOffset, kManifest.size())), kManifest);
  EXPECT_EQ(ToHex(ByteView(bundle).subspan(kChunkIndexOffset, 64)),
            std::string(kChunk0) + std::string(kChunk1));
  EXPECT_EQ(ToHex(ByteView(bundle).subspan(kSignaturesOffset + 6, 32)), kKeyId);

  // The manifest survives the library's own parse and re-encode unchanged.
  const auto m = ParseManifest(AsBytes(kManifest));
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(*SerializeManifest(*m), kManifest);
}

TEST(BundleVectors, TrustStoreFileIsWhatTheLibraryWrites) {
  const TrustStore parsed = VectorTrust();
  ASSERT_EQ(parsed.keys().size(), 1u);
  EXPECT_EQ(parsed.keys()[0].key.id(), kKeyId);
  EXPECT_EQ(parsed.Threshold(kReleaseRole), 1u);

  const crypto::PrivateKey key = VectorKey();
  EXPECT_EQ(TrustOf({&key}).Serialize(), ReadText("trust-basic.json"));
}

TEST(BundleVectors, CommittedBundleVerifies) {
  const TrustStore trust = VectorTrust();
  const Bytes bundle = ReadHexVector("bundle-v1-basic.hex");
  Bytes image;
  const auto st = ReadAll(bundle, VectorOptions(trust), &image);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(image, VectorPayload());

  MemorySource src(bundle);
  auto r = BundleReader::Open(src, VectorOptions(trust));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->signature_checks().size(), 1u);
  EXPECT_EQ(r->signature_checks()[0].status, SignatureStatus::kValid);
  EXPECT_EQ(r->signature_checks()[0].key_id, kKeyId);
}

// One row of the mutation table in the spec. expected 0 means "accepted".
struct Mutation {
  const char* what;
  std::function<void(Bytes&, VerifyOptions&, TrustStore&)> apply;
  int expected;
};

// Replaces the manifest by text and signs it again with the vector key, as the rows that test
// the manifest rules (rather than the signature) need.
Bytes Resigned(const Bytes& bundle, std::string_view manifest) {
  const crypto::PrivateKey key = VectorKey();
  return Assemble(manifest, {&key}, ByteView(bundle).subspan(kChunkIndexOffset, 64),
                  ByteView(bundle).subspan(kPayloadOffset));
}

std::string ManifestWith(std::string_view find, std::string_view replace) {
  std::string m(kManifest);
  const auto pos = m.find(find);
  if (pos == std::string::npos) std::abort();
  m.replace(pos, find.size(), replace);
  return m;
}

TEST(BundleVectors, MutationsGiveTheListedErrors) {
  auto flip = [](std::size_t off) {
    return [off](Bytes& b, VerifyOptions&, TrustStore&) { b[off] ^= 0x01; };
  };
  auto set = [](std::size_t off, std::uint8_t value, bool fix_crc) {
    return [=](Bytes& b, VerifyOptions&, TrustStore&) {
      b[off] = value;
      if (fix_crc) FixCrc(b);
    };
  };
  auto resign = [](std::string_view find, std::string_view replace) {
    return [=](Bytes& b, VerifyOptions&, TrustStore&) {
      b = Resigned(b, ManifestWith(find, replace));
    };
  };
  const std::vector<Mutation> table = {
      {"unchanged", [](Bytes&, VerifyOptions&, TrustStore&) {}, 0},
      {"byte 0 flipped (magic)", flip(0), 10},
      {"byte 8 flipped (version 1 -> 0)", flip(8), 11},
      {"byte 8 set to 2 (version 2), CRC not updated", set(8, 2, false), 11},
      {"byte 10 flipped (header size 48 -> 49)", flip(10), 14},
      {"byte 12 flipped (flags), CRC not updated", flip(12), 14},
      {"byte 12 set to 1 (flags = 1), CRC updated", set(12, 1, true), 11},
      {"byte 40 set to 1 (reserved), CRC updated", set(40, 1, true), 14},
      {"byte 44 flipped (CRC)", flip(44), 14},
      {"manifest size 1 MiB + 1, CRC updated",
       [](Bytes& b, VerifyOptions&, TrustStore&) {
         StoreLe32(&b[16], kMaxManifestSize + 1);
         FixCrc(b);
       },
       13},
      {"payload size 5001, CRC updated",
       [](Bytes& b, VerifyOptions&, TrustStore&) {
         StoreLe64(&b[32], 5001);
         FixCrc(b);
       },
       26},
      {"byte 60 flipped (manifest)", flip(60), 19},
      {"byte 60 flipped, no trust store (inspection)",
       [](Bytes& b, VerifyOptions& o, TrustStore&) {
         b[60] ^= 0x01;
         o.trust = nullptr;
       },
       15},
      {"byte 532 flipped (signature count 1 -> 0)", flip(532), 18},
      {"byte 534 flipped (algorithm 1 -> 0, unknown: skipped)", flip(534), 20},
      {"byte 534 set to 2 (ECDSA P-256, same length)", set(534, 2, false), 19},
      {"byte 534 set to 3 (ECDSA P-384 needs 96 bytes)", set(534, 3, false), 18},
      {"byte 535 flipped (reserved)", flip(535), 18},
      {"byte 538 flipped (key id: no longer trusted)", flip(538), 20},
      {"byte 570 flipped (signature)", flip(570), 19},
      {"byte 634 flipped (chunk index)", flip(634), 24},
      {"byte 698 flipped (first payload byte)", flip(698), 24},
      {"byte 5697 flipped (last byte)", flip(kBundleSize - 1), 24},
      {"one zero byte appended", [](Bytes& b, VerifyOptions&, TrustStore&) { b.push_back(0); }, 25},
      {"truncated to 100 bytes", [](Bytes& b, VerifyOptions&, TrustStore&) { b.resize(100); }, 12},
      {"truncated to 4 bytes", [](Bytes& b, VerifyOptions&, TrustStore&) { b.resize(4); }, 12},
      {"last byte removed", [](Bytes& b, VerifyOptions&, TrustStore&) { b.pop_back(); }, 12},
      {"verified at time 1900000000 (the expiry instant)",
       [](Bytes&, VerifyOptions& o, TrustStore&) { o.now = kVectorExpires; }, 0},
      {"verified at time 1900000001",
       [](Bytes&, VerifyOptions& o, TrustStore&) { o.now = kVectorExpires + 1; }, 22},
      {"hardware \"board-b\"",
       [](Bytes&, VerifyOptions& o, TrustStore&) { o.hardware = "board-b"; }, 23},
      {"minimum security counter 2",
       [](Bytes&, VerifyOptions& o, TrustStore&) { o.min_security_counter = 2; }, 29},
      {"minimum security counter 1",
       [](Bytes&, VerifyOptions& o, TrustStore&) { o.min_security_counter = 1; }, 0},
      {"trust store revokes the key",
       [](Bytes&, VerifyOptions&, TrustStore& t) {
         ASSERT_TRUE(t.Revoke(std::string(kKeyId)).ok());
       },
       21},
      {"trust store threshold 2",
       [](Bytes&, VerifyOptions&, TrustStore& t) {
         ASSERT_TRUE(t.SetThreshold("release", 2).ok());
       },
       20},
      {"role \"ops\" (not in the trust store)",
       [](Bytes&, VerifyOptions& o, TrustStore&) { o.role = "ops"; }, 20},
      {"re-signed manifest with a space after '{'", resign("{", "{ "), 16},
      {"re-signed manifest with \"format\":2", resign(R"("format":1)", R"("format":2)"), 11},
      {"re-signed manifest with an unknown critical field",
       resign(R"("expires")", R"("critical":["encryption"],"encryption":"aes","expires")"), 17},
      {"re-signed manifest with an unknown non-critical field",
       resign(R"("expires")", R"("description":"red","expires")"), 0},
      {"re-signed manifest with chunk_size 4000",
       resign(R"("chunk_size":4096)", R"("chunk_size":4000)"), 15},
  };
  const Bytes original = ReadHexVector("bundle-v1-basic.hex");
  ASSERT_EQ(original.size(), kBundleSize);
  for (const auto& row : table) {
    SCOPED_TRACE(row.what);
    Bytes b = original;
    TrustStore trust = VectorTrust();
    VerifyOptions o = VectorOptions(trust);
    row.apply(b, o, trust);
    const Status st = ReadAll(b, o);
    if (row.expected == 0) {
      EXPECT_TRUE(st.ok()) << st.error().message();
      continue;
    }
    ASSERT_FALSE(st.ok()) << "accepted";
    EXPECT_EQ(st.error().domain(), "format");
    EXPECT_EQ(st.error().code(), row.expected) << st.error().message();
  }
}

}  // namespace
}  // namespace uplift::format
