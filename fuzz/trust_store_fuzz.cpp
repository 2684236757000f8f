// Fuzzes the trust store parser; whatever parses must survive a serialise/parse round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "uplift/format/trust_store.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto ts = uplift::format::TrustStore::Parse(uplift::ByteView(data, size));
  if (!ts.ok()) return 0;
  const std::string text = ts->Serialize();
  const auto again = uplift::format::TrustStore::Parse(uplift::AsBytes(text));
  if (!again.ok() || again->Serialize() != text) std::abort();
  return 0;
}
