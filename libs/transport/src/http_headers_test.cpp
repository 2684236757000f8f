#include "uplift/transport/http_headers.hpp"

#include <gtest/gtest.h>

namespace uplift::transport {
namespace {

TEST(HttpHeaders, StatusLines) {
  EXPECT_EQ(ParseStatusLine("HTTP/1.1 206 Partial Content\r\n"), 206);
  EXPECT_EQ(ParseStatusLine("HTTP/2 200\r\n"), 200);
  EXPECT_EQ(ParseStatusLine("HTTP/1.1 429 Too Many Requests\r\n"), 429);
  EXPECT_FALSE(ParseStatusLine("Content-Length: 5\r\n"));
  EXPECT_FALSE(ParseStatusLine("HTTP/1.1 2000 OK\r\n"));
  EXPECT_FALSE(ParseStatusLine("HTTP/1.1 099 x\r\n"));
  EXPECT_FALSE(ParseStatusLine("HTTP/1.1 20"));
}

TEST(HttpHeaders, HeaderLinesAreLowerCasedAndTrimmed) {
  const auto h = ParseHeaderLine("ETag:   \"abc-12\" \r\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->name, "etag");
  EXPECT_EQ(h->value, "\"abc-12\"");
  EXPECT_FALSE(ParseHeaderLine("\r\n"));
  EXPECT_FALSE(ParseHeaderLine(": no name\r\n"));
  EXPECT_FALSE(ParseHeaderLine("Bad Name: x\r\n"));
}

TEST(HttpHeaders, ContentRange) {
  const auto r = ParseContentRange("bytes 100-199/1000");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 100u);
  EXPECT_EQ(r->last, 199u);
  EXPECT_EQ(r->total, 1000u);
  const auto star = ParseContentRange("bytes 0-9/*");
  ASSERT_TRUE(star);
  EXPECT_FALSE(star->total);
  EXPECT_FALSE(ParseContentRange("bytes 200-100/1000"));  // first > last
  EXPECT_FALSE(ParseContentRange("bytes 0-1000/1000"));   // last beyond the total
  EXPECT_FALSE(ParseContentRange("bytes */1000"));        // the 416 form is not a range
  EXPECT_FALSE(ParseContentRange("items 0-1/2"));
  EXPECT_FALSE(ParseContentRange("bytes -1-5/10"));
  EXPECT_FALSE(ParseContentRange("bytes 0-99999999999999999999/1"));  // overflow
}

TEST(HttpHeaders, ContentLength) {
  EXPECT_EQ(ParseContentLength(" 1234 "), 1234u);
  EXPECT_FALSE(ParseContentLength("-1"));
  EXPECT_FALSE(ParseContentLength("12 34"));
  EXPECT_FALSE(ParseContentLength("18446744073709551615"));  // above 2^63 - 1
  EXPECT_FALSE(ParseContentLength(""));
}

TEST(HttpHeaders, RetryAfterSecondsAndDates) {
  EXPECT_EQ(ParseRetryAfter("120", 0), 120);
  // Sun, 06 Nov 1994 08:49:37 GMT = 784111777
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), 30);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30), 0);
  EXPECT_FALSE(ParseRetryAfter("soon", 0));
  EXPECT_FALSE(ParseRetryAfter("Sun, 06 Xyz 1994 08:49:37 GMT", 0));
  EXPECT_FALSE(ParseRetryAfter("-5", 0));
}

TEST(HttpHeaders, OnlyStrongEtagsAreValidators) {
  EXPECT_TRUE(IsStrongEtag("\"5f1e-10000000\""));
  EXPECT_FALSE(IsStrongEtag("W/\"5f1e\""));
  EXPECT_FALSE(IsStrongEtag("5f1e"));
  EXPECT_FALSE(IsStrongEtag("\"a\"b\""));
  EXPECT_FALSE(IsStrongEtag("\""));
  EXPECT_FALSE(IsStrongEtag("\"" + std::string(300, 'a') + "\""));  // longer than a journal keeps
  EXPECT_FALSE(IsStrongEtag("\"caf\xc3\xa9\""));                    // not ASCII
  EXPECT_TRUE(IsStrongEtag("\"" + std::string(254, 'a') + "\""));
}

}  // namespace
}  // namespace uplift::transport
