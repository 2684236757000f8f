#include "uplift/server/http_range.hpp"

#include <array>
#include <limits>

namespace uplift::server {
namespace {

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

// 1*DIGIT, saturating at 2^64 - 1 (a huge last-pos still means "to the end").
std::optional<std::uint64_t> ParseSaturating(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (!IsDigit(c)) return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    v = v > (kMaxU64 - d) / 10 ? kMaxU64 : v * 10 + d;
  }
  return v;
}

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kWeekdays = {"Thu", "Fri", "Sat", "Sun",
                                                       "Mon", "Tue", "Wed"};  // from 1970-01-01

// Howard Hinnant's days_from_civil / civil_from_days: proleptic Gregorian, no time zone, no libc.
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void CivilFromDays(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

bool IsLeap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(std::int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

std::optional<unsigned> FixedDigits(std::string_view s, std::size_t pos, std::size_t len) {
  unsigned v = 0;
  for (std::size_t i = pos; i < pos + len; ++i) {
    if (!IsDigit(s[i])) return std::nullopt;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return v;
}

// If-Range (RFC 9110 §13.1.5): a strong ETag compared strongly, or a date equal to the file's.
bool IfRangeMatches(std::string_view value, std::string_view etag, std::int64_t mtime_unix) {
  value = TrimOws(value);
  if (value.empty()) return false;
  if (value.front() == '"') return value == etag && etag.size() >= 2;
  if (value.size() >= 2 && value[0] == 'W' && value[1] == '/') return false;
  const auto date = ParseHttpDate(value);
  return date && *date == mtime_unix;
}

}  // namespace

RangeRequest ParseRange(std::string_view value, std::uint64_t size) {
  value = TrimOws(value);
  const std::size_t eq = value.find('=');
  if (eq == std::string_view::npos || !EqualsIgnoreCase(value.substr(0, eq), "bytes")) return {};
  // range-set = 1#range-spec; empty list elements are allowed and skipped (RFC 9110 §5.6.1).
  std::string_view set = value.substr(eq + 1);
  std::optional<std::string_view> spec;
  while (!set.empty()) {
    const std::size_t comma = set.find(',');
    const std::string_view element = TrimOws(set.substr(0, comma));
    set = comma == std::string_view::npos ? std::string_view() : set.substr(comma + 1);
    if (element.empty()) continue;
    if (spec) return {};  // several ranges: served whole (see the header)
    spec = element;
  }
  if (!spec) return {};
  const std::size_t dash = spec->find('-');
  if (dash == std::string_view::npos) return {};
  const std::string_view first_text = spec->substr(0, dash);
  const std::string_view last_text = spec->substr(dash + 1);

  RangeRequest r;
  if (first_text.empty()) {  // suffix-range: the last N bytes
    const auto suffix = ParseSaturating(last_text);
    if (!suffix || size == 0) return {};
    if (*suffix == 0) return {RangeKind::kUnsatisfiable, 0, 0};
    r.first = *suffix >= size ? 0 : size - *suffix;
    r.last = size - 1;
  } else {
    const auto first = ParseSaturating(first_text);
    if (!first) return {};
    std::uint64_t last = kMaxU64;
    if (!last_text.empty()) {
      const auto parsed = ParseSaturating(last_text);
      if (!parsed || *parsed < *first) return {};  // invalid, so ignored (RFC 9110 §14.1.1)
      last = *parsed;
    }
    if (size == 0) return {};
    if (*first >= size) return {RangeKind::kUnsatisfiable, 0, 0};
    r.first = *first;
    r.last = last >= size ? size - 1 : last;
  }
  r.kind = RangeKind::kSatisfiable;
  return r;
}

std::optional<std::int64_t> ParseHttpDate(std::string_view s) {
  s = TrimOws(s);
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  bool weekday_ok = false;
  for (const auto w : kWeekdays) weekday_ok = weekday_ok || s.substr(0, 3) == w;
  unsigned month = 0;
  for (unsigned i = 0; i < kMonths.size(); ++i) {
    if (s.substr(8, 3) == kMonths[i]) month = i + 1;
  }
  const auto day = FixedDigits(s, 5, 2), year = FixedDigits(s, 12, 4), hour = FixedDigits(s, 17, 2),
             minute = FixedDigits(s, 20, 2), second = FixedDigits(s, 23, 2);
  if (!weekday_ok || month == 0 || !day || !year || !hour || !minute || !second) {
    return std::nullopt;
  }
  if (*year < 1970 || *day < 1 || *day > DaysInMonth(*year, month) || *hour > 23 || *minute > 59 ||
      *second > 60) {
    return std::nullopt;
  }
  const std::int64_t days = DaysFromCivil(*year, month, *day);
  return days * 86400 + *hour * 3600 + *minute * 60 + *second;
}

std::string FormatHttpDate(std::int64_t unix_seconds) {
  if (unix_seconds < 0) unix_seconds = 0;
  const std::int64_t days = unix_seconds / 86400;
  const std::int64_t secs = unix_seconds % 86400;
  std::int64_t year = 0;
  unsigned month = 0, day = 0;
  CivilFromDays(days, year, month, day);
  if (year > 9999) year = 9999;  // keeps the fixed width; no file is that new
  std::string out = "Thu, 01 Jan 1970 00:00:00 GMT";
  auto put = [&out](std::size_t pos, std::int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out[pos + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  const std::string_view weekday = kWeekdays[static_cast<std::size_t>(days % 7)];
  out.replace(0, 3, weekday);
  put(5, day, 2);
  out.replace(8, 3, kMonths[month - 1]);
  put(12, year, 4);
  put(17, secs / 3600, 2);
  put(20, secs / 60 % 60, 2);
  put(23, secs % 60, 2);
  return out;
}

bool IfNoneMatchMatches(std::string_view value, std::string_view etag) {
  value = TrimOws(value);
  if (value == "*") return true;
  std::size_t pos = 0;
  while (pos < value.size()) {
    while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t' || value[pos] == ',')) {
      ++pos;
    }
    if (pos == value.size()) break;
    if (value.compare(pos, 2, "W/") == 0) pos += 2;
    if (pos >= value.size() || value[pos] != '"') return false;
    const std::size_t close = value.find('"', pos + 1);
    if (close == std::string_view::npos) return false;
    if (value.substr(pos, close - pos + 1) == etag) return true;
    pos = close + 1;
    while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t')) ++pos;
    if (pos < value.size() && value[pos] != ',') return false;
  }
  return false;
}

FileDecision EvaluateFileRequest(const FileConditions& c, std::uint64_t size, std::string_view etag,
                                 std::int64_t mtime_unix) {
  const FileDecision whole{200, 0, size};
  if (c.if_none_match) {
    if (IfNoneMatchMatches(*c.if_none_match, etag)) return {304, 0, 0};
  } else if (c.if_modified_since) {
    const auto since = ParseHttpDate(*c.if_modified_since);
    if (since && mtime_unix <= *since) return {304, 0, 0};
  }
  if (c.head || !c.range) return whole;
  if (c.if_range && !IfRangeMatches(*c.if_range, etag, mtime_unix)) return whole;
  const RangeRequest r = ParseRange(*c.range, size);
  switch (r.kind) {
    case RangeKind::kIgnore:
      return whole;
    case RangeKind::kUnsatisfiable:
      return {416, 0, 0};
    case RangeKind::kSatisfiable:
      return {206, r.first, r.last - r.first + 1};
  }
  return whole;
}

}  // namespace uplift::server
