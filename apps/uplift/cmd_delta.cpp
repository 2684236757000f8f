// uplift delta create | apply | info: binary deltas between two images (BSDIFF40 for now).
#include <cstdio>
#include <memory>

#include "cli.hpp"
#include "uplift/base/random_access.hpp"
#include "uplift/delta/bsdiff40.hpp"
#include "uplift/delta/diff.hpp"

namespace uplift::cli {
namespace {

// The generator holds both images in memory and its suffix array is 32-bit.
constexpr std::uint64_t kMaxDiffInput = (std::uint64_t{1} << 31) - 2;

struct CreateArgs {
  std::string old_path, new_path, patch;
  std::string format = "bsdiff40";
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

// Only BSDIFF40 exists so far (kBadMagic otherwise); the native format will be told apart by
// its own magic here.
Result<delta::Bsdiff40Header> ReadHeader(RandomAccessSource& patch, const std::string& path) {
  auto h = delta::ReadBsdiff40Header(patch);
  if (!h.ok()) return std::move(h).error().Context(path);
  return h;
}

Status Create(const CreateArgs& a) {
  if (a.format == "native") {
    return Error(base::Errc::kInvalidArgument,
                 "--format native is not implemented yet (use bsdiff40)");
  }
  UPLIFT_TRY(RefuseOverwrite(a.patch, a.force));
  UPLIFT_ASSIGN(const Bytes old_image, ReadFile(a.old_path, kMaxDiffInput));
  UPLIFT_ASSIGN(const Bytes new_image, ReadFile(a.new_path, kMaxDiffInput));
  MemorySink patch;
  {
    Progress progress("diffing", 1, !a.json);  // one step: the matcher has no progress hook
    UPLIFT_TRY(delta::CreateBsdiff40(old_image, new_image, patch));
    progress.Done();
  }
  UPLIFT_TRY(WriteFileAtomic(a.patch, patch.bytes()));
  if (a.json) {
    PrintJson({{"ok", true},
               {"format", "bsdiff40"},
               {"patch", a.patch},
               {"old_size", old_image.size()},
               {"new_size", new_image.size()},
               {"patch_size", patch.bytes().size()}});
  } else {
    std::fprintf(stderr, "wrote %s (%zu bytes, bsdiff40)\n", a.patch.c_str(), patch.bytes().size());
  }
  return Ok();
}

Status Apply(const ApplyArgs& a) {
  UPLIFT_TRY(RefuseOverwrite(a.out, a.force));
  UPLIFT_ASSIGN(RandomAccessFile old_image, RandomAccessFile::Open(a.old_path));
  UPLIFT_ASSIGN(RandomAccessFile patch, RandomAccessFile::Open(a.patch));
  UPLIFT_ASSIGN(const delta::Bsdiff40Header h, ReadHeader(patch, a.patch));
  UPLIFT_ASSIGN(AtomicFileWriter out, AtomicFileWriter::Create(a.out, 0644));
  Progress progress("patching", h.new_size, !a.json);
  ProgressSink sink(out, progress);
  Status st = delta::ApplyBsdiff40(old_image, patch, sink, a.max_size);
  if (!st.ok()) return std::move(st).error().Context(a.patch);
  UPLIFT_TRY(out.Commit());
  progress.Done();
  if (a.json) {
    PrintJson({{"ok", true}, {"format", "bsdiff40"}, {"out", a.out}, {"new_size", h.new_size}});
  } else {
    std::fprintf(stderr, "wrote %s (%llu bytes)\n", a.out.c_str(),
                 static_cast<unsigned long long>(h.new_size));
  }
  return Ok();
}

Status Info(const InfoArgs& a) {
  UPLIFT_ASSIGN(RandomAccessFile patch, RandomAccessFile::Open(a.patch));
  UPLIFT_ASSIGN(const delta::Bsdiff40Header h, ReadHeader(patch, a.patch));
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
