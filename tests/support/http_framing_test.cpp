// The proxy's HTTP/1.1 framing: where heads and bodies end, fed in every possible split.
#include "http_framing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace uplift::faultlab {
namespace {

struct Piece {
  bool head;
  std::string bytes;
};

// Runs a whole response stream through a framer in slices of `step` bytes; returns heads and
// body bytes in order (adjacent body bytes merged). Methods answer the responses in order.
std::vector<Piece> Split(const std::string& stream, std::size_t step,
                         std::vector<std::string> methods) {
  std::vector<Piece> out;
  ResponseFramer f;
  std::size_t method = 0;
  for (std::size_t pos = 0; pos < stream.size(); pos += step) {
    std::string_view in = std::string_view(stream).substr(pos, step);
    while (!in.empty()) {
      if (f.phase() == ResponseFramer::Phase::kHead) {
        in.remove_prefix(f.FeedHead(in));
        if (!f.head_complete()) continue;
        const std::string head = f.TakeHead();
        const auto parsed = ParseResponseHead(head);
        EXPECT_TRUE(parsed.has_value()) << head;
        if (!parsed) return out;
        const bool interim = parsed->status < 200;
        const std::string m = interim || method >= methods.size() ? "" : methods[method++];
        f.StartBody(FramingOf(*parsed, m), parsed->content_length.value_or(0));
        out.push_back({true, head});
        continue;
      }
      const std::size_t n = f.FeedBody(in, 3);  // a small cap: segments end anywhere
      EXPECT_GT(n, 0u);
      if (n == 0) return out;
      if (out.empty() || out.back().head) out.push_back({false, ""});
      out.back().bytes += std::string(in.substr(0, n));
      in.remove_prefix(n);
    }
  }
  return out;
}

TEST(HttpFraming, ContentLengthKeepAliveAndHead) {
  const std::string a = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\n";
  const std::string b = "HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n";  // answers HEAD
  const std::string c = "HTTP/1.1 206 Partial Content\r\nContent-Length: 3\r\n\r\n";
  const std::string stream = a + "hello" + b + c + "abc";
  for (std::size_t step = 1; step <= stream.size(); ++step) {
    const auto p = Split(stream, step, {"GET", "HEAD", "GET"});
    ASSERT_EQ(p.size(), 5u) << step;
    EXPECT_EQ(p[0].bytes, a);
    EXPECT_EQ(p[1].bytes, "hello");
    EXPECT_EQ(p[2].bytes, b);
    EXPECT_EQ(p[3].bytes, c);
    EXPECT_EQ(p[4].bytes, "abc");
  }
}

TEST(HttpFraming, ChunkedBodiesEndAfterTheTrailer) {
  const std::string h1 = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string body1 = "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
  const std::string h2 = "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n";
  const std::string h3 = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string body3 = "0\r\n\r\n";
  const std::string stream = h1 + body1 + h2 + h3 + body3;
  for (std::size_t step = 1; step <= stream.size(); ++step) {
    const auto p = Split(stream, step, {"GET", "GET", "GET"});
    ASSERT_EQ(p.size(), 5u) << step;
    EXPECT_EQ(p[1].bytes, body1);
    EXPECT_EQ(p[2].bytes, h2);
    EXPECT_EQ(p[4].bytes, body3);
  }
}

TEST(HttpFraming, InterimResponsesAndBodiesUntilClose) {
  const std::string stream =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall the rest";
  const auto p = Split(stream, 4, {"GET"});
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[2].bytes, "all the rest");
}

TEST(HttpFraming, MalformedChunkingDegradesToUntilClose) {
  const std::string stream =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nHTTP/1.1 200 OK\r\n\r\n";
  const auto p = Split(stream, 5, {"GET"});
  ASSERT_EQ(p.size(), 2u);  // everything after the head is body: no second head invented
  EXPECT_EQ(p[1].bytes, "zz\r\nHTTP/1.1 200 OK\r\n\r\n");
}

TEST(HttpFraming, ReplaceFieldValueKeepsEverythingElse) {
  const std::string head = "HTTP/1.1 200 OK\r\nX-ETag-Like: 1\r\netag:  \"abc\" \r\nA: b\r\n\r\n";
  EXPECT_EQ(ReplaceFieldValue(head, "ETag", "\"new\""),
            "HTTP/1.1 200 OK\r\nX-ETag-Like: 1\r\netag:  \"new\" \r\nA: b\r\n\r\n");
  EXPECT_EQ(ReplaceFieldValue(head, "Missing", "x"), std::nullopt);
  EXPECT_EQ(FieldValue(head, "ETAG"), "\"abc\"");
}

TEST(HttpFraming, RequestTrackerFollowsMethodsAcrossBodies) {
  RequestTracker t;
  const std::string stream =
      "PUT /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nGET HEAD /b HTTP/1.1\r\n\r\nGET /c "
      "HTTP/1.1\r\n\r\n";
  for (const char c : stream) t.Consume(std::string_view(&c, 1));
  EXPECT_EQ(t.PopMethod(), "PUT");
  EXPECT_EQ(t.PopMethod(), "HEAD");  // "GET " was PUT's body
  EXPECT_EQ(t.PopMethod(), "GET");
  EXPECT_EQ(t.PopMethod(), "");
}

TEST(HttpFraming, StatusLineIsChecked) {
  EXPECT_FALSE(ParseResponseHead("HTTP/2 200\r\n\r\n").has_value());
  EXPECT_FALSE(ParseResponseHead("HTTP/1.1 2x0 OK\r\n\r\n").has_value());
  const auto r = ParseResponseHead("HTTP/1.0 404 Not Found\r\nContent-Length: 12\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->content_length, 12u);
  EXPECT_EQ(ParseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")->content_length,
            std::nullopt);
}

}  // namespace
}  // namespace uplift::faultlab
