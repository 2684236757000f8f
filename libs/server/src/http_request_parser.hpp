// The request side of the server: Beast's parser feeding the connection's HttpRequest, and the
// temporary file of a streamed body. Beast inside: include from http_server.cpp only.
#pragma once

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

#include "uplift/base/errors.hpp"
#include "uplift/base/io.hpp"
#include "uplift/server/http.hpp"
#include "uplift/server/http_route.hpp"

namespace uplift::server::detail {

namespace beast = boost::beast;
namespace http = beast::http;

inline std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

inline char LowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

// A streamed body's file: created O_EXCL with a random name, 0600; unlinked when destroyed.
class TempFile {
 public:
  TempFile() = default;
  TempFile(TempFile&& o) noexcept : path_(std::exchange(o.path_, {})), fd_(std::move(o.fd_)) {}
  TempFile& operator=(TempFile&& o) noexcept {
    Remove();
    path_ = std::exchange(o.path_, {});
    fd_ = std::move(o.fd_);
    return *this;
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { Remove(); }

  [[nodiscard]] static Result<TempFile> Create(const std::string& dir) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (int attempt = 0; attempt < 8; ++attempt) {
      std::array<unsigned char, 12> random{};
      if (::getrandom(random.data(), random.size(), 0) != static_cast<ssize_t>(random.size())) {
        return ErrnoError("getrandom for a temporary body file", errno);
      }
      std::string path = dir + "/uplift-body-";
      for (const unsigned char b : random) {
        path += kHex[b >> 4];
        path += kHex[b & 0xF];
      }
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd >= 0) {
        TempFile t;
        t.path_ = std::move(path);
        t.fd_ = Fd(fd);
        return t;
      }
      if (errno != EEXIST) return ErrnoError("open " + path, errno);
    }
    return Error(base::Errc::kIo, "no free temporary file name in " + dir);
  }

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  void CloseFd() { fd_ = Fd(); }
  void Remove() {
    fd_ = Fd();
    if (!path_.empty()) {
      ::unlink(path_.c_str());  // ENOENT: the handler renamed it away, as it may
      path_.clear();
    }
  }

 private:
  std::string path_;
  Fd fd_;
};

// Parses one request straight into the connection's HttpRequest (reusing its capacity) and
// hands the body to a string, a file or nowhere. Beast bounds the header (header_limit) and
// chunked bodies (body_limit); Content-Length is checked by the caller before the body is read.
class RequestParser final : public http::basic_parser<true> {
 public:
  enum class Sink { kString, kFile };

  explicit RequestParser(HttpRequest& request) : request_(request) {}

  void SetSink(Sink sink, int fd, std::size_t reserve) {
    sink_ = sink;
    fd_ = fd;
    if (sink == Sink::kString) request_.body.reserve(reserve);
  }
  bool expect_continue() const { return expect_continue_; }
  int version() const { return version_; }
  std::uint64_t received() const { return received_; }
  int write_errno() const { return write_errno_; }

 private:
  void on_request_impl(http::verb, beast::string_view method, beast::string_view target,
                       int version, boost::system::error_code& ec) override {
    request_.method.assign(method.data(), method.size());
    request_.target.assign(target.data(), target.size());
    const auto parts = SplitTarget(View(target));
    if (!parts) {
      ec = http::error::bad_target;
      return;
    }
    request_.path.assign(parts->path);
    request_.query.assign(parts->query);
    version_ = version;
  }
  void on_response_impl(int, beast::string_view, int, boost::system::error_code& ec) override {
    ec = http::error::bad_version;  // never called for a request parser
  }
  void on_field_impl(http::field field, beast::string_view name, beast::string_view value,
                     boost::system::error_code&) override {
    HttpHeader& h = request_.headers.emplace_back();
    h.name.resize(name.size());
    std::transform(name.begin(), name.end(), h.name.begin(), LowerAscii);
    h.value.assign(value.data(), value.size());
    if (field == http::field::expect && EqualsIgnoreCase(View(value), "100-continue")) {
      expect_continue_ = true;
    }
    if (field == http::field::transfer_encoding) has_transfer_encoding_ = true;
  }
  void on_header_impl(boost::system::error_code& ec) override {
    // A Transfer-Encoding other than chunked leaves the body length unknown: refusing it is the
    // only way not to read the body as the next request (RFC 9112 §6.3).
    if (has_transfer_encoding_ && !chunked()) ec = http::error::bad_transfer_encoding;
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         boost::system::error_code&) override {}
  std::size_t on_body_impl(beast::string_view body, boost::system::error_code& ec) override {
    return Consume(body, ec);
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view,
                            boost::system::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                 boost::system::error_code& ec) override {
    return Consume(body, ec);
  }
  void on_finish_impl(boost::system::error_code&) override {}

  std::size_t Consume(beast::string_view body, boost::system::error_code& ec) {
    received_ += body.size();
    if (sink_ == Sink::kString) {
      request_.body.append(body.data(), body.size());
      return body.size();
    }
    const char* p = body.data();
    std::size_t left = body.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        write_errno_ = n < 0 ? errno : EIO;
        ec = boost::system::errc::make_error_code(boost::system::errc::io_error);
        return 0;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    return body.size();
  }

  HttpRequest& request_;
  Sink sink_ = Sink::kString;
  int fd_ = -1;
  int version_ = 11;
  bool expect_continue_ = false;
  bool has_transfer_encoding_ = false;
  std::uint64_t received_ = 0;
  int write_errno_ = 0;
};

}  // namespace uplift::server::detail
