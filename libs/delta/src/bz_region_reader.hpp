// One bzip2 stream stored in a byte range of a patch, decoded on demand through a small input
// buffer. BSDIFF40 interleaves reads from three such streams, so each gets its own decoder.
// Internal to uplift::delta_apply.
#pragma once

#include <bzlib.h>

#include <array>
#include <cstdint>
#include <string>

#include "uplift/base/random_access.hpp"
#include "uplift/base/result.hpp"

namespace uplift::delta {

class BzRegionReader {
 public:
  // name ("control", "diff", "extra") prefixes every error message.
  BzRegionReader(RandomAccessSource& src, std::uint64_t offset, std::uint64_t length,
                 std::string name);
  // bz_stream's internal state points back at the stream: the object must stay in place.
  BzRegionReader(const BzRegionReader&) = delete;
  BzRegionReader& operator=(const BzRegionReader&) = delete;
  ~BzRegionReader();

  // kDecompress if bzip2 cannot allocate its state.
  Status Init();
  // Fills out completely. kTruncated if the region ends inside the stream, kCorrupt if the
  // stream ends before out is full, kDecompress on corrupt bzip2 data, the source's read errors.
  Status ReadExact(MutableByteView out);
  // Requires the stream to end exactly here: kDecompress if it still holds data (a bomb is cut
  // after one byte), kTruncated if the region ends before the end marker, kCorrupt if bytes
  // follow the end marker inside the region.
  Status Finish();

 private:
  Status Refill();
  // One decoder step; sets ended_ at the end marker.
  Status Step();

  RandomAccessSource& src_;
  std::uint64_t offset_;
  std::uint64_t length_;
  std::uint64_t consumed_ = 0;  // region bytes handed to bzip2 so far
  std::string name_;
  bz_stream strm_{};
  bool initialized_ = false;
  bool ended_ = false;
  std::array<char, 16 * 1024> in_{};
};

}  // namespace uplift::delta
