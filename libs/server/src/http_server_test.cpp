// The HTTP server over real sockets on 127.0.0.1: libcurl as the client for what a device or
// operator does, raw sockets for what a hostile or unusual client does (slowloris, oversized
// headers, thousands of idle keep-alive connections).
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "nginx.hpp"
#include "uplift/base/io.hpp"
#include "uplift/server/http.hpp"

namespace uplift::server {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- a test directory, deterministic file contents ---------------------------------------------

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "uplift-http-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Byte i of a test file: cheap to recompute at any offset, so 64 MiB are checked without a copy.
char PatternByte(std::uint64_t i) {
  std::uint64_t x = (i / 8 + 1) * 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  return static_cast<char>(x >> (8 * (i % 8)));
}

std::string Pattern(std::uint64_t offset, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = PatternByte(offset + i);
  return s;
}

void WritePatternFile(const std::string& path, std::uint64_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  constexpr std::size_t kChunk = 1 << 20;
  for (std::uint64_t off = 0; off < size; off += kChunk) {
    const std::string chunk =
        Pattern(off, static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, size - off)));
    f.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  }
  ASSERT_TRUE(f.good());
}

std::string ThreadName() {
  std::ostringstream s;
  s << std::this_thread::get_id();
  return s.str();
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds limit = 10s) {
  const auto end = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);  // polling a condition, not timing a behaviour
  }
  return true;
}

// ---- the server under test ---------------------------------------------------------------------

// A gate a blocking handler waits at until the test opens it.
struct Gate {
  std::promise<void> entered;
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
  std::string thread;
};

struct Observed {
  std::mutex mu;
  std::vector<int> statuses;
  std::uint64_t last_bytes = 0;
  std::atomic<int> echo_calls{0};
  std::string upload_path;
  std::uint64_t upload_size = 0;
  bool upload_matches = false;
  mode_t upload_mode = 0;
};

class HttpServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }

  HttpServerOptions Options() {
    HttpServerOptions o;
    o.io_threads = 2;
    o.blocking_threads = 4;
    o.temp_dir = dir_.path();
    o.on_response = [this](const HttpRequest&, int status, std::uint64_t bytes,
                           std::chrono::nanoseconds) {
      const std::lock_guard lock(observed_.mu);
      observed_.statuses.push_back(status);
      observed_.last_bytes = bytes;
    };
    return o;
  }

  std::vector<Route> Routes() {
    std::vector<Route> r;
    r.push_back(
        {"GET", "/hello", [](HttpRequest&) { return JsonResponse(200, R"({"hello": "world"})"); }});
    r.push_back({"POST", "/echo",
                 [this](HttpRequest& req) {
                   ++observed_.echo_calls;
                   HttpResponse resp;
                   resp.body = req.body;
                   return resp;
                 },
                 RouteOptions{.max_body_bytes = 1024}});
    r.push_back({"POST", "/upload",
                 [this](HttpRequest& req) {
                   const std::lock_guard lock(observed_.mu);
                   observed_.upload_path = req.body_file;
                   observed_.upload_size = req.body_size;
                   struct stat st {};
                   if (::stat(req.body_file.c_str(), &st) == 0)
                     observed_.upload_mode = st.st_mode & 0777;
                   std::ifstream f(req.body_file, std::ios::binary);
                   const std::string data((std::istreambuf_iterator<char>(f)), {});
                   observed_.upload_matches =
                       data == Pattern(0, data.size()) && data.size() == req.body_size;
                   return JsonResponse(200, std::to_string(data.size()));
                 },
                 RouteOptions{.stream_body = true, .max_body_bytes = 64 << 20}});
    r.push_back({"GET", "/thread", [](HttpRequest&) {
                   HttpResponse resp;
                   resp.body = ThreadName();
                   return resp;
                 }});
    r.push_back({"GET", "/block",
                 [this](HttpRequest&) {
                   gate_.thread = ThreadName();
                   gate_.entered.set_value();
                   gate_.opened.wait();
                   HttpResponse resp;
                   resp.body = "unblocked";
                   return resp;
                 },
                 RouteOptions{.blocking = true}});
    r.push_back({"GET", "/files/{name}", [this](HttpRequest& req) {
                   const std::string path = dir_.path() + "/" + std::string(req.Param("name"));
                   struct stat st {};
                   if (::stat(path.c_str(), &st) != 0) {
                     // Pretend the catalog still lists it: the server must notice it is gone.
                     return ServeFile(req, path, 10, "\"gone\"", 0);
                   }
                   return ServeFile(req, path, static_cast<std::uint64_t>(st.st_size),
                                    "\"etag-" + std::string(req.Param("name")) + "\"", st.st_mtime);
                 }});
    return r;
  }

  void StartServer(HttpServerOptions options) {
    auto started = HttpServer::Start(std::move(options), Routes());
    ASSERT_TRUE(started.ok()) << started.error().message();
    server_ = std::move(started).value();
  }
  void StartServer() { StartServer(Options()); }

  std::string Url(const std::string& path, bool tls = false) const {
    return std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(server_->port()) +
           path;
  }

  std::vector<int> Statuses() {
    const std::lock_guard lock(observed_.mu);
    return observed_.statuses;
  }

  TempDir dir_;
  Observed observed_;
  Gate gate_;
  std::unique_ptr<HttpServer> server_;
};

// ---- libcurl client -----------------------------------------------------------------------------

struct Reply {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  long connects = 0;

  std::string Header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "<absent>";
  }
};

class Curl {
 public:
  Curl() : easy_(curl_easy_init()) {}
  ~Curl() { curl_easy_cleanup(easy_); }
  Curl(const Curl&) = delete;
  Curl& operator=(const Curl&) = delete;

  // `setup` adds options for this request; the handle (and its connection) is reused.
  Reply Perform(const std::string& url, const std::function<void(CURL*)>& setup = {},
                std::vector<std::string> headers = {}) {
    Reply reply;
    curl_easy_reset(easy_);
    curl_easy_setopt(easy_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &Curl::OnBody);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &Curl::OnHeader);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, &reply);
    curl_slist* list = nullptr;
    for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, list);
    if (setup) setup(easy_);
    reply.code = curl_easy_perform(easy_);
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_easy_getinfo(easy_, CURLINFO_NUM_CONNECTS, &reply.connects);
    curl_slist_free_all(list);
    return reply;
  }

 private:
  static std::size_t OnBody(char* data, std::size_t, std::size_t n, void* user) {
    static_cast<Reply*>(user)->body.append(data, n);
    return n;
  }
  static std::size_t OnHeader(char* data, std::size_t, std::size_t n, void* user) {
    const std::string_view line(data, n);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n'))
        value.remove_suffix(1);
      static_cast<Reply*>(user)->headers.emplace_back(std::move(name), std::string(value));
    }
    return n;
  }
  CURL* easy_;
};

// ---- raw sockets --------------------------------------------------------------------------------

Fd Connect(std::uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return Fd();
  return fd;
}

bool Send(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Everything until the peer closes (or `limit` passes: then `closed` is false).
std::string ReadUntilClosed(int fd, bool* closed, std::chrono::milliseconds limit = 10s) {
  std::string out;
  *closed = false;
  const auto end = Clock::now() + limit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      *closed = true;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// One response (header + Content-Length body) from `pending` and the socket; "" on close/timeout.
std::string ReadResponse(int fd, std::string& pending, std::chrono::milliseconds limit = 10s) {
  const auto end = Clock::now() + limit;
  for (;;) {
    const std::size_t head_end = pending.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      std::size_t length = 0;
      const std::size_t cl = pending.find("Content-Length: ");
      if (cl != std::string::npos && cl < head_end) length = std::stoul(pending.substr(cl + 16));
      const std::size_t total = head_end + 4 + length;
      if (pending.size() >= total) {
        std::string response = pending.substr(0, total);
        pending.erase(0, total);
        return response;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) return "";
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return "";
    pending.append(buf, static_cast<std::size_t>(n));
  }
}

constexpr std::string_view kHelloRequest = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";

// ---- tests --------------------------------------------------------------------------------------

TEST_F(HttpServerTest, KeepAliveReusesOneConnection) {
  StartServer();
  Curl curl;
  for (int i = 0; i < 3; ++i) {
    const Reply r = curl.Perform(Url("/hello"));
    ASSERT_EQ(r.code, CURLE_OK);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"hello": "world"})");
    EXPECT_EQ(r.connects, i == 0 ? 1 : 0) << "request " << i;
    EXPECT_EQ(r.Header("content-type"), "application/json");
    EXPECT_EQ(r.Header("server"), "uplift");
    EXPECT_EQ(r.Header("date").size(), 29u);
    EXPECT_EQ(r.Header("connection"), "<absent>");
  }
  ASSERT_TRUE(WaitFor([&] { return Statuses().size() == 3; }));
  EXPECT_EQ(Statuses(), (std::vector<int>{200, 200, 200}));
  EXPECT_GT(observed_.last_bytes, 18u);
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(HttpServerTest, UnknownRouteAnswers404JsonAndKeepsTheConnection) {
  StartServer();
  Curl curl;
  Reply r = curl.Perform(Url("/nope?x=1"));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find(R"("code": "not_found")"), std::string::npos) << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/json");
  r = curl.Perform(Url("/hello"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.connects, 0);
}

TEST_F(HttpServerTest, WrongMethodAnswers405WithAllow) {
  StartServer();
  Curl curl;
  const Reply r = curl.Perform(
      Url("/hello"), [](CURL* c) { curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE"); });
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.body.find(R"("code": "method_not_allowed")"), std::string::npos) << r.body;
  EXPECT_EQ(r.Header("allow"), "GET, HEAD");
}

TEST_F(HttpServerTest, SmallBodiesReachTheHandler) {
  StartServer();
  Curl curl;
  const Reply r = curl.Perform(
      Url("/echo"), [](CURL* c) { curl_easy_setopt(c, CURLOPT_POSTFIELDS, "ping body"); });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ping body");
}

TEST_F(HttpServerTest, OversizedBodyIsRefusedBeforeItIsSent) {
  StartServer();
  // Only the header is sent: a 413 proves the server did not wait for the 10 MB it announced.
  Fd fd = Connect(server_->port());
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(Send(fd.get(), "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n"));
  bool closed = false;
  const std::string response = ReadUntilClosed(fd.get(), &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(response.rfind("HTTP/1.1 413 ", 0), 0u) << response;
  EXPECT_NE(response.find("body_too_large"), std::string::npos);
  EXPECT_NE(response.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(observed_.echo_calls.load(), 0);
}

TEST_F(HttpServerTest, OversizedChunkedBodyIsRefused) {
  StartServer();
  Fd fd = Connect(server_->port());
  ASSERT_TRUE(Send(fd.get(),
                   "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "400\r\n" +
                       std::string(1024, 'a') + "\r\n10\r\n" + std::string(16, 'b') +
                       "\r\n0\r\n\r\n"));
  bool closed = false;
  const std::string response = ReadUntilClosed(fd.get(), &closed);
  EXPECT_EQ(response.rfind("HTTP/1.1 413 ", 0), 0u) << response;
  EXPECT_EQ(observed_.echo_calls.load(), 0);

  Fd ok = Connect(server_->port());  // exactly at the limit: accepted
  ASSERT_TRUE(Send(ok.get(),
                   "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "400\r\n" +
                       std::string(1024, 'a') + "\r\n0\r\n\r\n"));
  std::string pending;
  const std::string accepted = ReadResponse(ok.get(), pending);
  EXPECT_EQ(accepted.rfind("HTTP/1.1 200 ", 0), 0u) << accepted;
  EXPECT_EQ(accepted.substr(accepted.size() - 1024), std::string(1024, 'a'));
}

TEST_F(HttpServerTest, OversizedHeaderAnswers431) {
  HttpServerOptions o = Options();
  o.max_header_bytes = 4096;
  StartServer(std::move(o));
  Fd fd = Connect(server_->port());
  ASSERT_TRUE(Send(
      fd.get(), "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n"));
  bool closed = false;
  const std::string response = ReadUntilClosed(fd.get(), &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(response.rfind("HTTP/1.1 431 ", 0), 0u) << response;
  EXPECT_NE(response.find("header_too_large"), std::string::npos);
}

TEST_F(HttpServerTest, MalformedRequestsAnswer400AndClose) {
  StartServer();
  for (const std::string& request :
       {std::string("NOT A REQUEST\r\n\r\n"),
        std::string("GET /hello HTTP/1.1\r\nBad Header\r\n\r\n"),
        std::string("POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
        std::string("POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nxx"),
        std::string("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        std::string("GET * HTTP/1.1\r\n\r\n"), std::string("\x01\x02\x03\r\n\r\n")}) {
    SCOPED_TRACE(request);
    Fd fd = Connect(server_->port());
    ASSERT_TRUE(Send(fd.get(), request));
    bool closed = false;
    const std::string response = ReadUntilClosed(fd.get(), &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(response.rfind("HTTP/1.1 400 ", 0), 0u) << response;
    EXPECT_NE(response.find("bad_request"), std::string::npos);
  }
  EXPECT_EQ(observed_.echo_calls.load(), 0);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  Fd fd = Connect(server_->port());
  ASSERT_TRUE(Send(fd.get(), std::string(kHelloRequest) +
                                 "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" +
                                 std::string(kHelloRequest)));
  std::string pending;
  EXPECT_NE(ReadResponse(fd.get(), pending).find("world"), std::string::npos);
  const std::string echo = ReadResponse(fd.get(), pending);
  EXPECT_EQ(echo.substr(echo.size() - 3), "abc");
  EXPECT_NE(ReadResponse(fd.get(), pending).find("world"), std::string::npos);
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveIsAsked) {
  StartServer();
  Fd fd = Connect(server_->port());
  ASSERT_TRUE(Send(fd.get(), "GET /hello HTTP/1.0\r\n\r\n"));
  bool closed = false;
  const std::string response = ReadUntilClosed(fd.get(), &closed);
  EXPECT_TRUE(closed);
  EXPECT_NE(response.find("Connection: close\r\n"), std::string::npos) << response;

  Fd kept = Connect(server_->port());
  ASSERT_TRUE(Send(kept.get(), "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  std::string pending;
  EXPECT_NE(ReadResponse(kept.get(), pending).find("Connection: keep-alive\r\n"),
            std::string::npos);
  ASSERT_TRUE(Send(kept.get(), "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_NE(ReadResponse(kept.get(), pending).find("world"), std::string::npos);
}

TEST_F(HttpServerTest, HeaderTimeoutClosesASlowlorisConnection) {
  HttpServerOptions o = Options();
  o.header_timeout = 1s;
  StartServer(std::move(o));
  Fd fd = Connect(server_->port());
  const auto start = Clock::now();
  ASSERT_TRUE(Send(fd.get(), "GET /hello HTTP/1.1\r\n"));
  // Drip a header line every 100 ms: arriving bytes must not extend the header deadline.
  bool closed = false;
  while (!closed && Clock::now() - start < 10s) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char c;
      closed = ::recv(fd.get(), &c, 1, 0) <= 0;
    } else {
      Send(fd.get(), "X-Drip: 1\r\n");
    }
  }
  const auto elapsed = Clock::now() - start;
  EXPECT_TRUE(closed);
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 5s);
  EXPECT_TRUE(WaitFor([&] { return server_->open_connections() == 0; }));
}

TEST_F(HttpServerTest, IdleTimeoutClosesAKeepAliveConnection) {
  HttpServerOptions o = Options();
  o.idle_timeout = 1s;
  StartServer(std::move(o));
  Fd fd = Connect(server_->port());
  ASSERT_TRUE(Send(fd.get(), kHelloRequest));
  std::string pending;
  ASSERT_FALSE(ReadResponse(fd.get(), pending).empty());
  const auto start = Clock::now();
  bool closed = false;
  ReadUntilClosed(fd.get(), &closed, 10s);
  EXPECT_TRUE(closed);
  EXPECT_GE(Clock::now() - start, 900ms);
}

TEST_F(HttpServerTest, StreamedUploadLandsInATempFileThatIsDeletedAfterwards) {
  StartServer();
  constexpr std::size_t kSize = 5 << 20;  // over 1 MiB: curl sends Expect: 100-continue
  const std::string data = Pattern(0, kSize);
  Curl curl;
  Reply r = curl.Perform(Url("/upload"), [&](CURL* c) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, data.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(data.size()));
  });
  ASSERT_EQ(r.code, CURLE_OK);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::to_string(kSize));
  {
    const std::lock_guard lock(observed_.mu);
    EXPECT_TRUE(observed_.upload_matches);
    EXPECT_EQ(observed_.upload_size, kSize);
    EXPECT_EQ(observed_.upload_mode, 0600u);
    EXPECT_EQ(fs::path(observed_.upload_path).parent_path(), fs::path(dir_.path()));
    EXPECT_FALSE(fs::exists(observed_.upload_path));
  }

  // Chunked upload (no length known in advance): same result.
  std::size_t sent = 0;
  r = curl.Perform(Url("/upload"),
                   [&](CURL* c) {
                     curl_easy_setopt(c, CURLOPT_POST, 1L);
                     curl_easy_setopt(c, CURLOPT_READDATA, &sent);
                     curl_easy_setopt(
                         c, CURLOPT_READFUNCTION,
                         +[](char* buf, std::size_t, std::size_t n, void* user) -> std::size_t {
                           constexpr std::size_t kTotal = 3u << 20;
                           auto& pos = *static_cast<std::size_t*>(user);
                           const std::size_t k = std::min(n, kTotal - pos);
                           const std::string chunk = Pattern(pos, k);
                           std::memcpy(buf, chunk.data(), k);
                           pos += k;
                           return k;
                         });
                   },
                   {"Transfer-Encoding: chunked"});
  ASSERT_EQ(r.code, CURLE_OK);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::to_string(3 << 20));
  const std::lock_guard lock(observed_.mu);
  EXPECT_TRUE(observed_.upload_matches);
  EXPECT_FALSE(fs::exists(observed_.upload_path));
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    ADD_FAILURE() << "left behind: " << e.path();
  }
}

TEST_F(HttpServerTest, BlockingRoutesRunOffTheIoThread) {
  HttpServerOptions o = Options();
  o.io_threads = 1;
  StartServer(std::move(o));
  std::future<Reply> blocked = std::async(std::launch::async, [&] {
    Curl curl;
    return curl.Perform(Url("/block"));
  });
  ASSERT_EQ(gate_.entered.get_future().wait_for(10s), std::future_status::ready);
  // The only I/O thread still serves other requests while the blocking handler waits.
  Curl curl;
  const Reply io = curl.Perform(Url("/thread"));
  EXPECT_EQ(io.status, 200);
  EXPECT_NE(io.body, gate_.thread);
  EXPECT_NE(io.body, ThreadName());
  gate_.open.set_value();
  const Reply r = blocked.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "unblocked");
}

TEST_F(HttpServerTest, FilesWithRangesAndConditions) {
  StartServer();
  constexpr std::uint64_t kSize = 1 << 20;
  WritePatternFile(dir_.path() + "/a.bin", kSize);
  Curl curl;
  const std::string url = Url("/files/a.bin");

  Reply r = curl.Perform(url);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == Pattern(0, kSize));
  EXPECT_EQ(r.Header("content-length"), std::to_string(kSize));
  EXPECT_EQ(r.Header("etag"), "\"etag-a.bin\"");
  EXPECT_EQ(r.Header("accept-ranges"), "bytes");

  r = curl.Perform(url, {}, {"Range: bytes=100-199"});
  EXPECT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == Pattern(100, 100));
  EXPECT_EQ(r.Header("content-range"), "bytes 100-199/1048576");
  EXPECT_EQ(r.connects, 0);

  r = curl.Perform(url, {}, {"Range: bytes=-10"});
  EXPECT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == Pattern(kSize - 10, 10));

  r = curl.Perform(url, [](CURL* c) { curl_easy_setopt(c, CURLOPT_NOBODY, 1L); });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-length"), std::to_string(kSize));
  EXPECT_TRUE(r.body.empty());

  r = curl.Perform(url, {}, {"If-None-Match: \"etag-a.bin\"", "Range: bytes=0-9"});
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.Header("etag"), "\"etag-a.bin\"");

  r = curl.Perform(url, {}, {"Range: bytes=2000000-"});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.Header("content-range"), "bytes */1048576");

  r = curl.Perform(url, {}, {"Range: bytes=0-9", "If-Range: \"changed\""});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), kSize);

  r = curl.Perform(Url("/files/gone.bin"));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("not_found"), std::string::npos);
  EXPECT_EQ(r.connects, 0);  // every answer above kept the connection
}

TEST_F(HttpServerTest, LargeFileIsByteExact) {
  StartServer();
  constexpr std::uint64_t kSize = 64 << 20;
  WritePatternFile(dir_.path() + "/big.bin", kSize);
  struct Check {
    std::uint64_t offset = 0;
    std::uint64_t mismatches = 0;
  };
  auto fetch = [&](std::uint64_t first, std::vector<std::string> headers) {
    auto check = std::make_shared<Check>();
    check->offset = first;
    Curl curl;
    const Reply r = curl.Perform(
        Url("/files/big.bin"),
        [&](CURL* c) {
          curl_easy_setopt(c, CURLOPT_WRITEDATA, check.get());
          curl_easy_setopt(
              c, CURLOPT_WRITEFUNCTION,
              +[](char* data, std::size_t, std::size_t n, void* user) -> std::size_t {
                auto& k = *static_cast<Check*>(user);
                for (std::size_t i = 0; i < n; ++i) {
                  if (data[i] != PatternByte(k.offset + i)) ++k.mismatches;
                }
                k.offset += n;
                return n;
              });
        },
        std::move(headers));
    EXPECT_EQ(r.code, CURLE_OK);
    return std::make_pair(r, *check);
  };
  auto [whole, whole_check] = fetch(0, {});
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole_check.offset, kSize);
  EXPECT_EQ(whole_check.mismatches, 0u);
  EXPECT_GE(observed_.last_bytes, kSize);

  const std::uint64_t first = (33 << 20) + 7;
  auto [part, part_check] =
      fetch(first, {"Range: bytes=" + std::to_string(first) + "-" + std::to_string(kSize - 4)});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part_check.offset, kSize - 3);
  EXPECT_EQ(part_check.mismatches, 0u);
}

TEST_F(HttpServerTest, TlsServesJsonAndFiles) {
  std::string cert, key, pin;
  const Status made = faultlab::MakeSelfSignedCert(dir_.path(), &cert, &key, &pin);
  ASSERT_TRUE(made.ok()) << made.error().message();
  HttpServerOptions o = Options();
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  StartServer(std::move(o));
  constexpr std::uint64_t kSize = (4 << 20) + 123;
  WritePatternFile(dir_.path() + "/t.bin", kSize);

  Curl curl;
  const auto tls = [&](CURL* c) { curl_easy_setopt(c, CURLOPT_CAINFO, cert.c_str()); };
  Reply r = curl.Perform(Url("/hello", true), tls);
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"hello": "world"})");
  r = curl.Perform(Url("/files/t.bin", true), tls);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == Pattern(0, kSize));
  EXPECT_EQ(r.connects, 0);
  r = curl.Perform(Url("/files/t.bin", true), tls, {"Range: bytes=300000-999999"});
  EXPECT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == Pattern(300000, 700000));

  // Plain HTTP to the TLS port is not served.
  Curl plain;
  r = plain.Perform(Url("/hello"));
  EXPECT_NE(r.code, CURLE_OK);
}

TEST_F(HttpServerTest, StopAnswersRequestsInFlightAndRefusesNewConnections) {
  StartServer();
  Fd idle = Connect(server_->port());
  ASSERT_TRUE(Send(idle.get(), kHelloRequest));
  std::string pending;
  ASSERT_FALSE(ReadResponse(idle.get(), pending).empty());

  std::future<Reply> in_flight = std::async(std::launch::async, [&] {
    Curl curl;
    return curl.Perform(Url("/block"));
  });
  ASSERT_EQ(gate_.entered.get_future().wait_for(10s), std::future_status::ready);
  std::future<void> stopped = std::async(std::launch::async, [&] { server_->Stop(10s); });

  bool closed = false;
  ReadUntilClosed(idle.get(), &closed, 5s);
  EXPECT_TRUE(closed) << "an idle keep-alive connection is closed at once";
  EXPECT_TRUE(WaitFor([&] { return !Connect(server_->port()).valid(); }, 5s))
      << "new connections are refused";
  EXPECT_EQ(stopped.wait_for(0s), std::future_status::timeout) << "Stop waits for the handler";

  gate_.open.set_value();
  const Reply r = in_flight.get();
  EXPECT_EQ(r.code, CURLE_OK);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "unblocked");
  EXPECT_EQ(r.Header("connection"), "close");
  ASSERT_EQ(stopped.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(server_->open_connections(), 0u);
  server_->Stop(10s);  // idempotent
}

TEST_F(HttpServerTest, StopClosesWhatOutlivesTheGrace) {
  StartServer();
  std::future<Reply> in_flight = std::async(std::launch::async, [&] {
    Curl curl;
    return curl.Perform(Url("/block"));
  });
  ASSERT_EQ(gate_.entered.get_future().wait_for(10s), std::future_status::ready);
  std::future<void> stopped = std::async(std::launch::async, [&] { server_->Stop(200ms); });
  // After the grace the socket is closed; the handler itself cannot be interrupted.
  const Reply r = in_flight.get();
  EXPECT_NE(r.code, CURLE_OK);
  gate_.open.set_value();
  ASSERT_EQ(stopped.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(server_->open_connections(), 0u);
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitAreClosedAtOnce) {
  HttpServerOptions o = Options();
  o.max_connections = 3;
  StartServer(std::move(o));
  std::vector<Fd> kept;
  for (int i = 0; i < 3; ++i) {
    kept.push_back(Connect(server_->port()));
    ASSERT_TRUE(Send(kept.back().get(), kHelloRequest));
    std::string pending;
    ASSERT_FALSE(ReadResponse(kept.back().get(), pending).empty());
  }
  EXPECT_EQ(server_->open_connections(), 3u);
  Fd extra = Connect(server_->port());
  ASSERT_TRUE(extra.valid());
  bool closed = false;
  EXPECT_EQ(ReadUntilClosed(extra.get(), &closed, 5s), "");
  EXPECT_TRUE(closed);

  kept.pop_back();
  ASSERT_TRUE(WaitFor([&] { return server_->open_connections() == 2; }));
  Fd again = Connect(server_->port());
  ASSERT_TRUE(Send(again.get(), kHelloRequest));
  std::string pending;
  EXPECT_NE(ReadResponse(again.get(), pending).find("world"), std::string::npos);
}

int ThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

TEST_F(HttpServerTest, ThousandsOfKeepAliveConnectionsAreServed) {
  StartServer();
  constexpr int kConnections = 2000;
  std::vector<Fd> fds;
  fds.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    fds.push_back(Connect(server_->port()));
    ASSERT_TRUE(fds.back().valid()) << "connect " << i << ": " << std::strerror(errno);
  }
  for (int round = 0; round < 2; ++round) {
    for (Fd& fd : fds) ASSERT_TRUE(Send(fd.get(), kHelloRequest));
    int answered = 0;
    for (Fd& fd : fds) {
      std::string pending;
      if (ReadResponse(fd.get(), pending).find("world") != std::string::npos) ++answered;
    }
    EXPECT_EQ(answered, kConnections) << "round " << round;
  }
  EXPECT_EQ(server_->open_connections(), static_cast<std::size_t>(kConnections));
  EXPECT_LT(ThreadCount(), 32) << "no thread per connection";
  fds.clear();
  EXPECT_TRUE(WaitFor([&] { return server_->open_connections() == 0; }));
}

TEST_F(HttpServerTest, StartRejectsBadOptions) {
  HttpServerOptions o = Options();
  o.max_header_bytes = 10;
  auto r = HttpServer::Start(o, Routes());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(HttpErrc::kConfig));

  o = Options();
  o.tls_cert_file = dir_.path() + "/missing.pem";
  o.tls_key_file = dir_.path() + "/missing.key";
  r = HttpServer::Start(o, Routes());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(HttpErrc::kTls));

  std::vector<Route> routes = Routes();
  routes.push_back({"GET", "/bad/{", [](HttpRequest&) { return HttpResponse{}; }});
  r = HttpServer::Start(Options(), std::move(routes));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(HttpErrc::kConfig));

  StartServer();
  o = Options();
  o.port = server_->port();
  r = HttpServer::Start(o, Routes());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(HttpErrc::kListen)) << r.error().message();
}

}  // namespace
}  // namespace uplift::server
