// Interop with the real tools of Debian 12: fw_printenv/fw_setenv (libubootenv-tool 0.3.2),
// mkenvimage (u-boot-tools) and grub-editenv (grub-common). What we write, they read; what they
// write, we read; byte for byte where the tool's output is deterministic. A missing tool fails
// the test (scripts/install-deps installs all three packages).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "uplift/base/io.hpp"
#include "uplift/boot/env_boot_control.hpp"
#include "uplift/boot/grub_env_store.hpp"
#include "uplift/boot/uboot_env_store.hpp"
#include "uplift/format/grub_env.hpp"
#include "uplift/format/uboot_env.hpp"
#include "uplift/storage/device.hpp"

extern char** environ;

namespace uplift::boot {
namespace {

namespace fs = std::filesystem;
using format::UbootEnvLayout;

constexpr std::uint64_t kEnvSize = 0x4000;

struct RunResult {
  int exit_code = -1;
  std::string out;
};

class EnvInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"/usr/bin/fw_printenv", "/usr/bin/fw_setenv", "/usr/bin/mkenvimage",
                             "/usr/bin/grub-editenv"}) {
      ASSERT_TRUE(fs::exists(tool))
          << tool << " is missing: install libubootenv-tool, u-boot-tools and grub-common "
          << "(scripts/install-deps)";
    }
    char tmpl[] = "/tmp/uplift-envinterop-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Runs a tool with stdout (and stderr) captured into a file of the temp dir.
  RunResult Run(std::vector<std::string> argv) {
    const std::string out_path = Path("tool.out");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> p;
    for (auto& s : argv) p.push_back(s.data());
    p.push_back(nullptr);
    RunResult r;
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, p[0], &actions, nullptr, p.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return r;
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    auto bytes = ReadFile(out_path, 1 << 20);
    if (bytes.ok()) r.out = std::string(AsChars(*bytes));
    return r;
  }

  void WriteText(const std::string& name, std::string_view text) {
    ASSERT_TRUE(WriteFileAtomic(Path(name), AsBytes(text)).ok());
  }
  Bytes ReadBytes(const std::string& name) {
    auto r = ReadFile(Path(name), 1 << 20);
    EXPECT_TRUE(r.ok()) << name;
    return r.ok() ? std::move(r).value() : Bytes{};
  }
  void CreateFile(const std::string& name, std::uint64_t size, std::uint8_t fill = 0) {
    auto dev = storage::CreateFileDevice(Path(name), size, fill);
    ASSERT_TRUE(dev.ok()) << dev.error().message();
  }

  // An fw_env.config for copies given as (file, offset).
  std::string Config(const std::vector<std::pair<std::string, std::uint64_t>>& copies) {
    std::string text = "# device offset size\n";
    for (const auto& [file, offset] : copies) {
      char line[512];
      std::snprintf(line, sizeof line, "%s 0x%llx 0x%llx\n", Path(file).c_str(),
                    static_cast<unsigned long long>(offset),
                    static_cast<unsigned long long>(kEnvSize));
      text += line;
    }
    WriteText("fw_env.config", text);
    return Path("fw_env.config");
  }

  std::unique_ptr<UbootEnvStore> Open(const std::string& config) {
    auto text = ReadFile(config, 4096);
    EXPECT_TRUE(text.ok());
    auto entries = ParseFwEnvConfig(AsChars(*text));
    EXPECT_TRUE(entries.ok()) << entries.error().message();
    auto store = OpenUbootEnvStore(*entries);
    EXPECT_TRUE(store.ok()) << store.error().message();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // fw_printenv's listing of `vars`: sorted "name=value" lines.
  static std::string Listing(const EnvVars& vars) {
    std::string s;
    for (const auto& [k, v] : vars) s += k + "=" + v + "\n";
    return s;
  }

  std::string dir_;
};

const EnvVars kVars{{"bootcmd", "if test ${boot_part} = A; then run boot_a; else run boot_b; fi"},
                    {"boot_part", "B"},
                    {"bootcount", "0"},
                    {"bootlimit", "3"},
                    {"upgrade_available", "1"},
                    {"with_equals", "a=b=c"},
                    {"with_spaces", "  leading and trailing  "}};

TEST_F(EnvInterop, OursSingleCopyReadByFwPrintenv) {
  CreateFile("env.bin", kEnvSize);
  const std::string config = Config({{"env.bin", 0}});
  auto store = Open(config);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Save(kVars).ok());
  const auto r = Run({"/usr/bin/fw_printenv", "-c", config});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, Listing(kVars));
  const auto one = Run({"/usr/bin/fw_printenv", "-c", config, "boot_part"});
  EXPECT_EQ(one.out, "boot_part=B\n");
}

TEST_F(EnvInterop, OursRedundantCopiesInTwoFilesReadByFwPrintenv) {
  CreateFile("env0.bin", kEnvSize);
  CreateFile("env1.bin", kEnvSize);
  const std::string config = Config({{"env0.bin", 0}, {"env1.bin", 0}});
  auto store = Open(config);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->redundant());
  EnvVars vars = kVars;
  for (int round = 0; round < 3; ++round) {  // alternate copies: each must win in turn
    vars["round"] = std::to_string(round);
    ASSERT_TRUE(store->Save(vars).ok());
    const auto r = Run({"/usr/bin/fw_printenv", "-c", config});
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out, Listing(vars)) << "round " << round;
  }
}

TEST_F(EnvInterop, OursRedundantCopiesInOneFileReadByFwPrintenvIncludingFlagWrap) {
  CreateFile("env.bin", 2 * kEnvSize);
  const std::string config = Config({{"env.bin", 0}, {"env.bin", kEnvSize}});
  // Copy 0 holds flags 255: our next save writes copy 1 with flags 0, which must win.
  auto old_copy =
      format::SerializeUbootEnv({{"v", "old"}}, kEnvSize, UbootEnvLayout::kRedundant, 255);
  ASSERT_TRUE(old_copy.ok());
  {
    auto dev = storage::OpenFileDevice(Path("env.bin"));
    ASSERT_TRUE(dev.ok());
    ASSERT_TRUE((*dev)->Program(0, *old_copy).ok());
    ASSERT_TRUE((*dev)->Sync().ok());
  }
  EXPECT_EQ(Run({"/usr/bin/fw_printenv", "-c", config}).out, "v=old\n");
  auto store = Open(config);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Save({{"v", "new"}}).ok());
  EXPECT_EQ(ReadBytes("env.bin")[kEnvSize + 4], 0);
  const auto r = Run({"/usr/bin/fw_printenv", "-c", config});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "v=new\n");
}

TEST_F(EnvInterop, FwSetenvWritesOursReads) {
  for (const bool redundant : {false, true}) {
    SCOPED_TRACE(redundant ? "redundant" : "single");
    // fw_setenv refuses an environment without a valid copy: start from mkenvimage's.
    WriteText("env.txt", "bootcmd=run boot_a\n");
    std::vector<std::string> mk = {"/usr/bin/mkenvimage", "-s",           "0x4000", "-o",
                                   Path("env0.bin"),      Path("env.txt")};
    if (redundant) mk.insert(mk.begin() + 1, "-r");
    ASSERT_EQ(Run(mk).exit_code, 0);
    std::string config;
    if (redundant) {
      CreateFile("env1.bin", kEnvSize);
      config = Config({{"env0.bin", 0}, {"env1.bin", 0}});
    } else {
      config = Config({{"env0.bin", 0}});
    }
    auto r = Run({"/usr/bin/fw_setenv", "-c", config, "boot_part", "B"});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    WriteText("script.txt",
              "upgrade_available=1\nbootcount=0\nwith_spaces=  two  words \nboot_part=A\n");
    r = Run({"/usr/bin/fw_setenv", "-c", config, "-s", Path("script.txt")});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    auto store = Open(config);
    ASSERT_TRUE(store);
    const auto vars = store->Load();
    ASSERT_TRUE(vars.ok()) << vars.error().message();
    const EnvVars expected{{"bootcmd", "run boot_a"},
                           {"boot_part", "A"},
                           {"bootcount", "0"},
                           {"upgrade_available", "1"},
                           {"with_spaces", "  two  words "}};
    EXPECT_EQ(*vars, expected);
    // Same variable bytes as ours (fw_setenv leaves its padding uninitialised, so only the
    // CRC-covered data up to the terminator is compared) and the same flags.
    const auto layout = redundant ? UbootEnvLayout::kRedundant : UbootEnvLayout::kSingle;
    // Redundant: mkenvimage wrote copy 0 (flags 1), fw_setenv copy 1 (2), then copy 0 (3).
    const Bytes theirs = ReadBytes("env0.bin");
    const auto ours =
        format::SerializeUbootEnv(expected, kEnvSize, layout, redundant ? theirs[4] : 0);
    ASSERT_TRUE(ours.ok());
    std::size_t data_len = 0;
    for (const auto& [k, v] : expected) data_len += k.size() + v.size() + 2;
    const std::size_t end = format::UbootEnvHeaderSize(layout) + data_len + 1;
    EXPECT_TRUE(std::equal(ours->begin() + 4, ours->begin() + static_cast<std::ptrdiff_t>(end),
                           theirs.begin() + 4));
    if (redundant) {
      EXPECT_EQ(theirs[4], 3);  // mkenvimage 1, then two fw_setenv saves
    }
    fs::remove(Path("env0.bin"));
    fs::remove(Path("env1.bin"));
  }
}

TEST_F(EnvInterop, MkenvimageOutputParsedAndReproducedByOurs) {
  WriteText("env.txt", "abc=1\nbootcmd=run x\nfoo=bar baz\n");
  for (const bool redundant : {false, true}) {
    std::vector<std::string> mk = {"/usr/bin/mkenvimage", "-s",           "0x4000", "-o",
                                   Path("env.bin"),       Path("env.txt")};
    if (redundant) mk.insert(mk.begin() + 1, "-r");
    ASSERT_EQ(Run(mk).exit_code, 0);
    const Bytes image = ReadBytes("env.bin");
    const auto layout = redundant ? UbootEnvLayout::kRedundant : UbootEnvLayout::kSingle;
    const auto env = format::ParseUbootEnv(image, layout);
    ASSERT_TRUE(env.ok()) << env.error().message();
    const EnvVars expected{{"abc", "1"}, {"bootcmd", "run x"}, {"foo", "bar baz"}};
    EXPECT_EQ(env->vars, expected);
    // mkenvimage pads with 0xff and starts redundant copies at flags 1: byte for byte ours.
    const auto ours =
        format::SerializeUbootEnv(expected, kEnvSize, layout, redundant ? 1 : 0, 0xff);
    ASSERT_TRUE(ours.ok());
    EXPECT_TRUE(*ours == image) << (redundant ? "redundant" : "single");
  }
}

TEST_F(EnvInterop, GrubEditenvWritesOursReads) {
  const std::string file = Path("grubenv");
  ASSERT_EQ(Run({"/usr/bin/grub-editenv", file, "create"}).exit_code, 0);
  const auto r = Run({"/usr/bin/grub-editenv", file, "set", "a=x\\y", "b=line1\nline2",
                      "c=with space", "d=", "e=#hash", "f=x=y"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  GrubEnvStore store(file);
  const auto vars = store.Load();
  ASSERT_TRUE(vars.ok()) << vars.error().message();
  const EnvVars expected{{"a", "x\\y"}, {"b", "line1\nline2"}, {"c", "with space"},
                         {"d", ""},     {"e", "#hash"},        {"f", "x=y"}};
  EXPECT_EQ(*vars, expected);
  // Variables set in sorted order: grub-editenv's block is byte for byte ours.
  const auto ours = format::SerializeGrubEnv(expected);
  ASSERT_TRUE(ours.ok());
  EXPECT_TRUE(*ours == ReadBytes("grubenv"));
}

TEST_F(EnvInterop, OursWritesGrubEditenvReads) {
  const std::string file = Path("grubenv");
  GrubEnvStore store(file);
  const EnvVars vars{{"boot_part", "B"},
                     {"path", "C:\\dir\\file"},
                     {"spaces", " a  b "},
                     {"two_lines", "first\nsecond"},
                     {"trailing_backslash", "x\\"},
                     {"upgrade_available", "1"}};
  ASSERT_TRUE(store.Save(vars).ok());
  const auto r = Run({"/usr/bin/grub-editenv", file, "list"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, Listing(vars));
  // grub-editenv edits our block in place and we read its edit.
  ASSERT_EQ(Run({"/usr/bin/grub-editenv", file, "set", "bootcount=2"}).exit_code, 0);
  ASSERT_EQ(Run({"/usr/bin/grub-editenv", file, "unset", "spaces"}).exit_code, 0);
  EnvVars expected = vars;
  expected.erase("spaces");
  expected["bootcount"] = "2";
  EXPECT_EQ(*store.Load(), expected);
}

TEST_F(EnvInterop, BootControlOverGrubEnvSeenByGrubEditenv) {
  const std::string file = Path("grubenv");
  ASSERT_EQ(Run({"/usr/bin/grub-editenv", file, "create"}).exit_code, 0);
  GrubEnvStore store(file);
  EnvBootControl control(store);
  ASSERT_TRUE(control.ArmTrial(Slot::kB).ok());
  EXPECT_EQ(Run({"/usr/bin/grub-editenv", file, "list"}).out,
            "boot_part=B\nbootcount=0\nbootlimit=3\nupgrade_available=1\n");
}

}  // namespace
}  // namespace uplift::boot
