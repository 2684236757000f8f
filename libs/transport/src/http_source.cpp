#include "uplift/transport/http_source.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "uplift/base/errors.hpp"
#include "uplift/transport/errors.hpp"
#include "uplift/transport/http_headers.hpp"

namespace uplift::transport {

using Clock = std::chrono::steady_clock;

struct HttpRangeSource::Shared {
  std::string url;
  HttpOptions opt;
  mutable std::mutex mu;  // guards everything below
  std::string validator;
  std::optional<std::uint64_t> size;
  TransferStats stats;
  std::uint64_t budget_used = 0;
  std::uint64_t next_seed = 0;
  // Idle easy handles, each keeping its connection (and TLS session) alive: the next stream or
  // re-read takes one, so a head, a payload and a re-read travel on one connection instead of
  // paying a TCP and TLS handshake each. A handle is used by one thread at a time.
  std::vector<CURL*> idle;

  ~Shared() {
    for (CURL* h : idle) curl_easy_cleanup(h);
  }
};

namespace {

Millis SteadyNow() { return std::chrono::duration_cast<Millis>(Clock::now().time_since_epoch()); }

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
    case CURLE_TOO_MANY_REDIRECTS:
      return NetFailure::kTooManyRedirects;
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP3:
      return NetFailure::kProtocol;
    default:
      return NetFailure::kOther;
  }
}

// One request (and the state its callbacks share). deliver() receives the wanted bytes in
// order and may block (the stream's ring is full); the time it blocks does not count as a stall.
struct Transfer {
  HttpRangeSource::Shared* s = nullptr;
  std::uint64_t offset = 0;  // next wanted byte
  std::uint64_t end = kToEnd;
  std::function<Status(ByteView)> deliver;
  std::function<bool()> cancelled = [] { return false; };

  // per attempt
  int status = 0;
  std::string etag;
  std::optional<ContentRange> content_range;
  std::optional<std::uint64_t> content_length;
  std::optional<std::int64_t> retry_after;
  bool body_started = false;
  std::uint64_t skip = 0;
  std::optional<Error> abort;
  bool progressed = false;
  bool stalled = false;
  Clock::time_point window_start;
  std::uint64_t window_bytes = 0;
  Clock::duration blocked{};
  Clock::time_point rate_start;
  std::uint64_t rate_bytes = 0;

  bool expect_status = true;  // the next header line starts a response
  bool bad_response = false;  // this response breaks the range rules: retry on a new connection

  // A new response (after a redirect or a 1xx): its own header fields.
  void ResetResponse() {
    status = 0;
    etag.clear();
    content_range.reset();
    content_length.reset();
    retry_after.reset();
  }
  void Reset() {
    ResetResponse();
    expect_status = true;
    bad_response = false;
    body_started = false;
    skip = 0;
    abort.reset();
    progressed = false;
    stalled = false;
    window_start = Clock::now();
    window_bytes = 0;
    blocked = {};
    rate_start = window_start;
    rate_bytes = 0;
  }
  std::uint64_t Wanted() const {
    std::uint64_t e = end;
    std::lock_guard lock(s->mu);
    if (s->size) e = std::min(e, *s->size);
    return e;
  }
};

std::size_t OnHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::string_view line(data, size * n);
  if (t.expect_status) {
    // Only the first line of a response is its status line (libcurl passes every response of
    // a redirect chain or a 1xx through here); a header line that looks like one is not.
    t.expect_status = false;
    t.ResetResponse();
    t.status = ParseStatusLine(line).value_or(0);
    return size * n;
  }
  if (line == "\r\n" || line == "\n") {
    t.expect_status = true;  // end of this response's headers
    return size * n;
  }
  if (const auto h = ParseHeaderLine(line)) {
    if (h->name == "etag") t.etag = h->value;
    if (h->name == "content-range") t.content_range = ParseContentRange(h->value);
    if (h->name == "content-length") t.content_length = ParseContentLength(h->value);
    if (h->name == "retry-after") {
      t.retry_after = ParseRetryAfter(h->value, static_cast<std::int64_t>(std::time(nullptr)));
    }
  }
  return size * n;
}

// Decides, at the first body byte, whether this response continues the artifact we want.
Status StartBody(Transfer& t) {
  auto& s = *t.s;
  std::lock_guard lock(s.mu);
  const bool strong = IsStrongEtag(t.etag);
  auto changed = [&](const std::string& why) {
    return Error(base::Errc::kSourceChanged, s.url + ": the artifact changed on the server (" +
                                                 why + "); not splicing two versions");
  };
  if (t.status == 206) {
    if (!t.content_range || t.content_range->first != t.offset) {
      // A broken cache or middlebox: try again on a fresh connection (bounded by the deadline).
      t.bad_response = true;
      return Error(
          Errc::kBadResponse,
          s.url + ": 206 response without a Content-Range starting at " + std::to_string(t.offset));
    }
    if (!s.validator.empty() && !t.etag.empty() && t.etag != s.validator) {
      return changed("entity tag " + t.etag + ", expected " + s.validator);
    }
    if (t.content_range->total) {
      if (s.size && *s.size != *t.content_range->total) {
        return changed("size " + std::to_string(*t.content_range->total) + ", expected " +
                       std::to_string(*s.size));
      }
      s.size = t.content_range->total;
    }
  } else if (t.status == 200) {
    if (!s.validator.empty() && t.etag != s.validator) {
      return changed("entity tag " + (t.etag.empty() ? std::string("none") : t.etag) +
                     ", expected " + s.validator);
    }
    if (t.content_length) {
      if (s.size && *s.size != *t.content_length) {
        return changed("size " + std::to_string(*t.content_length) + ", expected " +
                       std::to_string(*s.size));
      }
      s.size = t.content_length;
    }
    t.skip = t.offset;  // the server ignored Range: the body starts at byte 0
  } else {
    return Ok();  // an error status: the body is not the artifact (handled after the attempt)
  }
  if (s.validator.empty() && strong) s.validator = t.etag;
  return Ok();
}

std::size_t OnBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::size_t len = size * n;
  if (t.cancelled()) {
    t.abort = Error(Errc::kCancelled, "transfer cancelled");
    return 0;
  }
  if (!t.body_started) {
    t.body_started = true;
    if (Status st = StartBody(t); !st.ok()) {
      t.abort = std::move(st).error();
      return 0;
    }
  }
  {
    std::lock_guard lock(t.s->mu);
    t.s->stats.body_bytes += len;
    t.s->budget_used += len;
    if (t.status != 200 && t.status != 206) {
      t.s->stats.wasted_bytes += len;
    }
    if (t.s->opt.byte_budget != 0 && t.s->budget_used > t.s->opt.byte_budget) {
      t.abort =
          Error(Errc::kByteBudget, t.s->url + ": data cap of " +
                                       std::to_string(t.s->opt.byte_budget) + " bytes reached");
      return 0;
    }
  }
  t.window_bytes += len;
  if (t.status != 200 && t.status != 206) return 0;  // stop reading an error body
  if (const std::uint64_t cap = t.s->opt.max_bytes_per_s; cap != 0) {
    // The bandwidth cap, enforced from the first byte (libcurl's own limiter lets a burst of
    // several MiB through first): stop reading until the average is back under the cap; TCP
    // flow control then slows the sender.
    t.rate_bytes += len;
    const auto due =
        t.rate_start + std::chrono::nanoseconds(static_cast<std::int64_t>(
                           static_cast<double>(t.rate_bytes) * 1e9 / static_cast<double>(cap)));
    const auto before = Clock::now();
    for (auto now = before; now < due; now = Clock::now()) {
      if (t.cancelled()) {
        t.abort = Error(Errc::kCancelled, "transfer cancelled");
        return 0;
      }
      std::this_thread::sleep_for(
          std::min<Clock::duration>(due - now, std::chrono::milliseconds(50)));
    }
    t.blocked += Clock::now() - before;
  }
  ByteView body(reinterpret_cast<const std::uint8_t*>(data), len);
  if (t.skip > 0) {
    const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(t.skip, body.size()));
    t.skip -= k;
    body = body.subspan(k);
    std::lock_guard lock(t.s->mu);
    t.s->stats.wasted_bytes += k;
  }
  const std::uint64_t wanted_end = t.Wanted();
  if (t.offset >= wanted_end) return body.empty() ? len : 0;  // more than we asked for: stop
  const auto use =
      static_cast<std::size_t>(std::min<std::uint64_t>(body.size(), wanted_end - t.offset));
  if (use > 0) {
    const auto before = Clock::now();
    if (Status st = t.deliver(body.first(use)); !st.ok()) {
      t.abort = std::move(st).error();
      return 0;
    }
    t.blocked += Clock::now() - before;
    t.offset += use;
    t.progressed = true;
  }
  return use == body.size() ? len : 0;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& t = *static_cast<Transfer*>(user);
  if (t.cancelled()) return 1;
  const auto now = Clock::now();
  const auto active = now - t.window_start - t.blocked;
  if (active >= t.s->opt.stall_time) {
    if (t.window_bytes < t.s->opt.stall_bytes) {
      t.stalled = true;
      return 1;
    }
    t.window_start = now;
    t.window_bytes = 0;
    t.blocked = {};
  }
  return 0;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// One attempt: Ok(true) when [offset, end) is complete, Ok(false) with `a` filled for a failure
// worth classifying, an error for what no retry can fix.
Result<bool> RunAttempt(CURL* h, Transfer& t, Attempt& a) {
  auto& s = *t.s;
  t.Reset();
  const std::uint64_t wanted_end = t.Wanted();
  if (t.offset >= wanted_end) return true;
  std::string validator;
  {
    std::lock_guard lock(s.mu);
    validator = s.validator;
    if (s.opt.byte_budget != 0 && s.size) {
      const std::uint64_t need = wanted_end - t.offset;
      if (s.budget_used + need > s.opt.byte_budget) {
        return Error(
            Errc::kByteBudget,
            s.url + ": " + std::to_string(need) + " more bytes needed but only " +
                std::to_string(s.opt.byte_budget - std::min(s.budget_used, s.opt.byte_budget)) +
                " left of the data cap");
      }
    }
    s.stats.requests += 1;
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add = [&](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  };
  for (const auto& line : s.opt.headers) add(line);
  if (!validator.empty()) add("If-Range: " + validator);
  const std::string range = std::to_string(t.offset) + "-" +
                            (wanted_end == kToEnd ? std::string() : std::to_string(wanted_end - 1));
  curl_easy_setopt(h, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
  const CURLcode rc = curl_easy_perform(h);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  long version = 0;
  if (curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &version) == CURLE_OK && version != 0) {
    std::lock_guard lock(s.mu);
    s.stats.http_version = version == CURL_HTTP_VERSION_1_0   ? 10
                           : version == CURL_HTTP_VERSION_1_1 ? 11
                           : version == CURL_HTTP_VERSION_2_0 ? 2
                                                              : 3;
  }
  if (t.abort && t.bad_response) {
    a = Attempt{};
    a.net = NetFailure::kProtocol;
    a.detail = t.abort->message();
    return false;
  }
  if (t.abort) return *std::move(t.abort);
  a = Attempt{};
  a.progressed = t.progressed;
  a.retry_after = t.retry_after;
  if (t.status != 0 && t.status != 200 && t.status != 206) {
    a.http_status = t.status;
    if (t.status == 416) {
      std::lock_guard lock(s.mu);
      if (!s.validator.empty()) {
        return Error(
            base::Errc::kSourceChanged,
            s.url + ": range " + range + " not satisfiable: the artifact changed on the server");
      }
    }
    return false;
  }
  // Everything wanted arrived: whatever curl thinks of the rest (we stop reading a body that
  // runs past the range we asked for).
  if (t.offset >= t.Wanted()) return true;
  if (rc != CURLE_OK) {
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
      return Error(Errc::kBadUrl, s.url + ": " + curl_easy_strerror(rc));
    }
    a.net = t.stalled ? NetFailure::kStalled : MapCurl(rc);
    a.detail = curl_easy_strerror(rc);
    if (t.stalled) {
      std::lock_guard lock(s.mu);
      s.stats.stalls += 1;
    }
    return false;
  }
  std::uint64_t now_end = t.Wanted();
  // Size unknown ("bytes a-b/*"): this response still says where its part ends.
  if (now_end == kToEnd && t.status == 206 && t.content_range) {
    now_end = t.content_range->last + 1;
    if (t.offset < now_end) {
      a.net = NetFailure::kReset;
      a.detail =
          "body ended at byte " + std::to_string(t.offset) + " of " + std::to_string(now_end);
      return false;
    }
  }
  if (t.offset >= now_end || (now_end == kToEnd && t.body_started)) return true;
  a.net = NetFailure::kReset;
  a.detail = "body ended at byte " + std::to_string(t.offset) + " of " + std::to_string(now_end);
  return false;
}

Status RunWithRetries(CURL* h, Transfer& t, const std::function<bool(Millis)>& sleep) {
  auto& s = *t.s;
  std::uint64_t seed = 0;
  {
    std::lock_guard lock(s.mu);
    seed = s.opt.seed + ++s.next_seed;
  }
  Retrier retrier(s.opt.retry, SteadyNow, seed);
  for (;;) {
    const Millis connect =
        std::min(std::max(retrier.remaining(), Millis(1000)), s.opt.connect_timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect.count()));
    Attempt a;
    UPLIFT_ASSIGN(const bool done, RunAttempt(h, t, a));
    if (done) return Ok();
    auto delay = retrier.NextDelay(a);
    if (!delay.ok()) return std::move(delay).error().Context(s.url);
    {
      std::lock_guard lock(s.mu);
      s.stats.retries += 1;
    }
    if (!sleep(*delay)) return Error(Errc::kCancelled, "transfer cancelled");
  }
}

CURL* NewHandle(const HttpRangeSource::Shared& s);

// A handle from the pool (or a new one), returned to it by Release.
CURL* Acquire(HttpRangeSource::Shared& s) {
  {
    std::lock_guard lock(s.mu);
    if (!s.idle.empty()) {
      CURL* h = s.idle.back();
      s.idle.pop_back();
      return h;
    }
  }
  return NewHandle(s);
}

void Release(HttpRangeSource::Shared& s, CURL* h) {
  if (h == nullptr) return;
  std::lock_guard lock(s.mu);
  if (s.idle.size() < 2) {
    s.idle.push_back(h);
  } else {
    curl_easy_cleanup(h);
  }
}

CURL* NewHandle(const HttpRangeSource::Shared& s) {
  CURL* h = curl_easy_init();
  if (h == nullptr) return nullptr;
  const HttpOptions& o = s.opt;
  curl_easy_setopt(h, CURLOPT_URL, s.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  // An https download never follows a redirect to plain http.
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR,
                   s.url.starts_with("https://") ? "https" : "http,https");
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                   o.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(h, CURLOPT_USERAGENT, o.user_agent.c_str());
  if (!o.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, o.ca_file.c_str());
  if (!o.pinned_public_key.empty()) {
    curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, o.pinned_public_key.c_str());
  }
  if (!o.proxy.empty()) curl_easy_setopt(h, CURLOPT_PROXY, o.proxy.c_str());
  return h;
}

// A ranged stream: a producer thread runs the transfer (with retries) into a bounded ring.
class HttpStream final : public ByteSource {
 public:
  HttpStream(std::shared_ptr<HttpRangeSource::Shared> s, std::uint64_t begin, std::uint64_t end)
      : s_(std::move(s)), ring_(s_->opt.buffer_bytes) {
    thread_ = std::thread([this, begin, end] { Produce(begin, end); });
  }
  ~HttpStream() override {
    {
      std::lock_guard lock(mu_);
      cancel_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  Result<std::size_t> Read(MutableByteView buf) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return fill_ > 0 || finished_; });
    if (fill_ == 0) {
      if (result_ && !result_->ok()) return result_->error();
      return std::size_t{0};
    }
    std::size_t n = 0;
    while (n < buf.size() && fill_ > 0) {
      const std::size_t run = std::min({buf.size() - n, fill_, ring_.size() - head_});
      std::memcpy(buf.data() + n, ring_.data() + head_, run);
      head_ = (head_ + run) % ring_.size();
      fill_ -= run;
      n += run;
    }
    lock.unlock();
    cv_.notify_all();
    return n;
  }

 private:
  void Produce(std::uint64_t begin, std::uint64_t end) {
    Status st = Ok();
    CURL* h = Acquire(*s_);
    if (h == nullptr) {
      st = Error(base::Errc::kIo, "curl_easy_init failed");
    } else {
      Transfer t;
      t.s = s_.get();
      t.offset = begin;
      t.end = end;
      t.deliver = [this](ByteView d) { return Push(d); };
      t.cancelled = [this] {
        std::lock_guard lock(mu_);
        return cancel_;
      };
      st = RunWithRetries(h, t, [this](Millis d) {
        std::unique_lock lock(mu_);
        return !cv_.wait_for(lock, d, [&] { return cancel_; });
      });
      Release(*s_, h);
    }
    {
      std::lock_guard lock(mu_);
      finished_ = true;
      result_ = std::move(st);
    }
    cv_.notify_all();
  }

  Status Push(ByteView d) {
    while (!d.empty()) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return fill_ < ring_.size() || cancel_; });
      if (cancel_) return Error(Errc::kCancelled, "transfer cancelled");
      const std::size_t tail = (head_ + fill_) % ring_.size();
      const std::size_t run = std::min({d.size(), ring_.size() - fill_, ring_.size() - tail});
      std::memcpy(ring_.data() + tail, d.data(), run);
      fill_ += run;
      d = d.subspan(run);
      lock.unlock();
      cv_.notify_all();
    }
    return Ok();
  }

  std::shared_ptr<HttpRangeSource::Shared> s_;
  std::mutex mu_;
  std::condition_variable cv_;
  Bytes ring_;
  std::size_t head_ = 0;
  std::size_t fill_ = 0;
  bool cancel_ = false;
  bool finished_ = false;
  std::optional<Status> result_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<HttpRangeSource>> HttpRangeSource::Create(std::string url,
                                                                 HttpOptions options,
                                                                 std::string expected_validator) {
  if (!(url.starts_with("http://") || url.starts_with("https://")) || url.size() > 4096 ||
      url.find_first_of(" \r\n\t") != std::string::npos) {
    return Error(Errc::kBadUrl, "not an http:// or https:// URL: " + url.substr(0, 200));
  }
  if (options.buffer_bytes < 64 * 1024) options.buffer_bytes = 64 * 1024;
  if (options.seed == 0) {
    options.seed = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  }
  GlobalInit();
  auto s = std::make_shared<Shared>();
  s->url = std::move(url);
  s->budget_used = options.budget_used;
  s->opt = std::move(options);
  s->validator = std::move(expected_validator);
  return std::unique_ptr<HttpRangeSource>(new HttpRangeSource(std::move(s)));
}

HttpRangeSource::~HttpRangeSource() = default;

Result<std::unique_ptr<ByteSource>> HttpRangeSource::OpenRange(std::uint64_t begin,
                                                               std::uint64_t end) {
  if (begin > end) return Error(base::Errc::kInvalidArgument, "range begins after its end");
  return std::unique_ptr<ByteSource>(std::make_unique<HttpStream>(s_, begin, end));
}

Status HttpRangeSource::Reread(std::uint64_t offset, MutableByteView buf) {
  if (buf.empty()) return Ok();
  CURL* h = Acquire(*s_);
  if (h == nullptr) return Error(base::Errc::kIo, "curl_easy_init failed");
  struct Back {
    Shared& s;
    CURL* h;
    ~Back() { Release(s, h); }
  } back{*s_, h};
  std::size_t got = 0;
  Transfer t;
  t.s = s_.get();
  t.offset = offset;
  t.end = offset + buf.size();
  t.deliver = [&](ByteView d) {
    std::memcpy(buf.data() + got, d.data(), d.size());
    got += d.size();
    std::lock_guard l(s_->mu);
    s_->stats.reread_bytes += d.size();
    return Ok();
  };
  UPLIFT_TRY(RunWithRetries(h, t, [](Millis d) {
    std::this_thread::sleep_for(d);
    return true;
  }));
  if (got != buf.size()) {
    return Error(base::Errc::kUnexpectedEof,
                 s_->url + ": re-read of " + std::to_string(buf.size()) + " bytes at " +
                     std::to_string(offset) + " ended after " + std::to_string(got));
  }
  return Ok();
}

std::string HttpRangeSource::validator() const {
  std::lock_guard lock(s_->mu);
  return s_->validator;
}

std::optional<std::uint64_t> HttpRangeSource::size() const {
  std::lock_guard lock(s_->mu);
  return s_->size;
}

std::uint64_t HttpRangeSource::fetched_bytes() const {
  std::lock_guard lock(s_->mu);
  return s_->budget_used;
}

TransferStats HttpRangeSource::stats() const {
  std::lock_guard lock(s_->mu);
  return s_->stats;
}

const std::string& HttpRangeSource::url() const { return s_->url; }

}  // namespace uplift::transport
