// Error codes of the delta module. The numbers are also the exit codes of `uplift` for these
// errors (docs/cli.md): never renumber, only append (the range 40..49 belongs to delta).
#pragma once

#include "uplift/base/result.hpp"

namespace uplift::delta {

enum class Errc : int {
  kBadMagic = 40,        // not a patch format this reader knows (first bytes are not a magic)
  kCorrupt = 41,         // malformed header or control data (negative value, trailing bytes)
  kOutOfRange = 42,      // a control value points outside the old or the new image
  kTooLarge = 43,        // the new image would exceed the caller's limit, or an input is too big
  kTruncated = 44,       // the patch ends before its header or one of its streams does
  kDecompress = 45,      // a bzip2 stream is corrupt, or expands past what the controls use
  kSourceMismatch = 46,  // reserved: the old image is not the one the patch was made from
};

}  // namespace uplift::delta

UPLIFT_ERROR_DOMAIN(uplift::delta::Errc, "delta")
