// Streaming bundle reader: authenticates the manifest first, then verifies every payload chunk
// before handing its bytes on. Memory is bounded by the format's limits (manifest 1 MiB,
// signatures 64 KiB, chunk index 8 MiB, one chunk of at most 4 MiB), never by a payload size.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "uplift/base/io.hpp"
#include "uplift/base/range_source.hpp"
#include "uplift/format/bundle.hpp"
#include "uplift/format/manifest.hpp"
#include "uplift/format/trust_store.hpp"

namespace uplift::format {

struct VerifyOptions {
  // Null: signatures are decoded but not checked (inspection only; nothing is trusted).
  const TrustStore* trust = nullptr;
  std::string role = std::string(kReleaseRole);
  std::optional<std::int64_t> now;                    // set: refuse an expired manifest
  std::optional<std::string> hardware;                // set: refuse if not in "compatible"
  std::optional<std::uint64_t> min_security_counter;  // set: refuse a lower counter
};

enum class SignatureStatus { kValid, kUnknownKey, kRevoked, kUnknownAlgorithm };

struct SignatureCheck {
  std::string key_id;
  std::uint8_t algorithm_id = 0;
  SignatureStatus status = SignatureStatus::kUnknownKey;
};

std::string_view SignatureStatusName(SignatureStatus s);

// How StreamPayload recovers a chunk that fails its hash (a bit flipped in transit, a proxy that
// served a stale range): by reading that chunk alone again, not the whole payload.
struct ChunkRefetch {
  RangeSource* source = nullptr;  // null: a mismatching chunk fails at once
  int max_attempts = 3;           // re-reads of one chunk (each from the origin) before failing
  // Told of every re-read (chunk number within the payload, its length): statistics, logs.
  std::function<void(std::uint64_t chunk, std::uint64_t bytes)> on_refetch;
};

class BundleReader {
 public:
  // Reads header, manifest, signature block and chunk index and checks, in order: header,
  // signatures (if a trust store is given: kBadSignature, kRevokedKey, kBelowThreshold), manifest
  // encoding and schema, expiry, hardware, security counter, lengths (kLengthMismatch), chunk
  // index against each payload's chunks_root (kHashMismatch). A short stream is kTruncated.
  static Result<BundleReader> Open(ByteSource& src, const VerifyOptions& options);

  const BundleHeader& header() const { return header_; }
  const Manifest& manifest() const { return manifest_; }
  ByteView manifest_bytes() const { return manifest_bytes_; }
  const std::vector<SignatureEntry>& signatures() const { return signatures_; }
  // One entry per signature, filled only when a trust store was given.
  const std::vector<SignatureCheck>& signature_checks() const { return checks_; }
  ByteView chunk_index() const { return chunk_index_; }
  std::size_t next_payload() const { return next_payload_; }

  // Streams the next payload's stored bytes into sink. Each chunk is hashed and compared with
  // the index before it is written, so the sink never sees an unverified byte (kHashMismatch,
  // kTruncated). Payloads come in manifest order.
  Status ReadPayload(ByteSink& sink);
  // Like ReadPayload, but decodes (decompresses) into sink and checks image_size and
  // image_sha256 at the end (kDecompress, kHashMismatch). Delta payloads are refused here
  // (base::Errc::kInvalidArgument): they need the delta applier.
  Status ReadPayloadImage(ByteSink& sink);
  // Reads and verifies the next payload, discarding it.
  Status SkipPayload();

  // Bundle offset of payload `index`'s first stored byte (48 + M + S + C + sizes before it).
  // index = payload count gives the end of the payload data (so does any larger index).
  std::uint64_t PayloadOffset(std::size_t index) const;
  // Bundle offsets of the chunk-aligned window holding stored bytes [begin, end) of payload
  // `index`: start of the chunk holding `begin`, end of the chunk holding end-1 (end clamped to
  // the payload). An empty range (begin >= end after clamping) gives an empty window at the start
  // of begin's chunk; an index out of range, an empty window at the end of the payload data.
  std::pair<std::uint64_t, std::uint64_t> ChunkWindow(std::size_t index, std::uint64_t begin,
                                                      std::uint64_t end) const;
  // Streams the stored bytes [begin, end) of payload `index` into sink (end is clamped to the
  // payload size). `src` must deliver bundle bytes from ChunkWindow(...).first on (it may go on
  // beyond the window: nothing after it is read). Every chunk is read whole and verified against
  // the chunk index before any of its bytes is passed on; on a mismatch it is re-read through
  // refetch.source (Reread at its bundle offset) up to max_attempts times, then kHashMismatch
  // naming payload and chunk; a failing Reread fails the call with its own error. kTruncated if
  // src ends early; base::Errc::kInvalidArgument for an index out of range or begin > end (or
  // begin beyond the payload). Independent of (and not changing) the sequential ReadPayload
  // position: works on a reader opened from a stream that held only header..chunk index.
  // The payload's whole `sha256` is not checked here, since a range has no whole to hash; the
  // signed chunks_root already authenticates every chunk, so nothing unverified gets through.
  // Memory: one chunk (the reader's own buffer).
  Status StreamPayload(std::size_t index, std::uint64_t begin, std::uint64_t end, ByteSource& src,
                       ByteSink& sink, const ChunkRefetch& refetch = {});
  // After the last payload: kTrailingData if the stream has more bytes.
  Status Finish();

 private:
  explicit BundleReader(ByteSource& src) : src_(&src) {}
  Status VerifySignatures(const TrustStore& trust, const std::string& role);
  Status CheckPolicy(const VerifyOptions& options) const;
  bool ChunkMatches(std::size_t payload, std::uint64_t chunk, ByteView bytes) const;

  ByteSource* src_;
  BundleHeader header_;
  Bytes manifest_bytes_;
  Manifest manifest_;
  std::vector<SignatureEntry> signatures_;
  std::vector<SignatureCheck> checks_;
  Bytes chunk_index_;
  std::vector<std::uint64_t> first_chunk_;     // index of each payload's first chunk hash
  std::vector<std::uint64_t> payload_offset_;  // bundle offset of each payload, then the end
  std::size_t next_payload_ = 0;
  Bytes chunk_buf_;
};

}  // namespace uplift::format
