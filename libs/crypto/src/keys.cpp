#include "uplift/crypto/keys.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "openssl_util.hpp"
#include "uplift/crypto/hash.hpp"

namespace uplift::crypto {

struct PublicKey::Impl {
  internal::EvpPkeyPtr pkey;
};

struct PrivateKey::Impl {
  internal::EvpPkeyPtr pkey;
  PublicKey pub;  // derived once, so Public() cannot fail
};

namespace {

using internal::OpensslError;

struct AlgorithmInfo {
  SignatureAlgorithm algo;
  std::string_view name;
  const char* key_type;    // OpenSSL key type for generation
  const char* group;       // EC group, or null
  const char* digest;      // null for PureEdDSA, which hashes the message itself
  std::size_t field_size;  // Ed25519: half the signature; ECDSA: width of r and of s
};

constexpr AlgorithmInfo kAlgorithms[] = {
    {SignatureAlgorithm::kEd25519, "ed25519", "ED25519", nullptr, nullptr, 32},
    {SignatureAlgorithm::kEcdsaP256Sha256, "ecdsa-p256", "EC", "P-256", "SHA256", 32},
    {SignatureAlgorithm::kEcdsaP384Sha384, "ecdsa-p384", "EC", "P-384", "SHA384", 48},
};

const AlgorithmInfo& Info(SignatureAlgorithm algo) {
  for (const auto& info : kAlgorithms) {
    if (info.algo == algo) return info;
  }
  std::abort();  // an enum value outside the declared ones: a broken invariant
}

// OpenSSL's pointer for an input that may be empty (span::data() may then be null).
const unsigned char* In(ByteView data) {
  return static_cast<const unsigned char*>(internal::InputPtr(data));
}

Result<SignatureAlgorithm> Classify(const EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "ED25519")) return SignatureAlgorithm::kEd25519;
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[80] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1) {
      return OpensslError(Errc::kBadKey, "EC key without a named curve");
    }
    // OpenSSL reports the SECG/X9.62 short name ("prime256v1"); accept the NIST one too.
    int nid = OBJ_sn2nid(group);
    if (nid == NID_undef) nid = EC_curve_nist2nid(group);
    if (nid == NID_X9_62_prime256v1) return SignatureAlgorithm::kEcdsaP256Sha256;
    if (nid == NID_secp384r1) return SignatureAlgorithm::kEcdsaP384Sha384;
    internal::ClearOpensslErrors();
    return Error(Errc::kBadKey, "unsupported EC curve " + std::string(group));
  }
  const char* type = EVP_PKEY_get0_type_name(pkey);
  internal::ClearOpensslErrors();
  return Error(Errc::kBadKey,
               "unsupported key type " + std::string(type != nullptr ? type : "(unknown)"));
}

Result<Bytes> SpkiDer(const EVP_PKEY* pkey) {
  const int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) return OpensslError(Errc::kInternal, "encoding public key");
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  if (i2d_PUBKEY(pkey, &p) != len) return OpensslError(Errc::kInternal, "encoding public key");
  return der;
}

// IEEE P1363 r || s -> the DER ECDSA-Sig-Value OpenSSL verifies.
Result<Bytes> RawToDer(ByteView raw, std::size_t field_size) {
  const int n = static_cast<int>(field_size);
  BIGNUM* r = BN_bin2bn(raw.data(), n, nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + field_size, n, nullptr);
  internal::EcdsaSigPtr sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || !sig || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return OpensslError(Errc::kInternal, "building ECDSA signature");
  }
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return OpensslError(Errc::kInternal, "encoding ECDSA signature");
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) {
    return OpensslError(Errc::kInternal, "encoding ECDSA signature");
  }
  return der;
}

// OpenSSL's DER signature -> fixed-width r || s, each left-padded with zeros.
Result<Bytes> DerToRaw(ByteView der, std::size_t field_size) {
  const unsigned char* p = der.data();
  internal::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return OpensslError(Errc::kInternal, "decoding ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes raw(2 * field_size);
  const int n = static_cast<int>(field_size);
  if (BN_bn2binpad(r, raw.data(), n) != n || BN_bn2binpad(s, raw.data() + field_size, n) != n) {
    return OpensslError(Errc::kInternal, "ECDSA signature wider than the curve");
  }
  return raw;
}

// Supplies the caller's passphrase to OpenSSL. Because a callback is always given, OpenSSL never
// falls back to prompting on the terminal, which would hang a daemon.
struct PassphraseRequest {
  std::optional<std::string_view> passphrase;
  bool asked = false;
};

int PassphraseCallback(char* buf, int size, int /*rwflag*/, void* user) {
  auto* req = static_cast<PassphraseRequest*>(user);
  req->asked = true;
  if (!req->passphrase || size < 0 || req->passphrase->size() > static_cast<std::size_t>(size)) {
    return -1;
  }
  std::memcpy(buf, req->passphrase->data(), req->passphrase->size());
  return static_cast<int>(req->passphrase->size());
}

Result<std::shared_ptr<PrivateKey::Impl>> MakePrivateImpl(internal::EvpPkeyPtr pkey) {
  UPLIFT_ASSIGN(const Bytes der, SpkiDer(pkey.get()));
  UPLIFT_ASSIGN(PublicKey pub, PublicKey::FromSpkiDer(der));
  return std::make_shared<PrivateKey::Impl>(PrivateKey::Impl{std::move(pkey), std::move(pub)});
}

}  // namespace

std::string_view AlgorithmName(SignatureAlgorithm algo) { return Info(algo).name; }

std::optional<SignatureAlgorithm> ParseAlgorithmName(std::string_view name) {
  for (const auto& info : kAlgorithms) {
    if (info.name == name) return info.algo;
  }
  return std::nullopt;
}

std::optional<SignatureAlgorithm> AlgorithmFromId(std::uint8_t id) {
  for (const auto& info : kAlgorithms) {
    if (static_cast<std::uint8_t>(info.algo) == id) return info.algo;
  }
  return std::nullopt;
}

std::size_t SignatureSize(SignatureAlgorithm algo) { return 2 * Info(algo).field_size; }

// Every PublicKey is built here, from the re-encoded DER, so the id of a key does not depend on
// how it reached us (PEM or DER, from a file or derived from a private key).
Result<PublicKey> PublicKey::FromSpkiDer(ByteView der) {
  if (der.empty() || der.size() > static_cast<std::size_t>(LONG_MAX)) {
    return Error(Errc::kBadKey, "empty or oversized SubjectPublicKeyInfo");
  }
  const unsigned char* p = der.data();
  internal::EvpPkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey) return OpensslError(Errc::kBadKey, "not a DER SubjectPublicKeyInfo");
  if (p != der.data() + der.size()) {
    return Error(Errc::kBadKey, "trailing bytes after SubjectPublicKeyInfo");
  }
  UPLIFT_ASSIGN(const SignatureAlgorithm algo, Classify(pkey.get()));
  if (algo != SignatureAlgorithm::kEd25519 &&
      EVP_PKEY_set_utf8_string_param(pkey.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                     OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1) {
    // OpenSSL re-encodes a point in the form it arrived in; one key must have one id.
    return OpensslError(Errc::kBadKey, "normalising EC point encoding");
  }
  UPLIFT_ASSIGN(Bytes canonical, SpkiDer(pkey.get()));
  std::string id = ToHex(Sha256::Of(canonical));
  return PublicKey(std::make_shared<Impl>(Impl{std::move(pkey)}), algo, std::move(canonical),
                   std::move(id));
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  const internal::BioPtr bio = internal::MemoryBio(AsBytes(pem));
  if (!bio) return OpensslError(Errc::kBadKey, "PEM public key too large");
  PassphraseRequest req;  // a public key is never encrypted; refuse rather than prompt
  internal::EvpPkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, PassphraseCallback, &req));
  if (!pkey) return OpensslError(Errc::kBadKey, "not a PEM public key (\"PUBLIC KEY\")");
  UPLIFT_ASSIGN(const Bytes der, SpkiDer(pkey.get()));
  return FromSpkiDer(der);
}

std::string PublicKey::ToPem() const {
  const internal::BioPtr bio(BIO_new(BIO_s_mem()));
  // Only allocation can fail here, and this API has no error channel for it.
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), impl_->pkey.get()) != 1) std::abort();
  return internal::DrainBio(bio.get());
}

Status PublicKey::Verify(ByteView message, ByteView signature) const {
  const AlgorithmInfo& info = Info(algo_);
  if (signature.size() != 2 * info.field_size) {
    return Error(Errc::kBadSignature, "signature is " + std::to_string(signature.size()) +
                                          " bytes, expected " +
                                          std::to_string(2 * info.field_size));
  }
  Bytes der;
  ByteView sig = signature;
  if (info.digest != nullptr) {
    UPLIFT_ASSIGN(der, RawToDer(signature, info.field_size));
    sig = der;
  }
  const internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, info.digest, nullptr, nullptr,
                                      impl_->pkey.get(), nullptr) != 1) {
    return OpensslError(Errc::kInternal, "setting up signature verification");
  }
  if (EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), In(message), message.size()) != 1) {
    return OpensslError(Errc::kBadSignature, "signature does not verify");
  }
  return Ok();
}

Result<PrivateKey> PrivateKey::Generate(SignatureAlgorithm algo) {
  const AlgorithmInfo& info = Info(algo);
  const internal::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, info.key_type, nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      (info.group != nullptr && EVP_PKEY_CTX_set_group_name(ctx.get(), info.group) != 1)) {
    return OpensslError(Errc::kInternal, "setting up key generation");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    return OpensslError(Errc::kInternal, "generating key");
  }
  UPLIFT_ASSIGN(auto impl, MakePrivateImpl(internal::EvpPkeyPtr(raw)));
  return PrivateKey(std::move(impl), algo);
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem,
                                       std::optional<std::string_view> passphrase) {
  const internal::BioPtr bio = internal::MemoryBio(AsBytes(pem));
  if (!bio) return OpensslError(Errc::kBadKey, "PEM private key too large");
  PassphraseRequest req{passphrase};
  internal::EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, PassphraseCallback, &req));
  if (!pkey) {
    // OpenSSL asks for a passphrase only once it has parsed an encrypted key, so a request
    // means the PEM was sound and the passphrase is what failed.
    if (req.asked) {
      return OpensslError(Errc::kBadPassphrase,
                          passphrase ? "wrong passphrase for encrypted private key"
                                     : "private key is encrypted and no passphrase was given");
    }
    return OpensslError(Errc::kBadKey, "not a PEM private key");
  }
  UPLIFT_ASSIGN(const SignatureAlgorithm algo, Classify(pkey.get()));
  UPLIFT_ASSIGN(auto impl, MakePrivateImpl(std::move(pkey)));
  return PrivateKey(std::move(impl), algo);
}

Result<std::string> PrivateKey::ToPem(std::optional<std::string_view> passphrase) const {
  if (passphrase && passphrase->empty()) {
    return Error(Errc::kInvalidArgument, "empty passphrase for private key encryption");
  }
  if (passphrase && passphrase->size() > static_cast<std::size_t>(INT_MAX)) {
    return Error(Errc::kInvalidArgument, "passphrase too long");
  }
  // Secure-heap memory BIO: the plaintext key PEM is wiped when the BIO is freed.
  const internal::BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) return OpensslError(Errc::kInternal, "allocating PEM buffer");
  PassphraseRequest req{passphrase};
  const int rc = passphrase
                     ? PEM_write_bio_PKCS8PrivateKey(
                           bio.get(), impl_->pkey.get(), EVP_aes_256_cbc(), passphrase->data(),
                           static_cast<int>(passphrase->size()), PassphraseCallback, &req)
                     : PEM_write_bio_PKCS8PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr,
                                                     0, PassphraseCallback, &req);
  if (rc != 1) return OpensslError(Errc::kInternal, "writing PKCS#8 private key");
  return internal::DrainBio(bio.get());
}

PublicKey PrivateKey::Public() const { return impl_->pub; }

Result<Bytes> PrivateKey::Sign(ByteView message) const {
  const AlgorithmInfo& info = Info(algo_);
  const internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, info.digest, nullptr, nullptr,
                                    impl_->pkey.get(), nullptr) != 1) {
    return OpensslError(Errc::kInternal, "setting up signing");
  }
  const int max_size = EVP_PKEY_get_size(impl_->pkey.get());
  if (max_size <= 0) return OpensslError(Errc::kInternal, "querying signature size");
  Bytes sig(static_cast<std::size_t>(max_size));
  std::size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, In(message), message.size()) != 1) {
    return OpensslError(Errc::kInternal, "signing");
  }
  sig.resize(len);
  if (info.digest != nullptr) return DerToRaw(sig, info.field_size);
  if (sig.size() != 2 * info.field_size) {
    return Error(Errc::kInternal, "Ed25519 signature of unexpected size");
  }
  return sig;
}

}  // namespace uplift::crypto
