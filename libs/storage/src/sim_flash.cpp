#include "uplift/storage/sim_flash.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace uplift::storage {
namespace {

std::string Range(std::uint64_t offset, std::uint64_t length) {
  return "[" + std::to_string(offset) + ", +" + std::to_string(length) + ")";
}

}  // namespace

// The durable array is the medium. In write-back mode, blocks touched since the last Sync() live
// in `cache` (a copy of the whole erase block, made on first touch), so a power cut drops exactly
// them and a Sync() costs the changed blocks, not the device. Keeping both behind Impl leaves room
// for the fleet simulator's shared copy-on-write pages.
struct SimFlash::Impl {
  FlashGeometry geo;
  std::string name;
  Bytes durable;
  std::map<std::uint64_t, Bytes> cache;  // erase block index -> contents (write-back only)
  FaultPlan plan;
  std::uint64_t operations = 0;
  bool power_lost = false;

  Error PowerLost(const char* what) const {
    return Error(Errc::kPowerLost, std::string(what) + " " + name + ": power lost");
  }

  Status CheckRange(const char* what, std::uint64_t offset, std::uint64_t length,
                    std::uint64_t unit) const {
    if (power_lost) return PowerLost(what);
    if (offset > geo.size || length > geo.size - offset) {
      return Error(Errc::kOutOfBounds, std::string(what) + " " + name + ": " +
                                           Range(offset, length) + " beyond the size " +
                                           std::to_string(geo.size));
    }
    if (offset % unit != 0 || length % unit != 0) {
      return Error(Errc::kUnaligned, std::string(what) + " " + name + ": " + Range(offset, length) +
                                         " not aligned to " + std::to_string(unit) + " bytes");
    }
    return Ok();
  }

  // The bytes of erase block `block` as the next read would see them, for writing.
  std::uint8_t* WritableBlock(std::uint64_t block) {
    const std::uint64_t at = block * geo.erase_size;
    if (!plan.write_back) return durable.data() + at;
    auto [it, inserted] = cache.try_emplace(block);
    if (inserted) {
      it->second.assign(durable.begin() + static_cast<std::ptrdiff_t>(at),
                        durable.begin() + static_cast<std::ptrdiff_t>(at + geo.erase_size));
    }
    return it->second.data();
  }

  const std::uint8_t* ReadableBlock(std::uint64_t block) const {
    if (auto it = cache.find(block); it != cache.end()) return it->second.data();
    return durable.data() + block * geo.erase_size;
  }

  // Counts one operation; true if power is cut at it (the caller then applies half or nothing).
  bool CutHere() {
    ++operations;
    if (plan.cut_at == 0 || operations != plan.cut_at) return false;
    power_lost = true;
    return true;
  }

  void DropCache() { cache.clear(); }
};

SimFlash::SimFlash(FlashGeometry geometry, std::string name) : impl_(std::make_unique<Impl>()) {
  const bool valid =
      std::has_single_bit(geometry.size) && std::has_single_bit(geometry.erase_size) &&
      std::has_single_bit(geometry.page_size) && geometry.page_size <= geometry.erase_size &&
      geometry.erase_size <= geometry.size;
  if (!valid) std::abort();  // a broken test or simulator set-up, not a runtime condition
  impl_->geo = geometry;
  impl_->name = std::move(name);
  impl_->durable.assign(static_cast<std::size_t>(geometry.size), 0xff);
}

SimFlash::~SimFlash() = default;

std::string SimFlash::name() const { return impl_->name; }
std::uint64_t SimFlash::size() const { return impl_->geo.size; }
std::uint32_t SimFlash::erase_size() const { return impl_->geo.erase_size; }
std::uint32_t SimFlash::program_size() const { return impl_->geo.page_size; }

Status SimFlash::Read(std::uint64_t offset, MutableByteView out) {
  Impl& m = *impl_;
  UPLIFT_TRY(m.CheckRange("read", offset, out.size(), 1));
  const std::uint64_t bs = m.geo.erase_size;
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t at = offset + done;
    const std::uint64_t in_block = at % bs;
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - done, bs - in_block));
    std::memcpy(out.data() + done, m.ReadableBlock(at / bs) + in_block, n);
    done += n;
  }
  return Ok();
}

Status SimFlash::Erase(std::uint64_t offset, std::uint64_t length) {
  Impl& m = *impl_;
  UPLIFT_TRY(m.CheckRange("erase", offset, length, m.geo.erase_size));
  const std::uint64_t bs = m.geo.erase_size;
  for (std::uint64_t block = offset / bs; block < (offset + length) / bs; ++block) {
    const bool cut = m.CutHere();
    if (cut && !m.plan.tear) {
      m.DropCache();
      return m.PowerLost("erase");
    }
    std::memset(m.WritableBlock(block), 0xff, static_cast<std::size_t>(cut ? bs / 2 : bs));
    if (cut) {
      m.DropCache();
      return m.PowerLost("erase");
    }
  }
  return Ok();
}

Status SimFlash::Program(std::uint64_t offset, ByteView data) {
  Impl& m = *impl_;
  UPLIFT_TRY(m.CheckRange("program", offset, data.size(), m.geo.page_size));
  const std::uint64_t bs = m.geo.erase_size;
  // Checked for the whole call first, so a refused call changes nothing and counts nothing.
  for (std::size_t i = 0; i < data.size();) {
    const std::uint64_t at = offset + i;
    const std::uint8_t* block = m.ReadableBlock(at / bs);
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(data.size() - i, bs - at % bs));
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint8_t old = block[at % bs + j];
      if ((old & data[i + j]) != data[i + j]) {
        return Error(Errc::kNotErased, "program " + m.name + ": byte at " + std::to_string(at + j) +
                                           " is " + std::to_string(old) + ", cannot become " +
                                           std::to_string(data[i + j]) + " without an erase");
      }
    }
    i += n;
  }
  const std::size_t page = m.geo.page_size;
  for (std::size_t i = 0; i < data.size(); i += page) {
    const std::uint64_t at = offset + i;
    const bool cut = m.CutHere();
    if (cut && !m.plan.tear) {
      m.DropCache();
      return m.PowerLost("program");
    }
    std::uint8_t* dst = m.WritableBlock(at / bs) + at % bs;
    const std::size_t n = cut ? page / 2 : page;
    for (std::size_t j = 0; j < n; ++j) dst[j] &= data[i + j];
    if (cut) {
      m.DropCache();
      return m.PowerLost("program");
    }
  }
  return Ok();
}

Status SimFlash::Sync() {
  Impl& m = *impl_;
  if (m.power_lost) return m.PowerLost("sync");
  if (!m.plan.write_back) return Ok();
  const bool cut = m.CutHere();
  // A torn Sync() wrote back the lower half of the dirty blocks (in address order) before the
  // power went: the cache flush itself is not atomic.
  const std::size_t persist = cut ? (m.plan.tear ? m.cache.size() / 2 : 0) : m.cache.size();
  std::size_t done = 0;
  for (const auto& [block, bytes] : m.cache) {
    if (done++ == persist) break;
    std::copy(bytes.begin(), bytes.end(),
              m.durable.begin() + static_cast<std::ptrdiff_t>(block * m.geo.erase_size));
  }
  m.DropCache();
  if (cut) return m.PowerLost("sync");
  return Ok();
}

void SimFlash::SetFaultPlan(FaultPlan plan) {
  // Leaving write-back mode must not lose what the cache holds: it becomes durable as if synced.
  if (impl_->plan.write_back && !plan.write_back && !impl_->power_lost) {
    for (const auto& [block, bytes] : impl_->cache) {
      std::copy(
          bytes.begin(), bytes.end(),
          impl_->durable.begin() + static_cast<std::ptrdiff_t>(block * impl_->geo.erase_size));
    }
    impl_->DropCache();
  }
  impl_->plan = plan;
}

std::uint64_t SimFlash::operations() const { return impl_->operations; }
void SimFlash::ResetOperationCount() { impl_->operations = 0; }
bool SimFlash::power_lost() const { return impl_->power_lost; }

void SimFlash::PowerCycle() {
  impl_->DropCache();
  impl_->power_lost = false;
  impl_->plan = FaultPlan{};
}

ByteView SimFlash::durable() const { return impl_->durable; }

void SimFlash::LoadDurable(std::uint64_t offset, ByteView data) {
  Impl& m = *impl_;
  if (offset > m.geo.size || data.size() > m.geo.size - offset) std::abort();
  std::copy(data.begin(), data.end(), m.durable.begin() + static_cast<std::ptrdiff_t>(offset));
  // Cached blocks shadow the durable array; patch them so reads show the loaded bytes too.
  const std::uint64_t bs = m.geo.erase_size;
  for (auto& [block, bytes] : m.cache) {
    const std::uint64_t lo = std::max(block * bs, offset);
    const std::uint64_t hi = std::min((block + 1) * bs, offset + data.size());
    if (lo >= hi) continue;
    std::copy(data.begin() + static_cast<std::ptrdiff_t>(lo - offset),
              data.begin() + static_cast<std::ptrdiff_t>(hi - offset),
              bytes.begin() + static_cast<std::ptrdiff_t>(lo - block * bs));
  }
}

}  // namespace uplift::storage
