// BSDIFF40 generation: Colin Percival's bsdiff 4.3 scan (matcher.hpp) with libdivsufsort building
// the suffix array in place of qsufsort, written as three bzip2 streams as bsdiff 4.3 does.
#include <bzlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "uplift/delta/bsdiff40.hpp"
#include "uplift/delta/diff.hpp"
#include "matcher.hpp"

namespace uplift::delta {
namespace {

using matcher::Index;

// bzip2 at level 9, work factor default: what bsdiff 4.3 uses (BZ2_bzWriteOpen(.., 9, 0, 0)).
Result<Bytes> Bzip2(ByteView data) {
  bz_stream s{};
  if (BZ2_bzCompressInit(&s, 9, 0, 0) != BZ_OK) {
    return Error(Errc::kDecompress, "bzip2: BZ2_bzCompressInit failed");
  }
  Bytes out(data.size() + data.size() / 100 + 600);  // bzip2's documented worst case
  s.next_in = const_cast<char*>(reinterpret_cast<const char*>(data.data()));
  s.next_out = reinterpret_cast<char*>(out.data());
  std::size_t fed = 0;
  int rc = BZ_RUN_OK;
  // avail_in/avail_out are 32-bit: feed and drain in pieces below 1 GiB.
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  do {
    const std::size_t piece = std::min(kPiece, data.size() - fed);
    if (s.avail_in == 0 && piece > 0) {
      s.next_in = const_cast<char*>(reinterpret_cast<const char*>(data.data() + fed));
      s.avail_in = static_cast<unsigned>(piece);
      fed += piece;
    }
    const std::size_t room =
        out.size() -
        static_cast<std::size_t>(reinterpret_cast<std::uint8_t*>(s.next_out) - out.data());
    if (room == 0) break;  // cannot happen within bzip2's bound; never spin
    s.avail_out = static_cast<unsigned>(std::min(kPiece, room));
    rc = BZ2_bzCompress(&s, fed == data.size() && s.avail_in == 0 ? BZ_FINISH : BZ_RUN);
  } while (rc == BZ_RUN_OK || rc == BZ_FINISH_OK);
  const auto total =
      static_cast<std::size_t>(reinterpret_cast<std::uint8_t*>(s.next_out) - out.data());
  BZ2_bzCompressEnd(&s);
  if (rc != BZ_STREAM_END) {
    return Error(Errc::kDecompress, "bzip2 compression failed (" + std::to_string(rc) + ")");
  }
  out.resize(total);
  return out;
}

void PutTriple(Bytes& ctrl, Index add, Index copy, Index seek) {
  std::array<std::uint8_t, 24> t{};
  StoreSignMagnitude64(t.data(), add);
  StoreSignMagnitude64(t.data() + 8, copy);
  StoreSignMagnitude64(t.data() + 16, seek);
  ctrl.insert(ctrl.end(), t.begin(), t.end());
}

}  // namespace

Status CreateBsdiff40(ByteView old_image, ByteView new_image, ByteSink& out) {
  UPLIFT_ASSIGN(const matcher::MatchIndex index, matcher::MatchIndex::Build(old_image));
  matcher::ScanOutput scan;
  matcher::ScanRange(index, new_image, 0, static_cast<Index>(new_image.size()), scan);
  Bytes ctrl_raw;
  ctrl_raw.reserve(scan.ops.size() * 24);
  for (const matcher::ScanOp& op : scan.ops) PutTriple(ctrl_raw, op.add, op.copy, op.seek);
  UPLIFT_ASSIGN(const Bytes ctrl, Bzip2(ctrl_raw));
  UPLIFT_ASSIGN(const Bytes diff, Bzip2(scan.diff));
  UPLIFT_ASSIGN(const Bytes extra, Bzip2(scan.extra));
  std::array<std::uint8_t, kBsdiff40HeaderSize> h{};
  std::memcpy(h.data(), kBsdiff40Magic.data(), kBsdiff40Magic.size());
  StoreSignMagnitude64(h.data() + 8, static_cast<std::int64_t>(ctrl.size()));
  StoreSignMagnitude64(h.data() + 16, static_cast<std::int64_t>(diff.size()));
  StoreSignMagnitude64(h.data() + 24, static_cast<std::int64_t>(new_image.size()));
  UPLIFT_TRY(out.Write(h));
  UPLIFT_TRY(out.Write(ctrl));
  UPLIFT_TRY(out.Write(diff));
  return out.Write(extra);
}

}  // namespace uplift::delta
