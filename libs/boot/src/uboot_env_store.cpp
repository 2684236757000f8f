#include "uplift/boot/uboot_env_store.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>

#include "env_errors.hpp"
#include "uplift/base/errors.hpp"
#include "uplift/format/uboot_env.hpp"

namespace uplift::boot {
namespace {

using format::UbootEnvLayout;

std::uint64_t RoundUp(std::uint64_t v, std::uint64_t unit) { return (v + unit - 1) / unit * unit; }

// The span a copy occupies on its device: whole erase blocks on flash.
std::uint64_t Footprint(const UbootEnvRegion& r) {
  return r.device->needs_erase() ? RoundUp(r.size, r.device->erase_size()) : r.size;
}

Status CheckRegion(const UbootEnvRegion& r, UbootEnvLayout layout) {
  if (r.device == nullptr) return Error(base::Errc::kInvalidArgument, "U-Boot env: no device");
  const std::string where = r.device->name() + " at " + std::to_string(r.offset);
  const std::uint64_t min = format::UbootEnvHeaderSize(layout) + 1;
  if (r.size < min || r.size > format::kUbootEnvMaxSize) {
    return Error(base::Errc::kInvalidArgument,
                 "U-Boot env on " + where + ": size " + std::to_string(r.size) + " outside [" +
                     std::to_string(min) + ", " + std::to_string(format::kUbootEnvMaxSize) + "]");
  }
  const std::uint32_t program = std::max<std::uint32_t>(r.device->program_size(), 1);
  if (r.offset % program != 0 || r.size % program != 0) {
    return Error(base::Errc::kInvalidArgument,
                 "U-Boot env on " + where + ": offset and size " + std::to_string(r.size) +
                     " must be multiples of the program size " + std::to_string(program));
  }
  if (r.device->needs_erase() && r.offset % r.device->erase_size() != 0) {
    return Error(base::Errc::kInvalidArgument, "U-Boot env on " + where +
                                                   ": offset not aligned to the erase size " +
                                                   std::to_string(r.device->erase_size()));
  }
  if (r.offset > r.device->size() || Footprint(r) > r.device->size() - r.offset) {
    return Error(base::Errc::kInvalidArgument,
                 "U-Boot env on " + where + ": " + std::to_string(Footprint(r)) +
                     " bytes do not fit the device of " + std::to_string(r.device->size()));
  }
  return Ok();
}

bool IsBlank(ByteView image) {
  return std::all_of(image.begin(), image.end(), [](std::uint8_t b) { return b == 0xff; }) ||
         std::all_of(image.begin(), image.end(), [](std::uint8_t b) { return b == 0x00; });
}

// fw_env.config numbers as libubootenv reads them (sscanf "%lli" for the offset, "%zx" for the
// sizes): base 0 means a C integer (0x hex, leading-0 octal, decimal); base 16 takes an optional
// 0x. nullopt on anything else or on overflow.
std::optional<std::uint64_t> ParseConfigNumber(std::string_view s, int base) {
  const bool hex_prefix = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  if (base == 0) base = hex_prefix ? 16 : (s.size() > 1 && s[0] == '0' ? 8 : 10);
  if (base == 16 && hex_prefix) s.remove_prefix(2);
  if (s.empty() || s.size() > 22) return std::nullopt;
  const auto ubase = static_cast<std::uint64_t>(base);
  std::uint64_t v = 0;
  for (const char c : s) {
    int d = 99;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d >= base) return std::nullopt;
    const auto ud = static_cast<std::uint64_t>(d);
    if (v > (UINT64_MAX - ud) / ubase) return std::nullopt;
    v = v * ubase + ud;
  }
  return v;
}

}  // namespace

Result<std::unique_ptr<UbootEnvStore>> UbootEnvStore::Create(std::vector<UbootEnvRegion> regions) {
  return Create(std::move(regions), {});
}

Result<std::unique_ptr<UbootEnvStore>> UbootEnvStore::Create(
    std::vector<UbootEnvRegion> regions, std::vector<std::unique_ptr<storage::BlockDevice>> owned) {
  if (regions.empty() || regions.size() > 2) {
    return Error(base::Errc::kInvalidArgument,
                 "U-Boot env: " + std::to_string(regions.size()) + " copies, expected 1 or 2");
  }
  const auto layout = regions.size() == 2 ? UbootEnvLayout::kRedundant : UbootEnvLayout::kSingle;
  for (const auto& r : regions) UPLIFT_TRY(CheckRegion(r, layout));
  if (regions.size() == 2) {
    const auto& a = regions[0];
    const auto& b = regions[1];
    if (a.size != b.size) {
      return Error(base::Errc::kInvalidArgument, "U-Boot env: redundant copies differ in size (" +
                                                     std::to_string(a.size) + " vs " +
                                                     std::to_string(b.size) + ")");
    }
    if (a.device == b.device && a.offset < b.offset + Footprint(b) &&
        b.offset < a.offset + Footprint(a)) {
      return Error(
          base::Errc::kInvalidArgument,
          "U-Boot env: redundant copies overlap (or share an erase block) on " + a.device->name());
    }
  }
  return std::unique_ptr<UbootEnvStore>(new UbootEnvStore(std::move(regions), std::move(owned)));
}

Result<Bytes> UbootEnvStore::ReadCopy(std::size_t index) const {
  const UbootEnvRegion& r = regions_[index];
  Bytes image(r.size);
  UPLIFT_TRY(r.device->Read(r.offset, image));
  return image;
}

Status UbootEnvStore::WriteCopy(std::size_t index, ByteView image) {
  const UbootEnvRegion& r = regions_[index];
  if (r.device->needs_erase()) UPLIFT_TRY(r.device->Erase(r.offset, Footprint(r)));
  UPLIFT_TRY(r.device->Program(r.offset, image));
  return r.device->Sync();
}

Result<EnvVars> UbootEnvStore::Load() {
  if (!redundant()) {
    UPLIFT_ASSIGN(const Bytes image, ReadCopy(0));
    if (!format::UbootEnvCrcValid(image, UbootEnvLayout::kSingle) && IsBlank(image)) {
      return EnvVars{};
    }
    auto copy = format::ParseUbootEnv(image, UbootEnvLayout::kSingle);
    if (!copy.ok()) return ToBootError(std::move(copy).error().Context(regions_[0].device->name()));
    return std::move(copy->vars);
  }
  UPLIFT_ASSIGN(const Bytes copy0, ReadCopy(0));
  UPLIFT_ASSIGN(const Bytes copy1, ReadCopy(1));
  if (!format::UbootEnvCrcValid(copy0, UbootEnvLayout::kRedundant) &&
      !format::UbootEnvCrcValid(copy1, UbootEnvLayout::kRedundant) && IsBlank(copy0) &&
      IsBlank(copy1)) {
    return EnvVars{};
  }
  auto pair = format::ParseRedundantUbootEnv(copy0, copy1);
  if (!pair.ok()) return ToBootError(std::move(pair).error().Context(regions_[0].device->name()));
  return std::move(pair->active.vars);
}

Status UbootEnvStore::Save(const EnvVars& vars) {
  if (!redundant()) {
    auto image = format::SerializeUbootEnv(vars, env_size(), UbootEnvLayout::kSingle);
    if (!image.ok()) return ToBootError(std::move(image).error());
    return WriteCopy(0, *image);
  }
  // Only the header bytes decide which copy is in use; the data of neither copy matters here.
  UPLIFT_ASSIGN(const Bytes copy0, ReadCopy(0));
  UPLIFT_ASSIGN(const Bytes copy1, ReadCopy(1));
  const bool valid0 = format::UbootEnvCrcValid(copy0, UbootEnvLayout::kRedundant);
  const bool valid1 = format::UbootEnvCrcValid(copy1, UbootEnvLayout::kRedundant);
  // With no valid copy, libubootenv counts from copy 0's flags and writes copy 1; so do we.
  const int current = std::max(format::SelectUbootEnvCopy(valid0, copy0[4], valid1, copy1[4]), 0);
  const std::uint8_t flags = static_cast<std::uint8_t>((current == 0 ? copy0[4] : copy1[4]) + 1);
  auto image = format::SerializeUbootEnv(vars, env_size(), UbootEnvLayout::kRedundant, flags);
  if (!image.ok()) return ToBootError(std::move(image).error());
  return WriteCopy(current == 0 ? 1 : 0, *image);
}

Result<std::vector<FwEnvConfigEntry>> ParseFwEnvConfig(std::string_view text) {
  std::vector<FwEnvConfigEntry> entries;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.front() == '#') continue;
    std::vector<std::string_view> fields;
    std::size_t pos = 0;
    while (fields.size() < 4) {
      pos = line.find_first_not_of(" \t\r\v\f", pos);
      if (pos == std::string_view::npos) break;
      const std::size_t end = std::min(line.find_first_of(" \t\r\v\f", pos), line.size());
      fields.push_back(line.substr(pos, end - pos));
      pos = end;
    }
    if (fields.empty()) continue;
    const auto bad = [&](const std::string& what) {
      return Error(base::Errc::kInvalidArgument,
                   "fw_env.config line " + std::to_string(line_no) + ": " + what);
    };
    if (fields.size() < 3) return bad("expected <device> <offset> <size>");
    FwEnvConfigEntry e;
    e.path = std::string(fields[0]);
    const auto offset = ParseConfigNumber(fields[1], 0);
    const auto size = ParseConfigNumber(fields[2], 16);
    if (!offset)
      return bad("offset '" + std::string(fields[1].substr(0, 32)) + "' is not a number");
    if (!size || *size == 0) {
      return bad("size '" + std::string(fields[2].substr(0, 32)) +
                 "' is not a non-zero hex number");
    }
    e.offset = *offset;
    e.size = *size;
    if (fields.size() > 3) {
      const auto sector = ParseConfigNumber(fields[3], 16);
      if (!sector)
        return bad("sector size '" + std::string(fields[3].substr(0, 32)) + "' is not hex");
      e.sector_size = *sector;
    }
    if (entries.size() == 2) return bad("more than two environment copies");
    entries.push_back(std::move(e));
  }
  if (entries.empty()) {
    return Error(base::Errc::kInvalidArgument, "fw_env.config: no environment entry");
  }
  if (entries.size() == 2 && entries[0].size != entries[1].size) {
    return Error(base::Errc::kInvalidArgument, "fw_env.config: the two copies differ in size");
  }
  return entries;
}

Result<std::unique_ptr<UbootEnvStore>> OpenUbootEnvStore(
    const std::vector<FwEnvConfigEntry>& entries) {
  std::vector<std::unique_ptr<storage::BlockDevice>> owned;
  std::map<std::string, storage::BlockDevice*> by_path;
  std::vector<UbootEnvRegion> regions;
  for (const auto& e : entries) {
    auto it = by_path.find(e.path);
    if (it == by_path.end()) {
      UPLIFT_ASSIGN(auto device, storage::OpenFileDevice(e.path));
      it = by_path.emplace(e.path, device.get()).first;
      owned.push_back(std::move(device));
    }
    regions.push_back({it->second, e.offset, e.size});
  }
  return UbootEnvStore::Create(std::move(regions), std::move(owned));
}

}  // namespace uplift::boot
