// bsdiff's matcher, shared by the BSDIFF40 and native generators: a suffix array of the old image
// (libdivsufsort) and Colin Percival's scan, which turns the new image into ops of
// "add diff bytes to old bytes, copy literal bytes, seek in old".
#pragma once

#include <divsufsort.h>

#include <cstdint>
#include <vector>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"

namespace uplift::delta::matcher {

using Index = std::int64_t;

class MatchIndex {
 public:
  // kTooLarge if old is 2 GiB or more (32-bit suffix array).
  static Result<MatchIndex> Build(ByteView old_image);
  // Longest prefix of target found in old (binary search of the suffix array); *pos is where.
  Index Search(const std::uint8_t* target, Index target_len, Index* pos) const;
  ByteView old() const { return old_; }

 private:
  ByteView old_;
  std::vector<saidx_t> sa_;  // sa_[0] is the empty suffix, as bsdiff's search() expects
};

struct ScanOp {
  Index add = 0;
  Index copy = 0;
  Index seek = 0;
};

struct ScanOutput {
  Index old_start = 0;  // old position of the first op
  std::vector<ScanOp> ops;
  Bytes diff;
  Bytes extra;
};

// Scans new_image[begin, end) (matches never extend past end) and appends the ops that rebuild
// it. The old position starts at min(begin, old size): images of similar layout align there.
void ScanRange(const MatchIndex& index, ByteView new_image, Index begin, Index end, ScanOutput& out);

}  // namespace uplift::delta::matcher
