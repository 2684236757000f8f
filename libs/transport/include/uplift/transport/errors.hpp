// Error codes of the transport (downloads); also exit codes of `uplift fetch` and `uplift-agent`.
// Retryable failures that outlast the retry deadline are base::Errc::kUnavailable (exit code 7):
// nothing is wrong with the update, the network is; the agent keeps its place and tries later.
#pragma once

#include "uplift/base/result.hpp"

namespace uplift::transport {

enum class Errc : int {
  kHttpStatus = 100,   // the server answered a status retrying cannot fix (404, 403, other 4xx)
  kTls = 102,          // TLS: certificate not trusted, public-key pin mismatch, bad CA file
  kBadResponse = 103,  // a response that breaks HTTP's range rules (wrong Content-Range, ...)
  kByteBudget = 104,   // the download would exceed the configured data cap
  kBadUrl = 105,       // not an http:// or https:// URL, or malformed
  kCancelled = 106,    // the caller stopped the transfer
  // The device API refused the device (401 unauthorized / stale_timestamp after a re-sign /
  // replayed_nonce, 403 enrollment_refused, 404, 409 device_exists, other 4xx): resending the
  // same request never helps. The server's error code is in the message. (400 bad_request and
  // 413 are base::Errc::kInvalidArgument: the request's content was refused.)
  kRefused = 107,
};

}  // namespace uplift::transport

UPLIFT_ERROR_DOMAIN(uplift::transport::Errc, "transport")
