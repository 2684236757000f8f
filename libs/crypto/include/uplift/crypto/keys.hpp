// Signature keys and algorithms.
//
// Private keys are PEM PKCS#8 ("PRIVATE KEY", or "ENCRYPTED PRIVATE KEY" with a passphrase);
// public keys are PEM SubjectPublicKeyInfo ("PUBLIC KEY"). A key id is the lower-case hex
// SHA-256 of the public key's SPKI DER encoding.
//
// Signatures are raw and fixed-size: Ed25519 is the 64-byte RFC 8032 signature over the message
// itself; ECDSA is r || s, each big-endian and left-padded to the curve's size (IEEE P1363),
// over SHA-256 (P-256) or SHA-384 (P-384) of the message.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"
#include "uplift/crypto/errors.hpp"

namespace uplift::crypto {

// Numeric ids are part of the bundle format (docs/formats/bundle.md): never renumber.
enum class SignatureAlgorithm : std::uint8_t {
  kEd25519 = 1,
  kEcdsaP256Sha256 = 2,
  kEcdsaP384Sha384 = 3,
};

// "ed25519", "ecdsa-p256", "ecdsa-p384".
std::string_view AlgorithmName(SignatureAlgorithm algo);
std::optional<SignatureAlgorithm> ParseAlgorithmName(std::string_view name);
std::optional<SignatureAlgorithm> AlgorithmFromId(std::uint8_t id);
// 64 for Ed25519 and P-256, 96 for P-384.
std::size_t SignatureSize(SignatureAlgorithm algo);

class PublicKey {
 public:
  // kBadKey for anything but an Ed25519, P-256 or P-384 SPKI.
  static Result<PublicKey> FromPem(std::string_view pem);
  static Result<PublicKey> FromSpkiDer(ByteView der);

  SignatureAlgorithm algorithm() const { return algo_; }
  const Bytes& spki_der() const { return der_; }
  std::string ToPem() const;
  // Lower-case hex SHA-256 of the SPKI DER.
  const std::string& id() const { return id_; }

  // Ok if signature is a valid signature of message under this key; kBadSignature otherwise
  // (including a signature of the wrong length).
  Status Verify(ByteView message, ByteView signature) const;

  struct Impl;

 private:
  PublicKey(std::shared_ptr<Impl> impl, SignatureAlgorithm algo, Bytes der, std::string id)
      : impl_(std::move(impl)), algo_(algo), der_(std::move(der)), id_(std::move(id)) {}
  std::shared_ptr<Impl> impl_;
  SignatureAlgorithm algo_;
  Bytes der_;
  std::string id_;
};

class PrivateKey {
 public:
  static Result<PrivateKey> Generate(SignatureAlgorithm algo);
  // An encrypted PEM needs a passphrase (kBadPassphrase if missing or wrong); kBadKey otherwise.
  static Result<PrivateKey> FromPem(std::string_view pem,
                                    std::optional<std::string_view> passphrase = std::nullopt);

  SignatureAlgorithm algorithm() const { return algo_; }
  // PKCS#8 PEM; with a passphrase, encrypted with AES-256-CBC under PBKDF2 (OpenSSL defaults).
  Result<std::string> ToPem(std::optional<std::string_view> passphrase = std::nullopt) const;
  PublicKey Public() const;
  // Raw fixed-size signature as described above; kInternal only if OpenSSL fails.
  Result<Bytes> Sign(ByteView message) const;

  struct Impl;

 private:
  PrivateKey(std::shared_ptr<Impl> impl, SignatureAlgorithm algo)
      : impl_(std::move(impl)), algo_(algo) {}
  std::shared_ptr<Impl> impl_;
  SignatureAlgorithm algo_;
};

}  // namespace uplift::crypto
