// A ByteSink that hands its bytes to another thread, so whatever produces them (verifying,
// decompressing) runs while the previous bytes are being written. Memory is bounded by
// queue_bytes; Write blocks while the queue is full.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "uplift/base/io.hpp"

namespace uplift {

class AsyncSink final : public ByteSink {
 public:
  AsyncSink(ByteSink& next, std::size_t queue_bytes = 4 << 20);
  // Without Finish(): stops the writer thread and drops what was not written yet.
  ~AsyncSink() override;
  AsyncSink(const AsyncSink&) = delete;
  AsyncSink& operator=(const AsyncSink&) = delete;

  // Fails with next's first error once the writer has met it (later writes fail too).
  Status Write(ByteView data) override;
  // Waits until everything queued is written; next's first error, if any.
  Status Finish();

 private:
  void Run();

  ByteSink& next_;
  // A ring: the producer copies in, the writer thread writes straight out of it (no
  // allocation per write, which page-faults at these sizes).
  Bytes ring_;
  std::size_t head_ = 0;  // first byte not yet written
  std::size_t fill_ = 0;  // bytes queued, including those being written
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::optional<Error> error_;
  std::thread thread_;
};

}  // namespace uplift
