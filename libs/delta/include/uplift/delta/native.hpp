// Uplift's native delta format ("UPLIFT-DELTA v1", docs/formats/delta.md), applier side.
//
// Built for devices: the old image is read by random access, the patch is consumed front to back
// in pieces of any size (push style, so it can be fed straight from a bundle reader or a
// download), and the new image is written front to back into a sink (an inactive slot). Memory is
// bounded by a constant (< 16 MiB) whatever the image sizes: the new image is produced in
// independent segments of at most 4 MiB, each with its own compressed control/diff/extra
// streams. Each segment boundary is a restart point: an interrupted apply resumes at a segment
// instead of starting over.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "uplift/base/bytes.hpp"
#include "uplift/base/io.hpp"
#include "uplift/base/random_access.hpp"
#include "uplift/base/result.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/delta/errors.hpp"
#include "uplift/delta/filter.hpp"

namespace uplift::delta {

inline constexpr std::size_t kNativeHeaderSize = 160;
inline constexpr std::uint32_t kNativeMaxSegmentSize = 4u << 20;

// Which bytes of an image a filter transforms: [begin, end) (the executable segment of an ELF).
struct FilterRange {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

struct NativeHeader {
  std::uint64_t old_size = 0;
  std::uint64_t new_size = 0;
  crypto::Sha256Digest old_sha256{};
  crypto::Sha256Digest new_sha256{};
  std::uint32_t segment_size = 0;   // new-image bytes per segment (the last may be shorter)
  std::uint32_t segment_count = 0;  // ceil(new_size / segment_size)
  Filter filter = Filter::kNone;
  FilterRange old_filter_range;  // where the filter applies in the old image
  FilterRange new_filter_range;  // ... and in the new one
  std::uint8_t compression = 2;  // 1 = zstd, 2 = raw LZMA2 (4 MiB dictionary)
};

// True if the bytes start with the native magic (for `uplift delta info/apply` format sniffing).
bool IsNativePatch(ByteView first_bytes);
// Parses and validates the fixed header (kNativeHeaderSize bytes): kBadMagic, kCorrupt, kTooLarge.
Result<NativeHeader> ParseNativeHeader(ByteView bytes);

struct NativeApplyOptions {
  // Refuse (kTooLarge, before any output) a header whose new_size is above this.
  std::uint64_t max_new_size = std::uint64_t{1} << 40;
  // Hash old[0, old_size) and compare with the header's old_sha256 before writing a byte
  // (kSourceMismatch). The old source may be larger than old_size (a slot): only the prefix counts.
  bool verify_source = true;
  // Resume: segments below this index are skipped (nothing of them is decoded or written);
  // output starts at resume_segment * segment_size. The caller positions its sink there. The
  // full new_sha256 can then not be checked by the applier (each segment's CRC still is): the
  // caller reads the result back.
  std::uint32_t resume_segment = 0;
  // With resume_segment > 0: the patch offset at which segment resume_segment starts (the
  // patch_offset of progress() when that restart point was recorded). Non-zero: the caller feeds
  // the fixed header (the first kNativeHeaderSize bytes of the patch) and then the patch from this
  // offset on; the skipped segments are never seen. 0: the caller feeds the whole patch (the
  // skipped segments' bytes are consumed by their sizes).
  // A wrong offset fails with kCorrupt: at the header if no patch could have segment
  // resume_segment there, else at the first segment header fed (its magic, CRC or index), before
  // any output. kInvalidArgument if set with resume_segment = 0.
  std::uint64_t resume_patch_offset = 0;
};

// A restart point: after `segments_done` segments, `new_offset` output bytes are complete and
// `patch_offset` patch bytes have been consumed. patch_offset is always in the coordinates of the
// whole patch, also after a resume with resume_patch_offset; right after a resume it is the
// restart point's own (0 if resumed without resume_patch_offset and not yet past the skipped
// segments).
struct NativeProgress {
  std::uint32_t segments_done = 0;
  std::uint64_t new_offset = 0;
  std::uint64_t patch_offset = 0;
};

class NativeApplier final : public ByteSink {
 public:
  NativeApplier(RandomAccessSource& old_image, ByteSink& out, NativeApplyOptions options = {});
  ~NativeApplier() override;
  NativeApplier(const NativeApplier&) = delete;
  NativeApplier& operator=(const NativeApplier&) = delete;

  // Feeds the next patch bytes. Errors: kBadMagic, kCorrupt, kOutOfRange, kTooLarge, kTruncated
  // (never here: at Finish), kDecompress, kSourceMismatch, and the errors of old_image and out.
  // After an error the applier stays failed. out never receives more than new_size bytes.
  Status Write(ByteView patch_bytes) override;
  // Checks that the patch is complete (kTruncated), has no trailing bytes (kCorrupt), and, when
  // not resuming, that the output's SHA-256 equals new_sha256 (kCorrupt).
  Status Finish();

  const std::optional<NativeHeader>& header() const;
  NativeProgress progress() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience: the whole patch from a sequential source.
Status ApplyNative(RandomAccessSource& old_image, ByteSource& patch, ByteSink& out,
                   const NativeApplyOptions& options = {});

}  // namespace uplift::delta
