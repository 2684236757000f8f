// Interop with Debian's bsdiff/bspatch 4.3 (package `bsdiff`): our patches apply with their
// bspatch, theirs apply with our applier, byte for byte, on real binaries of this machine.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "uplift/delta/bsdiff40.hpp"
#include "uplift/delta/diff.hpp"

extern char** environ;

namespace uplift::delta {
namespace {

namespace fs = std::filesystem;

int RunTool(std::vector<std::string> argv) {
  std::vector<char*> p;
  for (auto& s : argv) p.push_back(s.data());
  p.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawn(&pid, p[0], nullptr, nullptr, p.data(), environ) != 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Bytes Read(const std::string& path) {
  auto r = ReadFile(path, 1u << 30);
  EXPECT_TRUE(r.ok()) << path;
  return r.ok() ? std::move(r).value() : Bytes{};
}

class Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/bin/bsdiff") || !fs::exists("/usr/bin/bspatch")) {
      GTEST_SKIP() << "Debian package bsdiff not installed (scripts/install-deps)";
    }
    char tmpl[] = "/tmp/uplift-delta-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Both directions on one pair; returns {our patch size, Debian's patch size}.
  // Debian's bsdiff cannot read empty files (it mmaps them): with_bsdiff=false skips it.
  std::pair<std::size_t, std::size_t> Check(const std::string& old_path,
                                            const std::string& new_path, bool with_bsdiff = true) {
    const Bytes old_image = Read(old_path), new_image = Read(new_path);
    // Ours -> bspatch.
    MemorySink ours;
    EXPECT_TRUE(CreateBsdiff40(old_image, new_image, ours).ok());
    EXPECT_TRUE(WriteFileAtomic(Path("ours.patch"), ours.bytes()).ok());
    EXPECT_EQ(RunTool({"/usr/bin/bspatch", old_path, Path("by-bspatch"), Path("ours.patch")}), 0);
    EXPECT_TRUE(Read(Path("by-bspatch")) == new_image) << "bspatch output differs";
    if (!with_bsdiff) return {ours.bytes().size(), 0};
    // bsdiff -> ours.
    EXPECT_EQ(RunTool({"/usr/bin/bsdiff", old_path, new_path, Path("theirs.patch")}), 0);
    const Bytes theirs = Read(Path("theirs.patch"));
    MemoryRandomAccess o(old_image), p(theirs);
    MemorySink out;
    const Status st = ApplyBsdiff40(o, p, out, 1u << 30);
    EXPECT_TRUE(st.ok()) << st.error().message();
    EXPECT_TRUE(out.bytes() == new_image) << "our output differs";
    std::printf("%s -> %s: ours %zu bytes, Debian bsdiff %zu bytes\n", old_path.c_str(),
                new_path.c_str(), ours.bytes().size(), theirs.size());
    return {ours.bytes().size(), theirs.size()};
  }

  std::string dir_;
};

TEST_F(Interop, RealBinariesBothWays) {
  for (const auto& [a, b] :
       {std::pair{"/usr/bin/cp", "/usr/bin/mv"}, std::pair{"/usr/bin/ls", "/usr/bin/dir"}}) {
    const auto [ours, theirs] = Check(a, b);
    // Same algorithm, same compressor: the sizes should agree within a few percent.
    EXPECT_LE(ours, theirs + theirs / 20 + 64) << a << " -> " << b;
  }
}

TEST_F(Interop, EditedCopyBothWays) {
  Bytes edited = Read("/usr/bin/cp");
  ASSERT_GT(edited.size(), 100000u);
  // A patched constant table, an inserted block and a removed one.
  for (std::size_t i = 20000; i < 20400; ++i) edited[i] = static_cast<std::uint8_t>(edited[i] + 3);
  const Bytes block(5000, 0xcc);
  edited.insert(edited.begin() + 60000, block.begin(), block.end());
  edited.erase(edited.begin() + 90000, edited.begin() + 93000);
  ASSERT_TRUE(WriteFileAtomic(Path("cp-edited"), edited).ok());
  const auto [ours, theirs] = Check("/usr/bin/cp", Path("cp-edited"));
  EXPECT_LE(ours, theirs + theirs / 20 + 64);
}

TEST_F(Interop, OurPatchesFromAndToEmptyImagesApplyWithBspatch) {
  ASSERT_TRUE(WriteFileAtomic(Path("empty"), Bytes{}).ok());
  Check(Path("empty"), "/usr/bin/mv", false);
  Check("/usr/bin/mv", Path("empty"), false);
}

}  // namespace
}  // namespace uplift::delta
