#include "bz_region_reader.hpp"

#include <algorithm>

#include "uplift/delta/errors.hpp"

namespace uplift::delta {

BzRegionReader::BzRegionReader(RandomAccessSource& src, std::uint64_t offset, std::uint64_t length,
                               std::string name)
    : src_(src), offset_(offset), length_(length), name_(std::move(name)) {}

BzRegionReader::~BzRegionReader() {
  if (initialized_) BZ2_bzDecompressEnd(&strm_);
}

Status BzRegionReader::Init() {
  // small=0: the fast decoder; its ~3.7 MB per stream is fixed by bzip2, not by the patch.
  const int rc = BZ2_bzDecompressInit(&strm_, 0, 0);
  if (rc != BZ_OK) {
    return Error(Errc::kDecompress,
                 name_ + " stream: BZ2_bzDecompressInit failed (" + std::to_string(rc) + ")");
  }
  initialized_ = true;
  return Ok();
}

Status BzRegionReader::Refill() {
  const auto want =
      static_cast<std::size_t>(std::min<std::uint64_t>(in_.size(), length_ - consumed_));
  if (want == 0) return Ok();
  auto* p = reinterpret_cast<std::uint8_t*>(in_.data());
  UPLIFT_ASSIGN(const std::size_t n, src_.ReadAt(offset_ + consumed_, MutableByteView(p, want)));
  // The header check guarantees the region lies inside the patch, so a short read means the
  // source shrank while we read it.
  if (n != want) return Error(Errc::kTruncated, name_ + " stream: patch shrank while reading");
  consumed_ += n;
  strm_.next_in = in_.data();
  strm_.avail_in = static_cast<unsigned>(n);
  return Ok();
}

Status BzRegionReader::Step() {
  if (strm_.avail_in == 0) {
    UPLIFT_TRY(Refill());
    if (strm_.avail_in == 0) {
      return Error(Errc::kTruncated, name_ + " stream: patch ends inside the bzip2 stream");
    }
  }
  const int rc = BZ2_bzDecompress(&strm_);
  if (rc == BZ_STREAM_END) {
    ended_ = true;
    return Ok();
  }
  if (rc != BZ_OK) {
    return Error(Errc::kDecompress,
                 name_ + " stream: corrupt bzip2 data (error " + std::to_string(rc) + ")");
  }
  return Ok();
}

Status BzRegionReader::ReadExact(MutableByteView out) {
  strm_.next_out = reinterpret_cast<char*>(out.data());
  strm_.avail_out = static_cast<unsigned>(out.size());
  while (strm_.avail_out > 0) {
    if (ended_) {
      return Error(Errc::kCorrupt, name_ + " stream: ends " + std::to_string(strm_.avail_out) +
                                       " bytes before the controls say");
    }
    UPLIFT_TRY(Step());
  }
  return Ok();
}

Status BzRegionReader::Finish() {
  char probe = 0;
  while (!ended_) {
    strm_.next_out = &probe;
    strm_.avail_out = 1;
    UPLIFT_TRY(Step());
    if (strm_.avail_out == 0) {
      return Error(Errc::kDecompress,
                   name_ + " stream: holds more data than the controls use (bomb?)");
    }
  }
  if (strm_.avail_in > 0 || consumed_ < length_) {
    return Error(Errc::kCorrupt, name_ + " stream: bytes follow the end of the bzip2 stream");
  }
  return Ok();
}

}  // namespace uplift::delta
