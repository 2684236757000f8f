// The server and the agent together, all real processes on 127.0.0.1: `uplift server init`,
// `uplift-server`, `uplift release publish`, and `uplift-agent daemon --once` on a simulated
// device (file slots, U-Boot environment, `sim-boot`). A delta update from enrollment to commit
// with every phase reported; a release that does not boot rolled back and reported as such; and
// reports queued on the device while the server is down, delivered exactly once afterwards.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "api_client.hpp"
#include "child_process.hpp"
#include "process.hpp"
#include "sim_image.hpp"
#include "uplift/crypto/hash.hpp"

namespace uplift {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing::ReadAll;
using testing::RunResult;
using testing::Spawn;
using testing::WriteAll;

constexpr std::size_t kSlotSize = 8 << 20;

std::uint16_t FreePort() {
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

std::string Sha(const std::string& s) { return ToHex(crypto::Sha256::Of(AsBytes(s))); }

class AgentServer : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "uplift-e2e-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    fs::create_directories(P("device"));
    ASSERT_EQ(Uplift({"key", "gen", "--algo", "ed25519", "--out", P("release")}).exit_code, 0);
    ASSERT_EQ(Uplift({"trust", "init", P("trust.json"), "--key", P("release.pub")}).exit_code, 0);
    const RunResult init = Uplift({"server", "init", "--data", P("server"), "--tenant", "acme",
                                   "--trust", P("trust.json"), "--json"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    const Json j = Json::parse(init.out);
    token_ = j["admin_token"];
    WriteAll(P("enroll.secret"), j["enrollment_secret"].get<std::string>() + "\n");
    port_ = FreePort();
    url_ = "http://127.0.0.1:" + std::to_string(port_);
    WriteAll(P("server.toml"), "data_dir = \"" + P("server") + "\"\n[http]\nport = " +
                                   std::to_string(port_) + "\n[log]\nlevel = \"warn\"\n");
    StartServer();

    v1_ = testing::SimImage(2 << 20, 1);
    std::string slot_a = v1_;
    slot_a.resize(kSlotSize, '\0');
    WriteAll(P("device/slot-a.img"), slot_a);
    WriteAll(P("device/slot-b.img"), std::string(kSlotSize, '\0'));
    WriteAll(P("device/env0.bin"), std::string(0x4000, '\0'));
    WriteAll(P("device/env1.bin"), std::string(0x4000, '\0'));
    WriteAll(P("device/fw_env.config"),
             P("device/env0.bin") + " 0x0 0x4000\n" + P("device/env1.bin") + " 0x0 0x4000\n");
    WriteAll(P("device/agent.toml"),
             "device_type = \"sim-board\"\n"
             "data_dir = \"" +
                 P("device/data") +
                 "\"\n"
                 "trust_store = \"" +
                 P("trust.json") +
                 "\"\n"
                 "checkpoint_mib = 1\n"
                 "[slots]\n"
                 "a = { path = \"" +
                 P("device/slot-a.img") +
                 "\" }\n"
                 "b = { path = \"" +
                 P("device/slot-b.img") +
                 "\" }\n"
                 "[boot]\nbackend = \"uboot\"\n"
                 "fw_env_config = \"" +
                 P("device/fw_env.config") +
                 "\"\n"
                 "[transport]\nretry_deadline_seconds = 5\nrecover_deadline_seconds = 2\n"
                 "[server]\n"
                 "url = \"" +
                 url_ +
                 "\"\n"
                 "tenant = \"acme\"\n"
                 "device_id = \"cooker-0001\"\n"
                 "enrollment_secret_file = \"" +
                 P("enroll.secret") +
                 "\"\n"
                 "product = \"cooker-fw\"\n"
                 "factory_version = \"1.0.0\"\n"
                 "factory_image_sha256 = \"" +
                 Sha(v1_) +
                 "\"\n"
                 "attributes = { site = \"lab\" }\n"
                 "[reboot]\ncommand = [\"/bin/true\"]\n");
  }

  void TearDown() override {
    StopServer();
    fs::remove_all(dir_);
  }

  std::string P(const std::string& name) const { return dir_ + "/" + name; }

  RunResult Uplift(testing::Args args) {
    args.insert(args.begin(), UPLIFT_BIN);
    return Spawn(args, {{"UPLIFT_SERVER", url_}, {"UPLIFT_TOKEN", token_}});
  }
  RunResult Agent(testing::Args args) {
    args.insert(args.begin(), {UPLIFT_AGENT_BIN, "-c", P("device/agent.toml")});
    return Spawn(args);
  }

  void StartServer() {
    auto pid = faultlab::SpawnLogged({UPLIFT_SERVER_BIN, "-c", P("server.toml")}, P("server.log"));
    ASSERT_TRUE(pid.ok());
    server_pid_ = *pid;
    for (int i = 0; i < 300; ++i) {
      if (testing::Http("GET", url_ + "/healthz").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "uplift-server did not come up: " << faultlab::LogTail(P("server.log"));
  }
  void StopServer() {
    if (server_pid_ > 0) {
      ::kill(server_pid_, SIGTERM);
      int status = 0;
      ::waitpid(server_pid_, &status, 0);
      server_pid_ = -1;
    }
  }

  // Bundles IMAGE as VERSION (a delta from `from` when set) and publishes it.
  void Publish(const std::string& image, const std::string& version, int counter,
               const std::string& from = "") {
    const std::string img = P("img-" + version + (from.empty() ? "" : "-d"));
    WriteAll(img, image);
    testing::Args args = {"bundle",
                          "create",
                          "--image",
                          img,
                          "--product",
                          "cooker-fw",
                          "--version",
                          version,
                          "--compat",
                          "sim-board",
                          "--security-counter",
                          std::to_string(counter),
                          "--key",
                          P("release.key"),
                          "--out",
                          img + ".upl"};
    if (!from.empty()) {
      WriteAll(P("from.img"), from);
      args.insert(args.end(), {"--delta-from", P("from.img"), "--delta-only"});
    }
    const RunResult b = Uplift(args);
    ASSERT_EQ(b.exit_code, 0) << b.err;
    const RunResult pub = Uplift({"release", "publish", img + ".upl", "--json"});
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
  }

  // One step of the daemon; its JSON line.
  Json Step(const std::string& booted) {
    const RunResult r = Agent({"daemon", "--once", "--json", "--booted-slot", booted});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    Json j = Json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out << r.err;
    return j;
  }

  std::string Boot() {
    const RunResult r = Agent({"sim-boot"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, 1);
  }

  Json Device() {
    const RunResult r = Uplift({"device", "show", "cooker-0001", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out, nullptr, false);
  }

  static std::vector<std::string> Phases(const Json& device) {
    std::vector<std::string> out;
    for (const auto& r : device["reports"]) {
      out.push_back(r["phase"].get<std::string>() + (r["result"].get<std::string>().empty()
                                                         ? ""
                                                         : "/" + r["result"].get<std::string>()));
    }
    return out;
  }

  std::string dir_;
  std::string token_;
  std::uint16_t port_ = 0;
  std::string url_;
  pid_t server_pid_ = -1;
  std::string v1_;
};

TEST_F(AgentServer, DeltaUpdateFromEnrollmentToCommitWithEveryPhaseReported) {
  std::string v2 = v1_;
  // 2.0.0 rewrites 64 KiB in the middle: the delta is a small fraction of the image.
  const std::string patch = testing::SimImage(64 << 10, 9);
  std::string body2 = v2.substr(24, v2.size() - 24 - 32);
  body2.replace(1 << 20, patch.size(), patch);
  {
    // The simulated kernel format around the changed body.
    std::string img = "UPLIFT-SIM-BOOT\n";
    std::uint8_t len[8];
    StoreLe64(len, body2.size());
    img.append(reinterpret_cast<const char*>(len), 8);
    img += body2;
    const auto d = crypto::Sha256::Of(AsBytes(body2));
    img.append(reinterpret_cast<const char*>(d.data()), d.size());
    v2 = img;
  }
  Publish(v2, "2.0.0", 2);
  Publish(v2, "2.0.0", 2, v1_);

  // First start: enrolls, checks in, is offered the delta, installs it, asks for a reboot.
  const Json s1 = Step("A");
  EXPECT_EQ(s1["outcome"], "installed") << s1.dump();
  EXPECT_EQ(s1["offer"]["kind"], "delta");
  EXPECT_TRUE(fs::exists(P("device/data/credential")));
  EXPECT_EQ(fs::status(P("device/data/credential")).permissions() & fs::perms::group_read,
            fs::perms::none);
  ASSERT_EQ(Boot(), "B");
  // After the reboot: the trial commits, the outcome is reported, the device runs 2.0.0.
  const Json s2 = Step("B");
  EXPECT_EQ(s2["outcome"], "idle") << s2.dump();
  // The inventory is soft state, written within the server's flush interval (200 ms).
  Json dev = Device();
  for (int i = 0; i < 50 && dev["inventory"]["version"] != "2.0.0"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    dev = Device();
  }
  EXPECT_EQ(dev["inventory"]["version"], "2.0.0") << dev.dump();
  EXPECT_EQ(dev["inventory"]["image_sha256"], Sha(v2));
  EXPECT_EQ(dev["inventory"]["attributes"]["site"], "lab");
  const std::vector<std::string> want = {"downloading", "installing", "installed",
                                         "committed/success"};
  EXPECT_EQ(Phases(dev), want) << dev.dump();
  // The server served a delta, not the full bundle.
  EXPECT_EQ(ReadAll(P("device/slot-b.img")).substr(0, v2.size()), v2);
}

TEST_F(AgentServer, AReleaseThatDoesNotBootIsRolledBackAndReportedAsFailed) {
  std::string broken = testing::SimImage(1 << 20, 5);
  broken[broken.size() - 1] ^= 0x55;  // its checksum is wrong: the simulated kernel never starts
  Publish(broken, "3.0.0", 3);
  const Json s1 = Step("A");
  EXPECT_EQ(s1["outcome"], "installed") << s1.dump();
  ASSERT_EQ(Boot(), "A");  // U-Boot gave up on B after bootlimit
  const Json s2 = Step("A");
  const Json dev = Device();
  ASSERT_FALSE(dev["reports"].empty()) << dev.dump();
  const Json last = dev["reports"].back();
  EXPECT_EQ(last["phase"], "rolled_back") << dev.dump();
  EXPECT_EQ(last["result"], "failure");
  EXPECT_FALSE(last["reason"].get<std::string>().empty());
  EXPECT_EQ(dev["inventory"]["version"], "1.0.0");
  // The same release is not taken again (no download-and-rollback loop).
  EXPECT_EQ(s2["outcome"], "idle") << s2.dump();
  EXPECT_NE(s2["detail"].get<std::string>().find("not retried"), std::string::npos) << s2.dump();
  EXPECT_EQ(Step("A")["outcome"], "idle");
  EXPECT_EQ(Device()["reports"].size(), 4u);
}

TEST_F(AgentServer, ReportsQueuedWhileTheServerIsDownArriveOnceLater) {
  Publish(testing::SimImage(1 << 20, 6), "2.0.0", 2);
  ASSERT_EQ(Step("A")["outcome"], "installed");
  ASSERT_EQ(Boot(), "B");
  StopServer();
  // The trial commits with the server down: the outcome waits in the device's queue.
  const Json down = Step("B");
  EXPECT_EQ(down["outcome"], "unavailable") << down.dump();
  EXPECT_GE(down["reports_pending"].get<int>(), 1);
  // Across another "reboot" of the agent, still queued.
  EXPECT_EQ(Step("B")["outcome"], "unavailable");
  StartServer();
  const Json up = Step("B");
  EXPECT_EQ(up["outcome"], "idle") << up.dump();
  EXPECT_EQ(up["reports_pending"], 0);
  const auto phases = Phases(Device());
  EXPECT_EQ(std::count(phases.begin(), phases.end(), "committed/success"), 1) << Device().dump();
}

}  // namespace
}  // namespace uplift
