// When to try a download again, and how long to wait: the error classifier and exponential
// backoff with full jitter under an overall deadline. Time and randomness are injected, so the
// policy is tested without sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>

#include "uplift/base/result.hpp"

namespace uplift::transport {

using Millis = std::chrono::milliseconds;

// What went wrong below HTTP in one attempt (mapped from libcurl's codes by the transport).
enum class NetFailure {
  kNone,
  kResolve,           // DNS lookup failed
  kConnect,           // refused, unreachable
  kTimeout,           // connect or overall timeout
  kStalled,           // below the low-speed limit for too long
  kReset,             // connection reset / closed before the body was complete
  kTlsHandshake,      // TLS failed in a way a retry can fix (reset during the handshake)
  kTlsTrust,          // certificate not trusted or pin mismatch: retrying cannot help
  kProtocol,          // malformed HTTP, HTTP/2 framing error (often a broken middlebox)
  kTooManyRedirects,  // a redirect loop
  kOther,
};
std::string_view NetFailureName(NetFailure f);

struct Attempt {
  NetFailure net = NetFailure::kNone;
  int http_status = 0;                      // 0: no complete status was received
  std::optional<std::int64_t> retry_after;  // seconds (Retry-After header), with 429/503
  bool progressed = false;                  // bytes of the wanted body arrived in this attempt
  std::string detail;                       // for messages
};

enum class Verdict { kRetry, kFatal };

// Retryable: network failures except TLS trust and redirect loops; HTTP 5xx but 501 and 505,
// 408, 421, 429. Fatal: every other 4xx (404 must not loop), 501, 505, 3xx left over (redirect
// not followed), TLS trust.
Verdict Classify(const Attempt& a);

struct RetryPolicy {
  Millis initial{500};         // base of the exponential: attempt n waits up to initial * 2^n
  Millis max{60'000};          // cap of one wait
  Millis deadline{3'600'000};  // overall: no attempt starts after this much time since Start
  std::int64_t max_retry_after_s = 3600;  // a longer Retry-After is capped to this
};

// One download's retry state. After a failed attempt, NextDelay says how long to wait before
// the next one, or why to stop: fatal classification (kHttpStatus / kTls / ...) or the deadline
// (base::Errc::kUnavailable, naming the last failure). An attempt that made progress resets the
// exponent and the deadline (which thus bounds time without progress), and the first retry after
// progress does not wait at all: a link that drops every few MiB costs a reconnect, not seconds of
// idle time.
class Retrier {
 public:
  using Now = std::function<Millis()>;  // monotonic
  Retrier(RetryPolicy policy, Now now, std::uint64_t seed);

  Result<Millis> NextDelay(const Attempt& a);
  int failures() const { return failures_; }  // consecutive failures without progress
  // Time left before the deadline (0 once passed): caps how long one attempt may wait to
  // connect, so a black-holed server cannot stretch the deadline by a connect timeout.
  Millis remaining() const;

 private:
  RetryPolicy policy_;
  Now now_;
  Millis start_;
  std::mt19937_64 rng_;
  int failures_ = 0;
};

// The error a fatal attempt maps to (also used for the deadline message).
Error AttemptError(const Attempt& a);
std::string DescribeAttempt(const Attempt& a);

}  // namespace uplift::transport
