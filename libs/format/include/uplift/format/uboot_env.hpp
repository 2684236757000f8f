// The U-Boot environment: one copy of `size` bytes, or two copies of which the bootloader uses the
// newer (redundant layout). Byte-exact spec: docs/formats/uboot-env.md. Compatible with U-Boot's
// saveenv, mkenvimage (u-boot-tools) and fw_printenv/fw_setenv (libubootenv).
//
//   single:     [0,4) CRC-32 LE over [4,size)                  [4,size) variables
//   redundant:  [0,4) CRC-32 LE over [5,size)   [4] flags       [5,size) variables
//   variables:  "name=value\0" ... "\0", then padding up to size
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"

namespace uplift::format {

// Environment variables by name. Byte order of names (std::less<std::string> compares like
// memcmp), which is the order fw_setenv writes them in.
using EnvVars = std::map<std::string, std::string, std::less<>>;

enum class UbootEnvLayout : std::uint8_t { kSingle, kRedundant };

// Bytes before the variable data: the CRC, plus the flags byte in the redundant layout.
constexpr std::size_t UbootEnvHeaderSize(UbootEnvLayout layout) {
  return layout == UbootEnvLayout::kRedundant ? 5 : 4;
}
// An environment copy is at most this large (real ones are 8 KiB to 256 KiB): bounds allocation.
inline constexpr std::size_t kUbootEnvMaxSize = 8u << 20;

struct UbootEnvCopy {
  EnvVars vars;
  std::uint8_t flags = 0;  // redundant layout only; 0 for single
};

// Parses one copy; `image.size()` is the environment size. format::Errc::kEnvCorrupt for a CRC
// mismatch, an entry without '=' or with an empty name, or data without the terminating empty
// entry; kEnvTooLarge if the size is outside [header + 1, kUbootEnvMaxSize]. A name that occurs
// twice takes its last value, as U-Boot's import does.
Result<UbootEnvCopy> ParseUbootEnv(ByteView image, UbootEnvLayout layout);

// kEnvBadVariable unless the name is non-empty without '=' or NUL and the value has no NUL.
Status ValidateUbootEnvVariable(std::string_view name, std::string_view value);

// One copy of `size` bytes: variables sorted by name, the terminating empty entry, `pad` to the
// end (U-Boot's saveenv pads with 0x00, mkenvimage with 0xff), then the CRC. kEnvBadVariable,
// kEnvTooLarge (variables do not fit, or size outside the bounds above).
Result<Bytes> SerializeUbootEnv(const EnvVars& vars, std::size_t size, UbootEnvLayout layout,
                                std::uint8_t flags = 0, std::uint8_t pad = 0x00);

// Which of two redundant copies U-Boot and fw_printenv use: the only valid one; of two valid
// ones the higher flags value, except that 0 beats 255 (the counter wrapped); copy 0 on a tie.
// -1 if neither is valid.
int SelectUbootEnvCopy(bool valid0, std::uint8_t flags0, bool valid1, std::uint8_t flags1);

// True if the copy's CRC matches (what U-Boot calls a valid copy; says nothing of the data).
bool UbootEnvCrcValid(ByteView image, UbootEnvLayout layout);

struct UbootEnvPair {
  UbootEnvCopy active;
  int current = 0;           // index of the copy in use (0 or 1)
  bool other_valid = false;  // the other copy's CRC is good too
};

// Both copies of a redundant environment (equal sizes). Like U-Boot, picks a copy by CRC and
// flags alone (SelectUbootEnvCopy) and then parses it: kEnvCorrupt if neither CRC is good (the
// message names both), or if the chosen copy's data does not parse.
Result<UbootEnvPair> ParseRedundantUbootEnv(ByteView copy0, ByteView copy1);

}  // namespace uplift::format
