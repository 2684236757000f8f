// Integration tests of `uplift delta`: the real binary runs as a child process; Debian's bspatch
// (package `bsdiff`) checks that what the CLI writes is a standard BSDIFF40 patch.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "uplift/delta/errors.hpp"

extern char** environ;

namespace uplift {
namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

constexpr int kExitUsage = 2;

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

struct RunResult {
  int exit_code = -1;
  std::string out;
};

// Runs argv with stdout captured in a file (no pipes, so no deadlock) and stderr discarded.
RunResult Spawn(Args argv, const std::string& out_path) {
  std::vector<char*> p;
  for (auto& s : argv) p.push_back(s.data());
  p.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  RunResult r;
  if (::posix_spawn(&pid, p[0], &fa, nullptr, p.data(), environ) == 0) {
    int status = 0;
    if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  }
  posix_spawn_file_actions_destroy(&fa);
  r.out = ReadAll(out_path);
  return r;
}

class DeltaCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uplift-delta-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string old_image = ReadAll("/usr/bin/cp");
    std::string new_image = old_image;
    new_image.replace(30000, 6, "UPLIFT");
    new_image.insert(70000, std::string(3000, 'z'));
    WriteAll(P("old"), old_image);
    WriteAll(P("new"), new_image);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string P(const std::string& name) const { return dir_ + "/" + name; }
  RunResult Uplift(const Args& args) {
    Args argv{UPLIFT_BIN, "delta"};
    argv.insert(argv.end(), args.begin(), args.end());
    return Spawn(argv, P("stdout"));
  }

  std::string dir_;
};

TEST_F(DeltaCli, CreateApplyInfoRoundTrip) {
  auto r = Uplift({"create", P("old"), P("new"), P("patch"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["format"], "bsdiff40");
  EXPECT_EQ(j["patch_size"].get<std::uint64_t>(), fs::file_size(P("patch")));

  r = Uplift({"apply", P("old"), P("patch"), P("out"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(ReadAll(P("out")), ReadAll(P("new")));

  r = Uplift({"info", P("patch"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["new_size"].get<std::uint64_t>(), fs::file_size(P("new")));
  EXPECT_EQ(32 + j["ctrl_len"].get<std::uint64_t>() + j["diff_len"].get<std::uint64_t>() +
                j["extra_len"].get<std::uint64_t>(),
            fs::file_size(P("patch")));
}

TEST_F(DeltaCli, BspatchAppliesOurPatch) {
  if (!fs::exists("/usr/bin/bspatch")) GTEST_SKIP() << "Debian package bsdiff not installed";
  ASSERT_EQ(Uplift({"create", P("old"), P("new"), P("patch")}).exit_code, 0);
  ASSERT_EQ(Spawn({"/usr/bin/bspatch", P("old"), P("by-bspatch"), P("patch")}, P("x")).exit_code,
            0);
  EXPECT_EQ(ReadAll(P("by-bspatch")), ReadAll(P("new")));
}

TEST_F(DeltaCli, ErrorsHaveTheirExitCodes) {
  ASSERT_EQ(Uplift({"create", P("old"), P("new"), P("patch")}).exit_code, 0);
  std::string patch = ReadAll(P("patch"));
  WriteAll(P("bad-magic"), "PK" + patch.substr(2));
  EXPECT_EQ(Uplift({"apply", P("old"), P("bad-magic"), P("out")}).exit_code,
            static_cast<int>(delta::Errc::kBadMagic));
  WriteAll(P("cut"), patch.substr(0, patch.size() - 10));
  EXPECT_EQ(Uplift({"apply", P("old"), P("cut"), P("out")}).exit_code,
            static_cast<int>(delta::Errc::kTruncated));
  EXPECT_FALSE(fs::exists(P("out"))) << "a failed apply must leave no output";
  EXPECT_EQ(Uplift({"apply", P("old"), P("patch"), P("out"), "--max-size", "1000"}).exit_code,
            static_cast<int>(delta::Errc::kTooLarge));
  EXPECT_EQ(Uplift({"create", P("old"), P("new"), P("p2"), "--format", "native"}).exit_code,
            kExitUsage);
}

}  // namespace
}  // namespace uplift
