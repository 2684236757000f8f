// Integration tests of `uplift delta` and of delta bundles: the real binary runs as a child
// process; Debian's bspatch (package `bsdiff`) checks that what the CLI writes as BSDIFF40 is
// standard.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
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
  RunResult Uplift(const Args& args, const char* group = "delta") {
    Args argv{UPLIFT_BIN, group};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::Spawn(argv);
  }

  std::string dir_;
};

TEST_F(DeltaCli, CreateApplyInfoRoundTripBothFormats) {
  for (const char* format_name : {"native", "bsdiff40"}) {
    const std::string format = format_name;
    fs::remove(P("patch"));
    fs::remove(P("out"));
    auto r = Uplift({"create", P("old"), P("new"), P("patch"), "--format", format, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["format"], format);
    EXPECT_EQ(j["patch_size"].get<std::uint64_t>(), fs::file_size(P("patch")));
    EXPECT_TRUE(j["smaller_than_full"].get<bool>());

    r = Uplift({"apply", P("old"), P("patch"), P("out"), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(ReadAll(P("out")), ReadAll(P("new")));
    EXPECT_EQ(nlohmann::json::parse(r.out)["format"], format);

    r = Uplift({"info", P("patch"), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["new_size"].get<std::uint64_t>(), fs::file_size(P("new")));
    if (format == "bsdiff40") {
      EXPECT_EQ(32 + j["ctrl_len"].get<std::uint64_t>() + j["diff_len"].get<std::uint64_t>() +
                    j["extra_len"].get<std::uint64_t>(),
                fs::file_size(P("patch")));
    } else {
      EXPECT_EQ(j["old_size"].get<std::uint64_t>(), fs::file_size(P("old")));
      EXPECT_EQ(j["filter"], "x86") << "/usr/bin/cp is an x86-64 ELF: auto picks the x86 filter";
    }
  }
}

TEST_F(DeltaCli, NativeCodecsAndFiltersAllApply) {
  for (const Args& extra : {Args{"--compression", "zstd", "--level", "3"}, Args{"--filter", "none"},
                            Args{"--filter", "arm64", "--threads", "1", "--segment-kib", "64"}}) {
    fs::remove(P("patch"));
    fs::remove(P("out"));
    Args args{"create", P("old"), P("new"), P("patch")};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_EQ(Uplift(args).exit_code, 0) << extra[1];
    ASSERT_EQ(Uplift({"apply", P("old"), P("patch"), P("out")}).exit_code, 0) << extra[1];
    EXPECT_EQ(ReadAll(P("out")), ReadAll(P("new"))) << extra[1];
  }
}

TEST_F(DeltaCli, NativeRefusesTheWrongSourceAndWritesNothing) {
  ASSERT_EQ(Uplift({"create", P("old"), P("new"), P("patch")}).exit_code, 0);
  EXPECT_EQ(Uplift({"apply", P("new"), P("patch"), P("out")}).exit_code,
            static_cast<int>(delta::Errc::kSourceMismatch));
  EXPECT_FALSE(fs::exists(P("out")));
}

TEST_F(DeltaCli, BundleDeltaFromImageOrBundleAppliesOnExtract) {
  ASSERT_EQ(Uplift({"gen", "--algo", "ed25519", "--out", P("k")}, "key").exit_code, 0);
  ASSERT_EQ(Uplift({"init", P("trust.json"), "--key", P("k.pub"), "--threshold", "1"}, "trust").exit_code, 0);
  const Args common{"--version", "2.0.0", "--compat", "b", "--security-counter", "1", "--key", P("k.key"), "--json"};
  auto create = [&](const std::string& image, const std::string& out, const Args& extra) {
    Args a{"create", "--image", image, "--out", out};
    a.insert(a.end(), common.begin(), common.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return Uplift(a, "bundle");
  };
  ASSERT_EQ(create(P("old"), P("v1.bundle"), {}).exit_code, 0);
  for (const std::string& from : {P("old"), P("v1.bundle")}) {
    fs::remove(P("v2.bundle"));
    auto r = create(P("new"), P("v2.bundle"), {"--delta-from", from});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["delta_decisions"].size(), 1u);
    EXPECT_TRUE(j["delta_decisions"][0]["delta"].get<bool>());
    EXPECT_LT(fs::file_size(P("v2.bundle")), fs::file_size(P("new")) / 10);
    fs::remove_all(P("x"));
    r = Uplift({"extract", P("v2.bundle"), "--trust", P("trust.json"), "--out", P("x"), "--delta-source", P("old")},
               "bundle");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(ReadAll(P("x/rootfs")), ReadAll(P("new")));
  }
  // The wrong old image is refused before a byte is written.
  fs::remove_all(P("y"));
  auto r = Uplift({"extract", P("v2.bundle"), "--trust", P("trust.json"), "--out", P("y"), "--delta-source", P("new")},
                  "bundle");
  EXPECT_EQ(r.exit_code, static_cast<int>(delta::Errc::kSourceMismatch)) << r.err;
  EXPECT_FALSE(fs::exists(P("y/rootfs")));
  // Unrelated content: the delta is no smaller than the full image, so the bundle carries the image.
  std::string other(200000, '\0');
  std::mt19937 rng(1);
  for (char& c : other) c = static_cast<char>(rng());
  WriteAll(P("other"), other);
  fs::remove(P("v3.bundle"));
  r = create(P("other"), P("v3.bundle"), {"--delta-from", P("old")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["delta_decisions"][0]["delta"].get<bool>());
  EXPECT_FALSE(j["payloads"][0].contains("delta_source_sha256"));
}

TEST_F(DeltaCli, BspatchAppliesOurPatch) {
  ASSERT_TRUE(fs::exists("/usr/bin/bspatch")) << "Debian package bsdiff not installed (scripts/install-deps)";
  ASSERT_EQ(Uplift({"create", P("old"), P("new"), P("patch"), "--format", "bsdiff40"}).exit_code, 0);
  ASSERT_EQ(testing::Spawn({"/usr/bin/bspatch", P("old"), P("by-bspatch"), P("patch")}).exit_code,
            0);
  EXPECT_EQ(ReadAll(P("by-bspatch")), ReadAll(P("new")));
}

TEST_F(DeltaCli, ErrorsHaveTheirExitCodes) {
  ASSERT_EQ(Uplift({"create", P("old"), P("new"), P("patch"), "--format", "bsdiff40"}).exit_code, 0);
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
  EXPECT_EQ(Uplift({"create", P("old"), P("new"), P("p2"), "--format", "xdelta"}).exit_code,
            kExitUsage);
  // The same failures through the native format.
  ASSERT_EQ(Uplift({"create", P("old"), P("new"), P("native")}).exit_code, 0);
  patch = ReadAll(P("native"));
  WriteAll(P("cut"), patch.substr(0, patch.size() - 10));
  EXPECT_EQ(Uplift({"apply", P("old"), P("cut"), P("out")}).exit_code,
            static_cast<int>(delta::Errc::kTruncated));
  EXPECT_FALSE(fs::exists(P("out")));
  EXPECT_EQ(Uplift({"apply", P("old"), P("native"), P("out"), "--max-size", "1000"}).exit_code,
            static_cast<int>(delta::Errc::kTooLarge));
}

}  // namespace
}  // namespace uplift
