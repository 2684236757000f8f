// Executable-aware filters (docs/formats/delta.md): before matching, the generator rewrites the
// relative displacements of calls (x86 E8, AArch64 BL) and of PC-relative data references (x86
// [rip+disp32], AArch64 ADRP) in old and new into absolute targets, so that code which merely
// moved, or whose data sections moved, differs by few repeated bytes instead of scattered ones.
// The applier decodes. The exact rules, and why each is a bijection, are in src/filter.cpp.
//
// A filter is a bijection on each aligned block of the image: block k is the bytes
// [k * kFilterBlockSize, (k + 1) * kFilterBlockSize) (the last one may be short), and an
// instruction that straddles a block edge or the code range edge is left as it is. So the applier
// can filter any block of the old image, read by random access, without touching its neighbours,
// and decode the new image block by block as it is written.
#pragma once

#include <cstdint>

#include "uplift/base/bytes.hpp"

namespace uplift::delta {

// Values are stored in patches: never renumber.
enum class Filter : std::uint8_t { kNone = 0, kX86 = 1, kArm64 = 2 };

inline constexpr std::uint32_t kFilterBlockSize = 4 * 1024;

// Which filter, and the absolute image range [begin, end) it applies to (the executable part of
// an ELF); bytes outside the range are never changed. An empty or inverted range filters nothing.
struct FilterSpec {
  Filter kind = Filter::kNone;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  friend bool operator==(const FilterSpec&, const FilterSpec&) = default;
};

// Rewrites `bytes` in place. `offset` is their absolute position in the image and must be a
// multiple of kFilterBlockSize; `bytes` must hold whole blocks, except that the last block of the
// image may be short (a block cut elsewhere is filtered differently). Aborts if offset is not
// aligned. FilterDecode(FilterEncode(x)) == x and FilterEncode(FilterDecode(x)) == x for any
// content. Unknown `kind` values (from a hostile patch) must be rejected by the parser; here they
// abort.
void FilterEncode(const FilterSpec& spec, std::uint64_t offset, MutableByteView bytes);
void FilterDecode(const FilterSpec& spec, std::uint64_t offset, MutableByteView bytes);

// Looks at a 64-bit little-endian ELF header: EM_X86_64 gives kX86, EM_AARCH64 gives kArm64, with
// the hull of the file ranges of the executable PT_LOAD segments (clipped to the image). Anything
// else, including a malformed or truncated header, gives kNone: this never fails.
FilterSpec DetectFilter(ByteView image);

}  // namespace uplift::delta
