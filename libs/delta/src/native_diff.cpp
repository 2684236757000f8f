// Native delta generation: bsdiff's matcher per segment of the new image, control ops as varints,
// and each segment's control/diff/extra streams compressed by zstd. Segments are independent, so
// they are matched and compressed on several threads against one shared suffix array.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "matcher.hpp"
#include "native_format.hpp"
#include "uplift/crypto/crc.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/delta/diff.hpp"
#include "uplift/delta/filter.hpp"

namespace uplift::delta {
namespace {

struct SegmentOut {
  native::SegmentHeader header;
  Bytes ctrl, diff, extra;  // compressed
  std::uint64_t ops = 0;
  std::optional<Error> error;
};

void BuildSegment(const matcher::MatchIndex& index, ByteView filtered_new, ByteView real_new,
                  std::uint32_t seg, std::uint32_t segment_size, std::uint8_t codec, int level,
                  SegmentOut& out) {
  const auto begin = static_cast<matcher::Index>(std::uint64_t{seg} * segment_size);
  const auto end = std::min<matcher::Index>(begin + segment_size,
                                            static_cast<matcher::Index>(filtered_new.size()));
  matcher::ScanOutput scan;
  matcher::ScanRange(index, filtered_new, begin, end, scan);
  Bytes ctrl;
  for (const matcher::ScanOp& op : scan.ops) {
    native::PutOp(
        ctrl, {static_cast<std::uint64_t>(op.add), static_cast<std::uint64_t>(op.copy), op.seek});
  }
  std::uint64_t op_count = scan.ops.size();
  std::int64_t old_start = scan.old_start;
  if (ctrl.size() > native::kMaxCtrlSize) {
    // Never seen in practice (it needs an op per ~8 bytes); stay inside the applier's bound by
    // sending the segment verbatim.
    ctrl.clear();
    native::PutOp(ctrl, {0, static_cast<std::uint64_t>(end - begin), 0});
    scan.diff.clear();
    scan.extra.assign(filtered_new.begin() + begin, filtered_new.begin() + end);
    op_count = 1;
    old_start = 0;
  }
  out.ops = op_count;
  auto c = native::CompressStream(codec, level, ctrl);
  auto d = native::CompressStream(codec, level, scan.diff);
  auto e = native::CompressStream(codec, level, scan.extra);
  for (auto* r : {&c, &d, &e}) {
    if (!r->ok()) {
      out.error = r->error();
      return;
    }
  }
  // A heavily rewritten segment (a major version: new code everywhere) can cost less as its own
  // bytes, compressed, than as ops against the old image. Only tried where the delta is already
  // large, so ordinary updates do not pay a second compression.
  const std::uint64_t delta_size = c->size() + d->size() + e->size();
  const auto length = static_cast<std::uint64_t>(end - begin);
  if (delta_size * 8 > length && op_count > 1) {
    Bytes literal_ctrl;
    native::PutOp(literal_ctrl, {0, length, 0});
    const ByteView raw =
        filtered_new.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(length));
    auto lc = native::CompressStream(codec, level, literal_ctrl);
    auto le = native::CompressStream(codec, level, raw);
    if (lc.ok() && le.ok() && lc->size() + le->size() < delta_size) {
      ctrl = std::move(literal_ctrl);
      c = std::move(lc);
      d = Bytes{};
      e = std::move(le);
      op_count = 1;
      old_start = 0;
      out.ops = 1;
    }
  }
  out.ctrl = std::move(*c);
  out.diff = std::move(*d);
  out.extra = std::move(*e);
  native::SegmentHeader& h = out.header;
  h.index = seg;
  h.new_length = static_cast<std::uint32_t>(end - begin);
  h.new_crc32c = crypto::Crc32c(real_new.subspan(static_cast<std::size_t>(begin), h.new_length));
  h.old_start = static_cast<std::uint64_t>(old_start);
  h.ctrl_size = static_cast<std::uint32_t>(out.ctrl.size());
  h.ctrl_raw_size = static_cast<std::uint32_t>(ctrl.size());
  h.diff_size = static_cast<std::uint32_t>(out.diff.size());
  h.extra_size = static_cast<std::uint32_t>(out.extra.size());
  h.op_count = static_cast<std::uint32_t>(op_count);
}

// A filtered copy of the image, or a view of the image itself when nothing is filtered.
ByteView Filtered(ByteView image, const FilterSpec& spec, Bytes& storage) {
  if (spec.kind == Filter::kNone || spec.begin >= spec.end) return image;
  storage.assign(image.begin(), image.end());
  for (std::uint64_t off = 0; off < storage.size(); off += kFilterBlockSize) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(kFilterBlockSize, storage.size() - off));
    FilterEncode(spec, off, MutableByteView(storage.data() + off, n));
  }
  return storage;
}

}  // namespace

Result<NativeCreateStats> CreateNative(ByteView old_image, ByteView new_image, ByteSink& out,
                                       const NativeCreateOptions& options) {
  const std::uint8_t codec = options.compression == NativeCompression::kZstd
                                 ? native::kCompressionZstd
                                 : native::kCompressionLzma2;
  const int max_level = codec == native::kCompressionZstd ? 22 : 10;
  if (options.level < 1 || options.level > max_level) {
    return Error(base::Errc::kInvalidArgument,
                 "delta: level must be 1.." + std::to_string(max_level));
  }
  if (options.segment_size == 0 || options.segment_size % native::kSegmentAlign != 0 ||
      options.segment_size > kNativeMaxSegmentSize) {
    return Error(base::Errc::kInvalidArgument,
                 "delta: segment size must be a multiple of 64 KiB up to 4 MiB");
  }
  NativeHeader h;
  h.old_size = old_image.size();
  h.new_size = new_image.size();
  h.old_sha256 = crypto::Sha256::Of(old_image);
  h.new_sha256 = crypto::Sha256::Of(new_image);
  h.segment_size = options.segment_size;
  h.compression = codec;
  h.segment_count = static_cast<std::uint32_t>((h.new_size + h.segment_size - 1) / h.segment_size);
  if ((h.new_size + h.segment_size - 1) / h.segment_size > 0xffffffffu) {
    return Error(Errc::kTooLarge, "delta: new image has too many segments");
  }

  FilterSpec old_spec, new_spec;
  if (options.filter.has_value()) {
    if (*options.filter != Filter::kNone) {
      old_spec = DetectFilter(old_image);
      new_spec = DetectFilter(new_image);
      // Forced: filter the detected code range, or the whole image when detection found none.
      if (old_spec.kind != *options.filter) old_spec = {*options.filter, 0, old_image.size()};
      if (new_spec.kind != *options.filter) new_spec = {*options.filter, 0, new_image.size()};
    }
  } else {
    old_spec = DetectFilter(old_image);
    new_spec = DetectFilter(new_image);
    if (old_spec.kind != new_spec.kind || old_spec.kind == Filter::kNone) old_spec = new_spec = {};
  }
  h.filter = new_spec.kind;
  if (h.filter != Filter::kNone) {
    h.old_filter_range = {old_spec.begin, old_spec.end};
    h.new_filter_range = {new_spec.begin, new_spec.end};
  }

  Bytes old_store, new_store;
  const ByteView fold = Filtered(old_image, old_spec, old_store);
  const ByteView fnew = Filtered(new_image, new_spec, new_store);
  UPLIFT_ASSIGN(const matcher::MatchIndex index, matcher::MatchIndex::Build(fold));

  std::vector<SegmentOut> segments(h.segment_count);
  unsigned threads =
      options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min<unsigned>(threads, std::max<std::uint32_t>(1, h.segment_count));
  std::atomic<std::uint32_t> next{0};
  std::mutex progress_mu;
  std::uint64_t done_bytes = 0;
  auto worker = [&] {
    for (std::uint32_t i; (i = next.fetch_add(1)) < h.segment_count;) {
      BuildSegment(index, fnew, new_image, i, h.segment_size, codec, options.level, segments[i]);
      if (options.progress) {
        std::lock_guard lock(progress_mu);
        done_bytes += segments[i].header.new_length;
        options.progress(done_bytes, h.new_size);
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();

  NativeCreateStats stats;
  stats.header = h;
  const auto hb = native::EncodeHeader(h);
  UPLIFT_TRY(out.Write(hb));
  stats.patch_size = hb.size();
  for (const SegmentOut& s : segments) {
    if (s.error) return *s.error;
    const auto sh = native::EncodeSegmentHeader(s.header);
    UPLIFT_TRY(out.Write(sh));
    UPLIFT_TRY(out.Write(s.ctrl));
    UPLIFT_TRY(out.Write(s.diff));
    UPLIFT_TRY(out.Write(s.extra));
    stats.patch_size += sh.size() + s.header.body_size();
    stats.ctrl_bytes += s.ctrl.size();
    stats.diff_bytes += s.diff.size();
    stats.extra_bytes += s.extra.size();
    stats.ops += s.ops;
  }
  return stats;
}

}  // namespace uplift::delta
