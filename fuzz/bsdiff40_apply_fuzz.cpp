// Fuzzes the streaming BSDIFF40 applier: header, control triples, the three bzip2 decoders and
// the old-image reads. Input layout: byte 0 = old image length L (0..255), the next L bytes are
// the old image, the rest is the patch. A short input gives a shorter old image.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "uplift/delta/bsdiff40.hpp"

namespace {

// Counts what it is given, so an overlong write is a crash, not a silent pass.
class CountingSink final : public uplift::ByteSink {
 public:
  uplift::Status Write(uplift::ByteView data) override {
    written += data.size();
    return uplift::Ok();
  }
  std::uint64_t written = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t old_len = std::min<std::size_t>(data[0], size - 1);
  uplift::MemoryRandomAccess old_image(uplift::ByteView(data + 1, old_len));
  uplift::MemoryRandomAccess patch(uplift::ByteView(data + 1 + old_len, size - 1 - old_len));
  constexpr std::uint64_t kMaxNew = 1 << 20;
  CountingSink out;
  const uplift::Status st = uplift::delta::ApplyBsdiff40(old_image, patch, out, kMaxNew);
  const auto header = uplift::delta::ReadBsdiff40Header(patch);
  if (out.written > kMaxNew) std::abort();
  if (header.ok() && out.written > header->new_size) std::abort();
  if (st.ok() && (!header.ok() || out.written != header->new_size)) std::abort();
  return 0;
}
