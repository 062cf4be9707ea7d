#include "audit/access_log.h"

#include "audit/merkle_verifier.h"
#include "audit/testing/fault_injecting_store.h"
#include "common/testing/file_mode.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/rich_status.h"
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

TEST(AccessLogTest, TheLogItsIndexAndItsLockAreOwnerOnlyWhateverTheUmask) {
  const std::string path = FreshTempDir("access-log-mode") + "/audit.db";
  ScopedUmask open_to_all(0);
  auto log = AccessLog::Create(*OpenSqliteAccessLogStore(path), "gw-1", 64);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->AppendAndWait(Record("1029.028.161")).ok());
  auto indexer = OpenSqliteAccessLogStore(path);
  ASSERT_TRUE(indexer.ok()) << indexer.status();
  ASSERT_TRUE((*indexer)->IndexPending(100).ok());
  for (const std::string& file : {path, path + "-wal", path + "-shm", path + ".index",
                                  path + ".index-wal", path + ".gw-1.writer-lock"}) {
    EXPECT_EQ(FileMode(file), 0600) << file;
  }
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

// The issue-14 guarantee: whatever bytes reach a string field of a record, what the log
// stores parses back, so no caller can make the log unreadable.
TEST(AccessLogTest, EveryStringFieldWithHostileBytesStillReadsBack) {
  const std::string path = TempDbPath("hostile-fields");
  auto log = AccessLog::Create(*OpenSqliteAccessLogStore(path), "gw", 64);
  ASSERT_TRUE(log.ok());
  const std::vector<std::string> hostile = {
      std::string(63, 'A') + "\xc3",      // a character cut in two at byte 64
      "\xff\xfe\xfd",                      // never UTF-8
      "ok\xed\xa0\x80",                    // a surrogate
      "\xc0\xaf",                           // an overlong '/'
      "\xf4\x90\x80\x80",                   // past U+10FFFF
      std::string("nul\0inside", 10),     // NUL (valid UTF-8: kept, and escaped on print)
      "CASE-1\r\nmember: audit-office",   // a forged line (valid UTF-8 as well)
      std::string(10000, '\x80'),          // long, and nothing but continuation bytes
  };
  const google::protobuf::Descriptor* d = v1::AccessRecord::descriptor();
  int appended = 0;
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->type() != google::protobuf::FieldDescriptor::TYPE_STRING) continue;
    for (const std::string& bytes : hostile) {
      v1::AccessRecord record = Record("1029.028.161");
      const google::protobuf::Reflection* r = record.GetReflection();
      if (f->is_repeated()) {
        r->AddString(&record, f, "company.identity");
        r->AddString(&record, f, bytes);
      } else {
        r->SetString(&record, f, bytes);
      }
      absl::StatusOr<uint64_t> id = (*log)->AppendAndWait(record);
      ASSERT_TRUE(id.ok()) << f->name() << ": " << id.status();
      ++appended;
    }
  }
  ASSERT_GT(appended, 15 * static_cast<int>(hostile.size()));
  // Every stored byte string parses: read as the store keeps it, not through the log.
  auto store = OpenSqliteAccessLogStore(path, StoreAccess::kReadOnly);
  ASSERT_TRUE(store.ok());
  auto leaves = (*store)->ReadLeaves("gw", 0, appended + 1);
  ASSERT_TRUE(leaves.ok());
  ASSERT_EQ(static_cast<int>(leaves->size()), appended);
  for (const StoredLeaf& leaf : *leaves) {
    v1::AccessRecord parsed;
    ASSERT_TRUE(leaf.record.has_value());
    EXPECT_TRUE(parsed.ParseFromString(*leaf.record)) << "record " << leaf.index;
  }
  auto read = (*store)->Read("gw", 0, appended);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(static_cast<int>(read->size()), appended);
  // Only bad bytes were replaced: the valid text around them is kept as sent.
  int cut = 0, forged_line = 0;
  for (const v1::AccessRecord& r : *read) {
    EXPECT_NE(r.reason(), std::string(kUnreadableRecordReason));
    if (r.subject() == std::string(63, 'A') + "\xef\xbf\xbd") ++cut;
    if (r.case_ref() == "CASE-1\r\nmember: audit-office") ++forged_line;
  }
  EXPECT_EQ(cut, 1);
  EXPECT_EQ(forged_line, 1);
}

// A log that cannot keep up refuses new records at once instead of queueing without bound;
// the refused callers release nothing.
TEST(AccessLogTest, AFullQueueRefusesAtOnce) {
  auto inner = OpenSqliteAccessLogStore(TempDbPath("full-queue"));
  ASSERT_TRUE(inner.ok());
  auto store = std::make_unique<FaultInjectingStore>(*std::move(inner));
  absl::Notification writing, release;
  std::atomic<bool> first{true};
  store->before_append = [&] {
    if (first.exchange(false)) {
      writing.Notify();
      release.WaitForNotification();  // the disk hangs on the first batch
    }
  };
  AccessLogOptions options;
  options.max_batch = 1;
  options.max_queued = 4;
  auto log = AccessLog::Create(std::move(store), "gw", options);
  ASSERT_TRUE(log.ok());
  absl::Mutex mu;
  std::vector<absl::StatusOr<uint64_t>> results;
  auto collect = [&](absl::StatusOr<uint64_t> id) {
    absl::MutexLock lock(&mu);
    results.push_back(std::move(id));
  };
  (*log)->Append(Record("0403.170.701"), collect);
  writing.WaitForNotification();  // the writer holds that one; the queue is empty again
  for (int i = 0; i < 4; ++i) (*log)->Append(Record("0403.170.701"), collect);
  absl::StatusOr<uint64_t> refused = uint64_t{0};
  (*log)->Append(Record("0403.170.701"),
                 [&](absl::StatusOr<uint64_t> id) { refused = std::move(id); });
  // Answered on the caller's thread, before the writer moved.
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorReason(refused.status()), "AUDIT_QUEUE_FULL");
  release.Notify();
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<absl::StatusOr<uint64_t>>* r) { return r->size() == 5; }, &results));
    for (const auto& id : results) EXPECT_TRUE(id.ok()) << id.status();
  }
  // Once the writer caught up, records are taken again.
  ASSERT_TRUE((*log)->AppendAndWait(Record("0403.170.701")).ok());
  EXPECT_EQ((*log)->TreeSize(), 6u);
}

TEST(AccessLogTest, ReadOnlyStoreRefusesAMissingFileAndCreatesNothing) {
  std::string path = TempDbPath("missing");
  auto store = OpenSqliteAccessLogStore(path, StoreAccess::kReadOnly);
  EXPECT_FALSE(store.ok());
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace onceonly
