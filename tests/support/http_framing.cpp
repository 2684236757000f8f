#include "http_framing.hpp"

#include <algorithm>
#include <cctype>

namespace uplift::faultlab {
namespace {

constexpr std::string_view kHeadEnd = "\r\n\r\n";

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The field lines of a head (everything after the start line), one at a time, without CRLF.
// Calls f(line_offset_in_head, line); stops when f returns true.
template <typename F>
void ForEachFieldLine(std::string_view head, F&& f) {
  std::size_t pos = head.find('\n');
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    const std::size_t start = pos + 1;
    const std::size_t end = head.find('\n', start);
    if (end == std::string_view::npos) return;
    std::string_view line = head.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return;  // the blank line ending the head
    if (f(start, line)) return;
    pos = end;
  }
}

// Digits only, no sign, no overflow.
std::optional<std::uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends bytes of `in` to `head` up to the end of a head; returns how many it took.
std::size_t AppendHead(std::string& head, std::string_view in, bool& complete) {
  const std::size_t old = head.size();
  const std::size_t room = old >= kMaxHeadBytes ? 0 : kMaxHeadBytes - old;
  head.append(in.substr(0, room));
  const std::size_t end = head.find(kHeadEnd, old >= 3 ? old - 3 : 0);
  if (end == std::string::npos) return head.size() - old;
  head.resize(end + kHeadEnd.size());
  complete = true;
  return head.size() - old;
}

}  // namespace

std::optional<std::string> FieldValue(std::string_view head, std::string_view name) {
  std::optional<std::string> value;
  ForEachFieldLine(head, [&](std::size_t, std::string_view line) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !EqualsIgnoreCase(line.substr(0, colon), name)) {
      return false;
    }
    value = std::string(Trim(line.substr(colon + 1)));
    return true;
  });
  return value;
}

std::optional<std::string> ReplaceFieldValue(std::string_view head, std::string_view name,
                                             std::string_view value) {
  std::optional<std::string> out;
  ForEachFieldLine(head, [&](std::size_t offset, std::string_view line) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !EqualsIgnoreCase(line.substr(0, colon), name)) {
      return false;
    }
    // Keep the field's own spacing around the value: only the value's bytes change.
    std::size_t begin = colon + 1;
    while (begin < line.size() && (line[begin] == ' ' || line[begin] == '\t')) ++begin;
    const std::size_t end = begin + Trim(line.substr(begin)).size();
    std::string s(head);
    s.replace(offset + begin, end - begin, value);
    out = std::move(s);
    return true;
  });
  return out;
}

std::optional<ResponseHead> ParseResponseHead(std::string_view head) {
  // "HTTP/1.x NNN" then a space or the end of the line.
  if (head.size() < 12 || !head.starts_with("HTTP/1.")) return std::nullopt;
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (head[i] < '0' || head[i] > '9') return std::nullopt;
    status = status * 10 + (head[i] - '0');
  }
  if (head[8] != ' ') return std::nullopt;
  ResponseHead r;
  r.status = status;
  if (const auto te = FieldValue(head, "Transfer-Encoding")) {
    r.has_transfer_encoding = true;
    std::string lower(*te);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    r.chunked = lower.ends_with("chunked");
  }
  if (const auto cl = FieldValue(head, "Content-Length")) r.content_length = ParseDecimal(*cl);
  return r;
}

BodyFraming FramingOf(const ResponseHead& head, std::string_view request_method) {
  if (head.status == 101) return BodyFraming::kUntilClose;  // a tunnel: no more HTTP framing
  if (request_method == "HEAD" || (head.status >= 100 && head.status < 200) || head.status == 204 ||
      head.status == 304) {
    return BodyFraming::kNone;
  }
  if (head.has_transfer_encoding) {
    return head.chunked ? BodyFraming::kChunked : BodyFraming::kUntilClose;
  }
  if (head.content_length) return BodyFraming::kLength;
  return BodyFraming::kUntilClose;
}

void RequestTracker::Consume(std::string_view data) {
  while (!data.empty()) {
    switch (state_) {
      case State::kLost:
        return;
      case State::kBody: {
        const std::uint64_t n = std::min<std::uint64_t>(body_left_, data.size());
        data.remove_prefix(static_cast<std::size_t>(n));
        body_left_ -= n;
        if (body_left_ == 0) state_ = State::kHead;
        break;
      }
      case State::kHead: {
        bool complete = false;
        data.remove_prefix(AppendHead(head_, data, complete));
        if (!complete) {
          if (head_.size() >= kMaxHeadBytes) state_ = State::kLost;
          break;
        }
        methods_.push_back(head_.substr(0, head_.find(' ')));
        if (FieldValue(head_, "Transfer-Encoding")) {
          state_ = State::kLost;  // chunked request bodies: not needed by any client we test
        } else if (const auto cl = FieldValue(head_, "Content-Length")) {
          const auto n = ParseDecimal(*cl);
          body_left_ = n.value_or(0);
          state_ = !n ? State::kLost : body_left_ > 0 ? State::kBody : State::kHead;
        }
        head_.clear();
        break;
      }
    }
  }
}

std::string RequestTracker::PopMethod() {
  if (methods_.empty()) return {};
  std::string m = std::move(methods_.front());
  methods_.pop_front();
  return m;
}

std::size_t ResponseFramer::FeedHead(std::string_view in) {
  return AppendHead(head_, in, head_complete_);
}

std::string ResponseFramer::TakeHead() {
  std::string h = std::move(head_);
  head_.clear();
  head_complete_ = false;
  return h;
}

void ResponseFramer::StartBody(BodyFraming framing, std::uint64_t content_length) {
  framing_ = framing;
  left_ = content_length;
  chunk_ = Chunk::kSize;
  size_seen_ = false;
  trailer_line_empty_ = true;
  const bool empty =
      framing == BodyFraming::kNone || (framing == BodyFraming::kLength && content_length == 0);
  if (framing == BodyFraming::kChunked) left_ = 0;
  phase_ = empty ? Phase::kHead : Phase::kBody;
}

std::size_t ResponseFramer::FeedBody(std::string_view in, std::size_t max) {
  in = in.substr(0, max);
  switch (framing_) {
    case BodyFraming::kNone:
      return 0;
    case BodyFraming::kUntilClose:
      return in.size();
    case BodyFraming::kLength: {
      const std::uint64_t n = std::min<std::uint64_t>(left_, in.size());
      left_ -= n;
      if (left_ == 0) phase_ = Phase::kHead;
      return static_cast<std::size_t>(n);
    }
    case BodyFraming::kChunked:
      return FeedChunked(in);
  }
  return 0;
}

std::size_t ResponseFramer::FeedChunked(std::string_view in) {
  std::size_t i = 0;
  const auto broken = [&] {
    framing_ = BodyFraming::kUntilClose;  // stop following, keep forwarding
    return in.size();
  };
  const auto end_size_line = [&] {
    if (!size_seen_) return false;
    chunk_ = left_ == 0 ? Chunk::kTrailer : Chunk::kData;
    trailer_line_empty_ = true;
    return true;
  };
  while (i < in.size()) {
    const char c = in[i];
    switch (chunk_) {
      case Chunk::kSize: {
        const int d = HexDigit(c);
        if (d >= 0) {
          if (left_ > (UINT64_MAX >> 4)) return broken();
          left_ = left_ * 16 + static_cast<std::uint64_t>(d);
          size_seen_ = true;
        } else if (c == ';' || c == ' ' || c == '\t') {
          chunk_ = Chunk::kExt;
        } else if (c == '\r') {
          chunk_ = Chunk::kSizeLf;
        } else if (c != '\n' || !end_size_line()) {
          return broken();
        }
        ++i;
        break;
      }
      case Chunk::kExt:
        if (c == '\n' && !end_size_line()) return broken();
        ++i;
        break;
      case Chunk::kSizeLf:
        if (c != '\n' || !end_size_line()) return broken();
        ++i;
        break;
      case Chunk::kData: {
        const std::uint64_t n = std::min<std::uint64_t>(left_, in.size() - i);
        i += static_cast<std::size_t>(n);
        left_ -= n;
        if (left_ == 0) chunk_ = Chunk::kDataCr;
        break;
      }
      case Chunk::kDataCr:
      case Chunk::kDataLf:
        if (c == '\r' && chunk_ == Chunk::kDataCr) {
          chunk_ = Chunk::kDataLf;
        } else if (c == '\n') {
          chunk_ = Chunk::kSize;
          size_seen_ = false;
        } else {
          return broken();
        }
        ++i;
        break;
      case Chunk::kTrailer:
      case Chunk::kTrailerLf:
        ++i;
        if (c == '\n') {
          if (trailer_line_empty_) {
            phase_ = Phase::kHead;  // the last chunk and its trailer section are through
            return i;
          }
          trailer_line_empty_ = true;
          chunk_ = Chunk::kTrailer;
        } else if (c == '\r' && chunk_ == Chunk::kTrailer) {
          chunk_ = Chunk::kTrailerLf;
        } else {
          trailer_line_empty_ = false;
          chunk_ = Chunk::kTrailer;
        }
        break;
    }
  }
  return i;
}

}  // namespace uplift::faultlab
