// Payload compression as streaming sinks (zstd), with the bounds a device needs: a window of at
// most 8 MiB and an output that may not exceed the size the signed manifest declares.
#pragma once

#include <cstdint>
#include <memory>

struct ZSTD_inBuffer_s;

#include "uplift/base/io.hpp"
#include "uplift/format/errors.hpp"

namespace uplift::format {

// Devices allocate the window: 2^23 = 8 MiB caps decoder memory whatever the frame says.
inline constexpr int kZstdMaxWindowLog = 23;
inline constexpr int kDefaultZstdLevel = 10;

// Compresses everything written into one zstd frame written to next. Call Finish() once.
class ZstdCompressSink final : public ByteSink {
 public:
  // level 1..19; threads > 1 uses zstd's worker threads (output is identical either way).
  ZstdCompressSink(ByteSink& next, int level, int threads = 1);
  ~ZstdCompressSink() override;
  Status Write(ByteView data) override;
  Status Finish();

 private:
  struct State;
  std::unique_ptr<State> s_;
  ByteSink& next_;
};

// Decompresses a zstd stream (one or more frames) into next. kDecompress if the input is not
// zstd, needs a window above 8 MiB, expands beyond max_output bytes, or (at Finish) ends inside a
// frame.
class ZstdDecompressSink final : public ByteSink {
 public:
  ZstdDecompressSink(ByteSink& next, std::uint64_t max_output);
  ~ZstdDecompressSink() override;
  Status Write(ByteView data) override;
  Status Finish();
  std::uint64_t output_size() const { return produced_; }

 private:
  struct State;
  Status Step(ZSTD_inBuffer_s& in);
  std::unique_ptr<State> s_;
  ByteSink& next_;
  std::uint64_t max_output_;
  std::uint64_t produced_ = 0;
  bool frame_open_ = false;
  bool flush_pending_ = false;
};

}  // namespace uplift::format
