#include "uplift/crypto/hash.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "uplift/base/bytes.hpp"
#include "uplift/base/io.hpp"

namespace uplift::crypto {
namespace {

std::string HexOf(HashAlgorithm algo, std::string_view message) {
  Hasher h(algo);
  h.Update(AsBytes(message));
  return ToHex(h.Finish());
}

// A deterministic, non-repeating test pattern.
Bytes Pattern(std::size_t n) {
  Bytes out(n);
  std::uint32_t x = 2463534242u;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return out;
}

constexpr std::string_view k448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
constexpr std::string_view k896 =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopq"
    "rs"
    "mnopqrstnopqrstu";

// NIST FIPS 202 example values / CAVP SHA3 short- and long-message results.
TEST(Sha3_512, NistVectors) {
  EXPECT_EQ(HexOf(HashAlgorithm::kSha3_512, ""),
            "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a6"
            "15b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26");
  EXPECT_EQ(HexOf(HashAlgorithm::kSha3_512, "abc"),
            "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e"
            "10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0");
  EXPECT_EQ(HexOf(HashAlgorithm::kSha3_512, k448),
            "04a371e84ecfb5b8b77cb48610fca8182dd457ce6f326a0fd3d7ec2f1e91636d"
            "ee691fbe0c985302ba1b0d8dc78c086346b533b49c030d99a27daf1139d6e75e");
  EXPECT_EQ(HexOf(HashAlgorithm::kSha3_512, k896),
            "afebb2ef542e6579c50cad06d2e578f9f8dd6881d7dc824d26360feebf18a4fa"
            "73e3261122948efcfd492e74e82e2189ed0fb440d187f382270cb455f21dd185");
}

TEST(Sha3_512, MillionAsInPieces) {
  Hasher h(HashAlgorithm::kSha3_512);
  const std::string thousand(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.Update(AsBytes(thousand));
  EXPECT_EQ(ToHex(h.Finish()),
            "3c3a876da14034ab60627c077bb98f7e120a2a5370212dffb3385a18d4f38859"
            "ed311d0a9d5141ce9cc5c66ee689b266a8aa18ace8282a0e0db596c90b0a7b87");
}

// FIPS 180-2 appendix examples.
TEST(Sha2, AbcVectors) {
  EXPECT_EQ(HexOf(HashAlgorithm::kSha256, "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexOf(HashAlgorithm::kSha384, "abc"),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
            "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
  EXPECT_EQ(HexOf(HashAlgorithm::kSha512, "abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(Hasher, DigestSizes) {
  for (const auto algo : {HashAlgorithm::kSha256, HashAlgorithm::kSha384, HashAlgorithm::kSha512,
                          HashAlgorithm::kSha3_512}) {
    Hasher h(algo);
    EXPECT_EQ(h.algorithm(), algo);
    EXPECT_EQ(h.Finish().size(), DigestSize(algo));
  }
  EXPECT_EQ(DigestSize(HashAlgorithm::kSha256), 32u);
  EXPECT_EQ(DigestSize(HashAlgorithm::kSha384), 48u);
  EXPECT_EQ(DigestSize(HashAlgorithm::kSha512), 64u);
  EXPECT_EQ(DigestSize(HashAlgorithm::kSha3_512), 64u);
}

TEST(Hasher, StreamingInPiecesEqualsOneShot) {
  const Bytes data = Pattern(3001);
  for (const auto algo : {HashAlgorithm::kSha256, HashAlgorithm::kSha384, HashAlgorithm::kSha512,
                          HashAlgorithm::kSha3_512}) {
    Hasher whole(algo);
    whole.Update(data);
    const Bytes expected = whole.Finish();
    // Piece sizes straddling every block size in play (64, 128, 72 for SHA3-512).
    for (const std::size_t piece : {1u, 7u, 63u, 64u, 65u, 71u, 72u, 127u, 128u, 1000u}) {
      Hasher h(algo);
      for (std::size_t off = 0; off < data.size(); off += piece) {
        h.Update(ByteView(data).subspan(off, std::min(piece, data.size() - off)));
      }
      h.Update({});  // empty updates are harmless
      EXPECT_EQ(h.Finish(), expected) << "piece " << piece;
    }
  }
}

TEST(Hasher, MoveKeepsState) {
  Hasher a(HashAlgorithm::kSha256);
  a.Update(AsBytes("ab"));
  Hasher b(std::move(a));
  b.Update(AsBytes("c"));
  Hasher c(HashAlgorithm::kSha512);
  c = std::move(b);
  EXPECT_EQ(c.algorithm(), HashAlgorithm::kSha256);
  EXPECT_EQ(ToHex(c.Finish()), HexOf(HashAlgorithm::kSha256, "abc"));
}

TEST(HasherDeathTest, FinishTwiceAborts) {
  Hasher h(HashAlgorithm::kSha256);
  (void)h.Finish();
  EXPECT_DEATH((void)h.Finish(), "");
}

TEST(Sha256, FixedDigestMatchesHasher) {
  const Bytes data = Pattern(777);
  const Sha256Digest d = Sha256::Of(data);
  EXPECT_EQ(ToHex(d), HexOf(HashAlgorithm::kSha256, AsChars(data)));
  Sha256 s;
  s.Update(ByteView(data).first(100));
  s.Update(ByteView(data).subspan(100));
  EXPECT_EQ(s.Finish(), d);
  EXPECT_EQ(ToHex(Sha256::Of(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashingSink, HashesAndForwards) {
  MemorySink out;
  HashingSink sink(HashAlgorithm::kSha256, &out);
  ASSERT_TRUE(sink.Write(AsBytes("a")).ok());
  ASSERT_TRUE(sink.Write(AsBytes("bc")).ok());
  EXPECT_EQ(AsChars(out.bytes()), "abc");
  EXPECT_EQ(ToHex(sink.Finish()), HexOf(HashAlgorithm::kSha256, "abc"));
}

TEST(HashingSink, NullNextOnlyHashes) {
  HashingSink sink(HashAlgorithm::kSha3_512, nullptr);
  ASSERT_TRUE(sink.Write(AsBytes("ab")).ok());
  ASSERT_TRUE(sink.Write(AsBytes("c")).ok());
  EXPECT_EQ(ToHex(sink.Finish()), HexOf(HashAlgorithm::kSha3_512, "abc"));
}

class FailingSink final : public ByteSink {
 public:
  Status Write(ByteView) override { return Error(base::Errc::kIo, "disk full"); }
};

TEST(HashingSink, PropagatesDownstreamFailure) {
  FailingSink failing;
  HashingSink sink(HashAlgorithm::kSha256, &failing);
  const Status s = sink.Write(AsBytes("abc"));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.error().Is(base::Errc::kIo));
  // The rejected bytes are not part of the digest.
  EXPECT_EQ(ToHex(sink.Finish()), HexOf(HashAlgorithm::kSha256, ""));
}

}  // namespace
}  // namespace uplift::crypto
