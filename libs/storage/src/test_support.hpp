// Shared helpers of the storage tests.
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "uplift/base/bytes.hpp"
#include "uplift/storage/device.hpp"

namespace uplift::storage::testing {

// A fresh directory under the test temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = std::filesystem::temp_directory_path() / "uplift-storage-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline Bytes Pattern(std::size_t n, std::uint32_t seed = 0x12345678) {
  Bytes out(n);
  std::uint32_t x = seed;
  for (auto& b : out) {
    x = x * 1103515245u + 12345u;
    b = static_cast<std::uint8_t>(x >> 16);
  }
  return out;
}

// Records the calls that reach a device, to check the order a writer uses (an interaction, so a
// recording wrapper rather than a fake).
class RecordingDevice final : public BlockDevice {
 public:
  struct Call {
    char op;  // 'E' erase, 'P' program, 'S' sync
    std::uint64_t offset;
    std::uint64_t length;
  };
  explicit RecordingDevice(BlockDevice& inner) : inner_(inner) {}
  std::string name() const override { return inner_.name(); }
  std::uint64_t size() const override { return inner_.size(); }
  std::uint32_t erase_size() const override { return inner_.erase_size(); }
  std::uint32_t program_size() const override { return inner_.program_size(); }
  bool needs_erase() const override { return inner_.needs_erase(); }
  Status Read(std::uint64_t offset, MutableByteView out) override {
    return inner_.Read(offset, out);
  }
  Status Erase(std::uint64_t offset, std::uint64_t length) override {
    calls.push_back({'E', offset, length});
    return inner_.Erase(offset, length);
  }
  Status Program(std::uint64_t offset, ByteView data) override {
    calls.push_back({'P', offset, data.size()});
    return inner_.Program(offset, data);
  }
  Status Sync() override {
    calls.push_back({'S', 0, 0});
    return inner_.Sync();
  }
  std::vector<Call> calls;

 private:
  BlockDevice& inner_;
};

}  // namespace uplift::storage::testing
