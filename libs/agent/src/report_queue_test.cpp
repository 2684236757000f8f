#include "uplift/agent/report_queue.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "uplift/base/io.hpp"

namespace uplift::agent {
namespace {

namespace fs = std::filesystem;

RandomBits Counter() {
  auto n = std::make_shared<std::uint64_t>(0);
  return [n] { return ++*n * 0x9e3779b97f4a7c15ULL; };
}

format::Report Progress(int pct) {
  format::Report r;
  r.time = 1'790'000'000;
  r.release_id = 3;
  r.phase = "installing";
  r.progress = pct;
  return r;
}

class ReportQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "uplift-rq-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ReportQueueTest, SurvivesReopenAndAcksByIdOnly) {
  storage::FileRecordStore store(dir_ + "/reports");
  {
    auto q = ReportQueue::Open(store, Counter());
    ASSERT_TRUE(q.ok());
    QueueState s;
    s.current = UpdateContext{format::UpdateOffer{7, "fw", "2.0.0", "full", "http://x/a",
                                                  std::string(64, 'a'), 10, std::string(64, 'b')},
                              "downloading"};
    ASSERT_TRUE(q->Save(s, {Progress(0), Progress(50)}).ok());
  }
  auto q = ReportQueue::Open(store, Counter());
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 2u);
  ASSERT_TRUE(q->state().current.has_value());
  EXPECT_EQ(q->state().current->offer.release_id, 7);
  const auto pending = q->Pending(10);
  EXPECT_EQ(pending[1].progress, 50);
  EXPECT_EQ(pending[0].id.size(), 32u);
  ASSERT_TRUE(q->Ack({"no-such-id", pending[0].id}).ok());
  auto again = ReportQueue::Open(store, Counter());
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->Pending(10)[0].id, pending[1].id);
}

TEST_F(ReportQueueTest, BoundDropsOldProgressBeforeAnyFinalResult) {
  storage::FileRecordStore store(dir_ + "/reports");
  auto q = ReportQueue::Open(store, Counter());
  ASSERT_TRUE(q.ok());
  format::Report final_report = Progress(0);
  final_report.phase = "rolled_back";
  final_report.result = "failure";
  final_report.reason = "did not boot";
  ASSERT_TRUE(q->Push(final_report).ok());
  std::vector<format::Report> many;
  for (int i = 0; i < static_cast<int>(ReportQueue::kMaxReports) + 50; ++i) {
    many.push_back(Progress(i % 101));
  }
  ASSERT_TRUE(q->Save(q->state(), many).ok());
  ASSERT_TRUE(q->Push(Progress(100)).ok());
  EXPECT_LE(q->size(), ReportQueue::kMaxReports);
  EXPECT_GT(q->dropped(), 0u);
  const auto all = q->Pending(ReportQueue::kMaxReports);
  EXPECT_EQ(all.front().phase, "rolled_back") << "a final result was dropped before progress";
}

TEST_F(ReportQueueTest, CorruptRecordStartsEmptyAndSaysSo) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/reports", AsBytes("garbage")).ok());
  storage::FileRecordStore store(dir_ + "/reports");
  auto q = ReportQueue::Open(store, Counter());
  ASSERT_TRUE(q.ok()) << q.error().message();
  EXPECT_EQ(q->size(), 0u);
  EXPECT_FALSE(q->discarded().empty());
}

}  // namespace
}  // namespace uplift::agent
