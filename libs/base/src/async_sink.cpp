#include "uplift/base/async_sink.hpp"

#include <algorithm>
#include <cstring>

namespace uplift {

AsyncSink::AsyncSink(ByteSink& next, std::size_t queue_bytes)
    : next_(next), ring_(std::max<std::size_t>(queue_bytes, 64 * 1024)) {
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
  while (!data.empty()) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return fill_ < ring_.size() || error_; });
    if (error_) return *error_;
    const std::size_t tail = (head_ + fill_) % ring_.size();
    const std::size_t n = std::min({data.size(), ring_.size() - fill_, ring_.size() - tail});
    lock.unlock();
    // Only this thread writes [tail, tail + n): the writer never reads past head_ + fill_.
    std::memcpy(ring_.data() + tail, data.data(), n);
    lock.lock();
    fill_ += n;
    lock.unlock();
    cv_.notify_all();
    data = data.subspan(n);
  }
  return Ok();
}

Status AsyncSink::Finish() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return fill_ == 0 || error_; });
  if (error_) return *error_;
  return Ok();
}

void AsyncSink::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return fill_ > 0 || stop_; });
    if (stop_ || error_) return;  // Finish() waited for the data, or it is dropped
    // Write the contiguous run at head_ (up to 1 MiB) without holding the lock.
    const std::size_t n = std::min({fill_, ring_.size() - head_, std::size_t{1} << 20});
    const ByteView run(ring_.data() + head_, n);
    lock.unlock();
    Status st = next_.Write(run);
    lock.lock();
    if (!st.ok()) {
      error_ = std::move(st).error();
      cv_.notify_all();
      return;
    }
    head_ = (head_ + n) % ring_.size();
    fill_ -= n;
    cv_.notify_all();
  }
}

}  // namespace uplift
