// Branch filters: bijection on any bytes, block independence, conversions on known instructions,
// and DetectFilter on real and hostile ELF headers.
#include "uplift/delta/filter.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include "test_images.hpp"
namespace uplift::delta {
namespace {

using testing::Random;

// Dense in the bytes the filters look at (E8, REX 8B/8D ModRM, FF 15, 00, FF; BL/B/ADRP opcode
// bytes), so the overlapping and rejected cases occur often.
Bytes Adversarial(std::size_t n, std::uint32_t seed) {
  static constexpr std::uint8_t kAlphabet[] = {
      0xE8, 0xE9, 0x0F, 0x85, 0x00, 0xFF, 0x94, 0x97, 0x14, 0x90, 0xB0, 0x12, 0x80, 0x01,
      0x48, 0x8B, 0x8D, 0x05, 0x15, 0x25, 0x3D, 0x66, 0xF3, 0x0F, 0x10, 0x83, 0x63};
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = kAlphabet[rng() % std::size(kAlphabet)];
  return b;
}

Bytes ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// Real x86-64 ELF binaries of this machine (and the benchmark corpus when it has been built).
std::vector<std::filesystem::path> RealBinaries() {
  std::vector<std::filesystem::path> out;
  for (const char* p : {"/usr/bin/bash", "/usr/bin/ls", "/usr/bin/bsdiff",
                        "/tmp/ota-corpus/pairs/s_libssl.so.3_3.0.17-3.0.22/old",
                        "/tmp/ota-corpus/pairs/s_liblua_5.3-5.4/new"}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) out.emplace_back(p);
  }
  return out;
}

Bytes Encoded(const FilterSpec& spec, Bytes b, std::uint64_t offset = 0) {
  FilterEncode(spec, offset, b);
  return b;
}

Bytes Decoded(const FilterSpec& spec, Bytes b, std::uint64_t offset = 0) {
  FilterDecode(spec, offset, b);
  return b;
}

constexpr FilterSpec kWholeX86{Filter::kX86, 0, ~std::uint64_t{0}};
constexpr FilterSpec kWholeArm64{Filter::kArm64, 0, ~std::uint64_t{0}};

TEST(Filter, BijectiveOnRandomAndAdversarialBytes) {
  for (const FilterSpec& spec : {kWholeX86, kWholeArm64, FilterSpec{Filter::kX86, 1000, 150001},
                                 FilterSpec{Filter::kArm64, 3, 131074}}) {
    for (std::uint32_t seed = 1; seed <= 4; ++seed) {
      for (const Bytes& x : {Random(200'003, seed), Adversarial(200'003, seed)}) {
        const Bytes enc = Encoded(spec, x);
        EXPECT_NE(enc, x);  // the filter did something, so the round trip is not vacuous
        EXPECT_EQ(Decoded(spec, enc), x);
        EXPECT_EQ(Encoded(spec, Decoded(spec, x)), x);
      }
    }
  }
}

TEST(Filter, BijectiveOnRealBinaries) {
  const auto binaries = RealBinaries();
  ASSERT_FALSE(binaries.empty());
  for (const auto& path : binaries) {
    const Bytes x = ReadFile(path);
    const FilterSpec spec = DetectFilter(x);
    ASSERT_EQ(spec.kind, Filter::kX86) << path;
    const Bytes enc = Encoded(spec, x);
    EXPECT_NE(enc, x) << path;
    EXPECT_EQ(Decoded(spec, enc), x) << path;
    EXPECT_EQ(Encoded(spec, Decoded(spec, x)), x) << path;
    // Bytes outside the code range never change.
    EXPECT_TRUE(
        std::equal(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(spec.begin), enc.begin()));
    EXPECT_TRUE(std::equal(x.begin() + static_cast<std::ptrdiff_t>(spec.end), x.end(),
                           enc.begin() + static_cast<std::ptrdiff_t>(spec.end)));
  }
}

// The applier filters single blocks of the old image; they must equal the whole-image result.
TEST(Filter, BlocksAreIndependent) {
  const std::size_t n = 5 * kFilterBlockSize + 12'345;  // short last block
  for (const FilterSpec& spec :
       {kWholeX86, kWholeArm64, FilterSpec{Filter::kX86, 70'001, 200'000}}) {
    const Bytes x = Adversarial(n, 7);
    const Bytes whole = Encoded(spec, x);
    for (std::size_t k = 0; k * kFilterBlockSize < n; ++k) {
      const std::size_t start = k * kFilterBlockSize;
      const std::size_t size = std::min<std::size_t>(kFilterBlockSize, n - start);
      Bytes block(x.begin() + static_cast<std::ptrdiff_t>(start),
                  x.begin() + static_cast<std::ptrdiff_t>(start + size));
      FilterEncode(spec, start, block);
      EXPECT_TRUE(std::equal(block.begin(), block.end(),
                             whole.begin() + static_cast<std::ptrdiff_t>(start)))
          << "block " << k;
      FilterDecode(spec, start, block);
      EXPECT_TRUE(
          std::equal(block.begin(), block.end(), x.begin() + static_cast<std::ptrdiff_t>(start)));
    }
  }
}

TEST(Filter, X86ConvertsCallToAbsoluteTarget) {
  // At offset 0x10000 + 0x20: call rel32 = 0x100 -> target 0x10000 + 0x25 + 0x100.
  Bytes b(kFilterBlockSize, 0x90);
  const Bytes call = {0xE8, 0x00, 0x01, 0x00, 0x00};
  std::copy(call.begin(), call.end(), b.begin() + 0x20);
  FilterEncode(kWholeX86, 0x10000, b);
  EXPECT_EQ(LoadLe32(&b[0x21]), 0x10125u);
  // A backward jump that crosses zero wraps mod 2^25 and stays sign-extended.
  Bytes j = {0xE8, 0xF0, 0xFF, 0xFF, 0xFF};  // call -16 at offset 0: target -11
  FilterEncode(kWholeX86, 0, j);
  EXPECT_EQ(LoadLe32(&j[1]), 0xFFFFFFF5u);
  // RIP-relative lea rdi,[rip+0x100] and call [rip+0x20] (through the GOT) at offset 0.
  Bytes rip = {0x48, 0x8D, 0x3D, 0x00, 0x01, 0x00, 0x00, 0xFF, 0x15, 0x20, 0x00, 0x00, 0x00};
  FilterEncode(kWholeX86, 0, rip);
  EXPECT_EQ(LoadLe32(&rip[3]), 0x107u);
  EXPECT_EQ(LoadLe32(&rip[9]), 0x2Du);
  // A ModRM that is not RIP-relative ([rdi]) is not touched.
  const Bytes not_rip = {0x48, 0x8B, 0x07, 0x00, 0x01, 0x00, 0x00};
  EXPECT_EQ(Encoded(kWholeX86, not_rip), not_rip);
  // jmp and jcc rel32 are left relative: they made patches larger on the corpus.
  const Bytes jmp = {0xE9, 0x10, 0x00, 0x00, 0x00};
  const Bytes jne = {0x0F, 0x85, 0x10, 0x00, 0x00, 0x00};
  EXPECT_EQ(Encoded(kWholeX86, jmp), jmp);
  EXPECT_EQ(Encoded(kWholeX86, jne), jne);
}

TEST(Filter, X86LeavesFarAndStraddlingOperandsAlone) {
  // Top byte 0x12: not a plausible displacement.
  Bytes far = {0xE8, 0x00, 0x00, 0x00, 0x12, 0x00};
  EXPECT_EQ(Encoded(kWholeX86, far), far);
  // A call whose operand crosses the block edge is untouched, on both sides.
  Bytes b(2 * kFilterBlockSize, 0x90);
  const std::size_t at = kFilterBlockSize - 3;
  b[at] = 0xE8;
  StoreLe32(&b[at + 1], 0x40);
  EXPECT_EQ(Encoded(kWholeX86, b), b);
  // ... and so is one crossing the end of the code range, while one inside it is converted.
  Bytes r(64, 0x90);
  r[10] = 0xE8;
  StoreLe32(&r[11], 0);
  r[30] = 0xE8;
  StoreLe32(&r[31], 0);
  const FilterSpec range{Filter::kX86, 0, 33};
  const Bytes enc = Encoded(range, r);
  EXPECT_EQ(LoadLe32(&enc[11]), 15u);
  EXPECT_TRUE(std::equal(enc.begin() + 30, enc.end(), r.begin() + 30));
}

// The case a naive BCJ gets wrong: a rejected E8 whose top byte is a low operand byte of the
// next call. Conversion of that call must not make the decoder accept the first E8.
TEST(Filter, X86RejectedCandidateShieldsItsTopByte) {
  // Converting the second call (0xF8 + 8 = 0x100) would turn byte 4 into 0x00.
  const Bytes b = {0xE8, 0x11, 0x22, 0xE8, 0xF8, 0x00, 0x00, 0x00, 0x90, 0x90};
  const Bytes enc = Encoded(kWholeX86, b);
  EXPECT_EQ(enc, b);  // the second E8 starts inside the first candidate's shield
  EXPECT_EQ(Decoded(kWholeX86, enc), b);
}

TEST(Filter, Arm64ConvertsBranchesAndAdrp) {
  Bytes block(0x1010, 0);
  StoreLe32(&block[0x1000], 0x94000010);  // bl +0x40 (pc/4 = 0x400)
  StoreLe32(&block[0x1004], 0x17FFFFFF);  // b -4
  StoreLe32(&block[0x1008], 0x90000001);  // adrp x1, +0 pages (pc page 1)
  StoreLe32(&block[0x100C], 0xD503201F);  // nop
  FilterEncode(kWholeArm64, 0, block);
  EXPECT_EQ(LoadLe32(&block[0x1000]), 0x94000410u);
  EXPECT_EQ(LoadLe32(&block[0x1004]), 0x17FFFFFFu);  // B stays relative (measured better)
  EXPECT_EQ(LoadLe32(&block[0x1008]), 0xB0000001u);  // immlo = 1
  EXPECT_EQ(LoadLe32(&block[0x100C]), 0xD503201Fu);
  // A word that is not 4-aligned in the image is not an instruction.
  Bytes odd(2 * kFilterBlockSize, 0);
  StoreLe32(&odd[0x1002], 0x94000010);
  EXPECT_EQ(Encoded(kWholeArm64, odd), odd);
  // ADRP with an implausible page offset (bits 17..20 not a sign extension) is data.
  Bytes wide(8, 0);
  StoreLe32(&wide[4], 0x90800000);  // page immediate 0x100000
  EXPECT_EQ(Encoded(kWholeArm64, wide), wide);
}

TEST(Filter, NoneAndEmptyRangeChangeNothing) {
  const Bytes x = Adversarial(100'000, 3);
  EXPECT_EQ(Encoded(FilterSpec{}, x), x);
  EXPECT_EQ(Encoded(FilterSpec{Filter::kX86, 500, 500}, x), x);
  EXPECT_EQ(Encoded(FilterSpec{Filter::kX86, 900, 100}, x), x);
  EXPECT_EQ(Encoded(FilterSpec{Filter::kArm64, 200'000, 300'000}, x), x);
}

TEST(FilterDeathTest, UnalignedOffsetAborts) {
  Bytes b(16, 0);
  EXPECT_DEATH(FilterEncode(kWholeX86, kFilterBlockSize / 2, b), "");
}

// A minimal ELF64 LE header with one program header table at 64.
Bytes MakeElf(std::uint16_t machine, std::uint16_t phnum, std::size_t size = 4096) {
  Bytes b(size, 0);
  b[0] = 0x7F;
  b[1] = 'E';
  b[2] = 'L';
  b[3] = 'F';
  b[4] = 2;
  b[5] = 1;
  StoreLe16(&b[18], machine);
  StoreLe64(&b[32], 64);
  StoreLe16(&b[54], 56);
  StoreLe16(&b[56], phnum);
  return b;
}

void SetPhdr(Bytes& b, std::size_t n, std::uint32_t type, std::uint32_t flags, std::uint64_t off,
             std::uint64_t filesz) {
  std::uint8_t* ph = &b[64 + n * 56];
  StoreLe32(ph, type);
  StoreLe32(ph + 4, flags);
  StoreLe64(ph + 8, off);
  StoreLe64(ph + 32, filesz);
}

TEST(DetectFilter, FindsHullOfExecutableLoadSegments) {
  Bytes b = MakeElf(62, 4);
  SetPhdr(b, 0, 1, 4, 0, 1000);     // R
  SetPhdr(b, 1, 1, 5, 1024, 1000);  // R+X
  SetPhdr(b, 2, 1, 5, 3000, 500);   // R+X
  SetPhdr(b, 3, 6, 5, 0, 4096);     // PT_PHDR: not a load
  EXPECT_EQ(DetectFilter(b), (FilterSpec{Filter::kX86, 1024, 3500}));
  StoreLe16(&b[18], 183);
  EXPECT_EQ(DetectFilter(b).kind, Filter::kArm64);
  // A segment running past the image is clipped to it.
  SetPhdr(b, 2, 1, 1, 3000, ~std::uint64_t{0});
  EXPECT_EQ(DetectFilter(b), (FilterSpec{Filter::kArm64, 1024, 4096}));
}

TEST(DetectFilter, RealBinariesAreX86WithCodeInside) {
  for (const auto& path : RealBinaries()) {
    const Bytes x = ReadFile(path);
    const FilterSpec spec = DetectFilter(x);
    EXPECT_EQ(spec.kind, Filter::kX86) << path;
    EXPECT_LT(spec.begin, spec.end);
    EXPECT_LE(spec.end, x.size());
  }
}

TEST(DetectFilter, HostileHeadersGiveNone) {
  EXPECT_EQ(DetectFilter({}), FilterSpec{});
  const Bytes good = [] {
    Bytes b = MakeElf(62, 1);
    SetPhdr(b, 0, 1, 5, 0, 4096);
    return b;
  }();
  ASSERT_EQ(DetectFilter(good).kind, Filter::kX86);
  for (std::size_t cut = 0; cut < 64 + 56; ++cut) {  // every truncation of header and table
    EXPECT_EQ(DetectFilter(ByteView(good).first(cut)), FilterSpec{}) << cut;
  }
  auto with = [&](auto edit) {
    Bytes b = good;
    edit(b);
    return DetectFilter(b);
  };
  EXPECT_EQ(with([](Bytes& b) { b[4] = 1; }), FilterSpec{});               // ELF32
  EXPECT_EQ(with([](Bytes& b) { b[5] = 2; }), FilterSpec{});               // big-endian
  EXPECT_EQ(with([](Bytes& b) { StoreLe16(&b[18], 40); }), FilterSpec{});  // ARM32
  EXPECT_EQ(with([](Bytes& b) { StoreLe64(&b[32], ~std::uint64_t{0} - 8); }), FilterSpec{});
  EXPECT_EQ(with([](Bytes& b) { StoreLe64(&b[32], 4096 - 55); }), FilterSpec{});
  EXPECT_EQ(with([](Bytes& b) { StoreLe16(&b[54], 8); }), FilterSpec{});  // phentsize too small
  EXPECT_EQ(with([](Bytes& b) { StoreLe16(&b[56], 0xFFFF); }), FilterSpec{});  // PN_XNUM
  EXPECT_EQ(with([](Bytes& b) { StoreLe16(&b[56], 1000); }), FilterSpec{});    // table past end
  EXPECT_EQ(with([](Bytes& b) { StoreLe16(&b[54], 0xFFFF); }), FilterSpec{});
  EXPECT_EQ(with([](Bytes& b) { StoreLe64(&b[64 + 8], 4096); }), FilterSpec{});  // off at end
  EXPECT_EQ(with([](Bytes& b) { StoreLe64(&b[64 + 8], ~std::uint64_t{0}); }), FilterSpec{});
  EXPECT_EQ(with([](Bytes& b) { StoreLe64(&b[64 + 32], 0); }), FilterSpec{});  // empty
  EXPECT_EQ(with([](Bytes& b) { StoreLe32(&b[64 + 4], 4); }), FilterSpec{});   // not executable
  // Offset + size overflowing 2^64 is clipped to the image, not wrapped.
  EXPECT_EQ(with([](Bytes& b) {
              StoreLe64(&b[64 + 8], 100);
              StoreLe64(&b[64 + 32], ~std::uint64_t{0} - 50);
            }),
            (FilterSpec{Filter::kX86, 100, 4096}));
  // Overlapping segments: the hull.
  Bytes b = MakeElf(62, 2);
  SetPhdr(b, 0, 1, 1, 100, 1000);
  SetPhdr(b, 1, 1, 1, 50, 500);
  EXPECT_EQ(DetectFilter(b), (FilterSpec{Filter::kX86, 50, 1100}));
  // Random garbage after a valid magic never crashes.
  for (std::uint32_t seed = 0; seed < 2000; ++seed) {
    Bytes r = Random(64 + seed % 600, seed);
    std::copy(good.begin(), good.begin() + 6, r.begin());
    const FilterSpec spec = DetectFilter(r);
    if (spec.kind != Filter::kNone) {
      EXPECT_LE(spec.end, r.size());
    }
  }
}

}  // namespace
}  // namespace uplift::delta
