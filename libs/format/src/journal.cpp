#include "uplift/format/journal.hpp"

#include <algorithm>
#include <set>

#include "uplift/format/canonical_json.hpp"

namespace uplift::format {
namespace {

constexpr std::array<std::string_view, kAgentStateCount> kStateNames = {
    "idle",       "downloading", "verifying",    "installing",  "installed",
    "trial_boot", "committed",   "rolling_back", "rolled_back", "failed"};

Error Bad(const std::string& path, const std::string& what) {
  return Error(JournalErrc::kMalformed, "journal " + path + ": " + what);
}

std::string HexOf(const crypto::Sha256Digest& d) { return ToHex(d); }
std::string_view SlotName(SlotIndex s) { return s == 0 ? "A" : "B"; }

// A typed, path-aware view of one JSON object; every key must be one of `allowed`.
class Obj {
 public:
  static Result<Obj> Of(const Json& j, std::string path, std::set<std::string_view> allowed) {
    if (!j.is_object()) return Bad(path, "expected an object");
    for (const auto& [k, v] : j.items()) {
      if (!allowed.contains(k)) return Bad(path, "unknown field \"" + k + "\"");
    }
    return Obj(j, std::move(path));
  }

  bool Has(const char* key) const { return j_.contains(key); }
  std::string Path(const char* key) const { return path_ + "." + key; }

  Result<const Json*> Get(const char* key) const {
    const auto it = j_.find(key);
    if (it == j_.end()) return Bad(path_, std::string("missing field \"") + key + "\"");
    return &*it;
  }

  Result<std::string> String(const char* key, std::size_t max_len) const {
    UPLIFT_ASSIGN(const Json* v, Get(key));
    if (!v->is_string()) return Bad(Path(key), "expected a string");
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max_len) return Bad(Path(key), "longer than " + std::to_string(max_len));
    return s;
  }

  Result<std::uint64_t> Unsigned(const char* key, std::uint64_t max) const {
    UPLIFT_ASSIGN(const Json* v, Get(key));
    if (!v->is_number_unsigned()) return Bad(Path(key), "expected a non-negative integer");
    const auto n = v->get<std::uint64_t>();
    if (n > max) return Bad(Path(key), "above " + std::to_string(max));
    return n;
  }

  Result<crypto::Sha256Digest> Digest(const char* key) const {
    UPLIFT_ASSIGN(const std::string s, String(key, 64));
    const auto bytes = FromHex(s);
    const bool lower =
        std::none_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'F'; });
    if (!bytes || bytes->size() != 32 || !lower) {
      return Bad(Path(key), "expected 64 lower-case hex digits");
    }
    crypto::Sha256Digest d{};
    std::copy(bytes->begin(), bytes->end(), d.begin());
    return d;
  }

  Result<AgentState> State(const char* key) const {
    UPLIFT_ASSIGN(const std::string s, String(key, kMaxJournalShortString));
    const auto st = ParseAgentState(s);
    if (!st) return Bad(Path(key), "unknown state \"" + s + "\"");
    return *st;
  }

  Result<SlotIndex> Slot(const char* key) const {
    UPLIFT_ASSIGN(const std::string s, String(key, 1));
    if (s == "A") return SlotIndex{0};
    if (s == "B") return SlotIndex{1};
    return Bad(Path(key), "expected \"A\" or \"B\"");
  }

 private:
  Obj(const Json& j, std::string path) : j_(j), path_(std::move(path)) {}
  const Json& j_;
  std::string path_;
};

constexpr std::uint64_t kMaxInt = static_cast<std::uint64_t>(kMaxJsonInteger);
constexpr std::uint64_t kMaxU32 = 0xffffffffu;

Result<SlotFacts> ParseFacts(const Json& j, const std::string& path) {
  UPLIFT_ASSIGN(const Obj o, Obj::Of(j, path, {"version", "image_size", "image_sha256"}));
  SlotFacts f;
  UPLIFT_ASSIGN(f.version, o.String("version", kMaxJournalShortString));
  UPLIFT_ASSIGN(f.image_size, o.Unsigned("image_size", kMaxInt));
  UPLIFT_ASSIGN(f.image_sha256, o.Digest("image_sha256"));
  return f;
}

Result<JournalProgress> ParseProgress(const Json& j, const std::string& path) {
  UPLIFT_ASSIGN(const Obj o, Obj::Of(j, path,
                                     {"output_bytes", "delta_segment", "download_url",
                                      "source_validator", "stored_offset", "downloaded_bytes"}));
  JournalProgress p;
  UPLIFT_ASSIGN(p.output_bytes, o.Unsigned("output_bytes", kMaxInt));
  UPLIFT_ASSIGN(const std::uint64_t seg, o.Unsigned("delta_segment", kMaxU32));
  p.delta_segment = static_cast<std::uint32_t>(seg);
  UPLIFT_ASSIGN(p.download_url, o.String("download_url", kMaxJournalLocation));
  UPLIFT_ASSIGN(p.source_validator, o.String("source_validator", kMaxJournalValidator));
  UPLIFT_ASSIGN(p.stored_offset, o.Unsigned("stored_offset", kMaxInt));
  UPLIFT_ASSIGN(p.downloaded_bytes, o.Unsigned("downloaded_bytes", kMaxInt));
  return p;
}

Result<JournalUpdate> ParseUpdate(const Json& j, const std::string& path) {
  UPLIFT_ASSIGN(const Obj o,
                Obj::Of(j, path,
                        {"bundle", "manifest_sha256", "version", "security_counter", "payload",
                         "target_slot", "kind", "image_size", "image_sha256", "delta_source_sha256",
                         "arm_count", "progress"}));
  JournalUpdate u;
  UPLIFT_ASSIGN(u.bundle, o.String("bundle", kMaxJournalLocation));
  UPLIFT_ASSIGN(u.manifest_sha256, o.Digest("manifest_sha256"));
  UPLIFT_ASSIGN(u.version, o.String("version", kMaxJournalShortString));
  UPLIFT_ASSIGN(u.security_counter, o.Unsigned("security_counter", kMaxInt));
  UPLIFT_ASSIGN(u.payload, o.String("payload", kMaxJournalShortString));
  UPLIFT_ASSIGN(u.target_slot, o.Slot("target_slot"));
  UPLIFT_ASSIGN(const std::string kind, o.String("kind", 8));
  if (kind == "full") {
    u.kind = PayloadKind::kFull;
  } else if (kind == "delta") {
    u.kind = PayloadKind::kDelta;
  } else {
    return Bad(o.Path("kind"), "expected \"full\" or \"delta\"");
  }
  UPLIFT_ASSIGN(u.image_size, o.Unsigned("image_size", kMaxInt));
  UPLIFT_ASSIGN(u.image_sha256, o.Digest("image_sha256"));
  if (o.Has("delta_source_sha256")) {
    UPLIFT_ASSIGN(u.delta_source_sha256, o.Digest("delta_source_sha256"));
  }
  if (u.delta_source_sha256.has_value() != (u.kind == PayloadKind::kDelta)) {
    return Bad(path, "\"delta_source_sha256\" must be present exactly for kind \"delta\"");
  }
  UPLIFT_ASSIGN(const std::uint64_t arms, o.Unsigned("arm_count", kMaxU32));
  u.arm_count = static_cast<std::uint32_t>(arms);
  UPLIFT_ASSIGN(const Json* p, o.Get("progress"));
  UPLIFT_ASSIGN(u.progress, ParseProgress(*p, o.Path("progress")));
  return u;
}

Result<JournalError> ParseError(const Json& j, const std::string& path) {
  UPLIFT_ASSIGN(const Obj o, Obj::Of(j, path, {"domain", "code", "message", "state"}));
  JournalError e;
  UPLIFT_ASSIGN(e.domain, o.String("domain", kMaxJournalShortString));
  if (!std::all_of(e.domain.begin(), e.domain.end(),
                   [](char c) { return c >= 0x20 && c <= 0x7e; })) {
    return Bad(o.Path("domain"), "must be printable ASCII");
  }
  UPLIFT_ASSIGN(const Json* code, o.Get("code"));
  if (!code->is_number_integer()) return Bad(o.Path("code"), "expected an integer");
  e.code = code->get<std::int64_t>();
  if (e.code < -2147483648LL || e.code > 2147483647LL) {
    return Bad(o.Path("code"), "outside the 32-bit range");
  }
  UPLIFT_ASSIGN(e.message, o.String("message", kMaxJournalMessage));
  // The encoder writes messages as printable ASCII only; anything else was not written by it.
  if (!std::all_of(e.message.begin(), e.message.end(),
                   [](char c) { return c >= 0x20 && c <= 0x7e; })) {
    return Bad(o.Path("message"), "must be printable ASCII");
  }
  UPLIFT_ASSIGN(e.state, o.State("state"));
  return e;
}

Json FactsToJson(const SlotFacts& f) {
  return {{"version", f.version},
          {"image_size", f.image_size},
          {"image_sha256", HexOf(f.image_sha256)}};
}

Json UpdateToJson(const JournalUpdate& u) {
  const auto& p = u.progress;
  Json j = {{"bundle", u.bundle},
            {"manifest_sha256", HexOf(u.manifest_sha256)},
            {"version", u.version},
            {"security_counter", u.security_counter},
            {"payload", u.payload},
            {"target_slot", SlotName(u.target_slot)},
            {"kind", u.kind == PayloadKind::kFull ? "full" : "delta"},
            {"image_size", u.image_size},
            {"image_sha256", HexOf(u.image_sha256)},
            {"arm_count", u.arm_count},
            {"progress",
             {{"output_bytes", p.output_bytes},
              {"delta_segment", p.delta_segment},
              {"download_url", p.download_url},
              {"source_validator", p.source_validator},
              {"stored_offset", p.stored_offset},
              {"downloaded_bytes", p.downloaded_bytes}}}};
  if (u.delta_source_sha256) j["delta_source_sha256"] = HexOf(*u.delta_source_sha256);
  return j;
}

}  // namespace

std::string_view AgentStateName(AgentState s) {
  return kStateNames.at(static_cast<std::size_t>(s));
}

std::optional<AgentState> ParseAgentState(std::string_view name) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == name) return static_cast<AgentState>(i);
  }
  return std::nullopt;
}

Result<std::string> EncodeJournal(const JournalEntry& e) {
  Json j = {{"schema", e.schema},
            {"state", AgentStateName(e.state)},
            {"active_slot", SlotName(e.active_slot)},
            {"boot_attempts", e.boot_attempts},
            {"committed_security_counter", e.committed_security_counter},
            {"slots", Json::object()}};
  for (SlotIndex s = 0; s < 2; ++s) {
    if (e.slots[s]) j["slots"][std::string(SlotName(s))] = FactsToJson(*e.slots[s]);
  }
  if (e.update) j["update"] = UpdateToJson(*e.update);
  if (e.last_error) {
    const auto& err = *e.last_error;
    // Messages come from anywhere (paths, tool output): keep them printable ASCII and within
    // the bound instead of failing the journal write.
    std::string message = err.message.substr(0, kMaxJournalMessage);
    for (char& c : message) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    }
    std::string domain = err.domain.substr(0, kMaxJournalShortString);
    for (char& c : domain) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    }
    j["last_error"] = {{"domain", domain},
                       {"code", err.code},
                       {"message", message},
                       {"state", AgentStateName(err.state)}};
  }
  // The encoder never emits what the parser would refuse: parse the result back.
  std::string out = CanonicalJson(j);
  if (auto back = ParseJournal(AsBytes(out)); !back.ok()) {
    return std::move(back).error().Context("encoding journal");
  }
  return out;
}

Result<JournalEntry> ParseJournal(ByteView bytes) {
  if (bytes.size() > kMaxJournalSize) {
    return Bad("", "larger than " + std::to_string(kMaxJournalSize) + " bytes");
  }
  auto parsed = ParseCanonicalJson(bytes, 4);
  if (!parsed.ok()) return Bad("", parsed.error().message());
  const Json& j = *parsed;
  if (!j.is_object()) return Bad("", "expected an object");
  const auto schema = j.find("schema");
  if (schema == j.end() || !schema->is_number_unsigned()) {
    return Bad(".schema", "missing or not a non-negative integer");
  }
  if (schema->get<std::uint64_t>() != static_cast<std::uint64_t>(kJournalSchema)) {
    return Error(JournalErrc::kUnsupportedSchema,
                 "journal schema " + std::to_string(schema->get<std::uint64_t>()) +
                     " is not supported (this agent reads schema " +
                     std::to_string(kJournalSchema) + ")");
  }
  UPLIFT_ASSIGN(const Obj o,
                Obj::Of(j, "",
                        {"schema", "state", "active_slot", "boot_attempts",
                         "committed_security_counter", "slots", "update", "last_error"}));
  JournalEntry e;
  UPLIFT_ASSIGN(e.state, o.State("state"));
  UPLIFT_ASSIGN(e.active_slot, o.Slot("active_slot"));
  UPLIFT_ASSIGN(const std::uint64_t attempts, o.Unsigned("boot_attempts", kMaxU32));
  e.boot_attempts = static_cast<std::uint32_t>(attempts);
  UPLIFT_ASSIGN(e.committed_security_counter, o.Unsigned("committed_security_counter", kMaxInt));
  UPLIFT_ASSIGN(const Json* slots, o.Get("slots"));
  UPLIFT_ASSIGN(const Obj so, Obj::Of(*slots, ".slots", {"A", "B"}));
  for (SlotIndex s = 0; s < 2; ++s) {
    const std::string name(SlotName(s));
    if (so.Has(name.c_str())) {
      UPLIFT_ASSIGN(e.slots[s], ParseFacts((*slots)[name], ".slots." + name));
    }
  }
  if (o.Has("update")) {
    UPLIFT_ASSIGN(e.update, ParseUpdate(j["update"], ".update"));
  }
  if (o.Has("last_error")) {
    UPLIFT_ASSIGN(e.last_error, ParseError(j["last_error"], ".last_error"));
  }
  if (e.state != AgentState::kIdle && !IsAtRest(e.state) && !e.update) {
    return Bad(".update", std::string("required in state ") + std::string(AgentStateName(e.state)));
  }
  return e;
}

}  // namespace uplift::format
