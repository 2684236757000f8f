// Patch generation: bsdiff 4.3's suffix-array matcher (libdivsufsort for the suffix array).
// Lives in its own library (uplift::delta_diff) so devices link only the applier.
#pragma once

#include "uplift/base/bytes.hpp"
#include "uplift/base/io.hpp"
#include "uplift/base/result.hpp"
#include "uplift/delta/errors.hpp"

namespace uplift::delta {

// Writes a BSDIFF40 patch (bsdiff40.hpp) turning old_image into new_image; Debian's bspatch
// applies it. Holds the whole patch in memory before writing, because the header carries the
// compressed stream lengths. Memory: about 4*old + 2*new bytes plus the compressed streams.
// Fails with kTooLarge if old_image is 2 GiB or more (32-bit suffix array), kDecompress if
// bzip2 fails (out of memory), or out's error.
[[nodiscard]] Status CreateBsdiff40(ByteView old_image, ByteView new_image, ByteSink& out);

}  // namespace uplift::delta
