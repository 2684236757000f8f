// Device-state updates per second on the device store, SQLite and a real PostgreSQL (started
// here on 127.0.0.1, fsync on), with group commit against the naive design (one transaction, one
// fsync per report: StoreOptions::max_group = 1) in the same run. Also soft-state updates
// (last seen + inventory, batched). Prints a Markdown table.
//   store_bench [THREADS] [SECONDS]   (defaults 256 and 5)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "postgres.hpp"
#include "uplift/server/device_store.hpp"

namespace {

using namespace uplift;          // NOLINT(google-build-using-namespace)
using namespace uplift::server;  // NOLINT(google-build-using-namespace)
using Clock = std::chrono::steady_clock;

double CpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Rate {
  double per_second = 0;
  double cpu_us = 0;  // this process's CPU microseconds per update
  std::uint64_t commits = 0;
};

// `threads` simulated devices report as fast as acknowledgements come back, for `seconds`.
Rate Reports(DeviceStore& store, int threads, double seconds, const std::string& tenant) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> done{0};
  std::vector<std::thread> ts;
  const double cpu0 = CpuSeconds();
  const std::uint64_t commits0 = store.report_commits();
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      const std::string device = "dev-" + std::to_string(t);
      for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        auto seq = store.AppendReport(
            DeviceReport{tenant, device, 1'750'000'000 + i, "installing", i % 101, "", ""});
        if (!seq.ok()) {
          std::fprintf(stderr, "store_bench: %s\n", seq.error().message().c_str());
          std::exit(1);
        }
        done.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : ts) th.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double n = static_cast<double>(done.load());
  return Rate{n / secs, (CpuSeconds() - cpu0) / n * 1e6, store.report_commits() - commits0};
}

Rate States(DeviceStore& store, int devices, int rounds, const std::string& tenant) {
  const double cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (int d = 0; d < devices; ++d) {
      const Status st =
          store.PutState(DeviceState{tenant, "dev-" + std::to_string(d), r,
                                     R"({"version":"1.0.0","battery":80,"net":"lte"})"});
      if (!st.ok()) std::exit(1);
    }
  }
  if (!store.FlushState().ok()) std::exit(1);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double n = static_cast<double>(devices) * rounds;
  return Rate{n / secs, (CpuSeconds() - cpu0) / n * 1e6, 0};
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 256;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 5;
  auto pg = faultlab::PostgresServer::Start();
  if (!pg.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", pg.error().message().c_str());
    return 1;
  }
  const std::string dir = std::filesystem::temp_directory_path() / "uplift-store-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  std::printf(
      "| backend | design | durable reports/s | commits | CPU µs per report (bench process) |\n");
  std::printf("|---|---|---|---|---|\n");
  double naive_rate[2] = {0, 0};
  int row = 0;
  for (const char* backend : {"SQLite", "PostgreSQL"}) {
    for (const std::size_t group : {std::size_t{1}, std::size_t{4096}}) {
      StoreOptions o;
      o.max_group = group;
      auto store = std::string(backend) == "SQLite"
                       ? OpenSqliteStore(dir + "/store-" + std::to_string(group) + ".db", o)
                       : OpenPostgresStore((*pg)->ConnectionString(), o);
      if (!store.ok()) {
        std::fprintf(stderr, "store_bench: %s\n", store.error().message().c_str());
        return 1;
      }
      const Rate r = Reports(**store, threads, seconds, "bench-" + std::to_string(group));
      const bool naive = group == 1;
      if (naive) naive_rate[row] = r.per_second;
      std::printf(
          "| %s | %s | %.0f%s | %llu | %.1f |\n", backend,
          naive ? "one transaction per report" : "group commit", r.per_second,
          naive
              ? ""
              : (" (**" + std::to_string(static_cast<int>(r.per_second / naive_rate[row])) + "×**)")
                    .c_str(),
          static_cast<unsigned long long>(r.commits), r.cpu_us);
    }
    ++row;
  }
  std::printf(
      "\n| backend | soft-state updates/s (last seen + inventory, batched) | CPU µs per update "
      "|\n");
  std::printf("|---|---|---|\n");
  for (const char* backend : {"SQLite", "PostgreSQL"}) {
    auto store = std::string(backend) == "SQLite" ? OpenSqliteStore(dir + "/state.db")
                                                  : OpenPostgresStore((*pg)->ConnectionString());
    if (!store.ok()) return 1;
    const Rate r = States(**store, 10'000, 10, "bench-state");
    std::printf("| %s | %.0f | %.1f |\n", backend, r.per_second, r.cpu_us);
  }
  std::printf(
      "\n%d reporting threads, %.0f s per row; PostgreSQL 15 on 127.0.0.1 with fsync on, "
      "SQLite in WAL mode with synchronous=FULL for reports.\n",
      threads, seconds);
  std::filesystem::remove_all(dir);
  return 0;
}
