// Fetching a bundle's head (header, manifest, signatures, chunk index) from a ranged source and
// authenticating it before any payload byte is asked for: what a downloader and the agent do
// first. The head is bounded by the format's limits (at most ~9.1 MiB), so it is held in memory.
#pragma once

#include <memory>

#include "uplift/base/range_source.hpp"
#include "uplift/format/bundle_reader.hpp"

namespace uplift::format {

class BundleHead {
 public:
  // Reads the 48-byte header, then the rest of the head, and opens a BundleReader on it with
  // `options` (signatures, expiry, hardware, security counter). The head has no chunk hashes of
  // its own, so a head that fails any check is read again from the origin (RangeSource::Reread:
  // a bit flipped in transit must not fail an update) up to `attempts` times in all, and the
  // last error is returned. A source shorter than the head is kTruncated; source errors
  // (network, kSourceChanged) pass through at once.
  static Result<std::unique_ptr<BundleHead>> Read(RangeSource& src, const VerifyOptions& options,
                                                  int attempts = 3);

  // The head exactly as stored (the first head_size() bytes of the bundle).
  ByteView bytes() const { return bytes_; }
  std::uint64_t size() const { return bytes_.size(); }
  // For PayloadOffset, ChunkWindow and StreamPayload (the sequential ReadPayload has no payload
  // bytes to read here).
  BundleReader& reader() { return *reader_; }
  const Manifest& manifest() const { return reader_->manifest(); }

 private:
  BundleHead() = default;
  Bytes bytes_;
  std::unique_ptr<MemorySource> source_;  // the reader keeps a pointer to it
  std::optional<BundleReader> reader_;
};

}  // namespace uplift::format
