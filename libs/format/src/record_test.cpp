#include "uplift/format/record.hpp"

#include <gtest/gtest.h>

#include <string>

#include "uplift/base/bytes.hpp"
#include "uplift/crypto/crc.hpp"

namespace uplift::format {
namespace {

// The vectors of docs/formats/record-store.md, computed by an independent script.
constexpr const char* kHelloHex = "5550524301000000010000000000000005000000d42c7bee68656c6c6f";
constexpr const char* kEmptyHex = "5550524301000000080706050403020100000000f9dbcda7";

Bytes FromHexOrDie(const char* hex) { return *FromHex(hex); }

TEST(RecordCopy, EncodesTheSpecVectors) {
  EXPECT_EQ(ToHex(EncodeRecordCopy(1, AsBytes("hello"))), kHelloHex);
  EXPECT_EQ(ToHex(EncodeRecordCopy(0x0102030405060708, {})), kEmptyHex);
}

TEST(RecordCopy, DecodesAndIgnoresPadding) {
  Bytes b = FromHexOrDie(kHelloHex);
  b.resize(b.size() + 100, 0xff);
  const auto copy = DecodeRecordCopy(b);
  ASSERT_TRUE(copy) << copy.error().message();
  EXPECT_EQ(copy->sequence, 1u);
  EXPECT_EQ(AsChars(copy->payload), "hello");
  EXPECT_EQ(copy->encoded_size(), 29u);
}

TEST(RecordCopy, RoundTripsTheLargestPayload) {
  Bytes payload(kMaxRecordPayload, 0x5a);
  const auto copy = DecodeRecordCopy(EncodeRecordCopy(~std::uint64_t{0}, payload));
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->sequence, ~std::uint64_t{0});
  EXPECT_EQ(copy->payload, payload);
}

void ExpectError(const Bytes& b, Errc code) {
  const auto r = DecodeRecordCopy(b);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(code)) << r.error().message();
}

TEST(RecordCopy, RejectsEachDamageWithItsCode) {
  const Bytes good = FromHexOrDie(kHelloHex);
  ExpectError({}, Errc::kTruncated);
  ExpectError(Bytes(good.begin(), good.begin() + 23), Errc::kTruncated);
  ExpectError(Bytes(good.begin(), good.end() - 1), Errc::kTruncated);
  ExpectError(Bytes(64, 0xff), Errc::kBadMagic);
  Bytes b = good;
  b[4] = 2;
  ExpectError(b, Errc::kUnsupportedVersion);
  b = good;
  StoreLe32(&b[16], kMaxRecordPayload + 1);
  ExpectError(b, Errc::kOversize);
  // Every single-bit flip after the magic and version is caught by the checksum.
  for (std::size_t i = 8 * 8; i < good.size() * 8; ++i) {
    b = good;
    b[i / 8] = static_cast<std::uint8_t>(b[i / 8] ^ (1u << (i % 8)));
    EXPECT_FALSE(DecodeRecordCopy(b).ok()) << "bit " << i;
  }
}

TEST(RecordCopy, ReservedBytesMustBeZeroEvenWithAMatchingChecksum) {
  Bytes b = EncodeRecordCopy(3, AsBytes("x"));
  b[6] = 1;
  // The checksum the spec defines: CRC-32C over bytes [0, 20), continued over the payload.
  StoreLe32(&b[20], crypto::Crc32c(ByteView(b).subspan(24), crypto::Crc32c(ByteView(b).first(20))));
  const auto r = DecodeRecordCopy(b);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kHeaderCorrupt)) << r.error().message();
  EXPECT_NE(r.error().message().find("reserved"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace uplift::format
