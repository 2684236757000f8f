// Installs from a remote bundle (a RangeSource that misbehaves on request): the payload streams
// from the source into the slot, a corrupt chunk is read again alone, an outage keeps the
// update's place, an interrupted install continues where verified data ends (never from byte 0),
// and a bundle that changes on the server is started over, never spliced.
#include <gtest/gtest.h>

#include "agent_test_support.hpp"
#include "uplift/format/bundle_reader.hpp"
#include "uplift/format/errors.hpp"

namespace uplift::agent {
namespace {

using boot::Slot;
using format::AgentState;
using testing::Drive;
using testing::MakeBundle;
using testing::Pattern;
using testing::RemoteBundle;
using testing::RemoteSource;

constexpr std::size_t kImage = 96 * 1024;
constexpr std::uint64_t kSlot = 128 * 1024;
constexpr const char* kUrl = "https://ota.example/b.upl";

std::uint64_t HeadSize(const Bytes& bundle) {
  auto h = format::BundleHeader::Decode(ByteView(bundle).first(format::kHeaderSize));
  return format::kHeaderSize + h->manifest_size + h->signatures_size + h->chunk_index_size;
}

struct RemoteInstall : ::testing::Test {
  testing::SimDevice dev{kSlot};
  testing::AgentRun run;
  Bytes v1 = Pattern(kImage, 1);
  Bytes v2 = testing::Evolve(v1, 2);
  std::shared_ptr<RemoteBundle> remote = std::make_shared<RemoteBundle>();

  void SetUp() override {
    dev.Factory(v1);
    run.open_bundle = RemoteSource::Opener(remote);
    run.options.checkpoint_bytes = 16 * 1024;
  }
  Result<testing::Outcome> Install() {
    return Drive(dev, run, [](Agent& a) { return a.Install(kUrl); });
  }
  format::JournalEntry Journal() {
    auto stored = dev.journal().Load();
    return *format::ParseJournal(**stored);
  }
};

TEST_F(RemoteInstall, StreamsTheBundleOnceAndCommits) {
  remote->data = MakeBundle(v2);
  std::vector<std::string> trace;
  run.trace = &trace;
  auto out = Install();
  ASSERT_TRUE(out.ok()) << out.error().message();
  EXPECT_EQ(out->journal.state, AgentState::kCommitted);
  EXPECT_EQ(dev.SlotPrefix(Slot::kB, kImage), v2);
  // downloading (head authenticated) -> installing (payload streamed) -> installed.
  ASSERT_GE(trace.size(), 4u);
  EXPECT_EQ(trace[1], "downloading");
  EXPECT_EQ(trace[2], "installing");
  // Every byte once: the head read to verify is the one the install uses.
  EXPECT_EQ(remote->served, remote->data.size());
  EXPECT_EQ(out->journal.update->progress.download_url, kUrl);
  EXPECT_EQ(out->journal.update->progress.source_validator, "\"v1\"");
}

TEST_F(RemoteInstall, ACorruptChunkIsFetchedAgainAlone) {
  remote->data = MakeBundle(v2);
  remote->flip_at = remote->data.size() - 5000;  // inside the payload
  remote->flips_left = 1;
  auto out = Install();
  ASSERT_TRUE(out.ok()) << out.error().message();
  EXPECT_EQ(out->journal.state, AgentState::kCommitted);
  EXPECT_EQ(dev.SlotPrefix(Slot::kB, kImage), v2);
  EXPECT_EQ(remote->reread, format::kMinChunkSize);  // one 4 KiB chunk, nothing else
}

TEST_F(RemoteInstall, AChunkThatStaysCorruptFailsNamingIt) {
  remote->data = MakeBundle(v2);
  remote->flip_at = HeadSize(remote->data) + 3 * format::kMinChunkSize + 7;
  remote->flips_left = 1000;
  // Re-reads are clean in RemoteSource; make them corrupt too by corrupting the data itself.
  remote->data[remote->flip_at] ^= 0x80;
  remote->flips_left = 0;
  auto out = Install();
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(out.error().Is(format::Errc::kHashMismatch)) << out.error().message();
  EXPECT_NE(out.error().message().find("chunk 3"), std::string::npos) << out.error().message();
  const auto j = Journal();
  EXPECT_EQ(j.state, AgentState::kFailed);
  EXPECT_EQ(remote->reread, 3u * format::kMinChunkSize);  // max_chunk_attempts re-reads
  EXPECT_EQ(dev.SlotPrefix(Slot::kA, kImage), v1);
}

TEST_F(RemoteInstall, AnOutageKeepsThePlaceAndTheNextStartResumesThere) {
  remote->data = MakeBundle(v2);
  const std::uint64_t head = HeadSize(remote->data);
  remote->outage_after = head + kImage / 2;  // the head, then half the payload
  auto first = Install();
  ASSERT_FALSE(first.ok());
  EXPECT_TRUE(first.error().Is(base::Errc::kUnavailable)) << first.error().message();
  auto j = Journal();
  ASSERT_EQ(j.state, AgentState::kInstalling);
  EXPECT_EQ(j.boot_attempts, 0u);  // an outage is not a crash loop
  ASSERT_TRUE(j.last_error);
  const std::uint64_t restart = j.update->progress.stored_offset;
  EXPECT_GT(restart, 0u);
  EXPECT_EQ(restart, j.update->progress.output_bytes);
  // Everything fetched so far is journaled for the data cap, up to the outage.
  EXPECT_EQ(j.update->progress.downloaded_bytes, remote->served);

  const std::uint64_t before = remote->served;
  remote->outage_after = ~std::uint64_t{0};
  auto second = Drive(dev, run);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(second->journal.state, AgentState::kCommitted);
  EXPECT_EQ(dev.SlotPrefix(Slot::kB, kImage), v2);
  // The resume asked for the head and the payload from the restart point's chunk only.
  const std::uint64_t resumed = remote->served - before;
  EXPECT_LE(resumed, head + (kImage - restart) + format::kMinChunkSize);
}

TEST_F(RemoteInstall, ANewInstallSupersedesOneThatCannotGoOn) {
  remote->data = MakeBundle(v2);
  remote->outage_after = HeadSize(remote->data) + kImage / 2;
  auto first = Install();
  ASSERT_FALSE(first.ok());
  ASSERT_EQ(Journal().state, AgentState::kInstalling);
  // The old URL stays dead; the operator (or server) offers another bundle.
  const Bytes v3 = testing::Evolve(v1, 3);
  testing::BundleOptions o3;
  o3.version = "3.0.0";
  o3.security_counter = 3;
  const Bytes bundle3 = MakeBundle(v3, o3);
  const BundleOpener remote_opener = RemoteSource::Opener(remote);
  run.open_bundle = [&](const BundleRequest& r) -> Result<std::unique_ptr<RangeSource>> {
    if (r.location == "local-v3") {
      return std::unique_ptr<RangeSource>(std::make_unique<MemoryRangeSource>(bundle3));
    }
    return remote_opener(r);
  };
  Agent a = run.Make(dev, Slot::kA);
  const Status recovered = a.Recover();  // the old download still cannot go on
  ASSERT_FALSE(recovered.ok());
  EXPECT_TRUE(recovered.error().Is(base::Errc::kUnavailable));
  EXPECT_EQ(a.journal().state, AgentState::kInstalling);
  ASSERT_TRUE(a.Install("local-v3").ok());
  EXPECT_EQ(a.journal().state, AgentState::kInstalled);
  EXPECT_EQ(a.journal().update->version, "3.0.0");
  EXPECT_TRUE(run.rebooter.requested);
  auto done = Drive(dev, run);
  ASSERT_TRUE(done.ok()) << done.error().message();
  EXPECT_EQ(done->journal.state, AgentState::kCommitted);
  EXPECT_EQ(dev.SlotPrefix(Slot::kB, kImage), v3);
}

TEST_F(RemoteInstall, ZstdFramesAreRestartPoints) {
  testing::BundleOptions o;
  o.compression = format::Compression::kZstd;
  o.zstd_frame_bytes = 16 * 1024;
  remote->data = MakeBundle(v2, o);
  const std::uint64_t head = HeadSize(remote->data);
  const std::uint64_t payload = remote->data.size() - head;
  remote->outage_after = head + payload * 3 / 4;
  auto first = Install();
  ASSERT_FALSE(first.ok());
  ASSERT_TRUE(first.error().Is(base::Errc::kUnavailable)) << first.error().message();
  auto j = Journal();
  ASSERT_EQ(j.state, AgentState::kInstalling);
  const auto& pr = j.update->progress;
  EXPECT_GT(pr.output_bytes, 0u);
  EXPECT_EQ(pr.output_bytes % (16 * 1024), 0u);  // a frame end
  EXPECT_GT(pr.stored_offset, 0u);
  EXPECT_LT(pr.stored_offset, payload);

  const std::uint64_t before = remote->served;
  remote->outage_after = ~std::uint64_t{0};
  auto second = Drive(dev, run);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(second->journal.state, AgentState::kCommitted);
  EXPECT_EQ(dev.SlotPrefix(Slot::kB, kImage), v2);
  EXPECT_LE(remote->served - before, head + (payload - pr.stored_offset) + format::kMinChunkSize);
}

TEST_F(RemoteInstall, DeltaSegmentsAreRestartPoints) {
  // 3 segments of 64 KiB: the image must be larger than the fixture's.
  testing::SimDevice big(512 * 1024);
  const Bytes old_image = Pattern(192 * 1024, 5);
  const Bytes new_image = testing::Evolve(old_image, 6);
  big.Factory(old_image);
  // Slot A's factory image must be known to the journal as the delta's source: install v1 first
  // as a full image is not needed, the applier hashes the source itself.
  testing::BundleOptions o;
  o.delta_from = &old_image;
  o.delta_segment = 64 * 1024;
  remote->data = MakeBundle(new_image, o);
  const std::uint64_t head = HeadSize(remote->data);
  const std::uint64_t payload = remote->data.size() - head;
  run.options.checkpoint_bytes = 64 * 1024;
  // Patch bytes are few per segment; stop in the last segment.
  remote->outage_after = head + payload - 1500;
  auto first = Drive(big, run, [](Agent& a) { return a.Install(kUrl); });
  ASSERT_FALSE(first.ok());
  ASSERT_TRUE(first.error().Is(base::Errc::kUnavailable)) << first.error().message();
  auto stored = big.journal().Load();
  const auto j = *format::ParseJournal(**stored);
  ASSERT_EQ(j.state, AgentState::kInstalling);
  const auto& pr = j.update->progress;
  EXPECT_EQ(pr.delta_segment, 2u);
  EXPECT_EQ(pr.output_bytes, 128u * 1024);
  EXPECT_GT(pr.stored_offset, 0u);

  const std::uint64_t before = remote->served;
  remote->outage_after = ~std::uint64_t{0};
  auto second = Drive(big, run);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(second->journal.state, AgentState::kCommitted);
  EXPECT_EQ(big.SlotPrefix(Slot::kB, new_image.size()), new_image);
  // Head, the patch header's chunk, then the patch from the restart point's chunk.
  EXPECT_LE(remote->served - before,
            head + format::kMinChunkSize + (payload - pr.stored_offset) + format::kMinChunkSize);
}

TEST_F(RemoteInstall, ABundleThatChangesOnTheServerIsStartedOverNotSpliced) {
  remote->data = MakeBundle(v2);
  testing::BundleOptions o3;
  o3.version = "3.0.0";
  o3.security_counter = 3;
  const Bytes v3 = testing::Evolve(v1, 3);
  const Bytes bundle3 = MakeBundle(v3, o3);
  const std::uint64_t head = HeadSize(remote->data);
  bool changed = false;
  remote->on_read = [&] {
    // Halfway through the payload the server starts serving 3.0.0 under a new entity tag.
    if (!changed && remote->served > head + kImage / 2) {
      changed = true;
      remote->data = bundle3;
      remote->validator = "\"v3\"";
    }
  };
  std::vector<std::string> trace;
  run.trace = &trace;
  auto out = Install();
  ASSERT_TRUE(out.ok()) << out.error().message();
  EXPECT_EQ(out->journal.state, AgentState::kCommitted);
  EXPECT_EQ(out->journal.slots[1]->version, "3.0.0");
  EXPECT_EQ(dev.SlotPrefix(Slot::kB, kImage), v3);
  EXPECT_NE(std::find(trace.begin(), trace.end(), "downloading"), trace.end());
  EXPECT_EQ(std::count(trace.begin(), trace.end(), "downloading"), 2);
}

TEST_F(RemoteInstall, ABundleThatKeepsChangingGivesUp) {
  remote->data = MakeBundle(v2);
  const std::uint64_t head = HeadSize(remote->data);
  std::uint64_t last_change = 0;
  int versions = 0;
  remote->on_read = [&] {
    // A new version each time a head and 2 KiB of payload have been served since the last one.
    if (remote->served - last_change > head + 2048) {
      last_change = remote->served;
      remote->validator = "\"v" + std::to_string(++versions) + "\"";
    }
  };
  auto out = Install();
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(out.error().Is(base::Errc::kSourceChanged)) << out.error().message();
  EXPECT_EQ(Journal().state, AgentState::kFailed);
  EXPECT_NE(out.error().message().find("gave up after 3 restarts"), std::string::npos)
      << out.error().message();
}

}  // namespace
}  // namespace uplift::agent
