// The Beast-free HTTP parts: Range and conditional requests, dates, targets, percent-decoding,
// routes, the JSON error body, ServeFile's headers and response serialisation.
#include <gtest/gtest.h>

#include <limits>

#include "http_internal.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/server/http.hpp"
#include "uplift/server/http_range.hpp"
#include "uplift/server/http_route.hpp"

namespace uplift::server {
namespace {

constexpr std::uint64_t kSize = 1000;
constexpr std::string_view kEtag = "\"abc\"";
constexpr std::int64_t kMtime = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr std::string_view kMtimeText = "Sun, 06 Nov 1994 08:49:37 GMT";

void ExpectRange(std::string_view value, RangeKind kind, std::uint64_t first = 0,
                 std::uint64_t last = 0, std::uint64_t size = kSize) {
  SCOPED_TRACE(std::string(value));
  const RangeRequest r = ParseRange(value, size);
  EXPECT_EQ(r.kind, kind);
  if (kind == RangeKind::kSatisfiable) {
    EXPECT_EQ(r.first, first);
    EXPECT_EQ(r.last, last);
  }
}

TEST(HttpRange, SatisfiableForms) {
  ExpectRange("bytes=0-99", RangeKind::kSatisfiable, 0, 99);
  ExpectRange("bytes=100-", RangeKind::kSatisfiable, 100, 999);      // open
  ExpectRange("bytes=-300", RangeKind::kSatisfiable, 700, 999);      // suffix
  ExpectRange("bytes=-5000", RangeKind::kSatisfiable, 0, 999);       // suffix beyond the file
  ExpectRange("bytes=990-5000", RangeKind::kSatisfiable, 990, 999);  // clamped
  ExpectRange("BYTES=5-5", RangeKind::kSatisfiable, 5, 5);           // unit case-insensitive
  ExpectRange(" bytes=1-2 ", RangeKind::kSatisfiable, 1, 2);
  ExpectRange("bytes=, 1-2 ,", RangeKind::kSatisfiable, 1, 2);  // empty list elements
  ExpectRange("bytes=0-99999999999999999999999", RangeKind::kSatisfiable, 0, 999);  // saturates
}

TEST(HttpRange, InvalidIsIgnored) {
  for (const std::string_view v :
       {"", "bytes", "bytes=", "items=0-1", "bytes=a-b", "bytes=5-1", "bytes=1 -2", "bytes=-",
        "bytes=0x10-", "bytes=+1-2", "bytes=1-2-3", "bytes=--1", "bytes=1-2;x"}) {
    ExpectRange(v, RangeKind::kIgnore);
  }
}

TEST(HttpRange, MultipleRangesAreIgnored) {
  ExpectRange("bytes=0-1,5-9", RangeKind::kIgnore);
  ExpectRange("bytes=0-1, 2000-3000", RangeKind::kIgnore);
}

TEST(HttpRange, Unsatisfiable) {
  ExpectRange("bytes=1000-", RangeKind::kUnsatisfiable);
  ExpectRange("bytes=5000-6000", RangeKind::kUnsatisfiable);
  ExpectRange("bytes=-0", RangeKind::kUnsatisfiable);
  ExpectRange("bytes=99999999999999999999-", RangeKind::kUnsatisfiable);
}

TEST(HttpRange, EmptyFileIgnoresRanges) {
  ExpectRange("bytes=0-10", RangeKind::kIgnore, 0, 0, 0);
  ExpectRange("bytes=-10", RangeKind::kIgnore, 0, 0, 0);
}

TEST(HttpDate, ParsesAndFormatsImfFixdate) {
  EXPECT_EQ(ParseHttpDate(kMtimeText), kMtime);
  EXPECT_EQ(FormatHttpDate(kMtime), kMtimeText);
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(ParseHttpDate("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
  for (const std::int64_t t :
       {std::int64_t{0}, std::int64_t{1700000000}, std::int64_t{4102444799}}) {
    EXPECT_EQ(ParseHttpDate(FormatHttpDate(t)), t);
  }
}

TEST(HttpDate, RejectsOtherForms) {
  for (const std::string_view v :
       {"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
        "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1969 08:49:37 GMT", ""}) {
    EXPECT_FALSE(ParseHttpDate(v)) << v;
  }
}

TEST(HttpConditional, IfNoneMatchLists) {
  EXPECT_TRUE(IfNoneMatchMatches("\"abc\"", kEtag));
  EXPECT_TRUE(IfNoneMatchMatches("W/\"abc\"", kEtag));  // weak comparison
  EXPECT_TRUE(IfNoneMatchMatches("\"x\", W/\"y\",\"abc\"", kEtag));
  EXPECT_TRUE(IfNoneMatchMatches("*", kEtag));
  EXPECT_FALSE(IfNoneMatchMatches("\"abcd\"", kEtag));
  EXPECT_FALSE(IfNoneMatchMatches("abc", kEtag));
  EXPECT_FALSE(IfNoneMatchMatches("\"x\" junk, \"abc\"", kEtag));  // malformed list
  EXPECT_FALSE(IfNoneMatchMatches("\"abc", kEtag));
}

FileDecision Decide(FileConditions c) { return EvaluateFileRequest(c, kSize, kEtag, kMtime); }

TEST(HttpConditional, DecisionTable) {
  FileConditions c;
  EXPECT_EQ(Decide(c).status, 200);
  EXPECT_EQ(Decide(c).length, kSize);

  c.range = "bytes=10-19";
  FileDecision d = Decide(c);
  EXPECT_EQ(d.status, 206);
  EXPECT_EQ(d.offset, 10u);
  EXPECT_EQ(d.length, 10u);

  c.if_range = kEtag;  // matching strong ETag: the range is served
  EXPECT_EQ(Decide(c).status, 206);
  c.if_range = "\"other\"";  // the file changed: the whole of it
  d = Decide(c);
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.length, kSize);
  c.if_range = "W/\"abc\"";  // weak tags never match If-Range
  EXPECT_EQ(Decide(c).status, 200);
  c.if_range = kMtimeText;  // date equal to Last-Modified
  EXPECT_EQ(Decide(c).status, 206);
  c.if_range = "Sun, 06 Nov 1994 08:49:38 GMT";
  EXPECT_EQ(Decide(c).status, 200);
  c.if_range.reset();

  c.range = "bytes=2000-";
  d = Decide(c);
  EXPECT_EQ(d.status, 416);
  c.range = "bytes=0-1,4-5";
  EXPECT_EQ(Decide(c).status, 200);
  c.range = "bytes=junk";
  EXPECT_EQ(Decide(c).status, 200);

  c.head = true;  // Range is defined for GET only
  c.range = "bytes=10-19";
  EXPECT_EQ(Decide(c).status, 200);
}

TEST(HttpConditional, NotModified) {
  FileConditions c;
  c.if_none_match = kEtag;
  c.range = "bytes=0-1";
  EXPECT_EQ(Decide(c).status, 304);
  c.if_none_match = "\"old\"";
  c.if_modified_since = kMtimeText;  // ignored when If-None-Match is present
  EXPECT_EQ(Decide(c).status, 206);
  c.if_none_match.reset();
  EXPECT_EQ(Decide(c).status, 304);
  c.if_modified_since = "Sun, 06 Nov 1994 08:49:36 GMT";  // modified a second later
  EXPECT_EQ(Decide(c).status, 206);
  c.if_modified_since = "garbage";
  EXPECT_EQ(Decide(c).status, 206);
}

TEST(HttpTarget, SplitsOriginAndAbsoluteForm) {
  auto t = SplitTarget("/a/b?x=1&y");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/a/b");
  EXPECT_EQ(t->query, "x=1&y");
  t = SplitTarget("/a?");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->query, "");
  t = SplitTarget("HTTP://host:8080/p?q");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/p");
  EXPECT_EQ(t->query, "q");
  t = SplitTarget("https://host");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/");
  EXPECT_FALSE(SplitTarget("*"));
  EXPECT_FALSE(SplitTarget(""));
  EXPECT_FALSE(SplitTarget("host:443"));
  EXPECT_FALSE(SplitTarget("http:///p"));
}

TEST(HttpTarget, PercentDecoding) {
  EXPECT_EQ(PercentDecode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("%00", false), std::string(1, '\0'));
  EXPECT_FALSE(PercentDecode("%", false));
  EXPECT_FALSE(PercentDecode("%4", false));
  EXPECT_FALSE(PercentDecode("%zz", false));
}

TEST(HttpTarget, QueryParams) {
  HttpRequest r;
  r.query = "tenant=acme%2Dx&empty=&flag&a+b=c+d&dup=1&dup=2&bad=%zz";
  EXPECT_EQ(r.QueryParam("tenant"), "acme-x");
  EXPECT_EQ(r.QueryParam("empty"), "");
  EXPECT_EQ(r.QueryParam("flag"), "");
  EXPECT_EQ(r.QueryParam("a b"), "c d");
  EXPECT_EQ(r.QueryParam("dup"), "1");
  EXPECT_FALSE(r.QueryParam("bad"));
  EXPECT_FALSE(r.QueryParam("missing"));
}

TEST(HttpRoute, PatternsMatchWholeSegments) {
  const auto p = RoutePattern::Parse("/api/v1/releases/{id}/artifacts/{sha}");
  ASSERT_TRUE(p.ok());
  RouteParams params;
  EXPECT_TRUE(p->Match("/api/v1/releases/r1/artifacts/abc", &params));
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0], std::make_pair(std::string("id"), std::string("r1")));
  EXPECT_EQ(params[1].second, "abc");
  EXPECT_FALSE(p->Match("/api/v1/releases//artifacts/abc", nullptr));  // empty parameter
  EXPECT_FALSE(p->Match("/api/v1/releases/r1/artifacts/abc/", nullptr));
  EXPECT_FALSE(p->Match("/api/v1/releases/r1/artifacts", nullptr));
  EXPECT_FALSE(p->Match("api/v1/releases/r1/artifacts/abc", nullptr));

  const auto root = RoutePattern::Parse("/");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->Match("/", nullptr));
  EXPECT_FALSE(root->Match("//", nullptr));
  EXPECT_FALSE(root->Match("/x", nullptr));
}

TEST(HttpRoute, InvalidPatterns) {
  for (const std::string_view p :
       {"", "x", "/a/{}", "/a/{id", "/a/x{id}", "/a/{i-d}", "/{a}/{a}", "/a}"}) {
    const auto r = RoutePattern::Parse(p);
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_TRUE(r.error().Is(base::Errc::kInvalidArgument));
  }
}

TEST(HttpRoute, RouterMethodsAndHead) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/files/{name}").ok());
  ASSERT_TRUE(router.Add("DELETE", "/files/{name}").ok());
  ASSERT_TRUE(router.Add("POST", "/upload").ok());
  EXPECT_FALSE(router.Add("POST", "/upload").ok());
  EXPECT_FALSE(router.Add("", "/x").ok());

  RouteParams params;
  auto m = router.Find("GET", "/files/a.bin", &params);
  EXPECT_EQ(m.outcome, Router::Outcome::kFound);
  EXPECT_EQ(m.index, 0u);
  EXPECT_EQ(params.at(0).second, "a.bin");
  m = router.Find("HEAD", "/files/a.bin", &params);
  EXPECT_EQ(m.outcome, Router::Outcome::kFound);
  EXPECT_EQ(m.index, 0u);
  m = router.Find("DELETE", "/files/a.bin", &params);
  EXPECT_EQ(m.index, 1u);
  EXPECT_EQ(router.Find("PUT", "/files/a.bin", &params).outcome,
            Router::Outcome::kMethodNotAllowed);
  EXPECT_EQ(router.Find("GET", "/nope", &params).outcome, Router::Outcome::kNotFound);
  EXPECT_EQ(router.AllowedMethods("/files/x"), "DELETE, GET, HEAD");
}

TEST(HttpResponses, ErrorResponseIsValidJson) {
  const HttpResponse r = ErrorResponse(404, "not_found", "no \"x\"\\\n\x01 \xff\xc3\xa9");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body,
            "{\"error\": {\"code\": \"not_found\", \"message\": "
            "\"no \\\"x\\\"\\\\\\u000a\\u0001 \xEF\xBF\xBD\xc3\xa9\"}}");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].value, "application/json");
  EXPECT_EQ(JsonResponse(201, "{}").status, 201);
}

HttpRequest FileRequest(std::string method, std::vector<HttpHeader> headers) {
  HttpRequest r;
  r.method = std::move(method);
  r.headers = std::move(headers);
  return r;
}

std::string HeaderOf(const HttpResponse& r, std::string_view name) {
  for (const HttpHeader& h : r.headers) {
    if (h.name == name) return h.value;
  }
  return "<absent>";
}

TEST(HttpResponses, ServeFileStatuses) {
  HttpResponse r = ServeFile(FileRequest("GET", {}), "/f", kSize, kEtag, kMtime);
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.file);
  EXPECT_EQ(r.file->length, kSize);
  EXPECT_EQ(HeaderOf(r, "ETag"), kEtag);
  EXPECT_EQ(HeaderOf(r, "Last-Modified"), kMtimeText);
  EXPECT_EQ(HeaderOf(r, "Accept-Ranges"), "bytes");
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "private, max-age=0");
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/octet-stream");

  r = ServeFile(FileRequest("GET", {{"range", "bytes=-10"}}), "/f", kSize, kEtag, kMtime);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(HeaderOf(r, "Content-Range"), "bytes 990-999/1000");
  EXPECT_EQ(r.file->offset, 990u);
  EXPECT_EQ(r.file->length, 10u);

  r = ServeFile(FileRequest("GET", {{"range", "bytes=0-1"}, {"if-range", "\"new\""}}), "/f", kSize,
                kEtag, kMtime);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file->length, kSize);

  r = ServeFile(FileRequest("GET", {{"if-none-match", "\"abc\""}}), "/f", kSize, kEtag, kMtime);
  EXPECT_EQ(r.status, 304);
  EXPECT_FALSE(r.file);
  EXPECT_EQ(HeaderOf(r, "ETag"), kEtag);

  r = ServeFile(FileRequest("GET", {{"range", "bytes=1000-"}}), "/f", kSize, kEtag, kMtime);
  EXPECT_EQ(r.status, 416);
  EXPECT_FALSE(r.file);
  EXPECT_EQ(HeaderOf(r, "Content-Range"), "bytes */1000");
  EXPECT_NE(r.body.find("range_not_satisfiable"), std::string::npos);

  r = ServeFile(FileRequest("HEAD", {{"range", "bytes=0-1"}}), "/f", kSize, kEtag, kMtime);
  EXPECT_EQ(r.status, 200);
}

TEST(HttpSerialisation, HeadBlock) {
  std::string out;
  detail::AppendResponseHead(out, 200,
                             {{"Content-Type", "text/plain"},
                              {"X-Split", "a\r\nInjected: 1"},
                              {"Bad Name", "x"},
                              {"content-length", "5"},
                              {"Server", "other"},
                              {"X-Ok", "fine"}},
                             12, detail::ConnectionHeader::kClose, "DATE");
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nServer: uplift\r\nDate: DATE\r\nContent-Type: text/plain\r\n"
            "X-Ok: fine\r\nContent-Length: 12\r\nConnection: close\r\n\r\n");
  out.clear();
  detail::AppendResponseHead(out, 304, {}, std::nullopt, detail::ConnectionHeader::kKeepAlive, "D");
  EXPECT_EQ(out,
            "HTTP/1.1 304 Not Modified\r\nServer: uplift\r\nDate: D\r\n"
            "Connection: keep-alive\r\n\r\n");
  EXPECT_TRUE(detail::HandlerRequestsClose({{"CONNECTION", "Close"}}));
  EXPECT_FALSE(detail::HandlerRequestsClose({{"Connection", "keep-alive"}}));
  EXPECT_FALSE(detail::StatusHasBody(304));
  EXPECT_FALSE(detail::StatusHasBody(204));
  EXPECT_TRUE(detail::StatusHasBody(416));
  EXPECT_FALSE(detail::IsValidFinalStatus(101));
  EXPECT_FALSE(detail::IsValidFinalStatus(600));
}

}  // namespace
}  // namespace uplift::server
