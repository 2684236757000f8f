#include "uplift/storage/record_store.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <string>

#include "uplift/base/errors.hpp"
#include "uplift/base/io.hpp"

namespace uplift::storage {
namespace {

std::uint64_t RoundUp(std::uint64_t v, std::uint64_t unit) { return (v + unit - 1) / unit * unit; }

Status CheckRecordSize(ByteView record) {
  if (record.size() > format::kMaxRecordPayload) {
    return Error(base::Errc::kTooLarge, "record of " + std::to_string(record.size()) +
                                            " bytes exceeds the limit of " +
                                            std::to_string(format::kMaxRecordPayload));
  }
  return Ok();
}

}  // namespace

RecordStore::~RecordStore() = default;

// ---------------------------------------------------------------------------------------------
// FileRecordStore

Result<std::optional<Bytes>> FileRecordStore::Load() {
  auto data = ReadFile(path_, format::kRecordHeaderSize + format::kMaxRecordPayload);
  if (!data.ok()) {
    if (data.error().Is(base::Errc::kNotFound)) return std::optional<Bytes>();
    if (data.error().Is(base::Errc::kTooLarge)) {
      return Error(Errc::kRecordCorrupt, "record file " + std::move(data).error().message());
    }
    return std::move(data).error();
  }
  auto copy = format::DecodeRecordCopy(*data);
  if (!copy.ok()) {
    return Error(Errc::kRecordCorrupt, "record file " + path_ + ": " + copy.error().message());
  }
  if (copy->encoded_size() != data->size()) {
    return Error(Errc::kRecordCorrupt, "record file " + path_ + ": " +
                                           std::to_string(data->size() - copy->encoded_size()) +
                                           " bytes after the record");
  }
  return std::optional<Bytes>(std::move(copy->payload));
}

Status FileRecordStore::Store(ByteView record) {
  UPLIFT_TRY(CheckRecordSize(record));
  // The sequence number carries no meaning in a file (rename is the atomic step); counting on
  // keeps a copied-out file comparable with a flash copy.
  std::uint64_t sequence = 1;
  if (auto old = ReadFile(path_, format::kRecordHeaderSize + format::kMaxRecordPayload); old.ok()) {
    if (auto copy = format::DecodeRecordCopy(*old);
        copy.ok() && copy->sequence < std::numeric_limits<std::uint64_t>::max()) {
      sequence = copy->sequence + 1;
    }
  }
  return WriteFileAtomic(path_, format::EncodeRecordCopy(sequence, record));
}

// ---------------------------------------------------------------------------------------------
// FlashRecordStore

struct FlashRecordStore::Slot {
  enum class State { kBlank, kValid, kCorrupt };
  State state = State::kBlank;
  format::RecordCopy copy;
  std::string problem;  // why a kCorrupt slot did not decode
};

Result<std::uint64_t> FlashRecordStore::HalfSize() const {
  const std::uint64_t block = dev_.erase_size();
  const std::uint64_t half = dev_.size() / block / 2 * block;
  if (half < RoundUp(format::kRecordHeaderSize, dev_.program_size())) {
    return Error(Errc::kOutOfBounds, "record store on " + dev_.name() + ": " +
                                         std::to_string(dev_.size()) +
                                         " bytes hold no two erase-aligned copies of a header");
  }
  return half;
}

Result<FlashRecordStore::Slot> FlashRecordStore::ReadSlot(std::uint64_t offset,
                                                          std::uint64_t half) const {
  Slot slot;
  std::array<std::uint8_t, format::kRecordHeaderSize> header{};
  UPLIFT_TRY(dev_.Read(offset, header));
  // The header's length is untrusted: read the payload only if it is in bounds, else let the
  // decoder explain what is wrong with the header alone.
  const std::uint64_t length = LoadLe32(&header[16]);
  Bytes bytes(header.begin(), header.end());
  if (length <= format::kMaxRecordPayload && format::kRecordHeaderSize + length <= half) {
    bytes.resize(format::kRecordHeaderSize + length);
    UPLIFT_TRY(dev_.Read(offset + format::kRecordHeaderSize,
                         MutableByteView(bytes).subspan(format::kRecordHeaderSize)));
  }
  auto copy = format::DecodeRecordCopy(bytes);
  if (copy.ok()) {
    slot.state = Slot::State::kValid;
    slot.copy = std::move(copy).value();
    return slot;
  }
  slot.problem = copy.error().message();
  // Never written (erased flash, or a zero-filled image) is not damage; anything else is.
  std::array<std::uint8_t, 4096> buf{};
  std::optional<std::uint8_t> fill;
  for (std::uint64_t at = 0; at < half;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(half - at, buf.size()));
    UPLIFT_TRY(dev_.Read(offset + at, MutableByteView(buf.data(), n)));
    if (!fill) fill = buf[0];
    const std::uint8_t f = *fill;
    if ((f != 0xff && f != 0x00) ||
        !std::all_of(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n),
                     [f](std::uint8_t b) { return b == f; })) {
      slot.state = Slot::State::kCorrupt;
      return slot;
    }
    at += n;
  }
  slot.state = Slot::State::kBlank;
  return slot;
}

namespace {

// Index of the copy holding the current record: the valid one with the higher sequence number
// (sequence numbers never wrap, Store() refuses to). -1 if neither is valid.
template <typename SlotT>
int CurrentSlot(const SlotT& a, const SlotT& b) {
  const bool va = a.state == SlotT::State::kValid;
  const bool vb = b.state == SlotT::State::kValid;
  if (va && vb) return b.copy.sequence > a.copy.sequence ? 1 : 0;
  if (va) return 0;
  if (vb) return 1;
  return -1;
}

}  // namespace

Result<std::optional<Bytes>> FlashRecordStore::Load() {
  UPLIFT_ASSIGN(const std::uint64_t half, HalfSize());
  UPLIFT_ASSIGN(Slot a, ReadSlot(0, half));
  UPLIFT_ASSIGN(Slot b, ReadSlot(half, half));
  switch (CurrentSlot(a, b)) {
    case 0:
      return std::optional<Bytes>(std::move(a.copy.payload));
    case 1:
      return std::optional<Bytes>(std::move(b.copy.payload));
    default:
      break;
  }
  // One damaged copy beside a blank one is a first Store() cut short: nothing was ever stored,
  // because Store() never touches the copy holding the current record.
  if (a.state == Slot::State::kCorrupt && b.state == Slot::State::kCorrupt) {
    return Error(Errc::kRecordCorrupt, "record store on " + dev_.name() +
                                           ": no intact copy (first: " + a.problem +
                                           "; second: " + b.problem + ")");
  }
  return std::optional<Bytes>();
}

Status FlashRecordStore::Store(ByteView record) {
  UPLIFT_TRY(CheckRecordSize(record));
  UPLIFT_ASSIGN(const std::uint64_t half, HalfSize());
  const std::uint64_t padded =
      RoundUp(format::kRecordHeaderSize + record.size(), dev_.program_size());
  if (padded > half) {
    return Error(Errc::kOutOfBounds,
                 "record store on " + dev_.name() + ": a copy of " + std::to_string(padded) +
                     " bytes does not fit half the partition (" + std::to_string(half) + " bytes)");
  }
  UPLIFT_ASSIGN(const Slot a, ReadSlot(0, half));
  UPLIFT_ASSIGN(const Slot b, ReadSlot(half, half));
  const int current = CurrentSlot(a, b);
  std::uint64_t sequence = 1;
  if (current >= 0) {
    const std::uint64_t last = (current == 0 ? a : b).copy.sequence;
    if (last == std::numeric_limits<std::uint64_t>::max()) {
      return Error(base::Errc::kInvalidArgument,
                   "record store on " + dev_.name() + ": sequence number exhausted");
    }
    sequence = last + 1;
  }
  Bytes copy = format::EncodeRecordCopy(sequence, record);
  copy.resize(padded, 0xff);
  const std::uint64_t target = current == 0 ? half : 0;
  if (dev_.needs_erase()) {
    UPLIFT_TRY(dev_.Erase(target, RoundUp(copy.size(), dev_.erase_size())));
  }
  UPLIFT_TRY(dev_.Program(target, copy));
  return dev_.Sync();
}

}  // namespace uplift::storage
