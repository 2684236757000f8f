// Range and conditional requests for files (RFC 9110 §13 and §14) as pure functions over header
// values, so the decision table is unit-tested and fuzzed (fuzz/http_range_fuzz.cpp) without a
// socket. Every input is untrusted text; nothing here allocates by a length it contains.
//
// Deliberate choices (docs/server-http.md):
// - One range only. A Range with several ranges is ignored (200 with the whole file): artifacts
//   are fetched sequentially and multipart/byteranges would only add attack surface.
// - Range applies to GET only (RFC 9110 §14.2); HEAD answers 200 with the full length.
// - A syntactically invalid Range, another unit, or a zero-length file: Range ignored (200).
// - Dates: IMF-fixdate only; an unparsable If-Modified-Since / If-Range date is ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace uplift::server {

enum class RangeKind {
  kIgnore,         // absent, malformed, another unit, several ranges, empty file: send 200
  kSatisfiable,    // one range overlapping the file: send 206 with `first..last`
  kUnsatisfiable,  // one valid range starting at or beyond the end: send 416
};

struct RangeRequest {
  RangeKind kind = RangeKind::kIgnore;
  std::uint64_t first = 0;  // inclusive, clamped to the file for kSatisfiable
  std::uint64_t last = 0;   // inclusive, < size for kSatisfiable
};

// A Range header value ("bytes=0-99", "bytes=100-", "bytes=-500") against a file of `size`
// bytes. Numbers too large for 64 bits saturate (so "bytes=0-99999999999999999999" is the
// whole file, not an error).
RangeRequest ParseRange(std::string_view value, std::uint64_t size);

// An HTTP-date in IMF-fixdate form ("Sun, 06 Nov 1994 08:49:37 GMT") as Unix seconds; nullopt
// for anything else (including the obsolete RFC 850 and asctime forms).
std::optional<std::int64_t> ParseHttpDate(std::string_view value);
// Unix seconds as IMF-fixdate (29 characters). Times before 1970 print as the epoch.
std::string FormatHttpDate(std::int64_t unix_seconds);

// If-None-Match: true when `etag` (a strong tag with quotes) is in the list, compared weakly
// (W/"x" matches "x"), or the value is "*". A malformed list matches nothing.
bool IfNoneMatchMatches(std::string_view header_value, std::string_view etag);

// The request headers a file response depends on (values as received; nullopt when absent).
struct FileConditions {
  bool head = false;
  std::optional<std::string_view> range;
  std::optional<std::string_view> if_range;
  std::optional<std::string_view> if_none_match;
  std::optional<std::string_view> if_modified_since;
};

struct FileDecision {
  int status = 200;          // 200, 206, 304 or 416
  std::uint64_t offset = 0;  // the bytes to send for 200/206 (HEAD: their length is announced)
  std::uint64_t length = 0;
};

// RFC 9110 §13.2.2 order: If-None-Match (match: 304), else If-Modified-Since (not modified since:
// 304); then Range, honoured only if If-Range is absent or matches (a strong ETag compared
// strongly, or a date equal to mtime_unix), else the whole file.
FileDecision EvaluateFileRequest(const FileConditions& conditions, std::uint64_t size,
                                 std::string_view etag, std::int64_t mtime_unix);

}  // namespace uplift::server
