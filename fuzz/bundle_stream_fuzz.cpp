// Fuzzes what a resumed download does with a bundle from the network: the head read through a
// ranged source (with re-reads), then every payload streamed from a fuzzer-chosen restart
// offset with chunk verification and re-reads, and zstd payloads decoded from there with
// frame-end reporting. Input layout: bytes 0-1 = restart offset selector, the rest is the
// bundle. Invariants: nothing is passed on beyond the payload, and the head never exceeds the
// format's bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "uplift/base/range_source.hpp"
#include "uplift/format/bundle_head.hpp"
#include "uplift/format/payload_codec.hpp"

namespace {

class CountingSink final : public uplift::ByteSink {
 public:
  uplift::Status Write(uplift::ByteView data) override {
    written += data.size();
    return uplift::Ok();
  }
  std::uint64_t written = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint32_t selector = data[0] | (std::uint32_t{data[1]} << 8);
  const uplift::ByteView bundle(data + 2, size - 2);
  uplift::MemoryRangeSource src(bundle);
  auto head = uplift::format::BundleHead::Read(src, {});
  if (!head.ok()) return 0;
  if ((*head)->size() > 48 + (1u << 20) + (64u << 10) + (8u << 20)) std::abort();
  auto& reader = (*head)->reader();
  const auto& payloads = reader.manifest().payloads;
  uplift::format::ChunkRefetch refetch;
  refetch.source = &src;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    const auto& p = payloads[i];
    const std::uint64_t begin = p.size == 0 ? 0 : selector % (p.size + 1);
    const auto window = reader.ChunkWindow(i, begin, p.size);
    auto stream = src.OpenRange(window.first, window.second);
    if (!stream.ok()) std::abort();
    CountingSink raw;
    if (p.compression == uplift::format::Compression::kZstd) {
      // A fresh decoder from the restart offset, as the agent does after an interruption.
      uplift::format::ZstdDecompressSink decoder(
          raw, p.image_size, [&](std::uint64_t in, std::uint64_t out) -> uplift::Status {
            if (in > p.size - begin || out > p.image_size) std::abort();
            return uplift::Ok();
          });
      if (reader.StreamPayload(i, begin, p.size, **stream, decoder, refetch).ok()) {
        (void)decoder.Finish();
      }
      if (raw.written > p.image_size) std::abort();
    } else {
      (void)reader.StreamPayload(i, begin, p.size, **stream, raw, refetch);
      if (raw.written > p.size - begin) std::abort();
    }
  }
  return 0;
}
