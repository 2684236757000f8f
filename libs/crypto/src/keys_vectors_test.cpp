// Known-answer tests for the three signature algorithms, from their specifications.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>

#include "uplift/base/bytes.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/crypto/keys.hpp"

namespace uplift::crypto {
namespace {

Bytes Hex(std::string_view hex) { return FromHex(hex).value(); }

Bytes Concat(ByteView a, ByteView b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// The public API takes keys only as PEM, so a raw RFC 8032 seed goes in the way a key file would.
PrivateKey Ed25519FromSeed(ByteView seed) {
  EVP_PKEY* pkey =
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
  EXPECT_NE(pkey, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PKCS8PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long len = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data);
  const std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return PrivateKey::FromPem(pem).value();
}

struct Ed25519Vector {
  const char* name;
  const char* secret;
  const char* public_key;
  std::string message;
  const char* signature;
};

// RFC 8032 section 7.1 (messages and keys in hex).
const Ed25519Vector kRfc8032[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST 1024", "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
     "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98"
     "fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8"
     "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
     "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc"
     "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe"
     "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
     "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef"
     "efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7"
     "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
     "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2"
     "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24"
     "554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
     "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc"
     "2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07"
     "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
     "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a"
     "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e"
     "c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
     "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c"
     "42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8"
     "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
     "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08"
     "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649"
     "de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
     "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3"
     "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e"
     "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
     "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5"
     "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1"
     "369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
     "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c"
     "0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0",
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
     "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"},
};

// SubjectPublicKeyInfo DER up to the key bytes: Ed25519 (RFC 8410) and EC P-256/P-384 with the
// uncompressed-point marker 0x04 (RFC 5480).
constexpr std::string_view kEd25519SpkiPrefix = "302a300506032b6570032100";
constexpr std::string_view kP256SpkiPrefix =
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004";
constexpr std::string_view kP384SpkiPrefix = "3076301006072a8648ce3d020106052b8104002203620004";

TEST(Ed25519Vectors, Rfc8032) {
  for (const auto& v : kRfc8032) {
    SCOPED_TRACE(v.name);
    const Bytes message = Hex(v.message);
    const Bytes expected_sig = Hex(v.signature);
    const PrivateKey key = Ed25519FromSeed(Hex(v.secret));
    EXPECT_EQ(key.algorithm(), SignatureAlgorithm::kEd25519);

    // Secret key -> public key.
    const PublicKey pub = key.Public();
    const Bytes spki = Concat(Hex(kEd25519SpkiPrefix), Hex(v.public_key));
    EXPECT_EQ(ToHex(pub.spki_der()), ToHex(spki));
    EXPECT_EQ(pub.id(), ToHex(Sha256::Of(spki)));

    // Signing is deterministic: the exact RFC bytes.
    const auto sig = key.Sign(message);
    ASSERT_TRUE(sig.ok()) << sig.error().message();
    EXPECT_EQ(ToHex(*sig), v.signature);

    // Verification through a key built only from the RFC's public key bytes.
    const auto from_der = PublicKey::FromSpkiDer(spki);
    ASSERT_TRUE(from_der.ok()) << from_der.error().message();
    EXPECT_TRUE(from_der->Verify(message, expected_sig).ok());

    Bytes altered = message;
    if (altered.empty()) {
      altered.push_back(0);
    } else {
      altered[altered.size() / 2] ^= 0x01;
    }
    EXPECT_TRUE(from_der->Verify(altered, expected_sig).error().Is(Errc::kBadSignature));
    for (const std::size_t i :
         {std::size_t{0}, std::size_t{31}, std::size_t{32}, std::size_t{63}}) {
      Bytes bad_sig = expected_sig;
      bad_sig[i] ^= 0x01;
      EXPECT_TRUE(from_der->Verify(message, bad_sig).error().Is(Errc::kBadSignature)) << i;
    }
  }
}

TEST(Ed25519Vectors, Test1024MessageIs1023Bytes) {
  EXPECT_EQ(Hex(kRfc8032[3].message).size(), 1023u);
}

struct EcdsaVector {
  const char* name;
  SignatureAlgorithm algo;
  std::string_view spki_prefix;
  const char* ux;
  const char* uy;
  const char* r;
  const char* s;
  const char* pem;
};

// RFC 6979 A.2.5 (P-256, SHA-256) and A.2.6 (P-384, SHA-384), message "sample". The PEM is the
// same key as written by Python's `cryptography`, to pin our PEM output too.
const EcdsaVector kRfc6979[] = {
    {"P-256", SignatureAlgorithm::kEcdsaP256Sha256, kP256SpkiPrefix,
     "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6",
     "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299",
     "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
     "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
     "-----BEGIN PUBLIC KEY-----\n"
     "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7\n"
     "Yfps5mliLmDyn7Z5A/4QCLi8maQa6elWKLxk8vGyDC1+n1F3o8KU1EYimQ==\n"
     "-----END PUBLIC KEY-----\n"},
    {"P-384", SignatureAlgorithm::kEcdsaP384Sha384, kP384SpkiPrefix,
     "EC3A4E415B4E19A4568618029F427FA5DA9A8BC4AE92E02E06AAE5286B300C64"
     "DEF8F0EA9055866064A254515480BC13",
     "8015D9B72D7D57244EA8EF9AC0C621896708A59367F9DFB9F54CA84B3F1C9DB1"
     "288B231C3AE0D4FE7344FD2533264720",
     "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C"
     "81A648152E44ACF96E36DD1E80FABE46",
     "99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94F"
     "A329C145786E679E7B82C71A38628AC8",
     "-----BEGIN PUBLIC KEY-----\n"
     "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE7DpOQVtOGaRWhhgCn0J/pdqai8SukuAu\n"
     "BqrlKGswDGTe+PDqkFWGYGSiVFFUgLwTgBXZty19VyROqO+awMYhiWcIpZNn+d+5\n"
     "9UyoSz8cnbEoiyMcOuDU/nNE/SUzJkcg\n"
     "-----END PUBLIC KEY-----\n"},
};

TEST(EcdsaVectors, Rfc6979Sample) {
  for (const auto& v : kRfc6979) {
    SCOPED_TRACE(v.name);
    const Bytes spki = Concat(Concat(Hex(v.spki_prefix), Hex(v.ux)), Hex(v.uy));
    const auto key = PublicKey::FromSpkiDer(spki);
    ASSERT_TRUE(key.ok()) << key.error().message();
    EXPECT_EQ(key->algorithm(), v.algo);
    EXPECT_EQ(key->spki_der(), spki);
    EXPECT_EQ(key->id(), ToHex(Sha256::Of(spki)));
    EXPECT_EQ(key->ToPem(), v.pem);

    const auto from_pem = PublicKey::FromPem(v.pem);
    ASSERT_TRUE(from_pem.ok()) << from_pem.error().message();
    EXPECT_EQ(from_pem->id(), key->id());

    const Bytes sig = Concat(Hex(v.r), Hex(v.s));
    ASSERT_EQ(sig.size(), SignatureSize(v.algo));
    const ByteView message = AsBytes("sample");
    const Status ok = key->Verify(message, sig);
    EXPECT_TRUE(ok.ok()) << ok.error().message();
    EXPECT_TRUE(from_pem->Verify(message, sig).ok());

    EXPECT_TRUE(key->Verify(AsBytes("samplf"), sig).error().Is(Errc::kBadSignature));
    EXPECT_TRUE(key->Verify(AsBytes("test"), sig).error().Is(Errc::kBadSignature));
    for (std::size_t i = 0; i < sig.size(); ++i) {
      Bytes bad = sig;
      bad[i] ^= 0x01;
      EXPECT_TRUE(key->Verify(message, bad).error().Is(Errc::kBadSignature)) << i;
    }
    // r and s swapped, and the wrong length either way.
    const std::size_t half = sig.size() / 2;
    const Bytes swapped = Concat(ByteView(sig).subspan(half), ByteView(sig).first(half));
    EXPECT_TRUE(key->Verify(message, swapped).error().Is(Errc::kBadSignature));
    EXPECT_TRUE(
        key->Verify(message, ByteView(sig).first(sig.size() - 1)).error().Is(Errc::kBadSignature));
    Bytes longer = sig;
    longer.push_back(0);
    EXPECT_TRUE(key->Verify(message, longer).error().Is(Errc::kBadSignature));
    // Zero r and s are outside [1, n-1] and must be refused, not crash the DER conversion.
    EXPECT_TRUE(key->Verify(message, Bytes(sig.size(), 0)).error().Is(Errc::kBadSignature));
  }
}

}  // namespace
}  // namespace uplift::crypto
