#include "uplift/format/uboot_env.hpp"

#include <gtest/gtest.h>

#include <string>

#include "uplift/crypto/crc.hpp"
#include "uplift/format/errors.hpp"

namespace uplift::format {
namespace {

constexpr auto kSingle = UbootEnvLayout::kSingle;
constexpr auto kRedundant = UbootEnvLayout::kRedundant;

// A copy assembled by hand from raw data bytes, with a correct CRC.
Bytes Image(std::string_view data, std::size_t size, UbootEnvLayout layout, std::uint8_t flags = 0,
            std::uint8_t pad = 0xff) {
  const std::size_t header = UbootEnvHeaderSize(layout);
  Bytes image(size, pad);
  std::copy(data.begin(), data.end(), image.begin() + static_cast<std::ptrdiff_t>(header));
  if (layout == kRedundant) image[4] = flags;
  StoreLe32(image.data(), crypto::Crc32(ByteView(image).subspan(header)));
  return image;
}

TEST(UbootEnv, ParsesWhatMkenvimageWrites) {
  // `printf 'bootcmd=run x\nfoo=bar\nabc=1\n' | mkenvimage -s 0x100 -o - -`: CRC 0x1c761a59,
  // variables in file order, 0xff padding.
  const Bytes image = Image(std::string("bootcmd=run x\0foo=bar\0abc=1\0\0", 29), 0x100, kSingle);
  EXPECT_EQ(LoadLe32(image.data()), 0x1c761a59u);
  const auto env = ParseUbootEnv(image, kSingle);
  ASSERT_TRUE(env.ok()) << env.error().message();
  EXPECT_EQ(env->vars, (EnvVars{{"abc", "1"}, {"bootcmd", "run x"}, {"foo", "bar"}}));
  EXPECT_EQ(env->flags, 0);
}

TEST(UbootEnv, SerializesSortedAndPadded) {
  const EnvVars vars{{"zed", "1"}, {"abc", ""}, {"B", "x y"}};
  const auto image = SerializeUbootEnv(vars, 64, kSingle);
  ASSERT_TRUE(image.ok());
  ASSERT_EQ(image->size(), 64u);
  EXPECT_EQ(*image, Image(std::string("B=x y\0abc=\0zed=1\0\0", 18), 64, kSingle, 0, 0x00));
  const auto ff = SerializeUbootEnv(vars, 64, kSingle, 0, 0xff);
  ASSERT_TRUE(ff.ok());
  EXPECT_EQ(*ff, Image(std::string("B=x y\0abc=\0zed=1\0\0", 18), 64, kSingle, 0, 0xff));
}

TEST(UbootEnv, RoundTripsBothLayouts) {
  EnvVars vars{{"boot_part", "B"},
               {"bootcmd", "run a; run b"},
               {"upgrade_available", "1"},
               {"weird", "tab\there\nnewline = equals"},
               {"\xff\x01", "\x7f"}};
  for (const auto layout : {kSingle, kRedundant}) {
    const auto image = SerializeUbootEnv(vars, 4096, layout, 7);
    ASSERT_TRUE(image.ok());
    const auto env = ParseUbootEnv(*image, layout);
    ASSERT_TRUE(env.ok()) << env.error().message();
    EXPECT_EQ(env->vars, vars);
    EXPECT_EQ(env->flags, layout == kRedundant ? 7 : 0);
  }
}

TEST(UbootEnv, EmptyEnvironmentIsOneNul) {
  const auto image = SerializeUbootEnv({}, 8, kSingle);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ((*image)[4], 0);
  const auto env = ParseUbootEnv(*image, kSingle);
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(env->vars.empty());
}

TEST(UbootEnv, ExactFitAndOneByteTooMany) {
  // "a=b\0" + "\0" = 5 bytes of data.
  EXPECT_TRUE(SerializeUbootEnv({{"a", "b"}}, 4 + 5, kSingle).ok());
  const auto tight = SerializeUbootEnv({{"a", "bc"}}, 4 + 5, kSingle);
  ASSERT_FALSE(tight.ok());
  EXPECT_TRUE(tight.error().Is(Errc::kEnvTooLarge)) << tight.error().message();
  EXPECT_TRUE(SerializeUbootEnv({{"a", "b"}}, 5 + 5, kRedundant).ok());
  EXPECT_FALSE(SerializeUbootEnv({{"a", "b"}}, 5 + 4, kRedundant).ok());
}

TEST(UbootEnv, LastDuplicateWins) {
  const auto env = ParseUbootEnv(Image(std::string("a=1\0b=2\0a=3\0\0", 14), 32, kSingle), kSingle);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->vars, (EnvVars{{"a", "3"}, {"b", "2"}}));
}

TEST(UbootEnv, RejectsMalformedData) {
  struct Case {
    std::string data;
    const char* why;
  };
  const Case cases[] = {
      {std::string("a=1\0noequals\0\0", 15), "entry without '='"},
      {std::string("=1\0\0", 4), "empty name"},
      {std::string("a=1\0b=2\0", 8), "no terminating empty entry (padding is not NUL)"},
  };
  for (const auto& c : cases) {
    const auto env = ParseUbootEnv(Image(c.data, 4 + c.data.size() + 2, kSingle), kSingle);
    ASSERT_FALSE(env.ok()) << c.why;
    EXPECT_TRUE(env.error().Is(Errc::kEnvCorrupt)) << c.why << ": " << env.error().message();
  }
  // Data that fills the copy to the last byte without a terminator.
  const auto full = ParseUbootEnv(Image("a=1234", 10, kSingle), kSingle);
  ASSERT_FALSE(full.ok());
  EXPECT_TRUE(full.error().Is(Errc::kEnvCorrupt));
  // One variable ending exactly at the end: terminator missing.
  const auto no_term = ParseUbootEnv(Image(std::string("a=12\0", 5), 9, kSingle), kSingle);
  EXPECT_FALSE(no_term.ok());
}

TEST(UbootEnv, RejectsBadCrcAndSizes) {
  Bytes image = Image(std::string("a=1\0\0", 5), 64, kSingle);
  image[40] ^= 1;  // padding is covered by the CRC too
  const auto env = ParseUbootEnv(image, kSingle);
  ASSERT_FALSE(env.ok());
  EXPECT_TRUE(env.error().Is(Errc::kEnvCorrupt));
  EXPECT_NE(env.error().message().find("CRC"), std::string::npos) << env.error().message();
  EXPECT_FALSE(UbootEnvCrcValid(image, kSingle));
  // A single-layout image is not a valid redundant one (the CRC covers different bytes).
  EXPECT_FALSE(ParseUbootEnv(Image(std::string("a=1\0\0", 5), 64, kSingle), kRedundant).ok());
  for (const std::size_t size : {0u, 3u, 4u}) {
    const auto tiny = ParseUbootEnv(Bytes(size, 0), kSingle);
    ASSERT_FALSE(tiny.ok());
    EXPECT_TRUE(tiny.error().Is(Errc::kEnvTooLarge));
  }
  EXPECT_FALSE(ParseUbootEnv(Bytes(5, 0), kRedundant).ok());
  EXPECT_FALSE(SerializeUbootEnv({}, kUbootEnvMaxSize + 1, kSingle).ok());
  EXPECT_FALSE(SerializeUbootEnv({}, 4, kSingle).ok());
}

TEST(UbootEnv, RejectsVariablesItCannotHold) {
  const std::pair<std::string, std::string> bad[] = {
      {"", "x"}, {"a=b", "x"}, {std::string("a\0b", 3), "x"}, {"a", std::string("x\0y", 3)}};
  for (const auto& [name, value] : bad) {
    const auto image = SerializeUbootEnv({{name, value}}, 256, kSingle);
    ASSERT_FALSE(image.ok()) << name;
    EXPECT_TRUE(image.error().Is(Errc::kEnvBadVariable)) << image.error().message();
  }
}

TEST(UbootEnvRedundant, SelectionFollowsUboot) {
  EXPECT_EQ(SelectUbootEnvCopy(false, 0, false, 0), -1);
  EXPECT_EQ(SelectUbootEnvCopy(true, 9, false, 10), 0);
  EXPECT_EQ(SelectUbootEnvCopy(false, 9, true, 3), 1);
  EXPECT_EQ(SelectUbootEnvCopy(true, 1, true, 2), 1);
  EXPECT_EQ(SelectUbootEnvCopy(true, 2, true, 1), 0);
  EXPECT_EQ(SelectUbootEnvCopy(true, 5, true, 5), 0);    // tie: the first copy
  EXPECT_EQ(SelectUbootEnvCopy(true, 255, true, 0), 1);  // wrapped counter
  EXPECT_EQ(SelectUbootEnvCopy(true, 0, true, 255), 0);
  EXPECT_EQ(SelectUbootEnvCopy(true, 254, true, 0), 0);  // only 255 -> 0 counts as a wrap
}

TEST(UbootEnvRedundant, NewerCopyWinsIncludingWrapAround) {
  const auto old_copy = *SerializeUbootEnv({{"v", "old"}}, 128, kRedundant, 255);
  const auto new_copy = *SerializeUbootEnv({{"v", "new"}}, 128, kRedundant, 0);
  for (const bool swapped : {false, true}) {
    const auto pair = swapped ? ParseRedundantUbootEnv(new_copy, old_copy)
                              : ParseRedundantUbootEnv(old_copy, new_copy);
    ASSERT_TRUE(pair.ok()) << pair.error().message();
    EXPECT_EQ(pair->active.vars.at("v"), "new");
    EXPECT_EQ(pair->active.flags, 0);
    EXPECT_EQ(pair->current, swapped ? 0 : 1);
    EXPECT_TRUE(pair->other_valid);
  }
}

TEST(UbootEnvRedundant, TornCopyFallsBackToTheOther) {
  const auto good = *SerializeUbootEnv({{"v", "good"}}, 128, kRedundant, 3);
  auto torn = *SerializeUbootEnv({{"v", "newer"}}, 128, kRedundant, 4);
  std::fill(torn.begin() + 64, torn.end(), 0xff);  // power cut half way through programming
  const auto pair = ParseRedundantUbootEnv(torn, good);
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->current, 1);
  EXPECT_FALSE(pair->other_valid);
  EXPECT_EQ(pair->active.vars.at("v"), "good");
  // Both torn: corrupt.
  const auto none = ParseRedundantUbootEnv(torn, torn);
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(none.error().Is(Errc::kEnvCorrupt));
  // Sizes must match.
  EXPECT_FALSE(ParseRedundantUbootEnv(good, ByteView(good).first(127)).ok());
}

TEST(UbootEnvRedundant, ChosenCopyWithGoodCrcButBadDataIsCorrupt) {
  // U-Boot picks by CRC and flags alone; a newer copy whose data does not parse is not skipped.
  const auto good = *SerializeUbootEnv({{"v", "good"}}, 64, kRedundant, 1);
  const auto bad = Image(std::string("novalue\0\0", 9), 64, kRedundant, 2);
  const auto pair = ParseRedundantUbootEnv(good, bad);
  ASSERT_FALSE(pair.ok());
  EXPECT_TRUE(pair.error().Is(Errc::kEnvCorrupt));
  EXPECT_NE(pair.error().message().find("copy 1"), std::string::npos) << pair.error().message();
}

}  // namespace
}  // namespace uplift::format
