// kill -9 of the real uplift-server binary under load, on SQLite and on PostgreSQL: every report
// the server acknowledged is in the database after the crash, and the restarted server serves.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "api_client.hpp"
#include "child_process.hpp"
#include "postgres.hpp"
#include "uplift/base/io.hpp"
#include "uplift/crypto/keys.hpp"
#include "uplift/format/device_protocol.hpp"
#include "uplift/format/trust_store.hpp"
#include "uplift/server/device_store.hpp"
#include "uplift/server/server.hpp"

namespace uplift::server {
namespace {

namespace fs = std::filesystem;
using testing::Http;
using testing::SignedHeaders;

faultlab::PostgresServer* Postgres() {
  static std::unique_ptr<faultlab::PostgresServer> server = [] {
    auto s = faultlab::PostgresServer::Start();
    if (!s.ok()) {
      ADD_FAILURE() << "postgres: " << s.error().message();
      return std::unique_ptr<faultlab::PostgresServer>();
    }
    return std::move(s).value();
  }();
  return server.get();
}

std::uint16_t FreePort() {
  // Bind port 0, read the port, close: the server binds it right after (a race only with other
  // processes picking random ports at the same instant).
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Backend {
  const char* name;
};

class ServerCrash : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "uplift-crash-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    auto key = crypto::PrivateKey::Generate(crypto::SignatureAlgorithm::kEd25519).value();
    format::TrustStore ts;
    ASSERT_TRUE(ts.AddKey(key.Public(), std::string(format::kReleaseRole)).ok());
    config_.data_dir = dir_ + "/data";
    tenant_ = std::string("crash-") + GetParam().name + "-" + std::to_string(::getpid());
    if (std::string(GetParam().name) == "postgres") {
      ASSERT_NE(Postgres(), nullptr);
      config_.database = Postgres()->ConnectionString();
    }
    auto init = InitDataDir(config_, tenant_, ts.Serialize());
    ASSERT_TRUE(init.ok()) << init.error().message();
    init_ = *init;
    port_ = FreePort();
    url_ = "http://127.0.0.1:" + std::to_string(port_);
    std::string toml = "data_dir = \"" + config_.data_dir + "\"\n";
    if (!config_.database.empty()) toml += "database = \"" + config_.database + "\"\n";
    toml += "[http]\nport = " + std::to_string(port_) + "\nio_threads = 2\n";
    toml += "[log]\nlevel = \"warn\"\n";
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/server.toml", AsBytes(toml)).ok());
  }
  void TearDown() override {
    if (pid_ > 0) faultlab::KillTree(pid_, std::chrono::seconds(10));
    fs::remove_all(dir_);
  }

  void StartServer() {
    auto pid = faultlab::SpawnLogged({UPLIFT_SERVER_BIN, "-c", dir_ + "/server.toml"},
                                     dir_ + "/server.log");
    ASSERT_TRUE(pid.ok());
    pid_ = *pid;
    for (int i = 0; i < 300; ++i) {
      if (Http("GET", url_ + "/healthz").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "server did not come up: " << faultlab::LogTail(dir_ + "/server.log");
  }

  Bytes Enroll(const std::string& id) {
    auto r = Http("POST", url_ + "/api/device/v1/enroll", {},
                  format::EncodeEnrollRequest({tenant_, id, "hw", init_.enrollment_secret}));
    auto out = format::DecodeEnrollResponse(AsBytes(r.body));
    EXPECT_TRUE(out.ok()) << r.status << " " << r.body;
    return out.ok() ? out->credential : Bytes{};
  }

  Result<std::unique_ptr<DeviceStore>> OpenStore() {
    if (!config_.database.empty()) return OpenPostgresStore(config_.database);
    return OpenSqliteStore(config_.data_dir + "/uplift.db");
  }

  std::string dir_;
  std::string tenant_;
  ServerConfig config_;
  InitResult init_;
  std::uint16_t port_ = 0;
  std::string url_;
  pid_t pid_ = -1;
};

TEST_P(ServerCrash, AcknowledgedReportsSurviveKill9UnderLoad) {
  constexpr int kDevices = 16;
  constexpr int kRounds = 3;
  std::mt19937 rng(static_cast<std::uint32_t>(::getpid()));
  std::mutex mu;
  std::map<std::string, std::set<std::string>> acked;  // device -> report ids
  std::vector<Bytes> creds;
  std::uint64_t total_acked = 0;
  for (int round = 0; round < kRounds; ++round) {
    StartServer();
    if (round == 0) {
      for (int d = 0; d < kDevices; ++d) creds.push_back(Enroll("dev-" + std::to_string(d)));
    }
    std::atomic<bool> stop{false};
    std::vector<std::thread> load;
    for (int d = 0; d < kDevices; ++d) {
      load.emplace_back([&, d] {
        const std::string dev = "dev-" + std::to_string(d);
        for (int i = 0; !stop.load(); ++i) {
          const std::string id = "r" + std::to_string(round) + "-" + std::to_string(i);
          const std::string body = format::EncodeReports(
              {format::Report{id, std::time(nullptr), 1, "installing", i % 101, "", ""}});
          const std::string target = "/api/device/v1/reports";
          auto r = Http("POST", url_ + target,
                        SignedHeaders(creds[static_cast<std::size_t>(d)], "POST", target, tenant_,
                                      dev, std::time(nullptr), body),
                        body);
          if (r.status == 200) {
            auto ids = format::DecodeAccepted(AsBytes(r.body));
            if (ids.ok() && ids->size() == 1 && (*ids)[0] == id) {
              std::lock_guard lock(mu);
              acked[dev].insert(id);
              ++total_acked;
            }
          } else if (r.status == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1200));
    ASSERT_TRUE(faultlab::KillTree(pid_, std::chrono::seconds(10)));
    pid_ = -1;
    stop = true;
    for (auto& t : load) t.join();
  }
  ASSERT_GT(total_acked, 100u) << "too little load to prove anything";
  std::printf("%llu reports acknowledged across %d kill -9s\n",
              static_cast<unsigned long long>(total_acked), kRounds);
  // Every acknowledged report is in the database.
  auto store = OpenStore();
  ASSERT_TRUE(store.ok()) << store.error().message();
  std::uint64_t found = 0;
  for (const auto& [dev, ids] : acked) {
    auto reports = (*store)->Reports(tenant_, dev, 0, 1'000'000);
    ASSERT_TRUE(reports.ok());
    std::set<std::string> stored;
    for (const auto& r : *reports) stored.insert(r.report.report_id);
    for (const auto& id : ids) {
      EXPECT_TRUE(stored.contains(id)) << dev << " lost acknowledged report " << id;
      found += stored.contains(id) ? 1u : 0u;
    }
  }
  EXPECT_EQ(found, total_acked);
  store->reset();
  // And the server starts again on the crashed data.
  StartServer();
  EXPECT_EQ(Http("GET", url_ + "/healthz").status, 200);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerCrash,
                         ::testing::Values(Backend{"sqlite"}, Backend{"postgres"}),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace uplift::server
