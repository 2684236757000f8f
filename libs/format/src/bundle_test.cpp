#include <gtest/gtest.h>

#include "bundle_test_support.hpp"
#include "uplift/crypto/hash.hpp"

namespace uplift::format {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)
using crypto::SignatureAlgorithm;

void ExpectError(const Status& st, Errc code) {
  ASSERT_FALSE(st.ok()) << "expected error " << static_cast<int>(code);
  EXPECT_TRUE(st.error().Is(code))
      << "got " << st.error().domain() << ":" << st.error().code() << " " << st.error().message();
}

class BundleTest : public ::testing::Test {
 protected:
  crypto::PrivateKey key_ = NewKey();
  TrustStore trust_ = TrustOf({&key_});
};

TEST_F(BundleTest, RoundTripsUncompressedAndZstdPayloads) {
  auto rootfs = std::make_shared<Bytes>(Pattern(50'000));
  auto app = std::make_shared<Bytes>(Bytes(300'000, 0x5a));
  BundleSpec spec = BasicSpec();
  spec.payloads.push_back(MemoryPayload("rootfs", rootfs));
  spec.payloads.push_back(MemoryPayload("app", app, Compression::kZstd, 64 * 1024));
  const Bytes bundle = Build(spec, {&key_});

  MemorySource src(bundle);
  auto r = BundleReader::Open(src, Strict(trust_));
  ASSERT_TRUE(r.ok()) << r.error().message();
  const Manifest& m = r->manifest();
  EXPECT_EQ(m.product, "rice-cooker");
  EXPECT_EQ(m.version.ToString(), "2.1.0+build.7");
  ASSERT_EQ(m.payloads.size(), 2u);
  EXPECT_EQ(m.payloads[0].size, rootfs->size());
  EXPECT_EQ(m.payloads[0].sha256, crypto::Sha256::Of(*rootfs));
  EXPECT_EQ(m.payloads[0].chunk_count(), (50'000u + 4095) / 4096);
  EXPECT_EQ(m.payloads[1].image_size, app->size());
  EXPECT_LT(m.payloads[1].size, 1000u);  // 300 kB of one byte compresses to almost nothing
  ASSERT_EQ(r->signature_checks().size(), 1u);
  EXPECT_EQ(r->signature_checks()[0].status, SignatureStatus::kValid);

  MemorySink a;
  MemorySink b;
  ASSERT_TRUE(r->ReadPayloadImage(a).ok());
  ASSERT_TRUE(r->ReadPayloadImage(b).ok());
  EXPECT_EQ(a.bytes(), *rootfs);
  EXPECT_EQ(b.bytes(), *app);
  EXPECT_TRUE(r->Finish().ok());
}

TEST_F(BundleTest, WriterIsDeterministic) {
  auto data = std::make_shared<Bytes>(Pattern(10'000));
  BundleSpec spec = BasicSpec();
  spec.payloads.push_back(MemoryPayload("rootfs", data, Compression::kZstd));
  // Ed25519 signatures are deterministic, so the whole file is.
  EXPECT_EQ(Build(spec, {&key_}), Build(spec, {&key_}));
}

TEST_F(BundleTest, EveryAlgorithmSignsAndVerifies) {
  for (auto algo : {SignatureAlgorithm::kEd25519, SignatureAlgorithm::kEcdsaP256Sha256,
                    SignatureAlgorithm::kEcdsaP384Sha384}) {
    const auto k = NewKey(algo);
    const TrustStore ts = TrustOf({&k});
    BundleSpec spec = BasicSpec();
    spec.payloads.push_back(MemoryPayload("fw", std::make_shared<Bytes>(Pattern(5000))));
    EXPECT_TRUE(ReadAll(Build(spec, {&k}), Strict(ts)).ok()) << crypto::AlgorithmName(algo);
  }
}

TEST_F(BundleTest, ThresholdAndCoSigning) {
  const auto k2 = NewKey(SignatureAlgorithm::kEcdsaP256Sha256);
  const auto k3 = NewKey(SignatureAlgorithm::kEcdsaP384Sha384);
  const TrustStore two_of_three = TrustOf({&key_, &k2, &k3}, 2);
  BundleSpec spec = BasicSpec();
  spec.payloads.push_back(MemoryPayload("fw", std::make_shared<Bytes>(Pattern(9000))));
  const Bytes one = Build(spec, {&key_});
  ExpectError(ReadAll(one, Strict(two_of_three)), Errc::kBelowThreshold);

  MemorySource in(one);
  MemorySink cosigned;
  ASSERT_TRUE(CoSignBundle(in, {&k3}, cosigned).ok());
  EXPECT_TRUE(ReadAll(cosigned.bytes(), Strict(two_of_three)).ok());

  // Co-signing leaves the manifest bytes exactly as they were.
  MemorySource s1(one);
  MemorySource s2(cosigned.bytes());
  auto r1 = BundleReader::Open(s1, VerifyOptions{});
  auto r2 = BundleReader::Open(s2, VerifyOptions{});
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_TRUE(std::equal(r1->manifest_bytes().begin(), r1->manifest_bytes().end(),
                         r2->manifest_bytes().begin(), r2->manifest_bytes().end()));
  EXPECT_EQ(r2->signatures().size(), 2u);

  // Signing again with the same key replaces its entry instead of counting twice.
  MemorySource in2(cosigned.bytes());
  MemorySink again;
  ASSERT_TRUE(CoSignBundle(in2, {&k3}, again).ok());
  MemorySource s3(again.bytes());
  EXPECT_EQ(BundleReader::Open(s3, VerifyOptions{})->signatures().size(), 2u);
}

TEST_F(BundleTest, RevokedAndUntrustedKeys) {
  const auto other = NewKey();
  BundleSpec spec = BasicSpec();
  spec.payloads.push_back(MemoryPayload("fw", std::make_shared<Bytes>(Pattern(100))));

  ExpectError(ReadAll(Build(spec, {&other}), Strict(trust_)), Errc::kBelowThreshold);

  TrustStore revoked = trust_;
  ASSERT_TRUE(revoked.Revoke(key_.Public().id()).ok());
  ExpectError(ReadAll(Build(spec, {&key_}), Strict(revoked)), Errc::kRevokedKey);

  // A revoked signer does not spoil a bundle that still meets the threshold without it.
  TrustStore both = TrustOf({&key_, &other});
  ASSERT_TRUE(both.Revoke(key_.Public().id()).ok());
  EXPECT_TRUE(ReadAll(Build(spec, {&key_, &other}), Strict(both)).ok());

  // A store without the role refuses everything.
  TrustStore empty;
  ExpectError(ReadAll(Build(spec, {&key_}), Strict(empty)), Errc::kBelowThreshold);
}

TEST_F(BundleTest, PolicyChecks) {
  BundleSpec spec = BasicSpec();
  spec.payloads.push_back(MemoryPayload("fw", std::make_shared<Bytes>(Pattern(100))));
  const Bytes b = Build(spec, {&key_});

  VerifyOptions o = Strict(trust_);
  o.now = kExpires + 1;
  ExpectError(ReadAll(b, o), Errc::kExpired);
  o.now = kExpires;  // the expiry instant itself is still valid
  EXPECT_TRUE(ReadAll(b, o).ok());

  o = Strict(trust_);
  o.hardware = "toaster";
  ExpectError(ReadAll(b, o), Errc::kIncompatibleHardware);

  o = Strict(trust_);
  o.min_security_counter = 6;
  ExpectError(ReadAll(b, o), Errc::kDowngrade);
  o.min_security_counter = 5;
  EXPECT_TRUE(ReadAll(b, o).ok());
}

// A valid manifest for one empty payload, as canonical JSON with the given extra text spliced in.
std::string ManifestText(std::string_view top_extra = "", std::string_view payload_extra = "") {
  const std::string empty = ToHex(crypto::Sha256::Of({}));
  return std::string(R"({"compatible":["rc-board-v2"],"created":1700000000,)") +
         std::string(top_extra) +
         R"("expires":1800000000,"format":1,"payloads":[{"chunk_size":4096,"chunks_root":")" +
         empty + R"(","compression":"none",)" + std::string(payload_extra) + R"("image_sha256":")" +
         empty + R"(","image_size":0,"name":"fw","sha256":")" + empty +
         R"(","size":0,"target":"fw"}],"product":"p","security_counter":1,"version":"1.0.0"})";
}

TEST_F(BundleTest, CraftedManifestBaseline) {
  const std::string m = ManifestText();
  ASSERT_TRUE(ParseManifest(AsBytes(m)).ok()) << ParseManifest(AsBytes(m)).error().message();
  EXPECT_TRUE(ReadAll(Assemble(m, {&key_}), Strict(trust_)).ok());
}

TEST_F(BundleTest, NonCanonicalManifestIsRefusedEvenWhenSigned) {
  std::string m = ManifestText();
  m.insert(1, " ");
  ExpectError(ReadAll(Assemble(m, {&key_}), Strict(trust_)), Errc::kNonCanonical);
}

TEST_F(BundleTest, UnknownFieldsAreIgnoredUnlessCritical) {
  EXPECT_TRUE(
      ReadAll(Assemble(ManifestText(R"("description":"red",)"), {&key_}), Strict(trust_)).ok());
  ExpectError(
      ReadAll(Assemble(ManifestText(R"("critical":["description"],"description":"red",)"), {&key_}),
              Strict(trust_)),
      Errc::kUnknownCritical);
  ExpectError(ReadAll(Assemble(ManifestText("", R"("critical":["encryption"],"encryption":"aes",)"),
                               {&key_}),
                      Strict(trust_)),
              Errc::kUnknownCritical);
  // Marking a field this reader knows as critical is fine.
  EXPECT_TRUE(
      ReadAll(Assemble(ManifestText(R"("critical":["created"],)"), {&key_}), Strict(trust_)).ok());
}

TEST_F(BundleTest, ManifestFromAnotherBundleFailsSignature) {
  const std::string m1 = ManifestText();
  std::string m2 = ManifestText();
  m2.replace(m2.find("\"p\""), 3, "\"q\"");
  Bytes b = Assemble(m1, {&key_});
  // Same length manifest, different bytes, the signature of m1.
  std::copy(m2.begin(), m2.end(), b.begin() + kHeaderSize);
  ExpectError(ReadAll(b, Strict(trust_)), Errc::kBadSignature);
}

TEST_F(BundleTest, TrailingDataAndLengthMismatch) {
  BundleSpec spec = BasicSpec();
  spec.payloads.push_back(MemoryPayload("fw", std::make_shared<Bytes>(Pattern(5000))));
  Bytes b = Build(spec, {&key_});
  b.push_back(0);
  ExpectError(ReadAll(b, Strict(trust_)), Errc::kTrailingData);

  // Header claims one more payload byte than the signed manifest: refused before reading it.
  b.pop_back();
  auto h = *BundleHeader::Decode(b);
  h.payload_size += 1;
  const auto enc = h.Encode();
  std::copy(enc.begin(), enc.end(), b.begin());
  ExpectError(ReadAll(b, Strict(trust_)), Errc::kLengthMismatch);
}

TEST_F(BundleTest, HeaderBoundsAreCheckedBeforeAllocation) {
  BundleHeader h;
  h.manifest_size = kMaxManifestSize + 1;
  h.signatures_size = 100;
  auto enc = h.Encode();
  MemorySource src(enc);
  auto r = BundleReader::Open(src, VerifyOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kOversize));

  h.manifest_size = 100;
  h.chunk_index_size = 1ULL << 40;
  enc = h.Encode();
  MemorySource src2(enc);
  r = BundleReader::Open(src2, VerifyOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kOversize));
}

TEST_F(BundleTest, DecompressionBombIsStopped) {
  // A zstd payload that really expands to 1 MiB, in a manifest that declares 1000 bytes.
  const Bytes big(1 << 20, 0);
  MemorySink z;
  ZstdCompressSink c(z, 3);
  ASSERT_TRUE(c.Write(big).ok());
  ASSERT_TRUE(c.Finish().ok());
  const Bytes& stored = z.bytes();
  const auto chunk = crypto::Sha256::Of(stored);
  const auto root = crypto::Sha256::Of(chunk);
  ASSERT_LE(stored.size(), 4096u);
  const std::string m =
      std::string(R"({"compatible":["rc-board-v2"],"created":1700000000,"expires":1800000000,)") +
      R"("format":1,"payloads":[{"chunk_size":4096,"chunks_root":")" + ToHex(root) +
      R"(","compression":"zstd","image_sha256":")" + ToHex(crypto::Sha256::Of(big)) +
      R"(","image_size":1000,"name":"fw","sha256":")" + ToHex(chunk) + R"(","size":)" +
      std::to_string(stored.size()) +
      R"(,"target":"fw"}],"product":"p","security_counter":1,"version":"1.0.0"})";
  const Bytes b = Assemble(m, {&key_}, chunk, stored);
  ExpectError(ReadAll(b, Strict(trust_)), Errc::kDecompress);
}

TEST_F(BundleTest, DeltaPayloadsAreNotDecodedAsImages) {
  BundleSpec spec = BasicSpec();
  auto in = MemoryPayload("fw", std::make_shared<Bytes>(Pattern(3000)));
  in.delta_source_sha256 = crypto::Sha256::Of(AsBytes("old image"));
  in.delta_image_size = 12345;
  in.delta_image_sha256 = crypto::Sha256::Of(AsBytes("new image"));
  spec.payloads.push_back(in);
  const Bytes b = Build(spec, {&key_});
  MemorySource src(b);
  auto r = BundleReader::Open(src, Strict(trust_));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->manifest().payloads[0].image_size, 12345u);
  MemorySink sink;
  const auto st = r->ReadPayloadImage(sink);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(base::Errc::kInvalidArgument));
  EXPECT_TRUE(r->ReadPayload(sink).ok());
  EXPECT_EQ(sink.bytes(), Pattern(3000));
}

TEST_F(BundleTest, EmptyPayload) {
  BundleSpec spec = BasicSpec();
  spec.payloads.push_back(MemoryPayload("empty", std::make_shared<Bytes>()));
  Bytes image{1};
  EXPECT_TRUE(ReadAll(Build(spec, {&key_}), Strict(trust_), &image).ok());
  EXPECT_TRUE(image.empty());
}

TEST_F(BundleTest, WriterRefusesInputThatChangesBetweenPasses) {
  auto data = std::make_shared<Bytes>(Pattern(10'000));
  BundleSpec spec = BasicSpec();
  auto p = MemoryPayload("fw", data);
  int calls = 0;
  p.open = [data, &calls]() -> Result<std::unique_ptr<ByteSource>> {
    if (calls++ == 1) (*data)[5000] ^= 1;
    return std::unique_ptr<ByteSource>(std::make_unique<MemorySource>(*data));
  };
  spec.payloads.push_back(p);
  MemorySink out;
  ExpectError(WriteBundle(spec, {&key_}, out), Errc::kHashMismatch);
}

}  // namespace
}  // namespace uplift::format
