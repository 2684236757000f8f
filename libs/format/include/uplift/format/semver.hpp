// Semantic Versioning 2.0.0 (https://semver.org): parsing and precedence.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace uplift::format {

struct SemVer {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers after '-'
  std::vector<std::string> build;       // dot-separated identifiers after '+'

  // Strict SemVer 2.0.0: no leading zeros in numeric parts, non-empty identifiers of
  // [0-9A-Za-z-], at most 128 characters, numbers below 2^53. nullopt on anything else.
  static std::optional<SemVer> Parse(std::string_view text);
  std::string ToString() const;

  // Precedence as the spec defines it: build metadata is ignored, a pre-release is lower than
  // its release, identifiers compare numerically when both are numeric.
  std::strong_ordering Compare(const SemVer& other) const;
};

}  // namespace uplift::format
