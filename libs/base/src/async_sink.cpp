#include "uplift/base/async_sink.hpp"

#include <algorithm>

namespace uplift {

AsyncSink::AsyncSink(ByteSink& next, std::size_t queue_bytes)
    : next_(next), limit_(std::max<std::size_t>(queue_bytes, 64 * 1024)) {
  thread_ = std::thread([this] { Run(); });
}

AsyncSink::~AsyncSink() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Status AsyncSink::Write(ByteView data) {
  // Blocks of at most 256 KiB keep the queue's bound meaningful for large writes.
  while (!data.empty()) {
    const std::size_t n = std::min<std::size_t>(data.size(), 256 * 1024);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return queued_ + n <= limit_ || queued_ == 0 || error_; });
    if (error_) return *error_;
    queue_.emplace_back(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    queued_ += n;
    lock.unlock();
    cv_.notify_all();
    data = data.subspan(n);
  }
  return Ok();
}

Status AsyncSink::Finish() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return (queue_.empty() && !writing_) || error_; });
  if (error_) return *error_;
  return Ok();
}

void AsyncSink::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return !queue_.empty() || stop_; });
    if (queue_.empty()) return;  // stopping with nothing left
    if (stop_ && error_) return;
    Bytes block = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    Status st = error_ ? Status(Ok()) : next_.Write(block);
    lock.lock();
    writing_ = false;
    queued_ -= block.size();
    if (!st.ok() && !error_) error_ = std::move(st).error();
    cv_.notify_all();
    if (stop_) {
      queue_.clear();
      queued_ = 0;
      return;
    }
  }
}

}  // namespace uplift
