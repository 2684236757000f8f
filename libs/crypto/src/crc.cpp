// Slice-by-8 CRCs. Table k maps a byte to its contribution after k further zero bytes, so eight
// input bytes fold into the state with eight independent lookups instead of eight dependent ones.
// All tables are built at compile time.
#include "uplift/crypto/crc.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace uplift::crypto {
namespace {

template <typename T>
using SliceTables = std::array<std::array<T, 256>, 8>;

// Reflected (LSB-first) CRC-32 with `poly` given bit-reversed.
constexpr SliceTables<std::uint32_t> MakeReflected32(std::uint32_t poly) {
  SliceTables<std::uint32_t> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) != 0 ? (c >> 1) ^ poly : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t i = 0; i < 256; ++i) {
      t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
    }
  }
  return t;
}

// Non-reflected (MSB-first) CRC-16.
constexpr SliceTables<std::uint16_t> MakeForward16(std::uint16_t poly) {
  SliceTables<std::uint16_t> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i << 8;
    for (int bit = 0; bit < 8; ++bit) c = (c & 0x8000) != 0 ? (c << 1) ^ poly : c << 1;
    t[0][i] = static_cast<std::uint16_t>(c);
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t i = 0; i < 256; ++i) {
      const std::uint32_t prev = t[k - 1][i];
      t[k][i] = static_cast<std::uint16_t>((prev << 8) ^ t[0][prev >> 8]);
    }
  }
  return t;
}

constexpr SliceTables<std::uint32_t> kCrc32Tables = MakeReflected32(0xEDB88320);
constexpr SliceTables<std::uint32_t> kCrc32cTables = MakeReflected32(0x82F63B78);
constexpr SliceTables<std::uint16_t> kCrc16Tables = MakeForward16(0x1021);

static_assert(kCrc32Tables[0][1] == 0x77073096);
static_assert(kCrc32cTables[0][1] == 0xF26B8303);
static_assert(kCrc16Tables[0][1] == 0x1021);

// base's LoadLe32 is portable, but GCC -O2 leaves it a loop of byte loads, which halves the
// throughput of the loop below; on little-endian hosts a plain load is the same value.
std::uint32_t LoadWord(const std::uint8_t* p) {
  if constexpr (std::endian::native == std::endian::little) {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  } else {
    return LoadLe32(p);
  }
}

// `state` is the raw register (already xor'ed with init), not the external CRC value.
std::uint32_t Reflected32(const SliceTables<std::uint32_t>& t, ByteView data, std::uint32_t state) {
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  for (; n >= 8; p += 8, n -= 8) {
    const std::uint32_t lo = LoadWord(p) ^ state;
    const std::uint32_t hi = LoadWord(p + 4);
    state = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
            t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
  }
  for (; n > 0; ++p, --n) state = (state >> 8) ^ t[0][(state ^ *p) & 0xff];
  return state;
}

std::uint16_t Forward16(const SliceTables<std::uint16_t>& t, ByteView data, std::uint16_t crc) {
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  std::uint32_t state = crc;
  for (; n >= 8; p += 8, n -= 8) {
    // The 16-bit register lines up with the first two bytes of the block.
    state = static_cast<std::uint32_t>(t[7][p[0] ^ (state >> 8)] ^ t[6][p[1] ^ (state & 0xff)] ^
                                       t[5][p[2]] ^ t[4][p[3]] ^ t[3][p[4]] ^ t[2][p[5]] ^
                                       t[1][p[6]] ^ t[0][p[7]]);
  }
  for (; n > 0; ++p, --n) state = ((state << 8) & 0xffff) ^ t[0][(state >> 8) ^ *p];
  return static_cast<std::uint16_t>(state);
}

}  // namespace

std::uint32_t Crc32(ByteView data, std::uint32_t crc) {
  return ~Reflected32(kCrc32Tables, data, ~crc);
}

std::uint32_t Crc32c(ByteView data, std::uint32_t crc) {
  return ~Reflected32(kCrc32cTables, data, ~crc);
}

std::uint16_t Crc16Xmodem(ByteView data, std::uint16_t crc) {
  return Forward16(kCrc16Tables, data, crc);
}

std::uint16_t Crc16CcittFalse(ByteView data, std::uint16_t crc) {
  return Forward16(kCrc16Tables, data, crc);
}

}  // namespace uplift::crypto
