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
  // Suffixes are sorted, so all suffixes starting with the same k-byte prefix form one run of
  // the suffix array: bucket_[p] is the first index of prefix p's run. A search starts inside
  // its target's run (a few steps) instead of over the whole array (~28 cache misses).
  std::uint32_t Key(const std::uint8_t* p, Index len) const;

  ByteView old_;
  std::vector<saidx_t> sa_;  // sa_[0] is the empty suffix, as bsdiff's search() expects
  int prefix_bytes_ = 0;     // 2 or 3
  std::vector<std::uint32_t> bucket_;
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
