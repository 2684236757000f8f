// The Beast-free parts of the HTTP layer: request accessors, the JSON error body, file responses
// and response serialisation.
#include <algorithm>

#include "http_internal.hpp"
#include "uplift/server/http.hpp"
#include "uplift/server/http_range.hpp"
#include "uplift/server/http_route.hpp"

namespace uplift::server {
namespace {

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsSafeValue(std::string_view v) {
  for (const char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

bool IsServerOwned(std::string_view name) {
  for (const std::string_view owned :
       {"content-length", "transfer-encoding", "connection", "date", "server"}) {
    if (EqualsIgnoreCase(name, owned)) return true;
  }
  return false;
}

// The length of the valid UTF-8 sequence at s[i], or 0 if the bytes there are not one.
std::size_t Utf8SequenceLength(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return n;
}

void AppendDecimal(std::string& out, std::uint64_t v) {
  char buf[24];
  std::size_t n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out.push_back(buf[--n]);
}

}  // namespace

const std::string* HttpRequest::Header(std::string_view lower_name) const {
  for (const HttpHeader& h : headers) {
    if (h.name == lower_name) return &h.value;
  }
  return nullptr;
}

std::string_view HttpRequest::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

std::optional<std::string> HttpRequest::QueryParam(std::string_view name) const {
  return FindQueryParam(query, name);
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body.reserve(40 + code.size() + message.size());
  r.body += R"({"error": {"code": ")";
  detail::AppendJsonEscaped(r.body, code);
  r.body += R"(", "message": ")";
  detail::AppendJsonEscaped(r.body, message);
  r.body += "\"}}";
  r.headers.push_back({"Content-Type", "application/json"});
  return r;
}

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.push_back({"Content-Type", "application/json"});
  return r;
}

HttpResponse ServeFile(const HttpRequest& request, const std::string& path, std::uint64_t size,
                       std::string_view etag, std::int64_t mtime_unix,
                       std::string_view content_type, std::string_view cache_control) {
  FileConditions c;
  c.head = request.method == "HEAD";
  auto header = [&request](std::string_view name) -> std::optional<std::string_view> {
    const std::string* v = request.Header(name);
    if (v == nullptr) return std::nullopt;
    return std::string_view(*v);
  };
  c.range = header("range");
  c.if_range = header("if-range");
  c.if_none_match = header("if-none-match");
  c.if_modified_since = header("if-modified-since");
  const FileDecision d = EvaluateFileRequest(c, size, etag, mtime_unix);

  HttpResponse r;
  if (d.status == 416) {
    r = ErrorResponse(
        416, "range_not_satisfiable",
        "the requested range starts beyond the end of the " + std::to_string(size) + "-byte file");
    r.Set("Content-Range", "bytes */" + std::to_string(size));
  } else {
    r.status = d.status;
  }
  // 304 repeats the validators and caching headers a 200 would carry (RFC 9110 §15.4.5).
  r.Set("ETag", std::string(etag));
  r.Set("Last-Modified", FormatHttpDate(mtime_unix));
  r.Set("Cache-Control", std::string(cache_control));
  r.Set("Accept-Ranges", "bytes");
  if (d.status == 200 || d.status == 206) {
    r.Set("Content-Type", std::string(content_type));
    if (d.status == 206) {
      r.Set("Content-Range", "bytes " + std::to_string(d.offset) + "-" +
                                 std::to_string(d.offset + d.length - 1) + "/" +
                                 std::to_string(size));
    }
    r.file = FileBody{path, d.offset, d.length};
  }
  return r;
}

namespace detail {

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 507:
      return "Insufficient Storage";
    default:
      return "Unknown";
  }
}

bool IsValidFinalStatus(int status) { return status >= 200 && status <= 599; }

bool StatusHasBody(int status) { return status >= 200 && status != 204 && status != 304; }

bool HandlerRequestsClose(const std::vector<HttpHeader>& headers) {
  for (const HttpHeader& h : headers) {
    if (EqualsIgnoreCase(h.name, "connection") && EqualsIgnoreCase(h.value, "close")) return true;
  }
  return false;
}

void AppendResponseHead(std::string& out, int status, const std::vector<HttpHeader>& headers,
                        std::optional<std::uint64_t> content_length, ConnectionHeader connection,
                        std::string_view date) {
  out += "HTTP/1.1 ";
  AppendDecimal(out, static_cast<std::uint64_t>(status));
  out += ' ';
  out += ReasonPhrase(status);
  out += "\r\nServer: uplift\r\nDate: ";
  out += date;
  out += "\r\n";
  for (const HttpHeader& h : headers) {
    if (h.name.empty() || !std::all_of(h.name.begin(), h.name.end(), IsTokenChar) ||
        !IsSafeValue(h.value) || IsServerOwned(h.name)) {
      continue;
    }
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  if (content_length) {
    out += "Content-Length: ";
    AppendDecimal(out, *content_length);
    out += "\r\n";
  }
  if (connection == ConnectionHeader::kClose) out += "Connection: close\r\n";
  if (connection == ConnectionHeader::kKeepAlive) out += "Connection: keep-alive\r\n";
  out += "\r\n";
}

void AppendJsonEscaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else if (c >= 0x80) {
      const std::size_t n = Utf8SequenceLength(text, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD
        ++i;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
      continue;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
}

}  // namespace detail
}  // namespace uplift::server
