#include "uplift/format/canonical_json.hpp"

#include <gtest/gtest.h>

namespace uplift::format {
namespace {

Result<Json> Parse(std::string_view s) { return ParseCanonicalJson(AsBytes(s)); }

TEST(CanonicalJson, AcceptsCanonical) {
  const auto j = Parse(R"({"a":[1,-2,"x"],"b":{"c":true,"d":null},"e":"\u001f\n\"\\é/"})");
  ASSERT_TRUE(j.ok()) << j.error().message();
  EXPECT_EQ((*j)["a"][1], -2);
}

TEST(CanonicalJson, RejectsEachNonCanonicalSpelling) {
  for (const char* s : {
           R"({"b":1,"a":2})",  // key order
           R"({"a": 1})",       // whitespace
           R"({"a":1,"a":1})",  // duplicate key
           R"(["\/"])",         // needless escape
           R"(["\u0041"])",     // escaped printable
           R"(["\u001F"])",     // upper-case hex escape
           R"(["\u000a"])",     // \n spelled long
           " [1]",              // leading space
           "[1]\n",             // trailing newline
       }) {
    const auto r = Parse(s);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_TRUE(r.error().Is(Errc::kNonCanonical)) << s << ": " << r.error().message();
  }
}

TEST(CanonicalJson, RejectsWhatTheProfileForbids) {
  for (const char* s : {
           "[1.5]", "[1e3]", "[-0.0]",            // non-integers
           "[9007199254740992]",                  // 2^53
           "[-9007199254740992]",                 // -2^53
           "[18446744073709551616]",              // beyond uint64
           R"({"é":1})",                          // non-ASCII key
           "[1,]", "{", "", "nul", "[\"\xff\"]",  // not JSON / not UTF-8
           "[[[[[[[[[1]]]]]]]]]",                 // depth 9
       }) {
    const auto r = Parse(s);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_TRUE(r.error().Is(Errc::kMalformedManifest)) << s << ": " << r.error().message();
  }
  EXPECT_TRUE(Parse("[9007199254740991,-9007199254740991]").ok());
  EXPECT_TRUE(Parse("[[[[[[[[1]]]]]]]]").ok());  // depth 8
}

TEST(CanonicalJson, SerializerIsTheParserInverse) {
  Json j = {{"z", 1}, {"a", {{"y", "tab\there"}, {"b", Json::array({1, 2})}}}, {"m", nullptr}};
  const std::string s = CanonicalJson(j);
  EXPECT_EQ(s, R"({"a":{"b":[1,2],"y":"tab\there"},"m":null,"z":1})");
  const auto back = Parse(s);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, j);
}

TEST(CanonicalJson, DepthScanIgnoresBracketsInStrings) {
  EXPECT_TRUE(Parse(R"(["[[[[[[[[[[[[[[[[[[[[\"{{{{{{{{{{{{{"])").ok());
}

}  // namespace
}  // namespace uplift::format
