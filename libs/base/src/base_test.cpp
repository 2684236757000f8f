#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "uplift/base/async_sink.hpp"
#include "uplift/base/bytes.hpp"
#include "uplift/base/io.hpp"
#include "uplift/base/range_source.hpp"
#include "uplift/base/result.hpp"

namespace uplift {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Error(base::Errc::kInvalidArgument, "odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  UPLIFT_ASSIGN(const int h, Half(x));
  UPLIFT_ASSIGN(const int q, Half(h));
  return q;
}

TEST(Result, PropagatesValuesAndErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  const auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(base::Errc::kInvalidArgument));
  EXPECT_FALSE(r.error().Is(base::Errc::kIo));
  EXPECT_EQ(r.error().domain(), "base");
}

TEST(Result, ContextPrepends) {
  Error e = Error(base::Errc::kIo, "disk full").Context("writing journal");
  EXPECT_EQ(e.message(), "writing journal: disk full");
}

TEST(Hex, RoundTripAndRejects) {
  const Bytes b = {0x00, 0xab, 0xff, 0x10};
  EXPECT_EQ(ToHex(b), "00abff10");
  EXPECT_EQ(*FromHex("00ABff10"), b);
  EXPECT_FALSE(FromHex("abc").has_value());
  EXPECT_FALSE(FromHex("zz").has_value());
}

TEST(Endian, LittleEndianRoundTrip) {
  std::uint8_t buf[8];
  StoreLe64(buf, 0x0102030405060708ULL);
  EXPECT_EQ(buf[0], 0x08);
  EXPECT_EQ(LoadLe64(buf), 0x0102030405060708ULL);
  StoreLe32(buf, 0xdeadbeef);
  EXPECT_EQ(LoadLe32(buf), 0xdeadbeefu);
  StoreLe16(buf, 0xbeef);
  EXPECT_EQ(buf[0], 0xef);
  EXPECT_EQ(LoadLe16(buf), 0xbeef);
}

TEST(Io, ReadExactReportsShortStream) {
  const Bytes data = {1, 2, 3};
  MemorySource src(data);
  Bytes out(4);
  const auto st = ReadExact(src, out);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(base::Errc::kUnexpectedEof));
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uplift-base-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(TempDir, AtomicWriteReplacesAndSetsMode) {
  const std::string path = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, AsBytes("old"), 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(path, AsBytes("new contents"), 0600).ok());
  const auto r = ReadFile(path, 1024);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(AsChars(*r), "new contents");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(TempDir, AbandonedWriterLeavesTargetAndNoTemp) {
  const std::string path = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, AsBytes("committed"), 0644).ok());
  {
    auto w = AtomicFileWriter::Create(path);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->Write(AsBytes("half")).ok());
  }  // no Commit
  EXPECT_EQ(AsChars(*ReadFile(path, 1024)), "committed");
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(TempDir, ReadFileBoundsSizeAndReportsMissing) {
  const std::string path = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, AsBytes("0123456789")).ok());
  const auto big = ReadFile(path, 9);
  ASSERT_FALSE(big.ok());
  EXPECT_TRUE(big.error().Is(base::Errc::kTooLarge));
  const auto missing = ReadFile(dir_ + "/nope", 9);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.error().Is(base::Errc::kNotFound));
}

TEST(AsyncSink, WritesEverythingInOrderWithABoundedQueue) {
  MemorySink out;
  Bytes all;
  {
    AsyncSink async(out, 64 * 1024);
    for (std::uint32_t i = 0; i < 300; ++i) {
      Bytes piece(1000 + i * 37, static_cast<std::uint8_t>(i));
      all.insert(all.end(), piece.begin(), piece.end());
      ASSERT_TRUE(async.Write(piece).ok());
    }
    ASSERT_TRUE(async.Finish().ok());
  }
  EXPECT_EQ(out.bytes(), all);
}

class FailingSink final : public ByteSink {
 public:
  Status Write(ByteView data) override {
    written += data.size();
    if (written > 100'000) return Error(base::Errc::kIo, "disk full");
    return Ok();
  }
  std::size_t written = 0;
};

TEST(AsyncSink, TheFirstErrorOfTheWriterComesBack) {
  FailingSink failing;
  AsyncSink async(failing, 64 * 1024);
  Status st = Ok();
  const Bytes piece(10'000, 1);
  for (int i = 0; i < 1000 && st.ok(); ++i) st = async.Write(piece);
  if (st.ok()) st = async.Finish();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("disk full"), std::string::npos);
  EXPECT_LT(failing.written, 300'000u);  // the writer stopped at its error
}

TEST(AsyncSink, DestroyedWithoutFinishDoesNotHang) {
  MemorySink out;
  AsyncSink async(out, 64 * 1024);
  ASSERT_TRUE(async.Write(Bytes(200'000, 7)).ok());
}

TEST(RangeSource, FileRangesRereadsAndValidators) {
  const std::string path = ::testing::TempDir() + "/range-source-test";
  Bytes data(10'000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  ASSERT_TRUE(WriteFileAtomic(path, data).ok());
  auto src = FileRangeSource::Open(path);
  ASSERT_TRUE(src.ok());
  auto stream = (*src)->OpenRange(100, 300);
  ASSERT_TRUE(stream.ok());
  Bytes got(500);
  auto n = (*stream)->Read(got);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 200u);
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + 200, data.begin() + 100));
  Bytes re(50);
  ASSERT_TRUE((*src)->Reread(9950, re).ok());
  EXPECT_TRUE(std::equal(re.begin(), re.end(), data.begin() + 9950));
  EXPECT_TRUE((*src)->Reread(9960, re).error().Is(base::Errc::kUnexpectedEof));
  const std::string validator = (*src)->validator();
  ASSERT_FALSE(validator.empty());
  EXPECT_TRUE(FileRangeSource::Open(path, validator).ok());
  // Replacing the file (a new inode) changes the validator: a resume refuses it.
  ASSERT_TRUE(WriteFileAtomic(path, data).ok());
  auto changed = FileRangeSource::Open(path, validator);
  ASSERT_FALSE(changed.ok());
  EXPECT_TRUE(changed.error().Is(base::Errc::kSourceChanged));
  std::remove(path.c_str());
}

TEST(Base64Url, MatchesRfc4648TestVectorsWithoutPadding) {
  // RFC 4648 §10 vectors, '=' padding removed (base64url and base64 agree on these).
  EXPECT_EQ(ToBase64Url(AsBytes("")), "");
  EXPECT_EQ(ToBase64Url(AsBytes("f")), "Zg");
  EXPECT_EQ(ToBase64Url(AsBytes("fo")), "Zm8");
  EXPECT_EQ(ToBase64Url(AsBytes("foo")), "Zm9v");
  EXPECT_EQ(ToBase64Url(AsBytes("foob")), "Zm9vYg");
  EXPECT_EQ(ToBase64Url(AsBytes("fooba")), "Zm9vYmE");
  EXPECT_EQ(ToBase64Url(AsBytes("foobar")), "Zm9vYmFy");
  // The URL-safe alphabet: 0xfb 0xff → "-_8" where base64 would say "+/8".
  const Bytes b = {0xfb, 0xff};
  EXPECT_EQ(ToBase64Url(b), "-_8");
}

}  // namespace
}  // namespace uplift
