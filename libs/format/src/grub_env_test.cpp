#include "uplift/format/grub_env.hpp"

#include <gtest/gtest.h>

#include <string>

#include "uplift/format/errors.hpp"

namespace uplift::format {
namespace {

std::string Block(std::string_view body, std::size_t size = kGrubEnvSize) {
  std::string s(kGrubEnvSignature);
  s += kGrubEnvWarning;
  s += body;
  if (s.size() < size) s.append(size - s.size(), '#');
  return s;
}

TEST(GrubEnv, SerializesAsGrubEditenvDoes) {
  // What `grub-editenv F create; grub-editenv F set a='x\y' b="line1<newline>line2"` writes.
  const auto block = SerializeGrubEnv({{"a", "x\\y"}, {"b", "line1\nline2"}});
  ASSERT_TRUE(block.ok());
  EXPECT_EQ(AsChars(*block), Block("a=x\\\\y\nb=line1\\\nline2\n"));
  EXPECT_EQ(block->size(), kGrubEnvSize);
}

TEST(GrubEnv, EmptyBlockIsSignatureWarningAndPadding) {
  const auto block = SerializeGrubEnv({});
  ASSERT_TRUE(block.ok());
  EXPECT_EQ(AsChars(*block), Block(""));
  const auto vars = ParseGrubEnv(*block);
  ASSERT_TRUE(vars.ok());
  EXPECT_TRUE(vars->empty());
}

TEST(GrubEnv, RoundTripsEscapesAndOddCharacters) {
  const EnvVars vars{{"a", "\\"},    {"b", "\n"},    {"c", "with space"}, {"d", ""},
                     {"e", "#hash"}, {"f", "x=y=z"}, {"g", "\\\n\\\\n"},  {"h.i-j", "\t\r\x7f\xff"},
                     {"name\\", "v"}};
  const auto block = SerializeGrubEnv(vars);
  ASSERT_TRUE(block.ok());
  const auto back = ParseGrubEnv(*block);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, vars);
}

TEST(GrubEnv, ParsesCommentsUnknownEscapesDuplicatesAndOtherSizes) {
  // GRUB unescapes any backslash pair; comment lines may appear anywhere.
  const auto vars = ParseGrubEnv(AsBytes(Block("a=x\\qy\n# note\nb=2\na=3\n")));
  ASSERT_TRUE(vars.ok()) << vars.error().message();
  EXPECT_EQ(*vars, (EnvVars{{"a", "3"}, {"b", "2"}}));
  // No padding and no warning line: still a block (GRUB reads any size).
  const auto bare = ParseGrubEnv(AsBytes(std::string(kGrubEnvSignature) + "k=v\n"));
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(*bare, (EnvVars{{"k", "v"}}));
  EXPECT_TRUE(ParseGrubEnv(AsBytes(kGrubEnvSignature)).ok());
}

TEST(GrubEnv, RejectsMalformedBlocks) {
  const std::string cases[] = {
      "",                                                      // empty
      "# GRUB Environment Block\r\n" + std::string(900, '#'),  // wrong signature
      std::string(kGrubEnvSignature.substr(0, 10)),            // truncated signature
      Block("a=1\nnoequals\nb=2\n"),                           // line without '='
      Block("=v\n"),                                           // empty name
      Block("\na=1\n"),                                        // empty line (GRUB: part of a name)
      std::string(kGrubEnvSignature) + "a=unterminated",       // value runs into the end
      std::string(kGrubEnvSignature) + "a=x\\",                // backslash at the end
      Block(std::string("a=x\0y\n", 6)),                       // NUL
      Block("", kGrubEnvMaxSize + 1),                          // too large
  };
  for (const auto& c : cases) {
    const auto vars = ParseGrubEnv(AsBytes(c));
    ASSERT_FALSE(vars.ok()) << c.substr(0, 80);
    EXPECT_TRUE(vars.error().Is(Errc::kEnvCorrupt)) << vars.error().message();
  }
}

TEST(GrubEnv, OverflowAndBadVariables) {
  const std::size_t room = kGrubEnvSize - kGrubEnvSignature.size() - kGrubEnvWarning.size();
  // "a=" + value + "\n" fills the block exactly: no padding byte left, still valid.
  const std::string exact(room - 3, 'v');
  const auto full = SerializeGrubEnv({{"a", exact}});
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->back(), '\n');
  EXPECT_EQ(ParseGrubEnv(*full)->at("a"), exact);
  const auto over = SerializeGrubEnv({{"a", exact + "v"}});
  ASSERT_FALSE(over.ok());
  EXPECT_TRUE(over.error().Is(Errc::kEnvTooLarge)) << over.error().message();
  // Escapes count: one backslash takes two bytes.
  const auto escaped = SerializeGrubEnv({{"a", std::string(room - 4, 'v') + "\\"}});
  ASSERT_FALSE(escaped.ok());
  EXPECT_TRUE(escaped.error().Is(Errc::kEnvTooLarge));
  EXPECT_FALSE(SerializeGrubEnv({}, 10).ok());
  EXPECT_FALSE(SerializeGrubEnv({}, kGrubEnvMaxSize + 1).ok());

  const std::pair<std::string, std::string> bad[] = {{"", "x"},
                                                     {"#a", "x"},
                                                     {"a=b", "x"},
                                                     {"a\nb", "x"},
                                                     {std::string("a\0", 2), "x"},
                                                     {"a", std::string("\0", 1)}};
  for (const auto& [name, value] : bad) {
    const auto block = SerializeGrubEnv({{name, value}});
    ASSERT_FALSE(block.ok()) << name;
    EXPECT_TRUE(block.error().Is(Errc::kEnvBadVariable)) << block.error().message();
  }
}

}  // namespace
}  // namespace uplift::format
