#include "uplift/crypto/kdf.hpp"

#include <gtest/gtest.h>

#include <string>

#include "uplift/base/bytes.hpp"

namespace uplift::crypto {
namespace {

Bytes Hex(std::string_view hex) { return FromHex(hex).value(); }

Bytes Text(std::string_view s) {
  const ByteView v = AsBytes(s);
  return Bytes(v.begin(), v.end());
}

Bytes Range(int first, int last) {  // first..last inclusive
  Bytes out;
  for (int i = first; i <= last; ++i) out.push_back(static_cast<std::uint8_t>(i));
  return out;
}

// RFC 5869 appendix A.1-A.3 (the SHA-256 cases).
TEST(Hkdf, Rfc5869Case1) {
  const auto okm = HkdfSha256(Bytes(22, 0x0b), Range(0x00, 0x0c), Range(0xf0, 0xf9), 42);
  ASSERT_TRUE(okm.ok()) << okm.error().message();
  EXPECT_EQ(ToHex(*okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(Hkdf, Rfc5869Case2LongInputs) {
  const auto okm = HkdfSha256(Range(0x00, 0x4f), Range(0x60, 0xaf), Range(0xb0, 0xff), 82);
  ASSERT_TRUE(okm.ok()) << okm.error().message();
  EXPECT_EQ(ToHex(*okm),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87");
}

TEST(Hkdf, Rfc5869Case3EmptySaltAndInfo) {
  const auto okm = HkdfSha256(Bytes(22, 0x0b), {}, {}, 42);
  ASSERT_TRUE(okm.ok()) << okm.error().message();
  EXPECT_EQ(ToHex(*okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

// Value from Python's `cryptography` HKDF with an empty IKM.
TEST(Hkdf, EmptyIkm) {
  const auto okm = HkdfSha256({}, {}, {}, 32);
  ASSERT_TRUE(okm.ok()) << okm.error().message();
  EXPECT_EQ(ToHex(*okm), "eb70f01dede9afafa449eee1b1286504e1f62388b3f7dd4f956697b0e828fe18");
}

TEST(Hkdf, OutputLengthBounds) {
  const Bytes ikm(32, 0x42);
  const auto max = HkdfSha256(ikm, {}, {}, 255 * 32);
  ASSERT_TRUE(max.ok()) << max.error().message();
  EXPECT_EQ(max->size(), 8160u);
  const auto too_long = HkdfSha256(ikm, {}, {}, 255 * 32 + 1);
  ASSERT_FALSE(too_long.ok());
  EXPECT_TRUE(too_long.error().Is(Errc::kInvalidArgument));
  const auto none = HkdfSha256(ikm, {}, {}, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // A shorter output is a prefix of a longer one (same PRK, same T(1..n)).
  const auto short_okm = HkdfSha256(ikm, {}, {}, 40);
  ASSERT_TRUE(short_okm.ok());
  EXPECT_TRUE(std::equal(short_okm->begin(), short_okm->end(), max->begin()));
}

// RFC 4231 test cases 1, 2 and 6.
TEST(Hmac, Rfc4231) {
  EXPECT_EQ(ToHex(HmacSha256(Bytes(20, 0x0b), AsBytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(ToHex(HmacSha256(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(ToHex(HmacSha256(Bytes(131, 0xaa),
                             AsBytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// Value from Python's hmac module.
TEST(Hmac, EmptyKeyAndMessage) {
  EXPECT_EQ(ToHex(HmacSha256({}, {})),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  const Bytes a = Hex("00112233");
  EXPECT_TRUE(ConstantTimeEqual(a, Hex("00112233")));
  EXPECT_FALSE(ConstantTimeEqual(a, Hex("00112234")));
  EXPECT_FALSE(ConstantTimeEqual(a, Hex("80112233")));
  EXPECT_FALSE(ConstantTimeEqual(a, Hex("001122")));
  EXPECT_FALSE(ConstantTimeEqual(a, Hex("0011223300")));
  EXPECT_TRUE(ConstantTimeEqual({}, {}));
  EXPECT_FALSE(ConstantTimeEqual({}, a));
}

// McGrew & Viega, "The Galois/Counter Mode of Operation", AES-256 test cases 13 and 14.
TEST(AesGcm, SpecVectors) {
  const Bytes key(32, 0);
  const Bytes nonce(12, 0);
  const auto empty = Aes256GcmSeal(key, nonce, {}, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(ToHex(*empty), "530f8afbc74536b9a963b4f1c4cb738b");
  const auto block = Aes256GcmSeal(key, nonce, {}, Bytes(16, 0));
  ASSERT_TRUE(block.ok());
  EXPECT_EQ(ToHex(*block), "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
  const auto opened = Aes256GcmOpen(key, nonce, {}, *block);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, Bytes(16, 0));
}

class AesGcmTamper : public ::testing::Test {
 protected:
  const Bytes key_ = Hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const Bytes nonce_ = Hex("cafebabefacedbaddecaf888");
  const Bytes aad_ = Text("bundle header");
  const Bytes plaintext_ = Text("the quick brown fox, sealed");

  Bytes Sealed() const { return Aes256GcmSeal(key_, nonce_, aad_, plaintext_).value(); }

  static void ExpectAuthFailed(const Result<Bytes>& r) {
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.error().Is(Errc::kAuthFailed)) << r.error().message();
  }
};

TEST_F(AesGcmTamper, RoundTrip) {
  const Bytes sealed = Sealed();
  EXPECT_EQ(sealed.size(), plaintext_.size() + kAesGcmTagSize);
  const auto opened = Aes256GcmOpen(key_, nonce_, aad_, sealed);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ(*opened, plaintext_);
}

TEST_F(AesGcmTamper, EveryCiphertextAndTagByteIsAuthenticated) {
  const Bytes sealed = Sealed();
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    Bytes bad = sealed;
    bad[i] ^= 0x01;
    ExpectAuthFailed(Aes256GcmOpen(key_, nonce_, aad_, bad));
  }
}

TEST_F(AesGcmTamper, AadNonceKeyAndTruncation) {
  const Bytes sealed = Sealed();
  Bytes aad = aad_;
  aad.back() ^= 0x80;
  ExpectAuthFailed(Aes256GcmOpen(key_, nonce_, aad, sealed));
  ExpectAuthFailed(Aes256GcmOpen(key_, nonce_, {}, sealed));
  Bytes nonce = nonce_;
  nonce[0] ^= 0x01;
  ExpectAuthFailed(Aes256GcmOpen(key_, nonce, aad_, sealed));
  Bytes key = key_;
  key[31] ^= 0x01;
  ExpectAuthFailed(Aes256GcmOpen(key, nonce_, aad_, sealed));
  ExpectAuthFailed(Aes256GcmOpen(key_, nonce_, aad_, ByteView(sealed).first(sealed.size() - 1)));
  ExpectAuthFailed(Aes256GcmOpen(key_, nonce_, aad_, ByteView(sealed).first(15)));
  ExpectAuthFailed(Aes256GcmOpen(key_, nonce_, aad_, {}));
}

TEST_F(AesGcmTamper, BadKeyOrNonceLength) {
  for (const std::size_t n : {0u, 16u, 31u, 33u}) {
    const auto seal = Aes256GcmSeal(Bytes(n, 1), nonce_, aad_, plaintext_);
    ASSERT_FALSE(seal.ok());
    EXPECT_TRUE(seal.error().Is(Errc::kInvalidArgument)) << n;
    const auto open = Aes256GcmOpen(Bytes(n, 1), nonce_, aad_, Sealed());
    ASSERT_FALSE(open.ok());
    EXPECT_TRUE(open.error().Is(Errc::kInvalidArgument)) << n;
  }
  for (const std::size_t n : {0u, 8u, 11u, 13u, 16u}) {
    const auto seal = Aes256GcmSeal(key_, Bytes(n, 1), aad_, plaintext_);
    ASSERT_FALSE(seal.ok());
    EXPECT_TRUE(seal.error().Is(Errc::kInvalidArgument)) << n;
    const auto open = Aes256GcmOpen(key_, Bytes(n, 1), aad_, Sealed());
    ASSERT_FALSE(open.ok());
    EXPECT_TRUE(open.error().Is(Errc::kInvalidArgument)) << n;
  }
}

TEST_F(AesGcmTamper, EmptyPlaintextStillAuthenticatesAad) {
  const auto sealed = Aes256GcmSeal(key_, nonce_, aad_, {});
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), kAesGcmTagSize);
  const auto opened = Aes256GcmOpen(key_, nonce_, aad_, *sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->empty());
  ExpectAuthFailed(Aes256GcmOpen(key_, nonce_, AsBytes("other"), *sealed));
}

TEST(RandomBytes, LengthAndVariety) {
  const auto a = RandomBytes(32);
  const auto b = RandomBytes(32);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);  // a collision here has probability 2^-256
  const auto none = RandomBytes(0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace uplift::crypto
