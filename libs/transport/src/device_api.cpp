#include "uplift/transport/device_api.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <ctime>
#include <mutex>

#include "uplift/base/errors.hpp"
#include "uplift/crypto/kdf.hpp"
#include "uplift/format/device_auth.hpp"
#include "uplift/format/errors.hpp"
#include "uplift/transport/errors.hpp"
#include "uplift/transport/http_headers.hpp"

namespace uplift::transport {

struct DeviceApiClient::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

NetFailure MapCurl(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return NetFailure::kResolve;
    case CURLE_COULDNT_CONNECT:
      return NetFailure::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return NetFailure::kTimeout;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
      return NetFailure::kReset;
    case CURLE_SSL_CONNECT_ERROR:
      return NetFailure::kTlsHandshake;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
      return NetFailure::kTlsTrust;
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
      return NetFailure::kProtocol;
    default:
      return NetFailure::kOther;
  }
}

struct Response {
  int status = 0;
  Bytes body;
  bool body_too_large = false;
  std::optional<std::int64_t> retry_after;
};

std::size_t OnBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto& r = *static_cast<Response*>(user);
  const std::size_t len = size * n;
  // Bounded: a hostile or broken server (a proxy's HTML page) cannot grow memory. The rest is
  // drained so the connection stays usable; request_timeout bounds the time.
  if (r.body.size() + len > format::kMaxApiBodyBytes) {
    r.body_too_large = true;
  } else {
    const auto* p = reinterpret_cast<const std::uint8_t*>(data);
    r.body.insert(r.body.end(), p, p + len);
  }
  return len;
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto& r = *static_cast<Response*>(user);
  const std::string_view line(data, size * n);
  if (ParseStatusLine(line)) r.retry_after.reset();  // a new response (after a 100 Continue)
  if (const auto h = ParseHeaderLine(line); h && h->name == "retry-after") {
    r.retry_after = ParseRetryAfter(h->value, static_cast<std::int64_t>(std::time(nullptr)));
  }
  return size * n;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

void Configure(CURL* h, const DeviceApiOptions& o) {
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // a signed POST is never redirected
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(o.request_timeout.count()));
  curl_easy_setopt(h, CURLOPT_USERAGENT, o.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  if (!o.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, o.ca_file.c_str());
  if (!o.pinned_public_key.empty()) {
    curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, o.pinned_public_key.c_str());
  }
  if (!o.proxy.empty()) curl_easy_setopt(h, CURLOPT_PROXY, o.proxy.c_str());
}

// One POST; a network failure is returned as the error it maps to (kUnavailable or fatal).
Result<Response> Post(CURL* h, const std::string& url, std::string_view what,
                      const std::vector<std::string>& extra_headers, const std::string& body) {
  Response r;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add = [&](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  };
  add("Content-Type: application/json");
  add("Accept: application/json");
  add("Expect:");  // no 100-continue round trip for small bodies
  for (const auto& line : extra_headers) add(line);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
  const CURLcode rc = curl_easy_perform(h);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, nullptr);
  if (rc != CURLE_OK) {
    Attempt a;
    a.net = MapCurl(rc);
    a.detail = curl_easy_strerror(rc);
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
      return Error(Errc::kBadUrl, std::string(what) + ": " + a.detail);
    }
    if (Classify(a) == Verdict::kRetry) {
      return Error(base::Errc::kUnavailable, std::string(what) + ": " + DescribeAttempt(a));
    }
    return AttemptError(a).Context(what);
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  r.status = static_cast<int>(status);
  return r;
}

std::string Quote(ByteView body) {
  std::string s(AsChars(body.first(std::min<std::size_t>(body.size(), 200))));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return s;
}

}  // namespace

NonceSource RandomNonces() {
  return []() -> Result<std::string> {
    UPLIFT_ASSIGN(const Bytes b, crypto::RandomBytes(16));
    return ToHex(b);
  };
}

std::vector<std::string> SignedHeaderLines(const DeviceCredentials& c, std::string_view method,
                                           std::string_view target, ByteView body,
                                           std::int64_t timestamp, std::string_view nonce) {
  const format::SignedRequest r{method, target, c.tenant, c.device_id, timestamp, nonce, body};
  return {"Uplift-Tenant: " + c.tenant, "Uplift-Device: " + c.device_id,
          "Uplift-Timestamp: " + std::to_string(timestamp), "Uplift-Nonce: " + std::string(nonce),
          "Uplift-Signature: " + format::SignRequest(c.credential, r)};
}

Error ResponseError(std::string_view what, int status, ByteView body) {
  std::string detail = "HTTP " + std::to_string(status);
  if (const auto e = format::DecodeApiError(body); e.ok()) {
    detail += " " + e->code;
    if (!e->message.empty()) detail += ": " + Quote(AsBytes(e->message));
  } else if (!body.empty()) {
    detail += " (" + Quote(body) + ")";
  }
  const std::string message = std::string(what) + ": " + detail;
  Attempt a;
  a.http_status = status;
  if (Classify(a) == Verdict::kRetry) return Error(base::Errc::kUnavailable, message);
  if (status == 400 || status == 413) return Error(base::Errc::kInvalidArgument, message);
  return Error(Errc::kRefused, message);
}

Result<std::string> ServerPathPrefix(std::string_view url) {
  const bool https = url.starts_with("https://");
  if (!https && !url.starts_with("http://")) {
    return Error(Errc::kBadUrl, "server URL must start with http:// or https://: " +
                                    std::string(url.substr(0, 200)));
  }
  const std::string_view rest = url.substr(https ? 8 : 7);
  const std::size_t slash = rest.find('/');
  const std::string_view host = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (path.ends_with('/')) path.remove_suffix(1);
  const auto bad = [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f ||
           c == '?' || c == '#';
  };
  if (host.empty() || url.size() > 1024 || std::any_of(url.begin(), url.end(), bad)) {
    return Error(Errc::kBadUrl,
                 "server URL must be http(s)://host[:port][/prefix] without query: " +
                     std::string(url.substr(0, 200)));
  }
  return std::string(path);
}

Result<format::EnrollResponse> DeviceApiClient::Enroll(const DeviceApiOptions& options,
                                                       const format::EnrollRequest& request) {
  UPLIFT_ASSIGN(const std::string prefix, ServerPathPrefix(options.server_url));
  GlobalInit();
  Handle handle;
  handle.curl = curl_easy_init();
  if (handle.curl == nullptr) return Error(base::Errc::kIo, "curl_easy_init failed");
  Configure(handle.curl, options);
  std::string base = options.server_url;
  while (base.ends_with('/')) base.pop_back();
  const std::string what = "POST " + prefix + std::string(kEnrollPath);
  UPLIFT_ASSIGN(const Response r, Post(handle.curl, base + std::string(kEnrollPath), what, {},
                                       format::EncodeEnrollRequest(request)));
  if (r.status != 200 && r.status != 201) return ResponseError(what, r.status, r.body);
  if (r.body_too_large) {
    return Error(format::Errc::kMalformedMessage, what + ": response body over 64 KiB");
  }
  auto resp = format::DecodeEnrollResponse(r.body);
  if (!resp.ok()) return std::move(resp).error().Context(what);
  if (resp->tenant != request.tenant || resp->device_id != request.device_id) {
    return Error(format::Errc::kMalformedMessage, what + ": the server enrolled " + resp->tenant +
                                                      "/" + resp->device_id + ", not " +
                                                      request.tenant + "/" + request.device_id);
  }
  return resp;
}

DeviceApiClient::DeviceApiClient(DeviceApiOptions options, std::string prefix,
                                 DeviceCredentials credentials, const Clock& clock,
                                 NonceSource nonces)
    : options_(std::move(options)),
      prefix_(std::move(prefix)),
      credentials_(std::move(credentials)),
      clock_(clock),
      nonces_(std::move(nonces)),
      handle_(std::make_unique<Handle>()) {}

DeviceApiClient::~DeviceApiClient() = default;

Result<std::unique_ptr<DeviceApiClient>> DeviceApiClient::Create(DeviceApiOptions options,
                                                                 DeviceCredentials credentials,
                                                                 const Clock& clock,
                                                                 NonceSource nonces) {
  UPLIFT_ASSIGN(std::string prefix, ServerPathPrefix(options.server_url));
  if (!format::IsValidTenantName(credentials.tenant)) {
    return Error(base::Errc::kInvalidArgument, "bad tenant name \"" + credentials.tenant + "\"");
  }
  if (!format::IsValidDeviceId(credentials.device_id)) {
    return Error(base::Errc::kInvalidArgument, "bad device id \"" + credentials.device_id + "\"");
  }
  if (credentials.credential.size() != format::kCredentialBytes) {
    return Error(base::Errc::kInvalidArgument,
                 "device credential must be " + std::to_string(format::kCredentialBytes) +
                     " bytes, found " + std::to_string(credentials.credential.size()));
  }
  GlobalInit();
  while (options.server_url.ends_with('/')) options.server_url.pop_back();
  std::unique_ptr<DeviceApiClient> c(new DeviceApiClient(
      std::move(options), std::move(prefix), std::move(credentials), clock, std::move(nonces)));
  c->handle_->curl = curl_easy_init();
  if (c->handle_->curl == nullptr) return Error(base::Errc::kIo, "curl_easy_init failed");
  Configure(c->handle_->curl, c->options_);
  return c;
}

Result<Bytes> DeviceApiClient::PostSigned(std::string_view path, const std::string& body) {
  const std::string target = prefix_ + std::string(path);
  const std::string what = "POST " + target;
  const std::string url = options_.server_url + std::string(path);
  // At most two attempts: the second only after stale_timestamp taught us the server's time.
  for (int attempt = 0;; ++attempt) {
    UPLIFT_ASSIGN(const std::string nonce, nonces_());
    const std::int64_t timestamp = clock_.NowUnix() + clock_offset_;
    const auto headers =
        SignedHeaderLines(credentials_, "POST", target, AsBytes(body), timestamp, nonce);
    UPLIFT_ASSIGN(Response r, Post(handle_->curl, url, what, headers, body));
    if (r.status == 200) {
      if (r.body_too_large) {
        return Error(format::Errc::kMalformedMessage, what + ": response body over 64 KiB");
      }
      return std::move(r.body);
    }
    if (r.status == 401 && attempt == 0) {
      const auto e = format::DecodeApiError(r.body);
      if (e.ok() && e->code == "stale_timestamp" && e->server_time) {
        clock_offset_ = *e->server_time - clock_.NowUnix();
        continue;
      }
    }
    return ResponseError(what, r.status, r.body);
  }
}

Result<format::CheckinResponse> DeviceApiClient::Checkin(const format::Inventory& inventory) {
  UPLIFT_ASSIGN(const Bytes body, PostSigned(kCheckinPath, format::EncodeCheckin(inventory)));
  auto r = format::DecodeCheckinResponse(body);
  if (!r.ok()) return std::move(r).error().Context("POST " + prefix_ + std::string(kCheckinPath));
  const std::int64_t local = clock_.NowUnix() + clock_offset_;
  if (r->server_time - local > kResyncSeconds || local - r->server_time > kResyncSeconds) {
    clock_offset_ = r->server_time - clock_.NowUnix();
  }
  return r;
}

Result<std::vector<std::string>> DeviceApiClient::SendReports(
    const std::vector<format::Report>& reports) {
  if (reports.empty() || reports.size() > format::kMaxReportsPerRequest) {
    return Error(base::Errc::kInvalidArgument,
                 "a report request carries 1 to " + std::to_string(format::kMaxReportsPerRequest) +
                     " reports, not " + std::to_string(reports.size()));
  }
  UPLIFT_ASSIGN(const Bytes body, PostSigned(kReportsPath, format::EncodeReports(reports)));
  auto ids = format::DecodeAccepted(body);
  if (!ids.ok())
    return std::move(ids).error().Context("POST " + prefix_ + std::string(kReportsPath));
  return ids;
}

}  // namespace uplift::transport
