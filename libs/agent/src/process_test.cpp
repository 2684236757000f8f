// Hooks, health checks and the process runner against real executables (shell scripts).
#include "uplift/agent/process.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "uplift/agent/errors.hpp"
#include "uplift/agent/health.hpp"
#include "uplift/agent/hooks.hpp"

namespace uplift::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = fs::temp_directory_path() / "uplift-agent-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_; }

 private:
  std::string path_;
};

void Script(const std::string& path, const std::string& body) {
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  ::chmod(path.c_str(), 0755);
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST(Process, ReportsExitCodesAndKillsTheWholeGroupOnTimeout) {
  TempDir t;
  Script(t.path() + "/ok", "exit 0");
  Script(t.path() + "/three", "exit 3");
  // The child starts a grandchild that would write a file later; a group kill stops both.
  Script(t.path() + "/hang", "(sleep 2; echo late > " + t.path() + "/late) & sleep 30");
  EXPECT_EQ(RunProcess({t.path() + "/ok"}, {}, 5s)->exit_code, 0);
  EXPECT_EQ(RunProcess({t.path() + "/three"}, {}, 5s)->exit_code, 3);
  const auto start = std::chrono::steady_clock::now();
  const auto hung = RunProcess({t.path() + "/hang"}, {}, 200ms);
  ASSERT_TRUE(hung.ok());
  EXPECT_TRUE(hung->timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_FALSE(RunProcess({t.path() + "/missing"}, {}, 1s).ok());
}

TEST(Hooks, RunInLexicalOrderWithContextAndAnEnterHookVetoes) {
  TempDir t;
  const std::string log = t.path() + "/log";
  Script(t.path() + "/Install_Enter_10_second", "echo second $UPLIFT_VERSION >> " + log);
  Script(t.path() + "/Install_Enter_00", "echo first $UPLIFT_TARGET_SLOT >> " + log);
  Script(t.path() + "/Install_Leave_00", "echo leave >> " + log + "; exit 4");
  Script(t.path() + "/Install_Enter_0x", "echo bad-name >> " + log);  // not a hook name
  Script(t.path() + "/Commit_Enter_00", "echo commit >> " + log);
  DirectoryHooks hooks(t.path(), 5s);
  HookContext ctx{"B", "2.0.0", ""};
  ASSERT_TRUE(hooks.Run(HookPhase::kInstall, HookAction::kEnter, ctx).ok());
  EXPECT_EQ(Slurp(log), "first B\nsecond 2.0.0\n");
  const Status veto = hooks.Run(HookPhase::kInstall, HookAction::kLeave, ctx);
  ASSERT_FALSE(veto.ok());
  EXPECT_TRUE(veto.error().Is(Errc::kHookVeto));
  EXPECT_NE(veto.error().message().find("Install_Leave_00 exited 4"), std::string::npos);
  EXPECT_TRUE(hooks.Run(HookPhase::kDownload, HookAction::kEnter, ctx).ok());  // none
}

TEST(Hooks, TimeoutIsAVeto) {
  TempDir t;
  Script(t.path() + "/Reboot_Enter_00", "sleep 30");
  DirectoryHooks hooks(t.path(), 100ms);
  const Status st = hooks.Run(HookPhase::kReboot, HookAction::kEnter, {});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("timed out"), std::string::npos);
}

TEST(Health, DirectoryChecksPassFailAndTimeOut) {
  TempDir t;
  DirectoryHealthChecks none(t.path() + "/missing", 1s);
  EXPECT_TRUE(none.Run().ok());
  Script(t.path() + "/10-ok", "exit 0");
  DirectoryHealthChecks pass(t.path(), 1s);
  EXPECT_TRUE(pass.Run().ok());
  Script(t.path() + "/20-hang", "sleep 30");
  DirectoryHealthChecks hang(t.path(), 100ms);
  const Status st = hang.Run();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(Errc::kHealthCheckFailed));
  EXPECT_NE(st.error().message().find("20-hang timed out"), std::string::npos);
}

TEST(Health, DataDirWritable) {
  TempDir t;
  EXPECT_TRUE(DataDirWritableCheck(t.path()).Run().ok());
  const Status st = DataDirWritableCheck(t.path() + "/no/such/dir").Run();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(Errc::kHealthCheckFailed));
}

}  // namespace
}  // namespace uplift::agent
