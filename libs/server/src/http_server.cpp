// The HTTP/1.1 server behind http.hpp: Boost.Beast's parser and Boost.Asio C++20 coroutines.
//
// Threads: one io_context per I/O thread (no strands, no locks on a connection's path: all of a
// connection's work runs on the thread that owns it), connections handed out round-robin by the
// acceptor on worker 0, and an asio::thread_pool for blocking routes. Timeouts are deadlines that
// a per-worker sweeper checks a few times a second, so arming one is a store, not a timer
// operation, and the same mechanism covers reads, writes, TLS and sendfile waits.
// docs/server-http.md describes the behaviour; http_types.cpp holds the Beast-free parts.
// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange (PEERS.md)
// clang-format on

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "http_internal.hpp"
#include "http_request_parser.hpp"
#include "uplift/base/io.hpp"
#include "uplift/server/http.hpp"
#include "uplift/server/http_range.hpp"
#include "uplift/server/http_route.hpp"

namespace uplift::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using TlsStream = ssl::stream<Socket>;
using detail::RequestParser;
using detail::TempFile;

constexpr std::size_t kFirstReadSize = 4096;
constexpr std::size_t kBodyReadSize = 64 * 1024;
constexpr std::size_t kIdleBufferCap = 64 * 1024;  // larger buffers are freed between requests
constexpr std::size_t kStringReserveCap = 256 * 1024;
constexpr std::size_t kTlsFileChunk = 256 * 1024;
constexpr std::size_t kMaxSendfileCall = 1 << 30;
constexpr std::uint64_t kSendfileYieldBytes = 8 << 20;  // then other connections get a turn
constexpr std::size_t kLingerBytes = 1 << 20;
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kMessagePathCap = 200;

auto Redirect(ErrorCode& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

std::string_view CachedHttpDate() {
  thread_local std::int64_t second = -1;
  thread_local std::string text;
  const std::int64_t now = ::time(nullptr);
  if (now != second) {
    text = FormatHttpDate(now);
    second = now;
  }
  return text;
}

std::string ShortPath(const std::string& path) {
  return path.size() <= kMessagePathCap ? path : path.substr(0, kMessagePathCap) + "...";
}

bool IsHttpParseError(const ErrorCode& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more;
}

// What the worker's sweeper and Stop() may do to a connection; everything else is private to
// the connection's coroutine. Only touched on the owning worker's thread.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void CancelIo() = 0;
  virtual void ForceClose() = 0;

  ConnectionBase* prev = nullptr;
  ConnectionBase* next = nullptr;
  Clock::time_point deadline = Clock::time_point::max();
  bool idle = false;  // between requests (or lingering): Stop() closes it at once
};

struct Worker {
  asio::io_context ioc{1};
  asio::executor_work_guard<Executor> guard = asio::make_work_guard(ioc);
  ConnectionBase* connections = nullptr;
  std::thread thread;

  void Link(ConnectionBase* c) {
    c->next = connections;
    if (connections != nullptr) connections->prev = c;
    connections = c;
  }
  void Unlink(ConnectionBase* c) {
    if (c->prev != nullptr) c->prev->next = c->next;
    if (c->next != nullptr) c->next->prev = c->prev;
    if (connections == c) connections = c->next;
    c->prev = c->next = nullptr;
  }
  template <class F>
  void ForEach(F f) {
    for (ConnectionBase* c = connections; c != nullptr;) {
      ConnectionBase* next = c->next;  // f may cancel, never unlink
      f(*c);
      c = next;
    }
  }
};

struct CompiledRoute {
  Handler handler;
  RouteOptions options;
};

template <class Stream>
class Connection;

class Server final : public HttpServer {
 public:
  Server(HttpServerOptions options, std::vector<Route> routes, Router router)
      : options_(std::move(options)),
        router_(std::move(router)),
        pool_(static_cast<std::size_t>(options_.blocking_threads)),
        compute_pool_(static_cast<std::size_t>(
            options_.compute_threads > 0 ? static_cast<unsigned>(options_.compute_threads)
                                         : std::max(1u, std::thread::hardware_concurrency()))) {
    for (Route& r : routes) routes_.push_back({std::move(r.handler), r.options});
    const auto shortest =
        std::min({options_.header_timeout, options_.idle_timeout, options_.body_timeout});
    sweep_interval_ =
        std::clamp<Clock::duration>(std::chrono::duration_cast<Clock::duration>(shortest) / 8,
                                    std::chrono::milliseconds(20), std::chrono::milliseconds(1000));
  }
  ~Server() override {
    Stop(std::chrono::seconds(10));  // the default of HttpServer::Stop
    acceptor_.reset();
    workers_.clear();
  }

  Status Init();
  std::uint16_t port() const override { return port_; }
  std::size_t open_connections() const override { return open_.load(); }
  void Stop(std::chrono::milliseconds grace) override;

 private:
  template <class Stream>
  friend class Connection;

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Sweep(Worker& worker);
  template <class Stream>
  asio::awaitable<void> RunConnection(Worker& worker, Socket socket);
  HttpResponse Call(const CompiledRoute& route, HttpRequest& request) const;
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }
  void ConnectionClosed();
  void WaitForConnections(std::optional<Clock::time_point> until);
  void PostToWorkers(const std::function<void(Worker&)>& f);

  HttpServerOptions options_;
  Router router_;
  std::vector<CompiledRoute> routes_;
  std::unique_ptr<ssl::context> tls_;
  asio::thread_pool pool_;
  asio::thread_pool compute_pool_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Acceptor> acceptor_;  // on workers_[0]
  std::uint16_t port_ = 0;
  Clock::duration sweep_interval_{};

  std::atomic<std::size_t> open_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> force_closing_{false};
  std::mutex stop_mutex_;  // serialises Stop()
  bool stopped_ = false;
  std::mutex count_mutex_;
  std::condition_variable count_cv_;
};

template <class Stream>
class Connection final : public ConnectionBase {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Connection(Server& server, Worker& worker, Socket socket)
      : server_(server),
        worker_(worker),
        stream_(MakeStream(server, std::move(socket))),
        buffer_(server.options_.max_header_bytes + kBodyReadSize) {
    worker_.Link(this);
    ErrorCode ec;
    Lowest().native_non_blocking(true, ec);
    const auto peer = Lowest().remote_endpoint(ec);
    if (!ec) {
      remote_ = peer.address().is_v6() ? "[" + peer.address().to_string() + "]"
                                       : peer.address().to_string();
      remote_ += ":" + std::to_string(peer.port());
    }
  }
  ~Connection() override {
    worker_.Unlink(this);
    server_.ConnectionClosed();
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void CancelIo() override {
    ErrorCode ec;
    Lowest().cancel(ec);
  }
  void ForceClose() override {
    ErrorCode ec;
    Lowest().close(ec);
  }

  asio::awaitable<void> Run();

 private:
  static Stream MakeStream(Server& server, Socket socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *server.tls_);
    } else {
      return socket;
    }
  }
  Socket& Lowest() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }
  void Arm(Clock::duration d) { deadline = Clock::now() + d; }
  void Disarm() { deadline = Clock::time_point::max(); }
  void ResetRequest();

  asio::awaitable<bool> ServeOne(bool first);
  asio::awaitable<HttpResponse> InvokeBlocking(const CompiledRoute& route);
  asio::awaitable<bool> Respond(HttpResponse response, bool close, Clock::time_point start);
  asio::awaitable<bool> Write(std::string_view head, std::string_view body, bool more);
  asio::awaitable<bool> SendFile(int fd, std::uint64_t offset, std::uint64_t length);
  asio::awaitable<void> LingeringClose();

  Server& server_;
  Worker& worker_;
  Stream stream_;
  beast::flat_buffer buffer_;
  HttpRequest request_;
  std::string head_;
  std::string remote_;
  std::unique_ptr<char[]> tls_chunk_;
  std::uint64_t bytes_sent_ = 0;
  int version_ = 11;
  bool linger_ = false;  // we chose to close: drain what the client still sends (no RST)
};

template <class Stream>
void Connection<Stream>::ResetRequest() {
  HttpRequest& r = request_;
  r.method.clear();
  r.target.clear();
  r.path.clear();
  r.query.clear();
  r.headers.clear();
  r.params.clear();
  if (r.body.capacity() > kIdleBufferCap) {
    std::string().swap(r.body);
  } else {
    r.body.clear();
  }
  r.body_file.clear();
  r.body_size = 0;
  r.remote_address = remote_;
}

template <class Stream>
asio::awaitable<void> Connection<Stream>::Run() {
  const HttpServerOptions& o = server_.options_;
  if constexpr (kTls) {
    idle = true;  // no request yet: Stop() may close it
    Arm(o.header_timeout);
    ErrorCode ec;
    co_await stream_.async_handshake(ssl::stream_base::server, Redirect(ec));
    idle = false;
    if (ec) {
      ForceClose();
      co_return;
    }
  }
  for (bool first = true;; first = false) {
    if (!co_await ServeOne(first)) break;
  }
  if (!kTls && linger_) co_await LingeringClose();
  ForceClose();
}

// One request: header, route, limits, body, handler, response. False: close the connection.
template <class Stream>
asio::awaitable<bool> Connection<Stream>::ServeOne(bool first) {
  const HttpServerOptions& o = server_.options_;
  ErrorCode ec;
  if (buffer_.size() == 0) {
    if (server_.stopping()) co_return false;
    if (buffer_.capacity() > kIdleBufferCap) buffer_.shrink_to_fit();
    idle = true;
    Arm(first ? o.header_timeout : o.idle_timeout);
    const std::size_t n =
        co_await stream_.async_read_some(buffer_.prepare(kFirstReadSize), Redirect(ec));
    idle = false;
    if (ec) co_return false;
    buffer_.commit(n);
  }
  const Clock::time_point start = Clock::now();
  deadline = start + o.header_timeout;
  ResetRequest();
  RequestParser parser(request_);
  parser.header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  // The whole header nearly always came with the first read: parsing it in place skips the
  // composed read operation and its trip through the scheduler.
  const std::size_t used = parser.put(buffer_.data(), ec);
  buffer_.consume(used);
  if (ec == http::error::need_more) ec = {};
  if (!ec && !parser.is_header_done()) {
    co_await http::async_read_header(stream_, buffer_, parser, Redirect(ec));
  }
  if (ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      co_await Respond(ErrorResponse(431, "header_too_large",
                                     "the request header exceeds " +
                                         std::to_string(o.max_header_bytes) + " bytes"),
                       true, start);
    } else if (IsHttpParseError(ec)) {
      co_await Respond(ErrorResponse(400, "bad_request", "malformed request: " + ec.message()),
                       true, start);
    }
    co_return false;
  }
  version_ = parser.version();
  const bool keep_alive = parser.keep_alive();
  const auto content_length = parser.content_length();
  const bool has_body = parser.chunked() || (content_length && *content_length > 0);

  const Router::Match match =
      server_.router_.Find(request_.method, request_.path, &request_.params);
  if (match.outcome != Router::Outcome::kFound) {
    HttpResponse r;
    if (match.outcome == Router::Outcome::kNotFound) {
      r = ErrorResponse(404, "not_found", "no route for " + ShortPath(request_.path));
    } else {
      r = ErrorResponse(405, "method_not_allowed",
                        request_.method + " is not allowed on " + ShortPath(request_.path));
      r.Set("Allow", server_.router_.AllowedMethods(request_.path));
    }
    // An unread body would be taken for the next request: close instead of reading it.
    co_return co_await Respond(std::move(r), !keep_alive || has_body, start);
  }
  const CompiledRoute& route = server_.routes_[match.index];
  const std::uint64_t max_body = route.options.max_body_bytes;
  if (content_length && *content_length > max_body) {
    co_return co_await Respond(
        ErrorResponse(413, "body_too_large",
                      "the body of " + std::to_string(*content_length) +
                          " bytes exceeds the limit of " + std::to_string(max_body) + " bytes"),
        true, start);
  }

  TempFile temp;
  if (route.options.stream_body) {
    auto created = TempFile::Create(o.temp_dir);
    if (!created) {
      co_return co_await Respond(
          ErrorResponse(500, "internal_error",
                        "cannot store the body: " + created.error().message()),
          true, start);
    }
    temp = std::move(created).value();
    request_.body_file = temp.path();
    parser.SetSink(RequestParser::Sink::kFile, temp.fd(), 0);
  } else {
    const std::uint64_t expected = content_length.value_or(0);
    parser.SetSink(RequestParser::Sink::kString, -1,
                   static_cast<std::size_t>(std::min<std::uint64_t>(expected, kStringReserveCap)));
  }
  if (has_body) {
    if (parser.expect_continue() && version_ >= 11) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      if (!co_await Write(kContinue, {}, false)) co_return false;
    }
    parser.body_limit(max_body);
    buffer_.reserve(kBodyReadSize);
    Arm(o.body_timeout);
    co_await http::async_read(stream_, buffer_, parser, Redirect(ec));
    if (ec) {
      if (ec == http::error::body_limit) {
        co_await Respond(ErrorResponse(413, "body_too_large",
                                       "the chunked body exceeds the limit of " +
                                           std::to_string(max_body) + " bytes"),
                         true, start);
      } else if (parser.write_errno() != 0) {
        co_await Respond(ErrorResponse(parser.write_errno() == ENOSPC ? 507 : 500, "internal_error",
                                       "cannot store the body: " +
                                           std::string(std::strerror(parser.write_errno()))),
                         true, start);
      } else if (IsHttpParseError(ec)) {
        co_await Respond(ErrorResponse(400, "bad_request", "malformed body: " + ec.message()), true,
                         start);
      }
      co_return false;
    }
  }
  request_.body_size = parser.received();
  temp.CloseFd();

  Disarm();
  HttpResponse response;
  if (route.options.blocking || route.options.compute) {
    response = co_await InvokeBlocking(route);
  } else {
    response = server_.Call(route, request_);
  }
  temp.Remove();
  co_return co_await Respond(std::move(response), !keep_alive, start);
}

template <class Stream>
asio::awaitable<HttpResponse> Connection<Stream>::InvokeBlocking(const CompiledRoute& route) {
  try {
    co_return co_await asio::co_spawn(
        route.options.blocking ? server_.pool_.get_executor()
                               : server_.compute_pool_.get_executor(),
        [this, &route]() -> asio::awaitable<HttpResponse> {
          co_return server_.Call(route, request_);
        },
        asio::use_awaitable);
  } catch (...) {
  }
  co_return ErrorResponse(500, "internal_error", "the blocking pool failed");
}

template <class Stream>
asio::awaitable<bool> Connection<Stream>::Respond(HttpResponse response, bool close,
                                                  Clock::time_point start) {
  if (!detail::IsValidFinalStatus(response.status)) {
    response = ErrorResponse(500, "internal_error", "the handler returned an invalid status");
  }
  close = close || server_.stopping() || detail::HandlerRequestsClose(response.headers);
  const bool has_body = detail::StatusHasBody(response.status);
  Fd file;
  if (response.file && has_body) {
    const FileBody& f = *response.file;
    file = Fd(::open(f.path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!file.valid()) {
      response = errno == ENOENT ? ErrorResponse(404, "not_found", "the file is gone")
                                 : ErrorResponse(500, "internal_error", "cannot open the file");
    } else if (::fstat(file.get(), &st) != 0 || f.offset > static_cast<std::uint64_t>(st.st_size) ||
               f.length > static_cast<std::uint64_t>(st.st_size) - f.offset) {
      file = Fd();
      response = ErrorResponse(500, "internal_error", "the file is shorter than the response");
    }
  }
  std::optional<std::uint64_t> length;
  if (has_body) length = file.valid() ? response.file->length : response.body.size();
  const auto connection = close           ? detail::ConnectionHeader::kClose
                          : version_ < 11 ? detail::ConnectionHeader::kKeepAlive
                                          : detail::ConnectionHeader::kNone;
  head_.clear();
  detail::AppendResponseHead(head_, response.status, response.headers, length, connection,
                             CachedHttpDate());
  bytes_sent_ = 0;
  bool ok = false;
  if (!has_body || request_.method == "HEAD") {
    ok = co_await Write(head_, {}, false);
  } else if (file.valid()) {
    ok = co_await Write(head_, {}, true);
    if (ok) ok = co_await SendFile(file.get(), response.file->offset, response.file->length);
  } else {
    ok = co_await Write(head_, response.body, false);
  }
  Disarm();
  if (server_.options_.on_response) {
    server_.options_.on_response(request_, response.status, bytes_sent_, Clock::now() - start);
  }
  if (close) linger_ = ok;
  co_return ok && !close;
}

template <class Stream>
asio::awaitable<bool> Connection<Stream>::Write(std::string_view head, std::string_view body,
                                                bool more) {
  if constexpr (!kTls) {
    // Try at once: the socket buffer is nearly always free, and this skips the reactor.
    std::array<iovec, 2> iov{{{const_cast<char*>(head.data()), head.size()},
                              {const_cast<char*>(body.data()), body.size()}}};
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = body.empty() ? 1 : 2;
    ssize_t n;
    do {
      n = ::sendmsg(Lowest().native_handle(), &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) co_return false;
    const auto sent = static_cast<std::size_t>(std::max<ssize_t>(n, 0));
    bytes_sent_ += sent;
    if (sent >= head.size()) {
      body.remove_prefix(sent - head.size());
      head = {};
    } else {
      head.remove_prefix(sent);
    }
    if (head.empty() && body.empty()) co_return true;
  }
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head.data(), head.size()),
                                                  asio::buffer(body.data(), body.size())};
  Arm(server_.options_.header_timeout);
  ErrorCode ec;
  const std::size_t n = co_await asio::async_write(stream_, buffers, Redirect(ec));
  bytes_sent_ += n;
  co_return !ec;
}

template <class Stream>
asio::awaitable<bool> Connection<Stream>::SendFile(int fd, std::uint64_t offset,
                                                   std::uint64_t length) {
  const auto send_timeout = server_.options_.header_timeout;
  ErrorCode ec;
  if constexpr (kTls) {
    if (!tls_chunk_) tls_chunk_ = std::make_unique_for_overwrite<char[]>(kTlsFileChunk);
    while (length > 0) {
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(length, kTlsFileChunk));
      const ssize_t n = ::pread(fd, tls_chunk_.get(), want, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) co_return false;
      Arm(send_timeout);
      const auto chunk = static_cast<std::size_t>(n);
      co_await asio::async_write(stream_, asio::buffer(tls_chunk_.get(), chunk), Redirect(ec));
      if (ec) co_return false;
      bytes_sent_ += chunk;
      offset += chunk;
      length -= chunk;
    }
    co_return true;
  } else {
    auto off = static_cast<off_t>(offset);
    std::uint64_t since_yield = 0;
    while (length > 0) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(length, kMaxSendfileCall));
      const ssize_t n = ::sendfile(Lowest().native_handle(), fd, &off, want);
      if (n > 0) {
        const auto sent = static_cast<std::uint64_t>(n);
        length -= sent;
        bytes_sent_ += sent;
        since_yield += sent;
        if (since_yield >= kSendfileYieldBytes && length > 0) {
          since_yield = 0;
          co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        }
        continue;
      }
      if (n == 0) co_return false;  // the file shrank since it was opened
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) co_return false;
      since_yield = 0;
      Arm(send_timeout);
      co_await Lowest().async_wait(Socket::wait_write, Redirect(ec));
      if (ec) co_return false;
    }
    co_return true;
  }
}

// After answering with "Connection: close" while the client may still be sending (an unread
// body, pipelined requests), closing at once would send RST and could destroy the response in
// the client's receive queue. Stop sending, then drain for a bounded time and amount.
template <class Stream>
asio::awaitable<void> Connection<Stream>::LingeringClose() {
  ErrorCode ec;
  Lowest().shutdown(Socket::shutdown_send, ec);
  if (ec) co_return;
  idle = true;
  Arm(kLingerTime);
  std::size_t drained = 0;
  std::array<char, 16 * 1024> sink{};
  while (drained < kLingerBytes && !server_.stopping()) {
    const std::size_t n = co_await Lowest().async_read_some(asio::buffer(sink), Redirect(ec));
    if (ec) break;
    drained += n;
  }
}

Status Server::Init() {
  const HttpServerOptions& o = options_;
  ErrorCode ec;
  const auto address = asio::ip::make_address(o.address, ec);
  if (ec) return Error(HttpErrc::kConfig, "address \"" + o.address + "\" is not an IP address");
  if (!o.tls_cert_file.empty()) {
    tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                      ec);
    tls_->use_certificate_chain_file(o.tls_cert_file, ec);
    if (ec) return Error(HttpErrc::kTls, "certificate " + o.tls_cert_file + ": " + ec.message());
    tls_->use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
    if (ec) return Error(HttpErrc::kTls, "private key " + o.tls_key_file + ": " + ec.message());
  }
  const int threads = o.io_threads > 0
                          ? o.io_threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>());

  const tcp::endpoint endpoint(address, o.port);
  const std::string where = o.address + ":" + std::to_string(o.port);
  acceptor_ = std::make_unique<Acceptor>(workers_[0]->ioc);
  acceptor_->open(endpoint.protocol(), ec);
  if (ec) return Error(HttpErrc::kListen, "socket for " + where + ": " + ec.message());
  acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  acceptor_->bind(endpoint, ec);
  if (ec) return Error(HttpErrc::kListen, "bind " + where + ": " + ec.message());
  acceptor_->listen(o.listen_backlog, ec);
  if (ec) return Error(HttpErrc::kListen, "listen " + where + ": " + ec.message());
  port_ = acceptor_->local_endpoint(ec).port();

  asio::co_spawn(workers_[0]->ioc, AcceptLoop(), asio::detached);
  for (auto& w : workers_) {
    asio::co_spawn(w->ioc, Sweep(*w), asio::detached);
    w->thread = std::thread([&ioc = w->ioc] {
      // sendfile() to a reset peer raises SIGPIPE (there is no MSG_NOSIGNAL for it); blocked
      // here it stays pending on this thread instead of killing the process.
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (...) {  // a handler's escaped exception must not end the worker
        }
      }
    });
  }
  return Ok();
}

asio::awaitable<void> Server::AcceptLoop() {
  std::size_t next = 0;
  asio::steady_timer backoff(workers_[0]->ioc);
  for (;;) {
    Worker& worker = *workers_[next];
    next = (next + 1) % workers_.size();
    ErrorCode ec;
    Socket socket = co_await acceptor_->async_accept(worker.ioc, Redirect(ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping()) co_return;
      // Out of descriptors (or a transient error): pause rather than spin on the backlog.
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(Redirect(ec));
      continue;
    }
    if (stopping() || open_.load(std::memory_order_relaxed) >= options_.max_connections) {
      socket.close(ec);
      continue;
    }
    open_.fetch_add(1, std::memory_order_relaxed);
    socket.set_option(tcp::no_delay(true), ec);
    if (tls_) {
      asio::co_spawn(worker.ioc, RunConnection<TlsStream>(worker, std::move(socket)),
                     asio::detached);
    } else {
      asio::co_spawn(worker.ioc, RunConnection<Socket>(worker, std::move(socket)), asio::detached);
    }
  }
}

template <class Stream>
asio::awaitable<void> Server::RunConnection(Worker& worker, Socket socket) {
  // Constructed here, on the worker's thread, so its registration needs no lock.
  Connection<Stream> connection(*this, worker, std::move(socket));
  try {
    co_await connection.Run();
  } catch (...) {  // e.g. bad_alloc: lose this connection, not the process
  }
}

asio::awaitable<void> Server::Sweep(Worker& worker) {
  asio::steady_timer timer(worker.ioc);
  for (;;) {
    timer.expires_after(sweep_interval_);
    ErrorCode ec;
    co_await timer.async_wait(Redirect(ec));
    if (ec) co_return;
    const Clock::time_point now = Clock::now();
    worker.ForEach([now](ConnectionBase& c) {
      if (c.deadline <= now) c.CancelIo();
    });
  }
}

HttpResponse Server::Call(const CompiledRoute& route, HttpRequest& request) const {
  if (force_closing_.load()) {
    return ErrorResponse(503, "unavailable", "the server is shutting down");
  }
  try {
    return route.handler(request);
  } catch (...) {
    return ErrorResponse(500, "internal_error", "the request handler failed");
  }
}

void Server::ConnectionClosed() {
  if (open_.fetch_sub(1) == 1 && stopping()) {
    const std::lock_guard lock(count_mutex_);
    count_cv_.notify_all();
  }
}

void Server::WaitForConnections(std::optional<Clock::time_point> until) {
  std::unique_lock lock(count_mutex_);
  const auto none_open = [this] { return open_.load() == 0; };
  if (until) {
    count_cv_.wait_until(lock, *until, none_open);
  } else {
    count_cv_.wait(lock, none_open);
  }
}

void Server::PostToWorkers(const std::function<void(Worker&)>& f) {
  for (auto& w : workers_) asio::post(w->ioc, [f, &worker = *w] { f(worker); });
}

void Server::Stop(std::chrono::milliseconds grace) {
  const std::lock_guard lock(stop_mutex_);
  if (stopped_ || workers_.empty()) {
    stopped_ = true;
    return;
  }
  stopping_.store(true);
  const auto deadline = Clock::now() + grace;
  asio::post(workers_[0]->ioc, [this] {
    ErrorCode ec;
    acceptor_->close(ec);
  });
  // Idle connections close now; those with a request in flight answer it with
  // "Connection: close" (Respond checks stopping()).
  PostToWorkers([](Worker& w) {
    w.ForEach([](ConnectionBase& c) {
      if (c.idle) c.CancelIo();
    });
  });
  WaitForConnections(deadline);
  if (open_.load() != 0) {
    // Grace is over: blocking handlers not yet started are answered 503 without running, and
    // every socket is closed. Handlers already running cannot be interrupted; we wait for them.
    force_closing_.store(true);
    PostToWorkers([](Worker& w) { w.ForEach([](ConnectionBase& c) { c.ForceClose(); }); });
    WaitForConnections(std::nullopt);
  }
  for (auto& w : workers_) {
    w->guard.reset();
    w->ioc.stop();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  pool_.join();
  compute_pool_.join();
  stopped_ = true;
}

Status ValidateOptions(const HttpServerOptions& o) {
  auto bad = [](const std::string& what) { return Error(HttpErrc::kConfig, what); };
  if (o.io_threads < 0 || o.io_threads > 1024) return bad("io_threads must be in [0, 1024]");
  if (o.compute_threads < 0 || o.compute_threads > 256) {
    return bad("compute_threads must be in [0, 256]");
  }
  if (o.blocking_threads < 1 || o.blocking_threads > 4096) {
    return bad("blocking_threads must be in [1, 4096]");
  }
  if (o.listen_backlog < 1) return bad("listen_backlog must be positive");
  if (o.max_header_bytes < 256 || o.max_header_bytes > (1u << 20)) {
    return bad("max_header_bytes must be in [256, 1 MiB], got " +
               std::to_string(o.max_header_bytes));
  }
  if (o.header_timeout.count() <= 0 || o.idle_timeout.count() <= 0 || o.body_timeout.count() <= 0) {
    return bad("timeouts must be positive");
  }
  if (o.max_connections == 0) return bad("max_connections must be positive");
  struct stat st {};
  if (o.temp_dir.empty() || ::stat(o.temp_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return bad("temp_dir \"" + o.temp_dir + "\" is not a directory");
  }
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return bad("TLS needs both tls_cert_file and tls_key_file");
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                      std::vector<Route> routes) {
  UPLIFT_TRY(ValidateOptions(options));
  Router router;
  for (const Route& r : routes) {
    if (!r.handler) return Error(HttpErrc::kConfig, "route " + r.pattern + " has no handler");
    const Status added = router.Add(r.method, r.pattern);
    if (!added) return Error(HttpErrc::kConfig, added.error().message());
  }
  auto server = std::make_unique<Server>(std::move(options), std::move(routes), std::move(router));
  UPLIFT_TRY(server->Init());
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace uplift::server
