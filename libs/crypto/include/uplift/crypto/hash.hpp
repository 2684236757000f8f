// Streaming cryptographic hashes (OpenSSL 3 EVP).
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "uplift/base/bytes.hpp"
#include "uplift/base/io.hpp"

namespace uplift::crypto {

enum class HashAlgorithm { kSha256, kSha384, kSha512, kSha3_512 };

std::size_t DigestSize(HashAlgorithm algo);

// A streaming hash. Move-only; Finish() may be called once, after which the object is spent.
class Hasher {
 public:
  explicit Hasher(HashAlgorithm algo);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  void Update(ByteView data);
  Bytes Finish();
  HashAlgorithm algorithm() const { return algo_; }

 private:
  struct Ctx;
  HashAlgorithm algo_;
  std::unique_ptr<Ctx> ctx_;
};

using Sha256Digest = std::array<std::uint8_t, 32>;

// SHA-256, the hash of every payload, chunk and key id; a fixed-size digest type for it.
class Sha256 {
 public:
  Sha256() : h_(HashAlgorithm::kSha256) {}
  void Update(ByteView data) { h_.Update(data); }
  Sha256Digest Finish();
  static Sha256Digest Of(ByteView data);

 private:
  Hasher h_;
};

// A ByteSink that hashes what passes through and forwards it (next may be null).
class HashingSink final : public ByteSink {
 public:
  HashingSink(HashAlgorithm algo, ByteSink* next) : h_(algo), next_(next) {}
  Status Write(ByteView data) override;
  Bytes Finish() { return h_.Finish(); }

 private:
  Hasher h_;
  ByteSink* next_;
};

// MD5, only for peers that define their tokens with it (nginx's secure_link); never for
// anything Uplift itself trusts.
std::array<std::uint8_t, 16> Md5ForInterop(ByteView data);

}  // namespace uplift::crypto
