#include "uplift/agent/report_queue.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "uplift/crypto/kdf.hpp"
#include "uplift/storage/device.hpp"

namespace uplift::agent {
namespace {

using Json = nlohmann::ordered_json;
constexpr int kQueueFormat = 1;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// The protocol's own codecs check every field, so the queue's record holds nothing the server
// would not take: offers and reports are stored in their wire form.
Json OfferJson(const format::UpdateOffer& offer) {
  return Json::parse(format::EncodeCheckinResponse({0, 1, offer}))["update"];
}

Result<format::UpdateOffer> OfferFrom(const Json& j) {
  Json wrapper;
  wrapper["server_time"] = 0;
  wrapper["poll_seconds"] = 1;
  wrapper["update"] = j;
  UPLIFT_ASSIGN(auto r, format::DecodeCheckinResponse(AsBytes(Dump(wrapper))));
  if (!r.update) return Error(format::Errc::kMalformedMessage, "no offer");
  return *r.update;
}

Json ReportJson(const format::Report& r) {
  return Json::parse(format::EncodeReports({r}))["reports"][0];
}

Result<format::Report> ReportFrom(const Json& j) {
  Json wrapper;
  wrapper["reports"] = Json::array({j});
  UPLIFT_ASSIGN(auto list, format::DecodeReports(AsBytes(Dump(wrapper))));
  return list.front();
}

std::string Encode(const QueueState& s, const std::vector<format::Report>& reports) {
  Json j;
  j["format"] = kQueueFormat;
  j["failed_release_id"] = s.failed_release_id;
  j["failed_attempts"] = s.failed_attempts;
  if (s.current) {
    j["current"] = {{"offer", OfferJson(s.current->offer)}, {"phase", s.current->phase}};
  }
  Json list = Json::array();
  for (const auto& r : reports) list.push_back(ReportJson(r));
  j["reports"] = std::move(list);
  return Dump(j);
}

struct Decoded {
  QueueState state;
  std::vector<format::Report> reports;
  std::uint64_t skipped = 0;
};

// Strict about the frame, lenient per report: one bad report costs itself, not the queue.
Result<Decoded> Decode(ByteView bytes) {
  const auto bad = [](const std::string& what) {
    return Error(format::Errc::kMalformedMessage, "report queue: " + what);
  };
  const Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (!j.contains("format") || j["format"] != kQueueFormat) return bad("unknown format");
  Decoded d;
  const auto& id = j.value("failed_release_id", Json());
  const auto& attempts = j.value("failed_attempts", Json());
  if (!id.is_number_integer() || !attempts.is_number_unsigned() ||
      attempts.get<std::uint64_t>() > 1'000'000) {
    return bad("failed_release_id / failed_attempts");
  }
  d.state.failed_release_id = id.get<std::int64_t>();
  d.state.failed_attempts = attempts.get<std::uint32_t>();
  if (j.contains("current")) {
    const Json& c = j["current"];
    if (!c.is_object() || !c.contains("offer") || !c.contains("phase") || !c["phase"].is_string() ||
        !format::IsValidReportPhase(c["phase"].get<std::string>())) {
      return bad("current");
    }
    auto offer = OfferFrom(c["offer"]);
    if (!offer.ok()) return bad("current.offer: " + offer.error().message());
    d.state.current = UpdateContext{std::move(offer).value(), c["phase"].get<std::string>()};
  }
  if (!j.contains("reports") || !j["reports"].is_array() ||
      j["reports"].size() > ReportQueue::kMaxReports) {
    return bad("reports must be an array of at most " + std::to_string(ReportQueue::kMaxReports));
  }
  for (const Json& r : j["reports"]) {
    auto report = ReportFrom(r);
    if (report.ok()) {
      d.reports.push_back(std::move(report).value());
    } else {
      d.skipped += 1;
    }
  }
  return d;
}

// Index of the report the bounds drop next: the oldest progress report, else the oldest.
std::size_t Victim(const std::vector<format::Report>& reports) {
  for (std::size_t i = 0; i < reports.size(); ++i) {
    if (!IsFinalPhase(reports[i].phase)) return i;
  }
  return 0;
}

}  // namespace

RandomBits SecureRandomBits() {
  return [] {
    auto b = crypto::RandomBytes(8);
    if (!b.ok()) std::abort();
    std::uint64_t v;
    std::memcpy(&v, b->data(), sizeof v);
    return v;
  };
}

bool IsFinalPhase(std::string_view phase) {
  return phase == "committed" || phase == "rolled_back" || phase == "failed";
}

Result<ReportQueue> ReportQueue::Open(storage::RecordStore& store, RandomBits random) {
  ReportQueue q(store, std::move(random));
  auto loaded = store.Load();
  if (!loaded.ok()) {
    if (!loaded.error().Is(storage::Errc::kRecordCorrupt)) return std::move(loaded).error();
    q.discarded_ = loaded.error().message();
    return q;
  }
  if (!*loaded) return q;
  auto decoded = Decode(**loaded);
  if (!decoded.ok()) {
    q.discarded_ = decoded.error().message();
    return q;
  }
  q.state_ = std::move(decoded->state);
  q.reports_ = std::move(decoded->reports);
  q.dropped_ = decoded->skipped;
  return q;
}

std::vector<format::Report> ReportQueue::Pending(std::size_t max) const {
  const std::size_t n = std::min(max, reports_.size());
  return {reports_.begin(), reports_.begin() + static_cast<std::ptrdiff_t>(n)};
}

std::string ReportQueue::NewId() const {
  std::uint8_t bytes[16];
  const std::uint64_t a = random_(), b = random_();
  std::memcpy(bytes, &a, 8);
  std::memcpy(bytes + 8, &b, 8);
  return ToHex(ByteView(bytes, sizeof bytes));
}

Status ReportQueue::Save(QueueState state, std::vector<format::Report> add) {
  std::vector<format::Report> reports = reports_;
  for (auto& r : add) {
    if (r.id.empty()) r.id = NewId();
    if (r.reason.size() > kMaxQueuedReason) r.reason.resize(kMaxQueuedReason);
    // A report the protocol would refuse is not queued: the server could never accept it.
    if (!ReportFrom(ReportJson(r)).ok()) {
      dropped_ += 1;
      continue;
    }
    reports.push_back(std::move(r));
  }
  return Write(state, std::move(reports));
}

Status ReportQueue::Ack(const std::vector<std::string>& ids) {
  std::vector<format::Report> left;
  for (const auto& r : reports_) {
    if (std::find(ids.begin(), ids.end(), r.id) == ids.end()) left.push_back(r);
  }
  if (left.size() == reports_.size()) return Ok();
  return Write(state_, std::move(left));
}

Status ReportQueue::Write(const QueueState& state, std::vector<format::Report> reports) {
  std::uint64_t dropped = 0;
  while (reports.size() > kMaxReports) {
    reports.erase(reports.begin() + static_cast<std::ptrdiff_t>(Victim(reports)));
    dropped += 1;
  }
  std::string bytes = Encode(state, reports);
  while (bytes.size() > kMaxRecordBytes && !reports.empty()) {
    reports.erase(reports.begin() + static_cast<std::ptrdiff_t>(Victim(reports)));
    dropped += 1;
    bytes = Encode(state, reports);
  }
  UPLIFT_TRY(store_->Store(AsBytes(bytes)));
  state_ = state;
  reports_ = std::move(reports);
  dropped_ += dropped;
  return Ok();
}

}  // namespace uplift::agent
