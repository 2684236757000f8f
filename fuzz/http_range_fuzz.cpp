// Fuzzes the Beast-free request parsing the server trusts: Range against several file sizes,
// the conditional-request decision, HTTP dates, If-None-Match lists, request-target splitting,
// percent-decoding, query parameters and route matching.
// Invariants: a satisfiable range and a 206 decision lie inside the file; a 200 sends it whole;
// decoding never grows the text; a parsed date formats back to the same instant; matched route
// parameters are non-empty segments.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string_view>

#include "uplift/server/http_range.hpp"
#include "uplift/server/http_route.hpp"

namespace {

using namespace uplift::server;  // NOLINT(google-build-using-namespace)

void CheckRanges(std::string_view text) {
  for (const std::uint64_t size :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{100}, std::uint64_t{1} << 40,
        std::numeric_limits<std::uint64_t>::max()}) {
    const RangeRequest r = ParseRange(text, size);
    if (r.kind == RangeKind::kSatisfiable && (r.first > r.last || r.last >= size)) std::abort();
  }
}

void CheckConditions(std::string_view text) {
  // Lines: Range, If-Range, If-None-Match, If-Modified-Since (each optional).
  FileConditions c;
  std::optional<std::string_view>* fields[] = {&c.range, &c.if_range, &c.if_none_match,
                                               &c.if_modified_since};
  for (auto* field : fields) {
    if (text.empty()) break;
    const std::size_t nl = text.find('\n');
    *field = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  for (const bool head : {false, true}) {
    c.head = head;
    for (const std::uint64_t size : {std::uint64_t{0}, std::uint64_t{1000}}) {
      const FileDecision d = EvaluateFileRequest(c, size, "\"abc\"", 784111777);
      if (d.status == 206 && (head || d.length == 0 || d.offset + d.length > size)) std::abort();
      if (d.status == 200 && (d.offset != 0 || d.length != size)) std::abort();
      if (d.status != 200 && d.status != 206 && d.status != 304 && d.status != 416) std::abort();
    }
  }
}

void CheckRouting(std::string_view text) {
  if (const auto date = ParseHttpDate(text); date && ParseHttpDate(FormatHttpDate(*date)) != date) {
    std::abort();
  }
  (void)IfNoneMatchMatches(text, "\"abc\"");
  for (const bool plus : {false, true}) {
    if (const auto d = PercentDecode(text, plus); d && d->size() > text.size()) std::abort();
  }
  (void)FindQueryParam(text, "tenant");
  static const RoutePattern kPattern = *RoutePattern::Parse("/api/{kind}/v1/{id}");
  if (const auto parts = SplitTarget(text)) {
    if (parts->path.empty() || parts->path.front() != '/') std::abort();
    RouteParams params;
    if (kPattern.Match(parts->path, &params)) {
      if (params.size() != 2 || params[0].second.empty() || params[1].second.empty()) std::abort();
    }
  }
  if (const auto pattern = RoutePattern::Parse(text)) (void)pattern->Match(text, nullptr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckRanges(text);
  CheckConditions(text);
  CheckRouting(text);
  return 0;
}
