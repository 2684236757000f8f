// Fuzzes the response-header parsers a resumable download trusts: status line, header lines,
// Content-Range, Content-Length, Retry-After (seconds and IMF-fixdate) and entity tags.
// Invariants: a parsed Content-Range has first <= last < total.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "uplift/transport/http_headers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace uplift::transport;  // NOLINT(google-build-using-namespace)
  if (const auto s = ParseStatusLine(text); s && (*s < 100 || *s > 599)) std::abort();
  if (const auto h = ParseHeaderLine(text); h && h->name.empty()) std::abort();
  if (const auto r = ParseContentRange(text)) {
    if (r->first > r->last) std::abort();
    if (r->total && r->last >= *r->total) std::abort();
  }
  (void)ParseContentLength(text);
  if (const auto ra = ParseRetryAfter(text, 1'700'000'000); ra && *ra < 0) std::abort();
  (void)IsStrongEtag(text);
  return 0;
}
