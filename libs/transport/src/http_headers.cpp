#include "uplift/transport/http_headers.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <ctime>

namespace uplift::transport {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<std::uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  if (v > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
  return v;
}

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (the only form a sender may generate).
std::optional<std::int64_t> ParseImfFixdate(std::string_view s) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT") {
    return std::nullopt;
  }
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    int v = 0;
    const auto [end, ec] = std::from_chars(s.data() + pos, s.data() + pos + len, v);
    if (ec != std::errc() || end != s.data() + pos + len) return std::nullopt;
    return v;
  };
  const auto day = num(5, 2), year = num(12, 4), hour = num(17, 2), minute = num(20, 2),
             second = num(23, 2);
  const auto month = std::find(kMonths.begin(), kMonths.end(), s.substr(8, 3));
  if (!day || !year || !hour || !minute || !second || month == kMonths.end()) return std::nullopt;
  if (*day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60 || *year < 1970) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = static_cast<int>(month - kMonths.begin());
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  return static_cast<std::int64_t>(::timegm(&tm));
}

}  // namespace

std::optional<int> ParseStatusLine(std::string_view line) {
  line = Trim(line);
  if (!line.starts_with("HTTP/")) return std::nullopt;
  const auto sp = line.find(' ');
  if (sp == std::string_view::npos || line.size() < sp + 4) return std::nullopt;
  const std::string_view code = line.substr(sp + 1, 3);
  if (line.size() > sp + 4 && line[sp + 4] != ' ') return std::nullopt;
  int v = 0;
  const auto [end, ec] = std::from_chars(code.data(), code.data() + 3, v);
  if (ec != std::errc() || end != code.data() + 3 || v < 100 || v > 599) return std::nullopt;
  return v;
}

std::optional<HeaderField> ParseHeaderLine(std::string_view line) {
  const auto colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
  const std::string_view name = line.substr(0, colon);
  if (!std::all_of(name.begin(), name.end(), IsTokenChar)) return std::nullopt;
  HeaderField f;
  f.name.resize(name.size());
  std::transform(name.begin(), name.end(), f.name.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  f.value = std::string(Trim(line.substr(colon + 1)));
  return f;
}

std::optional<ContentRange> ParseContentRange(std::string_view v) {
  v = Trim(v);
  if (!v.starts_with("bytes ")) return std::nullopt;
  v.remove_prefix(6);
  const auto dash = v.find('-');
  const auto slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) {
    return std::nullopt;
  }
  const auto first = ParseDecimal(v.substr(0, dash));
  const auto last = ParseDecimal(v.substr(dash + 1, slash - dash - 1));
  if (!first || !last || *first > *last) return std::nullopt;
  ContentRange r{*first, *last, std::nullopt};
  const std::string_view total = v.substr(slash + 1);
  if (total != "*") {
    const auto t = ParseDecimal(total);
    if (!t || *last >= *t) return std::nullopt;
    r.total = *t;
  }
  return r;
}

std::optional<std::uint64_t> ParseContentLength(std::string_view value) {
  return ParseDecimal(Trim(value));
}

std::optional<std::int64_t> ParseRetryAfter(std::string_view value, std::int64_t now_unix) {
  value = Trim(value);
  if (const auto secs = ParseDecimal(value)) return static_cast<std::int64_t>(*secs);
  if (const auto when = ParseImfFixdate(value)) return std::max<std::int64_t>(0, *when - now_unix);
  return std::nullopt;
}

bool IsStrongEtag(std::string_view v) {
  // At most 256 bytes of printable ASCII: what the agent's journal can keep (RFC 9110 also
  // allows obs-text, which a validator does not need).
  if (v.size() < 2 || v.size() > kMaxValidatorLength || v.front() != '"' || v.back() != '"') {
    return false;
  }
  const std::string_view inner = v.substr(1, v.size() - 2);
  return std::all_of(inner.begin(), inner.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == 0x21 || (u >= 0x23 && u <= 0x7e);
  });
}

}  // namespace uplift::transport
