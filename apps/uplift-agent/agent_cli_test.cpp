// Integration tests of the real uplift-agent binary: file-backed slots, a redundant U-Boot
// environment in two files, reboots through `uplift-agent sim-boot` (the simulated U-Boot over
// that environment), and the environment checked with the real fw_printenv (libubootenv-tool).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "process.hpp"
#include "sim_device_files.hpp"
#include "sim_image.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/format/bundle_writer.hpp"
#include "uplift/format/trust_store.hpp"

namespace uplift {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing::ReadAll;
using testing::RunResult;
using testing::SimImage;
using testing::Spawn;
using testing::WriteAll;

constexpr std::size_t kSlotSize = 256 * 1024;
constexpr std::int64_t kYear = 365LL * 24 * 3600;

std::string Pad(std::string s, std::size_t n) {
  s.resize(n, '\0');
  return s;
}

class AgentCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = fs::temp_directory_path() / "uplift-agent-cli-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data());
    auto key = crypto::PrivateKey::Generate(crypto::SignatureAlgorithm::kEd25519);
    ASSERT_TRUE(key.ok());
    key_ = std::make_unique<crypto::PrivateKey>(std::move(key).value());
    format::TrustStore ts;
    ASSERT_TRUE(ts.AddKey(key_->Public(), std::string(format::kReleaseRole)).ok());
    v1_ = SimImage(60 * 1024, 1);
    fs::create_directories(P("health.d"));
    fs::create_directories(P("hooks"));
    testing::SimDeviceFiles files;
    files.dir = dir_;
    files.trust = &ts;
    files.slot_a_image = v1_;
    files.slot_size = kSlotSize;
    files.boot_extra = "cmdline_file = \"" + P("cmdline") + "\"\n";
    files.extra_toml = "[hooks]\ndir = \"" + P("hooks") +
                       "\"\ntimeout_seconds = 5\n"
                       "[health]\ndir = \"" +
                       P("health.d") + "\"\ntimeout_seconds = 5\n";
    files.Write();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string P(const std::string& name) const { return dir_ + "/" + name; }

  static void Script(const std::string& path, const std::string& body) {
    WriteAll(path, "#!/bin/sh\n" + body + "\n");
    ::chmod(path.c_str(), 0755);
  }

  std::string Bundle(const std::string& name, const std::string& image, const std::string& version,
                     std::uint64_t counter, const std::string& hardware = "sim-board") {
    format::BundleSpec spec;
    spec.product = "sim";
    spec.version = *format::SemVer::Parse(version);
    spec.security_counter = counter;
    spec.compatible = {hardware};
    spec.created = std::time(nullptr) - 60;
    spec.expires = spec.created + kYear;
    auto data = std::make_shared<Bytes>(image.begin(), image.end());
    format::PayloadInput p;
    p.name = "rootfs";
    p.target = "rootfs";
    p.compression = format::Compression::kZstd;
    p.chunk_size = format::kMinChunkSize;
    p.open = [data]() -> Result<std::unique_ptr<ByteSource>> {
      return std::unique_ptr<ByteSource>(std::make_unique<MemorySource>(*data));
    };
    spec.payloads.push_back(std::move(p));
    MemorySink out;
    format::WriteOptions wo;
    wo.spill_dir = dir_;
    EXPECT_TRUE(format::WriteBundle(spec, {key_.get()}, out, wo).ok());
    WriteAll(P(name), std::string(AsChars(out.bytes())));
    return P(name);
  }

  RunResult Agent(std::vector<std::string> args) {
    args.insert(args.begin(), {UPLIFT_AGENT_BIN, "-c", P("agent.toml")});
    return Spawn(args);
  }

  std::string SimBoot() {
    const RunResult r = Agent({"sim-boot"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, 1);
  }

  Json Status(const std::string& booted) {
    const RunResult r = Agent({"status", "--json", "--booted-slot", booted});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out, nullptr, false);
  }

  std::string PrintEnv(const std::string& name) {
    const RunResult r = Spawn({"/usr/bin/fw_printenv", "-c", P("fw_env.config"), name});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  int Reboots() {
    const std::string s = ReadAll(P("reboots"));
    return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
  }

  void ExpectOneLineError(const RunResult& r, int code) {
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.err.starts_with("uplift-agent: error: ")) << r.err;
  }

  std::string dir_;
  std::unique_ptr<crypto::PrivateKey> key_;
  std::string v1_;
};

TEST_F(AgentCli, FullUpdateThenFailedHealthCheckRollsBack) {
  // Factory power-on.
  ASSERT_EQ(SimBoot(), "A");
  RunResult r = Agent({"recover", "--booted-slot", "A"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Status("A")["state"], "idle");

  // Install v2 into slot B: armed for a trial, reboot command run once.
  const std::string v2 = SimImage(70 * 1024, 2);
  r = Agent({"install", Bundle("v2.upl", v2, "2.0.0", 2), "--booted-slot", "A", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["state"], "installed");
  EXPECT_EQ(Reboots(), 1);
  EXPECT_EQ(PrintEnv("boot_part"), "boot_part=B\n");
  EXPECT_EQ(PrintEnv("upgrade_available"), "upgrade_available=1\n");
  EXPECT_EQ(ReadAll(P("slot-a.img")), Pad(v1_, kSlotSize));  // the active slot is untouched
  EXPECT_EQ(ReadAll(P("slot-b.img")).substr(0, v2.size()), v2);

  // Reboot into B: the trial passes the (empty) health checks and commits.
  ASSERT_EQ(SimBoot(), "B");
  r = Agent({"recover", "--booted-slot", "B"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json s = Status("B");
  EXPECT_EQ(s["state"], "committed");
  EXPECT_EQ(s["active_slot"], "B");
  EXPECT_EQ(s["committed_security_counter"], 2);
  EXPECT_EQ(PrintEnv("boot_part"), "boot_part=B\n");
  EXPECT_EQ(PrintEnv("upgrade_available"), "upgrade_available=0\n");
  EXPECT_EQ(PrintEnv("bootcount"), "bootcount=0\n");

  // v3 fails its health check in slot A: rolled back to B, with the reason kept.
  Script(P("health.d/10-app"), "echo app down >&2; exit 1");
  r = Agent(
      {"install", Bundle("v3.upl", SimImage(50 * 1024, 3), "3.0.0", 3), "--booted-slot", "B"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(SimBoot(), "A");
  r = Agent({"recover", "--booted-slot", "A"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Status("A")["state"], "rolling_back");
  EXPECT_EQ(Reboots(), 3);
  ASSERT_EQ(SimBoot(), "B");
  r = Agent({"recover", "--booted-slot", "B"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  s = Status("B");
  EXPECT_EQ(s["state"], "rolled_back");
  EXPECT_EQ(s["active_slot"], "B");
  EXPECT_EQ(s["last_error"]["code"], 84);
  EXPECT_NE(s["last_error"]["message"].get<std::string>().find("10-app exited 1"),
            std::string::npos);
  EXPECT_EQ(PrintEnv("boot_part"), "boot_part=B\n");
  EXPECT_EQ(PrintEnv("upgrade_available"), "upgrade_available=0\n");
}

TEST_F(AgentCli, RefusalsAndVetoesHaveTheirExitCodesAndWriteNothing) {
  ASSERT_EQ(Agent({"recover", "--booted-slot", "A"}).exit_code, 0);
  const std::string slot_b = ReadAll(P("slot-b.img"));
  ExpectOneLineError(
      Agent({"install", Bundle("hw.upl", SimImage(1000, 4), "2.0.0", 2, "other-board"),
             "--booted-slot", "A"}),
      23);  // format::Errc::kIncompatibleHardware
  EXPECT_EQ(Status("A")["state"], "failed");
  EXPECT_EQ(Status("A")["last_error"]["code"], 23);

  Script(P("hooks/Install_Enter_00"), "exit 1");
  ExpectOneLineError(
      Agent({"install", Bundle("ok.upl", SimImage(1000, 5), "2.0.0", 2), "--booted-slot", "A"}),
      83);  // agent::Errc::kHookVeto
  EXPECT_EQ(ReadAll(P("slot-b.img")), slot_b);
  EXPECT_FALSE(fs::exists(P("reboots")));

  const RunResult busy = Agent({"commit", "--booted-slot", "A"});
  ExpectOneLineError(busy, 82);  // kNothingToDo
  WriteAll(P("bad.toml"), "device_type = 1\n");
  ExpectOneLineError(Spawn({UPLIFT_AGENT_BIN, "-c", P("bad.toml"), "status"}), 88);
}

TEST_F(AgentCli, DaemonInstallsSpooledBundles) {
  fs::create_directories(P("data/spool"));
  const std::string v2 = SimImage(30 * 1024, 6);
  fs::rename(Bundle("v2.upl", v2, "2.0.0", 2), P("data/spool/v2.upl"));
  const RunResult r = Agent({"daemon", "--once", "--booted-slot", "A"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(P("data/spool/v2.upl.installed")));
  EXPECT_EQ(Reboots(), 1);
  EXPECT_EQ(Status("A")["state"], "installed");
  ASSERT_EQ(SimBoot(), "B");
  ASSERT_EQ(Agent({"daemon", "--once", "--booted-slot", "B"}).exit_code, 0);
  EXPECT_EQ(Status("B")["state"], "committed");
}

TEST_F(AgentCli, BootedSlotFromTheKernelCommandLine) {
  WriteAll(P("cmdline"), "console=ttyS0 root=/dev/mmcblk0p2 uplift.slot=A quiet\n");
  const RunResult r = Agent({"recover", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["booted_slot"], "A");
}

}  // namespace
}  // namespace uplift

namespace uplift {
namespace {

// The documented example configuration is valid: it fails only where this host lacks the
// example's devices (exit 3, I/O), never as a configuration error (88).
TEST(AgentCliDocs, ExampleConfigurationParses) {
  const auto r = testing::Spawn(
      {UPLIFT_AGENT_BIN, "-c", UPLIFT_SOURCE_DIR "/docs/agent.example.toml", "status"});
  EXPECT_NE(r.exit_code, 88) << r.err;
  EXPECT_EQ(r.err.find("agent.example.toml"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace uplift
