#include "uplift/boot/grub_env_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "uplift/base/io.hpp"
#include "uplift/boot/boot_control.hpp"
#include "uplift/format/grub_env.hpp"

namespace uplift::boot {
namespace {

namespace fs = std::filesystem;

class GrubEnvStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uplift-grubenv-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(GrubEnvStoreTest, MissingFileLoadsEmptyAndSaveCreatesA1024ByteBlock) {
  GrubEnvStore store(dir_ + "/grubenv");
  auto empty = store.Load();
  ASSERT_TRUE(empty.ok()) << empty.error().message();
  EXPECT_TRUE(empty->empty());
  const EnvVars vars{{"boot_part", "B"}, {"odd", "a\\b\nc d"}};
  ASSERT_TRUE(store.Save(vars).ok());
  EXPECT_EQ(fs::file_size(dir_ + "/grubenv"), format::kGrubEnvSize);
  EXPECT_EQ(*store.Load(), vars);
  // Nothing but the block is left in the directory (the temporary file was renamed).
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(GrubEnvStoreTest, CorruptOrOversizedFileIsEnvCorrupt) {
  const std::string path = dir_ + "/grubenv";
  ASSERT_TRUE(WriteFileAtomic(path, AsBytes(std::string(1024, '#'))).ok());
  GrubEnvStore store(path);
  auto bad = store.Load();
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().Is(Errc::kEnvCorrupt)) << bad.error().message();
  std::string big(format::kGrubEnvSignature);
  big.append(format::kGrubEnvMaxSize, '#');
  ASSERT_TRUE(WriteFileAtomic(path, AsBytes(big)).ok());
  bad = store.Load();
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().Is(Errc::kEnvCorrupt)) << bad.error().message();
}

TEST_F(GrubEnvStoreTest, OverflowIsRefusedAndTheOldBlockStays) {
  GrubEnvStore store(dir_ + "/grubenv");
  ASSERT_TRUE(store.Save({{"k", "v"}}).ok());
  const Status st = store.Save({{"k", std::string(2000, 'x')}});
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(Errc::kEnvTooLarge)) << st.error().message();
  const Status bad = store.Save({{"#k", "v"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().Is(Errc::kBadVariable));
  EXPECT_EQ(store.Load()->at("k"), "v");
}

TEST_F(GrubEnvStoreTest, UnreadablePathIsAnIoError) {
  GrubEnvStore store(dir_);  // a directory
  const auto r = store.Load();
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(r.error().Is(Errc::kEnvCorrupt));
}

}  // namespace
}  // namespace uplift::boot
