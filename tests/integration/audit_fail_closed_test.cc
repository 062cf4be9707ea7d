// The gateway fails closed when its access log cannot be written: the caller gets UNAVAILABLE and
// no data, nothing of the failed call is in the log, and once the log is writable again allowed and
// denied calls are answered and logged as usual. Real failures, no fakes: another SQLite connection
// holding the write lock, and a file size limit (as a full disk would).
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/access_log_store.h"
#include "gtest/gtest.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "tests/integration/test_stack.h"

namespace onceonly {
namespace {

constexpr char kLogId[] = "gateway-1";
constexpr char kNonProfit[] = "1029.028.161";  // Cap Horizons ASBL

// Another connection holding the access log's write lock. In WAL mode readers go on; the gateway's
// writer waits for its busy timeout (5 s, common/sqlite.cc), then gets SQLITE_BUSY.
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) return;
    sqlite3_busy_timeout(db_, 5000);  // the gateway may be committing right now
    held_ = sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~WriteLock() { Release(); }
  bool held() const { return held_; }
  void Release() {
    if (held_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    held_ = false;
    sqlite3_close(db_);
    db_ = nullptr;
  }

 private:
  sqlite3* db_ = nullptr;
  bool held_ = false;
};

// RLIMIT_FSIZE = 0 for the whole process while it lives: every write to a regular file fails with
// EFBIG (SIGXFSZ ignored), as on a full disk. Unprivileged, unlike a full tmpfs.
class NoFileWrites {
 public:
  NoFileWrites() {
    struct sigaction ignore = {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &ignore, &old_action_);
    getrlimit(RLIMIT_FSIZE, &old_limit_);
    struct rlimit none = old_limit_;
    none.rlim_cur = 0;
    active_ = setrlimit(RLIMIT_FSIZE, &none) == 0;
  }
  ~NoFileWrites() {
    setrlimit(RLIMIT_FSIZE, &old_limit_);
    sigaction(SIGXFSZ, &old_action_, nullptr);
  }
  bool active() const { return active_; }

 private:
  struct sigaction old_action_ = {};
  struct rlimit old_limit_ = {};
  bool active_ = false;
};

class AuditFailClosedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack =
        TestStack::Create(::testing::TempDir() + "/audit-fail-closed-" + std::to_string(getpid()),
                          absl::FromUnixSeconds(1767225600));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
  }

  // A failed run keeps its directory (the gateway's logs are there).
  void TearDown() override {
    if (stack_ == nullptr || HasFailure()) return;
    const std::string dir = stack_->dir();
    stack_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  // GetDossier as brussels-economy for kNonProfit, tagged with `request_id` (kept in the record).
  // {"company.identity"} is granted; "tax.details" is not (a logged denial).
  RichStatus Call(const std::string& request_id, std::vector<std::string> categories,
                  absl::Duration deadline, v1::Dossier* dossier) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    context.AddMetadata("x-request-id", request_id);
    context.AddMetadata("x-onceonly-case-ref", "ECO/2025/42");
    context.AddMetadata("x-onceonly-user", "u-7f3a");
    return Details(v1::DossierService::NewStub(stack_->Channel("brussels-economy"))
                       ->GetDossier(&context,
                                    TestStack::Request(kNonProfit, "public-procurement",
                                                       std::move(categories)),
                                    dossier));
  }
  RichStatus Allowed(const std::string& request_id, absl::Duration deadline, v1::Dossier* dossier) {
    return Call(request_id, {"company.identity"}, deadline, dossier);
  }
  RichStatus Denied(const std::string& request_id, absl::Duration deadline, v1::Dossier* dossier) {
    return Call(request_id, {"company.identity", "tax.details"}, deadline, dossier);
  }

  // Request ids of the records from `from` to the end of the log.
  std::map<std::string, v1::AccessRecord> RecordsFrom(uint64_t from) {
    std::map<std::string, v1::AccessRecord> out;
    auto store =
        OpenSqliteAccessLogStore(stack_->config().audit().sqlite_path(), StoreAccess::kReadOnly);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return out;
    auto records = (*store)->Read(kLogId, from, 1000);
    EXPECT_TRUE(records.ok()) << records.status();
    if (!records.ok()) return out;
    for (v1::AccessRecord& r : *records) out[r.request_id()] = std::move(r);
    return out;
  }

  uint64_t LogSize() {
    auto size = stack_->LogSize();
    EXPECT_TRUE(size.ok()) << size.status();
    return size.ok() ? *size : 0;
  }

  // What a caller must see when the log cannot be written: UNAVAILABLE and not a byte of data.
  static void ExpectNothingReleased(const RichStatus& r, const v1::Dossier& dossier,
                                    const char* which) {
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << which << ": " << r.status.error_message();
    EXPECT_TRUE(absl::StrContains(r.status.error_message(), "access log"))
        << which << ": " << r.status.error_message();
    ExpectEmpty(dossier, which);
  }
  static void ExpectEmpty(const v1::Dossier& dossier, const char* which) {
    EXPECT_FALSE(dossier.has_company()) << which;
    EXPECT_EQ(dossier.company().denominations_size(), 0) << which;
    EXPECT_FALSE(dossier.has_permits() || dossier.has_tax()) << which;
    EXPECT_EQ(dossier.sources_size(), 0) << which;
    EXPECT_FALSE(dossier.has_access_id()) << which;
    EXPECT_EQ(dossier.ByteSizeLong(), 0u) << which << ": " << dossier.ShortDebugString();
  }

  // After a failure: an allowed and a denied call are answered and logged again, right after the
  // records already there; the failed calls left nothing.
  void ExpectRecovered(uint64_t size_before, const std::vector<std::string>& failed) {
    v1::Dossier dossier;
    RichStatus allowed = Allowed("after-allowed", absl::Seconds(10), &dossier);
    ASSERT_TRUE(allowed.status.ok()) << allowed.status.error_message();
    ASSERT_TRUE(dossier.has_access_id());
    EXPECT_EQ(dossier.company().enterprise_number(), kNonProfit);
    EXPECT_GE(dossier.access_id(), size_before);
    v1::Dossier none;
    RichStatus denied = Denied("after-denied", absl::Seconds(10), &none);
    ASSERT_EQ(denied.status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << denied.status.error_message();
    EXPECT_EQ(denied.info.reason(), "CATEGORY_NOT_GRANTED");
    ASSERT_TRUE(denied.info.metadata().count("access_id")) << "the denial was not logged";
    uint64_t denied_id = 0;
    ASSERT_TRUE(absl::SimpleAtoi(denied.info.metadata().at("access_id"), &denied_id));

    std::map<std::string, v1::AccessRecord> records = RecordsFrom(size_before);
    for (const std::string& id : failed) {
      EXPECT_EQ(records.count(id), 0u) << "the failed call " << id << " is in the log";
    }
    ASSERT_EQ(records.count("after-allowed"), 1u);
    EXPECT_EQ(records["after-allowed"].access_id(), dossier.access_id());
    EXPECT_EQ(records["after-allowed"].decision(), v1::DECISION_ALLOW);
    ASSERT_EQ(records.count("after-denied"), 1u);
    EXPECT_EQ(records["after-denied"].access_id(), denied_id);
    EXPECT_EQ(records["after-denied"].decision(), v1::DECISION_DENY);
    EXPECT_EQ(LogSize(), denied_id + 1);
  }

  std::unique_ptr<TestStack> stack_;
};

TEST_F(AuditFailClosedTest, ALockedLogReleasesNothingAndNothingOfTheCallIsLogged) {
  v1::Dossier first;
  ASSERT_TRUE(Allowed("before", absl::Seconds(10), &first).status.ok());
  const uint64_t size_before = LogSize();
  ASSERT_EQ(size_before, first.access_id() + 1);

  WriteLock lock(stack_->config().audit().sqlite_path());
  ASSERT_TRUE(lock.held());
  // A deadline beyond the gateway's 5 s busy timeout, so that the answer is the gateway's and not
  // the caller's own deadline. (Denials fail closed too: see the full-disk case, which is quicker.)
  v1::Dossier locked_dossier;
  const absl::Time started = absl::Now();
  RichStatus locked = Allowed("locked-allowed", absl::Seconds(20), &locked_dossier);
  std::cerr << "answered in " << absl::FormatDuration(absl::Now() - started)
            << " while the log was locked\n";
  ExpectNothingReleased(locked, locked_dossier, "allowed call");
  EXPECT_EQ(LogSize(), size_before);  // readers are not blocked in WAL mode

  // A caller whose deadline is shorter than the busy timeout gives up first: no data either. (Its
  // record may still be committed once the lock goes: logged but never delivered is the safe
  // direction, so it is not asserted either way.)
  v1::Dossier impatient;
  RichStatus r = Allowed("locked-impatient", absl::Seconds(1), &impatient);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << r.status.error_message();
  ExpectEmpty(impatient, "impatient call");

  lock.Release();
  ExpectRecovered(size_before, {"locked-allowed"});
}

TEST_F(AuditFailClosedTest, AFullDiskReleasesNothingAndNothingOfTheCallIsLogged) {
  v1::Dossier first;
  ASSERT_TRUE(Allowed("before", absl::Seconds(10), &first).status.ok());
  const uint64_t size_before = LogSize();

  v1::Dossier allowed_dossier, denied_dossier;
  RichStatus allowed, denied;
  {
    NoFileWrites full;
    ASSERT_TRUE(full.active());
    allowed = Allowed("full-allowed", absl::Seconds(10), &allowed_dossier);
    denied = Denied("full-denied", absl::Seconds(10), &denied_dossier);
  }
  ExpectNothingReleased(allowed, allowed_dossier, "allowed call");
  ExpectNothingReleased(denied, denied_dossier, "denied call");
  EXPECT_EQ(LogSize(), size_before);

  ExpectRecovered(size_before, {"full-allowed", "full-denied"});
}

}  // namespace
}  // namespace onceonly
