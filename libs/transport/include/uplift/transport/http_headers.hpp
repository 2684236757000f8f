// Parsers for the HTTP response headers a resumable download depends on. Pure functions over
// untrusted text (fuzzed: fuzz/http_headers_fuzz.cpp); nothing here allocates by a length the
// server sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace uplift::transport {

// "HTTP/1.1 206 Partial Content" / "HTTP/2 200": the status code, if the line is a status line.
std::optional<int> ParseStatusLine(std::string_view line);

// One header line "Name: value\r\n": lower-cased name and the value without surrounding
// whitespace. nullopt for lines that are not headers (status lines, the blank line, garbage).
struct HeaderField {
  std::string name;
  std::string value;
};
std::optional<HeaderField> ParseHeaderLine(std::string_view line);

// "bytes FIRST-LAST/TOTAL" (TOTAL may be "*"). nullopt if malformed or FIRST > LAST, or
// LAST >= TOTAL.
struct ContentRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;              // inclusive
  std::optional<std::uint64_t> total;  // unknown for "*"
};
std::optional<ContentRange> ParseContentRange(std::string_view value);

// A decimal Content-Length (no sign, no spaces inside, at most 2^63 - 1).
std::optional<std::uint64_t> ParseContentLength(std::string_view value);

// Retry-After: delay-seconds or an HTTP-date (IMF-fixdate), as seconds from now_unix (a date in
// the past gives 0). nullopt if malformed.
std::optional<std::int64_t> ParseRetryAfter(std::string_view value, std::int64_t now_unix);

// A strong entity tag ("..." without W/, printable ASCII, at most kMaxValidatorLength bytes):
// usable with If-Range (RFC 9110 §13.1.5). Weak, malformed or oversized tags are not.
inline constexpr std::size_t kMaxValidatorLength = 256;
bool IsStrongEtag(std::string_view value);

}  // namespace uplift::transport
