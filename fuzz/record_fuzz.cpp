// Fuzzes the record copy decoder (raw flash bytes of the agent's journal); whatever decodes must
// re-encode to exactly the bytes it was decoded from.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "uplift/format/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const uplift::ByteView bytes(data, size);
  const auto copy = uplift::format::DecodeRecordCopy(bytes);
  if (!copy.ok()) return 0;
  const uplift::Bytes again = uplift::format::EncodeRecordCopy(copy->sequence, copy->payload);
  if (again.size() != copy->encoded_size() || again.size() > size ||
      !std::equal(again.begin(), again.end(), bytes.begin())) {
    std::abort();
  }
  return 0;
}
