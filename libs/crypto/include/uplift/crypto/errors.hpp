// Error codes of the crypto module. Never renumber.
#pragma once

#include "uplift/base/result.hpp"

namespace uplift::crypto {

enum class Errc : int {
  kInternal = 1,              // OpenSSL failed where it should not (message carries its error)
  kBadKey = 2,                // a key could not be parsed or is of an unsupported type/curve
  kBadPassphrase = 3,         // an encrypted private key could not be decrypted
  kUnsupportedAlgorithm = 4,  // an algorithm name or id this build does not know
  kBadSignature = 5,          // a signature does not verify (wrong key, message or bytes)
  kAuthFailed = 6,            // AEAD tag mismatch: ciphertext, AAD, nonce or key is wrong
  kInvalidArgument = 7,       // a length outside the algorithm's domain (key, nonce, output)
};

}  // namespace uplift::crypto

UPLIFT_ERROR_DOMAIN(uplift::crypto::Errc, "crypto")
