// How the native applier sees the old image: through a small page cache (bsdiff ops jump around
// the old image a few bytes at a time; a read per op would be a syscall, or with a filter a whole
// block filtered again), each page filtered once when loaded. The new image is un-filtered per
// segment.
#pragma once

#include <cstdint>
#include <vector>

#include "uplift/base/random_access.hpp"
#include "uplift/base/result.hpp"
#include "uplift/delta/filter.hpp"
#include "uplift/delta/native.hpp"

namespace uplift::delta {

inline FilterSpec SpecOf(Filter kind, FilterRange r) { return {kind, r.begin, r.end}; }

class OldImageCache {
 public:
  // 256 pages of one filter block (4 KiB): 1 MiB, direct-mapped.
  static constexpr std::size_t kPages = 256;

  explicit OldImageCache(RandomAccessSource& old) : old_(old) {}
  void Configure(Filter kind, FilterRange range, std::uint64_t old_size);
  // Reads old[pos, pos + out.size()) as the generator saw it (filtered); the range must lie in
  // the old image (the caller validated it).
  Status Read(std::uint64_t pos, MutableByteView out);

 private:
  Result<const std::uint8_t*> Page(std::uint64_t index, std::size_t* size);

  RandomAccessSource& old_;
  FilterSpec spec_;
  std::uint64_t old_size_ = 0;
  std::vector<std::uint64_t> tags_;  // page index + 1 held by each slot (0 = empty)
  std::vector<std::uint8_t> data_;
};

// Undoes the filter on one segment of the new image (start is a multiple of the block size).
void DecodeNewFilter(const NativeHeader& h, std::uint64_t start, MutableByteView segment);

}  // namespace uplift::delta
