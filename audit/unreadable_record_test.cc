// A record that an older version let into the log with a string that is not UTF-8 (so that it
// does not parse) must not blind the log's readers, and the verifier must tell it apart from
// tampering: its bytes hash to the leaf the checkpoints bind, only what it said is lost.
#include <unistd.h>

#include <cstdio>

#include "audit/access_log.h"
#include "audit/log_export.h"
#include "audit/log_verifier.h"
#include "common/ed25519.h"
#include "common/sqlite.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

constexpr int kUnreadable = 1;  // leaf index of the bad record
constexpr int kRecords = 12;    // leaves in all

v1::AccessRecord Record(int index, const std::string& subject) {
  v1::AccessRecord r;
  r.set_log_id("gw-1");
  r.set_access_id(static_cast<uint64_t>(index));
  r.set_subject(subject);
  r.set_member("brussels-economy");
  r.set_purpose("public-procurement");
  r.set_decision(v1::DECISION_DENY);
  r.set_reason("UNKNOWN_MEMBER");
  r.mutable_time()->set_seconds(1760000000 + index);
  return r;
}

class UnreadableRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/unreadable-" + std::to_string(getpid()) + ".db";
    RemoveFiles();
    signer_ = *Ed25519Signer::Generate();
    // What the old version did: records prepared as they came, one of them with the number
    // cut at byte 64, in the middle of an e-acute.
    {
      auto store = OpenSqliteAccessLogStore(path_);
      ASSERT_TRUE(store.ok()) << store.status();
      std::vector<PreparedRecord> old;
      old.push_back(PrepareRecord(Record(0, "1029.028.161")));
      old.push_back(PrepareRecord(Record(kUnreadable, std::string(63, 'A') + "\xc3")));
      old.push_back(PrepareRecord(Record(2, "1029.028.161")));
      v1::AccessRecord check;
      ASSERT_FALSE(check.ParseFromString(old[kUnreadable].data));  // the bug, reproduced
      ASSERT_TRUE((*store)->AppendBatch("gw-1", old).ok());
    }
    // Then the log goes on under the current version, which signs checkpoints over it all.
    AccessLogOptions options;
    options.checkpoint_signer = signer_.get();
    options.checkpoint_every = 5;
    options.checkpoint_interval = absl::Hours(1);
    auto log = AccessLog::Create(*OpenSqliteAccessLogStore(path_), "gw-1", options);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 3; i < kRecords; ++i) {
      ASSERT_TRUE((*log)->AppendAndWait(Record(i, "0403.170.701")).ok());
    }
  }
  void TearDown() override { RemoveFiles(); }
  void RemoveFiles() {
    for (const char* suffix : {"", "-wal", "-shm", ".index", ".index-wal", ".index-shm",
                               ".gw-1.writer-lock"}) {
      std::remove((path_ + suffix).c_str());
    }
  }

  std::unique_ptr<AccessLogStore> Reader() {
    auto store = OpenSqliteAccessLogStore(path_, StoreAccess::kReadOnly);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  absl::StatusOr<LogVerifyReport> VerifyStore() {
    LogVerifier verifier(signer_->public_key_pem());
    RETURN_IF_ERROR(FeedStoredLog(*Reader(), "gw-1", verifier));
    return verifier.Finish();
  }

  // The log as `onceonly audit export` writes it, through JSON and back.
  absl::StatusOr<LogVerifyReport> VerifyExport(
      const std::function<void(v1::LogEntry&)>& alter = nullptr) {
    std::unique_ptr<AccessLogStore> store = Reader();
    LogVerifier verifier(signer_->public_key_pem());
    for (uint64_t start = 0;;) {
      absl::StatusOr<LogPage> page = ReadLogPage(*store, "gw-1", start, 5);
      if (!page.ok()) return page.status();
      for (const v1::LogEntry& entry : page->entries) {
        std::string json;
        EXPECT_TRUE(google::protobuf::util::MessageToJsonString(entry, &json).ok());
        v1::LogEntry back;
        EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok()) << json;
        if (alter && back.has_unreadable()) alter(back);
        if (absl::Status s = verifier.Add(back); !s.ok()) return s;
      }
      if (page->end) break;
      start = page->next_index;
    }
    return verifier.Finish();
  }

  void SetRecordBytes(int index, const std::string& bytes) {
    auto db = SqliteDb::Open(path_, SqliteDb::Mode::kReadWrite);
    ASSERT_TRUE(db.ok());
    auto stmt = *(*db)->Prepare("UPDATE access_log SET record = ? WHERE leaf_index = ?");
    stmt.BindBlob(1, bytes).Bind(2, int64_t{index});
    ASSERT_TRUE(stmt.Run().ok());
  }

  std::string path_;
  std::unique_ptr<Ed25519Signer> signer_;
};


TEST_F(UnreadableRecordTest, ReadersGoOnPastItWithAMarker) {
  std::unique_ptr<AccessLogStore> store = Reader();
  auto read = store->Read("gw-1", 0, kRecords);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), static_cast<size_t>(kRecords));
  const v1::AccessRecord& marker = (*read)[kUnreadable];
  EXPECT_EQ(marker.reason(), kUnreadableRecordReason);
  EXPECT_EQ(marker.access_id(), static_cast<uint64_t>(kUnreadable));
  EXPECT_EQ(marker.log_id(), "gw-1");
  EXPECT_EQ(marker.time().seconds(), 1760000000 + kUnreadable);
  EXPECT_EQ(marker.decision(), v1::DECISION_UNSPECIFIED);
  EXPECT_TRUE(marker.subject().empty());
  EXPECT_EQ((*read)[kUnreadable + 1].subject(), "1029.028.161");

  // A query that reaches it shows it and goes on, by the scan and by the subject index.
  AccessQuery all;
  all.limit = 100;
  auto found = store->Query(all);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->records.size(), static_cast<size_t>(kRecords));
  EXPECT_EQ(found->records[kUnreadable].reason(), kUnreadableRecordReason);
  ASSERT_TRUE(OpenSqliteAccessLogStore(path_).value()->IndexPending(1000).ok());
  AccessQuery by_member = all;
  by_member.member = "brussels-economy";
  found = store->Query(by_member);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->records.size(), static_cast<size_t>(kRecords));
  // A subject the bad bytes do not hold does not bring it up.
  AccessQuery other = all;
  other.subject = "0403.170.701";
  found = store->Query(other);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->records.size(), static_cast<size_t>(kRecords - 3));
  for (const auto& r : found->records) EXPECT_EQ(r.subject(), "0403.170.701");
}

TEST_F(UnreadableRecordTest, VerifyReportsItAsAFindingNotAsTampering) {
  absl::StatusOr<LogVerifyReport> report = VerifyStore();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->leaves, static_cast<uint64_t>(kRecords));
  EXPECT_EQ(report->records, static_cast<uint64_t>(kRecords - 1));
  EXPECT_EQ(report->unreadable, std::vector<uint64_t>{kUnreadable});
  EXPECT_GE(report->checkpoints, 2u);  // one covers the bad leaf

  report = VerifyExport();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->unreadable, std::vector<uint64_t>{kUnreadable});
}

TEST_F(UnreadableRecordTest, ItsBytesChangedAfterwardsAreAnAlteration) {
  std::string bytes = PrepareRecord(Record(kUnreadable, std::string(63, 'B') + "\xc3")).data;
  SetRecordBytes(kUnreadable, bytes);
  absl::StatusOr<LogVerifyReport> report = VerifyStore();
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("entry 1:"), absl::string_view::npos)
      << report.status();
  EXPECT_NE(report.status().message().find("altered"), absl::string_view::npos);
}

TEST_F(UnreadableRecordTest, AnExportThatRelabelsOrChangesItIsCaught) {
  // New bytes under the marker: they do not hash to the leaf.
  absl::StatusOr<LogVerifyReport> report = VerifyExport([](v1::LogEntry& entry) {
    entry.mutable_unreadable()->mutable_data()->back() ^= 1;
  });
  EXPECT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("entry 1:"), absl::string_view::npos)
      << report.status();
  // A record that parses, passed off as unreadable.
  report = VerifyExport([](v1::LogEntry& entry) {
    entry.mutable_unreadable()->set_data(
        SerializeAccessRecord(Record(kUnreadable, "1029.028.161")));
  });
  EXPECT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("marked unreadable, but its bytes parse"),
            absl::string_view::npos)
      << report.status();
}

}  // namespace
}  // namespace onceonly
