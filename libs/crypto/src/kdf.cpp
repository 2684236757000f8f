#include "uplift/crypto/kdf.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "openssl_util.hpp"

namespace uplift::crypto {
namespace {

using internal::OpensslError;

constexpr std::size_t kSha256Size = 32;
// EVP_CipherUpdate and RAND_bytes take int lengths; larger inputs go through in pieces.
constexpr std::size_t kMaxPiece = std::size_t{1} << 30;

OSSL_PARAM OctetParam(const char* name, ByteView data) {
  return OSSL_PARAM_construct_octet_string(name, internal::InputPtr(data), data.size());
}

OSSL_PARAM Utf8Param(const char* name, const char* value) {
  // OpenSSL only reads the string; the non-const parameter is a C API wart.
  return OSSL_PARAM_construct_utf8_string(name, const_cast<char*>(value), 0);
}

Status CheckGcmSizes(ByteView key, ByteView nonce) {
  if (key.size() != kAesGcmKeySize) {
    return Error(Errc::kInvalidArgument,
                 "AES-256-GCM key is " + std::to_string(key.size()) + " bytes, expected 32");
  }
  if (nonce.size() != kAesGcmNonceSize) {
    return Error(Errc::kInvalidArgument,
                 "AES-256-GCM nonce is " + std::to_string(nonce.size()) + " bytes, expected 12");
  }
  return Ok();
}

// Runs `data` through an initialised GCM context into `out` (same length); false on failure.
// With out == nullptr the bytes are AAD.
bool GcmUpdate(EVP_CIPHER_CTX* ctx, bool encrypt, ByteView data, std::uint8_t* out) {
  for (std::size_t done = 0; done < data.size();) {
    const std::size_t piece = std::min(kMaxPiece, data.size() - done);
    int written = 0;
    const int n = static_cast<int>(piece);
    const int ok = encrypt ? EVP_EncryptUpdate(ctx, out != nullptr ? out + done : nullptr, &written,
                                               data.data() + done, n)
                           : EVP_DecryptUpdate(ctx, out != nullptr ? out + done : nullptr, &written,
                                               data.data() + done, n);
    // GCM is a stream mode: every byte comes straight back (AAD reports its length too).
    if (ok != 1 || written != n) return false;
    done += piece;
  }
  return true;
}

}  // namespace

Result<Bytes> HkdfSha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length) {
  if (length > 255 * kSha256Size) {
    return Error(Errc::kInvalidArgument,
                 "HKDF-SHA256 output of " + std::to_string(length) + " bytes exceeds 8160");
  }
  if (length == 0) return Bytes{};
  const internal::EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  const internal::EvpKdfCtxPtr ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  if (!ctx) return OpensslError(Errc::kInternal, "setting up HKDF");
  // An empty salt is passed explicitly: HMAC pads a short key with zeros, so it is the RFC's
  // default salt of HashLen zero bytes.
  const OSSL_PARAM params[] = {
      Utf8Param(OSSL_KDF_PARAM_DIGEST, "SHA256"),
      OctetParam(OSSL_KDF_PARAM_KEY, ikm),
      OctetParam(OSSL_KDF_PARAM_SALT, salt),
      OctetParam(OSSL_KDF_PARAM_INFO, info),
      OSSL_PARAM_construct_end(),
  };
  Bytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return OpensslError(Errc::kInternal, "deriving HKDF-SHA256");
  }
  return out;
}

Bytes HmacSha256(ByteView key, ByteView message) {
  Bytes out(kSha256Size);
  std::size_t len = 0;
  // Only allocation can fail here, and this API has no error channel for it.
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, internal::InputPtr(key), key.size(),
                static_cast<const unsigned char*>(internal::InputPtr(message)), message.size(),
                out.data(), out.size(), &len) == nullptr ||
      len != out.size()) {
    std::abort();
  }
  return out;
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  // Lengths of MACs and tags are public; only the contents must not leak through timing.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<Bytes> Aes256GcmSeal(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext) {
  UPLIFT_TRY(CheckGcmSizes(key, nonce));
  const internal::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), nonce.data(), nullptr) != 1) {
    return OpensslError(Errc::kInternal, "setting up AES-256-GCM");
  }
  Bytes out(plaintext.size() + kAesGcmTagSize);
  std::uint8_t scratch[16];  // GCM's final step emits nothing, but wants somewhere to put it
  int final_len = 0;
  if (!GcmUpdate(ctx.get(), true, aad, nullptr) ||
      !GcmUpdate(ctx.get(), true, plaintext, out.data()) ||
      EVP_EncryptFinal_ex(ctx.get(), scratch, &final_len) != 1 || final_len != 0) {
    return OpensslError(Errc::kInternal, "AES-256-GCM encryption");
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out.data() + plaintext.size(),
                                        kAesGcmTagSize),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_CIPHER_CTX_get_params(ctx.get(), params) != 1) {
    return OpensslError(Errc::kInternal, "reading AES-256-GCM tag");
  }
  return out;
}

Result<Bytes> Aes256GcmOpen(ByteView key, ByteView nonce, ByteView aad, ByteView sealed) {
  UPLIFT_TRY(CheckGcmSizes(key, nonce));
  if (sealed.size() < kAesGcmTagSize) {
    return Error(Errc::kAuthFailed, "AES-256-GCM input shorter than its tag");
  }
  const std::size_t text_size = sealed.size() - kAesGcmTagSize;
  const internal::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), nonce.data(), nullptr) != 1) {
    return OpensslError(Errc::kInternal, "setting up AES-256-GCM");
  }
  Bytes out(text_size);
  if (!GcmUpdate(ctx.get(), false, aad, nullptr) ||
      !GcmUpdate(ctx.get(), false, sealed.first(text_size), out.data())) {
    return OpensslError(Errc::kInternal, "AES-256-GCM decryption");
  }
  const OSSL_PARAM params[] = {
      OctetParam(OSSL_CIPHER_PARAM_AEAD_TAG, sealed.subspan(text_size)),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_CIPHER_CTX_set_params(ctx.get(), params) != 1) {
    return OpensslError(Errc::kInternal, "setting AES-256-GCM tag");
  }
  std::uint8_t scratch[16];
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), scratch, &final_len) != 1 || final_len != 0) {
    // Never hand out, or leave lying in the heap, plaintext that failed authentication.
    if (!out.empty()) OPENSSL_cleanse(out.data(), out.size());
    return OpensslError(Errc::kAuthFailed, "AES-256-GCM authentication failed");
  }
  return out;
}

Result<Bytes> RandomBytes(std::size_t n) {
  Bytes out(n);
  for (std::size_t done = 0; done < n;) {
    const std::size_t piece = std::min(kMaxPiece, n - done);
    if (RAND_bytes(out.data() + done, static_cast<int>(piece)) != 1) {
      return OpensslError(Errc::kInternal, "random number generator failed");
    }
    done += piece;
  }
  return out;
}

}  // namespace uplift::crypto
