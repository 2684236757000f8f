// Shared set-up of the transport tests: a temporary directory served by a real nginx on
// 127.0.0.1, with helpers to write artifacts and signed bundles into it.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "nginx.hpp"
#include "uplift/base/io.hpp"
#include "uplift/crypto/keys.hpp"
#include "uplift/format/bundle_writer.hpp"
#include "uplift/format/trust_store.hpp"

namespace uplift::testing {

inline Bytes Noise(std::size_t n, std::uint32_t seed) {
  Bytes b(n);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b[i] = static_cast<std::uint8_t>(x);
  }
  return b;
}

class Origin {
 public:
  explicit Origin(const faultlab::NginxOptions& options = {}) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "uplift-origin-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    std::filesystem::create_directories(dir_ + "/www");
    auto n = faultlab::NginxServer::Start(dir_ + "/www", options);
    if (!n.ok()) {
      ADD_FAILURE() << "nginx: " << n.error().message();
      return;
    }
    nginx_ = std::move(n).value();
  }
  ~Origin() {
    nginx_.reset();
    std::filesystem::remove_all(dir_);
  }
  bool ok() const { return nginx_ != nullptr; }
  faultlab::NginxServer& nginx() { return *nginx_; }
  std::string dir() const { return dir_; }
  std::string Path(const std::string& name) const { return dir_ + "/www/" + name; }
  std::string Url(const std::string& name) const { return nginx_->Url("/" + name); }
  void Put(const std::string& name, ByteView data) {
    ASSERT_TRUE(WriteFileAtomic(Path(name), data).ok());
  }

 private:
  std::string dir_;
  std::unique_ptr<faultlab::NginxServer> nginx_;
};

struct SignedBundle {
  Bytes bytes;
  format::TrustStore trust;
};

// A bundle of one uncompressed payload of `image` cut into chunks of chunk_size.
inline SignedBundle MakeSignedBundle(const Bytes& image, std::uint32_t chunk_size,
                                     format::Compression compression = format::Compression::kNone) {
  static const crypto::PrivateKey key =
      std::move(crypto::PrivateKey::Generate(crypto::SignatureAlgorithm::kEd25519)).value();
  SignedBundle out;
  if (!out.trust.AddKey(key.Public(), std::string(format::kReleaseRole)).ok()) std::abort();
  format::BundleSpec spec;
  spec.product = "chaos";
  spec.version = *format::SemVer::Parse("1.2.3");
  spec.security_counter = 1;
  spec.compatible = {"board"};
  spec.created = 1'700'000'000;
  spec.expires = 4'000'000'000;
  auto data = std::make_shared<Bytes>(image);
  format::PayloadInput p;
  p.name = "rootfs";
  p.target = "rootfs";
  p.chunk_size = chunk_size;
  p.compression = compression;
  p.size_hint = data->size();
  p.open = [data]() -> Result<std::unique_ptr<ByteSource>> {
    return std::unique_ptr<ByteSource>(std::make_unique<MemorySource>(*data));
  };
  spec.payloads.push_back(std::move(p));
  MemorySink sink;
  if (!format::WriteBundle(spec, {&key}, sink).ok()) std::abort();
  out.bytes = sink.Take();
  return out;
}

}  // namespace uplift::testing
