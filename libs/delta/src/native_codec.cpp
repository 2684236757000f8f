#include "native_codec.hpp"

#include <lzma.h>
#include <zstd.h>

#include <algorithm>
#include <string>

#include "uplift/delta/errors.hpp"

namespace uplift::delta::native {
namespace {

constexpr int kMaxWindowLog = 22;  // 4 MiB: no stream is longer than a segment

lzma_options_lzma Lzma2Options(int level, std::size_t input) {
  lzma_options_lzma opt{};
  // Levels above 9 select xz's "extreme" variant of level 9.
  const auto preset =
      static_cast<std::uint32_t>(level > 9 ? 9 : level) | (level > 9 ? LZMA_PRESET_EXTREME : 0u);
  lzma_lzma_preset(&opt, preset);
  // No bigger than the input: the match finder's tables scale with the dictionary, and setting
  // up 4 MiB worth for a 2 KiB control stream costs more than compressing it.
  std::uint32_t dict = 4096;
  while (dict < input && dict < kLzma2DictSize) dict *= 2;
  opt.dict_size = dict;
  return opt;
}

class ZstdDecoder final : public StreamDecoder {
 public:
  ~ZstdDecoder() override { ZSTD_freeDCtx(d_); }
  Status Reset() override {
    if (d_ == nullptr) d_ = ZSTD_createDCtx();
    if (d_ == nullptr) return Error(Errc::kDecompress, "delta: out of memory for the zstd decoder");
    ZSTD_DCtx_reset(d_, ZSTD_reset_session_only);
    ZSTD_DCtx_setParameter(d_, ZSTD_d_windowLogMax, kMaxWindowLog);
    return Ok();
  }
  Result<std::size_t> Decode(ByteView* in, MutableByteView out, bool* finished) override {
    ZSTD_inBuffer ib{in->data(), in->size(), 0};
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    const std::size_t rc = ZSTD_decompressStream(d_, &ob, &ib);
    if (ZSTD_isError(rc))
      return Error(Errc::kDecompress, std::string("delta: zstd: ") + ZSTD_getErrorName(rc));
    *in = in->subspan(ib.pos);
    *finished = rc == 0;
    return ob.pos;
  }

 private:
  ZSTD_DCtx* d_ = nullptr;
};

class Lzma2Decoder final : public StreamDecoder {
 public:
  explicit Lzma2Decoder(std::uint32_t dict_size) : dict_size_(dict_size) {}
  ~Lzma2Decoder() override { lzma_end(&s_); }
  Status Reset() override {
    lzma_options_lzma opt{};
    opt.dict_size = dict_size_;
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, nullptr}};
    if (lzma_raw_decoder(&s_, filters) != LZMA_OK) {
      return Error(Errc::kDecompress, "delta: cannot start the LZMA2 decoder");
    }
    return Ok();
  }
  Result<std::size_t> Decode(ByteView* in, MutableByteView out, bool* finished) override {
    s_.next_in = in->data();
    s_.avail_in = in->size();
    s_.next_out = out.data();
    s_.avail_out = out.size();
    const lzma_ret rc = lzma_code(&s_, LZMA_RUN);
    if (rc != LZMA_OK && rc != LZMA_STREAM_END) {
      return Error(Errc::kDecompress,
                   "delta: corrupt LZMA2 stream (liblzma error " + std::to_string(rc) + ")");
    }
    *in = in->subspan(in->size() - s_.avail_in);
    *finished = rc == LZMA_STREAM_END;
    return out.size() - s_.avail_out;
  }

 private:
  std::uint32_t dict_size_;
  lzma_stream s_ = LZMA_STREAM_INIT;
};

}  // namespace

Result<Bytes> CompressStream(std::uint8_t codec, int level, ByteView raw) {
  if (raw.empty()) return Bytes{};
  if (codec == kCompressionZstd) {
    ZSTD_CCtx* c = ZSTD_createCCtx();
    if (c == nullptr) return Error(Errc::kDecompress, "delta: out of memory for the zstd encoder");
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, kMaxWindowLog);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0);  // the segment CRC covers the result
    Bytes out(ZSTD_compressBound(raw.size()));
    const std::size_t n = ZSTD_compress2(c, out.data(), out.size(), raw.data(), raw.size());
    ZSTD_freeCCtx(c);
    if (ZSTD_isError(n))
      return Error(Errc::kDecompress, std::string("delta: zstd: ") + ZSTD_getErrorName(n));
    out.resize(n);
    return out;
  }
  lzma_options_lzma opt = Lzma2Options(level, raw.size());
  lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, nullptr}};
  Bytes out(raw.size() + raw.size() / 16 + 4096);
  std::size_t pos = 0;
  if (lzma_raw_buffer_encode(filters, nullptr, raw.data(), raw.size(), out.data(), &pos,
                             out.size()) != LZMA_OK) {
    return Error(Errc::kDecompress, "delta: LZMA2 compression failed");
  }
  out.resize(pos);
  return out;
}

Result<std::unique_ptr<StreamDecoder>> MakeStreamDecoder(std::uint8_t codec,
                                                         std::uint32_t max_stream) {
  std::unique_ptr<StreamDecoder> d;
  if (codec == kCompressionZstd) {
    d = std::make_unique<ZstdDecoder>();
  } else if (codec == kCompressionLzma2) {
    d = std::make_unique<Lzma2Decoder>(
        std::min(kLzma2DictSize, std::max<std::uint32_t>(max_stream, 4096)));
  } else {
    return Error(Errc::kCorrupt, "delta: unknown compression " + std::to_string(codec));
  }
  return d;
}

}  // namespace uplift::delta::native
