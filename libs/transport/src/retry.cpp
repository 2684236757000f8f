#include "uplift/transport/retry.hpp"

#include <algorithm>

#include "uplift/base/errors.hpp"
#include "uplift/transport/errors.hpp"

namespace uplift::transport {

std::string_view NetFailureName(NetFailure f) {
  switch (f) {
    case NetFailure::kNone:
      return "none";
    case NetFailure::kResolve:
      return "DNS lookup failed";
    case NetFailure::kConnect:
      return "connection failed";
    case NetFailure::kTimeout:
      return "timed out";
    case NetFailure::kStalled:
      return "transfer stalled";
    case NetFailure::kReset:
      return "connection closed early";
    case NetFailure::kTlsHandshake:
      return "TLS handshake failed";
    case NetFailure::kTlsTrust:
      return "TLS peer not trusted";
    case NetFailure::kProtocol:
      return "protocol error";
    case NetFailure::kTooManyRedirects:
      return "too many redirects";
    case NetFailure::kOther:
      return "transfer failed";
  }
  return "transfer failed";
}

Verdict Classify(const Attempt& a) {
  switch (a.net) {
    case NetFailure::kNone:
      break;
    case NetFailure::kTlsTrust:
    case NetFailure::kTooManyRedirects:
      return Verdict::kFatal;
    default:
      return Verdict::kRetry;
  }
  const int s = a.http_status;
  if (s == 501 || s == 505) return Verdict::kFatal;  // not implemented: retrying cannot help
  if (s >= 500 && s <= 599) return Verdict::kRetry;
  if (s == 408 || s == 429 || s == 421) return Verdict::kRetry;  // 421: another connection may do
  if (s == 0) return Verdict::kRetry;  // no status and no network error: an empty answer
  return Verdict::kFatal;
}

std::string DescribeAttempt(const Attempt& a) {
  std::string s;
  if (a.net != NetFailure::kNone) {
    s = std::string(NetFailureName(a.net));
  } else {
    s = "HTTP status " + std::to_string(a.http_status);
  }
  if (!a.detail.empty()) s += " (" + a.detail + ")";
  return s;
}

Error AttemptError(const Attempt& a) {
  if (a.net == NetFailure::kTlsTrust) return Error(Errc::kTls, DescribeAttempt(a));
  if (a.net != NetFailure::kNone) return Error(Errc::kBadResponse, DescribeAttempt(a));
  return Error(Errc::kHttpStatus, DescribeAttempt(a));
}

Retrier::Retrier(RetryPolicy policy, Now now, std::uint64_t seed)
    : policy_(policy), now_(std::move(now)), start_(now_()), rng_(seed) {}

Millis Retrier::remaining() const {
  const Millis left = policy_.deadline - (now_() - start_);
  return std::max(left, Millis(0));
}

Result<Millis> Retrier::NextDelay(const Attempt& a) {
  if (Classify(a) == Verdict::kFatal) return AttemptError(a);
  const bool after_progress = a.progressed;
  failures_ = after_progress ? 0 : failures_ + 1;
  // The deadline bounds time without progress: a long transfer on a slow link that drops now
  // and then is healthy, however long it has run.
  if (after_progress) start_ = now_();
  Millis delay{0};
  if (!after_progress) {
    // Full jitter: uniform in [0, min(max, initial * 2^(failures-1))].
    const int exp = std::min(failures_ - 1, 30);
    const auto ceiling = std::min<std::int64_t>(policy_.max.count(),
                                                policy_.initial.count() * (std::int64_t{1} << exp));
    std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(ceiling, 0));
    delay = Millis(pick(rng_));
  }
  if (a.retry_after) {
    const std::int64_t ra = std::clamp<std::int64_t>(*a.retry_after, 0, policy_.max_retry_after_s);
    delay = std::max(delay, Millis(ra * 1000));
  }
  const Millis elapsed = now_() - start_;
  if (elapsed + delay > policy_.deadline) {
    return Error(base::Errc::kUnavailable,
                 "gave up after " + std::to_string(elapsed.count() / 1000) + " s (deadline " +
                     std::to_string(policy_.deadline.count() / 1000) +
                     " s); last failure: " + DescribeAttempt(a));
  }
  return delay;
}

}  // namespace uplift::transport
