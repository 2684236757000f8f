#include "uplift/format/grub_env.hpp"

#include "uplift/format/errors.hpp"

namespace uplift::format {
namespace {

Error Corrupt(std::size_t offset, std::string_view what) {
  return Error(Errc::kEnvCorrupt, "GRUB environment block: " + std::string(what) + " at offset " +
                                      std::to_string(offset));
}

}  // namespace

Result<EnvVars> ParseGrubEnv(ByteView block) {
  if (block.size() > kGrubEnvMaxSize) {
    return Error(Errc::kEnvCorrupt, "GRUB environment block of " + std::to_string(block.size()) +
                                        " bytes exceeds " + std::to_string(kGrubEnvMaxSize));
  }
  const std::string_view text = AsChars(block);
  if (!text.starts_with(kGrubEnvSignature)) {
    return Error(Errc::kEnvCorrupt, "GRUB environment block: missing signature line '" +
                                        std::string(kGrubEnvSignature.substr(0, 24)) + "'");
  }
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    return Corrupt(nul, "NUL byte");
  }
  EnvVars vars;
  std::size_t pos = kGrubEnvSignature.size();
  while (pos < text.size()) {
    if (text[pos] == '#') {
      const std::size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) break;  // the padding runs to the end
      pos = nl + 1;
      continue;
    }
    const std::size_t line = pos;
    const std::size_t eq = text.find_first_of("=\n", pos);
    if (eq == std::string_view::npos || text[eq] != '=') return Corrupt(line, "line without '='");
    if (eq == line) return Corrupt(line, "empty variable name");
    std::string value;
    pos = eq + 1;
    for (;;) {
      if (pos >= text.size()) return Corrupt(line, "value without terminating newline");
      const char c = text[pos];
      if (c == '\n') break;
      if (c == '\\') {
        if (++pos >= text.size()) return Corrupt(line, "backslash at the end of the block");
      }
      value += text[pos++];
    }
    ++pos;  // the newline
    vars.insert_or_assign(std::string(text.substr(line, eq - line)), std::move(value));
  }
  return vars;
}

Status ValidateGrubEnvVariable(std::string_view name, std::string_view value) {
  if (name.empty()) return Error(Errc::kEnvBadVariable, "GRUB environment: empty variable name");
  if (name.front() == '#' || name.find_first_of(std::string_view("=\n\0", 3)) != name.npos) {
    return Error(Errc::kEnvBadVariable, "GRUB environment: variable name '" +
                                            std::string(name.substr(0, 64)) +
                                            "' starts with '#' or contains '=', newline or NUL");
  }
  if (value.find('\0') != std::string_view::npos) {
    return Error(Errc::kEnvBadVariable, "GRUB environment: value of '" +
                                            std::string(name.substr(0, 64)) + "' contains NUL");
  }
  return Ok();
}

Result<Bytes> SerializeGrubEnv(const EnvVars& vars, std::size_t size) {
  const std::size_t min = kGrubEnvSignature.size() + kGrubEnvWarning.size();
  if (size < min || size > kGrubEnvMaxSize) {
    return Error(Errc::kEnvTooLarge, "GRUB environment block size " + std::to_string(size) +
                                         " outside [" + std::to_string(min) + ", " +
                                         std::to_string(kGrubEnvMaxSize) + "]");
  }
  std::size_t needed = min;
  for (const auto& [name, value] : vars) {
    UPLIFT_TRY(ValidateGrubEnvVariable(name, value));
    needed += name.size() + value.size() + 2;
    for (const char c : value) needed += (c == '\\' || c == '\n') ? 1 : 0;
  }
  if (needed > size) {
    return Error(Errc::kEnvTooLarge, "GRUB environment: variables need " + std::to_string(needed) +
                                         " bytes, the block holds " + std::to_string(size));
  }
  std::string text;
  text.reserve(size);
  text += kGrubEnvSignature;
  text += kGrubEnvWarning;
  for (const auto& [name, value] : vars) {
    text += name;
    text += '=';
    for (const char c : value) {
      if (c == '\\' || c == '\n') text += '\\';
      text += c;
    }
    text += '\n';
  }
  text.append(size - text.size(), '#');
  const ByteView bytes = AsBytes(text);
  return Bytes(bytes.begin(), bytes.end());
}

}  // namespace uplift::format
