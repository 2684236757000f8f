// Fuzzes the native delta applier (push style, fed in uneven pieces): header, segment headers,
// control varints, both stream codecs, filters and old-image reads. Input layout: byte 0 = old
// image length L (0..255), the next L bytes are the old image, the rest is the patch. The source
// hash check is off so the fuzzer can reach the segments with any old image.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "uplift/delta/native.hpp"

namespace {

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
  const uplift::ByteView patch(data + 1 + old_len, size - 1 - old_len);
  constexpr std::uint64_t kMaxNew = 1 << 22;
  uplift::delta::NativeApplyOptions options;
  options.verify_source = false;
  options.max_new_size = kMaxNew;
  CountingSink out;
  uplift::delta::NativeApplier applier(old_image, out, options);
  // Uneven pieces exercise every state boundary of the push parser.
  uplift::Status st = uplift::Ok();
  for (std::size_t i = 0, step = 1; i < patch.size() && st.ok(); i += step, step = step * 3 % 1000 + 1) {
    st = applier.Write(patch.subspan(i, std::min(step, patch.size() - i)));
  }
  if (st.ok()) st = applier.Finish();
  if (out.written > kMaxNew) std::abort();
  if (applier.header() && out.written > applier.header()->new_size) std::abort();
  if (st.ok() && (!applier.header() || out.written != applier.header()->new_size)) std::abort();
  return 0;
}
