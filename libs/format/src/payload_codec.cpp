#include "uplift/format/payload_codec.hpp"

#include <zstd.h>

#include <algorithm>
#include <vector>

namespace uplift::format {

struct ZstdCompressSink::State {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::vector<std::uint8_t> out = std::vector<std::uint8_t>(ZSTD_CStreamOutSize());
  ~State() { ZSTD_freeCCtx(cctx); }
};

ZstdCompressSink::ZstdCompressSink(ByteSink& next, int level, int threads,
                                   std::uint64_t frame_bytes)
    : s_(std::make_unique<State>()), next_(next), frame_bytes_(frame_bytes) {
  ZSTD_CCtx_setParameter(s_->cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(s_->cctx, ZSTD_c_windowLog, kZstdMaxWindowLog);
  ZSTD_CCtx_setParameter(s_->cctx, ZSTD_c_checksumFlag, 0);  // chunk hashes already cover it
  if (threads > 1) ZSTD_CCtx_setParameter(s_->cctx, ZSTD_c_nbWorkers, threads);
}

ZstdCompressSink::~ZstdCompressSink() = default;

Status ZstdCompressSink::Write(ByteView data) {
  while (!data.empty()) {
    std::size_t take = data.size();
    if (frame_bytes_ > 0) {
      take = static_cast<std::size_t>(std::min<std::uint64_t>(take, frame_bytes_ - in_frame_));
    }
    ZSTD_inBuffer in{data.data(), take, 0};
    while (in.pos < in.size) {
      ZSTD_outBuffer out{s_->out.data(), s_->out.size(), 0};
      const std::size_t rc = ZSTD_compressStream2(s_->cctx, &out, &in, ZSTD_e_continue);
      if (ZSTD_isError(rc))
        return Error(Errc::kDecompress, std::string("zstd: ") + ZSTD_getErrorName(rc));
      UPLIFT_TRY(next_.Write(ByteView(s_->out.data(), out.pos)));
    }
    data = data.subspan(take);
    in_frame_ += take;
    if (frame_bytes_ > 0 && in_frame_ == frame_bytes_) UPLIFT_TRY(EndFrame());
  }
  return Ok();
}

Status ZstdCompressSink::EndFrame() {
  ZSTD_inBuffer in{nullptr, 0, 0};
  for (;;) {
    ZSTD_outBuffer out{s_->out.data(), s_->out.size(), 0};
    const std::size_t remaining = ZSTD_compressStream2(s_->cctx, &out, &in, ZSTD_e_end);
    if (ZSTD_isError(remaining)) {
      return Error(Errc::kDecompress, std::string("zstd: ") + ZSTD_getErrorName(remaining));
    }
    UPLIFT_TRY(next_.Write(ByteView(s_->out.data(), out.pos)));
    if (remaining == 0) break;
  }
  in_frame_ = 0;
  ++frames_;
  return Ok();
}

Status ZstdCompressSink::Finish() {
  // An input that ended exactly at a frame end needs no empty frame after it; an empty input
  // still becomes one (empty) frame, as it always has.
  if (in_frame_ > 0 || frames_ == 0) return EndFrame();
  return Ok();
}

struct ZstdDecompressSink::State {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  std::vector<std::uint8_t> out = std::vector<std::uint8_t>(ZSTD_DStreamOutSize());
  ~State() { ZSTD_freeDCtx(dctx); }
};

ZstdDecompressSink::ZstdDecompressSink(ByteSink& next, std::uint64_t max_output,
                                       FrameEndFn on_frame_end)
    : s_(std::make_unique<State>()),
      next_(next),
      max_output_(max_output),
      on_frame_end_(std::move(on_frame_end)) {
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
  UPLIFT_TRY(next_.Write(ByteView(s_->out.data(), out.pos)));
  // zstd stops consuming input at a frame's end (its next call starts the next frame), so in.pos
  // is exactly where this frame ends, even when one Write holds several frames.
  if (rc == 0 && on_frame_end_) return on_frame_end_(consumed_ + in.pos, produced_);
  return Ok();
}

Status ZstdDecompressSink::Write(ByteView data) {
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  while (in.pos < in.size || flush_pending_) UPLIFT_TRY(Step(in));
  consumed_ += data.size();
  return Ok();
}

Status ZstdDecompressSink::Finish() {
  ZSTD_inBuffer in{nullptr, 0, 0};
  while (flush_pending_) UPLIFT_TRY(Step(in));
  if (frame_open_) return Error(Errc::kDecompress, "zstd payload ends inside a frame");
  return Ok();
}

}  // namespace uplift::format
