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

#include "process.hpp"
#include "uplift/delta/errors.hpp"

namespace uplift {
namespace {

namespace fs = std::filesystem;
using testing::Args;
using testing::ReadAll;
using testing::RunResult;
using testing::WriteAll;

constexpr int kExitUsage = 2;

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
    return testing::Spawn(argv);
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
  ASSERT_EQ(testing::Spawn({"/usr/bin/bspatch", P("old"), P("by-bspatch"), P("patch")}).exit_code,
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
