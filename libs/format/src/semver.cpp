#include "uplift/format/semver.hpp"

#include <algorithm>
#include <tuple>

namespace uplift::format {
namespace {

constexpr std::size_t kMaxLength = 128;
constexpr std::uint64_t kMaxNumber = (1ULL << 53) - 1;

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsIdentChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

std::optional<std::uint64_t> ParseNumber(std::string_view s) {
  if (!IsDigits(s) || (s.size() > 1 && s[0] == '0') || s.size() > 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  if (v > kMaxNumber) return std::nullopt;
  return v;
}

std::optional<std::vector<std::string>> ParseIdents(std::string_view s, bool numeric_no_zeros) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = s.find('.', start);
    const std::string_view id =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (id.empty() || !std::all_of(id.begin(), id.end(), IsIdentChar)) return std::nullopt;
    if (numeric_no_zeros && IsDigits(id) && id.size() > 1 && id[0] == '0') return std::nullopt;
    out.emplace_back(id);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& ids) {
  std::string s;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) s += '.';
    s += ids[i];
  }
  return s;
}

}  // namespace

std::optional<SemVer> SemVer::Parse(std::string_view text) {
  if (text.empty() || text.size() > kMaxLength) return std::nullopt;
  SemVer v;
  std::string_view core = text;
  if (const auto plus = core.find('+'); plus != std::string_view::npos) {
    auto build = ParseIdents(core.substr(plus + 1), /*numeric_no_zeros=*/false);
    if (!build) return std::nullopt;
    v.build = std::move(*build);
    core = core.substr(0, plus);
  }
  if (const auto dash = core.find('-'); dash != std::string_view::npos) {
    auto pre = ParseIdents(core.substr(dash + 1), /*numeric_no_zeros=*/true);
    if (!pre) return std::nullopt;
    v.prerelease = std::move(*pre);
    core = core.substr(0, dash);
  }
  const auto d1 = core.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  const auto d2 = core.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  const auto major = ParseNumber(core.substr(0, d1));
  const auto minor = ParseNumber(core.substr(d1 + 1, d2 - d1 - 1));
  const auto patch = ParseNumber(core.substr(d2 + 1));
  if (!major || !minor || !patch) return std::nullopt;
  v.major = *major;
  v.minor = *minor;
  v.patch = *patch;
  return v;
}

std::string SemVer::ToString() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  if (!prerelease.empty()) s += "-" + Join(prerelease);
  if (!build.empty()) s += "+" + Join(build);
  return s;
}

std::strong_ordering SemVer::Compare(const SemVer& o) const {
  if (auto c = std::tie(major, minor, patch) <=> std::tie(o.major, o.minor, o.patch); c != 0) {
    return c;
  }
  // A version without pre-release identifiers has higher precedence.
  if (prerelease.empty() || o.prerelease.empty()) {
    return prerelease.empty() <=> o.prerelease.empty();
  }
  const std::size_t n = std::min(prerelease.size(), o.prerelease.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& a = prerelease[i];
    const std::string& b = o.prerelease[i];
    const bool an = IsDigits(a);
    const bool bn = IsDigits(b);
    if (an && bn) {
      // Numeric identifiers have no leading zeros, so length then lexical order is numeric order.
      if (auto c = a.size() <=> b.size(); c != 0) return c;
      if (auto c = a <=> b; c != 0) return c;
    } else if (an != bn) {
      return an ? std::strong_ordering::less : std::strong_ordering::greater;
    } else if (auto c = a <=> b; c != 0) {
      return c;
    }
  }
  return prerelease.size() <=> o.prerelease.size();
}

}  // namespace uplift::format
