// The real uplift-agent installing from a URL: nginx on 127.0.0.1 behind the fault proxy
// (throttled, so the download takes a while), the agent killed with SIGKILL at random moments
// during download + install and started again with `recover` each time. It must resume where
// verified data ends (never from byte 0), finish, boot the new slot and commit it. Also: an
// install through resets and corrupted bytes, and a 404 that fails at once with its exit code.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "fault_proxy.hpp"
#include "process.hpp"
#include "sim_device_files.hpp"
#include "sim_image.hpp"
#include "test_origin.hpp"

namespace uplift {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing::ReadAll;
using testing::Spawn;
using testing::WriteAll;

constexpr std::size_t kSlotSize = 16 * 1024 * 1024;

class AgentDownload : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(origin_.ok());
    dir_ = origin_.dir() + "/device";
    fs::create_directories(dir_);
    key_ = std::make_unique<crypto::PrivateKey>(
        std::move(crypto::PrivateKey::Generate(crypto::SignatureAlgorithm::kEd25519)).value());
    format::TrustStore ts;
    ASSERT_TRUE(ts.AddKey(key_->Public(), std::string(format::kReleaseRole)).ok());
    testing::SimDeviceFiles files;
    files.dir = dir_;
    files.trust = &ts;
    files.slot_a_image = testing::SimImage(1 << 20, 1);
    files.slot_size = kSlotSize;
    files.extra_toml =
        "[transport]\n"
        "stall_seconds = 2\n"
        "retry_deadline_seconds = 60\n"
        "recover_deadline_seconds = 2\n";
    files.Write();
    auto p = faultlab::FaultProxy::Start(origin_.nginx().port());
    ASSERT_TRUE(p.ok());
    proxy_ = std::move(p).value();
  }

  std::string P(const std::string& name) const { return dir_ + "/" + name; }
  std::string Url(const std::string& name) const {
    return "http://127.0.0.1:" + std::to_string(proxy_->port()) + "/" + name;
  }

  // A signed bundle of `image`: zstd in 1 MiB frames (restart points) and 64 KiB chunks, or
  // uncompressed.
  Bytes MakeBundle(const std::string& image, const std::string& version, std::uint64_t counter,
                   format::Compression compression = format::Compression::kZstd) {
    format::BundleSpec spec;
    spec.product = "sim";
    spec.version = *format::SemVer::Parse(version);
    spec.security_counter = counter;
    spec.compatible = {"sim-board"};
    spec.created = std::time(nullptr) - 60;
    spec.expires = spec.created + 86400;
    auto data = std::make_shared<Bytes>(image.begin(), image.end());
    format::PayloadInput p;
    p.name = "rootfs";
    p.target = "rootfs";
    p.compression = compression;
    p.zstd_frame_bytes = 1 << 20;
    p.chunk_size = 64 * 1024;
    p.open = [data]() -> Result<std::unique_ptr<ByteSource>> {
      return std::unique_ptr<ByteSource>(std::make_unique<MemorySource>(*data));
    };
    spec.payloads.push_back(std::move(p));
    MemorySink out;
    format::WriteOptions wo;
    wo.spill_dir = dir_;
    EXPECT_TRUE(format::WriteBundle(spec, {key_.get()}, out, wo).ok());
    return out.Take();
  }

  // Version 2.0.0 of `image`, published on the origin; returns the bundle's size.
  std::uint64_t Publish(const std::string& name, const std::string& image) {
    const Bytes bundle = MakeBundle(image, "2.0.0", 2);
    origin_.Put(name, bundle);
    return bundle.size();
  }

  testing::RunResult Agent(std::vector<std::string> args) {
    args.insert(args.begin(), {UPLIFT_AGENT_BIN, "-c", P("agent.toml")});
    return Spawn(args);
  }

  // Starts the agent and SIGKILLs it after `after` unless it exits first: true if killed.
  bool RunAndKill(std::vector<std::string> args, std::chrono::milliseconds after, int* exit_code) {
    args.insert(args.begin(), {UPLIFT_AGENT_BIN, "-c", P("agent.toml")});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, P("agent.err").c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0);
    const auto deadline = std::chrono::steady_clock::now() + after;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    *exit_code = 128 + SIGKILL;
    return true;
  }

  Json Status() {
    const auto r = Agent({"status", "--json", "--booted-slot", "A"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out, nullptr, false);
  }

  testing::Origin origin_;
  std::string dir_;
  std::unique_ptr<crypto::PrivateKey> key_;
  std::unique_ptr<faultlab::FaultProxy> proxy_;
};

TEST_F(AgentDownload, KilledAtRandomDuringDownloadAndInstallItResumesAndFinishes) {
  const std::string v2 = testing::SimImage(12 << 20, 2);
  const std::uint64_t size = Publish("v2.upl", v2);
  faultlab::ConnectionPlan slow;
  slow.throttle_bytes_per_s = 6 << 20;  // ~2 s for the whole bundle
  proxy_->SetDefault(slow);
  ASSERT_EQ(Agent({"recover", "--booted-slot", "A"}).exit_code, 0);

  std::mt19937 rng(7);
  int kills = 0, resumed_mid_payload = 0, last_code = -1;
  std::uint64_t last_offset = 0;
  for (int round = 0; round < 60; ++round) {
    std::vector<std::string> args = round == 0 ? std::vector<std::string>{"install", Url("v2.upl")}
                                               : std::vector<std::string>{"recover"};
    args.insert(args.end(), {"--booted-slot", "A"});
    const auto after = std::chrono::milliseconds(std::uniform_int_distribution<int>(150, 700)(rng));
    int code = 0;
    const bool killed = RunAndKill(args, after, &code);
    const Json st = Status();
    ASSERT_TRUE(st.is_object());
    if (killed) {
      ++kills;
      if (st["state"] == "installing") {
        const std::uint64_t offset = st["update"]["progress"]["stored_offset"];
        EXPECT_GE(offset, last_offset) << "the restart point went backwards";
        if (offset > 0) ++resumed_mid_payload;
        last_offset = offset;
      }
      continue;
    }
    last_code = code;
    ASSERT_EQ(code, 0) << ReadAll(P("agent.err"));
    if (st["state"] == "installed") break;
  }
  ASSERT_EQ(Status()["state"], "installed")
      << "after " << kills << " kills, last exit " << last_code;
  EXPECT_GE(kills, 3);
  EXPECT_GT(resumed_mid_payload, 0);
  // Every kill costs at most the bytes since the last restart point (1 MiB checkpoints and
  // frames), one chunk and the head; never the whole bundle again.
  const std::uint64_t fetched = proxy_->stats().body_bytes_to_client;
  std::printf("[ kill -9  ] %d kills (%d mid-payload): %llu bytes fetched for a %llu-byte bundle\n",
              kills, resumed_mid_payload, static_cast<unsigned long long>(fetched),
              static_cast<unsigned long long>(size));
  EXPECT_LE(fetched, size + static_cast<std::uint64_t>(kills) * (3u << 20));
  EXPECT_LT(fetched, 2 * size);

  // Reboot into B: trial, health, commit.
  const auto boot = Agent({"sim-boot"});
  ASSERT_EQ(boot.exit_code, 0) << boot.err;
  ASSERT_EQ(boot.out.substr(0, 1), "B");
  const auto r = Agent({"recover", "--booted-slot", "B", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["state"], "committed");
  EXPECT_EQ(ReadAll(P("slot-b.img")).substr(0, v2.size()), v2);
}

TEST_F(AgentDownload, ResetsAndCorruptBytesOnTheWayStillInstallTheExactImage) {
  const std::string v2 = testing::SimImage(3 << 20, 3);
  Publish("v2.upl", v2);
  // Every connection is reset after 1 MB and has a byte flipped every 700 kB.
  faultlab::ConnectionPlan bad_link;
  bad_link.drop_every = 1'000'000;
  bad_link.flip_every = 700'001;
  proxy_->SetDefault(bad_link);
  ASSERT_EQ(Agent({"recover", "--booted-slot", "A"}).exit_code, 0);
  const auto r = Agent({"install", Url("v2.upl"), "--booted-slot", "A", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["state"], "installed");
  EXPECT_EQ(ReadAll(P("slot-b.img")).substr(0, v2.size()), v2);
  EXPECT_GE(proxy_->stats().drops, 2u);
  EXPECT_GE(proxy_->stats().flipped_bytes, 3u);
}

TEST_F(AgentDownload, AnOutageDoesNotHoldTheBootAndANewInstallSupersedesTheStuckOne) {
  const std::string v2 = testing::SimImage(8 << 20, 4);
  Publish("v2.upl", v2);
  faultlab::ConnectionPlan slow;
  slow.throttle_bytes_per_s = 4 << 20;
  proxy_->SetDefault(slow);
  ASSERT_EQ(Agent({"recover", "--booted-slot", "A"}).exit_code, 0);
  int code = 0;
  ASSERT_TRUE(RunAndKill({"install", Url("v2.upl"), "--booted-slot", "A"},
                         std::chrono::milliseconds(1200), &code));
  ASSERT_EQ(Status()["state"], "installing");
  // The server goes away for good.
  proxy_->RefuseFor(std::chrono::minutes(5));
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = Agent({"recover", "--booted-slot", "A"});
  EXPECT_EQ(r.exit_code, 7) << r.err;  // unavailable: try later
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20)) << r.err;
  const Json st = Status();
  EXPECT_EQ(st["state"], "installing");  // its place kept
  EXPECT_EQ(st["boot_attempts"], 0);
  // Another bundle (a local file here) replaces the stuck update.
  const std::string v3 = testing::SimImage(1 << 20, 5);
  WriteAll(P("v3.upl"),
           std::string(AsChars(MakeBundle(v3, "3.0.0", 3, format::Compression::kNone))));
  const auto inst = Agent({"install", P("v3.upl"), "--booted-slot", "A", "--json"});
  ASSERT_EQ(inst.exit_code, 0) << inst.err;
  EXPECT_EQ(Json::parse(inst.out)["state"], "installed");
  EXPECT_EQ(Status()["update"]["version"], "3.0.0");
  EXPECT_EQ(ReadAll(P("slot-b.img")).substr(0, v3.size()), v3);
}

TEST_F(AgentDownload, AMissingBundleFailsAtOnceWithTheHttpStatusExitCode) {
  ASSERT_EQ(Agent({"recover", "--booted-slot", "A"}).exit_code, 0);
  const auto r = Agent({"install", Url("nope.upl"), "--booted-slot", "A"});
  EXPECT_EQ(r.exit_code, 100) << r.err;
  EXPECT_NE(r.err.find("404"), std::string::npos) << r.err;
  EXPECT_EQ(Status()["state"], "failed");
  EXPECT_EQ(proxy_->stats().connections, 1u);
}

}  // namespace
}  // namespace uplift
