// Helpers shared by the bundle tests: keys, trust stores and bundles built in memory.
#pragma once

#include <gtest/gtest.h>

#include "uplift/format/bundle.hpp"
#include "uplift/format/bundle_reader.hpp"
#include "uplift/format/bundle_writer.hpp"

namespace uplift::format::testing {

inline constexpr std::int64_t kCreated = 1'700'000'000;
inline constexpr std::int64_t kExpires = 1'800'000'000;
inline constexpr std::int64_t kNow = 1'750'000'000;

inline crypto::PrivateKey NewKey(
    crypto::SignatureAlgorithm algo = crypto::SignatureAlgorithm::kEd25519) {
  auto k = crypto::PrivateKey::Generate(algo);
  if (!k.ok()) std::abort();
  return std::move(k).value();
}

inline TrustStore TrustOf(const std::vector<const crypto::PrivateKey*>& keys,
                          std::uint32_t threshold = 1) {
  TrustStore ts;
  for (const auto* k : keys) {
    if (!ts.AddKey(k->Public(), std::string(kReleaseRole)).ok()) std::abort();
  }
  if (!ts.SetThreshold(std::string(kReleaseRole), threshold).ok()) std::abort();
  return ts;
}

inline Bytes Pattern(std::size_t n, std::uint32_t seed = 1) {
  Bytes b(n);
  std::uint32_t x = seed;
  for (auto& c : b) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<std::uint8_t>(x >> 24);
  }
  return b;
}

inline PayloadInput MemoryPayload(std::string name, std::shared_ptr<Bytes> data,
                                  Compression c = Compression::kNone,
                                  std::uint32_t chunk_size = kMinChunkSize) {
  PayloadInput p;
  p.name = name;
  p.target = std::move(name);
  p.compression = c;
  p.chunk_size = chunk_size;
  p.size_hint = data->size();
  p.open = [data]() -> Result<std::unique_ptr<ByteSource>> {
    return std::unique_ptr<ByteSource>(std::make_unique<MemorySource>(*data));
  };
  return p;
}

inline BundleSpec BasicSpec() {
  BundleSpec s;
  s.product = "rice-cooker";
  s.version = *SemVer::Parse("2.1.0+build.7");
  s.security_counter = 5;
  s.compatible = {"rc-board-v1", "rc-board-v2"};
  s.created = kCreated;
  s.expires = kExpires;
  s.metadata = {{"release-notes", "faster rice"}};
  return s;
}

inline Bytes Build(const BundleSpec& spec, const std::vector<const crypto::PrivateKey*>& keys) {
  MemorySink out;
  const auto st = WriteBundle(spec, keys, out);
  if (!st.ok()) {
    ADD_FAILURE() << st.error().message();
    return {};
  }
  return out.Take();
}

// Assembles a bundle from raw parts, signing the given manifest bytes as they are: for crafting
// manifests the writer would refuse to produce.
inline Bytes Assemble(std::string_view manifest, const std::vector<const crypto::PrivateKey*>& keys,
                      ByteView chunk_index = {}, ByteView payload = {}) {
  std::vector<SignatureEntry> sigs;
  for (const auto* k : keys) {
    SignatureEntry e;
    e.algorithm_id = static_cast<std::uint8_t>(k->algorithm());
    const auto id = FromHex(k->Public().id());
    std::copy(id->begin(), id->end(), e.key_id.begin());
    e.signature = *k->Sign(SignedMessage(AsBytes(manifest)));
    sigs.push_back(std::move(e));
  }
  const Bytes sig_block = EncodeSignatureBlock(sigs);
  BundleHeader h;
  h.manifest_size = static_cast<std::uint32_t>(manifest.size());
  h.signatures_size = static_cast<std::uint32_t>(sig_block.size());
  h.chunk_index_size = chunk_index.size();
  h.payload_size = payload.size();
  Bytes out;
  const auto head = h.Encode();
  out.insert(out.end(), head.begin(), head.end());
  out.insert(out.end(), manifest.begin(), manifest.end());
  out.insert(out.end(), sig_block.begin(), sig_block.end());
  out.insert(out.end(), chunk_index.begin(), chunk_index.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// Opens and reads a whole bundle; returns the first error (or Ok).
inline Status ReadAll(ByteView bundle, const VerifyOptions& options, Bytes* image = nullptr) {
  MemorySource src(bundle);
  UPLIFT_ASSIGN(BundleReader r, BundleReader::Open(src, options));
  MemorySink sink;
  for (std::size_t i = 0; i < r.manifest().payloads.size(); ++i) {
    UPLIFT_TRY(r.ReadPayloadImage(sink));
  }
  UPLIFT_TRY(r.Finish());
  if (image) *image = sink.Take();
  return Ok();
}

inline VerifyOptions Strict(const TrustStore& trust) {
  VerifyOptions o;
  o.trust = &trust;
  o.now = kNow;
  o.hardware = "rc-board-v2";
  return o;
}

}  // namespace uplift::format::testing
