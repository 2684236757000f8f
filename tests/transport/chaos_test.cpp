// The chaos test: 200 downloads of a signed multi-MiB bundle from a real nginx, each through a
// fresh fault proxy scripted with random faults (resets, clean truncations, flipped bytes,
// stalls, 5xx/408/429 with and without Retry-After, throttling, immediate resets, refused
// connections, and the fatal ones: 404 and a changed entity tag). Every download must end with
// a byte-exact, verified bundle or with the correct fatal error; a fault may cost at most one
// chunk fetched again; memory stays bounded. Prints the counts. UPLIFT_CHAOS_SEED and
// UPLIFT_CHAOS_RUNS override the seed (default fixed) and the number of downloads.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdio>
#include <map>
#include <random>

#include "fault_proxy.hpp"
#include "test_origin.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/transport/bundle_fetch.hpp"
#include "uplift/transport/errors.hpp"
#include "uplift/transport/http_source.hpp"

namespace uplift::transport {
namespace {

using faultlab::ConnectionPlan;
using faultlab::FaultProxy;

constexpr std::uint32_t kChunk = 64 * 1024;

long MaxRssKib() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

std::uint64_t EnvOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(Chaos, DownloadsThroughRandomFaultsEndVerifiedOrWithTheRightError) {
  testing::Origin origin;
  ASSERT_TRUE(origin.ok());
  const Bytes image = testing::Noise(4 * 1024 * 1024 + 777, 9);
  const testing::SignedBundle bundle = testing::MakeSignedBundle(image, kChunk);
  origin.Put("b.upl", bundle.bytes);
  const std::uint64_t size = bundle.bytes.size();

  const std::uint64_t seed = EnvOr("UPLIFT_CHAOS_SEED", 2026);
  const std::uint64_t runs = EnvOr("UPLIFT_CHAOS_RUNS", 200);
  std::mt19937_64 rng(seed);
  auto below = [&](std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng);
  };

  std::map<std::string, std::uint64_t> planned;
  std::uint64_t ok = 0, fatal_404 = 0, fatal_changed = 0, faults = 0, refetched_chunks = 0;
  std::uint64_t worst_extra = 0, total_extra = 0;
  long rss_after_first = 0;

  for (std::uint64_t run = 0; run < runs; ++run) {
    SCOPED_TRACE("download " + std::to_string(run) + " (seed " + std::to_string(seed) + ")");
    auto started = FaultProxy::Start(origin.nginx().port());
    ASSERT_TRUE(started.ok()) << started.error().message();
    auto& proxy = **started;
    bool may_404 = false, may_change = false;
    // The downloader keeps one connection for the head and the payload while it lasts, so the
    // offsets count the whole connection's body bytes.
    const std::uint64_t plans = 1 + below(4);
    for (std::uint64_t j = 0; j < plans; ++j) {
      ConnectionPlan p;
      p.whole_connection = true;
      auto at = [&] { return below(size); };
      const std::uint64_t pick = below(100);
      std::string kind;
      if (pick < 25) {
        kind = "drop";
        p.drop_at = at();
      } else if (pick < 35) {
        kind = "truncate";
        p.truncate_at = at();
      } else if (pick < 55) {
        kind = "flip";
        for (std::uint64_t k = 0, n = 1 + below(3); k < n; ++k) p.flip_at.push_back(at());
      } else if (pick < 60) {
        kind = "stall";
        p.stall_at = at();
        p.stall_for = std::chrono::milliseconds(1500);
      } else if (pick < 75) {
        static constexpr int kStatuses[] = {500, 502, 503, 504, 408, 429};
        p.status = kStatuses[below(6)];
        if (below(2) == 0) p.retry_after_s = 0;
        kind = "status " + std::to_string(p.status);
      } else if (pick < 80) {
        kind = "throttle";
        p.throttle_bytes_per_s = 32 * 1024 * 1024;
      } else if (pick < 90) {
        kind = "reset";
        p.reset_immediately = true;
      } else if (pick < 94) {
        kind = "refuse";
        proxy.RefuseFor(std::chrono::milliseconds(200));
      } else if (pick < 97) {
        kind = "404";
        p.status = 404;
        may_404 = true;
      } else {
        kind = "etag";
        p.replace_etag = "\"changed-" + std::to_string(run) + "\"";
        may_change = true;
      }
      planned[kind] += 1;
      proxy.Enqueue(p);
    }

    HttpOptions http;
    http.retry.initial = Millis(10);
    http.retry.max = Millis(100);
    http.retry.deadline = Millis(30'000);
    http.stall_time = Millis(500);
    http.connect_timeout = Millis(2000);
    http.seed = run + 1;
    auto src = HttpRangeSource::Create(
        "http://127.0.0.1:" + std::to_string(proxy.port()) + "/b.upl", http);
    ASSERT_TRUE(src.ok());
    FetchOptions fetch;
    fetch.verify.trust = &bundle.trust;
    fetch.verify.now = 1'800'000'000;
    MemorySink out;
    auto report = FetchBundle(**src, fetch, out);
    const auto stats = (*src)->stats();
    faults += proxy.stats().faults_applied;

    if (report.ok()) {
      ++ok;
      ASSERT_EQ(out.bytes().size(), size);
      ASSERT_TRUE(out.bytes() == bundle.bytes) << "verified output differs from the bundle";
      refetched_chunks += report->refetched_chunks;
      const std::uint64_t used = stats.body_bytes - stats.wasted_bytes;
      ASSERT_GE(used, size);
      const std::uint64_t extra = used - size;
      const std::uint64_t allowed = proxy.stats().flipped_bytes * kChunk;
      EXPECT_LE(extra, allowed) << "fetched again beyond one chunk per corrupted byte";
      worst_extra = std::max(worst_extra, extra);
      total_extra += extra;
    } else if (may_404 && report.error().Is(Errc::kHttpStatus)) {
      ++fatal_404;
      EXPECT_NE(report.error().message().find("404"), std::string::npos);
    } else if (may_change && report.error().Is(base::Errc::kSourceChanged)) {
      ++fatal_changed;
    } else {
      ADD_FAILURE() << "unexpected failure: " << report.error().message();
    }
    if (run == 0) rss_after_first = MaxRssKib();
    if (::testing::Test::HasFatalFailure()) return;
  }
  const long rss_end = MaxRssKib();
  std::printf(
      "[ chaos    ] seed %llu: %llu downloads: %llu verified byte-exact, %llu failed with 404, "
      "%llu with a changed entity tag; %llu faults applied, %llu chunks fetched again, "
      "extra bytes worst %llu / total %llu; peak RSS %ld KiB after the first, %ld KiB at "
      "the end\n",
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(runs),
      static_cast<unsigned long long>(ok), static_cast<unsigned long long>(fatal_404),
      static_cast<unsigned long long>(fatal_changed), static_cast<unsigned long long>(faults),
      static_cast<unsigned long long>(refetched_chunks),
      static_cast<unsigned long long>(worst_extra), static_cast<unsigned long long>(total_extra),
      rss_after_first, rss_end);
  std::printf("[ chaos    ] planned:");
  for (const auto& [k, n] : planned)
    std::printf(" %s=%llu", k.c_str(), static_cast<unsigned long long>(n));
  std::printf("\n");
  EXPECT_EQ(ok + fatal_404 + fatal_changed, runs);
  EXPECT_GT(ok, runs * 8 / 10);
  EXPECT_GT(faults, runs / 2);
  // Bounded memory: 200 downloads of a 4 MiB bundle (plus the test's own copies) do not grow the
  // peak by more than a few ring buffers.
  EXPECT_LT(rss_end - rss_after_first, 64 * 1024);
}

}  // namespace
}  // namespace uplift::transport
