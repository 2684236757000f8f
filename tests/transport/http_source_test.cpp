// HttpRangeSource against a real nginx on 127.0.0.1, directly and through the fault proxy:
// exact resumes after drops and truncations, stalls, 5xx/429 with Retry-After, fatal 404,
// refused connections, a changed artifact (new ETag, rewritten ETag), a server that ignores
// Range, data caps, a bandwidth cap, TLS with a CA file and key pinning, HTTP/2, and a proxy.
#include "uplift/transport/http_source.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "fault_proxy.hpp"
#include "test_origin.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/transport/errors.hpp"

namespace uplift::transport {
namespace {

using faultlab::ConnectionPlan;
using faultlab::FaultProxy;
using testing::Noise;
using testing::Origin;

constexpr std::size_t kSize = 3 * 1024 * 1024 + 123;

HttpOptions Fast() {
  HttpOptions o;
  o.retry.initial = Millis(20);
  o.retry.max = Millis(200);
  o.retry.deadline = Millis(20'000);
  o.stall_time = Millis(1000);
  o.connect_timeout = Millis(2000);
  return o;
}

Result<Bytes> ReadRange(RangeSource& src, std::uint64_t begin, std::uint64_t end) {
  UPLIFT_ASSIGN(auto s, src.OpenRange(begin, end));
  MemorySink out;
  Bytes buf(100'000);
  for (;;) {
    UPLIFT_ASSIGN(const std::size_t n, s->Read(buf));
    if (n == 0) break;
    UPLIFT_TRY(out.Write(ByteView(buf.data(), n)));
  }
  return out.Take();
}

Bytes Slice(const Bytes& b, std::size_t begin, std::size_t end) {
  return Bytes(b.begin() + static_cast<std::ptrdiff_t>(begin),
               b.begin() + static_cast<std::ptrdiff_t>(end));
}

struct HttpSource : ::testing::Test {
  Origin origin;
  Bytes data = Noise(kSize, 1);
  std::unique_ptr<FaultProxy> proxy;

  void SetUp() override {
    ASSERT_TRUE(origin.ok());
    origin.Put("a.bin", data);
    auto p = FaultProxy::Start(origin.nginx().port());
    ASSERT_TRUE(p.ok()) << p.error().message();
    proxy = std::move(p).value();
  }
  std::string ViaProxy(const std::string& name) const {
    return "http://127.0.0.1:" + std::to_string(proxy->port()) + "/" + name;
  }
  std::unique_ptr<HttpRangeSource> Source(const std::string& url, HttpOptions o = Fast(),
                                          std::string validator = {}) {
    auto s = HttpRangeSource::Create(url, std::move(o), std::move(validator));
    EXPECT_TRUE(s.ok());
    return std::move(s).value();
  }
};

TEST_F(HttpSource, WholeAndRangedReadsAreByteExact) {
  auto src = Source(origin.Url("a.bin"));
  auto all = ReadRange(*src, 0, kToEnd);
  ASSERT_TRUE(all.ok()) << all.error().message();
  EXPECT_EQ(*all, data);
  EXPECT_EQ(src->size(), kSize);
  EXPECT_TRUE(src->validator().starts_with("\"")) << src->validator();  // nginx's strong ETag
  auto part = ReadRange(*src, 1000, 70'000);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(*part, Slice(data, 1000, 70'000));
  Bytes re(5000);
  ASSERT_TRUE(src->Reread(kSize - 5000, re).ok());
  EXPECT_EQ(re, Slice(data, kSize - 5000, kSize));
  EXPECT_EQ(src->stats().body_bytes, kSize + 69'000 + 5000);
  EXPECT_EQ(src->stats().retries, 0u);
  EXPECT_EQ(src->stats().http_version, 11);
}

TEST_F(HttpSource, ADroppedConnectionResumesAtTheExactByte) {
  ConnectionPlan drop;
  drop.drop_at = 1'000'000;
  proxy->Enqueue(drop);
  ConnectionPlan cut;
  cut.truncate_at = 700'000;
  proxy->Enqueue(cut);
  auto src = Source(ViaProxy("a.bin"));
  auto all = ReadRange(*src, 0, kToEnd);
  ASSERT_TRUE(all.ok()) << all.error().message();
  EXPECT_EQ(*all, data);
  const auto st = src->stats();
  EXPECT_EQ(st.body_bytes, kSize);  // not a byte fetched twice
  EXPECT_EQ(st.requests, 3u);
  EXPECT_EQ(st.retries, 2u);
}

TEST_F(HttpSource, AStallIsDetectedAndTheTransferResumed) {
  ConnectionPlan stall;
  stall.stall_at = 500'000;
  stall.stall_for = std::chrono::milliseconds(4000);
  proxy->Enqueue(stall);
  auto src = Source(ViaProxy("a.bin"));
  const auto t0 = std::chrono::steady_clock::now();
  auto all = ReadRange(*src, 0, kToEnd);
  ASSERT_TRUE(all.ok()) << all.error().message();
  EXPECT_EQ(*all, data);
  EXPECT_EQ(src->stats().stalls, 1u);
  EXPECT_EQ(src->stats().body_bytes, kSize);
  // Detected after ~1 s of silence, not after the 4 s stall ended.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(3500));
}

TEST_F(HttpSource, ServerErrorsAreRetriedAndRetryAfterIsHonoured) {
  ConnectionPlan busy;
  busy.status = 503;
  busy.retry_after_s = 1;
  proxy->Enqueue(busy);
  ConnectionPlan limited;
  limited.status = 429;
  proxy->Enqueue(limited);
  ConnectionPlan broken;
  broken.status = 500;
  proxy->Enqueue(broken);
  auto src = Source(ViaProxy("a.bin"));
  const auto t0 = std::chrono::steady_clock::now();
  auto all = ReadRange(*src, 0, kToEnd);
  ASSERT_TRUE(all.ok()) << all.error().message();
  EXPECT_EQ(*all, data);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000));
  EXPECT_EQ(src->stats().retries, 3u);
}

TEST_F(HttpSource, NotFoundFailsAtOnce) {
  auto src = Source(ViaProxy("missing.bin"));
  auto r = ReadRange(*src, 0, kToEnd);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kHttpStatus)) << r.error().message();
  EXPECT_NE(r.error().message().find("404"), std::string::npos);
  EXPECT_EQ(src->stats().requests, 1u);
}

TEST_F(HttpSource, RefusedConnectionsAreRetriedUntilTheServerIsBack) {
  proxy->RefuseFor(std::chrono::milliseconds(1500));
  auto src = Source(ViaProxy("a.bin"));
  auto all = ReadRange(*src, 0, kToEnd);
  ASSERT_TRUE(all.ok()) << all.error().message();
  EXPECT_EQ(*all, data);
  EXPECT_GE(src->stats().retries, 1u);
}

TEST_F(HttpSource, AnOutagePastTheDeadlineIsUnavailable) {
  proxy->RefuseFor(std::chrono::milliseconds(5000));
  HttpOptions o = Fast();
  o.retry.deadline = Millis(1000);
  auto src = Source(ViaProxy("a.bin"), o);
  auto r = ReadRange(*src, 0, kToEnd);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(base::Errc::kUnavailable)) << r.error().message();
  EXPECT_NE(r.error().message().find("connection failed"), std::string::npos)
      << r.error().message();
}

TEST_F(HttpSource, AReplacedArtifactIsNeverSplicedOntoTheOldOne) {
  auto src = Source(ViaProxy("a.bin"));
  ASSERT_TRUE(ReadRange(*src, 0, 1000).ok());
  const std::string etag = src->validator();
  // The origin gets a new version (nginx's ETag is mtime-size).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  origin.Put("a.bin", Noise(kSize + 10, 2));
  auto r = ReadRange(*src, 1000, kToEnd);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(base::Errc::kSourceChanged)) << r.error().message();
  // A resumed source created with the old validator refuses too.
  auto resumed = Source(ViaProxy("a.bin"), Fast(), etag);
  auto r2 = ReadRange(*resumed, 5000, kToEnd);
  ASSERT_FALSE(r2.ok());
  EXPECT_TRUE(r2.error().Is(base::Errc::kSourceChanged)) << r2.error().message();
}

TEST_F(HttpSource, AnEtagThatChangesMidDownloadIsCaught) {
  ConnectionPlan drop;
  drop.drop_at = 400'000;
  proxy->Enqueue(drop);
  ConnectionPlan other;
  other.replace_etag = "\"not-the-same\"";
  proxy->Enqueue(other);
  auto src = Source(ViaProxy("a.bin"));
  auto r = ReadRange(*src, 0, kToEnd);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(base::Errc::kSourceChanged)) << r.error().message();
}

TEST_F(HttpSource, AServerThatIgnoresRangeStillYieldsTheRightBytes) {
  faultlab::NginxOptions no_ranges;
  no_ranges.extra_http_config = "max_ranges 0;";
  Origin plain(no_ranges);
  ASSERT_TRUE(plain.ok());
  plain.Put("a.bin", data);
  auto src = Source(plain.Url("a.bin"));
  auto part = ReadRange(*src, 200'000, 300'000);
  ASSERT_TRUE(part.ok()) << part.error().message();
  EXPECT_EQ(*part, Slice(data, 200'000, 300'000));
  EXPECT_GE(src->stats().wasted_bytes, 200'000u);  // the skipped prefix
}

TEST_F(HttpSource, TheDataCapIsNeverExceeded) {
  HttpOptions o = Fast();
  o.byte_budget = kSize / 2;
  auto src = Source(origin.Url("a.bin"), o);
  auto r = ReadRange(*src, 0, kToEnd);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kByteBudget)) << r.error().message();
  EXPECT_LE(src->fetched_bytes(), kSize / 2 + 512 * 1024);
  // Once the size is known, a request that cannot fit is not even started.
  HttpOptions known = Fast();
  known.byte_budget = kSize;
  known.budget_used = kSize - 10'000;
  auto s2 = Source(origin.Url("a.bin"), known);
  ASSERT_TRUE(ReadRange(*s2, 0, 1000).ok());
  const auto before = s2->stats().requests;
  auto r2 = ReadRange(*s2, 1000, kToEnd);
  ASSERT_FALSE(r2.ok());
  EXPECT_TRUE(r2.error().Is(Errc::kByteBudget));
  EXPECT_EQ(s2->stats().requests, before);
}

TEST_F(HttpSource, TheBandwidthCapHolds) {
  HttpOptions o = Fast();
  o.max_bytes_per_s = 2 * 1024 * 1024;
  auto src = Source(origin.Url("a.bin"), o);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = ReadRange(*src, 0, 2 * 1024 * 1024);
  ASSERT_TRUE(r.ok());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(800));
}

TEST_F(HttpSource, ForwardProxy) {
  // nginx accepts absolute-form request targets, so the fault proxy in front of it acts as an
  // HTTP forward proxy for a host name that does not resolve.
  HttpOptions o = Fast();
  o.proxy = "http://127.0.0.1:" + std::to_string(proxy->port());
  auto src = Source("http://origin.invalid/a.bin", o);
  auto all = ReadRange(*src, 0, kToEnd);
  ASSERT_TRUE(all.ok()) << all.error().message();
  EXPECT_EQ(*all, data);
  EXPECT_EQ(proxy->stats().connections, 1u);
}

TEST_F(HttpSource, BadUrlsAreRefused) {
  for (const char* url : {"ftp://x/y", "file:///etc/passwd", "http://a b/", "/local/path"}) {
    auto s = HttpRangeSource::Create(url, Fast());
    ASSERT_FALSE(s.ok()) << url;
    EXPECT_TRUE(s.error().Is(Errc::kBadUrl));
  }
}

struct TlsSource : ::testing::Test {
  std::string cert, key, pin;
  std::unique_ptr<Origin> origin;
  Bytes data = Noise(1 << 20, 3);
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "uplift-tls-XXXXXX").string();
    certs_ = ::mkdtemp(tmpl.data());
    ASSERT_TRUE(faultlab::MakeSelfSignedCert(certs_, &cert, &key, &pin).ok());
    faultlab::NginxOptions o;
    o.tls_cert = cert;
    o.tls_key = key;
    o.http2 = true;
    origin = std::make_unique<Origin>(o);
    ASSERT_TRUE(origin->ok());
    origin->Put("a.bin", data);
  }
  void TearDown() override {
    origin.reset();
    std::filesystem::remove_all(certs_);
  }
  std::string certs_;
};

TEST_F(TlsSource, TrustedByCaFileOverHttp2) {
  HttpOptions o = Fast();
  o.ca_file = cert;
  auto src = HttpRangeSource::Create(origin->Url("a.bin"), o);
  ASSERT_TRUE(src.ok());
  auto all = ReadRange(**src, 0, kToEnd);
  ASSERT_TRUE(all.ok()) << all.error().message();
  EXPECT_EQ(*all, data);
  EXPECT_EQ((*src)->stats().http_version, 2);
  o.http2 = false;
  auto h1 = HttpRangeSource::Create(origin->Url("a.bin"), o);
  ASSERT_TRUE(ReadRange(**h1, 0, 100).ok());
  EXPECT_EQ((*h1)->stats().http_version, 11);
}

TEST_F(TlsSource, PinnedKeyMustMatch) {
  HttpOptions o = Fast();
  o.ca_file = cert;
  o.pinned_public_key = pin;
  auto good = HttpRangeSource::Create(origin->Url("a.bin"), o);
  auto ok = ReadRange(**good, 0, 1000);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  o.pinned_public_key = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  auto bad = HttpRangeSource::Create(origin->Url("a.bin"), o);
  auto r = ReadRange(**bad, 0, 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kTls)) << r.error().message();
  EXPECT_EQ((*bad)->stats().requests, 1u);  // never retried
}

TEST_F(TlsSource, AnUntrustedCertificateIsFatal) {
  auto src = HttpRangeSource::Create(origin->Url("a.bin"), Fast());  // system CAs only
  auto r = ReadRange(**src, 0, 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(Errc::kTls)) << r.error().message();
}

}  // namespace
}  // namespace uplift::transport
