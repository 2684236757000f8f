// Patch generation: bsdiff 4.3's suffix-array matcher (libdivsufsort for the suffix array).
// Lives in its own library (uplift::delta_diff) so devices link only the applier.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "uplift/base/bytes.hpp"
#include "uplift/base/io.hpp"
#include "uplift/base/result.hpp"
#include "uplift/delta/errors.hpp"
#include "uplift/delta/native.hpp"

namespace uplift::delta {

// Writes a BSDIFF40 patch (bsdiff40.hpp) turning old_image into new_image; Debian's bspatch
// applies it. Holds the whole patch in memory before writing, because the header carries the
// compressed stream lengths. Memory: about 4*old + 2*new bytes plus the compressed streams.
// Fails with kTooLarge if old_image is 2 GiB or more (32-bit suffix array), kDecompress if
// bzip2 fails (out of memory), or out's error.
[[nodiscard]] Status CreateBsdiff40(ByteView old_image, ByteView new_image, ByteSink& out);

enum class NativeCompression { kLzma2, kZstd };

struct NativeCreateOptions {
  // LZMA2 makes 10-15% smaller patches; zstd decodes several times faster.
  NativeCompression compression = NativeCompression::kLzma2;
  int level = 9;         // 1..9 (10 = 9 extreme) for LZMA2, 1..22 for zstd
  unsigned threads = 0;  // segments matched and compressed in parallel; 0 = all cores
  // Multiple of 64 KiB, at most 4 MiB. 2 MiB keeps a device's apply under ~14 MiB RSS for ~0.5%
  // larger patches than 4 MiB.
  std::uint32_t segment_size = 2u << 20;
  // nullopt: detect from the images (ELF x86-64 / AArch64 executable segments); else forced.
  std::optional<Filter> filter;
  // Called (from worker threads, serialised) as segments finish: (new bytes done, new size).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

struct NativeCreateStats {
  NativeHeader header;
  std::uint64_t patch_size = 0;
  std::uint64_t ctrl_bytes = 0;  // compressed sizes of each stream, summed over segments
  std::uint64_t diff_bytes = 0;
  std::uint64_t extra_bytes = 0;
  std::uint64_t ops = 0;
};

// Writes a native patch (native.hpp, docs/formats/delta.md) turning old_image into new_image.
// Builds one suffix array of the (filtered) old image, then matches and compresses the segments
// of the new image on `threads` threads; the patch is assembled in memory and written in order.
// Memory: about 5*old + 2*new bytes. kTooLarge if old_image is 2 GiB or more, base::Errc::
// kInvalidArgument for a bad option, kDecompress if zstd fails, or out's error.
[[nodiscard]] Result<NativeCreateStats> CreateNative(ByteView old_image, ByteView new_image,
                                                     ByteSink& out,
                                                     const NativeCreateOptions& options = {});

}  // namespace uplift::delta
