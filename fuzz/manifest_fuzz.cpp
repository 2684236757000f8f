// Fuzzes the canonical JSON parser and the manifest schema; a manifest that parses must
// serialise back to exactly the input bytes (canonical means one encoding per value).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "uplift/format/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const uplift::ByteView bytes(data, size);
  const auto m = uplift::format::ParseManifest(bytes);
  if (!m.ok()) return 0;
  // Unknown non-critical fields are legal and not re-emitted, so compare only when none exist.
  const auto j = uplift::format::ParseCanonicalJson(bytes);
  if (!j.ok()) std::abort();
  const auto again = uplift::format::SerializeManifest(*m);
  if (!again.ok()) std::abort();  // the writer must accept whatever the reader accepted
  if (*j == uplift::format::ManifestToJson(*m) && *again != uplift::AsChars(bytes)) std::abort();
  return 0;
}
