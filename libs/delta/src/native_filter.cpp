#include "native_filter.hpp"

#include <algorithm>
#include <cstring>

namespace uplift::delta {

void OldImageCache::Configure(Filter kind, FilterRange range, std::uint64_t old_size) {
  spec_ = SpecOf(kind, range);
  old_size_ = old_size;
  tags_.assign(kPages, 0);
  data_.assign(kPages * kFilterBlockSize, 0);
}

Result<const std::uint8_t*> OldImageCache::Page(std::uint64_t index, std::size_t* size) {
  const std::size_t slot = static_cast<std::size_t>(index % kPages);
  std::uint8_t* page = data_.data() + slot * kFilterBlockSize;
  const std::uint64_t off = index * kFilterBlockSize;
  *size = static_cast<std::size_t>(std::min<std::uint64_t>(kFilterBlockSize, old_size_ - off));
  if (tags_[slot] == index + 1) return page;
  tags_[slot] = 0;
  UPLIFT_ASSIGN(const std::size_t got, old_.ReadAt(off, MutableByteView(page, *size)));
  if (got != *size)
    return Error(base::Errc::kUnexpectedEof, "delta: old image shrank while reading");
  FilterEncode(spec_, off, MutableByteView(page, *size));
  tags_[slot] = index + 1;
  return page;
}

Status OldImageCache::Read(std::uint64_t pos, MutableByteView out) {
  while (!out.empty()) {
    std::size_t size = 0;
    UPLIFT_ASSIGN(const std::uint8_t* page, Page(pos / kFilterBlockSize, &size));
    const auto in_page = static_cast<std::size_t>(pos % kFilterBlockSize);
    const std::size_t n = std::min(out.size(), size - in_page);
    std::memcpy(out.data(), page + in_page, n);
    out = out.subspan(n);
    pos += n;
  }
  return Ok();
}

void DecodeNewFilter(const NativeHeader& h, std::uint64_t start, MutableByteView segment) {
  if (h.filter == Filter::kNone) return;
  FilterDecode(SpecOf(h.filter, h.new_filter_range), start, segment);
}

}  // namespace uplift::delta
