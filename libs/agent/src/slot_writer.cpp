#include "slot_writer.hpp"

#include <algorithm>

namespace uplift::agent::internal {

SlotWriter::SlotWriter(storage::BlockDevice& dev, std::uint64_t start, std::uint64_t every,
                       std::function<Status(std::uint64_t)> on_checkpoint)
    : dev_(dev),
      pos_(start),
      every_(every),
      on_checkpoint_(std::move(on_checkpoint)),
      writer_(std::make_unique<storage::DeviceWriter>(dev, start, dev.size())) {}

Status SlotWriter::Write(ByteView data) {
  while (!data.empty()) {
    std::size_t n = data.size();
    if (every_ > 0)
      n = static_cast<std::size_t>(std::min<std::uint64_t>(n, every_ - pos_ % every_));
    UPLIFT_TRY(writer_->Write(data.first(n)));
    pos_ += n;
    data = data.subspan(n);
    if (every_ > 0 && pos_ % every_ == 0) {
      UPLIFT_ASSIGN(const bool done, Checkpoint());
      if (done && on_checkpoint_) UPLIFT_TRY(on_checkpoint_(pos_));
    }
  }
  return Ok();
}

Result<bool> SlotWriter::Checkpoint() {
  const std::uint64_t unit = std::max<std::uint64_t>(dev_.erase_size(), dev_.program_size());
  if (pos_ % unit != 0 || pos_ >= dev_.size()) return false;
  UPLIFT_TRY(writer_->Finish());
  writer_ = std::make_unique<storage::DeviceWriter>(dev_, pos_, dev_.size());
  return true;
}

Status SlotWriter::Finish() { return writer_->Finish(); }

Status SkipSink::Write(ByteView data) {
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, data.size()));
  skip_ -= n;
  if (n == data.size()) return Ok();
  return next_.Write(data.subspan(n));
}

Result<crypto::Sha256Digest> HashDevice(storage::BlockDevice& dev, std::uint64_t size) {
  crypto::Sha256 h;
  Bytes buf(std::min<std::uint64_t>(size, 1u << 20));
  for (std::uint64_t off = 0; off < size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - off));
    UPLIFT_TRY(dev.Read(off, MutableByteView(buf).first(n)));
    h.Update(ByteView(buf).first(n));
    off += n;
  }
  return h.Finish();
}

}  // namespace uplift::agent::internal
