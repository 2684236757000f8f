#include "uplift/format/bundle_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "uplift/crypto/hash.hpp"
#include "uplift/format/bundle.hpp"
#include "uplift/format/bundle_reader.hpp"

namespace uplift::format {
namespace {

// Splits a stream into chunk_size pieces and hashes each, plus the whole; forwards to next.
class ChunkHashSink final : public ByteSink {
 public:
  ChunkHashSink(std::uint32_t chunk_size, ByteSink* next) : chunk_size_(chunk_size), next_(next) {}

  Status Write(ByteView data) override {
    whole_.Update(data);
    size_ += data.size();
    for (ByteView rest = data; !rest.empty();) {
      const auto n = std::min<std::size_t>(rest.size(), chunk_size_ - in_chunk_);
      chunk_.Update(rest.first(n));
      in_chunk_ += n;
      if (in_chunk_ == chunk_size_) EndChunk();
      rest = rest.subspan(n);
    }
    return next_ ? next_->Write(data) : Ok();
  }

  // Call once after the last Write.
  void Finish() {
    if (in_chunk_ > 0) EndChunk();
  }
  crypto::Sha256Digest WholeDigest() { return whole_.Finish(); }
  std::uint64_t size() const { return size_; }
  const Bytes& chunk_hashes() const { return hashes_; }

 private:
  void EndChunk() {
    const auto d = chunk_.Finish();
    hashes_.insert(hashes_.end(), d.begin(), d.end());
    chunk_ = crypto::Sha256();
    in_chunk_ = 0;
  }
  std::uint32_t chunk_size_;
  ByteSink* next_;
  crypto::Sha256 whole_;
  crypto::Sha256 chunk_;
  std::size_t in_chunk_ = 0;
  std::uint64_t size_ = 0;
  Bytes hashes_;
};

// Sends every write to two sinks.
class TeeSink final : public ByteSink {
 public:
  TeeSink(ByteSink& a, ByteSink& b) : a_(a), b_(b) {}
  Status Write(ByteView data) override {
    UPLIFT_TRY(a_.Write(data));
    return b_.Write(data);
  }

 private:
  ByteSink& a_;
  ByteSink& b_;
};

// Forwards writes and reports progress.
class ProgressSink final : public ByteSink {
 public:
  ProgressSink(ByteSink& next, const WriteOptions& o, std::uint64_t& done, std::uint64_t total)
      : next_(next), o_(o), done_(done), total_(total) {}
  Status Write(ByteView data) override {
    done_ += data.size();
    if (o_.progress) o_.progress(done_, total_);
    return next_.Write(data);
  }

 private:
  ByteSink& next_;
  const WriteOptions& o_;
  std::uint64_t& done_;
  std::uint64_t total_;
};

Result<Fd> OpenSpillFile(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return Fd(fd);
  // Filesystems without O_TMPFILE: a named file, unlinked at once.
  std::string tmpl = dir + "/uplift-spill-XXXXXX";
  fd = ::mkstemp(tmpl.data());
  if (fd < 0) return ErrnoError("create spill file in " + dir, errno);
  ::unlink(tmpl.c_str());
  return Fd(fd);
}

struct Prepared {
  PayloadInfo info;
  Bytes chunk_hashes;
  Fd spill;  // valid for compressed payloads: the stored bytes
};

Result<Prepared> Prepare(const PayloadInput& in, const WriteOptions& options, std::uint64_t& done,
                         std::uint64_t total) {
  Prepared out;
  PayloadInfo& p = out.info;
  p.name = in.name;
  p.target = in.target;
  p.compression = in.compression;
  p.chunk_size = in.chunk_size;
  p.delta_source_sha256 = in.delta_source_sha256;
  if (!IsValidName(p.name) || !IsValidName(p.target)) {
    return Error(Errc::kMalformedManifest,
                 "payload name and target must match [a-z0-9][a-z0-9._-]* (got \"" + p.name +
                     "\", \"" + p.target + "\")");
  }
  UPLIFT_ASSIGN(std::unique_ptr<ByteSource> src, in.open());

  // Stored bytes are hashed per chunk; for zstd they are also spilled, since the manifest (and
  // so the header) must be written before them.
  crypto::HashingSink image(crypto::HashAlgorithm::kSha256, nullptr);
  FileSink spill_sink = FileSink::Borrow(-1);
  if (in.compression == Compression::kZstd) {
    UPLIFT_ASSIGN(out.spill, OpenSpillFile(options.spill_dir));
    spill_sink = FileSink::Borrow(out.spill.get());
  }
  ChunkHashSink stored(p.chunk_size, out.spill.valid() ? &spill_sink : nullptr);
  std::optional<ZstdCompressSink> zstd;
  if (out.spill.valid()) {
    zstd.emplace(stored, in.zstd_level, options.threads, in.zstd_frame_bytes);
  }
  TeeSink both(zstd ? static_cast<ByteSink&>(*zstd) : stored, image);
  ProgressSink progress(both, options, done, total);
  std::uint64_t image_size = 0;
  std::array<std::uint8_t, 256 * 1024> buf;
  for (;;) {
    UPLIFT_ASSIGN(const std::size_t n, src->Read(buf));
    if (n == 0) break;
    image_size += n;
    UPLIFT_TRY(progress.Write(ByteView(buf.data(), n)));
  }
  if (zstd) UPLIFT_TRY(zstd->Finish());
  stored.Finish();
  p.size = stored.size();
  p.sha256 = stored.WholeDigest();
  out.chunk_hashes = stored.chunk_hashes();
  const Bytes image_digest = image.Finish();
  if (in.delta_source_sha256) {
    if (!in.delta_image_size || !in.delta_image_sha256) {
      return Error(base::Errc::kInvalidArgument,
                   "delta payload \"" + p.name + "\" needs the result's size and SHA-256");
    }
    p.image_size = *in.delta_image_size;
    p.image_sha256 = *in.delta_image_sha256;
  } else {
    p.image_size = image_size;
    std::copy(image_digest.begin(), image_digest.end(), p.image_sha256.begin());
  }
  p.chunks_root = crypto::Sha256::Of(out.chunk_hashes);
  return out;
}

Result<SignatureEntry> SignManifest(const crypto::PrivateKey& key, ByteView manifest) {
  SignatureEntry e;
  e.algorithm_id = static_cast<std::uint8_t>(key.algorithm());
  const auto id = FromHex(key.Public().id());
  std::copy(id->begin(), id->end(), e.key_id.begin());
  UPLIFT_ASSIGN(e.signature, key.Sign(SignedMessage(manifest)));
  return e;
}

Status AddSignatures(std::vector<SignatureEntry>& entries,
                     const std::vector<const crypto::PrivateKey*>& keys, ByteView manifest) {
  for (const auto* key : keys) {
    UPLIFT_ASSIGN(SignatureEntry e, SignManifest(*key, manifest));
    std::erase_if(entries, [&](const SignatureEntry& old) { return old.key_id == e.key_id; });
    entries.push_back(std::move(e));
  }
  if (entries.size() > kMaxSignatures) {
    return Error(Errc::kOversize, "more than " + std::to_string(kMaxSignatures) + " signatures");
  }
  return Ok();
}

Status WriteHead(ByteSink& out, BundleHeader h, ByteView manifest, ByteView sig_block,
                 ByteView chunk_index) {
  h.manifest_size = static_cast<std::uint32_t>(manifest.size());
  h.signatures_size = static_cast<std::uint32_t>(sig_block.size());
  h.chunk_index_size = chunk_index.size();
  if (manifest.size() > kMaxManifestSize) return Error(Errc::kOversize, "manifest too large");
  if (sig_block.size() > kMaxSignatureBlockSize) {
    return Error(Errc::kOversize, "signature block too large");
  }
  if (chunk_index.size() > kMaxChunkIndexSize) {
    return Error(Errc::kOversize,
                 "chunk index larger than 8 MiB: use a larger chunk size for payloads this big");
  }
  const auto encoded = h.Encode();
  UPLIFT_TRY(out.Write(encoded));
  UPLIFT_TRY(out.Write(manifest));
  UPLIFT_TRY(out.Write(sig_block));
  return out.Write(chunk_index);
}

}  // namespace

std::function<Result<std::unique_ptr<ByteSource>>()> OpenFileFn(const std::string& path) {
  return [path]() -> Result<std::unique_ptr<ByteSource>> {
    UPLIFT_ASSIGN(FileSource f, FileSource::Open(path));
    return std::unique_ptr<ByteSource>(std::make_unique<FileSource>(std::move(f)));
  };
}

Status WriteBundle(const BundleSpec& spec, const std::vector<const crypto::PrivateKey*>& keys,
                   ByteSink& out, const WriteOptions& options) {
  if (keys.empty()) return Error(base::Errc::kInvalidArgument, "a bundle needs at least one key");
  std::uint64_t total = 0;
  for (const auto& in : spec.payloads) total += 2 * in.size_hint;
  std::uint64_t done = 0;

  Manifest m;
  m.product = spec.product;
  m.version = spec.version;
  m.security_counter = spec.security_counter;
  m.compatible = spec.compatible;
  m.created = spec.created;
  m.expires = spec.expires;
  m.metadata = spec.metadata;
  std::vector<Prepared> prepared;
  Bytes chunk_index;
  for (const auto& in : spec.payloads) {
    UPLIFT_ASSIGN(Prepared p, Prepare(in, options, done, total));
    chunk_index.insert(chunk_index.end(), p.chunk_hashes.begin(), p.chunk_hashes.end());
    p.chunk_hashes = {};
    m.payloads.push_back(p.info);
    prepared.push_back(std::move(p));
  }
  UPLIFT_ASSIGN(const std::string manifest, SerializeManifest(m));
  std::vector<SignatureEntry> sigs;
  UPLIFT_TRY(AddSignatures(sigs, keys, AsBytes(manifest)));
  BundleHeader h;
  h.payload_size = m.total_payload_size();
  UPLIFT_TRY(WriteHead(out, h, AsBytes(manifest), EncodeSignatureBlock(sigs), chunk_index));

  for (std::size_t i = 0; i < prepared.size(); ++i) {
    Prepared& p = prepared[i];
    ChunkHashSink check(p.info.chunk_size, &out);
    ProgressSink progress(check, options, done, total);
    if (p.spill.valid()) {
      if (::lseek(p.spill.get(), 0, SEEK_SET) != 0) return ErrnoError("seek spill file", errno);
      FileSource spill = FileSource::Borrow(p.spill.get());
      UPLIFT_TRY(CopyN(spill, progress, p.info.size));
    } else {
      UPLIFT_ASSIGN(std::unique_ptr<ByteSource> src, spec.payloads[i].open());
      UPLIFT_TRY(CopyN(*src, progress, p.info.size));
      std::uint8_t extra;
      UPLIFT_ASSIGN(const std::size_t more, src->Read(MutableByteView(&extra, 1)));
      if (more != 0) {
        return Error(Errc::kHashMismatch,
                     "input of payload \"" + p.info.name + "\" grew while bundling");
      }
    }
    check.Finish();
    if (check.WholeDigest() != p.info.sha256) {
      return Error(Errc::kHashMismatch,
                   "input of payload \"" + p.info.name + "\" changed while bundling");
    }
  }
  return Ok();
}

Status CoSignBundle(ByteSource& in, const std::vector<const crypto::PrivateKey*>& keys,
                    ByteSink& out) {
  UPLIFT_ASSIGN(BundleReader reader, BundleReader::Open(in, VerifyOptions{}));
  std::vector<SignatureEntry> sigs = reader.signatures();
  UPLIFT_TRY(AddSignatures(sigs, keys, reader.manifest_bytes()));
  UPLIFT_TRY(WriteHead(out, reader.header(), reader.manifest_bytes(), EncodeSignatureBlock(sigs),
                       reader.chunk_index()));
  for (std::size_t i = 0; i < reader.manifest().payloads.size(); ++i) {
    UPLIFT_TRY(reader.ReadPayload(out));
  }
  return reader.Finish();
}

}  // namespace uplift::format
