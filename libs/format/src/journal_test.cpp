#include "uplift/format/journal.hpp"

#include <gtest/gtest.h>

#include <string>

namespace uplift::format {
namespace {

crypto::Sha256Digest D(std::uint8_t b) {
  crypto::Sha256Digest d{};
  d.fill(b);
  return d;
}

JournalEntry Full() {
  JournalEntry e;
  e.state = AgentState::kInstalling;
  e.active_slot = 0;
  e.boot_attempts = 2;
  e.committed_security_counter = 7;
  JournalUpdate u;
  u.bundle = "/var/spool/uplift/update.upl";
  u.manifest_sha256 = D(1);
  u.version = "2.1.0+build.7";
  u.security_counter = 8;
  u.payload = "rootfs";
  u.target_slot = 1;
  u.kind = PayloadKind::kDelta;
  u.image_size = 65536;
  u.image_sha256 = D(2);
  u.delta_source_sha256 = D(3);
  u.arm_count = 1;
  u.progress.output_bytes = 16384;
  u.progress.delta_segment = 4;
  u.progress.download_url = "https://example.com/b.upl";
  u.progress.source_validator = "\"abc\"";
  u.progress.stored_offset = 9;
  u.progress.downloaded_bytes = 1;
  e.update = u;
  e.last_error =
      JournalError{"format", 19, "signature by key 12 does not verify", AgentState::kVerifying};
  e.slots[0] = SlotFacts{"2.0.0", 65536, D(3)};
  return e;
}

TEST(Journal, RoundTripsEveryField) {
  const JournalEntry e = Full();
  const auto bytes = EncodeJournal(e);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message();
  const auto back = ParseJournal(AsBytes(*bytes));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, e);
  // Canonical: encoding is a function of the value.
  EXPECT_EQ(*EncodeJournal(*back), *bytes);
}

TEST(Journal, RoundTripsFactoryState) {
  const JournalEntry e;
  const auto back = ParseJournal(AsBytes(*EncodeJournal(e)));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, e);
}

TEST(Journal, EveryStateNameRoundTrips) {
  for (std::size_t i = 0; i < kAgentStateCount; ++i) {
    const auto s = static_cast<AgentState>(i);
    EXPECT_EQ(ParseAgentState(AgentStateName(s)), s);
  }
  EXPECT_FALSE(ParseAgentState("bogus"));
}

TEST(Journal, RefusesUnknownSchemaVersion) {
  std::string text = *EncodeJournal(JournalEntry{});
  const auto pos = text.find("\"schema\":1");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 10, "\"schema\":2");
  const auto r = ParseJournal(AsBytes(text));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(JournalErrc::kUnsupportedSchema)) << r.error().message();
}

TEST(Journal, RefusesUnknownFieldsWrongTypesAndNonCanonical) {
  const std::string good = *EncodeJournal(Full());
  auto refuse = [](const std::string& text) {
    const auto r = ParseJournal(AsBytes(text));
    EXPECT_FALSE(r.ok()) << text;
    if (!r.ok()) {
      EXPECT_TRUE(r.error().Is(JournalErrc::kMalformed)) << r.error().message();
    }
  };
  std::string t = good;
  t.insert(1, "\"aaa\":1,");  // unknown field (sorted first, so still canonical)
  refuse(t);
  t = good;
  t.replace(t.find("\"boot_attempts\":2"), 17, "\"boot_attempts\":\"2\"");
  refuse(t);
  t = good;
  t.replace(t.find("\"target_slot\":\"B\""), 17, "\"target_slot\":\"C\"");
  refuse(t);
  t = good;
  t.replace(t.find("\"state\":\"installing\""), 20, "\"state\":\"exploding\"");
  refuse(t);
  refuse(" " + good);  // not canonical
  refuse(good.substr(0, good.size() - 1));
  refuse("[]");
  refuse(std::string(kMaxJournalSize + 1, ' '));
  refuse(std::string(200, '[') + std::string(200, ']'));
}

TEST(Journal, DeltaSourceOnlyForDeltas) {
  JournalEntry e = Full();
  e.update->kind = PayloadKind::kFull;  // but delta_source_sha256 still set
  const auto r = EncodeJournal(e);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().Is(JournalErrc::kMalformed));
}

TEST(Journal, InFlightStateNeedsUpdate) {
  JournalEntry e;
  e.state = AgentState::kTrialBoot;
  EXPECT_FALSE(EncodeJournal(e).ok());
}

TEST(Journal, OverlongAndBinaryErrorMessagesAreSanitised) {
  JournalEntry e;
  e.last_error = JournalError{"base", 1, std::string(5000, 'x') + "\xff\n", AgentState::kIdle};
  const auto bytes = EncodeJournal(e);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message();
  const auto back = ParseJournal(AsBytes(*bytes));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->last_error->message.size(), kMaxJournalMessage);
}

TEST(Journal, OverlongBundleLocationIsRefusedAtEncode) {
  JournalEntry e = Full();
  e.update->bundle = std::string(kMaxJournalLocation + 1, 'a');
  EXPECT_FALSE(EncodeJournal(e).ok());
}

}  // namespace
}  // namespace uplift::format
