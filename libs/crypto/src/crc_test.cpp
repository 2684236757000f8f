#include "uplift/crypto/crc.hpp"

#include <gtest/gtest.h>

#include <cstdint>

#include "uplift/base/bytes.hpp"

namespace uplift::crypto {
namespace {

// Bit-at-a-time references, written straight from the CRC catalogue's parameters, so the
// slice-by-8 tables are checked against something that shares no code with them.
std::uint32_t BitwiseReflected32(ByteView data, std::uint32_t poly_reflected) {
  std::uint32_t c = 0xFFFFFFFF;
  for (const std::uint8_t b : data) {
    c ^= b;
    for (int i = 0; i < 8; ++i) c = (c & 1) != 0 ? (c >> 1) ^ poly_reflected : c >> 1;
  }
  return ~c;
}

std::uint16_t BitwiseForward16(ByteView data, std::uint16_t init) {
  std::uint32_t c = init;
  for (const std::uint8_t b : data) {
    c ^= static_cast<std::uint32_t>(b) << 8;
    for (int i = 0; i < 8; ++i) c = (c & 0x8000) != 0 ? ((c << 1) ^ 0x1021) & 0xFFFF : c << 1;
  }
  return static_cast<std::uint16_t>(c);
}

Bytes Pattern(std::size_t n) {
  Bytes out(n);
  std::uint32_t x = 0x12345678;
  for (auto& b : out) {
    x = x * 1103515245u + 12345u;
    b = static_cast<std::uint8_t>(x >> 16);
  }
  return out;
}

constexpr std::string_view kCheck = "123456789";

TEST(Crc, CatalogueCheckValues) {
  EXPECT_EQ(Crc32(AsBytes(kCheck)), 0xCBF43926u);
  EXPECT_EQ(Crc32c(AsBytes(kCheck)), 0xE3069283u);
  EXPECT_EQ(Crc16Xmodem(AsBytes(kCheck)), 0x31C3);
  EXPECT_EQ(Crc16CcittFalse(AsBytes(kCheck)), 0x29B1);
}

TEST(Crc, EmptyInputLeavesChecksumUnchanged) {
  EXPECT_EQ(Crc32({}), 0u);
  EXPECT_EQ(Crc32c({}), 0u);
  EXPECT_EQ(Crc16Xmodem({}), 0);
  EXPECT_EQ(Crc16CcittFalse({}), 0xFFFF);
  EXPECT_EQ(Crc32({}, 0xDEADBEEF), 0xDEADBEEFu);
  EXPECT_EQ(Crc16Xmodem({}, 0x1234), 0x1234);
}

// zlib's crc32 of the same well-known sentences, cross-checked with Python's binascii.
TEST(Crc, Crc32KnownStrings) {
  EXPECT_EQ(Crc32(AsBytes("The quick brown fox jumps over the lazy dog")), 0x414FA339u);
  EXPECT_EQ(Crc32(AsBytes("a")), 0xE8B7BE43u);
}

TEST(Crc, RunningChecksumSplitAtEveryPosition) {
  // Long enough that both halves exercise the 8-byte loop and the byte tail.
  const Bytes data = Pattern(70);
  const ByteView all(data);
  const std::uint32_t crc32 = Crc32(all);
  const std::uint32_t crc32c = Crc32c(all);
  const std::uint16_t xmodem = Crc16Xmodem(all);
  const std::uint16_t ccitt = Crc16CcittFalse(all);
  for (std::size_t i = 0; i <= data.size(); ++i) {
    const ByteView a = all.first(i);
    const ByteView b = all.subspan(i);
    EXPECT_EQ(Crc32(b, Crc32(a)), crc32) << i;
    EXPECT_EQ(Crc32c(b, Crc32c(a)), crc32c) << i;
    EXPECT_EQ(Crc16Xmodem(b, Crc16Xmodem(a)), xmodem) << i;
    EXPECT_EQ(Crc16CcittFalse(b, Crc16CcittFalse(a)), ccitt) << i;
  }
  const ByteView check = AsBytes(kCheck);
  for (std::size_t i = 0; i <= check.size(); ++i) {
    EXPECT_EQ(Crc32(check.subspan(i), Crc32(check.first(i))), 0xCBF43926u) << i;
    EXPECT_EQ(Crc32c(check.subspan(i), Crc32c(check.first(i))), 0xE3069283u) << i;
    EXPECT_EQ(Crc16Xmodem(check.subspan(i), Crc16Xmodem(check.first(i))), 0x31C3) << i;
    EXPECT_EQ(Crc16CcittFalse(check.subspan(i), Crc16CcittFalse(check.first(i))), 0x29B1) << i;
  }
}

TEST(Crc, SliceBy8MatchesBitwiseAtEveryLengthAndAlignment) {
  const Bytes data = Pattern(200);
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t len = 0; offset + len <= data.size(); len += (len < 40 ? 1 : 13)) {
      const ByteView v = ByteView(data).subspan(offset, len);
      ASSERT_EQ(Crc32(v), BitwiseReflected32(v, 0xEDB88320)) << offset << "+" << len;
      ASSERT_EQ(Crc32c(v), BitwiseReflected32(v, 0x82F63B78)) << offset << "+" << len;
      ASSERT_EQ(Crc16Xmodem(v), BitwiseForward16(v, 0)) << offset << "+" << len;
      ASSERT_EQ(Crc16CcittFalse(v), BitwiseForward16(v, 0xFFFF)) << offset << "+" << len;
    }
  }
}

}  // namespace
}  // namespace uplift::crypto
