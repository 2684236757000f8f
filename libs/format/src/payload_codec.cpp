#include "uplift/format/payload_codec.hpp"

#include <zstd.h>

#include <vector>

namespace uplift::format {

struct ZstdCompressSink::State {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::vector<std::uint8_t> out = std::vector<std::uint8_t>(ZSTD_CStreamOutSize());
  ~State() { ZSTD_freeCCtx(cctx); }
};

ZstdCompressSink::ZstdCompressSink(ByteSink& next, int level, int threads)
    : s_(std::make_unique<State>()), next_(next) {
  ZSTD_CCtx_setParameter(s_->cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(s_->cctx, ZSTD_c_windowLog, kZstdMaxWindowLog);
  ZSTD_CCtx_setParameter(s_->cctx, ZSTD_c_checksumFlag, 0);  // chunk hashes already cover it
  if (threads > 1) ZSTD_CCtx_setParameter(s_->cctx, ZSTD_c_nbWorkers, threads);
}

ZstdCompressSink::~ZstdCompressSink() = default;

Status ZstdCompressSink::Write(ByteView data) {
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  while (in.pos < in.size) {
    ZSTD_outBuffer out{s_->out.data(), s_->out.size(), 0};
    const std::size_t rc = ZSTD_compressStream2(s_->cctx, &out, &in, ZSTD_e_continue);
    if (ZSTD_isError(rc))
      return Error(Errc::kDecompress, std::string("zstd: ") + ZSTD_getErrorName(rc));
    UPLIFT_TRY(next_.Write(ByteView(s_->out.data(), out.pos)));
  }
  return Ok();
}

Status ZstdCompressSink::Finish() {
  ZSTD_inBuffer in{nullptr, 0, 0};
  for (;;) {
    ZSTD_outBuffer out{s_->out.data(), s_->out.size(), 0};
    const std::size_t remaining = ZSTD_compressStream2(s_->cctx, &out, &in, ZSTD_e_end);
    if (ZSTD_isError(remaining)) {
      return Error(Errc::kDecompress, std::string("zstd: ") + ZSTD_getErrorName(remaining));
    }
    UPLIFT_TRY(next_.Write(ByteView(s_->out.data(), out.pos)));
    if (remaining == 0) return Ok();
  }
}

struct ZstdDecompressSink::State {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  std::vector<std::uint8_t> out = std::vector<std::uint8_t>(ZSTD_DStreamOutSize());
  ~State() { ZSTD_freeDCtx(dctx); }
};

ZstdDecompressSink::ZstdDecompressSink(ByteSink& next, std::uint64_t max_output)
    : s_(std::make_unique<State>()), next_(next), max_output_(max_output) {
  ZSTD_DCtx_setParameter(s_->dctx, ZSTD_d_windowLogMax, kZstdMaxWindowLog);
}

ZstdDecompressSink::~ZstdDecompressSink() = default;

Status ZstdDecompressSink::Step(ZSTD_inBuffer& in) {
  ZSTD_outBuffer out{s_->out.data(), s_->out.size(), 0};
  const std::size_t rc = ZSTD_decompressStream(s_->dctx, &out, &in);
  if (ZSTD_isError(rc)) {
    return Error(Errc::kDecompress, std::string("zstd payload: ") + ZSTD_getErrorName(rc));
  }
  // rc == 0: a frame ended and everything of it was flushed.
  frame_open_ = rc != 0;
  // A full output buffer may mean the decoder holds more: call again even without input. Not
  // after rc == 0, though: then the frame is flushed and another call would start a new one.
  flush_pending_ = rc != 0 && out.pos == out.size;
  if (out.pos > max_output_ - produced_) {
    return Error(Errc::kDecompress, "zstd payload expands beyond its declared size of " +
                                        std::to_string(max_output_) + " bytes");
  }
  produced_ += out.pos;
  return next_.Write(ByteView(s_->out.data(), out.pos));
}

Status ZstdDecompressSink::Write(ByteView data) {
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  while (in.pos < in.size || flush_pending_) UPLIFT_TRY(Step(in));
  return Ok();
}

Status ZstdDecompressSink::Finish() {
  ZSTD_inBuffer in{nullptr, 0, 0};
  while (flush_pending_) UPLIFT_TRY(Step(in));
  if (frame_open_) return Error(Errc::kDecompress, "zstd payload ends inside a frame");
  return Ok();
}

}  // namespace uplift::format
