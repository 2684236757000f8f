// uplift delta create | apply | info: binary deltas between two images, in Uplift's native
// format (streaming, bounded memory, restartable) or in classic BSDIFF40.
#include <zstd.h>

#include <cstdio>
#include <memory>
#include <mutex>

#include "cli.hpp"
#include "uplift/base/random_access.hpp"
#include "uplift/delta/bsdiff40.hpp"
#include "uplift/delta/diff.hpp"
#include "uplift/delta/native.hpp"

namespace uplift::cli {
namespace {

// The generator holds both images in memory and its suffix array is 32-bit.
constexpr std::uint64_t kMaxDiffInput = (std::uint64_t{1} << 31) - 2;

struct CreateArgs {
  std::string old_path, new_path, patch;
  std::string format = "native";
  std::string compression = "xz";
  int level = 0;  // 0: the codec's best (xz 9, zstd 19)
  unsigned threads = 0;
  std::string filter = "auto";
  std::uint32_t segment_kib = 2048;
  bool force = false;
  bool json = false;
};

struct ApplyArgs {
  std::string old_path, patch, out;
  std::uint64_t max_size = std::uint64_t{4} << 30;
  bool force = false;
  bool json = false;
};

struct InfoArgs {
  std::string patch;
  bool json = false;
};

// A ByteSink that reports bytes written to a Progress.
class ProgressSink final : public ByteSink {
 public:
  ProgressSink(ByteSink& inner, Progress& progress) : inner_(inner), progress_(progress) {}
  Status Write(ByteView data) override {
    UPLIFT_TRY(inner_.Write(data));
    done_ += data.size();
    progress_.Update(done_);
    return Ok();
  }

 private:
  ByteSink& inner_;
  Progress& progress_;
  std::uint64_t done_ = 0;
};

Result<delta::Bsdiff40Header> ReadBsdiffHeader(RandomAccessSource& patch, const std::string& path) {
  auto h = delta::ReadBsdiff40Header(patch);
  if (!h.ok()) return std::move(h).error().Context(path);
  return h;
}

Result<bool> IsNative(RandomAccessSource& patch) {
  std::array<std::uint8_t, 8> magic{};
  UPLIFT_ASSIGN(const std::size_t n, patch.ReadAt(0, magic));
  return delta::IsNativePatch(ByteView(magic.data(), n));
}

// What a full-image bundle payload would cost (zstd at the level given, 8 MiB window like the
// bundle codec): the yardstick a delta has to beat to be worth sending.
Result<std::uint64_t> CompressedFullSize(ByteView image, int level, unsigned threads) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (cctx == nullptr) return Error(base::Errc::kIo, "zstd: out of memory");
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 23);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, static_cast<int>(threads));
  Bytes out(ZSTD_compressBound(image.size()));
  const std::size_t n = ZSTD_compress2(cctx, out.data(), out.size(), image.data(), image.size());
  ZSTD_freeCCtx(cctx);
  if (ZSTD_isError(n)) return Error(base::Errc::kIo, std::string("zstd: ") + ZSTD_getErrorName(n));
  return n;
}

Result<std::optional<delta::Filter>> ParseFilter(const std::string& name) {
  if (name == "auto") return std::optional<delta::Filter>();
  if (name == "none") return std::optional<delta::Filter>(delta::Filter::kNone);
  if (name == "x86") return std::optional<delta::Filter>(delta::Filter::kX86);
  if (name == "arm64") return std::optional<delta::Filter>(delta::Filter::kArm64);
  return Error(base::Errc::kInvalidArgument, "unknown filter " + name);
}

const char* FilterName(delta::Filter f) {
  switch (f) {
    case delta::Filter::kNone:
      return "none";
    case delta::Filter::kX86:
      return "x86";
    case delta::Filter::kArm64:
      return "arm64";
  }
  return "?";
}

Status Create(const CreateArgs& a) {
  UPLIFT_TRY(RefuseOverwrite(a.patch, a.force));
  UPLIFT_ASSIGN(const Bytes old_image, ReadFile(a.old_path, kMaxDiffInput));
  UPLIFT_ASSIGN(const Bytes new_image, ReadFile(a.new_path, kMaxDiffInput));
  MemorySink patch;
  nlohmann::json extra = nlohmann::json::object();
  if (a.format == "bsdiff40") {
    Progress progress("diffing", 1, !a.json);  // one step: bsdiff's scan is one pass
    UPLIFT_TRY(delta::CreateBsdiff40(old_image, new_image, patch));
    progress.Done();
  } else {
    delta::NativeCreateOptions opt;
    opt.compression = a.compression == "zstd" ? delta::NativeCompression::kZstd
                                              : delta::NativeCompression::kLzma2;
    opt.level = a.level != 0 ? a.level : (a.compression == "zstd" ? 19 : 9);
    opt.threads = a.threads;
    opt.segment_size = a.segment_kib * 1024;
    UPLIFT_ASSIGN(opt.filter, ParseFilter(a.filter));
    Progress progress("diffing", new_image.size(), !a.json);
    opt.progress = [&progress](std::uint64_t done, std::uint64_t) { progress.Update(done); };
    UPLIFT_ASSIGN(const delta::NativeCreateStats stats,
                  delta::CreateNative(old_image, new_image, patch, opt));
    progress.Done();
    extra = {{"filter", FilterName(stats.header.filter)},
             {"segments", stats.header.segment_count},
             {"ops", stats.ops},
             {"ctrl_bytes", stats.ctrl_bytes},
             {"diff_bytes", stats.diff_bytes},
             {"extra_bytes", stats.extra_bytes}};
  }
  UPLIFT_TRY(WriteFileAtomic(a.patch, patch.bytes()));
  const std::uint64_t patch_size = patch.bytes().size();
  // A delta of a big rewrite can cost more than the image itself compressed: say so (bundle
  // create --delta-from falls back to the full image then). Only worth computing when the patch
  // is not already a small fraction of the image.
  std::optional<std::uint64_t> full;
  if (patch_size * 10 > new_image.size() && !new_image.empty()) {
    UPLIFT_ASSIGN(full, CompressedFullSize(new_image, 19, a.threads == 0 ? 2 : a.threads));
    extra["full_zstd19_size"] = *full;
  }
  const bool worth_it = !full || patch_size < *full;
  if (a.json) {
    nlohmann::json j = {{"ok", true},
                        {"format", a.format},
                        {"patch", a.patch},
                        {"old_size", old_image.size()},
                        {"new_size", new_image.size()},
                        {"patch_size", patch_size},
                        {"smaller_than_full", worth_it}};
    j.update(extra);
    PrintJson(j);
  } else {
    std::fprintf(stderr, "wrote %s (%llu bytes, %s, %.2f%% of the new image)\n", a.patch.c_str(),
                 static_cast<unsigned long long>(patch_size), a.format.c_str(),
                 new_image.empty() ? 0.0
                                   : 100.0 * static_cast<double>(patch_size) /
                                         static_cast<double>(new_image.size()));
    if (!worth_it) {
      std::fprintf(
          stderr,
          "note: the patch is larger than the full image compressed with zstd -19 (%llu bytes): "
          "ship the full image\n",
          static_cast<unsigned long long>(*full));
    }
  }
  return Ok();
}

Status Apply(const ApplyArgs& a) {
  UPLIFT_TRY(RefuseOverwrite(a.out, a.force));
  UPLIFT_ASSIGN(RandomAccessFile old_image, RandomAccessFile::Open(a.old_path));
  UPLIFT_ASSIGN(RandomAccessFile patch, RandomAccessFile::Open(a.patch));
  UPLIFT_ASSIGN(const bool native, IsNative(patch));
  std::uint64_t new_size = 0;
  if (native) {
    std::array<std::uint8_t, delta::kNativeHeaderSize> hb{};
    UPLIFT_ASSIGN(const std::size_t n, patch.ReadAt(0, hb));
    auto h = delta::ParseNativeHeader(ByteView(hb.data(), n));
    if (!h.ok()) return std::move(h).error().Context(a.patch);
    new_size = h->new_size;
  } else {
    UPLIFT_ASSIGN(const delta::Bsdiff40Header h, ReadBsdiffHeader(patch, a.patch));
    new_size = h.new_size;
  }
  if (new_size > a.max_size) {
    return Error(delta::Errc::kTooLarge, a.patch + ": new image of " + std::to_string(new_size) +
                                             " bytes exceeds --max-size");
  }
  UPLIFT_ASSIGN(AtomicFileWriter out, AtomicFileWriter::Create(a.out, 0644));
  Progress progress("patching", new_size, !a.json);
  ProgressSink sink(out, progress);
  Status st = Ok();
  if (native) {
    UPLIFT_ASSIGN(FileSource patch_stream, FileSource::Open(a.patch));
    delta::NativeApplyOptions opt;
    opt.max_new_size = a.max_size;
    st = delta::ApplyNative(old_image, patch_stream, sink, opt);
  } else {
    st = delta::ApplyBsdiff40(old_image, patch, sink, a.max_size);
  }
  if (!st.ok()) return std::move(st).error().Context(a.patch);
  UPLIFT_TRY(out.Commit());
  progress.Done();
  if (a.json) {
    PrintJson({{"ok", true},
               {"format", native ? "native" : "bsdiff40"},
               {"out", a.out},
               {"new_size", new_size}});
  } else {
    std::fprintf(stderr, "wrote %s (%llu bytes)\n", a.out.c_str(),
                 static_cast<unsigned long long>(new_size));
  }
  return Ok();
}

Status InfoNative(RandomAccessFile& patch, const InfoArgs& a) {
  std::array<std::uint8_t, delta::kNativeHeaderSize> hb{};
  UPLIFT_ASSIGN(const std::size_t n, patch.ReadAt(0, hb));
  auto parsed = delta::ParseNativeHeader(ByteView(hb.data(), n));
  if (!parsed.ok()) return std::move(parsed).error().Context(a.patch);
  const delta::NativeHeader& h = *parsed;
  if (a.json) {
    PrintJson({{"ok", true},
               {"format", "native"},
               {"patch_size", patch.size()},
               {"old_size", h.old_size},
               {"new_size", h.new_size},
               {"old_sha256", ToHex(h.old_sha256)},
               {"new_sha256", ToHex(h.new_sha256)},
               {"segment_size", h.segment_size},
               {"segments", h.segment_count},
               {"filter", FilterName(h.filter)},
               {"compression", h.compression == 1 ? "zstd" : "xz"}});
  } else {
    const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::printf("format      native (%s streams)\n", h.compression == 1 ? "zstd" : "xz/LZMA2");
    std::printf("patch size  %llu\n", u(patch.size()));
    std::printf("old         %llu bytes, sha256 %s\n", u(h.old_size), ToHex(h.old_sha256).c_str());
    std::printf("new         %llu bytes, sha256 %s\n", u(h.new_size), ToHex(h.new_sha256).c_str());
    std::printf("segments    %u of %u KiB (restart points)\n", h.segment_count,
                h.segment_size / 1024);
    std::printf("filter      %s\n", FilterName(h.filter));
  }
  return Ok();
}

Status Info(const InfoArgs& a) {
  UPLIFT_ASSIGN(RandomAccessFile patch, RandomAccessFile::Open(a.patch));
  UPLIFT_ASSIGN(const bool native, IsNative(patch));
  if (native) return InfoNative(patch, a);
  UPLIFT_ASSIGN(const delta::Bsdiff40Header h, ReadBsdiffHeader(patch, a.patch));
  const std::uint64_t extra_len =
      patch.size() - delta::kBsdiff40HeaderSize - h.ctrl_len - h.diff_len;
  if (a.json) {
    PrintJson({{"ok", true},
               {"format", "bsdiff40"},
               {"patch_size", patch.size()},
               {"new_size", h.new_size},
               {"ctrl_len", h.ctrl_len},
               {"diff_len", h.diff_len},
               {"extra_len", extra_len}});
  } else {
    const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::printf("format      bsdiff40\n");
    std::printf("patch size  %llu\n", u(patch.size()));
    std::printf("new size    %llu\n", u(h.new_size));
    std::printf("control     %llu bytes (bzip2)\n", u(h.ctrl_len));
    std::printf("diff        %llu bytes (bzip2)\n", u(h.diff_len));
    std::printf("extra       %llu bytes (bzip2)\n", u(extra_len));
  }
  return Ok();
}

}  // namespace

void RegisterDeltaCommands(CLI::App& app, Context& ctx) {
  auto* delta = app.add_subcommand("delta", "Create, apply and inspect binary deltas");
  delta->require_subcommand(1);

  auto c = std::make_shared<CreateArgs>();
  auto* create = delta->add_subcommand("create", "Write a patch that turns OLD into NEW");
  create->add_option("OLD", c->old_path, "Old image")->required();
  create->add_option("NEW", c->new_path, "New image")->required();
  create->add_option("PATCH", c->patch, "Output patch file")->required();
  create->add_option("--format", c->format, "Patch format")
      ->check(CLI::IsMember({"bsdiff40", "native"}))
      ->capture_default_str();
  create
      ->add_option("--compression", c->compression,
                   "Codec of the native streams: xz (raw LZMA2, smaller) or zstd (faster to apply)")
      ->check(CLI::IsMember({"xz", "zstd"}))
      ->capture_default_str();
  create
      ->add_option("--level", c->level, "Codec level: xz 1-9 (10 = 9 extreme), zstd 1-22; 0 = best")
      ->check(CLI::Range(0, 22))
      ->capture_default_str();
  create->add_option("--threads", c->threads, "Worker threads (0 = all cores)")
      ->capture_default_str();
  create->add_option("--filter", c->filter, "Executable filter for native patches")
      ->check(CLI::IsMember({"auto", "none", "x86", "arm64"}))
      ->capture_default_str();
  create
      ->add_option("--segment-kib", c->segment_kib,
                   "Native segment (restart point) size in KiB: multiple of 64, at most 4096")
      ->capture_default_str();
  create->add_flag("--force", c->force, "Overwrite an existing patch file");
  create->add_flag("--json", c->json, "Machine-readable output");
  OnParsed(create, ctx, c, [](const auto& args) { return Create(args); });

  auto a = std::make_shared<ApplyArgs>();
  auto* apply =
      delta->add_subcommand("apply", "Rebuild NEW from OLD and a patch (format by magic)");
  apply->add_option("OLD", a->old_path, "Old image")->required();
  apply->add_option("PATCH", a->patch, "Patch file")->required();
  apply->add_option("OUT", a->out, "Output image")->required();
  apply->add_option("--max-size", a->max_size, "Refuse a patch whose new image is larger")
      ->capture_default_str();
  apply->add_flag("--force", a->force, "Overwrite an existing output file");
  apply->add_flag("--json", a->json, "Machine-readable output");
  OnParsed(apply, ctx, a, [](const auto& args) { return Apply(args); });

  auto i = std::make_shared<InfoArgs>();
  auto* info = delta->add_subcommand("info", "Show a patch's format and sizes");
  info->add_option("PATCH", i->patch, "Patch file")->required();
  info->add_flag("--json", i->json, "Machine-readable output");
  OnParsed(info, ctx, i, [](const auto& args) { return Info(args); });
}

}  // namespace uplift::cli
