#include "uplift/crypto/hash.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdlib>

#include "openssl_util.hpp"

namespace uplift::crypto {
namespace {

// Fetched once per algorithm, in HashAlgorithm's order: an implicit fetch on every
// EVP_DigestInit costs a provider lookup, which shows on the many small chunk hashes. The handles
// live for the whole process.
const EVP_MD* Md(HashAlgorithm algo) {
  static const std::array<EVP_MD*, 4> kMds = {
      EVP_MD_fetch(nullptr, "SHA2-256", nullptr),
      EVP_MD_fetch(nullptr, "SHA2-384", nullptr),
      EVP_MD_fetch(nullptr, "SHA2-512", nullptr),
      EVP_MD_fetch(nullptr, "SHA3-512", nullptr),
  };
  const auto index = static_cast<std::size_t>(algo);
  // The default provider always has these; without them no bundle can be verified at all.
  if (index >= kMds.size() || kMds[index] == nullptr) std::abort();
  return kMds[index];
}

}  // namespace

std::size_t DigestSize(HashAlgorithm algo) {
  switch (algo) {
    case HashAlgorithm::kSha256:
      return 32;
    case HashAlgorithm::kSha384:
      return 48;
    case HashAlgorithm::kSha512:
    case HashAlgorithm::kSha3_512:
      return 64;
  }
  std::abort();
}

struct Hasher::Ctx {
  internal::EvpMdCtxPtr md;
};

// The Hasher API has no error channel: a digest context that cannot be set up or updated means
// OpenSSL is out of memory or broken, and the process cannot do its job, so these abort.
Hasher::Hasher(HashAlgorithm algo) : algo_(algo), ctx_(std::make_unique<Ctx>()) {
  ctx_->md.reset(EVP_MD_CTX_new());
  if (!ctx_->md || EVP_DigestInit_ex2(ctx_->md.get(), Md(algo), nullptr) != 1) std::abort();
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

void Hasher::Update(ByteView data) {
  if (!ctx_) std::abort();  // Update after Finish (or on a moved-from Hasher)
  if (data.empty()) return;
  if (EVP_DigestUpdate(ctx_->md.get(), data.data(), data.size()) != 1) std::abort();
}

Bytes Hasher::Finish() {
  if (!ctx_) std::abort();  // Finish twice (or on a moved-from Hasher)
  Bytes out(DigestSize(algo_));
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md.get(), out.data(), &len) != 1 || len != out.size()) {
    std::abort();
  }
  ctx_.reset();
  return out;
}

Sha256Digest Sha256::Finish() {
  const Bytes digest = h_.Finish();
  Sha256Digest out;
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

Sha256Digest Sha256::Of(ByteView data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

Status HashingSink::Write(ByteView data) {
  // Forward first: the digest then covers exactly the bytes the next sink accepted.
  if (next_ != nullptr) UPLIFT_TRY(next_->Write(data));
  h_.Update(data);
  return Ok();
}

std::array<std::uint8_t, 16> Md5ForInterop(ByteView data) {
  std::array<std::uint8_t, 16> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(), nullptr);
  return out;
}

}  // namespace uplift::crypto
