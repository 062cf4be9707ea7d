// Tamper tests: a log written by the real AccessLog (with signed checkpoints every 10
// records), then altered in its SQLite file or in its JSON-lines export the way an insider
// would. `audit verify` (LogVerifier fed by FeedStoredLog, or by the export) must fail and
// name the entry; the untouched log must pass.
#include "audit/log_verifier.h"

#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "audit/access_log.h"
#include "audit/log_export.h"
#include "common/sqlite.h"
#include "google/protobuf/util/json_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using ::testing::HasSubstr;

constexpr int kRecords = 50;
constexpr int64_t kStartSeconds = 1760000000;

class LogVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/verify-" + std::to_string(getpid()) + ".db";
    RemoveFiles();
    auto signer = Ed25519Signer::Generate();
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = *std::move(signer);
    AccessLogOptions options;
    options.max_batch = 4;
    options.checkpoint_signer = signer_.get();
    options.checkpoint_every = 10;
    options.checkpoint_interval = absl::Hours(1);
    {
      auto log = AccessLog::Create(*OpenSqliteAccessLogStore(path_), "gw-1", options);
      ASSERT_TRUE(log.ok()) << log.status();
      for (int i = 0; i < kRecords; ++i) {
        v1::AccessRecord r;
        r.set_member(i % 2 ? "brussels-economy" : "urban-brussels");
        r.set_subject("0403.170.701");
        r.set_purpose("public-procurement");
        r.set_decision(v1::DECISION_ALLOW);
        r.set_reason("ALLOWED");
        r.add_categories_released("company.identity");
        r.mutable_time()->set_seconds(kStartSeconds + i);
        ASSERT_TRUE((*log)->AppendAndWait(r).ok());
      }
    }
    db_ = *SqliteDb::Open(path_, SqliteDb::Mode::kReadWrite);
  }
  void TearDown() override {
    db_.reset();
    RemoveFiles();
  }
  // The log, its query index file, and their WALs.
  void RemoveFiles() {
    for (const char* suffix : {"", "-wal", "-shm", ".index", ".index-wal", ".index-shm"}) {
      std::remove((path_ + suffix).c_str());
    }
  }

  absl::StatusOr<LogVerifyReport> VerifyStore() {
    auto store = OpenSqliteAccessLogStore(path_, StoreAccess::kReadOnly);
    if (!store.ok()) return store.status();
    LogVerifier verifier(signer_->public_key_pem());
    if (absl::Status s = FeedStoredLog(**store, "gw-1", verifier); !s.ok()) return s;
    return verifier.Finish();
  }

  // The log as JSON lines, as `onceonly audit export` writes it.
  std::vector<std::string> ExportLines() {
    auto store = *OpenSqliteAccessLogStore(path_, StoreAccess::kReadOnly);
    std::vector<std::string> lines;
    uint64_t start = 0;
    while (true) {
      auto page = ReadLogPage(*store, "gw-1", start, 7);  // odd page size: pages split checkpoints
      EXPECT_TRUE(page.ok()) << page.status();
      for (const v1::LogEntry& entry : page->entries) {
        std::string json;
        EXPECT_TRUE(google::protobuf::util::MessageToJsonString(entry, &json).ok());
        lines.push_back(json);
      }
      if (page->end) return lines;
      start = page->next_index;
    }
  }

  // The lines as `onceonly audit verify --file` reads them.
  absl::StatusOr<LogVerifyReport> VerifyLines(const std::vector<std::string>& lines) {
    LogVerifier verifier(signer_->public_key_pem());
    std::istringstream file(absl::StrJoin(lines, "\n"));
    if (absl::Status s = FeedExportLines(file, "export.jsonl", verifier); !s.ok()) return s;
    return verifier.Finish();
  }

  std::string Blob(const char* column, int index) {
    auto stmt = *db_->Prepare(absl::StrCat("SELECT ", column,
                                           " FROM access_log WHERE leaf_index = ?"));
    stmt.Bind(1, int64_t{index});
    EXPECT_TRUE(*stmt.Step());
    return stmt.ColumnText(0);
  }
  void SetBlob(const char* column, int index, const std::string& value) {
    auto stmt = *db_->Prepare(absl::StrCat("UPDATE access_log SET ", column,
                                           " = ? WHERE leaf_index = ?"));
    stmt.BindBlob(1, value).Bind(2, int64_t{index});
    ASSERT_TRUE(stmt.Run().ok());
  }

  std::string path_;
  std::unique_ptr<Ed25519Signer> signer_;
  std::unique_ptr<SqliteDb> db_;
};

TEST_F(LogVerifierTest, UntouchedLogVerifies) {
  auto report = VerifyStore();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->log_id, "gw-1");
  EXPECT_EQ(report->leaves, static_cast<uint64_t>(kRecords));
  EXPECT_EQ(report->records, static_cast<uint64_t>(kRecords));
  // Size 0 at creation, every 10 records, none extra at the clean stop (50 is covered).
  EXPECT_EQ(report->checkpoints, 6u);
  ASSERT_TRUE(report->latest_checkpoint.has_value());
  EXPECT_EQ(report->latest_checkpoint->tree_size(), static_cast<uint64_t>(kRecords));
  EXPECT_EQ(report->root, report->latest_checkpoint->root_hash());

  auto from_export = VerifyLines(ExportLines());
  ASSERT_TRUE(from_export.ok()) << from_export.status();
  EXPECT_EQ(from_export->root, report->root);
  EXPECT_EQ(from_export->checkpoints, 6u);
}

TEST_F(LogVerifierTest, EveryOneByteChangeOfAStoredRecordIsNamed) {
  const std::string original = Blob("record", 17);
  ASSERT_GT(original.size(), 20u);
  for (size_t i = 0; i < original.size(); ++i) {
    std::string altered = original;
    altered[i] ^= 0x20;
    SetBlob("record", 17, altered);
    auto report = VerifyStore();
    ASSERT_FALSE(report.ok()) << "byte " << i << " changed, yet the log verified";
    EXPECT_THAT(report.status().message(), HasSubstr("entry 17")) << "byte " << i;
  }
  SetBlob("record", 17, original);
  EXPECT_TRUE(VerifyStore().ok());
}

TEST_F(LogVerifierTest, ARecordRehashedToMatchIsCaughtByTheCheckpoint) {
  v1::AccessRecord record;
  ASSERT_TRUE(record.ParseFromString(Blob("record", 17)));
  record.set_member("someone-else");
  const std::string bytes = SerializeAccessRecord(record);
  SetBlob("record", 17, bytes);
  SetBlob("leaf_hash", 17, MerkleLeafHash(bytes));
  auto report = VerifyStore();
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("checkpoint of size 20"));
  EXPECT_THAT(report.status().message(), HasSubstr("entries 10 to 19"));
  // And the gateway refuses to serve (and sign) on top of it.
  db_.reset();
  auto log = AccessLog::Create(*OpenSqliteAccessLogStore(path_), "gw-1", 4);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(LogVerifierTest, ADamagedLeafHashStopsTheGatewayWithoutCrashingIt) {
  SetBlob("leaf_hash", 3, "short");
  db_.reset();
  auto log = AccessLog::Create(*OpenSqliteAccessLogStore(path_), "gw-1", 4);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(log.status().message(), HasSubstr("leaf 3 is damaged"));
  auto report = VerifyStore();
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("entry 3"));
}

TEST_F(LogVerifierTest, ADeletedRecordIsNamed) {
  ASSERT_TRUE(db_->Exec("DELETE FROM access_log WHERE leaf_index = 23").ok());
  auto report = VerifyStore();
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("entry 23 is missing"));
}

TEST_F(LogVerifierTest, RecordsDeletedAtTheEndAreNamed) {
  ASSERT_TRUE(db_->Exec("DELETE FROM access_log WHERE leaf_index >= 45").ok());
  auto report = VerifyStore();
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("entries from 45 on were deleted"));
}

TEST_F(LogVerifierTest, ARowOutsideEveryLogIsReported) {
  // A forged row slipped in behind the writer: queries would serve it, no log contains it.
  ASSERT_TRUE(db_->Exec("INSERT INTO access_log (log_id, leaf_index, time_micros, record, "
                        "leaf_hash) SELECT 'gw-forged', 0, time_micros, record, leaf_hash "
                        "FROM access_log WHERE leaf_index = 3")
                  .ok());
  auto report = VerifyStore();
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("1 stored row(s) belong to no log's leaves"));
}

TEST_F(LogVerifierTest, TwoReorderedRecordsAreNamed) {
  // Swap the rows' positions (their seq, next to each other), hashes and all.
  ASSERT_TRUE(db_->Exec("UPDATE access_log SET seq = -seq WHERE leaf_index = 30;"
                        "UPDATE access_log SET seq = seq - 1 WHERE leaf_index = 31;"
                        "UPDATE access_log SET seq = 1 - seq WHERE leaf_index = 30;")
                  .ok());
  auto report = VerifyStore();
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("entry 30"));
}

TEST_F(LogVerifierTest, AForgedCheckpointSignatureIsRefused) {
  ASSERT_TRUE(db_->Exec("UPDATE access_log_checkpoint SET signature = "
                        "zeroblob(64) WHERE tree_size = 30")
                  .ok());
  auto report = VerifyStore();
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("checkpoint of size 30"));
  EXPECT_THAT(report.status().message(), HasSubstr("signature"));
}

TEST_F(LogVerifierTest, ExportTamperingIsNamed) {
  const std::vector<std::string> lines = ExportLines();
  // Lines: checkpoint 0, then records with a checkpoint after every tenth.
  auto line_of = [&](int access_id) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].find(absl::StrCat("\"accessId\":\"", access_id, "\"")) != std::string::npos &&
          lines[i].find("\"record\"") != std::string::npos) {
        return i;
      }
    }
    ADD_FAILURE() << "no line for " << access_id;
    return size_t{0};
  };
  {
    std::vector<std::string> altered = lines;
    std::string& line = altered[line_of(13)];
    const size_t at = line.find("brussels-economy");
    ASSERT_NE(at, std::string::npos);
    line[at] = 'B';  // one byte
    auto report = VerifyLines(altered);
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(report.status().message(),
                HasSubstr(absl::StrCat("export.jsonl:", line_of(13) + 1, ": entry 13")));
  }
  {
    std::vector<std::string> altered = lines;
    altered.insert(altered.begin() + 2, "");  // blank lines are skipped, but counted
    const size_t record_4 = line_of(4) + 1;     // shifted by the blank line
    altered[record_4] = "{\"record\": 4}";
    auto report = VerifyLines(altered);
    ASSERT_FALSE(report.ok());
    EXPECT_THAT(report.status().message(),
                HasSubstr(absl::StrCat("export.jsonl:", record_4 + 1, ": not a log entry")));
  }
  {
    std::vector<std::string> altered = lines;
    altered.erase(altered.begin() + line_of(33));
    auto report = VerifyLines(altered);
    ASSERT_FALSE(report.ok());
    EXPECT_THAT(report.status().message(), HasSubstr("entry 33 is missing"));
  }
  {
    std::vector<std::string> altered = lines;
    std::swap(altered[line_of(5)], altered[line_of(6)]);
    auto report = VerifyLines(altered);
    ASSERT_FALSE(report.ok());
    EXPECT_THAT(report.status().message(), HasSubstr("entry 5"));
  }
}

TEST_F(LogVerifierTest, PrunedLogStillVerifiesAndHidesContent) {
  auto store = *OpenSqliteAccessLogStore(path_);
  ASSERT_TRUE(store->IndexPending(20).ok());  // part of what is pruned is indexed already
  auto pruned = store->Prune(absl::FromUnixSeconds(kStartSeconds + 25), 8);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 25u);
  auto report = VerifyStore();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->pruned, 25u);
  EXPECT_EQ(report->records, 25u);
  EXPECT_TRUE(VerifyLines(ExportLines()).ok());
  // Queries no longer find the pruned records, nor their subject.
  AccessQuery query;
  query.subject = "0403.170.701";
  query.limit = 1000;
  auto found = store->Query(query);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->records.size(), 25u);
  EXPECT_EQ(found->records.front().access_id(), 25u);
  // Nor does the subject index, now that it covers the rest: same answer.
  ASSERT_TRUE(store->IndexPending(1000).ok());
  found = store->Query(query);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->records.size(), 25u);
  // The query indexes live beside the log, in <log>.index.
  auto index = *SqliteDb::Open(path_ + ".index", SqliteDb::Mode::kReadOnly);
  auto leftover = *index->Prepare("SELECT COUNT(*) FROM access_log_by_subject");
  ASSERT_TRUE(*leftover.Step());
  EXPECT_EQ(leftover.ColumnInt(0), 25) << "a pruned record's subject stays in the index";
  // Their hashes still prove every past size: the gateway reopens on them.
  store.reset();
  EXPECT_TRUE(AccessLog::Create(*OpenSqliteAccessLogStore(path_), "gw-1", 4).ok());
}

TEST_F(LogVerifierTest, AnIndexFileLeftFromAnotherLogIsNotTrusted) {
  ASSERT_TRUE((*OpenSqliteAccessLogStore(path_))->IndexPending(1000).ok());  // covers 50 rows
  // The log is replaced (deleted, or restored from a backup); its index file stays behind.
  db_.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  {
    auto log = AccessLog::Create(*OpenSqliteAccessLogStore(path_), "gw-1", 4);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 3; ++i) {
      v1::AccessRecord r;
      r.set_member("actiris");
      r.set_subject("0552.627.113");
      r.mutable_time()->set_seconds(kStartSeconds + i);
      ASSERT_TRUE((*log)->AppendAndWait(r).ok());
    }
  }
  AccessQuery query;
  query.subject = "0552.627.113";
  for (StoreAccess access : {StoreAccess::kReadOnly, StoreAccess::kReadWrite}) {
    auto store = *OpenSqliteAccessLogStore(path_, access);
    auto found = store->Query(query);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->records.size(), 3u) << "the stale watermark hid the new log's records";
  }
}

TEST_F(LogVerifierTest, ARecentRecordErasedAsIfPrunedIsNamed) {
  // What retention does to a row, done to one in the middle of the log.
  ASSERT_TRUE(db_->Exec("UPDATE access_log SET record = NULL WHERE leaf_index = 41")
                  .ok());
  auto report = VerifyStore();
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("entry 41: its record was removed"));
  // The same in an export: a record line replaced by a pruned leaf with the right hash.
  // (The export reads the database, so it carries the erasure as a pruned entry.)
  auto from_export = VerifyLines(ExportLines());
  ASSERT_FALSE(from_export.ok());
  EXPECT_THAT(from_export.status().message(), HasSubstr("entry 41"));
}

TEST_F(LogVerifierTest, ALogSpanningAKeyRotationVerifiesWithBothKeys) {
  auto other = Ed25519Signer::Generate();
  ASSERT_TRUE(other.ok());
  auto store = *OpenSqliteAccessLogStore(path_, StoreAccess::kReadOnly);
  LogVerifier wrong_key((*other)->public_key_pem());
  EXPECT_FALSE(FeedStoredLog(*store, "gw-1", wrong_key).ok());
  LogVerifier both(std::vector<std::string>{(*other)->public_key_pem(),
                                            signer_->public_key_pem()});
  ASSERT_TRUE(FeedStoredLog(*store, "gw-1", both).ok());
  EXPECT_TRUE(both.Finish().ok());
}

TEST(SqliteAccessLogStoreTest, AnEarlierLayoutIsRefusedByName) {
  const std::string path = ::testing::TempDir() + "/old-layout-" + std::to_string(getpid()) + ".db";
  std::remove(path.c_str());
  {
    auto db = *SqliteDb::Open(path, SqliteDb::Mode::kReadWriteCreate);
    ASSERT_TRUE(db->Exec("CREATE TABLE access_log (log_id TEXT NOT NULL, leaf_index INTEGER NOT "
                         "NULL, record BLOB NOT NULL, PRIMARY KEY (log_id, leaf_index)) "
                         "WITHOUT ROWID")
                    .ok());
  }
  for (StoreAccess access : {StoreAccess::kReadWrite, StoreAccess::kReadOnly}) {
    auto store = OpenSqliteAccessLogStore(path, access);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(store.status().message(), HasSubstr(path));
    EXPECT_THAT(store.status().message(), HasSubstr("earlier onceonly layout"));
  }
  std::remove(path.c_str());
}

TEST_F(LogVerifierTest, TrustedCheckpointBeyondTheLogMeansDeletion) {
  auto store = *OpenSqliteAccessLogStore(path_, StoreAccess::kReadOnly);
  auto latest = *store->LatestCheckpoint("gw-1");
  ASSERT_TRUE(latest.has_value());
  // A thorough operator: the rows, the checkpoints beyond them and the span that locates them.
  ASSERT_TRUE(db_->Exec("DELETE FROM access_log WHERE leaf_index >= 40;"
                        "DELETE FROM access_log_checkpoint WHERE tree_size > 40;"
                        "UPDATE access_log_span SET leaves = 40")
                  .ok());
  // Without the auditor's own copy of the last checkpoint, truncation is invisible...
  EXPECT_TRUE(VerifyStore().ok());
  // ... with it, it is not.
  LogVerifier verifier(signer_->public_key_pem());
  ASSERT_TRUE(verifier.Trust(*latest).ok());
  ASSERT_TRUE(FeedStoredLog(*store, "gw-1", verifier).ok());
  auto report = verifier.Finish();
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(report.status().message(), HasSubstr("trusted checkpoint of size 50"));
}

// Queries page in write order with every filter, whether the member index has caught up with
// the writer or not (the unindexed tail is scanned): never a gap, never a repeat.
TEST_F(LogVerifierTest, QueryPagesInWriteOrderWithFiltersAcrossTheIndexWatermark) {
  auto reader = *OpenSqliteAccessLogStore(path_, StoreAccess::kReadOnly);
  auto indexer = *OpenSqliteAccessLogStore(path_);
  const std::vector<uint64_t> want = {11, 13, 15, 17, 19, 21, 23, 25, 27, 29};
  for (int indexed_upto : {0, 16, 50}) {  // none, part (16 more), all
    if (indexed_upto > 0) {
      ASSERT_TRUE(indexer->IndexPending(indexed_upto).ok());
    }
    AccessQuery query;
    query.member = "brussels-economy";
    query.from = absl::FromUnixSeconds(kStartSeconds + 10);
    query.until = absl::FromUnixSeconds(kStartSeconds + 30);
    query.limit = 4;
    std::vector<uint64_t> ids;
    while (true) {
      auto page = reader->Query(query);
      ASSERT_TRUE(page.ok()) << page.status();
      for (const auto& r : page->records) ids.push_back(r.access_id());
      if (page->records.size() < 4) break;
      query.after_position = page->last_position;
    }
    EXPECT_EQ(ids, want) << "indexed up to " << indexed_upto;
  }
  // The subject filter goes through its own index.
  AccessQuery by_subject;
  by_subject.subject = "0403.170.701";
  by_subject.decision = v1::DECISION_ALLOW;
  by_subject.limit = 1000;
  auto all = reader->Query(by_subject);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->records.size(), static_cast<size_t>(kRecords));
  by_subject.subject = "0403.170.702";
  EXPECT_TRUE(reader->Query(by_subject)->records.empty());
}

}  // namespace
}  // namespace onceonly
