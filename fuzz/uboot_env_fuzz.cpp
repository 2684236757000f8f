// Fuzzes the U-Boot environment codec: one copy in either layout and a redundant pair. Random
// bytes almost never carry a good CRC, so the first byte can ask for the CRC to be fixed up first
// and the variable parser gets the fuzzer's attention. Whatever parses must serialise and parse
// back to the same variables and flags.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "uplift/crypto/crc.hpp"
#include "uplift/format/uboot_env.hpp"

namespace {

using uplift::format::UbootEnvLayout;

void RoundTrip(uplift::ByteView image, UbootEnvLayout layout) {
  const auto parsed = uplift::format::ParseUbootEnv(image, layout);
  if (!parsed.ok()) return;
  const auto again =
      uplift::format::SerializeUbootEnv(parsed->vars, image.size(), layout, parsed->flags, 0xff);
  if (!again.ok()) std::abort();  // everything that parses fits in the same size
  const auto reparsed = uplift::format::ParseUbootEnv(*again, layout);
  if (!reparsed.ok() || reparsed->vars != parsed->vars || reparsed->flags != parsed->flags) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t mode = data[0];
  uplift::Bytes image(data + 1, data + size);
  const auto layout = (mode & 1) ? UbootEnvLayout::kRedundant : UbootEnvLayout::kSingle;
  const std::size_t header = uplift::format::UbootEnvHeaderSize(layout);
  if ((mode & 2) && image.size() >= header) {
    uplift::StoreLe32(image.data(), uplift::crypto::Crc32(uplift::ByteView(image).subspan(header)));
  }
  RoundTrip(image, layout);
  if ((mode & 4) && image.size() % 2 == 0) {
    const uplift::ByteView all(image);
    const auto pair = uplift::format::ParseRedundantUbootEnv(all.first(image.size() / 2),
                                                             all.subspan(image.size() / 2));
    if (pair.ok() && (pair->current < 0 || pair->current > 1)) std::abort();
  }
  return 0;
}
