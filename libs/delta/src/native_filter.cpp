#include "native_filter.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace uplift::delta {

Status FilteredOldReader::Configure(Filter kind, FilterRange range, std::uint64_t old_size) {
  spec_ = SpecOf(kind, range);
  old_size_ = old_size;
  for (Block& b : cache_) b.index = ~std::uint64_t{0};
  return Ok();
}

Result<const FilteredOldReader::Block*> FilteredOldReader::Get(std::uint64_t index) {
  for (const Block& b : cache_) {
    if (b.index == index) return &b;
  }
  Block& b = cache_[victim_];
  victim_ ^= 1;
  const std::uint64_t off = index * kFilterBlockSize;
  b.size = static_cast<std::size_t>(std::min<std::uint64_t>(kFilterBlockSize, old_size_ - off));
  b.index = ~std::uint64_t{0};
  UPLIFT_ASSIGN(const std::size_t got, old_.ReadAt(off, MutableByteView(b.data.data(), b.size)));
  if (got != b.size) return Error(base::Errc::kUnexpectedEof, "delta: old image shrank while reading");
  FilterEncode(spec_, off, MutableByteView(b.data.data(), b.size));
  b.index = index;
  return &b;
}

Status FilteredOldReader::Read(std::uint64_t pos, MutableByteView out) {
  if (spec_.kind == Filter::kNone || spec_.begin >= spec_.end) {
    UPLIFT_ASSIGN(const std::size_t got, old_.ReadAt(pos, out));
    if (got != out.size()) return Error(base::Errc::kUnexpectedEof, "delta: old image shrank while reading");
    return Ok();
  }
  while (!out.empty()) {
    UPLIFT_ASSIGN(const Block* b, Get(pos / kFilterBlockSize));
    const std::size_t in_block = static_cast<std::size_t>(pos % kFilterBlockSize);
    const std::size_t n = std::min(out.size(), b->size - in_block);
    std::memcpy(out.data(), b->data.data() + in_block, n);
    out = out.subspan(n);
    pos += n;
  }
  return Ok();
}

Status DecodeNewFilter(const NativeHeader& h, std::uint64_t start, MutableByteView segment) {
  if (h.filter == Filter::kNone) return Ok();
  FilterDecode(SpecOf(h.filter, h.new_filter_range), start, segment);
  return Ok();
}

}  // namespace uplift::delta
