// The server's HTTP layer: Boost.Beast/Asio with C++20 coroutines behind plain value types, so
// the API handlers (and their tests) never see Beast. Keep-alive, optional TLS, limits on header
// and body sizes and on time, streamed bodies for uploads, files sent with sendfile (full and
// Range responses), graceful shutdown that answers every request already read.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "uplift/base/result.hpp"

namespace uplift::server {

enum class HttpErrc : int {
  kListen = 130,  // bind/listen failed (address in use, permission)
  kTls = 131,     // certificate or key could not be loaded
  kConfig = 132,  // an option out of range
};

struct HttpHeader {
  std::string name;  // lower-case in requests; as given in responses
  std::string value;
};

struct HttpRequest {
  std::string method;  // as received, e.g. "GET"
  std::string target;  // the raw request-target, e.g. "/api/device/v1/checkin?x=1"
  std::string path;    // target before '?', not decoded
  std::string query;   // target after '?', not decoded ("" if none)
  std::vector<HttpHeader> headers;
  // Route parameters: "{name}" segments of the matched pattern, in order (raw segment text).
  std::vector<std::pair<std::string, std::string>> params;
  // The body of routes without stream_body (at most RouteOptions::max_body_bytes).
  std::string body;
  // Routes with stream_body: the body was written to this file (in HttpServerOptions::temp_dir)
  // while it arrived. The server deletes it after the handler returns; a handler that keeps the
  // bytes renames the file away first.
  std::string body_file;
  std::uint64_t body_size = 0;
  std::string remote_address;  // "ip:port"

  // First header with this lower-case name, or nullptr.
  const std::string* Header(std::string_view lower_name) const;
  // Route parameter by name ("" if absent).
  std::string_view Param(std::string_view name) const;
  // Query parameter by name, percent-decoded (nullopt if absent).
  std::optional<std::string> QueryParam(std::string_view name) const;
};

// A byte range of a file to send (sendfile on plain TCP, read+write under TLS).
struct FileBody {
  std::string path;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct HttpResponse {
  int status = 200;
  std::vector<HttpHeader> headers;  // Content-Length is set by the server
  std::string body;
  std::optional<FileBody> file;  // when set, sent instead of `body`

  HttpResponse& Set(std::string name, std::string value) {
    headers.push_back({std::move(name), std::move(value)});
    return *this;
  }
};

using Handler = std::function<HttpResponse(HttpRequest&)>;

struct RouteOptions {
  // Runs on the blocking pool rather than on an I/O thread: handlers that wait for a durable
  // commit, read or write large files, or talk to the database synchronously.
  bool blocking = false;
  // Runs on the compute pool (one thread per core): CPU-bound handlers that must not hold up the
  // other connections of an I/O thread, without the blocking pool's many threads.
  bool compute = false;
  // The body is written to a temporary file as it arrives (uploads); else it is held in memory.
  bool stream_body = false;
  // Larger bodies are refused with 413 before they are read.
  std::uint64_t max_body_bytes = 1 << 20;
};

struct Route {
  std::string method;   // "GET", "POST", ... (HEAD is served by GET routes)
  std::string pattern;  // "/api/admin/v1/releases/{id}": literal segments and {name} segments
  Handler handler;
  RouteOptions options = {};
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: an ephemeral port (see HttpServer::port)
  int io_threads = 0;      // 0: one per core
  int blocking_threads = 64;
  int compute_threads = 0;  // 0: one per core
  int listen_backlog = 4096;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::seconds header_timeout{30};  // to read a request's header once it has started
  std::chrono::seconds idle_timeout{120};   // a keep-alive connection with no request
  std::chrono::seconds body_timeout{600};   // a whole body (uploads can be large)
  std::size_t max_connections = 50'000;     // accepted beyond this: closed at once
  std::string temp_dir = "/tmp";            // streamed bodies (same file system as artifacts)
  // TLS when both are set (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Called after each response is written (access log, metrics). Must be thread-safe.
  std::function<void(const HttpRequest&, int status, std::uint64_t bytes_sent,
                     std::chrono::nanoseconds duration)>
      on_response;
};

class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> Start(HttpServerOptions options,
                                                   std::vector<Route> routes);
  virtual ~HttpServer() = default;
  virtual std::uint16_t port() const = 0;
  // Stops accepting, closes idle connections, lets every request already read get its response
  // (waiting at most `grace`), then stops the threads. Idempotent.
  virtual void Stop(std::chrono::milliseconds grace = std::chrono::seconds(10)) = 0;
  virtual std::size_t open_connections() const = 0;
};

// The JSON error body every API answers with: {"error": {"code": CODE, "message": MESSAGE}}.
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message);
// A JSON body (already serialised) with Content-Type application/json.
HttpResponse JsonResponse(int status, std::string body);

// Serves a file (artifacts) honouring HEAD, Range (one range), If-Range, If-None-Match and
// If-Modified-Since: 200, 206, 304, 416 with the right headers (ETag, Accept-Ranges,
// Content-Range, Last-Modified, Cache-Control: `cache_control`). `etag` is a strong ETag
// including its quotes.
HttpResponse ServeFile(const HttpRequest& request, const std::string& path, std::uint64_t size,
                       std::string_view etag, std::int64_t mtime_unix,
                       std::string_view content_type = "application/octet-stream",
                       std::string_view cache_control = "private, max-age=0");

}  // namespace uplift::server

UPLIFT_ERROR_DOMAIN(uplift::server::HttpErrc, "http")
