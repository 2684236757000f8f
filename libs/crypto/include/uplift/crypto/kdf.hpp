// Key derivation and authenticated encryption, plus the random source.
#pragma once

#include <cstddef>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"
#include "uplift/crypto/errors.hpp"

namespace uplift::crypto {

// HKDF-SHA256 (RFC 5869). kInvalidArgument if length > 255 * 32.
Result<Bytes> HkdfSha256(ByteView ikm, ByteView salt, ByteView info, std::size_t length);

// HMAC-SHA256 (RFC 2104), used for request MACs and signed URLs.
Bytes HmacSha256(ByteView key, ByteView message);
// Constant-time equality for MACs and tags.
bool ConstantTimeEqual(ByteView a, ByteView b);

inline constexpr std::size_t kAesGcmKeySize = 32;
inline constexpr std::size_t kAesGcmNonceSize = 12;
inline constexpr std::size_t kAesGcmTagSize = 16;

// AES-256-GCM. Seal returns ciphertext || 16-byte tag. kInvalidArgument for a key that is not
// 32 bytes or a nonce that is not 12 bytes.
Result<Bytes> Aes256GcmSeal(ByteView key, ByteView nonce, ByteView aad, ByteView plaintext);
// Open takes ciphertext || tag; kAuthFailed if anything was altered.
Result<Bytes> Aes256GcmOpen(ByteView key, ByteView nonce, ByteView aad, ByteView sealed);

// Cryptographically secure random bytes (kInternal if the DRBG fails).
Result<Bytes> RandomBytes(std::size_t n);

}  // namespace uplift::crypto
