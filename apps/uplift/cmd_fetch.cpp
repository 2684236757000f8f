// uplift fetch URL OUT: downloads a bundle the way a device does (the head authenticated first,
// every chunk verified as it arrives and fetched again alone if corrupt, connection drops resumed
// with Range/If-Range, retries with backoff) and writes it atomically. Also the transport's
// benchmark subject (bench/transport).
#include <chrono>
#include <cstdio>
#include <optional>

#include "cli.hpp"
#include "uplift/base/async_sink.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/transport/bundle_fetch.hpp"
#include "uplift/transport/http_source.hpp"

namespace uplift::cli {
namespace {

struct FetchArgs {
  std::string url, out;
  std::string trust_store, hardware;
  std::string ca_file, pin, proxy;
  bool no_http2 = false;
  std::uint64_t max_rate = 0;
  std::uint64_t data_cap = 0;
  std::uint32_t deadline_s = 600;
  std::uint32_t stall_s = 30;
  int chunk_attempts = 3;
  bool force = false;
  bool json = false;
};

// A bundle that changes on the server mid-download is fetched again from its head, this often.
constexpr int kMaxRestarts = 3;

Status Fetch(const FetchArgs& a) {
  UPLIFT_TRY(RefuseOverwrite(a.out, a.force));
  std::optional<format::TrustStore> trust;
  if (!a.trust_store.empty()) {
    UPLIFT_ASSIGN(trust, LoadTrustStore(a.trust_store));
  }

  transport::HttpOptions http;
  http.ca_file = a.ca_file;
  http.pinned_public_key = a.pin;
  http.proxy = a.proxy;
  http.http2 = !a.no_http2;
  http.max_bytes_per_s = a.max_rate;
  http.byte_budget = a.data_cap;
  http.retry.deadline = transport::Millis(std::uint64_t{a.deadline_s} * 1000);
  http.stall_time = transport::Millis(std::uint64_t{a.stall_s} * 1000);
  http.user_agent = std::string("uplift/") + UPLIFT_VERSION;

  transport::FetchOptions options;
  options.verify.trust = trust ? &*trust : nullptr;
  options.verify.now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  if (!a.hardware.empty()) options.verify.hardware = a.hardware;
  options.max_chunk_attempts = a.chunk_attempts;

  const auto start = std::chrono::steady_clock::now();
  transport::TransferStats total;
  std::uint64_t fetched_before = 0;
  for (int attempt = 0;; ++attempt) {
    UPLIFT_ASSIGN(auto writer, AtomicFileWriter::Create(a.out));
    http.budget_used = fetched_before;
    UPLIFT_ASSIGN(auto src, transport::HttpRangeSource::Create(a.url, http));
    std::optional<Progress> bar;
    options.progress = [&bar, &a](std::uint64_t done, std::uint64_t all) {
      if (!bar) bar.emplace("fetch", all, !a.json);
      bar->Update(done);
    };
    // Writing runs on its own thread while the next chunks are received and verified.
    AsyncSink async(writer);
    auto report = transport::FetchBundle(*src, options, async);
    if (report.ok()) {
      if (Status st = async.Finish(); !st.ok()) report = std::move(st).error();
    }
    const auto s = src->stats();
    total.body_bytes += s.body_bytes;
    total.wasted_bytes += s.wasted_bytes;
    total.reread_bytes += s.reread_bytes;
    total.requests += s.requests;
    total.retries += s.retries;
    total.stalls += s.stalls;
    fetched_before = src->fetched_bytes();
    if (!report.ok()) {
      if (report.error().Is(base::Errc::kSourceChanged) && attempt < kMaxRestarts) {
        std::fprintf(stderr, "uplift: %s; starting over\n", report.error().message().c_str());
        continue;
      }
      return std::move(report).error();
    }
    UPLIFT_TRY(writer.Commit());
    if (bar) bar->Done();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (a.json) {
      PrintJson({{"ok", true},
                 {"url", a.url},
                 {"path", a.out},
                 {"bundle_bytes", report->bundle_size},
                 {"chunks", report->chunks},
                 {"refetched_chunks", report->refetched_chunks},
                 {"refetched_bytes", report->refetched_bytes},
                 {"body_bytes", total.body_bytes},
                 {"wasted_bytes", total.wasted_bytes},
                 {"requests", total.requests},
                 {"retries", total.retries},
                 {"stalls", total.stalls},
                 {"restarts", attempt},
                 {"validator", src->validator()},
                 {"seconds", secs}});
    } else {
      std::printf(
          "%s: %llu bytes, %llu chunks verified (%llu fetched again), %llu requests, "
          "%.2f s\n",
          a.out.c_str(), static_cast<unsigned long long>(report->bundle_size),
          static_cast<unsigned long long>(report->chunks),
          static_cast<unsigned long long>(report->refetched_chunks),
          static_cast<unsigned long long>(total.requests), secs);
    }
    return Ok();
  }
}

}  // namespace

void RegisterFetchCommand(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<FetchArgs>();
  auto* fetch = app.add_subcommand(
      "fetch", "Download a bundle over HTTP(S), verifying every chunk as it arrives");
  fetch->add_option("URL", f->url, "http:// or https:// URL of the bundle")->required();
  fetch->add_option("OUT", f->out, "Output file (written atomically)")->required();
  fetch->add_option("--trust-store", f->trust_store,
                    "Check signatures against this trust store (without: integrity only)");
  fetch->add_option("--hardware", f->hardware, "Refuse a bundle not compatible with this id");
  fetch->add_option("--ca-file", f->ca_file, "PEM file of trusted CAs (default: the system's)");
  fetch->add_option("--pin", f->pin, "Also require this server key: sha256//BASE64");
  fetch->add_option("--proxy", f->proxy, "Proxy URL (default: the *_proxy environment)");
  fetch->add_flag("--no-http2", f->no_http2, "Do not offer HTTP/2 over TLS");
  fetch->add_option("--max-rate", f->max_rate, "Bandwidth cap in bytes/s (0: none)")
      ->capture_default_str();
  fetch
      ->add_option("--data-cap", f->data_cap,
                   "Refuse to receive more than this many bytes, all attempts (0: none)")
      ->capture_default_str();
  fetch->add_option("--deadline", f->deadline_s, "Give up retrying after this many seconds")
      ->check(CLI::Range(1, 7 * 86400))
      ->capture_default_str();
  fetch->add_option("--stall", f->stall_s, "Reconnect after this many seconds without data")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  fetch
      ->add_option("--chunk-attempts", f->chunk_attempts,
                   "Re-reads of a corrupt chunk before failing")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  fetch->add_flag("--force", f->force, "Overwrite an existing output file");
  fetch->add_flag("--json", f->json, "Machine-readable output");
  OnParsed(fetch, ctx, f, [](const auto& args) { return Fetch(args); });
}

}  // namespace uplift::cli
