// How the native applier sees images through an executable filter: the old image filtered block
// by block on demand (random access, a two-block cache), the new image decoded per segment.
#pragma once

#include <array>
#include <cstdint>

#include "uplift/base/random_access.hpp"
#include "uplift/base/result.hpp"
#include "uplift/delta/filter.hpp"
#include "uplift/delta/native.hpp"

namespace uplift::delta {

inline FilterSpec SpecOf(Filter kind, FilterRange r) { return {kind, r.begin, r.end}; }

class FilteredOldReader {
 public:
  explicit FilteredOldReader(RandomAccessSource& old) : old_(old) {}
  Status Configure(Filter kind, FilterRange range, std::uint64_t old_size);
  // Reads old[pos, pos + out.size()) as the generator saw it (filtered); the range must lie in
  // the old image (the caller validated it).
  Status Read(std::uint64_t pos, MutableByteView out);

 private:
  struct Block {
    std::uint64_t index = ~std::uint64_t{0};
    std::size_t size = 0;
    std::array<std::uint8_t, kFilterBlockSize> data{};
  };
  Result<const Block*> Get(std::uint64_t index);

  RandomAccessSource& old_;
  FilterSpec spec_;
  std::uint64_t old_size_ = 0;
  std::array<Block, 2> cache_;
  std::size_t victim_ = 0;
};

// Undoes the filter on one segment of the new image (start is a multiple of the block size).
Status DecodeNewFilter(const NativeHeader& h, std::uint64_t start, MutableByteView segment);

}  // namespace uplift::delta
