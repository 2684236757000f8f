#include "fault_connection.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <string>
#include <string_view>

#include "http_framing.hpp"
#include "loopback_socket.hpp"

namespace uplift::faultlab {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long a fault waits for the client to take bytes it must see before a reset, and to close
// after a clean close. Generous: a test client under a sanitizer can be slow.
constexpr milliseconds kDeliverLimit{10'000};
constexpr milliseconds kLingerLimit{2'000};
constexpr std::size_t kReadChunk = 64 * 1024;

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Injected";
  }
}

class Session {
 public:
  Session(Fd client, ConnectionPlan plan, const ConnectionEnv& env)
      : client_(std::move(client)), plan_(std::move(plan)), env_(env), c_(*env.counters) {
    std::sort(plan_.flip_at.begin(), plan_.flip_at.end());
  }

  void Run() {
    if (plan_.reset_immediately) {
      ++c_.resets;  // counted first: a test may read the stats as soon as it sees the reset
      ResetAndClose(client_);
      return;
    }
    if (plan_.status != 0) return AnswerStatus();
    auto upstream = ConnectLoopback(env_.upstream_port);
    if (!upstream.ok()) {
      ++c_.upstream_failures;
      ResetAndClose(client_);
      return;
    }
    upstream_ = std::move(upstream).value();
    ++c_.upstream_connections;
    Forward();
  }

 private:
  enum class Flow { kGoOn, kEnded };

  void Forward() {
    bool client_eof = false;
    bool upstream_eof = false;
    std::string buf(kReadChunk, '\0');
    while (!(client_eof && upstream_eof)) {
      std::array<pollfd, 3> p{
          {{.fd = client_eof ? -1 : client_.get(), .events = POLLIN, .revents = 0},
           {.fd = upstream_eof ? -1 : upstream_.get(), .events = POLLIN, .revents = 0},
           {.fd = env_.stop_fd, .events = POLLIN, .revents = 0}}};
      if (::poll(p.data(), p.size(), -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (p[2].revents != 0) return;
      if (p[0].revents != 0) {
        const ssize_t n = ::recv(client_.get(), buf.data(), buf.size(), 0);
        if (n > 0) {
          const std::string_view data(buf.data(), static_cast<std::size_t>(n));
          requests_.Consume(data);
          if (!SendAll(upstream_.get(), data, env_.stop_fd)) return ResetBoth();
        } else if (n == 0) {
          client_eof = true;
          ::shutdown(upstream_.get(), SHUT_WR);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          return ResetBoth();  // the client reset: so does the proxy towards the origin
        }
      }
      if (p[1].revents != 0) {
        const ssize_t n = ::recv(upstream_.get(), buf.data(), buf.size(), 0);
        if (n > 0) {
          if (FromUpstream(std::string_view(buf.data(), static_cast<std::size_t>(n))) ==
              Flow::kEnded) {
            return;
          }
        } else if (n == 0) {
          upstream_eof = true;
          ::shutdown(client_.get(), SHUT_WR);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          return ResetBoth();  // the origin reset: the client sees a reset too
        }
      }
    }
  }

  void ResetBoth() {
    ResetAndClose(client_);
    ResetAndClose(upstream_);
  }

  // Processes bytes from the origin: heads, bodies, and the faults due at each body offset.
  Flow FromUpstream(std::string_view in) {
    while (!in.empty()) {
      if (framer_.phase() == ResponseFramer::Phase::kHead) {
        in.remove_prefix(framer_.FeedHead(in));
        if (framer_.head_overflow()) {
          if (!ToClient(framer_.TakeHead())) return Flow::kEnded;
          framer_.StartBody(BodyFraming::kUntilClose, 0);  // lost track: forward the rest as is
          in_first_ = false;
          continue;
        }
        if (!framer_.head_complete()) continue;
        if (OnHead(framer_.TakeHead()) == Flow::kEnded) return Flow::kEnded;
        continue;
      }
      const std::size_t n = framer_.FeedBody(in, BytesToNextEvent());
      std::string segment(in.substr(0, n));
      in.remove_prefix(n);
      Flip(segment);
      if (in_first_) first_body_ += n;
      connection_body_ += n;
      c_.body_bytes_to_client += n;  // before the send: a client that has it all sees the count
      if (!ToClient(segment)) return Flow::kEnded;
      if (DueEvents() == Flow::kEnded) return Flow::kEnded;
      if (framer_.phase() == ResponseFramer::Phase::kHead) in_first_ = false;
    }
    return Flow::kGoOn;
  }

  Flow OnHead(std::string head) {
    const auto parsed = ParseResponseHead(head);
    if (!parsed) {
      in_first_ = false;
      framer_.StartBody(BodyFraming::kUntilClose, 0);
      return ToClient(head) ? Flow::kGoOn : Flow::kEnded;
    }
    const bool interim = parsed->status >= 100 && parsed->status < 200 && parsed->status != 101;
    const std::string method = interim ? std::string() : requests_.PopMethod();
    in_first_ = !interim && ++final_responses_ == 1;
    if (in_first_ && plan_.replace_etag) {
      if (auto rewritten = ReplaceFieldValue(head, "ETag", *plan_.replace_etag)) {
        head = std::move(*rewritten);
        ++c_.etag_rewrites;
      }
    }
    framer_.StartBody(FramingOf(*parsed, method), parsed->content_length.value_or(0));
    if (!ToClient(head)) return Flow::kEnded;
    // Faults "after 0 body bytes" fire right after the head.
    const Flow f = Planned() ? DueEvents() : Flow::kGoOn;
    if (framer_.phase() == ResponseFramer::Phase::kHead) in_first_ = false;  // no body
    return f;
  }

  // Whether the offset-planned faults apply to the bytes now flowing, and their offset.
  bool Planned() const { return in_first_ || plan_.whole_connection; }
  std::uint64_t PlanOffset() const {
    return plan_.whole_connection ? connection_body_ : first_body_;
  }

  // The largest segment that reaches, but does not pass, the next offset where a fault is due.
  std::size_t BytesToNextEvent() const {
    std::uint64_t next = UINT64_MAX;
    const auto consider = [&](std::uint64_t at, std::uint64_t now) {
      if (at > now) next = std::min(next, at - now);
    };
    if (Planned()) {
      if (plan_.drop_at) consider(*plan_.drop_at, PlanOffset());
      if (plan_.truncate_at) consider(*plan_.truncate_at, PlanOffset());
      if (plan_.stall_at && !stalled_) consider(*plan_.stall_at, PlanOffset());
    }
    if (plan_.drop_every > 0) consider(plan_.drop_every, connection_body_);
    return static_cast<std::size_t>(std::min<std::uint64_t>(next, SIZE_MAX));
  }

  Flow DueEvents() {
    if (Planned()) {
      if (plan_.stall_at && !stalled_ && PlanOffset() >= *plan_.stall_at) {
        stalled_ = true;
        ++c_.stalls;
        if (WaitForStop(env_.stop_fd, plan_.stall_for) == WaitResult::kStopped) return Flow::kEnded;
      }
      if (plan_.drop_at && PlanOffset() >= *plan_.drop_at) return Drop();
      if (plan_.truncate_at && PlanOffset() >= *plan_.truncate_at) return Truncate();
    }
    if (plan_.drop_every > 0 && connection_body_ >= plan_.drop_every) return Drop();
    return Flow::kGoOn;
  }

  // XORs 0x01 into the planned bytes that fall inside `segment` (which starts at the current
  // offsets).
  void Flip(std::string& segment) {
    const std::uint64_t size = segment.size();
    std::uint64_t flipped = 0;
    if (Planned()) {
      const std::uint64_t base = PlanOffset();
      while (next_flip_ < plan_.flip_at.size() && plan_.flip_at[next_flip_] < base) {
        ++next_flip_;  // duplicates, or offsets already passed
      }
      while (next_flip_ < plan_.flip_at.size() && plan_.flip_at[next_flip_] < base + size) {
        segment[static_cast<std::size_t>(plan_.flip_at[next_flip_] - base)] ^= 0x01;
        ++flipped;
        ++next_flip_;
        while (next_flip_ < plan_.flip_at.size() &&
               plan_.flip_at[next_flip_] == plan_.flip_at[next_flip_ - 1]) {
          ++next_flip_;
        }
      }
    }
    if (plan_.flip_every > 0) {
      // Connection body byte k*flip_every - 1 for k >= 1.
      const std::uint64_t e = plan_.flip_every;
      for (std::uint64_t at = (connection_body_ / e + 1) * e - 1; at < connection_body_ + size;
           at += e) {
        segment[static_cast<std::size_t>(at - connection_body_)] ^= 0x01;
        ++flipped;
      }
    }
    c_.flipped_bytes += flipped;
  }

  Flow Drop() {
    // SO_LINGER 0 discards what is still queued: let the client have every byte before the cut.
    WaitUntilDelivered(client_.get(), env_.stop_fd, kDeliverLimit);
    ++c_.drops;
    ResetBoth();
    return Flow::kEnded;
  }

  Flow Truncate() {
    ++c_.truncations;
    ::shutdown(client_.get(), SHUT_WR);
    upstream_ = Fd();
    DrainUntilClosed(client_.get(), env_.stop_fd, kLingerLimit);
    client_ = Fd();
    return Flow::kEnded;
  }

  // Sends to the client, paced to throttle_bytes_per_s in slices of a twentieth of a second.
  bool ToClient(std::string_view bytes) {
    const std::uint64_t rate = plan_.throttle_bytes_per_s;
    if (rate == 0) return SendAll(client_.get(), bytes, env_.stop_fd);
    const std::size_t slice = static_cast<std::size_t>(std::max<std::uint64_t>(1, rate / 20));
    while (!bytes.empty()) {
      auto now = SteadyClock::now();
      if (next_send_ > now) {
        const auto wait = std::chrono::ceil<milliseconds>(next_send_ - now);
        if (WaitForStop(env_.stop_fd, wait) == WaitResult::kStopped) return false;
        now = SteadyClock::now();
      }
      const std::size_t n = std::min(slice, bytes.size());
      if (!SendAll(client_.get(), bytes.substr(0, n), env_.stop_fd)) return false;
      bytes.remove_prefix(n);
      // Measured from the later of the schedule and now, so a stall earns no burst afterwards.
      const auto cost = std::chrono::nanoseconds(
          static_cast<std::int64_t>(static_cast<double>(n) * 1e9 / static_cast<double>(rate)));
      next_send_ = std::max(next_send_, now) + cost;
    }
    return true;
  }

  // Answers plan_.status itself after reading the request head, so the client is never reset
  // for unread input and sees a complete response.
  void AnswerStatus() {
    ReadRequestHead();
    const std::string body =
        R"({"error":"injected by the fault proxy","status":)" + std::to_string(plan_.status) + "}";
    std::string head =
        "HTTP/1.1 " + std::to_string(plan_.status) + " " + std::string(ReasonPhrase(plan_.status)) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n";
    if (plan_.retry_after_s)
      head += "Retry-After: " + std::to_string(*plan_.retry_after_s) + "\r\n";
    head += "Connection: close\r\n\r\n";
    ++c_.statuses;
    if (!SendAll(client_.get(), head + body, env_.stop_fd)) return;
    ::shutdown(client_.get(), SHUT_WR);
    DrainUntilClosed(client_.get(), env_.stop_fd, kLingerLimit);
  }

  void ReadRequestHead() {
    const auto deadline = SteadyClock::now() + kLingerLimit;
    std::string head;
    char buf[4096];
    while (head.size() < kMaxHeadBytes && head.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(client_.get(), buf, sizeof buf, 0);
      if (n > 0) {
        head.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return;
      const auto left = std::chrono::ceil<milliseconds>(deadline - SteadyClock::now()).count();
      if (left <= 0) return;
      std::array<pollfd, 2> p{{{.fd = client_.get(), .events = POLLIN, .revents = 0},
                               {.fd = env_.stop_fd, .events = POLLIN, .revents = 0}}};
      if (::poll(p.data(), p.size(), static_cast<int>(left)) > 0 && p[1].revents != 0) return;
    }
  }

  Fd client_;
  Fd upstream_;
  ConnectionPlan plan_;
  const ConnectionEnv& env_;
  Counters& c_;
  RequestTracker requests_;
  ResponseFramer framer_;
  std::uint64_t final_responses_ = 0;  // non-interim response heads seen
  bool in_first_ = false;              // the current body belongs to the first response
  std::uint64_t first_body_ = 0;       // body bytes of the first response sent so far
  std::uint64_t connection_body_ = 0;  // body bytes of all responses sent so far
  bool stalled_ = false;
  std::size_t next_flip_ = 0;  // index into the sorted plan_.flip_at
  SteadyClock::time_point next_send_{};
};

}  // namespace

ProxyStats Counters::Snapshot() const {
  ProxyStats s;
  s.connections = connections;
  s.upstream_connections = upstream_connections;
  s.upstream_failures = upstream_failures;
  s.body_bytes_to_client = body_bytes_to_client;
  s.drops = drops;
  s.truncations = truncations;
  s.stalls = stalls;
  s.flipped_bytes = flipped_bytes;
  s.statuses = statuses;
  s.etag_rewrites = etag_rewrites;
  s.resets = resets;
  s.refused_periods = refused_periods;
  s.faults_applied = s.drops + s.truncations + s.stalls + s.flipped_bytes + s.statuses +
                     s.etag_rewrites + s.resets + s.refused_periods;
  return s;
}

void ServeConnection(Fd client, ConnectionPlan plan, const ConnectionEnv& env) {
  Session(std::move(client), std::move(plan), env).Run();
}

}  // namespace uplift::faultlab
