#include "uplift/format/bundle_head.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "uplift/base/errors.hpp"

namespace uplift::format {
namespace {

Status ReadAllOf(RangeSource& src, std::uint64_t begin, MutableByteView out, const char* what) {
  UPLIFT_ASSIGN(auto stream, src.OpenRange(begin, begin + out.size()));
  if (Status st = ReadExact(*stream, out); !st.ok()) {
    if (!st.error().Is(base::Errc::kUnexpectedEof)) return st;
    return Error(Errc::kTruncated, std::string("bundle ends inside its ") + what);
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<BundleHead>> BundleHead::Read(RangeSource& src, const VerifyOptions& options,
                                                     int attempts) {
  std::optional<Error> last;
  for (int attempt = 0; attempt < std::max(attempts, 1); ++attempt) {
    auto read = [&](std::uint64_t begin, MutableByteView out, const char* what) -> Status {
      if (attempt == 0) return ReadAllOf(src, begin, out, what);
      return src.Reread(begin, out);
    };
    std::array<std::uint8_t, kHeaderSize> first{};
    UPLIFT_TRY(read(0, first, "48-byte header"));
    auto header = BundleHeader::Decode(first);
    if (!header.ok()) {
      last = std::move(header).error();
      continue;
    }
    // Decode bounds each part (manifest 1 MiB, signatures 64 KiB, chunk index 8 MiB).
    const std::uint64_t size =
        kHeaderSize + header->manifest_size + header->signatures_size + header->chunk_index_size;
    std::unique_ptr<BundleHead> head(new BundleHead());
    head->bytes_.resize(static_cast<std::size_t>(size));
    std::copy(first.begin(), first.end(), head->bytes_.begin());
    UPLIFT_TRY(read(kHeaderSize, MutableByteView(head->bytes_).subspan(kHeaderSize),
                    "manifest, signatures or chunk index"));
    head->source_ = std::make_unique<MemorySource>(head->bytes_);
    auto reader = BundleReader::Open(*head->source_, options);
    if (!reader.ok()) {
      // Policy refusals of an authentic manifest cannot change on a second read.
      const Error& e = reader.error();
      if (e.Is(Errc::kExpired) || e.Is(Errc::kIncompatibleHardware) || e.Is(Errc::kDowngrade) ||
          e.Is(Errc::kRevokedKey)) {
        return std::move(reader).error();
      }
      last = std::move(reader).error();
      continue;
    }
    head->reader_.emplace(std::move(reader).value());
    return head;
  }
  return *std::move(last);
}

}  // namespace uplift::format
