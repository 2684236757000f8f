// Payload compression as streaming sinks (zstd), with the bounds a device needs: a window of at
// most 8 MiB and an output that may not exceed the size the signed manifest declares.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

struct ZSTD_inBuffer_s;

#include "uplift/base/io.hpp"
#include "uplift/format/errors.hpp"

namespace uplift::format {

// Devices allocate the window: 2^23 = 8 MiB caps decoder memory whatever the frame says.
inline constexpr int kZstdMaxWindowLog = 23;
inline constexpr int kDefaultZstdLevel = 10;
// Image bytes per zstd frame in the payloads the bundle writer makes. Every frame end is a point
// where a device can resume decoding after a power cut without the bytes before it (frames are
// independent). 16 MiB costs 1.0-1.7% in ratio against one frame (8 MiB: 2.1-3.4%), and a
// killed process re-fetches at most one frame (docs/formats/bundle.md).
inline constexpr std::uint64_t kDefaultZstdFrameBytes = std::uint64_t{16} << 20;

// Compresses everything written into zstd frames written to next. Call Finish() once.
class ZstdCompressSink final : public ByteSink {
 public:
  // level 1..19; threads > 1 uses zstd's worker threads (the output then differs slightly from
  // one thread's).
  // frame_bytes 0: one frame for everything; otherwise a frame ends after every frame_bytes bytes
  // of input (the last one may be shorter; no empty frame is added when the input ends exactly
  // at a frame end, unless the input is empty: then one empty frame).
  ZstdCompressSink(ByteSink& next, int level, int threads = 1, std::uint64_t frame_bytes = 0);
  ~ZstdCompressSink() override;
  Status Write(ByteView data) override;
  Status Finish();

 private:
  struct State;
  Status EndFrame();
  std::unique_ptr<State> s_;
  ByteSink& next_;
  std::uint64_t frame_bytes_;
  std::uint64_t in_frame_ = 0;  // input bytes in the open frame
  std::uint64_t frames_ = 0;    // frames ended so far
};

// Decompresses a zstd stream (one or more frames) into next. kDecompress if the input is not
// zstd, needs a window above 8 MiB, expands beyond max_output bytes, or (at Finish) ends inside a
// frame.
class ZstdDecompressSink final : public ByteSink {
 public:
  // Told of every frame end, once all of that frame's output has been written to next:
  // input_end = input bytes up to the end of the frame, output_end = output bytes so far (both
  // counted from this sink's construction). A new sink fed the input from input_end on produces
  // exactly the output from output_end on: a restart point. An error it returns fails the Write.
  using FrameEndFn = std::function<Status(std::uint64_t input_end, std::uint64_t output_end)>;

  ZstdDecompressSink(ByteSink& next, std::uint64_t max_output, FrameEndFn on_frame_end = {});
  ~ZstdDecompressSink() override;
  Status Write(ByteView data) override;
  Status Finish();
  std::uint64_t output_size() const { return produced_; }
  void set_on_frame_end(FrameEndFn fn) { on_frame_end_ = std::move(fn); }

 private:
  struct State;
  Status Step(ZSTD_inBuffer_s& in);
  std::unique_ptr<State> s_;
  ByteSink& next_;
  std::uint64_t max_output_;
  FrameEndFn on_frame_end_;
  std::uint64_t consumed_ = 0;  // input bytes of earlier Writes
  std::uint64_t produced_ = 0;
  bool frame_open_ = false;
  bool flush_pending_ = false;
};

}  // namespace uplift::format
