#include "audit/access_log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

// Wraps a real store and fails appends on demand (a full disk, a read-only file).
class FailingStore : public AccessLogStore {
 public:
  explicit FailingStore(std::unique_ptr<AccessLogStore> inner) : inner_(std::move(inner)) {}
  absl::StatusOr<uint64_t> Size(const std::string& id) override { return inner_->Size(id); }
  absl::Status AppendBatch(const std::vector<v1::AccessRecord>& records) override {
    if (fail_) return absl::UnavailableError("disk full (injected)");
    return inner_->AppendBatch(records);
  }
  absl::StatusOr<std::vector<v1::AccessRecord>> Read(const std::string& id, uint64_t from,
                                                     int limit) override {
    return inner_->Read(id, from, limit);
  }
  std::atomic<bool> fail_{false};

 private:
  std::unique_ptr<AccessLogStore> inner_;
};

std::string TempDbPath(const char* name) {
  std::string path = ::testing::TempDir() + "/" + name + "-" + std::to_string(getpid()) + ".db";
  std::remove(path.c_str());
  return path;
}

v1::AccessRecord Record(const std::string& subject) {
  v1::AccessRecord r;
  r.set_subject(subject);
  r.set_member("economy");
  r.set_purpose("public-procurement");
  r.set_decision(v1::DECISION_ALLOW);
  r.set_reason("ALLOWED");
  r.mutable_time()->set_seconds(1760000000);
  return r;
}

TEST(AccessLogTest, IndexesAreConsecutiveAndSurviveReopen) {
  std::string path = TempDbPath("access-log");
  {
    auto store = OpenSqliteAccessLogStore(path);
    ASSERT_TRUE(store.ok()) << store.status();
    auto log = AccessLog::Create(*std::move(store), "gw-1", 64);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<uint64_t> id = (*log)->AppendAndWait(Record("1029.028.161"));
      ASSERT_TRUE(id.ok()) << id.status();
      EXPECT_EQ(*id, static_cast<uint64_t>(i));
    }
  }
  auto log = AccessLog::Create(*OpenSqliteAccessLogStore(path), "gw-1", 64);
  ASSERT_TRUE(log.ok());
  absl::StatusOr<uint64_t> id = (*log)->AppendAndWait(Record("0403.170.701"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 3u);
  auto records = (*log)->Read(0, 10);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 4u);
  EXPECT_EQ((*records)[3].subject(), "0403.170.701");
  EXPECT_EQ((*records)[3].log_id(), "gw-1");
  EXPECT_EQ((*records)[3].access_id(), 3u);
}

TEST(AccessLogTest, ConcurrentAppendsAllCommitWithDistinctIds) {
  auto log = AccessLog::Create(*OpenSqliteAccessLogStore(TempDbPath("concurrent")), "gw", 16);
  ASSERT_TRUE(log.ok());
  constexpr int kCount = 500;
  absl::Mutex mu;
  std::vector<uint64_t> ids;
  absl::Notification all_done;
  for (int i = 0; i < kCount; ++i) {
    (*log)->Append(Record("0403.170.701"), [&](absl::StatusOr<uint64_t> id) {
      ASSERT_TRUE(id.ok());
      absl::MutexLock lock(&mu);
      ids.push_back(*id);
      if (ids.size() == kCount) all_done.Notify();
    });
  }
  all_done.WaitForNotification();
  std::sort(ids.begin(), ids.end());
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(ids[i], static_cast<uint64_t>(i));
}

TEST(AccessLogTest, FailedCommitIsUnavailableAndWritesNothing) {
  auto failing = std::make_unique<FailingStore>(*OpenSqliteAccessLogStore(TempDbPath("fail")));
  FailingStore* store = failing.get();
  auto log = AccessLog::Create(std::move(failing), "gw", 8);
  ASSERT_TRUE(log.ok());
  store->fail_ = true;
  absl::StatusOr<uint64_t> id = (*log)->AppendAndWait(Record("0403.170.701"));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnavailable);
  store->fail_ = false;
  id = (*log)->AppendAndWait(Record("0403.170.701"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 0u);  // the failed record took no index
  EXPECT_EQ((*log)->Read(0, 10)->size(), 1u);
}

}  // namespace
}  // namespace onceonly
