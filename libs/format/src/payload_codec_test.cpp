#include "uplift/format/payload_codec.hpp"

#include <gtest/gtest.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader
#include <zstd.h>

#include <utility>
#include <vector>

namespace uplift::format {
namespace {

Bytes Compress(ByteView data, int level = 3, std::uint64_t frame_bytes = 0,
               std::size_t piece = 1 << 20) {
  MemorySink out;
  ZstdCompressSink c(out, level, 1, frame_bytes);
  for (std::size_t i = 0; i < data.size(); i += piece) {
    EXPECT_TRUE(c.Write(data.subspan(i, std::min(piece, data.size() - i))).ok());
  }
  EXPECT_TRUE(c.Finish().ok());
  return out.Take();
}

// The compressed size of every frame, found by zstd itself.
std::vector<std::size_t> FrameSizes(ByteView z) {
  std::vector<std::size_t> sizes;
  while (!z.empty()) {
    const std::size_t n = ZSTD_findFrameCompressedSize(z.data(), z.size());
    if (ZSTD_isError(n)) {
      ADD_FAILURE() << ZSTD_getErrorName(n);
      break;
    }
    sizes.push_back(n);
    z = z.subspan(n);
  }
  return sizes;
}

// A frame made with a 16 MiB window: a device would have to allocate it.
Bytes WideWindowFrame(ByteView data) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 24);
  // Streamed without a known size, so zstd cannot shrink the window to fit the input.
  Bytes z(ZSTD_compressBound(data.size()) + 1024);
  ZSTD_outBuffer out_buf{z.data(), z.size(), 0};
  ZSTD_inBuffer in_buf{data.data(), data.size(), 0};
  EXPECT_FALSE(ZSTD_isError(ZSTD_compressStream2(c, &out_buf, &in_buf, ZSTD_e_continue)));
  ZSTD_inBuffer none{nullptr, 0, 0};
  EXPECT_EQ(ZSTD_compressStream2(c, &out_buf, &none, ZSTD_e_end), 0u);
  ZSTD_freeCCtx(c);
  z.resize(out_buf.pos);
  ZSTD_frameHeader fh{};
  EXPECT_EQ(ZSTD_getFrameHeader(&fh, z.data(), z.size()), 0u);
  EXPECT_EQ(fh.windowSize, 1ULL << 24);
  return z;
}

using FrameEnds = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

// Decodes z fed in pieces of `piece` bytes, recording every reported frame end.
Status Decode(ByteView z, std::uint64_t max_output, std::size_t piece, Bytes* out,
              FrameEnds* ends) {
  MemorySink sink;
  ZstdDecompressSink d(sink, max_output, [&](std::uint64_t in_end, std::uint64_t out_end) {
    // The frame's output is all in the sink already.
    EXPECT_EQ(out_end, sink.bytes().size());
    ends->emplace_back(in_end, out_end);
    return Ok();
  });
  for (std::size_t i = 0; i < z.size(); i += piece) {
    UPLIFT_TRY(d.Write(z.subspan(i, std::min(piece, z.size() - i))));
  }
  UPLIFT_TRY(d.Finish());
  *out = sink.Take();
  return Ok();
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
  const Bytes data = Text(1 << 20);
  const Bytes z = WideWindowFrame(data);
  MemorySink out;
  ZstdDecompressSink d(out, data.size());
  Status st = d.Write(z);
  if (st.ok()) st = d.Finish();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(Errc::kDecompress));
}

TEST(ZstdFrames, InputIsCutEveryFrameBytes) {
  const Bytes data = Text(1 << 20);
  // Frames of 100000 input bytes, whatever the Write sizes: 11 frames, the last one shorter.
  for (std::size_t piece : {std::size_t{1000}, std::size_t{65536}, std::size_t{1} << 20}) {
    const Bytes z = Compress(data, 3, 100000, piece);
    const auto sizes = FrameSizes(z);
    ASSERT_EQ(sizes.size(), 11u) << piece;
    Bytes frame_out(200000);
    for (std::size_t f = 0, at = 0; f < sizes.size(); at += sizes[f++]) {
      const std::size_t n =
          ZSTD_decompress(frame_out.data(), frame_out.size(), z.data() + at, sizes[f]);
      ASSERT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
      EXPECT_EQ(n, f + 1 < sizes.size() ? 100000u : data.size() % 100000) << f;
    }
    EXPECT_EQ(Compress(data, 3, 0, piece), Compress(data)) << "0 = one frame, as before";
  }
  // An input that ends at a frame end gets no empty frame after it; an empty input is one frame.
  EXPECT_EQ(FrameSizes(Compress(Text(300000), 3, 100000)).size(), 3u);
  EXPECT_EQ(FrameSizes(Compress({}, 3, 100000)).size(), 1u);
  EXPECT_EQ(FrameSizes(Compress(data)).size(), 1u);
}

TEST(ZstdFrames, MultiFrameStreamDecodesIdentically) {
  const Bytes data = Text(1 << 20);
  const Bytes z = Compress(data, 3, 100000);
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, z.size()}) {
    Bytes out;
    FrameEnds ends;
    const Status st = Decode(z, data.size(), piece, &out, &ends);
    ASSERT_TRUE(st.ok()) << piece << ": " << st.error().message();
    EXPECT_EQ(out, data) << piece;
  }
  Bytes empty_out;
  FrameEnds ends;
  ASSERT_TRUE(Decode(Compress({}, 3, 100000), 0, 1, &empty_out, &ends).ok());
  EXPECT_TRUE(empty_out.empty());
  EXPECT_EQ(ends, (FrameEnds{{Compress({}, 3, 100000).size(), 0}}));
}

TEST(ZstdFrames, FrameEndsAreReportedExactly) {
  // Frames of 300000 bytes decode to more than the decoder's output buffer (128 KiB), so a frame's
  // end is often reached while output is still pending; pieces of 1 byte put every frame end at
  // a Write boundary, the whole stream in one Write holds every frame end inside it.
  const Bytes data = Text(1 << 20);
  constexpr std::uint64_t kFrame = 300000;
  const Bytes z = Compress(data, 3, kFrame);
  const auto sizes = FrameSizes(z);
  ASSERT_EQ(sizes.size(), 4u);
  FrameEnds expected;
  std::uint64_t in_end = 0;
  for (std::size_t f = 0; f < sizes.size(); ++f) {
    in_end += sizes[f];
    expected.emplace_back(in_end, std::min<std::uint64_t>((f + 1) * kFrame, data.size()));
  }
  for (std::size_t piece : {std::size_t{1}, std::size_t{333}, sizes[0], z.size()}) {
    Bytes out;
    FrameEnds ends;
    ASSERT_TRUE(Decode(z, data.size(), piece, &out, &ends).ok()) << piece;
    EXPECT_EQ(ends, expected) << piece;
  }
}

TEST(ZstdFrames, RestartFromEveryFrameEndReproducesTheTail) {
  const Bytes data = Text(700000);
  const Bytes z = Compress(data, 5, 64 * 1024);
  Bytes out;
  FrameEnds ends;
  ASSERT_TRUE(Decode(z, data.size(), 5000, &out, &ends).ok());
  ASSERT_EQ(ends.size(), (data.size() + 65535) / 65536);
  ends.insert(ends.begin(), {0, 0});  // the start is a restart point too
  for (const auto& [in_end, out_end] : ends) {
    // A fresh sink, as after a power cut, fed from the restart point only; its limit is what is
    // left of the image.
    Bytes tail;
    FrameEnds tail_ends;
    const Status st =
        Decode(ByteView(z).subspan(in_end), data.size() - out_end, 777, &tail, &tail_ends);
    ASSERT_TRUE(st.ok()) << in_end << ": " << st.error().message();
    EXPECT_TRUE(std::equal(tail.begin(), tail.end(),
                           data.begin() + static_cast<std::ptrdiff_t>(out_end), data.end()) &&
                tail.size() == data.size() - out_end)
        << "restart at input " << in_end << ", output " << out_end;
    // The restarted sink's frame ends are the same points, shifted.
    ASSERT_FALSE(tail_ends.empty() && in_end != z.size());
    if (!tail_ends.empty()) {
      EXPECT_EQ(tail_ends.back().first + in_end, z.size());
    }
  }
}

TEST(ZstdFrames, WindowLimitHoldsInEveryFrame) {
  // A good frame, then one with a 16 MiB window: the first decodes and is reported, the second is
  // refused before it produces anything.
  const Bytes first_data = Text(50000);
  const Bytes good = Compress(first_data);
  Bytes z = good;
  const Bytes wide = WideWindowFrame(Text(1 << 20));
  z.insert(z.end(), wide.begin(), wide.end());
  MemorySink sink;
  FrameEnds ends;
  ZstdDecompressSink d(sink, 2 << 20, [&](std::uint64_t in_end, std::uint64_t out_end) {
    ends.emplace_back(in_end, out_end);
    return Ok();
  });
  Status st = d.Write(z);
  if (st.ok()) st = d.Finish();
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(Errc::kDecompress)) << st.error().message();
  EXPECT_EQ(ends, (FrameEnds{{good.size(), first_data.size()}}));
  EXPECT_EQ(sink.bytes(), first_data);
}

TEST(ZstdFrames, FrameEndErrorFailsTheWrite) {
  const Bytes data = Text(200000);
  const Bytes z = Compress(data, 3, 50000);
  MemorySink sink;
  int calls = 0;
  ZstdDecompressSink d(sink, data.size());
  d.set_on_frame_end([&](std::uint64_t, std::uint64_t) -> Status {
    if (++calls == 2) return Error(base::Errc::kIo, "journal write failed");
    return Ok();
  });
  const Status st = d.Write(z);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().Is(base::Errc::kIo));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(sink.bytes().size(), 100000u) << "stopped right after the second frame";
}

}  // namespace
}  // namespace uplift::format
