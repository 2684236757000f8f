#include <algorithm>

#include "uplift/crypto/crc.hpp"
#include "uplift/format/bundle.hpp"
#include "uplift/format/manifest.hpp"

namespace uplift::format {
namespace {

constexpr std::size_t kCrcOffset = 44;
constexpr std::size_t kEntryFixedSize = 36;  // algorithm, reserved, length, key id

Error Corrupt(const std::string& what) {
  return Error(Errc::kHeaderCorrupt, "bundle header: " + what);
}
Error Oversize(const std::string& what, std::uint64_t value, std::uint64_t max) {
  return Error(Errc::kOversize, "bundle header: " + what + " " + std::to_string(value) +
                                    " exceeds the limit of " + std::to_string(max));
}
Error BadSigs(const std::string& what) {
  return Error(Errc::kMalformedSignatures, "signature block: " + what);
}

}  // namespace

std::array<std::uint8_t, kHeaderSize> BundleHeader::Encode() const {
  std::array<std::uint8_t, kHeaderSize> h{};
  std::copy(kBundleMagic.begin(), kBundleMagic.end(), h.begin());
  StoreLe16(&h[8], kBundleVersion);
  StoreLe16(&h[10], static_cast<std::uint16_t>(kHeaderSize));
  StoreLe32(&h[12], 0);
  StoreLe32(&h[16], manifest_size);
  StoreLe32(&h[20], signatures_size);
  StoreLe64(&h[24], chunk_index_size);
  StoreLe64(&h[32], payload_size);
  StoreLe32(&h[40], 0);
  StoreLe32(&h[kCrcOffset], crypto::Crc32c(ByteView(h.data(), kCrcOffset)));
  return h;
}

Result<BundleHeader> BundleHeader::Decode(ByteView b) {
  if (b.size() < kHeaderSize) return Error(Errc::kTruncated, "bundle header: truncated");
  if (!std::equal(kBundleMagic.begin(), kBundleMagic.end(), b.begin())) {
    return Error(Errc::kBadMagic, "not an Uplift bundle (bad magic)");
  }
  const std::uint16_t version = LoadLe16(&b[8]);
  if (version != kBundleVersion) {
    return Error(Errc::kUnsupportedVersion, "bundle format version " + std::to_string(version) +
                                                " is not supported (this reader knows version 1)");
  }
  if (LoadLe16(&b[10]) != kHeaderSize) return Corrupt("header size is not 48");
  if (LoadLe32(&b[kCrcOffset]) != crypto::Crc32c(b.first(kCrcOffset))) {
    return Corrupt("checksum mismatch");
  }
  if (const std::uint32_t flags = LoadLe32(&b[12]); flags != 0) {
    return Error(
        Errc::kUnsupportedVersion,
        "bundle uses feature flags this reader does not know (" + std::to_string(flags) + ")");
  }
  if (LoadLe32(&b[40]) != 0) return Corrupt("reserved field is not zero");
  BundleHeader h;
  h.manifest_size = LoadLe32(&b[16]);
  h.signatures_size = LoadLe32(&b[20]);
  h.chunk_index_size = LoadLe64(&b[24]);
  h.payload_size = LoadLe64(&b[32]);
  if (h.manifest_size == 0) return Corrupt("empty manifest");
  if (h.manifest_size > kMaxManifestSize) {
    return Oversize("manifest size", h.manifest_size, kMaxManifestSize);
  }
  if (h.signatures_size < 2) return Corrupt("signature block too short");
  if (h.signatures_size > kMaxSignatureBlockSize) {
    return Oversize("signature block size", h.signatures_size, kMaxSignatureBlockSize);
  }
  if (h.chunk_index_size > kMaxChunkIndexSize) {
    return Oversize("chunk index size", h.chunk_index_size, kMaxChunkIndexSize);
  }
  if (h.chunk_index_size % 32 != 0) return Corrupt("chunk index size is not a multiple of 32");
  if (h.payload_size > kMaxPayloadSize) {
    return Oversize("payload size", h.payload_size, kMaxPayloadSize);
  }
  return h;
}

Result<std::vector<SignatureEntry>> DecodeSignatureBlock(ByteView b) {
  if (b.size() < 2) return BadSigs("truncated");
  const std::uint16_t count = LoadLe16(b.data());
  if (count == 0) return BadSigs("no signatures");
  if (count > kMaxSignatures)
    return BadSigs("more than " + std::to_string(kMaxSignatures) + " signatures");
  std::vector<SignatureEntry> out;
  std::size_t pos = 2;
  for (std::uint16_t i = 0; i < count; ++i) {
    const std::string where = "entry " + std::to_string(i) + ": ";
    if (b.size() - pos < kEntryFixedSize) return BadSigs(where + "truncated");
    SignatureEntry e;
    e.algorithm_id = b[pos];
    if (b[pos + 1] != 0) return BadSigs(where + "reserved byte is not zero");
    const std::uint16_t len = LoadLe16(&b[pos + 2]);
    if (len == 0 || len > kMaxSignatureLength) return BadSigs(where + "bad signature length");
    if (const auto algo = crypto::AlgorithmFromId(e.algorithm_id);
        algo && len != crypto::SignatureSize(*algo)) {
      return BadSigs(where + "length " + std::to_string(len) + " is wrong for " +
                     std::string(crypto::AlgorithmName(*algo)));
    }
    std::copy_n(&b[pos + 4], 32, e.key_id.begin());
    pos += kEntryFixedSize;
    if (b.size() - pos < len) return BadSigs(where + "truncated");
    e.signature.assign(&b[pos], &b[pos] + len);
    pos += len;
    for (const auto& prev : out) {
      if (prev.key_id == e.key_id)
        return BadSigs(where + "key " + e.key_id_hex() + " signed twice");
    }
    out.push_back(std::move(e));
  }
  if (pos != b.size()) return BadSigs("unexpected bytes after the last entry");
  return out;
}

Bytes EncodeSignatureBlock(const std::vector<SignatureEntry>& entries) {
  Bytes out(2);
  StoreLe16(out.data(), static_cast<std::uint16_t>(entries.size()));
  for (const auto& e : entries) {
    std::uint8_t fixed[kEntryFixedSize] = {};
    fixed[0] = e.algorithm_id;
    StoreLe16(&fixed[2], static_cast<std::uint16_t>(e.signature.size()));
    std::copy(e.key_id.begin(), e.key_id.end(), &fixed[4]);
    out.insert(out.end(), fixed, fixed + kEntryFixedSize);
    out.insert(out.end(), e.signature.begin(), e.signature.end());
  }
  return out;
}

Bytes SignedMessage(ByteView manifest) {
  Bytes msg(kSignatureContext.begin(), kSignatureContext.end());
  msg.push_back(0);
  msg.insert(msg.end(), manifest.begin(), manifest.end());
  return msg;
}

}  // namespace uplift::format
