// DeviceApiClient against a minimal HTTP/1.1 server on 127.0.0.1 in the same process: the
// server checks every signature like uplift-server does, so the bytes libcurl sends are proven
// to be the bytes that were signed; keep-alive, the stale_timestamp re-sign and the error
// mapping are checked end to end.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "uplift/base/errors.hpp"
#include "uplift/format/device_auth.hpp"
#include "uplift/format/errors.hpp"
#include "uplift/transport/device_api.hpp"
#include "uplift/transport/errors.hpp"

namespace uplift::transport {
namespace {

struct Request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};
struct Reply {
  int status = 200;
  std::string body;
};

// One connection at a time, keep-alive, Content-Length bodies only: enough for libcurl.
class MiniServer {
 public:
  explicit MiniServer(std::function<Reply(const Request&)> handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::abort();
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~MiniServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }

 private:
  void Serve() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      connections_ += 1;
      std::string buf;
      for (;;) {
        Request r;
        if (!ReadRequest(c, buf, r)) break;
        const Reply reply = handler_(r);
        const std::string reason = reply.status == 200 ? "OK" : "Status";
        const std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + reason +
                                "\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body;
        if (::send(c, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
          break;
        }
      }
      ::close(c);
    }
  }

  static bool ReadRequest(int c, std::string& buf, Request& r) {
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(c, buf)) return false;
    }
    const std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);
    std::size_t pos = head.find("\r\n");
    const std::string line = head.substr(0, pos);
    const std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    r.method = line.substr(0, sp1);
    r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    while (pos != std::string::npos) {
      const std::size_t next = head.find("\r\n", pos + 2);
      const std::string h = head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
      const std::size_t colon = h.find(':');
      if (colon != std::string::npos) {
        std::string name = h.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::string value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        r.headers[name] = value;
      }
      pos = next;
    }
    const std::size_t n = r.headers.contains("content-length")
                              ? static_cast<std::size_t>(std::stoul(r.headers["content-length"]))
                              : 0;
    while (buf.size() < n) {
      if (!Fill(c, buf)) return false;
    }
    r.body = buf.substr(0, n);
    buf.erase(0, n);
    return true;
  }

  static bool Fill(int c, std::string& buf) {
    char tmp[4096];
    const ssize_t got = ::recv(c, tmp, sizeof tmp, 0);
    if (got <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(got));
    return true;
  }

  std::function<Reply(const Request&)> handler_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

const Bytes kCredential(32, 0x42);
constexpr std::int64_t kServerTime = 1'790'000'000;

// Checks a signed request the way the server does; "" when it verifies, else the error code.
std::string Verify(const Request& r, std::set<std::string>& nonces) {
  for (const auto& h :
       {"uplift-tenant", "uplift-device", "uplift-timestamp", "uplift-nonce", "uplift-signature"}) {
    if (!r.headers.contains(h)) return "unauthorized";
  }
  const std::int64_t ts = std::stoll(r.headers.at("uplift-timestamp"));
  const format::SignedRequest sr{r.method,
                                 r.target,
                                 r.headers.at("uplift-tenant"),
                                 r.headers.at("uplift-device"),
                                 ts,
                                 r.headers.at("uplift-nonce"),
                                 AsBytes(r.body)};
  if (!format::IsValidNonce(sr.nonce) ||
      !format::VerifyRequestSignature(kCredential, sr, r.headers.at("uplift-signature"))) {
    return "unauthorized";
  }
  if (ts < kServerTime - 300 || ts > kServerTime + 300) return "stale_timestamp";
  if (!nonces.insert(std::string(sr.nonce)).second) return "replayed_nonce";
  return "";
}

Reply ErrorReply(int status, const std::string& code) {
  format::ApiError e{code, "test", std::nullopt};
  if (code == "stale_timestamp") e.server_time = kServerTime;
  return {status, format::EncodeApiError(e)};
}

struct Fixture {
  std::set<std::string> nonces;
  std::vector<Request> seen;
  std::mutex mu;
};

TEST(DeviceApiLoopback, ChecksInSignedLearnsTheClockAndKeepsTheConnection) {
  Fixture f;
  MiniServer server([&](const Request& r) -> Reply {
    std::lock_guard lock(f.mu);
    f.seen.push_back(r);
    if (const std::string err = Verify(r, f.nonces); !err.empty()) return ErrorReply(401, err);
    if (r.target == "/prefix/api/device/v1/checkin") {
      if (!format::DecodeCheckin(AsBytes(r.body)).ok()) return ErrorReply(400, "bad_request");
      return {200, format::EncodeCheckinResponse({kServerTime, 120, std::nullopt})};
    }
    if (r.target == "/prefix/api/device/v1/reports") {
      const auto reports = format::DecodeReports(AsBytes(r.body));
      if (!reports.ok()) return ErrorReply(400, "bad_request");
      std::vector<std::string> ids;
      for (const auto& rep : *reports) ids.push_back(rep.id);
      return {200, format::EncodeAccepted(ids)};
    }
    return ErrorReply(404, "not_found");
  });
  FakeClock device_clock(1000);  // a device without a real-time clock
  DeviceApiOptions o;
  o.server_url = server.url() + "/prefix/";
  auto client = DeviceApiClient::Create(o, {"acme", "cooker-00042", kCredential}, device_clock);
  ASSERT_TRUE(client.ok()) << client.error().message();
  format::Inventory inv;
  inv.version = "1.0.0";
  inv.image_sha256 = std::string(64, 'a');
  const auto r = (*client)->Checkin(inv);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->poll_seconds, 120u);
  EXPECT_EQ((*client)->clock_offset(), kServerTime - 1000);
  ASSERT_EQ(f.seen.size(), 2u);  // stale, then re-signed with a new nonce
  EXPECT_NE(f.seen[0].headers["uplift-nonce"], f.seen[1].headers["uplift-nonce"]);

  format::Report rep;
  rep.id = "r1";
  rep.time = kServerTime;
  rep.release_id = 7;
  rep.phase = "downloading";
  const auto ids = (*client)->SendReports({rep});
  ASSERT_TRUE(ids.ok()) << ids.error().message();
  EXPECT_EQ(*ids, std::vector<std::string>{"r1"});
  EXPECT_EQ(f.seen.size(), 3u);  // the learned offset holds: no second stale answer
  EXPECT_EQ(server.connections(), 1);
}

TEST(DeviceApiLoopback, MapsServerErrors) {
  int status = 503;
  std::string code = "unavailable";
  MiniServer server([&](const Request&) { return ErrorReply(status, code); });
  FakeClock clock(kServerTime);
  DeviceApiOptions o;
  o.server_url = server.url();
  auto client = DeviceApiClient::Create(o, {"acme", "d1", kCredential}, clock);
  ASSERT_TRUE(client.ok());
  format::Inventory inv;
  auto r = (*client)->Checkin(inv);
  EXPECT_TRUE(r.error().Is(base::Errc::kUnavailable)) << r.error().message();
  status = 401;
  code = "unauthorized";
  r = (*client)->Checkin(inv);
  EXPECT_TRUE(r.error().Is(Errc::kRefused)) << r.error().message();
  EXPECT_NE(r.error().message().find("unauthorized"), std::string::npos);
  status = 401;
  code = "stale_timestamp";  // again after the re-sign: given up, not looped
  r = (*client)->Checkin(inv);
  EXPECT_TRUE(r.error().Is(Errc::kRefused)) << r.error().message();
  status = 400;
  code = "bad_request";
  r = (*client)->Checkin(inv);
  EXPECT_TRUE(r.error().Is(base::Errc::kInvalidArgument)) << r.error().message();
}

TEST(DeviceApiLoopback, EnrollsAndRefusesAForeignAnswer) {
  std::string tenant = "acme";
  MiniServer server([&](const Request& r) -> Reply {
    const auto req = format::DecodeEnrollRequest(AsBytes(r.body));
    if (r.target != "/api/device/v1/enroll" || !req.ok()) return ErrorReply(400, "bad_request");
    if (req->enrollment_secret != "s3cret") return ErrorReply(403, "enrollment_refused");
    return {201, format::EncodeEnrollResponse({tenant, req->device_id, kCredential})};
  });
  DeviceApiOptions o;
  o.server_url = server.url();
  format::EnrollRequest req{"acme", "cooker-1", "board", "s3cret"};
  const auto ok = DeviceApiClient::Enroll(o, req);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->credential, kCredential);
  req.enrollment_secret = "wrong";
  const auto refused = DeviceApiClient::Enroll(o, req);
  EXPECT_TRUE(refused.error().Is(Errc::kRefused)) << refused.error().message();
  EXPECT_NE(refused.error().message().find("enrollment_refused"), std::string::npos);
  req.enrollment_secret = "s3cret";
  tenant = "other";
  EXPECT_TRUE(DeviceApiClient::Enroll(o, req).error().Is(format::Errc::kMalformedMessage));
}

TEST(DeviceApiLoopback, UnreachableServerIsRetryable) {
  std::uint16_t port;
  {
    MiniServer gone([](const Request&) { return Reply{}; });
    port = static_cast<std::uint16_t>(std::stoi(gone.url().substr(gone.url().rfind(':') + 1)));
  }
  FakeClock clock(kServerTime);
  DeviceApiOptions o;
  o.server_url = "http://127.0.0.1:" + std::to_string(port);
  auto client = DeviceApiClient::Create(o, {"acme", "d1", kCredential}, clock);
  ASSERT_TRUE(client.ok());
  const auto r = (*client)->Checkin({});
  EXPECT_TRUE(r.error().Is(base::Errc::kUnavailable)) << r.error().message();
}

}  // namespace
}  // namespace uplift::transport
