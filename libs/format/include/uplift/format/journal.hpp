// The device agent's update journal: one record, replaced atomically (storage::RecordStore)
// before every state transition, so start-up recovery always knows what was being done.
// Encoding: canonical JSON (canonical_json.hpp), strict schema. Specification:
// docs/formats/journal.md. The state names are part of the schema; the transition table that
// moves between them lives in libs/agent (state_machine.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "uplift/base/bytes.hpp"
#include "uplift/base/result.hpp"
#include "uplift/crypto/hash.hpp"

namespace uplift::format {

inline constexpr int kJournalSchema = 1;
inline constexpr std::size_t kMaxJournalSize = 16 * 1024;
inline constexpr std::size_t kMaxJournalLocation = 2048;  // bundle path / URL
inline constexpr std::size_t kMaxJournalValidator = 256;
inline constexpr std::size_t kMaxJournalMessage = 1024;
inline constexpr std::size_t kMaxJournalShortString = 128;  // versions, payload names, domains

// Error codes of the journal codec; also `uplift-agent` exit codes (docs/agent.md).
enum class JournalErrc : int {
  kMalformed = 70,          // not canonical JSON, or not the journal schema
  kUnsupportedSchema = 71,  // a schema version this agent does not know (newer agent wrote it)
};

enum class AgentState : std::uint8_t {
  kIdle,
  kDownloading,
  kVerifying,
  kInstalling,
  kInstalled,  // slot written and read back; bootloader armed or about to be: awaiting reboot
  kTrialBoot,
  kCommitted,
  kRollingBack,
  kRolledBack,
  kFailed,
};
inline constexpr std::size_t kAgentStateCount = 10;

std::string_view AgentStateName(AgentState s);
std::optional<AgentState> ParseAgentState(std::string_view name);
// States in which no update is in flight: a new one may start, the slot in use is committed.
constexpr bool IsAtRest(AgentState s) {
  return s == AgentState::kIdle || s == AgentState::kCommitted || s == AgentState::kRolledBack ||
         s == AgentState::kFailed;
}

enum class PayloadKind : std::uint8_t { kFull, kDelta };

// 0 = slot A, 1 = slot B (boot::Slot has the same numbering; format does not depend on boot).
using SlotIndex = std::uint8_t;

struct SlotFacts {
  std::string version;
  std::uint64_t image_size = 0;
  crypto::Sha256Digest image_sha256{};
  friend bool operator==(const SlotFacts&, const SlotFacts&) = default;
};

// Restart points of an interrupted update.
struct JournalProgress {
  std::uint64_t output_bytes = 0;   // image bytes durable in the target slot (from its start)
  std::uint32_t delta_segment = 0;  // delta: segments complete (restart point)
  std::string download_url;         // the URL of a remote bundle (empty for a local file)
  // The bundle's version as its source named it (HTTP strong entity tag; for a file
  // inode-size-mtime): a resumed read must see the same one, or the update starts over.
  std::string source_validator;
  // Stored payload bytes (from the payload's start) that the output up to output_bytes was made
  // from: where a resumed read of the payload continues (a zstd frame start, a delta segment's
  // patch offset, or output_bytes for an uncompressed image).
  std::uint64_t stored_offset = 0;
  // Bytes fetched from the source for this update so far, all attempts (the data cap's count).
  std::uint64_t downloaded_bytes = 0;
  friend bool operator==(const JournalProgress&, const JournalProgress&) = default;
};

struct JournalUpdate {
  std::string bundle;  // local path (or, later, the download's spool file)
  crypto::Sha256Digest manifest_sha256{};
  std::string version;
  std::uint64_t security_counter = 0;
  std::string payload;  // payload name inside the bundle
  SlotIndex target_slot = 1;
  PayloadKind kind = PayloadKind::kFull;
  std::uint64_t image_size = 0;
  crypto::Sha256Digest image_sha256{};
  std::optional<crypto::Sha256Digest> delta_source_sha256;  // set iff kind == kDelta
  std::uint32_t arm_count = 0;  // trials armed for this update (breaks re-arm loops)
  JournalProgress progress;
  friend bool operator==(const JournalUpdate&, const JournalUpdate&) = default;
};

struct JournalError {
  std::string domain;
  std::int64_t code = 0;
  std::string message;
  AgentState state = AgentState::kIdle;  // the state it happened in
  friend bool operator==(const JournalError&, const JournalError&) = default;
};

struct JournalEntry {
  int schema = kJournalSchema;
  AgentState state = AgentState::kIdle;
  SlotIndex active_slot = 0;  // the committed (known good) slot
  // Start-ups in the current state of the current update; reset on every transition to another
  // state. Recovery gives up on a state (fails / rolls back) when it passes the configured limit.
  std::uint32_t boot_attempts = 0;
  std::uint64_t committed_security_counter = 0;  // anti-rollback floor
  std::optional<JournalUpdate> update;           // the current or last update
  std::optional<JournalError> last_error;
  std::array<std::optional<SlotFacts>, 2> slots;  // what each slot is known to hold
  friend bool operator==(const JournalEntry&, const JournalEntry&) = default;
};

// Canonical JSON bytes; fails (kMalformed) only for values the parser would refuse (too long
// strings, counters above 2^53 - 1), so the agent never stores what it cannot read back.
Result<std::string> EncodeJournal(const JournalEntry& entry);
// Strict: kMalformed for anything but the exact schema (unknown fields, wrong types, values out
// of range, bounds above), kUnsupportedSchema for another schema version.
Result<JournalEntry> ParseJournal(ByteView bytes);

}  // namespace uplift::format

UPLIFT_ERROR_DOMAIN(uplift::format::JournalErrc, "journal")
