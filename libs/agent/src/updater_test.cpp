// The update client loop against an in-process UpdateService (our own interface) on a simulated
// device: the full cycle, a failed health check, an unreachable or refusing server, and report
// batches the server refuses in part.
#include "uplift/agent/updater.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "agent_test_support.hpp"
#include "uplift/crypto/hash.hpp"

namespace uplift::agent {
namespace {

namespace fs = std::filesystem;
using testing::AgentRun;
using testing::kNow;
using testing::SimDevice;

class FakeService final : public UpdateService {
 public:
  std::optional<format::UpdateOffer> offer;
  std::optional<Error> checkin_error;
  std::optional<Error> reports_error;
  std::string poison;  // a report phase the server refuses (400)
  std::vector<format::Report> stored;
  std::vector<format::Inventory> checkins;

  Result<format::CheckinResponse> Checkin(const format::Inventory& inv) override {
    if (checkin_error) return *checkin_error;
    checkins.push_back(inv);
    return format::CheckinResponse{kNow, 300, offer};
  }
  Result<std::vector<std::string>> SendReports(const std::vector<format::Report>& rs) override {
    if (reports_error) return *reports_error;
    for (const auto& r : rs) {
      if (!poison.empty() && r.phase == poison) {
        return Error(base::Errc::kInvalidArgument, "400 bad_request");
      }
    }
    std::vector<std::string> ids;
    for (const auto& r : rs) {
      stored.push_back(r);
      ids.push_back(r.id);
    }
    return ids;
  }
  std::vector<std::string> Phases() const {
    std::vector<std::string> p;
    for (const auto& r : stored) p.push_back(r.phase + (r.result.empty() ? "" : "/" + r.result));
    return p;
  }
};

RandomBits Counter() {
  auto n = std::make_shared<std::uint64_t>(0);
  return [n] { return ++*n * 0x9e3779b97f4a7c15ULL; };
}

class UpdaterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "uplift-upd-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    v1_ = testing::Pattern(64 * 1024, 1);
    v2_ = testing::Evolve(v1_, 2);
    dev_.Factory(v1_);
    run_.bundles.push_back({"http://updates.example/v2.upl", testing::MakeBundle(v2_)});
    service_.offer = format::UpdateOffer{4,
                                         "sim",
                                         "2.0.0",
                                         "full",
                                         "http://updates.example/v2.upl",
                                         std::string(64, 'c'),
                                         1,
                                         ToHex(crypto::Sha256::Of(v2_))};
    options_.product = "sim";
    options_.factory_version = "1.0.0";
    options_.factory_image_sha256 = ToHex(crypto::Sha256::Of(v1_));
  }
  void TearDown() override { fs::remove_all(dir_); }

  // One boot of the device: recover, then one updater step.
  Step Boot(boot::Slot slot) {
    TransitionRelay relay;
    run_.trace = nullptr;
    Agent agent = run_.Make(dev_, slot);
    EXPECT_TRUE(agent.Load().ok());
    (void)agent.Recover();  // outcomes show in the journal, the updater reports them
    auto queue = ReportQueue::Open(store_, Counter());
    EXPECT_TRUE(queue.ok());
    Updater u(agent, service_, *queue, run_.clock, Counter(), options_);
    relay.Attach(&u);
    auto step = u.RunOnce();
    EXPECT_TRUE(step.ok());
    return step.ok() ? *step : Step{};
  }

  std::string dir_;
  SimDevice dev_{256 * 1024};
  AgentRun run_;
  FakeService service_;
  UpdaterOptions options_;
  storage::FileRecordStore store_{"/dev/null"};
  Bytes v1_, v2_;
};

TEST_F(UpdaterTest, FullCycleReportsEveryPhaseOnce) {
  store_ = storage::FileRecordStore(dir_ + "/reports");
  const Step s1 = Boot(boot::Slot::kA);
  EXPECT_EQ(s1.outcome, Step::Outcome::kInstalled) << s1.detail;
  EXPECT_EQ(service_.checkins.at(0).image_sha256, options_.factory_image_sha256);
  auto slot = dev_.Boot();
  ASSERT_TRUE(slot.ok());
  ASSERT_EQ(*slot, boot::Slot::kB);
  service_.offer.reset();
  const Step s2 = Boot(boot::Slot::kB);
  EXPECT_EQ(s2.outcome, Step::Outcome::kIdle) << s2.detail;
  EXPECT_EQ(service_.checkins.back().version, "2.0.0");
  const std::vector<std::string> want = {"downloading", "installing", "installed",
                                         "committed/success"};
  EXPECT_EQ(service_.Phases(), want);
  for (const auto& r : service_.stored) EXPECT_EQ(r.release_id, 4);
}

TEST_F(UpdaterTest, FailedHealthCheckIsReportedAsRollbackAndNotRetried) {
  store_ = storage::FileRecordStore(dir_ + "/reports");
  ASSERT_EQ(Boot(boot::Slot::kA).outcome, Step::Outcome::kInstalled);
  run_.health = [] { return Status(Error(base::Errc::kIo, "service did not start")); };
  auto slot = dev_.Boot();
  ASSERT_TRUE(slot.ok());
  Step s = Boot(*slot);
  // The trial failed: U-Boot is sent back to A; the next boot reports the rollback.
  for (int i = 0; i < 5 && service_.Phases().back() != "rolled_back/failure"; ++i) {
    slot = dev_.Boot();
    ASSERT_TRUE(slot.ok());
    s = Boot(*slot);
  }
  ASSERT_EQ(service_.Phases().back(), "rolled_back/failure");
  EXPECT_NE(service_.stored.back().reason.find("service did not start"), std::string::npos)
      << service_.stored.back().reason;
  // Still offered: not taken again.
  const Step again = Boot(boot::Slot::kA);
  EXPECT_EQ(again.outcome, Step::Outcome::kIdle);
  EXPECT_NE(again.detail.find("not retried"), std::string::npos) << again.detail;
}

TEST_F(UpdaterTest, UnreachableServerBacksOffAndRefusalWaitsLong) {
  store_ = storage::FileRecordStore(dir_ + "/reports");
  service_.checkin_error = Error(base::Errc::kUnavailable, "connection refused");
  std::vector<std::int64_t> waits;
  {
    Agent agent = run_.Make(dev_, boot::Slot::kA);
    ASSERT_TRUE(agent.Load().ok());
    auto queue = ReportQueue::Open(store_, Counter());
    ASSERT_TRUE(queue.ok());
    options_.min_backoff_seconds = 10;
    Updater u(agent, service_, *queue, run_.clock, Counter(), options_);
    for (int i = 0; i < 6; ++i) {
      auto s = u.RunOnce();
      ASSERT_TRUE(s.ok());
      EXPECT_EQ(s->outcome, Step::Outcome::kUnavailable);
      waits.push_back(s->next_run.count());
    }
    // Exponential with jitter in [base/2, base]: the 6th wait is beyond any of the first two.
    EXPECT_GE(waits[0], 5'000);
    EXPECT_LE(waits[0], 10'000);
    EXPECT_GT(waits[5], waits[1]);
    service_.checkin_error = Error(base::Errc::kIo, "401 unauthorized");
    auto refused = u.RunOnce();
    ASSERT_TRUE(refused.ok());
    EXPECT_EQ(refused->outcome, Step::Outcome::kRefused);
    EXPECT_GE(refused->next_run.count(), 3000 * 900);
  }
}

TEST_F(UpdaterTest, AReportTheServerRefusesIsDroppedAndDoesNotBlockTheOthers) {
  store_ = storage::FileRecordStore(dir_ + "/reports");
  service_.poison = "installing";
  ASSERT_EQ(Boot(boot::Slot::kA).outcome, Step::Outcome::kInstalled);
  const std::vector<std::string> want = {"downloading", "installed"};
  EXPECT_EQ(service_.Phases(), want);
  auto queue = ReportQueue::Open(store_, Counter());
  ASSERT_TRUE(queue.ok());
  EXPECT_EQ(queue->size(), 0u);
}

}  // namespace
}  // namespace uplift::agent
