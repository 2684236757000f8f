// The canonical JSON encoding signed manifests use: RFC 8785 (JCS) restricted to integers.
//
// Restricting numbers to integers of magnitude below 2^53 makes the JCS number rule trivial
// (decimal digits, no exponent) and avoids floating point entirely. Object keys must be ASCII, so
// JCS's UTF-16 key order equals byte order. See docs/formats/bundle.md §Canonical JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"
#include "uplift/format/errors.hpp"

namespace uplift::format {

using Json = nlohmann::json;

inline constexpr int kMaxJsonDepth = 8;
inline constexpr std::int64_t kMaxJsonInteger = (1LL << 53) - 1;

// Parses bytes that must be exactly the canonical encoding of their value.
// kMalformedManifest: not JSON, invalid UTF-8, nesting deeper than max_depth, a non-integer or
// out-of-range number, a non-ASCII key. kNonCanonical: valid, but not byte-identical to the
// canonical re-encoding (whitespace, key order, escapes, duplicate keys, ...).
Result<Json> ParseCanonicalJson(ByteView bytes, int max_depth = kMaxJsonDepth);

// Canonical encoding of a value that obeys the restrictions above (aborts on a float: a bug).
std::string CanonicalJson(const Json& value);

}  // namespace uplift::format
