// Just enough HTTP/1.1 framing for the fault proxy to know, in a byte stream it forwards
// unchanged, where each response's head ends and where its body ends (RFC 9112 §6.3), so that
// fault offsets count body bytes and keep-alive connections stay in step. Anything it cannot
// follow (a malformed length, an oversized head) degrades to "body until the connection closes":
// the bytes still pass through, only the bookkeeping stops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace uplift::faultlab {

inline constexpr std::size_t kMaxHeadBytes = 64 * 1024;

// Follows the client's requests to learn each one's method: a response to HEAD has no body
// whatever its Content-Length says.
class RequestTracker {
 public:
  void Consume(std::string_view data);
  // The method of the oldest request not yet answered; "" when unknown (treated like GET).
  std::string PopMethod();

 private:
  enum class State { kHead, kBody, kLost };
  State state_ = State::kHead;
  std::string head_;
  std::uint64_t body_left_ = 0;
  std::deque<std::string> methods_;
};

// How the body of one response is delimited.
enum class BodyFraming { kNone, kLength, kChunked, kUntilClose };

struct ResponseHead {
  int status = 0;
  std::optional<std::uint64_t> content_length;  // a valid Content-Length, if any
  bool chunked = false;                         // Transfer-Encoding ends in chunked
  bool has_transfer_encoding = false;
};

// Parses a complete head (status line, fields, blank line). nullopt if the status line is not
// "HTTP/1.x NNN".
std::optional<ResponseHead> ParseResponseHead(std::string_view head);
// The framing of the body that follows `head`, given the request method it answers.
BodyFraming FramingOf(const ResponseHead& head, std::string_view request_method);
// The head with the value of field `name` (case-insensitive) replaced; nullopt if absent.
std::optional<std::string> ReplaceFieldValue(std::string_view head, std::string_view name,
                                             std::string_view value);
// The value of field `name` (case-insensitive, surrounding blanks trimmed); nullopt if absent.
std::optional<std::string> FieldValue(std::string_view head, std::string_view name);

// Splits the response stream of one connection into heads and bodies.
class ResponseFramer {
 public:
  enum class Phase { kHead, kBody };
  Phase phase() const { return phase_; }

  // kHead: appends bytes of `in` up to the end of the head to an internal buffer; returns how many
  // it took. When head_complete(), TakeHead() hands the head over.
  std::size_t FeedHead(std::string_view in);
  bool head_complete() const { return head_complete_; }
  // True when the head grew past kMaxHeadBytes without ending: the caller should treat the rest
  // of the connection as opaque.
  bool head_overflow() const { return head_.size() >= kMaxHeadBytes && !head_complete_; }
  std::string TakeHead();
  // Starts the body of the head just taken. kNone returns to kHead at once.
  void StartBody(BodyFraming framing, std::uint64_t content_length);

  // kBody: how many of the first `max` bytes of `in` belong to the current body; consumes them.
  // When the body ends inside them, the phase returns to kHead.
  std::size_t FeedBody(std::string_view in, std::size_t max);

 private:
  enum class Chunk { kSize, kExt, kSizeLf, kData, kDataCr, kDataLf, kTrailer, kTrailerLf };
  std::size_t FeedChunked(std::string_view in);

  Phase phase_ = Phase::kHead;
  std::string head_;
  bool head_complete_ = false;
  BodyFraming framing_ = BodyFraming::kNone;
  std::uint64_t left_ = 0;  // kLength: body bytes left; kChunked/kData: chunk bytes left
  Chunk chunk_ = Chunk::kSize;
  bool size_seen_ = false;  // at least one hex digit in the current size line
  bool trailer_line_empty_ = true;
};

}  // namespace uplift::faultlab
