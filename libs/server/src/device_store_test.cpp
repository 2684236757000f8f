// The device store's behaviour, the same tests on SQLite and on a real PostgreSQL (started on
// 127.0.0.1 by the test): migrations, durable ordered reports, group commit, batched soft state,
// bad input, resent reports stored once, and acknowledged reports surviving a kill -9 of the
// writing process.
#include "uplift/server/device_store.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "postgres.hpp"
#include "store_backend.hpp"

namespace uplift::server {
namespace {

namespace fs = std::filesystem;

faultlab::PostgresServer& Postgres() {
  static std::unique_ptr<faultlab::PostgresServer> server = [] {
    auto s = faultlab::PostgresServer::Start();
    if (!s.ok()) {
      ADD_FAILURE() << "postgres: " << s.error().message();
      return std::unique_ptr<faultlab::PostgresServer>();
    }
    return std::move(s).value();
  }();
  return *server;
}

struct Backend {
  const char* name;
};

class DeviceStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "uplift-store-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    // Each test gets its own tenant, so the shared PostgreSQL database needs no cleanup.
    tenant_ = std::string("t-") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    tenant_ = tenant_.substr(0, 100);
  }
  void TearDown() override { fs::remove_all(dir_); }

  bool postgres() const { return std::string(GetParam().name) == "postgres"; }

  Result<std::unique_ptr<DeviceStore>> Open(StoreOptions o = {}) {
    if (postgres()) return OpenPostgresStore(Postgres().ConnectionString(), o);
    return OpenSqliteStore(dir_ + "/store.db", o);
  }

  DeviceReport Report(const std::string& device, int progress) const {
    return DeviceReport{tenant_, device, 1'750'000'000 + progress, "installing", progress, "", ""};
  }

  std::string dir_;
  std::string tenant_;
};

TEST_P(DeviceStoreTest, MigratesOnceAndReopens) {
  auto a = Open();
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ((*a)->schema_version(), kStoreSchemaVersion);
  a->reset();
  auto b = Open();
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ((*b)->schema_version(), kStoreSchemaVersion);
}

TEST_P(DeviceStoreTest, ReportsAreAcknowledgedInOrderAndReadBack) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.error().message();
  std::vector<std::int64_t> seqs;
  for (int p : {0, 30, 100}) {
    auto seq = (*store)->AppendReport(Report("dev-1", p));
    ASSERT_TRUE(seq.ok()) << seq.error().message();
    seqs.push_back(*seq);
  }
  EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
  DeviceReport done = Report("dev-1", 100);
  done.phase = "failed";
  done.result = "failure";
  done.reason = "health check \"app\" exited 1\n{\\}";  // quotes, backslashes, newline
  ASSERT_TRUE((*store)->AppendReport(done).ok());
  ASSERT_TRUE((*store)->AppendReport(Report("dev-2", 5)).ok());
  auto got = (*store)->Reports(tenant_, "dev-1", 0, 100);
  ASSERT_TRUE(got.ok()) << got.error().message();
  ASSERT_EQ(got->size(), 4u);
  EXPECT_EQ((*got)[0].report, Report("dev-1", 0));
  EXPECT_EQ((*got)[3].report, done);
  auto after = (*store)->Reports(tenant_, "dev-1", seqs[1], 1);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].seq, seqs[2]);
  // Another tenant's device of the same id sees nothing.
  auto other = (*store)->Reports(tenant_ + "-other", "dev-1", 0, 100);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());
}

TEST_P(DeviceStoreTest, ConcurrentReportsShareCommits) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.error().message();
  constexpr int kThreads = 32, kEach = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::vector<std::vector<std::int64_t>> seqs(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto seq = (*store)->AppendReport(Report("dev-" + std::to_string(t), i));
        if (!seq.ok()) {
          ++failures;
          return;
        }
        seqs[static_cast<std::size_t>(t)].push_back(*seq);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  std::set<std::int64_t> all;
  for (const auto& v : seqs) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
  // Group commit: far fewer transactions than reports.
  EXPECT_LT((*store)->report_commits(), static_cast<std::uint64_t>(kThreads * kEach / 4));
  for (int t = 0; t < kThreads; ++t) {
    auto got = (*store)->Reports(tenant_, "dev-" + std::to_string(t), 0, 1000);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), static_cast<std::size_t>(kEach));
    for (int i = 0; i < kEach; ++i)
      EXPECT_EQ((*got)[static_cast<std::size_t>(i)].report.progress, i);
  }
}

TEST_P(DeviceStoreTest, SoftStateIsBatchedAndTheLatestWins) {
  StoreOptions o;
  o.state_flush_interval = std::chrono::hours(1);  // only explicit flushes in this test
  auto store = Open(o);
  ASSERT_TRUE(store.ok()) << store.error().message();
  DeviceState s{tenant_, "dev-1", 100, R"({"version":"1.0.0","battery":80})"};
  ASSERT_TRUE((*store)->PutState(s).ok());
  s.last_seen = 160;
  s.inventory = R"({"version":"1.0.0","battery":79,"note":"qu\"ote \\ back"})";
  ASSERT_TRUE((*store)->PutState(s).ok());
  auto before = (*store)->GetState(tenant_, "dev-1");
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->has_value());  // not written yet: soft state waits for the batch
  ASSERT_TRUE((*store)->FlushState().ok());
  auto after = (*store)->GetState(tenant_, "dev-1");
  ASSERT_TRUE(after.ok()) << after.error().message();
  ASSERT_TRUE(after->has_value());
  EXPECT_EQ(**after, s);
  s.last_seen = 220;
  ASSERT_TRUE((*store)->PutState(s).ok());
  ASSERT_TRUE((*store)->FlushState().ok());
  EXPECT_EQ((*store)->GetState(tenant_, "dev-1")->value().last_seen, 220);
}

TEST_P(DeviceStoreTest, BadInputIsRefusedAndNothingStored) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.error().message();
  DeviceReport bad = Report("", 0);
  EXPECT_TRUE((*store)->AppendReport(bad).error().Is(StoreErrc::kInvalid));
  bad = Report("dev", 101);
  EXPECT_TRUE((*store)->AppendReport(bad).error().Is(StoreErrc::kInvalid));
  bad = Report(std::string(200, 'x'), 1);
  EXPECT_TRUE((*store)->AppendReport(bad).error().Is(StoreErrc::kInvalid));
  bad = Report("dev", 1);
  bad.reason = std::string("a\0b", 3);
  EXPECT_TRUE((*store)->AppendReport(bad).error().Is(StoreErrc::kInvalid));
  for (const std::string& id :
       {std::string(65, 'r'), std::string("a b"), std::string("a/b"), std::string("a.b")}) {
    bad = Report("dev", 1);
    bad.report_id = id;
    EXPECT_TRUE((*store)->AppendReport(bad).error().Is(StoreErrc::kInvalid)) << id;
  }
  DeviceState big{tenant_, "dev", 1, std::string(kMaxInventoryBytes + 1, 'x')};
  EXPECT_TRUE((*store)->PutState(big).error().Is(StoreErrc::kInvalid));
  ASSERT_TRUE((*store)->FlushState().ok());
  EXPECT_TRUE((*store)->Reports(tenant_, "dev", 0, 10)->empty());
  EXPECT_FALSE((*store)->GetState(tenant_, "dev")->has_value());
}

DeviceReport WithId(DeviceReport r, const std::string& id) {
  r.report_id = id;
  return r;
}

TEST_P(DeviceStoreTest, AResentReportIsStoredOnce) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.error().message();
  const DeviceReport r = WithId(Report("dev-1", 40), "4f1c0b7a2d3e4f50");
  auto first = (*store)->AppendReport(r);
  ASSERT_TRUE(first.ok()) << first.error().message();
  auto again = (*store)->AppendReport(r);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(*again, *first);
  // The id decides, not the content: a resend carries what the device stored.
  auto changed = (*store)->AppendReport(WithId(Report("dev-1", 41), "4f1c0b7a2d3e4f50"));
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, *first);
  // Ids are per device and per tenant; reports without an id are never merged.
  DeviceReport elsewhere = r;
  elsewhere.tenant += "-other";
  auto other_tenant = (*store)->AppendReport(elsewhere);
  auto other_device = (*store)->AppendReport(WithId(Report("dev-2", 40), r.report_id));
  auto no_id_1 = (*store)->AppendReport(Report("dev-1", 50));
  auto no_id_2 = (*store)->AppendReport(Report("dev-1", 50));
  ASSERT_TRUE(other_tenant.ok() && other_device.ok() && no_id_1.ok() && no_id_2.ok());
  EXPECT_NE(*other_tenant, *first);
  EXPECT_NE(*other_device, *first);
  EXPECT_NE(*no_id_1, *no_id_2);
  auto got = (*store)->Reports(tenant_, "dev-1", 0, 100);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].seq, *first);
  EXPECT_EQ((*got)[0].report, r);
}

// The backend directly, so that duplicates are in one group for sure: within a batch, and
// against reports stored by an earlier batch.
TEST_P(DeviceStoreTest, DuplicatesInOneGroupShareOneSeq) {
  auto backend = postgres() ? internal::OpenPostgresBackend(Postgres().ConnectionString())
                            : internal::OpenSqliteBackend(dir_ + "/store.db");
  ASSERT_TRUE(backend.ok()) << backend.error().message();
  const DeviceReport a = WithId(Report("dev", 1), "a");
  const DeviceReport b = WithId(Report("dev", 2), "b");
  const DeviceReport plain = Report("dev", 3);
  auto seqs = (*backend)->CommitReports({&a, &plain, &a, &b, &plain, &b, &a});
  ASSERT_TRUE(seqs.ok()) << seqs.error().message();
  const auto& s = *seqs;
  ASSERT_EQ(s.size(), 7u);
  EXPECT_EQ(s[2], s[0]);
  EXPECT_EQ(s[6], s[0]);
  EXPECT_EQ(s[5], s[3]);
  EXPECT_LT(s[0], s[1]);
  EXPECT_LT(s[1], s[3]);
  EXPECT_LT(s[3], s[4]);
  const DeviceReport c = WithId(Report("dev", 4), "c");
  auto next = (*backend)->CommitReports({&c, &b, &plain, &a});
  ASSERT_TRUE(next.ok()) << next.error().message();
  EXPECT_GT((*next)[0], s[4]);
  EXPECT_EQ((*next)[1], s[3]);
  EXPECT_GT((*next)[2], (*next)[0]);
  EXPECT_EQ((*next)[3], s[0]);
  auto got = (*backend)->Reports(tenant_, "dev", 0, 100);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 6u);  // a, plain, b, plain, c, plain
}

// Two server instances (two stores on one database) and many threads resend the same reports
// at once: each id is stored once and every caller gets its seq.
TEST_P(DeviceStoreTest, ConcurrentResendsFromTwoInstancesAreStoredOnce) {
  auto one = Open();
  auto two = Open();
  ASSERT_TRUE(one.ok() && two.ok());
  constexpr int kThreads = 16, kIds = 30;
  std::vector<std::vector<std::int64_t>> seqs(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      DeviceStore& store = t % 2 == 0 ? **one : **two;
      for (int i = 0; i < kIds; ++i) {
        auto seq = store.AppendReport(WithId(Report("dev", i), "id-" + std::to_string(i)));
        if (!seq.ok()) {
          ++failures;
          return;
        }
        seqs[static_cast<std::size_t>(t)].push_back(*seq);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(seqs[static_cast<std::size_t>(t)], seqs[0]);
  auto got = (*one)->Reports(tenant_, "dev", 0, 1000);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), static_cast<std::size_t>(kIds));
  for (int i = 0; i < kIds; ++i) {
    EXPECT_EQ((*got)[static_cast<std::size_t>(i)].seq, seqs[0][static_cast<std::size_t>(i)]);
  }
}

// A child process appends reports from several threads and prints each acknowledged sequence
// number; it is killed with SIGKILL at a random moment. Every acknowledged report must be there.
TEST_P(DeviceStoreTest, AcknowledgedReportsSurviveKillNine) {
  { ASSERT_TRUE(Open().ok()); }  // migrate before forking
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::string device = "victim-" + std::to_string(round);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto store = Open();
      if (!store.ok()) ::_exit(3);
      std::vector<std::thread> threads;
      std::mutex out_mu;
      for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0;; ++i) {
            auto seq = (*store)->AppendReport(Report(device, (t * 7 + i) % 101));
            if (!seq.ok()) ::_exit(4);
            std::lock_guard lock(out_mu);
            const std::string line = std::to_string(*seq) + "\n";
            if (::write(fds[1], line.data(), line.size()) < 0) ::_exit(5);
          }
        });
      }
      for (auto& th : threads) th.join();
      ::_exit(0);
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + 250 * round));
    ::kill(pid, SIGKILL);
    std::string acked;
    char buf[65536];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
      acked.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer ended by itself with " << WEXITSTATUS(status);
    std::set<std::int64_t> acknowledged;
    std::size_t pos = 0;
    while (pos < acked.size()) {
      const std::size_t nl = acked.find('\n', pos);
      if (nl == std::string::npos) break;  // a line cut by the kill was never acknowledged
      acknowledged.insert(std::stoll(acked.substr(pos, nl - pos)));
      pos = nl + 1;
    }
    ASSERT_GT(acknowledged.size(), 0u);
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.error().message();
    auto got = (*store)->Reports(tenant_, device, 0, 10'000'000);
    ASSERT_TRUE(got.ok()) << got.error().message();
    std::set<std::int64_t> stored;
    for (const auto& r : *got) stored.insert(r.seq);
    std::size_t lost = 0;
    for (std::int64_t s : acknowledged) lost += stored.count(s) == 0 ? 1u : 0u;
    EXPECT_EQ(lost, 0u) << "of " << acknowledged.size() << " acknowledged reports";
    std::printf("[ kill -9  ] %s round %d: %zu acknowledged, %zu stored, 0 lost\n", GetParam().name,
                round, acknowledged.size(), stored.size());
  }
}

TEST(DeviceStorePostgres, ACrashedDatabaseKeepsAcknowledgedReports) {
  auto& pg = Postgres();
  auto store = OpenPostgresStore(pg.ConnectionString());
  ASSERT_TRUE(store.ok()) << store.error().message();
  std::vector<std::int64_t> acked;
  for (int i = 0; i < 50; ++i) {
    auto seq = (*store)->AppendReport(DeviceReport{"crash", "dev", 1, "installing", i, "", ""});
    ASSERT_TRUE(seq.ok());
    acked.push_back(*seq);
  }
  store->reset();
  ASSERT_TRUE(pg.CrashAndRestart().ok());  // SIGKILL of the postmaster
  auto again = OpenPostgresStore(pg.ConnectionString());
  ASSERT_TRUE(again.ok()) << again.error().message();
  auto got = (*again)->Reports("crash", "dev", 0, 1000);
  ASSERT_TRUE(got.ok()) << got.error().message();
  ASSERT_EQ(got->size(), acked.size());
  for (std::size_t i = 0; i < acked.size(); ++i) EXPECT_EQ((*got)[i].seq, acked[i]);
}

TEST(DeviceStoreSqlite, ADatabaseFromANewerServerIsRefused) {
  std::string tmpl = (fs::temp_directory_path() / "uplift-store-XXXXXX").string();
  const std::string dir = ::mkdtemp(tmpl.data());
  { ASSERT_TRUE(OpenSqliteStore(dir + "/s.db").ok()); }
  const std::string cmd =
      "sqlite3 " + dir + "/s.db \"INSERT INTO schema_migrations VALUES (99, 0)\"";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "sqlite3 CLI not installed";
  auto s = OpenSqliteStore(dir + "/s.db");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.error().Is(StoreErrc::kSchemaTooNew)) << s.error().message();
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, DeviceStoreTest,
                         ::testing::Values(Backend{"sqlite"}, Backend{"postgres"}),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace uplift::server
