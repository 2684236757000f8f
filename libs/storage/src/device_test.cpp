#include "uplift/storage/device.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "test_support.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/storage/sim_flash.hpp"

namespace uplift::storage {
namespace {

using testing::Pattern;
using testing::RecordingDevice;
using testing::TempDir;

Bytes ReadAll(BlockDevice& dev, std::uint64_t offset, std::size_t n) {
  Bytes out(n);
  const Status st = dev.Read(offset, out);
  EXPECT_TRUE(st) << st.error().message();
  return out;
}

bool AllAre(ByteView b, std::uint8_t v) {
  return std::all_of(b.begin(), b.end(), [v](std::uint8_t x) { return x == v; });
}

TEST(FileDevice, CreateProgramEraseReopen) {
  TempDir dir;
  const std::string path = dir.File("disk.img");
  {
    auto dev = CreateFileDevice(path, 10000, 0xab);
    ASSERT_TRUE(dev) << dev.error().message();
    EXPECT_EQ((*dev)->size(), 10000u);
    EXPECT_EQ((*dev)->erase_size(), 1u);
    EXPECT_EQ((*dev)->program_size(), 1u);
    EXPECT_FALSE((*dev)->needs_erase());
    EXPECT_EQ((*dev)->name(), path);
    EXPECT_TRUE(AllAre(ReadAll(**dev, 0, 10000), 0xab));
    ASSERT_TRUE((*dev)->Program(100, AsBytes("hello")));
    // Overwrite in place: no erase needed, bits may go 0 -> 1.
    ASSERT_TRUE((*dev)->Program(101, AsBytes("EL")));
    ASSERT_TRUE((*dev)->Erase(9990, 10));
    ASSERT_TRUE((*dev)->Sync());
  }
  auto dev = OpenFileDevice(path);
  ASSERT_TRUE(dev) << dev.error().message();
  EXPECT_EQ((*dev)->size(), 10000u);
  EXPECT_EQ(AsChars(ReadAll(**dev, 100, 5)), "hELlo");
  EXPECT_TRUE(AllAre(ReadAll(**dev, 9990, 10), 0xff));
  EXPECT_TRUE(AllAre(ReadAll(**dev, 105, 9885), 0xab));
}

TEST(FileDevice, ZeroFillIsSparseButSized) {
  TempDir dir;
  auto dev = CreateFileDevice(dir.File("z.img"), 3 << 20);
  ASSERT_TRUE(dev);
  EXPECT_EQ((*dev)->size(), 3u << 20);
  EXPECT_TRUE(AllAre(ReadAll(**dev, (3 << 20) - 4096, 4096), 0));
}

TEST(FileDevice, ReadOnlyRefusesWrites) {
  TempDir dir;
  const std::string path = dir.File("ro.img");
  ASSERT_TRUE(CreateFileDevice(path, 100, 7));
  auto dev = OpenFileDevice(path, /*read_only=*/true);
  ASSERT_TRUE(dev);
  const Status p = (*dev)->Program(0, AsBytes("x"));
  ASSERT_FALSE(p);
  EXPECT_TRUE(p.error().Is(Errc::kReadOnly)) << p.error().message();
  EXPECT_NE(p.error().message().find(path), std::string::npos);
  const Status e = (*dev)->Erase(0, 1);
  ASSERT_FALSE(e);
  EXPECT_TRUE(e.error().Is(Errc::kReadOnly));
  EXPECT_TRUE((*dev)->Sync());
  EXPECT_TRUE(AllAre(ReadAll(**dev, 0, 100), 7));
}

TEST(FileDevice, BoundsAreCheckedWithoutOverflow) {
  TempDir dir;
  auto dev = CreateFileDevice(dir.File("b.img"), 100);
  ASSERT_TRUE(dev);
  Bytes two(2);
  EXPECT_TRUE((*dev)->Read(99, two).error().Is(Errc::kOutOfBounds));
  EXPECT_TRUE((*dev)->Program(99, two).error().Is(Errc::kOutOfBounds));
  EXPECT_TRUE((*dev)->Erase(50, 51).error().Is(Errc::kOutOfBounds));
  const auto huge = std::numeric_limits<std::uint64_t>::max();
  EXPECT_TRUE((*dev)->Read(huge, two).error().Is(Errc::kOutOfBounds));
  EXPECT_TRUE((*dev)->Erase(2, huge).error().Is(Errc::kOutOfBounds));
  EXPECT_TRUE((*dev)->Read(100, {}));  // an empty read at the end is fine
}

TEST(FileDevice, OpenErrorsNameThePath) {
  TempDir dir;
  auto missing = OpenFileDevice(dir.File("nope"));
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().Is(base::Errc::kNotFound));
  EXPECT_NE(missing.error().message().find(dir.File("nope")), std::string::npos);
  auto directory = OpenFileDevice(dir.path(), /*read_only=*/true);
  ASSERT_FALSE(directory);
  EXPECT_TRUE(directory.error().Is(base::Errc::kIo)) << directory.error().message();
}

TEST(Partition, ForwardsInsideItsWindowOnly) {
  SimFlash flash({.size = 64 * 1024, .erase_size = 4096, .page_size = 256});
  auto part = MakePartition(flash, "journal", 8192, 8192);
  EXPECT_EQ(part->name(), "journal");
  EXPECT_EQ(part->size(), 8192u);
  EXPECT_EQ(part->erase_size(), 4096u);
  EXPECT_EQ(part->program_size(), 256u);
  EXPECT_TRUE(part->needs_erase());
  const Bytes page = Pattern(256);
  ASSERT_TRUE(part->Program(256, page));
  EXPECT_EQ(Bytes(flash.durable().begin() + 8192 + 256, flash.durable().begin() + 8192 + 512),
            page);
  EXPECT_EQ(ReadAll(*part, 256, 256), page);

  Bytes one(1);
  EXPECT_TRUE(part->Read(8192, one).error().Is(Errc::kOutOfBounds));
  EXPECT_TRUE(part->Program(8192, page).error().Is(Errc::kOutOfBounds));
  EXPECT_TRUE(part->Erase(4096, 8192).error().Is(Errc::kOutOfBounds));
  EXPECT_TRUE(part->Erase(std::numeric_limits<std::uint64_t>::max() - 4095, 4096)
                  .error()
                  .Is(Errc::kOutOfBounds));
  EXPECT_TRUE(part->Erase(100, 4096).error().Is(Errc::kUnaligned));
  EXPECT_TRUE(part->Program(10, page).error().Is(Errc::kUnaligned));
  // Nothing outside the window changed.
  EXPECT_TRUE(AllAre(flash.durable().first(8192), 0xff));
  EXPECT_TRUE(AllAre(flash.durable().subspan(16384), 0xff));
  ASSERT_TRUE(part->Erase(0, 8192));
  EXPECT_TRUE(AllAre(flash.durable(), 0xff));
  EXPECT_TRUE(part->Sync());
}

TEST(Partition, ValidateNamesTheProblem) {
  SimFlash flash({.size = 64 * 1024, .erase_size = 4096, .page_size = 256});
  EXPECT_TRUE(ValidatePartition(flash, 0, 64 * 1024));
  EXPECT_TRUE(ValidatePartition(flash, 4096, 100).error().Is(Errc::kUnaligned));
  EXPECT_TRUE(ValidatePartition(flash, 100, 4096).error().Is(Errc::kUnaligned));
  EXPECT_TRUE(ValidatePartition(flash, 61440, 8192).error().Is(Errc::kOutOfBounds));
  EXPECT_TRUE(ValidatePartition(flash, 0, 0).error().Is(Errc::kOutOfBounds));
}

TEST(DeviceWriter, WritesAFileRegionInOddPiecesAndTouchesNothingElse) {
  TempDir dir;
  auto dev = CreateFileDevice(dir.File("slot.img"), 4 << 20, 0x11);
  ASSERT_TRUE(dev);
  const std::uint64_t start = 1000;
  const std::uint64_t limit = 1000 + (3 << 20) + 5;
  const Bytes image = Pattern((3 << 20) + 5);
  RecordingDevice rec(**dev);
  DeviceWriter w(rec, start, limit);
  std::size_t at = 0;
  for (const std::size_t piece :
       {std::size_t{1}, std::size_t{4097}, std::size_t{(1 << 20) + 3}, std::size_t{2 << 20}}) {
    const std::size_t n = std::min(piece, image.size() - at);
    ASSERT_TRUE(w.Write(ByteView(image).subspan(at, n)));
    at += n;
  }
  ASSERT_EQ(at, image.size());
  EXPECT_EQ(w.written(), image.size());
  ASSERT_TRUE(w.Finish());
  EXPECT_EQ(ReadAll(**dev, start, image.size()), image);
  EXPECT_TRUE(AllAre(ReadAll(**dev, 0, start), 0x11));
  EXPECT_TRUE(AllAre(ReadAll(**dev, limit, (4 << 20) - limit), 0x11));
  // Programmed in big pieces, never byte by byte; no erases on a medium that overwrites.
  std::size_t programs = 0;
  for (const auto& c : rec.calls) {
    EXPECT_NE(c.op, 'E');
    if (c.op == 'P') ++programs;
  }
  EXPECT_LE(programs, 5u);
  EXPECT_EQ(rec.calls.back().op, 'S');
}

TEST(DeviceWriter, RefusesToPassTheLimit) {
  TempDir dir;
  auto dev = CreateFileDevice(dir.File("lim.img"), 2000, 0x22);
  ASSERT_TRUE(dev);
  DeviceWriter w(**dev, 500, 1500);
  ASSERT_TRUE(w.Write(Pattern(999)));
  const Status over = w.Write(Pattern(2));
  ASSERT_FALSE(over);
  EXPECT_TRUE(over.error().Is(Errc::kOutOfBounds)) << over.error().message();
  EXPECT_EQ(w.written(), 999u);
  ASSERT_TRUE(w.Write(Pattern(1, 9)));
  ASSERT_TRUE(w.Finish());
  EXPECT_TRUE(AllAre(ReadAll(**dev, 0, 500), 0x22));
  EXPECT_TRUE(AllAre(ReadAll(**dev, 1500, 500), 0x22));
  EXPECT_FALSE(w.Write(Pattern(1)));  // finished
}

TEST(DeviceWriter, RejectsARegionOutsideTheDevice) {
  TempDir dir;
  auto dev = CreateFileDevice(dir.File("r.img"), 100);
  ASSERT_TRUE(dev);
  DeviceWriter w(**dev, 50, 200);
  EXPECT_TRUE(w.Write(Pattern(1)).error().Is(Errc::kOutOfBounds));
}

TEST(DeviceWriter, ErasesAheadAndPadsOnFlash) {
  SimFlash flash({.size = 64 * 1024, .erase_size = 4096, .page_size = 256});
  const Bytes zeros(64 * 1024, 0);
  flash.LoadDurable(0, zeros);  // programmed everywhere: any missing erase shows as kNotErased
  RecordingDevice rec(flash);
  DeviceWriter w(rec, 8192, 8192 + 20000);
  const Bytes data = Pattern(10000);
  for (std::size_t at = 0; at < data.size(); at += 333) {
    ASSERT_TRUE(w.Write(ByteView(data).subspan(at, std::min<std::size_t>(333, data.size() - at))));
  }
  ASSERT_TRUE(w.Finish());
  const ByteView d = flash.durable();
  EXPECT_EQ(Bytes(d.begin() + 8192, d.begin() + 18192), data);
  EXPECT_TRUE(AllAre(d.subspan(18192, 240), 0xff));            // padding of the last page
  EXPECT_TRUE(AllAre(d.subspan(18432, 20480 - 18432), 0xff));  // rest of the last erased block
  EXPECT_TRUE(AllAre(d.first(8192), 0));
  EXPECT_TRUE(AllAre(d.subspan(20480), 0));
  EXPECT_EQ(flash.operations(), 3u + 40u);  // three block erases, forty pages
  // Each block is erased just before the first program into it, and programs stay inside
  // erased blocks.
  std::uint64_t erased_until = 8192;
  std::vector<std::uint64_t> erases;
  for (const auto& c : rec.calls) {
    if (c.op == 'E') {
      EXPECT_EQ(c.offset, erased_until);
      EXPECT_EQ(c.length, 4096u);
      erased_until += c.length;
      erases.push_back(c.offset);
    } else if (c.op == 'P') {
      EXPECT_LE(c.offset + c.length, erased_until);
      EXPECT_GE(c.offset + 4096, erased_until) << "erased a block long before writing into it";
    }
  }
  EXPECT_EQ(erases, (std::vector<std::uint64_t>{8192, 12288, 16384}));
}

TEST(DeviceWriter, NeverErasesPastAnUnalignedLimit) {
  SimFlash flash({.size = 64 * 1024, .erase_size = 4096, .page_size = 256});
  flash.LoadDurable(0, Bytes(64 * 1024, 0));
  DeviceWriter w(flash, 0, 6000);
  ASSERT_TRUE(w.Write(Pattern(5000)));
  const Status st = w.Finish();
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().Is(Errc::kOutOfBounds)) << st.error().message();
  EXPECT_TRUE(AllAre(flash.durable().subspan(4096), 0));
}

TEST(DeviceWriter, RejectsAnUnalignedStartOnFlash) {
  SimFlash flash({.size = 64 * 1024, .erase_size = 4096, .page_size = 256});
  DeviceWriter w(flash, 256, 8192);
  EXPECT_TRUE(w.Write(Pattern(10)).error().Is(Errc::kUnaligned));
  EXPECT_EQ(flash.operations(), 0u);
}

TEST(DeviceReader, ReadsAWindow) {
  SimFlash flash({.size = 64 * 1024, .erase_size = 4096, .page_size = 256});
  const Bytes content = Pattern(64 * 1024);
  flash.LoadDurable(0, content);
  auto reader = MakeDeviceReader(flash, 100, 50);
  EXPECT_EQ(reader->size(), 50u);
  Bytes buf(20);
  auto n = reader->ReadAt(40, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 10u);
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + 10),
            Bytes(content.begin() + 140, content.begin() + 150));
  n = reader->ReadAt(50, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  n = reader->ReadAt(0, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(buf, Bytes(content.begin() + 100, content.begin() + 120));
}

}  // namespace
}  // namespace uplift::storage
