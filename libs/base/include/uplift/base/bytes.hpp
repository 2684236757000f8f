// Byte buffers, hex, and little-endian integer helpers used by every byte-layout module.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace uplift {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using MutableByteView = std::span<std::uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsChars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Lower-case hex; the project's one textual spelling of hashes and key ids.
std::string ToHex(ByteView bytes);
// Accepts lower- or upper-case hex of even length; nullopt on anything else.
std::optional<Bytes> FromHex(std::string_view hex);
// RFC 4648 §5 base64url without padding (URL tokens such as nginx's secure_link).
std::string ToBase64Url(ByteView bytes);

// memcpy compiles to one load/store; the byte order is fixed by the host check below.
static_assert(std::endian::native == std::endian::little,
              "Uplift's byte-layout helpers assume a little-endian host");

inline void StoreLe16(std::uint8_t* p, std::uint16_t v) { std::memcpy(p, &v, 2); }
inline void StoreLe32(std::uint8_t* p, std::uint32_t v) { std::memcpy(p, &v, 4); }
inline void StoreLe64(std::uint8_t* p, std::uint64_t v) { std::memcpy(p, &v, 8); }
inline std::uint16_t LoadLe16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline std::uint32_t LoadLe32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline std::uint64_t LoadLe64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace uplift
