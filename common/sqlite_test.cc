#include "common/sqlite.h"

#include <sys/stat.h>

#include <string>

#include "common/testing/file_mode.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(SqliteDbTest, ANewDatabaseAndItsWalAndShmAreOwnerOnlyWhateverTheUmask) {
  const std::string path = FreshTempDir("sqlite-mode") + "/store.db";
  ScopedUmask open_to_all(0);
  auto db = SqliteDb::Open(path, SqliteDb::Mode::kReadWriteCreate);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('secret')").ok());
  // The connection is open: WAL mode keeps both companions until it closes.
  EXPECT_EQ(FileMode(path), 0600);
  EXPECT_EQ(FileMode(path + "-wal"), 0600);
  EXPECT_EQ(FileMode(path + "-shm"), 0600);
}

TEST(SqliteDbTest, ARollbackJournalIsOwnerOnlyToo) {
  const std::string path = FreshTempDir("sqlite-journal") + "/import.db";
  ScopedUmask open_to_all(0);
  auto db = SqliteDb::Open(path, SqliteDb::Mode::kReadWriteCreate);
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Exec("PRAGMA journal_mode=DELETE; CREATE TABLE t (x TEXT)").ok());
  ASSERT_TRUE((*db)->Exec("BEGIN; INSERT INTO t VALUES ('a')").ok());
  // Spill to the file so that the journal is written now, not at COMMIT.
  ASSERT_TRUE((*db)
                  ->Exec("PRAGMA cache_spill = 1; INSERT INTO t SELECT hex(randomblob(4000)) "
                         "FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                         "WHERE i < 2000) SELECT i FROM n)")
                  .ok());
  EXPECT_EQ(FileMode(path + "-journal"), 0600);
  ASSERT_TRUE((*db)->Exec("COMMIT").ok());
}

TEST(SqliteDbTest, OpeningDoesNotCreateAMissingDatabaseUnlessAsked) {
  const std::string path = FreshTempDir("sqlite-missing") + "/nope.db";
  EXPECT_FALSE(SqliteDb::Open(path, SqliteDb::Mode::kReadWrite).ok());
  EXPECT_FALSE(SqliteDb::Open(path, SqliteDb::Mode::kReadOnly).ok());
  EXPECT_EQ(FileMode(path), -1);
}

TEST(SqliteDbTest, AnExistingDatabaseOthersCanReadIsNamedOnceAndStillOpened) {
  const std::string path = FreshTempDir("sqlite-wide") + "/audit.db";
  {
    auto db = SqliteDb::Open(path, SqliteDb::Mode::kReadWriteCreate);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec("CREATE TABLE t (x TEXT)").ok());
  }
  EXPECT_TRUE(CheckDatabaseIsPrivate(path).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);  // as an older version, or a hand, left it

  absl::Status check = CheckDatabaseIsPrivate(path);
  EXPECT_EQ(check.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(check.message(), HasSubstr(path + " has mode 0644"));
  EXPECT_THAT(check.message(), HasSubstr("chmod 600 " + path));

  ::testing::internal::CaptureStderr();
  auto first = SqliteDb::Open(path, SqliteDb::Mode::kReadWrite);
  const std::string said = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(said, HasSubstr("{\"event\":\"database_not_private\",\"path\":\"" + path + "\""));
  EXPECT_THAT(said, HasSubstr("chmod 600"));

  ::testing::internal::CaptureStderr();
  auto again = SqliteDb::Open(path, SqliteDb::Mode::kReadWrite);
  auto reader = SqliteDb::Open(path, SqliteDb::Mode::kReadOnly);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), IsEmpty());
  ASSERT_TRUE(again.ok() && reader.ok());
  EXPECT_EQ(FileMode(path), 0644) << "warned about, not changed";
}

}  // namespace
}  // namespace onceonly
