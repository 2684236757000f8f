#include "uplift/transport/retry.hpp"

#include <gtest/gtest.h>

#include "uplift/base/errors.hpp"
#include "uplift/transport/errors.hpp"

namespace uplift::transport {
namespace {

Attempt Net(NetFailure f) {
  Attempt a;
  a.net = f;
  return a;
}
Attempt Http(int status, std::optional<std::int64_t> retry_after = std::nullopt) {
  Attempt a;
  a.http_status = status;
  a.retry_after = retry_after;
  return a;
}

TEST(Classify, NetworkFailuresAreRetriedExceptTrustAndRedirectLoops) {
  for (NetFailure f :
       {NetFailure::kResolve, NetFailure::kConnect, NetFailure::kTimeout, NetFailure::kStalled,
        NetFailure::kReset, NetFailure::kTlsHandshake, NetFailure::kProtocol, NetFailure::kOther}) {
    EXPECT_EQ(Classify(Net(f)), Verdict::kRetry) << NetFailureName(f);
  }
  EXPECT_EQ(Classify(Net(NetFailure::kTlsTrust)), Verdict::kFatal);
  EXPECT_EQ(Classify(Net(NetFailure::kTooManyRedirects)), Verdict::kFatal);
}

TEST(Classify, StatusCodes) {
  for (int s : {500, 502, 503, 504, 599, 408, 421, 429}) {
    EXPECT_EQ(Classify(Http(s)), Verdict::kRetry) << s;
  }
  for (int s : {400, 401, 403, 404, 405, 410, 451, 301, 304, 501, 505}) {
    EXPECT_EQ(Classify(Http(s)), Verdict::kFatal) << s;
  }
}

struct FakeTime {
  Millis now{0};
  Retrier::Now fn() {
    return [this] { return now; };
  }
};

TEST(Retrier, FatalAttemptsStopAtOnceWithAPreciseError) {
  FakeTime t;
  Retrier r(RetryPolicy{}, t.fn(), 1);
  auto d = r.NextDelay(Http(404));
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.error().Is(Errc::kHttpStatus));
  EXPECT_NE(d.error().message().find("404"), std::string::npos);
  auto tls = r.NextDelay(Net(NetFailure::kTlsTrust));
  ASSERT_FALSE(tls.ok());
  EXPECT_TRUE(tls.error().Is(Errc::kTls));
}

TEST(Retrier, FullJitterStaysUnderTheExponentialCeiling) {
  FakeTime t;
  RetryPolicy p;
  p.initial = Millis(100);
  p.max = Millis(5000);
  p.deadline = Millis(1'000'000'000);
  Retrier r(p, t.fn(), 42);
  std::int64_t max_seen_late = 0;
  for (int i = 1; i <= 20; ++i) {
    auto d = r.NextDelay(Net(NetFailure::kReset));
    ASSERT_TRUE(d.ok());
    const std::int64_t ceiling = std::min<std::int64_t>(5000, 100LL << std::min(i - 1, 30));
    EXPECT_GE(d->count(), 0);
    EXPECT_LE(d->count(), ceiling) << "attempt " << i;
    if (i > 10) max_seen_late = std::max(max_seen_late, d->count());
  }
  EXPECT_EQ(r.failures(), 20);
  // Jitter is spread over the range, not pinned to 0 (ten draws from [0, 5000]).
  EXPECT_GT(max_seen_late, 1000);
}

TEST(Retrier, JitterDependsOnTheSeed) {
  FakeTime t;
  Retrier a(RetryPolicy{}, t.fn(), 1), b(RetryPolicy{}, t.fn(), 2);
  bool differ = false;
  for (int i = 0; i < 8; ++i) {
    differ |= *a.NextDelay(Net(NetFailure::kConnect)) != *b.NextDelay(Net(NetFailure::kConnect));
  }
  EXPECT_TRUE(differ);
}

TEST(Retrier, ProgressResetsTheExponentAndRetriesAtOnce) {
  FakeTime t;
  Retrier r(RetryPolicy{}, t.fn(), 7);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(r.NextDelay(Net(NetFailure::kReset)).ok());
  EXPECT_EQ(r.failures(), 6);
  Attempt dropped = Net(NetFailure::kReset);
  dropped.progressed = true;
  auto d = r.NextDelay(dropped);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->count(), 0);
  EXPECT_EQ(r.failures(), 0);
}

TEST(Retrier, RetryAfterIsHonouredAndCapped) {
  FakeTime t;
  RetryPolicy p;
  p.max_retry_after_s = 600;
  Retrier r(p, t.fn(), 3);
  auto d = r.NextDelay(Http(429, 30));
  ASSERT_TRUE(d.ok());
  EXPECT_GE(d->count(), 30'000);
  auto capped = r.NextDelay(Http(503, 100'000));
  ASSERT_TRUE(capped.ok());
  EXPECT_GE(capped->count(), 600'000);
  EXPECT_LE(capped->count(), 600'000 + p.max.count());
}

TEST(Retrier, TheDeadlineEndsRetriesAndNamesTheLastFailure) {
  FakeTime t;
  RetryPolicy p;
  p.deadline = Millis(10'000);
  Retrier r(p, t.fn(), 5);
  int attempts = 0;
  for (;;) {
    auto d = r.NextDelay(Http(503));
    ++attempts;
    if (!d.ok()) {
      EXPECT_TRUE(d.error().Is(base::Errc::kUnavailable));
      EXPECT_NE(d.error().message().find("503"), std::string::npos);
      break;
    }
    t.now += *d + Millis(100);  // the attempt itself takes 100 ms
    ASSERT_LT(attempts, 1000);
  }
  EXPECT_LE(t.now.count(), 10'000);
  // A Retry-After that would end past the deadline stops at once.
  Retrier late(p, t.fn(), 5);
  auto d = late.NextDelay(Http(429, 3600));
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.error().Is(base::Errc::kUnavailable));
}

TEST(Retrier, TheDeadlineBoundsTimeWithoutProgressNotTheWholeTransfer) {
  FakeTime t;
  RetryPolicy p;
  p.deadline = Millis(10'000);
  Retrier r(p, t.fn(), 9);
  // A long, healthy transfer on a flaky link: a drop every 8 s of progress, for 80 s.
  for (int i = 0; i < 10; ++i) {
    t.now += Millis(8'000);
    Attempt dropped = Net(NetFailure::kReset);
    dropped.progressed = true;
    auto d = r.NextDelay(dropped);
    ASSERT_TRUE(d.ok()) << "drop " << i << ": " << d.error().message();
  }
  // Then nothing for longer than the deadline: unavailable.
  t.now += Millis(11'000);
  auto d = r.NextDelay(Net(NetFailure::kConnect));
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.error().Is(base::Errc::kUnavailable));
}

}  // namespace
}  // namespace uplift::transport
