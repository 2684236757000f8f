#include "uplift/format/payload_codec.hpp"

#include <gtest/gtest.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader
#include <zstd.h>

namespace uplift::format {
namespace {

Bytes Compress(ByteView data, int level = 3) {
  MemorySink out;
  ZstdCompressSink c(out, level);
  EXPECT_TRUE(c.Write(data).ok());
  EXPECT_TRUE(c.Finish().ok());
  return out.Take();
}

Bytes Text(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) {
    b[i] = static_cast<std::uint8_t>(static_cast<std::size_t>("uplift "[i % 7]) + (i / 997) % 3);
  }
  return b;
}

TEST(Zstd, RoundTripInAnySplit) {
  const Bytes data = Text(1 << 20);
  const Bytes z = Compress(data);
  EXPECT_LT(z.size(), data.size() / 10);
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, z.size()}) {
    MemorySink out;
    ZstdDecompressSink d(out, data.size());
    for (std::size_t i = 0; i < z.size(); i += piece) {
      ASSERT_TRUE(d.Write(ByteView(z).subspan(i, std::min(piece, z.size() - i))).ok());
    }
    const auto st = d.Finish();
    ASSERT_TRUE(st.ok()) << piece << ": " << st.error().message();
    EXPECT_EQ(out.bytes(), data) << piece;
  }
}

TEST(Zstd, OutputBeyondTheLimitIsRefused) {
  const Bytes z = Compress(Bytes(100000, 0));
  MemorySink out;
  ZstdDecompressSink d(out, 99999);
  Status st = d.Write(z);
  if (st.ok()) st = d.Finish();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(Errc::kDecompress));
  EXPECT_LE(out.bytes().size(), 99999u);  // never wrote past the declared size
}

TEST(Zstd, TruncatedFrameAndGarbageAreRefused) {
  const Bytes z = Compress(Text(50000));
  MemorySink out;
  ZstdDecompressSink d(out, 50000);
  ASSERT_TRUE(d.Write(ByteView(z).first(z.size() - 3)).ok());
  const auto st = d.Finish();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(Errc::kDecompress));

  MemorySink out2;
  ZstdDecompressSink g(out2, 100);
  const Bytes junk = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_TRUE(g.Write(junk).error().Is(Errc::kDecompress));
}

TEST(Zstd, WindowAbove8MiBIsRefused) {
  // A frame made with a 16 MiB window: a device would have to allocate it.
  const Bytes data = Text(1 << 20);
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 24);
  // Streamed without a known size, so zstd cannot shrink the window to fit the input.
  Bytes z(ZSTD_compressBound(data.size()) + 1024);
  ZSTD_outBuffer out_buf{z.data(), z.size(), 0};
  ZSTD_inBuffer in_buf{data.data(), data.size(), 0};
  ASSERT_FALSE(ZSTD_isError(ZSTD_compressStream2(c, &out_buf, &in_buf, ZSTD_e_continue)));
  ZSTD_inBuffer none{nullptr, 0, 0};
  ASSERT_EQ(ZSTD_compressStream2(c, &out_buf, &none, ZSTD_e_end), 0u);
  ZSTD_freeCCtx(c);
  z.resize(out_buf.pos);
  ZSTD_frameHeader fh{};
  ASSERT_EQ(ZSTD_getFrameHeader(&fh, z.data(), z.size()), 0u);
  ASSERT_EQ(fh.windowSize, 1ULL << 24);
  MemorySink out;
  ZstdDecompressSink d(out, data.size());
  Status st = d.Write(z);
  if (st.ok()) st = d.Finish();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(Errc::kDecompress));
}

}  // namespace
}  // namespace uplift::format
