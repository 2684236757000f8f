// BSDIFF40 generation: Colin Percival's bsdiff 4.3 algorithm, with libdivsufsort building the
// suffix array in place of qsufsort. Kept close to the original so patch sizes match Debian's
// bsdiff; the changes are bounds checks where the original reads before the old buffer.
#include <bzlib.h>
#include <divsufsort.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "uplift/delta/bsdiff40.hpp"
#include "uplift/delta/diff.hpp"

namespace uplift::delta {
namespace {

using Index = std::int64_t;

Index MatchLen(const std::uint8_t* a, Index a_len, const std::uint8_t* b, Index b_len) {
  Index i = 0;
  while (i < a_len && i < b_len && a[i] == b[i]) ++i;
  return i;
}

// Binary search of the suffix array for the longest match of target in old; bsdiff's search()
// made iterative. sa[0] is the empty suffix, so sa has old.size() + 1 entries.
Index Search(const std::vector<saidx_t>& sa, ByteView old, const std::uint8_t* target,
             Index target_len, Index* pos) {
  const auto old_len = static_cast<Index>(old.size());
  Index st = 0;
  Index en = old_len;
  while (en - st >= 2) {
    const Index x = st + (en - st) / 2;
    const Index at = sa[static_cast<std::size_t>(x)];
    const auto n = static_cast<std::size_t>(std::min(old_len - at, target_len));
    if (std::memcmp(old.data() + at, target, n) < 0) {
      st = x;
    } else {
      en = x;
    }
  }
  const Index a = sa[static_cast<std::size_t>(st)];
  const Index b = sa[static_cast<std::size_t>(en)];
  const Index x = MatchLen(old.data() + a, old_len - a, target, target_len);
  const Index y = MatchLen(old.data() + b, old_len - b, target, target_len);
  *pos = x > y ? a : b;
  return std::max(x, y);
}

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

struct Streams {
  Bytes ctrl;
  Bytes diff;
  Bytes extra;
};

void PutTriple(Bytes& ctrl, Index add, Index copy, Index seek) {
  std::array<std::uint8_t, 24> t{};
  StoreSignMagnitude64(t.data(), add);
  StoreSignMagnitude64(t.data() + 8, copy);
  StoreSignMagnitude64(t.data() + 16, seek);
  ctrl.insert(ctrl.end(), t.begin(), t.end());
}

// The scan loop of bsdiff 4.3: extend a match while it beats the "keep the previous offset"
// score by more than 8 bytes, then split the gap between matches into a forward extension of
// the old match (diff), verbatim bytes (extra) and a backward extension of the new match.
Streams Scan(ByteView old_v, ByteView new_v, const std::vector<saidx_t>& sa) {
  const std::uint8_t* old = old_v.data();
  const std::uint8_t* nw = new_v.data();
  const auto oldsize = static_cast<Index>(old_v.size());
  const auto newsize = static_cast<Index>(new_v.size());
  auto in_old = [oldsize](Index i) { return i >= 0 && i < oldsize; };
  Streams s;
  Index scan = 0, len = 0, pos = 0;
  Index lastscan = 0, lastpos = 0, lastoffset = 0;
  while (scan < newsize) {
    Index oldscore = 0;
    Index scsc = scan += len;
    for (; scan < newsize; ++scan) {
      len = Search(sa, old_v, nw + scan, newsize - scan, &pos);
      for (; scsc < scan + len; ++scsc) {
        if (in_old(scsc + lastoffset) && old[scsc + lastoffset] == nw[scsc]) ++oldscore;
      }
      if ((len == oldscore && len != 0) || len > oldscore + 8) break;
      if (in_old(scan + lastoffset) && old[scan + lastoffset] == nw[scan]) --oldscore;
    }
    if (len == oldscore && scan != newsize) continue;

    Index sc = 0, best = 0, lenf = 0;
    for (Index i = 0; lastscan + i < scan && lastpos + i < oldsize;) {
      if (old[lastpos + i] == nw[lastscan + i]) ++sc;
      ++i;
      if (sc * 2 - i > best * 2 - lenf) {
        best = sc;
        lenf = i;
      }
    }
    Index lenb = 0;
    if (scan < newsize) {
      sc = 0;
      best = 0;
      for (Index i = 1; scan >= lastscan + i && pos >= i; ++i) {
        if (old[pos - i] == nw[scan - i]) ++sc;
        if (sc * 2 - i > best * 2 - lenb) {
          best = sc;
          lenb = i;
        }
      }
    }
    if (lastscan + lenf > scan - lenb) {
      const Index overlap = (lastscan + lenf) - (scan - lenb);
      sc = 0;
      best = 0;
      Index lens = 0;
      for (Index i = 0; i < overlap; ++i) {
        if (nw[lastscan + lenf - overlap + i] == old[lastpos + lenf - overlap + i]) ++sc;
        if (nw[scan - lenb + i] == old[pos - lenb + i]) --sc;
        if (sc > best) {
          best = sc;
          lens = i + 1;
        }
      }
      lenf += lens - overlap;
      lenb -= lens;
    }
    for (Index i = 0; i < lenf; ++i) {
      s.diff.push_back(static_cast<std::uint8_t>(nw[lastscan + i] - old[lastpos + i]));
    }
    const Index copy = (scan - lenb) - (lastscan + lenf);
    s.extra.insert(s.extra.end(), nw + lastscan + lenf, nw + lastscan + lenf + copy);
    PutTriple(s.ctrl, lenf, copy, (pos - lenb) - (lastpos + lenf));
    lastscan = scan - lenb;
    lastpos = pos - lenb;
    lastoffset = pos - scan;
  }
  return s;
}

}  // namespace

Status CreateBsdiff40(ByteView old_image, ByteView new_image, ByteSink& out) {
  if (old_image.size() >= static_cast<std::size_t>(std::numeric_limits<saidx_t>::max())) {
    return Error(Errc::kTooLarge, "bsdiff: old image must be below 2 GiB");
  }
  // sa[0] is the empty suffix (it sorts first), as in qsufsort's output that search() expects.
  std::vector<saidx_t> sa(old_image.size() + 1);
  sa[0] = static_cast<saidx_t>(old_image.size());
  if (!old_image.empty() &&
      divsufsort(old_image.data(), sa.data() + 1, static_cast<saidx_t>(old_image.size())) != 0) {
    return Error(Errc::kTooLarge, "bsdiff: divsufsort failed (out of memory?)");
  }
  Streams s = Scan(old_image, new_image, sa);
  sa = {};
  UPLIFT_ASSIGN(const Bytes ctrl, Bzip2(s.ctrl));
  UPLIFT_ASSIGN(const Bytes diff, Bzip2(s.diff));
  UPLIFT_ASSIGN(const Bytes extra, Bzip2(s.extra));
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
