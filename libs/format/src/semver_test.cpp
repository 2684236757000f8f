#include "uplift/format/semver.hpp"

#include <gtest/gtest.h>

namespace uplift::format {
namespace {

TEST(SemVer, ParsesFullForm) {
  const auto v = SemVer::Parse("1.20.3-rc.1+build.7.sha-abc");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->major, 1u);
  EXPECT_EQ(v->minor, 20u);
  EXPECT_EQ(v->patch, 3u);
  EXPECT_EQ(v->prerelease, (std::vector<std::string>{"rc", "1"}));
  EXPECT_EQ(v->build, (std::vector<std::string>{"build", "7", "sha-abc"}));
  EXPECT_EQ(v->ToString(), "1.20.3-rc.1+build.7.sha-abc");
}

TEST(SemVer, RejectsInvalid) {
  for (const char* bad : {"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-",
                          "1.2.3+", "1.2.3-01", "1.2.3-a..b", "1.2.3-a_b", "v1.2.3", "1.2.-3",
                          " 1.2.3", "1.2.3+a+b", "9007199254740992.0.0"}) {
    EXPECT_FALSE(SemVer::Parse(bad)) << bad;
  }
  EXPECT_TRUE(SemVer::Parse("1.2.3+001"));  // build identifiers may have leading zeros
  EXPECT_TRUE(SemVer::Parse("1.2.3-0a"));   // alphanumeric, not numeric
}

TEST(SemVer, PrecedenceFollowsTheSpecExample) {
  // The ordering example from semver.org §11.
  const char* ordered[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                           "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                           "1.0.0-rc.1",  "1.0.0",         "1.0.1",
                           "1.1.0",       "2.0.0"};
  for (std::size_t i = 0; i + 1 < std::size(ordered); ++i) {
    const auto a = *SemVer::Parse(ordered[i]);
    const auto b = *SemVer::Parse(ordered[i + 1]);
    EXPECT_EQ(a.Compare(b), std::strong_ordering::less) << ordered[i] << " < " << ordered[i + 1];
    EXPECT_EQ(b.Compare(a), std::strong_ordering::greater);
  }
}

TEST(SemVer, BuildMetadataIsIgnoredInPrecedence) {
  EXPECT_EQ(SemVer::Parse("1.0.0+a")->Compare(*SemVer::Parse("1.0.0+b")),
            std::strong_ordering::equal);
}

}  // namespace
}  // namespace uplift::format
