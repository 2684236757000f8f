// Internal glue between OpenSSL's C API and the crypto module: owning pointers and the one way
// OpenSSL failures become uplift::Error. Not a public header.
#pragma once

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>
#include <string>
#include <string_view>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"
#include "uplift/crypto/errors.hpp"

namespace uplift::crypto::internal {

template <auto kFree>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};

using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;
using EvpKdfPtr = std::unique_ptr<EVP_KDF, Deleter<EVP_KDF_free>>;
using EvpKdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, Deleter<EVP_KDF_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;

// An Error with `code` and `what`; for kInternal the message also carries OpenSSL's last queued
// error. Either way the thread's error queue is cleared, so a stale entry never leaks into the
// next, unrelated failure report.
Error OpensslError(Errc code, std::string_view what);

// Drops whatever OpenSSL queued during a failure we report in our own words.
void ClearOpensslErrors();

// A read-only memory BIO over `data` (which must outlive it); null if data exceeds INT_MAX.
BioPtr MemoryBio(ByteView data);
// Everything written so far to a memory BIO.
std::string DrainBio(BIO* bio);

// OpenSSL takes `void*` for input buffers it never writes, and a valid pointer even for empty
// input; this is the one place that casts the constness away.
void* InputPtr(ByteView data);

}  // namespace uplift::crypto::internal
