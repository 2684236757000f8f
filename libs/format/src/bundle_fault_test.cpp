// The bundle reader's fault sweep: every byte of a real bundle flipped in turn, and the bundle
// cut at every offset, must each be refused with the error that names what is wrong.
#include <gtest/gtest.h>

#include "bundle_test_support.hpp"

namespace uplift::format {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

class BundleFaultSweep : public ::testing::Test {
 protected:
  void SetUp() override {
    BundleSpec spec = BasicSpec();
    spec.payloads.push_back(MemoryPayload("rootfs", std::make_shared<Bytes>(Pattern(6000))));
    spec.payloads.push_back(
        MemoryPayload("app", std::make_shared<Bytes>(Pattern(5000, 7)), Compression::kZstd));
    bundle_ = Build(spec, {&key_});
    header_ = *BundleHeader::Decode(bundle_);
    ASSERT_TRUE(ReadAll(bundle_, Strict(trust_)).ok());
  }

  // The error a flip at this offset must produce.
  Errc ExpectedForFlip(std::size_t off) const {
    if (off < 8) return Errc::kBadMagic;
    if (off < 10) return Errc::kUnsupportedVersion;
    if (off < kHeaderSize) return Errc::kHeaderCorrupt;
    std::size_t o = off - kHeaderSize;
    if (o < header_.manifest_size) return Errc::kBadSignature;  // authenticated before parsing
    o -= header_.manifest_size;
    if (o < header_.signatures_size) {
      if (o < 2) return Errc::kMalformedSignatures;  // count
      const std::size_t e = o - 2;                   // one Ed25519 entry: 36 + 64 bytes
      if (e == 0) return Errc::kBelowThreshold;      // algorithm id becomes unknown: skipped
      if (e < 4) return Errc::kMalformedSignatures;  // reserved byte, length
      if (e < 36) return Errc::kBelowThreshold;      // key id no longer trusted
      return Errc::kBadSignature;
    }
    return Errc::kHashMismatch;  // chunk index or payload bytes
  }

  crypto::PrivateKey key_ = NewKey();
  TrustStore trust_ = TrustOf({&key_});
  Bytes bundle_;
  BundleHeader header_;
};

TEST_F(BundleFaultSweep, EveryFlippedByteIsRefusedWithTheRightError) {
  std::size_t tried = 0;
  // Every byte of header, manifest, signatures and chunk index; payload bytes are all bound by
  // the same chunk hash check, so a stride through them is enough (and keeps ASan runs short).
  const std::size_t payload_start = bundle_.size() - header_.payload_size;
  for (std::size_t off = 0; off < bundle_.size(); off += off < payload_start ? 1 : 61) {
    for (const std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0xff}}) {
      Bytes b = bundle_;
      b[off] ^= mask;
      const auto st = ReadAll(b, Strict(trust_));
      const Errc want = ExpectedForFlip(off);
      ASSERT_FALSE(st.ok()) << "flip 0x" << std::hex << int{mask} << " at " << std::dec << off
                            << " accepted";
      ASSERT_TRUE(st.error().Is(want))
          << "flip at " << off << ": want " << static_cast<int>(want) << ", got "
          << st.error().code() << " " << st.error().message();
      ++tried;
    }
  }
  EXPECT_GT(tried, 2 * payload_start);
  std::printf("flipped bytes tried: %zu (bundle of %zu bytes)\n", tried, bundle_.size());
}

TEST_F(BundleFaultSweep, EveryTruncationIsRefusedAsTruncated) {
  for (std::size_t len = 0; len < bundle_.size(); ++len) {
    const auto st = ReadAll(ByteView(bundle_.data(), len), Strict(trust_));
    ASSERT_FALSE(st.ok()) << "truncated at " << len << " accepted";
    ASSERT_TRUE(st.error().Is(Errc::kTruncated))
        << "truncated at " << len << ": " << st.error().message();
  }
  std::printf("truncation points tried: %zu\n", bundle_.size());
}

TEST_F(BundleFaultSweep, InspectionWithoutTrustStillCatchesCorruption) {
  // Without a trust store nothing is authenticated, but hashes still bind every payload byte.
  VerifyOptions none;
  const std::size_t payload_start = bundle_.size() - header_.payload_size;
  for (std::size_t off = payload_start; off < bundle_.size(); off += 97) {
    Bytes b = bundle_;
    b[off] ^= 0x10;
    const auto st = ReadAll(b, none);
    ASSERT_FALSE(st.ok());
    EXPECT_TRUE(st.error().Is(Errc::kHashMismatch));
  }
}

}  // namespace
}  // namespace uplift::format
