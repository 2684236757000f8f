// An artifact on an HTTP(S) server as a RangeSource, on libcurl: ranged streams that survive
// connection drops (each reconnect asks for exactly the bytes not yet received, with If-Range so
// a changed artifact is never spliced onto the old one), single-range re-reads, retries with
// backoff under a deadline, stall detection, a bandwidth cap and a byte budget.
//
// Each open stream runs its transfer on one thread that fills a bounded ring buffer (4 MiB by
// default); the reader drains it. Receiving overlaps with verifying and writing, and memory stays
// bounded whatever the artifact's size.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "uplift/base/range_source.hpp"
#include "uplift/transport/retry.hpp"

namespace uplift::transport {

struct HttpOptions {
  std::string ca_file;            // PEM bundle of trusted CAs; empty: the system's
  std::string pinned_public_key;  // "sha256//BASE64[;sha256//...]": also require this key
  std::string proxy;              // e.g. "http://proxy:3128"; empty: libcurl's *_proxy env vars
  bool http2 = true;              // offer HTTP/2 over TLS (ALPN); plain http stays HTTP/1.1
  Millis connect_timeout{15'000};
  // Stall: less than stall_bytes received in stall_time (time the reader spends not reading
  // does not count) aborts the attempt, which is then retried.
  Millis stall_time{30'000};
  std::uint64_t stall_bytes = 1;
  std::uint64_t max_bytes_per_s = 0;  // bandwidth cap; 0: none
  // Data cap for everything this source receives (bodies of all attempts and re-reads), counted
  // from `budget_used` on. 0: none. A request that could not finish within it is not started.
  std::uint64_t byte_budget = 0;
  std::uint64_t budget_used = 0;
  RetryPolicy retry;
  std::vector<std::string> headers;  // extra request headers ("Authorization: ...")
  std::string user_agent = "uplift";
  std::size_t buffer_bytes = 4 << 20;  // ring buffer per stream
  std::uint64_t seed = 0;              // jitter; 0: from the clock
};

struct TransferStats {
  std::uint64_t body_bytes = 0;    // body bytes received, all attempts (what a data plan pays)
  std::uint64_t wasted_bytes = 0;  // received but not used (error bodies, skipped prefixes)
  std::uint64_t reread_bytes = 0;  // of body_bytes: single-range re-reads
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;  // attempts that failed and were retried
  std::uint64_t stalls = 0;
  int http_version = 0;  // of the last response: 10, 11, 2 or 3 (0: none yet)
};

class HttpRangeSource final : public RangeSource {
 public:
  // kBadUrl unless url is http:// or https://. expected_validator: the entity tag recorded
  // before an interruption (empty for a new download).
  static Result<std::unique_ptr<HttpRangeSource>> Create(std::string url, HttpOptions options,
                                                         std::string expected_validator = {});
  ~HttpRangeSource() override;

  Result<std::unique_ptr<ByteSource>> OpenRange(std::uint64_t begin, std::uint64_t end) override;
  Status Reread(std::uint64_t offset, MutableByteView buf) override;
  std::string validator() const override;
  std::uint64_t fetched_bytes() const override;

  // The artifact's size, once a response has told it.
  std::optional<std::uint64_t> size() const;
  TransferStats stats() const;
  const std::string& url() const;

  struct Shared;

 private:
  explicit HttpRangeSource(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
  std::shared_ptr<Shared> s_;
};

}  // namespace uplift::transport
