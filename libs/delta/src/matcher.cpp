// The scan is bsdiff 4.3's, with two guards against its quadratic corners on repetitive data
// (filesystem images full of zeros): string compares in the suffix-array search are capped, and a
// match that is merely as long as the capped compare and already follows the current alignment
// is skipped over instead of being searched again one byte later.
#include "matcher.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "uplift/delta/errors.hpp"

namespace uplift::delta::matcher {
namespace {

// Longest match the search reports; longer runs are found again by the next search, which then
// continues the same alignment. Bounds one search to ~28 compares of this many bytes.
constexpr Index kMaxMatch = 512;

Index MatchLen(const std::uint8_t* a, Index a_len, const std::uint8_t* b, Index b_len) {
  const Index n = std::min(a_len, b_len);
  Index i = 0;
  // Word-at-a-time until the first difference.
  while (i + 8 <= n) {
    std::uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    if (x != y) return i + (__builtin_ctzll(x ^ y) >> 3);
    i += 8;
  }
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

Result<MatchIndex> MatchIndex::Build(ByteView old_image) {
  if (old_image.size() >= static_cast<std::size_t>(std::numeric_limits<saidx_t>::max())) {
    return Error(Errc::kTooLarge, "delta: old image must be below 2 GiB");
  }
  MatchIndex m;
  m.old_ = old_image;
  m.sa_.resize(old_image.size() + 1);
  m.sa_[0] = static_cast<saidx_t>(old_image.size());
  if (!old_image.empty() &&
      divsufsort(old_image.data(), m.sa_.data() + 1, static_cast<saidx_t>(old_image.size())) != 0) {
    return Error(Errc::kTooLarge, "delta: divsufsort failed (out of memory?)");
  }
  // 3-byte buckets (a 64 MiB table) pay off for big images, 2-byte ones (256 KiB) otherwise.
  m.prefix_bytes_ = old_image.size() >= (std::size_t{64} << 20) ? 3 : 2;
  const std::size_t keys = std::size_t{1} << (8 * m.prefix_bytes_);
  // bucket_[k] = 1 + number of suffixes whose key is below k: count keys in one sequential pass
  // over the image (not by walking the suffix array, which is a random access per entry).
  m.bucket_.assign(keys + 1, 0);
  const auto n = static_cast<Index>(old_image.size());
  for (Index i = 0; i < n; ++i) ++m.bucket_[m.Key(old_image.data() + i, n - i) + 1];
  m.bucket_[0] = 1;
  for (std::size_t k = 1; k <= keys; ++k) m.bucket_[k] += m.bucket_[k - 1];
  return m;
}

// The first prefix_bytes_ bytes as a big-endian number, missing bytes as 0: a short suffix sorts
// before every longer one with the same bytes, so keys never decrease along the suffix array.
std::uint32_t MatchIndex::Key(const std::uint8_t* p, Index len) const {
  std::uint32_t k = 0;
  for (int i = 0; i < prefix_bytes_; ++i) k = (k << 8) | (i < len ? p[i] : 0u);
  return k;
}

Index MatchIndex::Search(const std::uint8_t* target, Index target_len, Index* pos) const {
  target_len = std::min(target_len, kMaxMatch);
  const auto old_len = static_cast<Index>(old_.size());
  Index st = 0;
  Index en = old_len;
  if (target_len >= prefix_bytes_ && old_len > 0) {
    // Every suffix in [bucket_[k], bucket_[k+1]) starts with the target's prefix; the entries
    // just outside bound the run, so the binary search below gives what a full one would.
    const std::uint32_t k = Key(target, target_len);
    st = std::max<Index>(0, static_cast<Index>(bucket_[k]) - 1);
    en = std::min<Index>(old_len, static_cast<Index>(bucket_[k + 1]));
    if (en <= st) en = std::min<Index>(old_len, st + 1);
  }
  while (en - st >= 2) {
    const Index x = st + (en - st) / 2;
    const Index at = sa_[static_cast<std::size_t>(x)];
    const auto n = static_cast<std::size_t>(std::min(old_len - at, target_len));
    if (std::memcmp(old_.data() + at, target, n) < 0) {
      st = x;
    } else {
      en = x;
    }
  }
  const Index a = sa_[static_cast<std::size_t>(st)];
  const Index b = sa_[static_cast<std::size_t>(en)];
  const Index x = MatchLen(old_.data() + a, old_len - a, target, target_len);
  const Index y = MatchLen(old_.data() + b, old_len - b, target, target_len);
  *pos = x > y ? a : b;
  return std::max(x, y);
}

void ScanRange(const MatchIndex& index, ByteView new_image, Index begin, Index end, ScanOutput& s) {
  const ByteView old_v = index.old();
  const std::uint8_t* old = old_v.data();
  const std::uint8_t* nw = new_image.data();
  const auto oldsize = static_cast<Index>(old_v.size());
  auto in_old = [oldsize](Index i) { return i >= 0 && i < oldsize; };
  Index scan = begin, len = 0, pos = 0;
  Index lastscan = begin;
  Index lastpos = std::min(begin, oldsize);
  Index lastoffset = lastpos - begin;
  s.old_start = lastpos;
  while (scan < end) {
    Index oldscore = 0;
    Index scsc = scan += len;
    for (; scan < end; ++scan) {
      len = index.Search(nw + scan, end - scan, &pos);
      for (; scsc < scan + len; ++scsc) {
        if (in_old(scsc + lastoffset) && old[scsc + lastoffset] == nw[scsc]) ++oldscore;
      }
      if ((len == oldscore && len != 0) || len > oldscore + 8) break;
      // A capped-length match that the current alignment nearly equals: skip it (guard 2).
      if (len == kMaxMatch && oldscore + 8 >= len) {
        len = oldscore;
        break;
      }
      if (in_old(scan + lastoffset) && old[scan + lastoffset] == nw[scan]) --oldscore;
    }
    if (len == oldscore && scan != end) continue;

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
    if (scan < end) {
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
    s.ops.push_back({lenf, copy, (pos - lenb) - (lastpos + lenf)});
    lastscan = scan - lenb;
    lastpos = pos - lenb;
    lastoffset = pos - scan;
  }
}

}  // namespace uplift::delta::matcher
