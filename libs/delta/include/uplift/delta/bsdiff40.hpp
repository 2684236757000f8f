// The classic BSDIFF40 patch format of bsdiff/bspatch 4.3, read and applied in bounded memory.
//
// Layout (all integers 8-byte sign-magnitude: magnitude little-endian in bits 0..62, sign in
// bit 63 — not two's complement):
//   0  "BSDIFF40"
//   8  ctrl_len   length of the bzip2'd control block
//   16 diff_len   length of the bzip2'd diff block
//   24 new_size   size of the new image
//   32 control block: bzip2 of triples (add, copy, seek)
//   32+ctrl_len diff block: bzip2 of bytes added to old bytes
//   32+ctrl_len+diff_len .. end of file: extra block, bzip2 of bytes copied verbatim
// Applying a triple: new[n..n+add) = diff bytes + old[o..o+add) (old bytes outside the old image
// count as 0, as in bspatch); then `copy` extra bytes; then o += seek.
#pragma once

#include <cstdint>
#include <string_view>

#include "uplift/base/bytes.hpp"
#include "uplift/base/io.hpp"
#include "uplift/base/random_access.hpp"
#include "uplift/base/result.hpp"
#include "uplift/delta/errors.hpp"

namespace uplift::delta {

inline constexpr std::string_view kBsdiff40Magic = "BSDIFF40";
inline constexpr std::size_t kBsdiff40HeaderSize = 32;

// Sign-magnitude, as bsdiff's offtout/offtin. Store requires v > INT64_MIN.
void StoreSignMagnitude64(std::uint8_t* p, std::int64_t v);
std::int64_t LoadSignMagnitude64(const std::uint8_t* p);

struct Bsdiff40Header {
  std::uint64_t ctrl_len = 0;
  std::uint64_t diff_len = 0;
  std::uint64_t new_size = 0;
};

// Reads and validates the 32-byte header. kBadMagic if the bytes present are not "BSDIFF40",
// kTruncated if the patch is shorter than the header or than 32 + ctrl_len + diff_len,
// kCorrupt if a length is negative; base::Errc::kIo if reading fails.
[[nodiscard]] Result<Bsdiff40Header> ReadBsdiff40Header(RandomAccessSource& patch);

// Rebuilds the new image from old_image and patch, writing it to out front to back.
// Memory is constant (three bzip2 decoders and two 64 KiB blocks); nothing is sized by a patch
// value, and out never receives more than the header's new_size bytes, even on failure.
// Fails with: any ReadBsdiff40Header error; kTooLarge if new_size > max_new_size (before any
// output) or the old image is above 2^62 bytes; kCorrupt for a negative add/copy length or bytes
// after a stream's end; kOutOfRange if an add/copy passes new_size or the old position leaves
// ±2^62; kTruncated if a stream's region ends first; kDecompress if a bzip2 stream is corrupt or
// holds more data than the controls consume (a bomb is stopped after one extra byte); and the
// errors of old_image, patch and out. After a failure, out holds a prefix of garbage the caller
// must discard.
[[nodiscard]] Status ApplyBsdiff40(RandomAccessSource& old_image, RandomAccessSource& patch,
                                   ByteSink& out, std::uint64_t max_new_size);

}  // namespace uplift::delta
