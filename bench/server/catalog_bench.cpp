// RecordNonce calls per second (replay protection, called on every device request) on the
// catalog: SQLite (in-memory set, write-behind to the nonces table) and a real PostgreSQL
// (started here on 127.0.0.1, fsync on; UNLOGGED table, INSERT ... ON CONFLICT DO NOTHING over
// a connection pool). New nonces, then the same nonces again (replays, all refused).
// Prints a Markdown table.
//   catalog_bench [THREADS] [SECONDS]   (defaults 8 and 5)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "postgres.hpp"
#include "uplift/server/catalog.hpp"

namespace {

using namespace uplift;          // NOLINT(google-build-using-namespace)
using namespace uplift::server;  // NOLINT(google-build-using-namespace)
using Clock = std::chrono::steady_clock;

double CpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string Nonce(int thread, std::uint64_t i) {
  char b[40];
  std::snprintf(b, sizeof b, "n%02d-%016llx", thread, static_cast<unsigned long long>(i));
  return b;
}

struct Rate {
  double per_second = 0;
  double cpu_us = 0;  // this process's CPU microseconds per call
  std::uint64_t calls = 0;
  std::uint64_t wrong = 0;  // a new nonce refused or a replay accepted
};

// New nonces for `seconds` (each thread its own device); with `replay_of` set, each thread
// sends its first `replay_of[t]` nonces again instead.
Rate Run(Catalog& catalog, int threads, double seconds, const std::vector<std::uint64_t>* replay_of,
         std::vector<std::uint64_t>* sent) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> done{0}, wrong{0};
  std::vector<std::thread> ts;
  const double cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      const std::string device = "dev-" + std::to_string(t);
      const std::uint64_t limit = replay_of ? (*replay_of)[static_cast<std::size_t>(t)] : ~0ULL;
      std::uint64_t i = 0;
      for (; i < limit && !stop.load(std::memory_order_relaxed); ++i) {
        auto r = catalog.RecordNonce("bench", device, Nonce(t, i), 1'790'000'000);
        if (!r.ok()) {
          std::fprintf(stderr, "catalog_bench: %s\n", r.error().message().c_str());
          std::exit(1);
        }
        if (*r != (replay_of == nullptr)) wrong.fetch_add(1, std::memory_order_relaxed);
        done.fetch_add(1, std::memory_order_relaxed);
      }
      if (sent) (*sent)[static_cast<std::size_t>(t)] = i;
    });
  }
  std::uint64_t total = ~0ULL;  // replays end when every sent nonce was sent again
  if (replay_of != nullptr) {
    total = 0;
    for (auto n : *replay_of) total += n;
  }
  while (Clock::now() - t0 < std::chrono::duration<double>(seconds) && done.load() < total) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  for (auto& th : ts) th.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double n = static_cast<double>(done.load());
  return Rate{n / secs, (CpuSeconds() - cpu0) / n * 1e6, done.load(), wrong.load()};
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 8;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 5;
  auto pg = faultlab::PostgresServer::Start();
  if (!pg.ok()) {
    std::fprintf(stderr, "catalog_bench: %s\n", pg.error().message().c_str());
    return 1;
  }
  const std::string dir = std::filesystem::temp_directory_path() / "uplift-catalog-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  std::printf(
      "| backend | nonces | RecordNonce calls/s | calls | CPU µs per call (bench process) |\n");
  std::printf("|---|---|---|---|---|\n");
  for (const char* backend : {"SQLite", "PostgreSQL"}) {
    auto catalog = std::string(backend) == "SQLite"
                       ? OpenSqliteCatalog(dir + "/catalog.db")
                       : OpenPostgresCatalog((*pg)->ConnectionString());
    if (!catalog.ok()) {
      std::fprintf(stderr, "catalog_bench: %s\n", catalog.error().message().c_str());
      return 1;
    }
    std::vector<std::uint64_t> sent(static_cast<std::size_t>(threads));
    const Rate fresh = Run(**catalog, threads, seconds, nullptr, &sent);
    const Rate replay = Run(**catalog, threads, seconds, &sent, nullptr);
    for (const auto& [what, r] : {std::pair{"new", fresh}, std::pair{"replayed", replay}}) {
      std::printf("| %s | %s | %.0f | %llu | %.1f |\n", backend, what, r.per_second,
                  static_cast<unsigned long long>(r.calls), r.cpu_us);
      if (r.wrong != 0) {
        std::fprintf(stderr, "catalog_bench: %llu wrong answers\n",
                     static_cast<unsigned long long>(r.wrong));
        return 1;
      }
    }
  }
  std::printf(
      "\n%d threads, up to %.0f s per row; PostgreSQL 15 on 127.0.0.1 with fsync on; SQLite in "
      "WAL mode, nonces written behind every 100 ms.\n",
      threads, seconds);
  std::filesystem::remove_all(dir);
  return 0;
}
