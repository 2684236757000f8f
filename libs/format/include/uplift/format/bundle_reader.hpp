// Streaming bundle reader: authenticates the manifest first, then verifies every payload chunk
// before handing its bytes on. Memory is bounded by the format's limits (manifest 1 MiB,
// signatures 64 KiB, chunk index 8 MiB, one chunk of at most 4 MiB), never by a payload size.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "uplift/base/io.hpp"
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
  // After the last payload: kTrailingData if the stream has more bytes.
  Status Finish();

 private:
  explicit BundleReader(ByteSource& src) : src_(&src) {}
  Status VerifySignatures(const TrustStore& trust, const std::string& role);
  Status CheckPolicy(const VerifyOptions& options) const;

  ByteSource* src_;
  BundleHeader header_;
  Bytes manifest_bytes_;
  Manifest manifest_;
  std::vector<SignatureEntry> signatures_;
  std::vector<SignatureCheck> checks_;
  Bytes chunk_index_;
  std::vector<std::uint64_t> first_chunk_;  // index of each payload's first chunk hash
  std::size_t next_payload_ = 0;
  Bytes chunk_buf_;
};

}  // namespace uplift::format
