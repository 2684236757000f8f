#include "uplift/format/bundle_reader.hpp"

#include <algorithm>

#include "uplift/crypto/hash.hpp"
#include "uplift/format/payload_codec.hpp"

namespace uplift::format {
namespace {

// Reads exactly buf.size() bytes, turning a short stream into kTruncated with context.
Status ReadPart(ByteSource& src, MutableByteView buf, std::string_view what) {
  auto st = ReadExact(src, buf);
  if (!st.ok() && st.error().Is(base::Errc::kUnexpectedEof)) {
    return Error(Errc::kTruncated, "bundle truncated in " + std::string(what));
  }
  return st;
}

}  // namespace

std::string_view SignatureStatusName(SignatureStatus s) {
  switch (s) {
    case SignatureStatus::kValid:
      return "valid";
    case SignatureStatus::kUnknownKey:
      return "unknown-key";
    case SignatureStatus::kRevoked:
      return "revoked";
    case SignatureStatus::kUnknownAlgorithm:
      return "unknown-algorithm";
  }
  return "unknown";
}

Result<BundleReader> BundleReader::Open(ByteSource& src, const VerifyOptions& options) {
  BundleReader r(src);
  std::array<std::uint8_t, kHeaderSize> header{};
  {
    // Check the magic before complaining about length: a short non-bundle is still a non-bundle.
    std::size_t got = 0;
    while (got < header.size()) {
      UPLIFT_ASSIGN(const std::size_t n, src.Read(MutableByteView(header).subspan(got)));
      if (n == 0) break;
      got += n;
    }
    if (got == 0) return Error(Errc::kTruncated, "bundle truncated: no data");
    const std::size_t magic_len = std::min(got, kBundleMagic.size());
    if (!std::equal(header.begin(), header.begin() + static_cast<std::ptrdiff_t>(magic_len),
                    kBundleMagic.begin())) {
      return Error(Errc::kBadMagic, "not an Uplift bundle (bad magic)");
    }
    if (got < header.size()) return Error(Errc::kTruncated, "bundle truncated in header");
  }
  UPLIFT_ASSIGN(r.header_, BundleHeader::Decode(header));

  r.manifest_bytes_.resize(r.header_.manifest_size);  // bounded by Decode (1 MiB)
  UPLIFT_TRY(ReadPart(src, r.manifest_bytes_, "manifest"));
  Bytes sig_block(r.header_.signatures_size);  // bounded by Decode (64 KiB)
  UPLIFT_TRY(ReadPart(src, sig_block, "signature block"));
  UPLIFT_ASSIGN(r.signatures_, DecodeSignatureBlock(sig_block));

  // Authenticate before parsing: only signed bytes reach the JSON parser on a device.
  if (options.trust) UPLIFT_TRY(r.VerifySignatures(*options.trust, options.role));
  UPLIFT_ASSIGN(r.manifest_, ParseManifest(r.manifest_bytes_));
  UPLIFT_TRY(r.CheckPolicy(options));

  const Manifest& m = r.manifest_;
  if (r.header_.chunk_index_size != m.total_chunks() * 32 ||
      r.header_.payload_size != m.total_payload_size()) {
    return Error(Errc::kLengthMismatch,
                 "bundle header lengths do not match the manifest (chunk index " +
                     std::to_string(r.header_.chunk_index_size) + " vs " +
                     std::to_string(m.total_chunks() * 32) + ", payloads " +
                     std::to_string(r.header_.payload_size) + " vs " +
                     std::to_string(m.total_payload_size()) + ")");
  }
  r.chunk_index_.resize(r.header_.chunk_index_size);  // bounded by Decode (8 MiB)
  UPLIFT_TRY(ReadPart(src, r.chunk_index_, "chunk index"));
  std::uint64_t first = 0;
  std::uint32_t max_chunk = 0;
  for (const auto& p : m.payloads) {
    r.first_chunk_.push_back(first);
    const ByteView hashes(r.chunk_index_.data() + first * 32, p.chunk_count() * 32);
    if (crypto::Sha256::Of(hashes) != p.chunks_root) {
      return Error(Errc::kHashMismatch,
                   "chunk index of payload \"" + p.name + "\" does not match its chunks_root");
    }
    first += p.chunk_count();
    if (p.size > 0) max_chunk = std::max(max_chunk, p.chunk_size);
  }
  // Sizes are bounded by the manifest (sum ≤ 2^53 - 1), so these sums cannot overflow.
  std::uint64_t offset = kHeaderSize + std::uint64_t{r.header_.manifest_size} +
                         r.header_.signatures_size + r.header_.chunk_index_size;
  for (const auto& p : m.payloads) {
    r.payload_offset_.push_back(offset);
    offset += p.size;
  }
  r.payload_offset_.push_back(offset);
  r.chunk_buf_.resize(max_chunk);  // at most kMaxChunkSize
  return r;
}

Status BundleReader::VerifySignatures(const TrustStore& trust, const std::string& role) {
  const Bytes message = SignedMessage(manifest_bytes_);
  std::size_t valid = 0;
  bool revoked_signed = false;
  for (const auto& e : signatures_) {
    SignatureCheck check{e.key_id_hex(), e.algorithm_id, SignatureStatus::kUnknownKey};
    const auto algo = crypto::AlgorithmFromId(e.algorithm_id);
    const crypto::PublicKey* key = trust.Find(check.key_id, role);
    if (!algo) {
      check.status = SignatureStatus::kUnknownAlgorithm;
    } else if (trust.IsRevoked(check.key_id)) {
      check.status = SignatureStatus::kRevoked;
      revoked_signed = true;
    } else if (key) {
      if (key->algorithm() != *algo || !key->Verify(message, e.signature).ok()) {
        // A trusted key's signature that fails means the manifest or the block was altered.
        return Error(Errc::kBadSignature,
                     "signature by trusted key " + check.key_id + " does not verify");
      }
      check.status = SignatureStatus::kValid;
      ++valid;
    }
    checks_.push_back(std::move(check));
  }
  const std::uint32_t threshold = trust.Threshold(role);
  if (threshold == 0) {
    return Error(Errc::kBelowThreshold, "the trust store defines no role \"" + role + "\"");
  }
  if (valid < threshold) {
    const std::string counts = std::to_string(valid) + " valid signature(s) of role \"" + role +
                               "\", " + std::to_string(threshold) + " required";
    if (revoked_signed) return Error(Errc::kRevokedKey, "signed by a revoked key; " + counts);
    return Error(Errc::kBelowThreshold, counts);
  }
  return Ok();
}

Status BundleReader::CheckPolicy(const VerifyOptions& o) const {
  const Manifest& m = manifest_;
  if (o.now && *o.now > m.expires) {
    return Error(Errc::kExpired, "bundle expired at " + std::to_string(m.expires) + " (now " +
                                     std::to_string(*o.now) + ")");
  }
  if (o.hardware &&
      std::find(m.compatible.begin(), m.compatible.end(), *o.hardware) == m.compatible.end()) {
    return Error(Errc::kIncompatibleHardware,
                 "bundle is not compatible with hardware \"" + *o.hardware + "\"");
  }
  if (o.min_security_counter && m.security_counter < *o.min_security_counter) {
    return Error(Errc::kDowngrade, "security counter " + std::to_string(m.security_counter) +
                                       " is below the installed " +
                                       std::to_string(*o.min_security_counter));
  }
  return Ok();
}

bool BundleReader::ChunkMatches(std::size_t payload, std::uint64_t chunk, ByteView bytes) const {
  const auto digest = crypto::Sha256::Of(bytes);
  const std::uint8_t* expected = chunk_index_.data() + (first_chunk_[payload] + chunk) * 32;
  return std::equal(digest.begin(), digest.end(), expected);
}

Status BundleReader::ReadPayload(ByteSink& sink) {
  if (next_payload_ >= manifest_.payloads.size()) {
    return Error(base::Errc::kInvalidArgument, "no more payloads");
  }
  const std::size_t index = next_payload_++;
  const PayloadInfo& p = manifest_.payloads[index];
  crypto::Sha256 whole;
  std::uint64_t left = p.size;
  for (std::uint64_t i = 0; left > 0; ++i) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, p.chunk_size));
    const MutableByteView chunk(chunk_buf_.data(), n);
    UPLIFT_TRY(ReadPart(*src_, chunk, "payload \"" + p.name + "\""));
    if (!ChunkMatches(index, i, chunk)) {
      return Error(Errc::kHashMismatch,
                   "payload \"" + p.name + "\" chunk " + std::to_string(i) + " hash mismatch");
    }
    whole.Update(chunk);
    UPLIFT_TRY(sink.Write(chunk));
    left -= n;
  }
  if (whole.Finish() != p.sha256) {
    return Error(Errc::kHashMismatch, "payload \"" + p.name + "\" SHA-256 mismatch");
  }
  return Ok();
}

std::uint64_t BundleReader::PayloadOffset(std::size_t index) const {
  return payload_offset_[std::min(index, payload_offset_.size() - 1)];
}

std::pair<std::uint64_t, std::uint64_t> BundleReader::ChunkWindow(std::size_t index,
                                                                  std::uint64_t begin,
                                                                  std::uint64_t end) const {
  if (index >= manifest_.payloads.size()) return {payload_offset_.back(), payload_offset_.back()};
  const PayloadInfo& p = manifest_.payloads[index];
  const std::uint64_t base = payload_offset_[index];
  end = std::min(end, p.size);
  begin = std::min(begin, end);
  const std::uint64_t first = begin / p.chunk_size * p.chunk_size;
  if (begin == end) return {base + first, base + first};
  // end ≤ size ≤ 2^53 - 1: rounding up cannot overflow.
  const std::uint64_t last =
      std::min((end + std::uint64_t{p.chunk_size} - 1) / p.chunk_size * p.chunk_size, p.size);
  return {base + first, base + last};
}

Status BundleReader::StreamPayload(std::size_t index, std::uint64_t begin, std::uint64_t end,
                                   ByteSource& src, ByteSink& sink, const ChunkRefetch& refetch) {
  if (index >= manifest_.payloads.size()) {
    return Error(base::Errc::kInvalidArgument,
                 "payload index " + std::to_string(index) + " out of range (the bundle has " +
                     std::to_string(manifest_.payloads.size()) + " payloads)");
  }
  const PayloadInfo& p = manifest_.payloads[index];
  if (begin > end || begin > p.size) {
    return Error(base::Errc::kInvalidArgument,
                 "payload \"" + p.name + "\": range [" + std::to_string(begin) + ", " +
                     std::to_string(end) + ") does not start inside its " + std::to_string(p.size) +
                     " bytes");
  }
  end = std::min(end, p.size);
  if (begin == end) return Ok();  // nothing to read, not even the chunk holding begin
  const std::uint64_t base = payload_offset_[index];
  // Chunks are read whole even where the range cuts them: a chunk can only be verified whole.
  for (std::uint64_t j = begin / p.chunk_size; j * p.chunk_size < end; ++j) {
    const std::uint64_t start = j * p.chunk_size;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(p.chunk_size, p.size - start));
    const MutableByteView chunk(chunk_buf_.data(), n);
    const auto where = [&] { return "payload \"" + p.name + "\" chunk " + std::to_string(j); };
    UPLIFT_TRY(ReadPart(src, chunk, where()));
    if (!ChunkMatches(index, j, chunk)) {
      bool repaired = false;
      int attempts = 0;
      while (!repaired && refetch.source != nullptr && attempts < refetch.max_attempts) {
        ++attempts;
        if (refetch.on_refetch) refetch.on_refetch(j, n);
        if (Status st = refetch.source->Reread(base + start, chunk); !st.ok()) {
          return std::move(st).error().Context("re-reading " + where());
        }
        repaired = ChunkMatches(index, j, chunk);
      }
      if (!repaired) {
        return Error(Errc::kHashMismatch,
                     where() + " hash mismatch" +
                         (attempts > 0 ? " (also after " + std::to_string(attempts) + " re-reads)"
                                       : std::string()));
      }
    }
    const std::uint64_t from = std::max(begin, start) - start;
    const std::uint64_t to = std::min<std::uint64_t>(end, start + n) - start;
    UPLIFT_TRY(sink.Write(ByteView(chunk.data() + from, static_cast<std::size_t>(to - from))));
  }
  return Ok();
}

Status BundleReader::ReadPayloadImage(ByteSink& sink) {
  if (next_payload_ >= manifest_.payloads.size()) {
    return Error(base::Errc::kInvalidArgument, "no more payloads");
  }
  const PayloadInfo& p = manifest_.payloads[next_payload_];
  if (p.delta_source_sha256) {
    return Error(base::Errc::kInvalidArgument,
                 "payload \"" + p.name + "\" is a delta: apply it with the delta module");
  }
  if (p.compression == Compression::kNone) return ReadPayload(sink);
  crypto::HashingSink image(crypto::HashAlgorithm::kSha256, &sink);
  ZstdDecompressSink decoder(image, p.image_size);
  UPLIFT_TRY(ReadPayload(decoder));
  UPLIFT_TRY(decoder.Finish());
  if (decoder.output_size() != p.image_size) {
    return Error(Errc::kDecompress, "payload \"" + p.name + "\" decodes to " +
                                        std::to_string(decoder.output_size()) + " bytes, " +
                                        std::to_string(p.image_size) + " declared");
  }
  const Bytes digest = image.Finish();
  if (!std::equal(digest.begin(), digest.end(), p.image_sha256.begin())) {
    return Error(Errc::kHashMismatch, "payload \"" + p.name + "\" image SHA-256 mismatch");
  }
  return Ok();
}

Status BundleReader::SkipPayload() {
  NullSink sink;
  return ReadPayload(sink);
}

Status BundleReader::Finish() {
  if (next_payload_ != manifest_.payloads.size()) {
    return Error(base::Errc::kInvalidArgument, "payloads left unread");
  }
  std::uint8_t extra = 0;
  UPLIFT_ASSIGN(const std::size_t n, src_->Read(MutableByteView(&extra, 1)));
  if (n != 0) return Error(Errc::kTrailingData, "unexpected bytes after the last payload");
  return Ok();
}

}  // namespace uplift::format
