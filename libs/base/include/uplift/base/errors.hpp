// Error codes of the base module (I/O and argument errors). Never renumber.
#pragma once

#include "uplift/base/result.hpp"

namespace uplift::base {

enum class Errc : int {
  kIo = 1,               // an OS call failed (message carries strerror)
  kNotFound = 2,         // a file or directory does not exist
  kInvalidArgument = 3,  // a caller passed a value outside the documented domain
  kUnexpectedEof = 4,    // a stream ended before the expected number of bytes
  kTooLarge = 5,         // an input exceeds a documented bound
  kSourceChanged = 6,    // an artifact changed between two reads of it (new ETag, file replaced)
  kUnavailable = 7,      // a remote source stayed unreachable past its retry deadline: try later
};

}  // namespace uplift::base

UPLIFT_ERROR_DOMAIN(uplift::base::Errc, "base")
