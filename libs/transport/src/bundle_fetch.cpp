#include "uplift/transport/bundle_fetch.hpp"

#include "uplift/format/bundle_head.hpp"

namespace uplift::transport {
namespace {

class CountingSink final : public ByteSink {
 public:
  CountingSink(ByteSink& next, std::uint64_t start, std::uint64_t total,
               const std::function<void(std::uint64_t, std::uint64_t)>& progress)
      : next_(next), done_(start), total_(total), progress_(progress) {}
  Status Write(ByteView data) override {
    UPLIFT_TRY(next_.Write(data));
    done_ += data.size();
    if (progress_) progress_(done_, total_);
    return Ok();
  }

 private:
  ByteSink& next_;
  std::uint64_t done_;
  std::uint64_t total_;
  const std::function<void(std::uint64_t, std::uint64_t)>& progress_;
};

}  // namespace

Result<FetchReport> FetchBundle(RangeSource& src, const FetchOptions& options, ByteSink& out) {
  UPLIFT_ASSIGN(auto head, format::BundleHead::Read(src, options.verify));
  const format::Manifest& m = head->manifest();
  FetchReport report;
  report.bundle_size = head->size() + m.total_payload_size();
  report.chunks = m.total_chunks();
  UPLIFT_TRY(out.Write(head->bytes()));
  CountingSink counted(out, head->size(), report.bundle_size, options.progress);
  if (options.progress) options.progress(head->size(), report.bundle_size);

  format::ChunkRefetch refetch;
  refetch.source = &src;
  refetch.max_attempts = options.max_chunk_attempts;
  refetch.on_refetch = [&](std::uint64_t, std::uint64_t bytes) {
    report.refetched_chunks += 1;
    report.refetched_bytes += bytes;
  };
  // Payloads are contiguous: one stream carries them all, each StreamPayload takes its chunks.
  UPLIFT_ASSIGN(auto stream, src.OpenRange(head->size(), kToEnd));
  for (std::size_t i = 0; i < m.payloads.size(); ++i) {
    UPLIFT_TRY(head->reader().StreamPayload(i, 0, m.payloads[i].size, *stream, counted, refetch));
  }
  // Nothing may follow the last payload.
  std::uint8_t extra = 0;
  UPLIFT_ASSIGN(const std::size_t n, stream->Read(MutableByteView(&extra, 1)));
  if (n != 0) return Error(format::Errc::kTrailingData, "bundle has bytes after its last payload");
  return report;
}

}  // namespace uplift::transport
