// The fault lab against a real nginx on loopback: every fault lands at exactly the planned body
// offset, and everything else passes byte for byte. The HTTP client here is deliberately tiny and
// blocking, and shares no code with the proxy, so it judges the proxy independently.
#include "fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "integration/process.hpp"
#include "nginx.hpp"

namespace uplift::faultlab {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kFileSize = 4 * 1024 * 1024;
constexpr std::uint64_t kMiB = 1024 * 1024;

std::string RandomBytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    const std::uint64_t v = rng();
    for (std::size_t j = 0; j < 8 && i + j < n; ++j) {
      s[i + j] = static_cast<char>((v >> (8 * j)) & 0xff);
    }
  }
  return s;
}

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

// --- a tiny blocking HTTP/1.1 client ------------------------------------------------------------

struct Response {
  int status = 0;
  std::string head;  // status line and fields, up to and including the blank line
  std::string body;
  std::optional<std::uint64_t> content_length;
  bool complete = false;  // the whole announced body arrived
  bool eof = false;       // the stream ended with a clean close (FIN)
  int error = 0;          // errno that ended the stream (ECONNRESET for a reset), else 0
};

// Field value (case-insensitive name), trimmed; "" if absent.
std::string Field(const std::string& head, const std::string& name) {
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    const std::size_t start = pos + 2;
    const std::size_t end = head.find("\r\n", start);
    if (end == std::string::npos || end == start) break;
    const std::string line = head.substr(start, end - start);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos &&
        strcasecmp(line.substr(0, colon).c_str(), name.c_str()) == 0) {
      std::size_t b = colon + 1;
      while (b < line.size() && line[b] == ' ') ++b;
      return line.substr(b);
    }
    pos = end;
  }
  return {};
}

// The head without its Date field (which may tick between two requests) and without `drop`.
std::vector<std::string> HeadLinesExcept(const std::string& head, const std::string& drop) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    const std::string line = head.substr(pos, end - pos);
    const auto starts = [&](const std::string& name) {
      return strncasecmp(line.c_str(), (name + ":").c_str(), name.size() + 1) == 0;
    };
    if (!line.empty() && !starts("Date") && !starts(drop)) lines.push_back(line);
    pos = end + 2;
  }
  return lines;
}

class Client {
 public:
  // 0 on success, else the errno of connect (ECONNREFUSED...).
  int Connect(std::uint16_t port) {
    fd_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const timeval tv{.tv_sec = 15, .tv_usec = 0};  // a hung proxy fails the test, not the suite
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      return errno;
    }
    return 0;
  }

  // Sends one request; false if the connection is already gone.
  bool Send(const std::string& method, const std::string& path,
            const std::vector<std::string>& fields = {}, bool keep_alive = false) {
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& f : fields) req += f + "\r\n";
    req += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    std::string_view rest = req;
    while (!rest.empty()) {
      const ssize_t n = ::send(fd_.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads one response; the body by Content-Length (none for HEAD), else until the stream ends.
  // Stops after max_body bytes of body if given.
  Response Read(bool head_request = false, std::size_t max_body = SIZE_MAX) {
    Response r;
    std::size_t end = std::string::npos;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(r)) return r;
    }
    r.head = pending_.substr(0, end + 4);
    pending_.erase(0, end + 4);
    if (r.head.size() > 12) r.status = std::atoi(r.head.c_str() + 9);
    if (const std::string cl = Field(r.head, "Content-Length"); !cl.empty()) {
      r.content_length = std::strtoull(cl.c_str(), nullptr, 10);
    }
    const std::uint64_t want = head_request ? 0 : r.content_length.value_or(UINT64_MAX);
    for (;;) {
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(
          {want - r.body.size(), pending_.size(), max_body - r.body.size()}));
      r.body.append(pending_, 0, take);
      pending_.erase(0, take);
      if (r.body.size() == want || r.body.size() >= max_body) break;
      if (!Fill(r)) break;
    }
    r.complete = r.body.size() == want;
    if (r.complete && want == UINT64_MAX) r.complete = false;
    return r;
  }

  // Reads exactly n more raw bytes (fewer if the stream ends).
  std::string ReadBytes(std::size_t n) {
    Response r;
    while (pending_.size() < n && Fill(r)) {
    }
    std::string out = pending_.substr(0, n);
    pending_.erase(0, out.size());
    return out;
  }

  // Reads to the end of the stream: how it ended (after any bytes, which are dropped).
  Response ReadToEnd() {
    Response r;
    while (Fill(r)) pending_.clear();
    return r;
  }

  void Close() { fd_ = Fd(); }

 private:
  bool Fill(Response& r) {
    char buf[65536];
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0) {
      pending_.append(buf, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) {
      r.eof = true;
    } else {
      r.error = errno;
    }
    return false;
  }

  Fd fd_;
  std::string pending_;
};

Response Get(std::uint16_t port, const std::string& path,
             const std::vector<std::string>& fields = {}) {
  Client c;
  Response r;
  r.error = c.Connect(port);
  if (r.error != 0) return r;
  if (!c.Send("GET", path, fields)) {
    r.error = errno;
    return r;
  }
  return c.Read();
}

// --- fixture ------------------------------------------------------------------------------------

class FaultLab : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "uplift-faultlab-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directory(dir_ / "www");
    file_ = RandomBytes(kFileSize, 20240611);
    std::ofstream(dir_ / "www" / "blob.bin", std::ios::binary).write(file_.data(), kFileSize);
    auto nginx = NginxServer::Start((dir_ / "www").string());
    ASSERT_TRUE(nginx.ok()) << nginx.error().message();
    nginx_ = std::move(nginx).value();
    auto proxy = FaultProxy::Start(nginx_->port());
    ASSERT_TRUE(proxy.ok()) << proxy.error().message();
    proxy_ = std::move(proxy).value();
  }

  void TearDown() override {
    proxy_.reset();
    nginx_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::uint16_t port() const { return proxy_->port(); }

  fs::path dir_;
  std::string file_;
  std::unique_ptr<NginxServer> nginx_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(FaultLab, PassThroughIsByteExact) {
  const Response direct = Get(nginx_->port(), "/blob.bin");
  const Response r = Get(port(), "/blob.bin");
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.complete);
  EXPECT_TRUE(r.body == file_);
  EXPECT_EQ(HeadLinesExcept(r.head, ""), HeadLinesExcept(direct.head, ""));
  const ProxyStats s = proxy_->stats();
  EXPECT_EQ(s.connections, 1u);
  EXPECT_EQ(s.upstream_connections, 1u);
  EXPECT_EQ(s.body_bytes_to_client, kFileSize);
  EXPECT_EQ(s.faults_applied, 0u);
}

TEST_F(FaultLab, DropAtResetsAtExactlyThatBodyOffset) {
  const std::vector<std::uint64_t> offsets = {0, 1, 1'234'567, kFileSize - 1};
  for (const auto at : offsets) proxy_->Enqueue({.drop_at = at});
  for (const auto at : offsets) {
    const Response r = Get(port(), "/blob.bin");
    EXPECT_EQ(r.status, 200) << at;
    EXPECT_EQ(r.body.size(), at);
    EXPECT_TRUE(file_.starts_with(r.body)) << at;
    EXPECT_EQ(r.error, ECONNRESET) << at;
    EXPECT_FALSE(r.eof) << at;
  }
  EXPECT_EQ(proxy_->stats().drops, offsets.size());
}

TEST_F(FaultLab, TruncateAtClosesCleanlyAtExactlyThatBodyOffset) {
  proxy_->Enqueue({.truncate_at = 2'000'000});
  const Response r = Get(port(), "/blob.bin");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 2'000'000u);
  EXPECT_TRUE(file_.starts_with(r.body));
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.error, 0);
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(proxy_->stats().truncations, 1u);
}

TEST_F(FaultLab, FlipAtFlipsExactlyThoseBytes) {
  const std::set<std::uint64_t> flips = {0, 4095, 4096, 3'000'001, kFileSize - 1};
  ConnectionPlan plan;
  plan.flip_at = {4096, 3'000'001, 0, kFileSize - 1, 4095, 4096};  // unsorted, one duplicate
  proxy_->Enqueue(plan);
  const Response r = Get(port(), "/blob.bin");
  ASSERT_TRUE(r.complete);
  std::set<std::uint64_t> differing;
  for (std::size_t i = 0; i < kFileSize; ++i) {
    if (r.body[i] != file_[i]) {
      differing.insert(i);
      EXPECT_EQ(static_cast<unsigned char>(r.body[i] ^ file_[i]), 0x01) << i;
    }
  }
  EXPECT_EQ(differing, flips);
  EXPECT_EQ(proxy_->stats().flipped_bytes, flips.size());
}

TEST_F(FaultLab, ErrorStatusesAreAnsweredWithoutTheOrigin) {
  struct Case {
    int status;
    std::optional<int> retry_after;
  };
  const std::vector<Case> cases = {{503, 7}, {429, 30}, {500, std::nullopt}};
  for (const auto& c : cases) {
    proxy_->Enqueue({.status = c.status, .retry_after_s = c.retry_after});
  }
  for (const auto& c : cases) {
    const Response r = Get(port(), "/blob.bin");
    EXPECT_EQ(r.status, c.status);
    EXPECT_TRUE(r.complete);
    EXPECT_EQ(Field(r.head, "Retry-After"),
              c.retry_after ? std::to_string(*c.retry_after) : std::string());
    EXPECT_EQ(Field(r.head, "Connection"), "close");
    EXPECT_EQ(Field(r.head, "Content-Type"), "application/json");
    EXPECT_NE(r.body.find("\"status\":" + std::to_string(c.status)), std::string::npos) << r.body;
  }
  EXPECT_EQ(proxy_->stats().upstream_connections, 0u);
  EXPECT_EQ(proxy_->stats().statuses, cases.size());
}

TEST_F(FaultLab, ReplaceEtagChangesOnlyTheEtagOfTheFirstResponse) {
  Client origin;  // kept alive like the proxied request below, so the Connection field matches
  ASSERT_EQ(origin.Connect(nginx_->port()), 0);
  ASSERT_TRUE(origin.Send("GET", "/blob.bin", {}, /*keep_alive=*/true));
  const Response direct = origin.Read();
  const std::string original_etag = Field(direct.head, "ETag");
  ASSERT_FALSE(original_etag.empty());
  proxy_->Enqueue({.replace_etag = "\"changed-1\""});
  Client c;
  ASSERT_EQ(c.Connect(port()), 0);
  ASSERT_TRUE(c.Send("GET", "/blob.bin", {}, /*keep_alive=*/true));
  const Response first = c.Read();
  ASSERT_TRUE(first.complete);
  EXPECT_TRUE(first.body == file_);
  EXPECT_EQ(Field(first.head, "ETag"), "\"changed-1\"");
  EXPECT_EQ(HeadLinesExcept(first.head, "ETag"), HeadLinesExcept(direct.head, "ETag"));
  // The same connection's next response is the origin's again.
  ASSERT_TRUE(c.Send("GET", "/blob.bin", {"Range: bytes=0-9"}));
  const Response second = c.Read();
  EXPECT_EQ(second.status, 206);
  EXPECT_EQ(Field(second.head, "ETag"), original_etag);
  EXPECT_EQ(proxy_->stats().etag_rewrites, 1u);
}

TEST_F(FaultLab, FaultOffsetsCountOnlyTheFirstResponseOfAKeptAliveConnection) {
  proxy_->Enqueue({.flip_at = {10}});
  Client c;
  ASSERT_EQ(c.Connect(port()), 0);
  ASSERT_TRUE(c.Send("GET", "/blob.bin", {"Range: bytes=0-99"}, true));
  const Response first = c.Read();
  ASSERT_TRUE(c.Send("GET", "/blob.bin", {"Range: bytes=0-99"}, true));
  const Response second = c.Read();
  ASSERT_TRUE(first.complete);
  ASSERT_TRUE(second.complete);
  std::string expected = file_.substr(0, 100);
  EXPECT_TRUE(second.body == expected);
  expected[10] = static_cast<char>(expected[10] ^ 0x01);
  EXPECT_TRUE(first.body == expected);
  EXPECT_EQ(proxy_->stats().connections, 1u);
}

TEST_F(FaultLab, FlipEveryCountsBodyBytesOverTheWholeConnection) {
  proxy_->Enqueue({.flip_every = 1'000'000});
  Client c;
  ASSERT_EQ(c.Connect(port()), 0);
  ASSERT_TRUE(c.Send("GET", "/blob.bin", {"Range: bytes=0-599999"}, true));
  const Response first = c.Read();
  ASSERT_TRUE(c.Send("GET", "/blob.bin", {"Range: bytes=0-599999"}, true));
  const Response second = c.Read();
  ASSERT_TRUE(first.complete && second.complete);
  EXPECT_TRUE(first.body == file_.substr(0, 600'000));
  // Connection body byte 999'999 is byte 399'999 of the second response.
  std::string expected = file_.substr(0, 600'000);
  expected[399'999] = static_cast<char>(expected[399'999] ^ 0x01);
  EXPECT_TRUE(second.body == expected);
  EXPECT_EQ(proxy_->stats().flipped_bytes, 1u);
}

TEST_F(FaultLab, HeadResponsesCarryNoBodyBytes) {
  // drop_every counts body bytes over the whole connection: had the proxy taken the HEAD
  // response's Content-Length for a body, the GET would end elsewhere than at byte 1000.
  proxy_->Enqueue({.drop_every = 1000});
  Client c;
  ASSERT_EQ(c.Connect(port()), 0);
  ASSERT_TRUE(c.Send("HEAD", "/blob.bin", {}, true));
  const Response head = c.Read(/*head_request=*/true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.content_length, kFileSize);
  ASSERT_TRUE(c.Send("GET", "/blob.bin", {}, true));
  const Response get = c.Read();
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body.size(), 1000u);
  EXPECT_TRUE(file_.starts_with(get.body));
  EXPECT_EQ(get.error, ECONNRESET);
}

TEST_F(FaultLab, ThrottleHoldsTheRate) {
  proxy_->Enqueue({.throttle_bytes_per_s = kMiB});
  const auto start = SteadyClock::now();
  const Response r = Get(port(), "/blob.bin", {"Range: bytes=0-1048575"});
  const double elapsed = SecondsSince(start);
  ASSERT_TRUE(r.complete);
  EXPECT_TRUE(r.body == file_.substr(0, kMiB));
  EXPECT_GE(elapsed, 0.9);
  EXPECT_LT(elapsed, 10.0);
}

TEST_F(FaultLab, StallPausesThenContinues) {
  proxy_->Enqueue({.stall_at = 100'000, .stall_for = milliseconds(400)});
  Client c;
  ASSERT_EQ(c.Connect(port()), 0);
  ASSERT_TRUE(c.Send("GET", "/blob.bin"));
  const Response before = c.Read(false, 100'000);
  ASSERT_EQ(before.body.size(), 100'000u);
  const auto start = SteadyClock::now();
  const std::string after = c.ReadBytes(1);  // the next body byte waits for the stall to end
  EXPECT_GE(SecondsSince(start), 0.3);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0], file_[100'000]);
  EXPECT_EQ(proxy_->stats().stalls, 1u);
}

TEST_F(FaultLab, RefuseForRefusesThenListensAgain) {
  Client kept;  // accepted (it got an answer) before: unaffected
  ASSERT_EQ(kept.Connect(port()), 0);
  ASSERT_TRUE(kept.Send("GET", "/blob.bin", {"Range: bytes=0-99"}, /*keep_alive=*/true));
  ASSERT_TRUE(kept.Read().complete);
  const auto start = SteadyClock::now();
  proxy_->RefuseFor(milliseconds(300));
  Client refused;
  EXPECT_EQ(refused.Connect(port()), ECONNREFUSED);
  ASSERT_TRUE(kept.Send("GET", "/blob.bin", {"Range: bytes=0-99"}));
  EXPECT_TRUE(kept.Read().complete);
  int err = ECONNREFUSED;
  while (err == ECONNREFUSED && SecondsSince(start) < 5.0) {
    Client probe;
    err = probe.Connect(port());
    if (err != 0) ::poll(nullptr, 0, 10);
  }
  EXPECT_EQ(err, 0);
  EXPECT_GE(SecondsSince(start), 0.25);
  const Response r = Get(port(), "/blob.bin");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(proxy_->stats().refused_periods, 1u);
}

TEST_F(FaultLab, RangeAndIfRangePassThrough) {
  const Response range = Get(port(), "/blob.bin", {"Range: bytes=1000-1999"});
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(Field(range.head, "Content-Range"), "bytes 1000-1999/4194304");
  EXPECT_TRUE(range.body == file_.substr(1000, 1000));
  const std::string etag = Field(range.head, "ETag");
  const Response same = Get(port(), "/blob.bin", {"Range: bytes=4194000-", "If-Range: " + etag});
  EXPECT_EQ(same.status, 206);
  EXPECT_TRUE(same.body == file_.substr(4194000));
  const Response changed = Get(port(), "/blob.bin", {"Range: bytes=10-", "If-Range: \"other\""});
  EXPECT_EQ(changed.status, 200);
  EXPECT_TRUE(changed.complete && changed.body == file_);
}

TEST_F(FaultLab, DropEveryCutsEachConnectionAndRangesResume) {
  proxy_->SetDefault({.drop_every = 1'000'000});
  std::string got;
  int connections = 0;
  while (got.size() < kFileSize && connections < 10) {
    ++connections;
    const Response r =
        Get(port(), "/blob.bin", {"Range: bytes=" + std::to_string(got.size()) + "-"});
    ASSERT_EQ(r.status, 206);
    EXPECT_EQ(r.body.size(), std::min<std::size_t>(1'000'000, kFileSize - got.size()));
    if (!r.complete) {
      EXPECT_EQ(r.error, ECONNRESET);
    }
    got += r.body;
  }
  EXPECT_EQ(connections, 5);
  EXPECT_TRUE(got == file_);
  EXPECT_EQ(proxy_->stats().drops, 4u);
}

TEST_F(FaultLab, ResetImmediatelySendsNoByte) {
  proxy_->Enqueue({.reset_immediately = true});
  Client c;
  ASSERT_EQ(c.Connect(port()), 0);
  // The reset may arrive before the request goes out; then send() reports it instead of recv().
  const bool sent = c.Send("GET", "/blob.bin");
  const Response r = c.Read();
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.body.empty());
  if (sent) {
    EXPECT_EQ(r.error, ECONNRESET);
  }
  EXPECT_EQ(proxy_->stats().upstream_connections, 0u);
  EXPECT_EQ(proxy_->stats().resets, 1u);
}

TEST_F(FaultLab, QueuedPlansComeFirstThenTheDefault) {
  proxy_->Enqueue({.status = 503});
  proxy_->SetDefault({.truncate_at = 10});
  EXPECT_EQ(Get(port(), "/blob.bin").status, 503);
  for (int i = 0; i < 2; ++i) {
    const Response r = Get(port(), "/blob.bin");
    EXPECT_EQ(r.body.size(), 10u);
    EXPECT_TRUE(r.eof);
  }
}

TEST_F(FaultLab, AClientClosingEarlyDoesNotDisturbTheNext) {
  {
    Client c;
    ASSERT_EQ(c.Connect(port()), 0);
    ASSERT_TRUE(c.Send("GET", "/blob.bin"));
    EXPECT_EQ(c.Read(false, 65536).body.size(), 65536u);
  }  // closed with most of the body unread
  const Response r = Get(port(), "/blob.bin");
  ASSERT_TRUE(r.complete);
  EXPECT_TRUE(r.body == file_);
}

TEST_F(FaultLab, StoppingTheProxyWakesAStalledConnection) {
  proxy_->Enqueue({.stall_at = 0, .stall_for = milliseconds(60'000)});
  Client c;
  ASSERT_EQ(c.Connect(port()), 0);
  ASSERT_TRUE(c.Send("GET", "/blob.bin"));
  EXPECT_TRUE(c.Read(false, 0).status == 200);  // the head came, the body is stalled
  const auto start = SteadyClock::now();
  proxy_.reset();
  EXPECT_LT(SecondsSince(start), 5.0);
  const Response end = c.ReadToEnd();
  EXPECT_TRUE(end.eof || end.error == ECONNRESET);
}

// The benchmark binary: port on stdout line 1, the plan on every connection, exit 0 on SIGTERM.
TEST_F(FaultLab, CommandLineProxyDropsEveryNBytes) {
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  std::vector<std::string> args = {FAULTPROXY_BIN, "--upstream",
                                   "127.0.0.1:" + std::to_string(nginx_->port()), "--drop-every",
                                   "100000"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  std::string line;
  char ch = 0;
  while (::read(out[0], &ch, 1) == 1 && ch != '\n') line += ch;
  ::close(out[0]);
  const int cli_port = std::atoi(line.c_str());
  ASSERT_GT(cli_port, 0) << "stdout line 1: '" << line << "'";
  for (int i = 0; i < 2; ++i) {
    const Response r = Get(static_cast<std::uint16_t>(cli_port), "/blob.bin");
    EXPECT_EQ(r.body.size(), 100'000u);
    EXPECT_EQ(r.error, ECONNRESET);
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Nginx, StartFailsForAMissingRoot) {
  const auto r = NginxServer::Start("/nonexistent/uplift-faultlab");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(base::Errc::kNotFound)) << r.error().message();
}

// TLS and HTTP/2 from a real client: the self-signed certificate verifies, the pin matches it.
TEST(Nginx, ServesHttp2OverTlsWithAPinnableCertificate) {
  std::string tmpl = (fs::temp_directory_path() / "uplift-faultlab-tls-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const fs::path dir = tmpl;
  fs::create_directory(dir / "www");
  std::ofstream(dir / "www" / "hello.txt") << "hello over h2\n";
  std::string cert, key, pin;
  const Status made = MakeSelfSignedCert(dir.string(), &cert, &key, &pin);
  ASSERT_TRUE(made.ok()) << made.error().message();
  EXPECT_TRUE(pin.starts_with("sha256//")) << pin;
  EXPECT_EQ(pin.size(), 8u + 44u) << pin;
  auto nginx = NginxServer::Start(
      (dir / "www").string(),
      {.tls_cert = cert, .tls_key = key, .http2 = true, .extra_http_config = {}});
  ASSERT_TRUE(nginx.ok()) << nginx.error().message();
  const std::string url = (*nginx)->Url("/hello.txt");
  EXPECT_TRUE(url.starts_with("https://127.0.0.1:")) << url;

  const std::string curl = "/usr/bin/curl";
  const auto version = uplift::testing::Spawn(
      {curl, "--cacert", cert, "--http2", "-s", "-o", "/dev/null", "-w", "%{http_version}", url});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out, "2");
  const auto pinned =
      uplift::testing::Spawn({curl, "--cacert", cert, "--pinnedpubkey", pin, "-s", url});
  EXPECT_EQ(pinned.exit_code, 0) << pinned.err;
  EXPECT_EQ(pinned.out, "hello over h2\n");
  const std::string wrong_pin = "sha256//" + std::string(43, 'A') + "=";
  const auto mismatch =
      uplift::testing::Spawn({curl, "--cacert", cert, "--pinnedpubkey", wrong_pin, "-s", url});
  EXPECT_EQ(mismatch.exit_code, 90);  // CURLE_SSL_PINNEDPUBKEYNOTMATCH
  nginx->reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace uplift::faultlab
