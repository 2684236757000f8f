// Native delta applier: a push-style state machine over the patch bytes (header, then per
// segment: segment header, control stream, diff stream, extra stream). One segment of output is
// assembled in memory (≤ 4 MiB), checked against its CRC-32C and written; nothing else grows with
// the image or the patch.
#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <string>

#include "native_filter.hpp"
#include "native_format.hpp"
#include "uplift/crypto/crc.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/delta/native.hpp"

namespace uplift::delta {
namespace {

using native::Op;
using native::SegmentHeader;

constexpr std::size_t kPiece = 64 * 1024;

std::string Str(std::uint64_t v) { return std::to_string(v); }

enum class Stage { kHeader, kSegmentHeader, kSkip, kCtrl, kDiff, kExtra, kDone, kFailed };

}  // namespace

bool IsNativePatch(ByteView first_bytes) {
  return first_bytes.size() >= native::kMagic.size() &&
         std::equal(native::kMagic.begin(), native::kMagic.end(), first_bytes.begin());
}

Result<NativeHeader> ParseNativeHeader(ByteView bytes) { return native::DecodeHeader(bytes); }

struct NativeApplier::Impl {
  Impl(RandomAccessSource& o, ByteSink& s, NativeApplyOptions opt)
      : old(o), out(s), options(opt), old_view(o) {}

  RandomAccessSource& old;
  ByteSink& out;
  NativeApplyOptions options;
  OldImageCache old_view;

  Stage stage = Stage::kHeader;
  Error error{base::Errc::kInvalidArgument, ""};
  Bytes fixed;  // accumulates the file header or a segment header
  std::optional<NativeHeader> header;
  SegmentHeader seg;
  std::uint32_t next_segment = 0;
  std::uint64_t patch_consumed = 0;  // bytes fed to Write
  std::uint64_t patch_skipped = 0;   // bytes between the header and resume_patch_offset, not fed
  NativeProgress progress;
  // A segment ended in the current Step: progress.patch_offset is set once the Step's bytes are
  // counted (a Step never consumes past the end of a segment).
  bool restart_point_reached = false;

  // Current compressed stream.
  std::unique_ptr<native::StreamDecoder> decoder;
  std::uint64_t stream_left = 0;    // compressed bytes still to come
  std::uint64_t stream_raw = 0;     // decoded bytes produced so far
  std::uint64_t stream_expect = 0;  // decoded bytes the stream must produce
  bool frame_done = true;
  std::uint64_t skip_left = 0;

  Bytes ctrl;
  std::uint64_t extra_total = 0;  // Σ copy of the current segment's ops
  Bytes segment;                  // the new bytes of the current segment
  std::array<std::uint8_t, kPiece> piece{};
  std::array<std::uint8_t, kPiece> old_piece{};
  crypto::Sha256 new_hash;

  // Cursor over the ops while the diff or extra stream is decoded.
  std::size_t ctrl_pos = 0;
  Op op;
  std::uint64_t op_left = 0;  // bytes of the current op's add (diff) or copy (extra) left
  std::uint64_t out_pos = 0;  // in segment
  std::uint64_t old_pos = 0;

  // In the coordinates of the whole patch, even when the caller skipped to resume_patch_offset.
  std::uint64_t PatchOffset() const { return patch_consumed + patch_skipped; }

  Status Fail(Error e) {
    stage = Stage::kFailed;
    error = e;
    return e;
  }

  Status Write(ByteView data) {
    if (stage == Stage::kFailed) return error;
    while (!data.empty()) {
      Result<std::size_t> used = Step(data);
      if (!used.ok()) return Fail(used.error());
      patch_consumed += *used;
      data = data.subspan(*used);
      if (restart_point_reached) {
        progress.patch_offset = PatchOffset();
        restart_point_reached = false;
      }
    }
    return Ok();
  }

  Result<std::size_t> Step(ByteView data) {
    switch (stage) {
      case Stage::kHeader:
      case Stage::kSegmentHeader: {
        const std::size_t want =
            (stage == Stage::kHeader ? kNativeHeaderSize : native::kSegmentHeaderSize);
        const std::size_t n = std::min(want - fixed.size(), data.size());
        fixed.insert(fixed.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
        if (fixed.size() == want) {
          if (stage == Stage::kHeader) {
            UPLIFT_TRY(OnHeader());
          } else {
            UPLIFT_TRY(OnSegmentHeader());
          }
          fixed.clear();
        }
        return n;
      }
      case Stage::kSkip: {
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(skip_left, data.size()));
        skip_left -= n;
        if (skip_left == 0) UPLIFT_TRY(EndSegment(/*skipped=*/true));
        return n;
      }
      case Stage::kCtrl:
      case Stage::kDiff:
      case Stage::kExtra:
        return Decode(data);
      case Stage::kDone:
        return Error(Errc::kCorrupt, "delta: bytes after the last segment (at patch offset " +
                                         Str(PatchOffset()) + ")");
      case Stage::kFailed:
        return error;
    }
    return Error(base::Errc::kInvalidArgument, "delta: bad applier state");
  }

  Status OnHeader() {
    UPLIFT_ASSIGN(NativeHeader h, native::DecodeHeader(fixed));
    if (h.new_size > options.max_new_size) {
      return Error(Errc::kTooLarge, "delta: new image of " + Str(h.new_size) +
                                        " bytes exceeds the limit of " + Str(options.max_new_size));
    }
    if (old.size() < h.old_size) {
      return Error(Errc::kSourceMismatch, "delta: old image has " + Str(old.size()) +
                                              " bytes, the patch needs " + Str(h.old_size));
    }
    if (options.resume_segment > h.segment_count) {
      return Error(base::Errc::kInvalidArgument, "delta: resume segment beyond the last segment");
    }
    if (options.resume_patch_offset != 0) UPLIFT_TRY(CheckResumeOffset(h));
    if (options.verify_source) UPLIFT_TRY(VerifySource(h));
    old_view.Configure(h.filter, h.old_filter_range, h.old_size);
    header = h;
    segment.reserve(h.segment_size);
    progress = {
        options.resume_segment,
        std::min<std::uint64_t>(std::uint64_t{options.resume_segment} * h.segment_size, h.new_size),
        options.resume_patch_offset};
    if (options.resume_patch_offset != 0) {
      // The caller jumps to the restart point: what follows the header is segment
      // resume_segment, and the OnSegmentHeader index check holds it to that.
      patch_skipped = options.resume_patch_offset - kNativeHeaderSize;
      next_segment = options.resume_segment;
    }
    stage = next_segment == h.segment_count ? Stage::kDone : Stage::kSegmentHeader;
    return Ok();
  }

  // Every segment takes at least its header and at most its header plus three streams at the
  // bounds OnSegmentHeader enforces, so an offset outside [lo, hi] cannot be segment k's start
  // in any patch with this header. (k ≤ segment_count < 2^32 and a segment's bound < 2^24: no
  // overflow.)
  Status CheckResumeOffset(const NativeHeader& h) const {
    const std::uint64_t k = options.resume_segment;
    if (k == 0) {
      return Error(base::Errc::kInvalidArgument,
                   "delta: resume_patch_offset set without resume_segment");
    }
    const std::uint64_t max_segment = native::kSegmentHeaderSize +
                                      native::CompressedBound(native::kMaxCtrlSize) +
                                      2 * native::CompressedBound(h.segment_size);
    const std::uint64_t lo = kNativeHeaderSize + k * native::kSegmentHeaderSize;
    const std::uint64_t hi = kNativeHeaderSize + k * max_segment;
    if (options.resume_patch_offset < lo || options.resume_patch_offset > hi) {
      return Error(Errc::kCorrupt, "delta: segment " + Str(k) + " cannot start at patch offset " +
                                       Str(options.resume_patch_offset) +
                                       " (this patch's header allows [" + Str(lo) + ", " + Str(hi) +
                                       "])");
    }
    return Ok();
  }

  // The first segment header after a jump to resume_patch_offset is where a wrong offset shows.
  Error AtResume(Error e) const {
    if (options.resume_patch_offset == 0 || next_segment != options.resume_segment) return e;
    return std::move(e).Context("resuming segment " + Str(options.resume_segment) +
                                " at patch offset " + Str(options.resume_patch_offset) +
                                " (a wrong restart point?)");
  }

  Status VerifySource(const NativeHeader& h) {
    crypto::Sha256 sha;
    Bytes buf(1 << 20);
    for (std::uint64_t off = 0; off < h.old_size;) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), h.old_size - off));
      UPLIFT_ASSIGN(const std::size_t got, old.ReadAt(off, MutableByteView(buf.data(), n)));
      if (got != n)
        return Error(Errc::kSourceMismatch, "delta: old image ended early while hashing");
      sha.Update(ByteView(buf.data(), n));
      off += n;
    }
    if (sha.Finish() != h.old_sha256) {
      return Error(Errc::kSourceMismatch,
                   "delta: old image is not the patch's source (SHA-256 differs)");
    }
    return Ok();
  }

  Status OnSegmentHeader() {
    auto decoded = native::DecodeSegmentHeader(fixed);
    if (!decoded.ok()) return AtResume(std::move(decoded).error());
    seg = *decoded;
    const NativeHeader& h = *header;
    const std::uint64_t start = std::uint64_t{next_segment} * h.segment_size;
    const std::uint64_t expect_len = std::min<std::uint64_t>(h.segment_size, h.new_size - start);
    if (seg.index != next_segment) {
      return AtResume(Error(Errc::kCorrupt, "delta: segment " + Str(seg.index) + " where segment " +
                                                Str(next_segment) + " was expected"));
    }
    if (seg.new_length != expect_len) {
      return Error(Errc::kCorrupt, "delta: segment " + Str(seg.index) + " declares " +
                                       Str(seg.new_length) + " bytes, expected " + Str(expect_len));
    }
    if (seg.ctrl_raw_size > native::kMaxCtrlSize || seg.op_count > seg.ctrl_raw_size / 3 + 1) {
      return Error(Errc::kTooLarge,
                   "delta: segment " + Str(seg.index) + " control stream too large");
    }
    const std::uint64_t bound = native::CompressedBound(h.segment_size);
    if (seg.ctrl_size > native::CompressedBound(native::kMaxCtrlSize) || seg.diff_size > bound ||
        seg.extra_size > bound) {
      return Error(Errc::kCorrupt,
                   "delta: segment " + Str(seg.index) + " stream sizes exceed their bounds");
    }
    if (seg.index < options.resume_segment) {
      skip_left = seg.body_size();
      stage = Stage::kSkip;
      if (skip_left == 0) return EndSegment(true);
      return Ok();
    }
    ctrl.clear();
    return BeginStream(Stage::kCtrl, seg.ctrl_size, seg.ctrl_raw_size);
  }

  Status BeginStream(Stage s, std::uint64_t compressed, std::uint64_t raw) {
    stage = s;
    stream_left = compressed;
    stream_raw = 0;
    stream_expect = raw;
    frame_done = compressed == 0;
    if (compressed == 0) {
      if (raw != 0) {
        return Error(Errc::kTruncated, "delta: segment " + Str(seg.index) +
                                           " has an empty stream that should hold " + Str(raw) +
                                           " bytes");
      }
      return EndStream();
    }
    if (decoder == nullptr) {
      UPLIFT_ASSIGN(
          decoder, native::MakeStreamDecoder(header->compression,
                                             std::max(header->segment_size, native::kMaxCtrlSize)));
    }
    return decoder->Reset();
  }

  Result<std::size_t> Decode(ByteView data) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(stream_left, data.size()));
    ByteView in = data.first(n);
    while (true) {
      if (frame_done && !in.empty()) {
        return Error(Errc::kDecompress,
                     "delta: segment " + Str(seg.index) + ": bytes after a stream's end");
      }
      bool finished = false;
      UPLIFT_ASSIGN(const std::size_t produced, decoder->Decode(&in, piece, &finished));
      if (produced > 0) {
        if (stream_raw + produced > stream_expect) {
          return Error(Errc::kDecompress, "delta: segment " + Str(seg.index) +
                                              " stream expands past its declared " +
                                              Str(stream_expect) + " bytes");
        }
        stream_raw += produced;
        UPLIFT_TRY(Consume(ByteView(piece.data(), produced)));
      }
      if (finished) frame_done = true;
      if (in.empty() && produced < piece.size()) break;
      if (frame_done && in.empty()) break;
    }
    stream_left -= n;
    if (stream_left == 0) {
      if (!frame_done || stream_raw != stream_expect) {
        return Error(Errc::kTruncated, "delta: segment " + Str(seg.index) + " stream ends after " +
                                           Str(stream_raw) + " of " + Str(stream_expect) +
                                           " bytes");
      }
      UPLIFT_TRY(EndStream());
    }
    return n;
  }

  Status Consume(ByteView decoded) {
    switch (stage) {
      case Stage::kCtrl:
        ctrl.insert(ctrl.end(), decoded.begin(), decoded.end());
        return Ok();
      case Stage::kDiff:
        return ConsumeDiff(decoded);
      case Stage::kExtra:
        return ConsumeExtra(decoded);
      default:
        return Error(base::Errc::kInvalidArgument, "delta: bad applier state");
    }
  }

  // Checks every op of the segment before any byte of it is produced: lengths add up to the
  // segment, every old range lies inside the old image.
  Status ValidateOps(std::uint64_t* diff_total, std::uint64_t* extra_total) {
    const auto old_size = static_cast<std::int64_t>(header->old_size);
    std::size_t pos = 0;
    std::uint64_t produced = 0;
    std::int64_t o = static_cast<std::int64_t>(seg.old_start);
    if (seg.old_start > header->old_size)
      return Error(Errc::kOutOfRange, "delta: segment old start outside the old image");
    *diff_total = *extra_total = 0;
    for (std::uint32_t i = 0; i < seg.op_count; ++i) {
      UPLIFT_ASSIGN(const Op x, native::GetOp(ctrl, &pos));
      if (x.add > seg.new_length - produced || x.copy > seg.new_length - produced - x.add) {
        return Error(Errc::kOutOfRange, "delta: segment " + Str(seg.index) + " op " + Str(i) +
                                            " writes past the segment");
      }
      if (x.add > 0 && (o < 0 || o > old_size || static_cast<std::int64_t>(x.add) > old_size - o)) {
        return Error(Errc::kOutOfRange, "delta: segment " + Str(seg.index) + " op " + Str(i) +
                                            " reads outside the old image");
      }
      o += static_cast<std::int64_t>(x.add);
      constexpr std::int64_t kLimit = std::int64_t{1} << 62;
      if (x.seek > kLimit || x.seek < -kLimit || o + x.seek > kLimit || o + x.seek < -kLimit) {
        return Error(Errc::kOutOfRange,
                     "delta: segment " + Str(seg.index) + " op " + Str(i) + " seeks too far");
      }
      o += x.seek;
      produced += x.add + x.copy;
      *diff_total += x.add;
      *extra_total += x.copy;
    }
    if (pos != ctrl.size())
      return Error(Errc::kCorrupt,
                   "delta: segment " + Str(seg.index) + " control stream has trailing bytes");
    if (produced != seg.new_length) {
      return Error(Errc::kCorrupt, "delta: segment " + Str(seg.index) + " ops produce " +
                                       Str(produced) + " of " + Str(seg.new_length) + " bytes");
    }
    return Ok();
  }

  // Moves the cursor to the next op whose add (diff pass) or copy (extra pass) is non-empty.
  Status NextOp(bool diff_pass) {
    while (op_left == 0) {
      if (ctrl_pos >= ctrl.size())
        return Error(Errc::kCorrupt, "delta: stream longer than its ops");
      UPLIFT_ASSIGN(op, native::GetOp(ctrl, &ctrl_pos));
      if (diff_pass) {
        op_left = op.add;
        if (op.add == 0) {
          out_pos += op.copy;
          old_pos += static_cast<std::uint64_t>(op.seek);
        }
      } else {
        out_pos += op.add;
        op_left = op.copy;
      }
    }
    return Ok();
  }

  Status ConsumeDiff(ByteView d) {
    while (!d.empty()) {
      UPLIFT_TRY(NextOp(true));
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>({op_left, d.size(), old_piece.size()}));
      UPLIFT_TRY(old_view.Read(old_pos, MutableByteView(old_piece.data(), n)));
      std::uint8_t* dst = segment.data() + out_pos;
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<std::uint8_t>(d[i] + old_piece[i]);
      d = d.subspan(n);
      out_pos += n;
      old_pos += n;
      op_left -= n;
      if (op_left == 0) {
        out_pos += op.copy;
        old_pos += static_cast<std::uint64_t>(op.seek);
      }
    }
    return Ok();
  }

  Status ConsumeExtra(ByteView d) {
    while (!d.empty()) {
      UPLIFT_TRY(NextOp(false));
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(op_left, d.size()));
      std::memcpy(segment.data() + out_pos, d.data(), n);
      d = d.subspan(n);
      out_pos += n;
      op_left -= n;
    }
    return Ok();
  }

  Status EndStream() {
    switch (stage) {
      case Stage::kCtrl: {
        std::uint64_t diff_total = 0;
        UPLIFT_TRY(ValidateOps(&diff_total, &extra_total));
        segment.assign(seg.new_length, 0);
        ctrl_pos = 0;
        op_left = 0;
        out_pos = 0;
        old_pos = seg.old_start;
        return BeginStream(Stage::kDiff, seg.diff_size, diff_total);
      }
      case Stage::kDiff: {
        ctrl_pos = 0;
        op_left = 0;
        out_pos = 0;
        return BeginStream(Stage::kExtra, seg.extra_size, extra_total);
      }
      case Stage::kExtra:
        return EndSegment(false);
      default:
        return Error(base::Errc::kInvalidArgument, "delta: bad applier state");
    }
  }

  Status EndSegment(bool skipped) {
    const NativeHeader& h = *header;
    if (!skipped) {
      const std::uint64_t start = std::uint64_t{seg.index} * h.segment_size;
      DecodeNewFilter(h, start, segment);
      if (crypto::Crc32c(segment) != seg.new_crc32c) {
        return Error(Errc::kCorrupt,
                     "delta: segment " + Str(seg.index) + " output CRC-32C mismatch");
      }
      if (options.resume_segment == 0) new_hash.Update(segment);
      UPLIFT_TRY(out.Write(segment));
      progress = {seg.index + 1, start + seg.new_length, progress.patch_offset};
      restart_point_reached = true;
    } else if (seg.index + 1 == options.resume_segment) {
      restart_point_reached = true;  // now the restart point's patch offset is known
    }
    ++next_segment;
    stage = next_segment == h.segment_count ? Stage::kDone : Stage::kSegmentHeader;
    return Ok();
  }
};

NativeApplier::NativeApplier(RandomAccessSource& old_image, ByteSink& out,
                             NativeApplyOptions options)
    : impl_(std::make_unique<Impl>(old_image, out, options)) {}
NativeApplier::~NativeApplier() = default;

Status NativeApplier::Write(ByteView patch_bytes) { return impl_->Write(patch_bytes); }

Status NativeApplier::Finish() {
  Impl& s = *impl_;
  if (s.stage == Stage::kFailed) return s.error;
  if (s.stage != Stage::kDone) {
    return s.Fail(
        Error(Errc::kTruncated,
              "delta: patch ends after " + Str(s.PatchOffset()) + " bytes, inside " +
                  (s.header ? "segment " + Str(s.next_segment) : std::string("the header"))));
  }
  if (s.options.resume_segment == 0 && s.new_hash.Finish() != s.header->new_sha256) {
    return s.Fail(Error(Errc::kCorrupt, "delta: result does not match the patch's new SHA-256"));
  }
  return Ok();
}

const std::optional<NativeHeader>& NativeApplier::header() const { return impl_->header; }
NativeProgress NativeApplier::progress() const {
  NativeProgress p = impl_->progress;
  return p;
}

Status ApplyNative(RandomAccessSource& old_image, ByteSource& patch, ByteSink& out,
                   const NativeApplyOptions& options) {
  NativeApplier applier(old_image, out, options);
  Bytes buf(256 * 1024);
  while (true) {
    UPLIFT_ASSIGN(const std::size_t n, patch.Read(buf));
    if (n == 0) break;
    UPLIFT_TRY(applier.Write(ByteView(buf.data(), n)));
  }
  return applier.Finish();
}

}  // namespace uplift::delta
