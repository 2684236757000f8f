// Fuzzes the whole streaming bundle reader: header, signature block, manifest, chunk index,
// payload verification and zstd decoding. The trust store holds one fixed key so the signature
// path runs; most inputs stop there, so the reader is also run without a trust store.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "uplift/format/bundle_reader.hpp"

namespace {

// The key that signed the seed bundles in corpus/bundle_reader (its private half was discarded).
const char kTrustStore[] =
    R"({"format":1,"roles":{"release":{"threshold":1}},"keys":[{"id":"c7c87d2e89879d047a8152a90553ea104cfb5251777851b113f55a501772e2ef","role":"release","algorithm":"ed25519","public_key":"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAAHn72ScXsrvMj5juqHFZPKbcEvfwC8WX2brnGlynR3g=\n-----END PUBLIC KEY-----\n"}],"revoked":[]})";

void Run(const std::uint8_t* data, std::size_t size, const uplift::format::VerifyOptions& o) {
  uplift::MemorySource src(uplift::ByteView(data, size));
  auto r = uplift::format::BundleReader::Open(src, o);
  if (!r.ok()) return;
  for (std::size_t i = 0; i < r->manifest().payloads.size(); ++i) {
    uplift::NullSink sink;
    if (!r->ReadPayloadImage(sink).ok() && !r->ReadPayload(sink).ok()) return;
  }
  (void)r->Finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto trust =
      uplift::format::TrustStore::Parse(uplift::AsBytes(std::string_view(kTrustStore)));
  uplift::format::VerifyOptions none;
  Run(data, size, none);
  if (!trust.ok()) std::abort();  // the embedded store must parse, or the strict path is dead
  {
    uplift::format::VerifyOptions strict;
    strict.trust = &*trust;
    strict.now = 1'750'000'000;
    strict.hardware = "fuzz-board";
    Run(data, size, strict);
  }
  return 0;
}
