#include "uplift/format/uboot_env.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "uplift/crypto/crc.hpp"
#include "uplift/format/errors.hpp"

namespace uplift::format {
namespace {

// The smallest copy holds the header and the terminating empty entry.
Status CheckSize(std::size_t size, UbootEnvLayout layout) {
  const std::size_t min = UbootEnvHeaderSize(layout) + 1;
  if (size < min || size > kUbootEnvMaxSize) {
    return Error(Errc::kEnvTooLarge, "U-Boot environment size " + std::to_string(size) +
                                         " outside [" + std::to_string(min) + ", " +
                                         std::to_string(kUbootEnvMaxSize) + "]");
  }
  return Ok();
}

std::string Hex32(std::uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::uint32_t ComputeCrc(ByteView image, UbootEnvLayout layout) {
  return crypto::Crc32(image.subspan(UbootEnvHeaderSize(layout)));
}

Result<EnvVars> ParseVariables(std::string_view data, std::size_t base) {
  EnvVars vars;
  std::size_t pos = 0;
  for (;;) {
    if (pos >= data.size()) {
      return Error(Errc::kEnvCorrupt,
                   "U-Boot environment: no terminating empty entry before end (" +
                       std::to_string(base + data.size()) + ")");
    }
    if (data[pos] == '\0') return vars;
    const std::size_t nul = data.find('\0', pos);
    if (nul == std::string_view::npos) {
      return Error(Errc::kEnvCorrupt, "U-Boot environment: entry at offset " +
                                          std::to_string(base + pos) + " is not NUL-terminated");
    }
    const std::string_view entry = data.substr(pos, nul - pos);
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Error(Errc::kEnvCorrupt, "U-Boot environment: entry at offset " +
                                          std::to_string(base + pos) +
                                          (eq == 0 ? " has an empty name" : " has no '='"));
    }
    vars.insert_or_assign(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    pos = nul + 1;
  }
}

}  // namespace

bool UbootEnvCrcValid(ByteView image, UbootEnvLayout layout) {
  if (!CheckSize(image.size(), layout).ok()) return false;
  return LoadLe32(image.data()) == ComputeCrc(image, layout);
}

Result<UbootEnvCopy> ParseUbootEnv(ByteView image, UbootEnvLayout layout) {
  UPLIFT_TRY(CheckSize(image.size(), layout));
  const std::uint32_t stored = LoadLe32(image.data());
  const std::uint32_t computed = ComputeCrc(image, layout);
  if (stored != computed) {
    return Error(Errc::kEnvCorrupt, "U-Boot environment: CRC mismatch over " +
                                        std::to_string(image.size()) + " bytes: stored " +
                                        Hex32(stored) + ", computed " + Hex32(computed));
  }
  const std::size_t header = UbootEnvHeaderSize(layout);
  UPLIFT_ASSIGN(EnvVars vars, ParseVariables(AsChars(image.subspan(header)), header));
  UbootEnvCopy copy;
  copy.vars = std::move(vars);
  copy.flags = layout == UbootEnvLayout::kRedundant ? image[4] : 0;
  return copy;
}

Status ValidateUbootEnvVariable(std::string_view name, std::string_view value) {
  if (name.empty()) return Error(Errc::kEnvBadVariable, "U-Boot environment: empty variable name");
  if (name.find('=') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    return Error(Errc::kEnvBadVariable, "U-Boot environment: variable name '" +
                                            std::string(name.substr(0, 64)) +
                                            "' contains '=' or NUL");
  }
  if (value.find('\0') != std::string_view::npos) {
    return Error(Errc::kEnvBadVariable, "U-Boot environment: value of '" +
                                            std::string(name.substr(0, 64)) + "' contains NUL");
  }
  return Ok();
}

Result<Bytes> SerializeUbootEnv(const EnvVars& vars, std::size_t size, UbootEnvLayout layout,
                                std::uint8_t flags, std::uint8_t pad) {
  UPLIFT_TRY(CheckSize(size, layout));
  const std::size_t header = UbootEnvHeaderSize(layout);
  std::size_t needed = 1;  // the terminating empty entry
  for (const auto& [name, value] : vars) {
    UPLIFT_TRY(ValidateUbootEnvVariable(name, value));
    needed += name.size() + value.size() + 2;
  }
  if (needed > size - header) {
    return Error(Errc::kEnvTooLarge, "U-Boot environment: variables need " +
                                         std::to_string(needed) + " bytes, the copy holds " +
                                         std::to_string(size - header));
  }
  Bytes image(size, pad);
  std::size_t pos = header;
  const auto put = [&](std::string_view s) {
    std::memcpy(image.data() + pos, s.data(), s.size());
    pos += s.size();
  };
  for (const auto& [name, value] : vars) {
    put(name);
    image[pos++] = '=';
    put(value);
    image[pos++] = 0;
  }
  image[pos++] = 0;
  if (layout == UbootEnvLayout::kRedundant) image[4] = flags;
  StoreLe32(image.data(), ComputeCrc(image, layout));
  return image;
}

int SelectUbootEnvCopy(bool valid0, std::uint8_t flags0, bool valid1, std::uint8_t flags1) {
  if (!valid0 && !valid1) return -1;
  if (valid0 != valid1) return valid0 ? 0 : 1;
  if (flags0 == 0xff && flags1 == 0) return 1;
  if (flags1 == 0xff && flags0 == 0) return 0;
  return flags1 > flags0 ? 1 : 0;
}

Result<UbootEnvPair> ParseRedundantUbootEnv(ByteView copy0, ByteView copy1) {
  constexpr auto kLayout = UbootEnvLayout::kRedundant;
  if (copy0.size() != copy1.size()) {
    return Error(Errc::kEnvCorrupt, "U-Boot environment: redundant copies differ in size (" +
                                        std::to_string(copy0.size()) + " vs " +
                                        std::to_string(copy1.size()) + ")");
  }
  UPLIFT_TRY(CheckSize(copy0.size(), kLayout));
  const bool valid0 = UbootEnvCrcValid(copy0, kLayout);
  const bool valid1 = UbootEnvCrcValid(copy1, kLayout);
  const int current = SelectUbootEnvCopy(valid0, copy0[4], valid1, copy1[4]);
  if (current < 0) {
    return Error(Errc::kEnvCorrupt, "U-Boot environment: CRC mismatch in both redundant copies");
  }
  auto parsed = ParseUbootEnv(current == 0 ? copy0 : copy1, kLayout);
  if (!parsed.ok()) {
    return std::move(parsed).error().Context("copy " + std::to_string(current));
  }
  UbootEnvPair pair;
  pair.active = std::move(parsed).value();
  pair.current = current;
  pair.other_valid = current == 0 ? valid1 : valid0;
  return pair;
}

}  // namespace uplift::format
