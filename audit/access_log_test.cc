#include "audit/access_log.h"

#include "audit/merkle_verifier.h"
#include "audit/testing/fault_injecting_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

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
  auto failing = std::make_unique<FaultInjectingStore>(*OpenSqliteAccessLogStore(TempDbPath("fail")));
  FaultInjectingStore* store = failing.get();
  auto log = AccessLog::Create(std::move(failing), "gw", 8);
  ASSERT_TRUE(log.ok());
  store->fail_appends = true;
  absl::StatusOr<uint64_t> id = (*log)->AppendAndWait(Record("0403.170.701"));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnavailable);
  store->fail_appends = false;
  id = (*log)->AppendAndWait(Record("0403.170.701"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, 0u);  // the failed record took no index
  EXPECT_EQ((*log)->Read(0, 10)->size(), 1u);
}

TEST(AccessLogTest, SecondWriterOfTheSameLogIsRefused) {
  std::string path = TempDbPath("claim");
  auto first = AccessLog::Create(*OpenSqliteAccessLogStore(path), "gateway-1", 8);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = AccessLog::Create(*OpenSqliteAccessLogStore(path), "gateway-1", 8);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("instance_name"), absl::string_view::npos);
  // Another log id in the same database is fine, and so is the same one once released.
  EXPECT_TRUE(AccessLog::Create(*OpenSqliteAccessLogStore(path), "gateway-2", 8).ok());
  first->reset();
  EXPECT_TRUE(AccessLog::Create(*OpenSqliteAccessLogStore(path), "gateway-1", 8).ok());
}

// Ids are given at Append time; records queued behind a failed batch are renumbered (and
// re-serialized) so that the log stays gapless and each record's bytes carry its own index.
TEST(AccessLogTest, RecordsQueuedBehindAFailedBatchAreRenumbered) {
  std::string path = TempDbPath("renumber");
  auto failing = std::make_unique<FaultInjectingStore>(*OpenSqliteAccessLogStore(path));
  FaultInjectingStore* store = failing.get();
  auto log = AccessLog::Create(std::move(failing), "gw", 1);
  ASSERT_TRUE(log.ok());
  store->fail_appends = true;
  absl::Mutex mu;
  std::vector<absl::StatusOr<uint64_t>> results(6);
  int done = 0;
  for (int i = 0; i < 6; ++i) {
    (*log)->Append(Record("0403.170.701"), [&, i](absl::StatusOr<uint64_t> id) {
      store->fail_appends = false;  // only the first batch fails
      absl::MutexLock lock(&mu);
      results[i] = id;
      ++done;
    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(+[](int* n) { return *n == 6; }, &done));
  }
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kUnavailable);
  std::vector<uint64_t> ids;
  for (int i = 1; i < 6; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    ids.push_back(*results[i]);
  }
  EXPECT_EQ(ids, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  auto records = (*log)->Read(0, 10);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 5u);
  auto hashes = OpenSqliteAccessLogStore(path, StoreAccess::kReadOnly).value()->LeafHashes("gw");
  ASSERT_TRUE(hashes.ok());
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*records)[i].access_id(), i);
    EXPECT_EQ((*hashes)[i], MerkleLeafHash(SerializeAccessRecord((*records)[i])));
  }
}

TEST(AccessLogTest, RecoversWhenTheStoreHoldsMoreThanItThought) {
  std::string path = TempDbPath("recover");
  auto log = AccessLog::Create(*OpenSqliteAccessLogStore(path), "gw", 8);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->AppendAndWait(Record("0403.170.701")).ok());
  // A record at the next index appears behind the writer's back (e.g. a COMMIT reported as
  // failed that did reach the disk): the next append fails once, then the log carries on.
  {
    auto other = OpenSqliteAccessLogStore(path);
    ASSERT_TRUE(other.ok());
    v1::AccessRecord r = Record("0403.170.701");
    r.set_log_id("gw");
    r.set_access_id(1);
    ASSERT_TRUE((*other)->AppendBatch("gw", {PrepareRecord(r)}).ok());
  }
  EXPECT_EQ((*log)->AppendAndWait(Record("0403.170.701")).status().code(),
            absl::StatusCode::kUnavailable);
  absl::StatusOr<uint64_t> id = (*log)->AppendAndWait(Record("0403.170.701"));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 2u);
  EXPECT_EQ((*log)->TreeSize(), 3u);  // the tree caught up with the store too
}

TEST(AccessLogTest, TheLogIsAMerkleTreeOverItsRecordsAcrossRestarts) {
  const std::string path = TempDbPath("merkle");
  std::string root_at_5;
  {
    auto log = AccessLog::Create(*OpenSqliteAccessLogStore(path), "gw", 4);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->AppendAndWait(Record("0403.170.701")).ok());
    EXPECT_EQ((*log)->TreeSize(), 5u);
    root_at_5 = *(*log)->RootAt(5);
  }
  auto log = AccessLog::Create(*OpenSqliteAccessLogStore(path), "gw", 4);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->TreeSize(), 5u);
  EXPECT_EQ(*(*log)->RootAt(5), root_at_5);  // rebuilt from the stored leaf hashes
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*log)->AppendAndWait(Record("1029.028.161")).ok());

  // Recompute everything from the records themselves, as an auditor would.
  auto records = (*log)->Read(0, 100);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 9u);
  MerkleTree from_records;
  for (const auto& r : *records) from_records.AppendLeafHash(MerkleLeafHash(SerializeAccessRecord(r)));
  EXPECT_EQ(*from_records.RootAt(9), *(*log)->RootAt(9));
  for (uint64_t i = 0; i < 9; ++i) {
    auto proof = (*log)->InclusionProof(i, 9);
    ASSERT_TRUE(proof.ok());
    EXPECT_TRUE(VerifyInclusion(i, 9, MerkleLeafHash(SerializeAccessRecord((*records)[i])), *proof,
                                *(*log)->RootAt(9))
                    .ok());
  }
  auto consistency = (*log)->ConsistencyProof(5, 9);
  ASSERT_TRUE(consistency.ok());
  EXPECT_TRUE(VerifyConsistency(5, 9, root_at_5, *(*log)->RootAt(9), *consistency).ok());
}

TEST(AccessLogTest, ReadOnlyStoreRefusesAMissingFileAndCreatesNothing) {
  std::string path = TempDbPath("missing");
  auto store = OpenSqliteAccessLogStore(path, StoreAccess::kReadOnly);
  EXPECT_FALSE(store.ok());
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace onceonly
