// A whole simulated device for the agent tests: one SimFlash holding the boot environment, the
// journal and both slots, a simulated bootloader over that environment, and helpers to build
// signed bundles in memory and to run power-on cycles (boot, agent recovery) until the device
// is at rest.
#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "uplift/agent/agent.hpp"
#include "uplift/base/clock.hpp"
#include "uplift/base/range_source.hpp"
#include "uplift/boot/env_boot_control.hpp"
#include "uplift/boot/simulated_bootloader.hpp"
#include "uplift/boot/uboot_env_store.hpp"
#include "uplift/crypto/hash.hpp"
#include "uplift/delta/diff.hpp"
#include "uplift/format/bundle_writer.hpp"
#include "uplift/storage/record_store.hpp"
#include "uplift/storage/sim_flash.hpp"

namespace uplift::agent::testing {

inline constexpr std::int64_t kNow = 1'750'000'000;
inline constexpr std::uint32_t kErase = 4096;
inline constexpr std::uint32_t kPage = 256;
inline constexpr std::uint64_t kEnvSize = 2 * kErase;  // two redundant copies
inline constexpr std::uint64_t kJournalSize = 2 * kErase;
inline constexpr const char* kHardware = "sim-board";

inline Bytes Pattern(std::size_t n, std::uint32_t seed) {
  Bytes b(n);
  std::uint32_t x = seed;
  for (auto& c : b) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<std::uint8_t>(x >> 24);
  }
  return b;
}

// A new image that shares most of its bytes with `old` (what a delta is for).
inline Bytes Evolve(const Bytes& old, std::uint32_t seed) {
  Bytes b = old;
  const Bytes noise = Pattern(b.size() / 16, seed);
  for (std::size_t i = 0; i < noise.size(); ++i) b[(i * 16 + seed) % b.size()] = noise[i];
  return b;
}

struct Keys {
  crypto::PrivateKey release;
  crypto::PrivateKey other;
  format::TrustStore trust;
};

inline const Keys& TestKeys() {
  static const Keys* keys = [] {
    auto a = crypto::PrivateKey::Generate(crypto::SignatureAlgorithm::kEd25519);
    auto b = crypto::PrivateKey::Generate(crypto::SignatureAlgorithm::kEd25519);
    if (!a.ok() || !b.ok()) std::abort();
    format::TrustStore ts;
    if (!ts.AddKey(a->Public(), std::string(format::kReleaseRole)).ok()) std::abort();
    return new Keys{std::move(a).value(), std::move(b).value(), std::move(ts)};
  }();
  return *keys;
}

struct BundleOptions {
  std::string version = "2.0.0";
  std::uint64_t security_counter = 2;
  std::vector<std::string> compatible = {kHardware};
  std::int64_t expires = kNow + 86400;
  std::string target = "rootfs";
  const Bytes* delta_from = nullptr;        // set: a delta payload from this image
  std::uint32_t delta_segment = 64 * 1024;  // delta restart-point spacing
  format::Compression compression = format::Compression::kNone;  // full images
  std::uint64_t zstd_frame_bytes = 8 * 1024;    // small frames: restart points in tiny images
  std::vector<const crypto::PrivateKey*> keys;  // empty: the trusted release key
};

inline Bytes MakeBundle(const Bytes& image, const BundleOptions& o = {}) {
  format::BundleSpec spec;
  spec.product = "sim";
  spec.version = *format::SemVer::Parse(o.version);
  spec.security_counter = o.security_counter;
  spec.compatible = o.compatible;
  spec.created = kNow - 100;
  spec.expires = o.expires;
  auto data = std::make_shared<Bytes>(image);
  format::PayloadInput p;
  p.name = o.target;
  p.target = o.target;
  p.chunk_size = format::kMinChunkSize;
  p.zstd_frame_bytes = o.zstd_frame_bytes;
  if (o.delta_from == nullptr) p.compression = o.compression;
  if (o.delta_from != nullptr) {
    MemorySink patch;
    delta::NativeCreateOptions dopt;
    dopt.threads = 1;
    dopt.segment_size = o.delta_segment;
    dopt.level = 3;
    if (!delta::CreateNative(*o.delta_from, image, patch, dopt).ok()) std::abort();
    data = std::make_shared<Bytes>(patch.Take());
    p.delta_source_sha256 = crypto::Sha256::Of(*o.delta_from);
    p.delta_image_size = image.size();
    p.delta_image_sha256 = crypto::Sha256::Of(image);
  }
  p.size_hint = data->size();
  p.open = [data]() -> Result<std::unique_ptr<ByteSource>> {
    return std::unique_ptr<ByteSource>(std::make_unique<MemorySource>(*data));
  };
  spec.payloads.push_back(std::move(p));
  std::vector<const crypto::PrivateKey*> keys = o.keys;
  if (keys.empty()) keys.push_back(&TestKeys().release);
  MemorySink out;
  if (const Status st = format::WriteBundle(spec, keys, out); !st.ok()) {
    ADD_FAILURE() << st.error().message();
  }
  return out.Take();
}

// A remote bundle in memory that misbehaves on request, and counts the bytes it serves (what a
// device would download). State is shared so a test can change it between agent runs.
struct RemoteBundle {
  Bytes data;
  std::string validator = "\"v1\"";
  std::uint64_t served = 0;                   // stream and re-read bytes, all opens
  std::uint64_t reread = 0;                   // of which re-reads
  std::uint64_t flip_at = ~std::uint64_t{0};  // bundle offset corrupted in streams (not re-reads)
  int flips_left = 0;
  std::uint64_t outage_after =
      ~std::uint64_t{0};          // streams fail kUnavailable once served passes this
  std::function<void()> on_open;  // called at every open
  std::function<void()> on_read;  // called before every stream read (e.g. replace the bundle)
};

class RemoteSource final : public RangeSource {
 public:
  // Like an HTTP source with If-Range: reads fail once the bundle's validator is no longer the
  // one it had when this source was opened.
  RemoteSource(std::shared_ptr<RemoteBundle> b, std::uint64_t fetched_before)
      : b_(std::move(b)), opened_(b_->validator), base_(fetched_before), start_(b_->served) {}
  static BundleOpener Opener(std::shared_ptr<RemoteBundle> b) {
    return [b](const BundleRequest& r) -> Result<std::unique_ptr<RangeSource>> {
      if (b->on_open) b->on_open();
      if (!r.validator.empty() && r.validator != b->validator) {
        return Error(base::Errc::kSourceChanged,
                     "entity tag " + b->validator + ", expected " + r.validator);
      }
      return std::unique_ptr<RangeSource>(std::make_unique<RemoteSource>(b, r.fetched_bytes));
    };
  }
  Result<std::unique_ptr<ByteSource>> OpenRange(std::uint64_t begin, std::uint64_t end) override;
  Status Reread(std::uint64_t offset, MutableByteView buf) override {
    if (offset + buf.size() > b_->data.size())
      return Error(base::Errc::kUnexpectedEof, "past the end");
    std::copy_n(b_->data.begin() + static_cast<std::ptrdiff_t>(offset), buf.size(), buf.begin());
    b_->served += buf.size();
    b_->reread += buf.size();
    return Ok();
  }
  std::string validator() const override { return opened_; }
  // What a download would count: the figure it was created with plus what it served since.
  std::uint64_t fetched_bytes() const override { return base_ + (b_->served - start_); }

 private:
  std::shared_ptr<RemoteBundle> b_;
  std::string opened_;
  std::uint64_t base_;
  std::uint64_t start_;
};

class RemoteStream final : public ByteSource {
 public:
  RemoteStream(std::shared_ptr<RemoteBundle> b, std::string opened, std::uint64_t pos,
               std::uint64_t end)
      : b_(std::move(b)), opened_(std::move(opened)), pos_(pos), end_(end) {}
  Result<std::size_t> Read(MutableByteView buf) override {
    if (b_->on_read) b_->on_read();
    if (b_->validator != opened_) {
      return Error(base::Errc::kSourceChanged,
                   "entity tag " + b_->validator + ", expected " + opened_);
    }
    if (b_->served >= b_->outage_after) {
      return Error(base::Errc::kUnavailable, "server unreachable (test outage)");
    }
    const std::uint64_t end = std::min<std::uint64_t>(end_, b_->data.size());
    const auto n = static_cast<std::size_t>(
        std::min<std::uint64_t>({buf.size(), end - std::min(pos_, end), 1024}));
    std::copy_n(b_->data.begin() + static_cast<std::ptrdiff_t>(pos_), n, buf.begin());
    if (b_->flips_left > 0 && b_->flip_at >= pos_ && b_->flip_at < pos_ + n) {
      buf[static_cast<std::size_t>(b_->flip_at - pos_)] ^= 0x01;
      b_->flips_left -= 1;
    }
    pos_ += n;
    b_->served += n;
    return n;
  }

 private:
  std::shared_ptr<RemoteBundle> b_;
  std::string opened_;
  std::uint64_t pos_;
  std::uint64_t end_;
};

inline Result<std::unique_ptr<ByteSource>> RemoteSource::OpenRange(std::uint64_t begin,
                                                                   std::uint64_t end) {
  return std::unique_ptr<ByteSource>(std::make_unique<RemoteStream>(b_, opened_, begin, end));
}

class RecordingRebooter final : public Rebooter {
 public:
  Status Reboot() override {
    requested = true;
    return Ok();
  }
  bool requested = false;
};

class FunctionCheck final : public HealthCheck {
 public:
  explicit FunctionCheck(std::function<Status()> f) : f_(std::move(f)) {}
  std::string name() const override { return "test check"; }
  Status Run() override { return f_(); }

 private:
  std::function<Status()> f_;
};

// The device: flash layout [env 8 KiB][journal 8 KiB][slot A][slot B].
class SimDevice {
 public:
  explicit SimDevice(std::uint64_t slot_size)
      : slot_size_(slot_size),
        flash_(storage::FlashGeometry{std::bit_ceil(kEnvSize + kJournalSize + 2 * slot_size),
                                      kErase, kPage}) {
    env_part_ = storage::MakePartition(flash_, "env", 0, kEnvSize);
    journal_part_ = storage::MakePartition(flash_, "journal", kEnvSize, kJournalSize);
    slot_a_ = storage::MakePartition(flash_, "slot-a", kEnvSize + kJournalSize, slot_size);
    slot_b_ =
        storage::MakePartition(flash_, "slot-b", kEnvSize + kJournalSize + slot_size, slot_size);
    auto env = boot::UbootEnvStore::Create(
        {{env_part_.get(), 0, kErase}, {env_part_.get(), kErase, kErase}});
    if (!env.ok()) std::abort();
    env_ = std::move(env).value();
    boot_ = std::make_unique<boot::EnvBootControl>(*env_);
    journal_ = std::make_unique<storage::FlashRecordStore>(*journal_part_);
  }

  storage::SimFlash& flash() { return flash_; }
  storage::BlockDevice& slot(boot::Slot s) { return s == boot::Slot::kA ? *slot_a_ : *slot_b_; }
  boot::BootControl& boot() { return *boot_; }
  boot::EnvStore& env() { return *env_; }
  storage::RecordStore& journal() { return *journal_; }

  // Factory state: `image` in slot A, nothing else written.
  void Factory(const Bytes& image) { flash_.LoadDurable(kEnvSize + kJournalSize, image); }

  Bytes SlotPrefix(boot::Slot s, std::size_t n) {
    Bytes b(n);
    if (!slot(s).Read(0, b).ok()) ADD_FAILURE() << "reading slot";
    return b;
  }

  // Which images boot at all (the simulated bootloader's "kernel starts" predicate).
  std::function<bool(boot::Slot)> bootable = [](boot::Slot) { return true; };

  // Power on: the simulated bootloader picks a slot following U-Boot's bootcount rules.
  Result<boot::Slot> Boot() {
    boot::SimulatedBootloader bl(*env_, bootable);
    return bl.Boot();
  }

 private:
  std::uint64_t slot_size_;
  storage::SimFlash flash_;
  std::unique_ptr<storage::BlockDevice> env_part_, journal_part_, slot_a_, slot_b_;
  std::unique_ptr<boot::UbootEnvStore> env_;
  std::unique_ptr<boot::EnvBootControl> boot_;
  std::unique_ptr<storage::FlashRecordStore> journal_;
};

// One agent run on a booted device, with a trace of every transition.
struct AgentRun {
  FakeClock clock{kNow};
  RecordingRebooter rebooter;
  NoHooks no_hooks;
  std::vector<std::string>* trace = nullptr;
  std::function<Status()> health = [] { return Ok(); };
  FunctionCheck check{[this] { return health(); }};
  std::function<void(format::AgentState)> on_enter;  // e.g. cut power on entering a state
  std::function<void(boot::Slot)> on_boot;           // e.g. check the booted slot's content
  std::vector<std::pair<std::string, Bytes>> bundles;
  BundleOpener open_bundle;  // set: replaces the lookup in `bundles` (remote-source tests)
  AgentOptions options;

  AgentRun() {
    options.hardware = kHardware;
    options.checkpoint_bytes = 16 * 1024;
  }

  Agent Make(SimDevice& dev, boot::Slot booted) {
    AgentDeps deps{
        dev.journal(), dev.slot(boot::Slot::kA), dev.slot(boot::Slot::kB), dev.boot(), rebooter,
        clock};
    deps.trust = &TestKeys().trust;
    deps.hooks = &no_hooks;
    deps.health = {&check};
    deps.open_bundle = [this](const BundleRequest& r) -> Result<std::unique_ptr<RangeSource>> {
      if (open_bundle) return open_bundle(r);
      for (const auto& [n, b] : bundles) {
        if (n == r.location) {
          return std::unique_ptr<RangeSource>(std::make_unique<MemoryRangeSource>(b));
        }
      }
      return Error(base::Errc::kNotFound, r.location + ": no such bundle");
    };
    deps.on_transition = [this](format::AgentState, Event, format::AgentState to) {
      if (trace) trace->emplace_back(format::AgentStateName(to));
      if (on_enter) on_enter(to);
    };
    return Agent(options, std::move(deps), booted);
  }
};

struct Outcome {
  boot::Slot booted = boot::Slot::kA;
  format::JournalEntry journal;
  int boots = 0;
};

// Powers the device on again and again: the bootloader picks a slot, the agent recovers, and on
// the first power-on `first` runs after recovery (e.g. an install). Stops when the agent no
// longer asks for a reboot. Any error (a refusal, a power cut) is returned as is.
inline Result<Outcome> Drive(SimDevice& dev, AgentRun& run,
                             const std::function<Status(Agent&)>& first = {}, int max_boots = 16) {
  for (int boots = 1; boots <= max_boots; ++boots) {
    run.rebooter.requested = false;
    UPLIFT_ASSIGN(const boot::Slot slot, dev.Boot());
    if (run.trace) run.trace->push_back(std::string("boot:") + boot::SlotLetter(slot));
    if (run.on_boot) run.on_boot(slot);
    Agent agent = run.Make(dev, slot);
    UPLIFT_TRY(agent.Recover());
    if (first && boots == 1 && !run.rebooter.requested) UPLIFT_TRY(first(agent));
    if (!run.rebooter.requested) return Outcome{slot, agent.journal(), boots};
  }
  return Error(base::Errc::kInvalidArgument,
               "device still rebooting after " + std::to_string(max_boots) + " power-ons");
}

// Drive() again after every power cut (the trace notes "cut") until the device is at rest.
inline Result<Outcome> DriveThroughCuts(SimDevice& dev, AgentRun& run,
                                        const std::function<Status(Agent&)>& first = {},
                                        int max_cycles = 16) {
  for (int cycle = 0; cycle < max_cycles; ++cycle) {
    auto out = Drive(dev, run, cycle == 0 ? first : std::function<Status(Agent&)>());
    if (out.ok() || !out.error().Is(storage::Errc::kPowerLost)) return out;
    if (run.trace) run.trace->push_back("cut");
    dev.flash().PowerCycle();
  }
  return Error(base::Errc::kInvalidArgument,
               "still losing power after " + std::to_string(max_cycles) + " cycles");
}

// Cuts power at the very next mutating flash operation.
inline void CutNow(SimDevice& dev) {
  dev.flash().SetFaultPlan(storage::FaultPlan{dev.flash().operations() + 1, false, false});
}

}  // namespace uplift::agent::testing
