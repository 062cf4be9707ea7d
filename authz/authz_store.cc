#include "authz/authz_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/sqlite.h"
#include "common/proto_time.h"
#include "common/rich_status.h"
#include "common/status_macros.h"

namespace onceonly {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS registration (
  id      TEXT PRIMARY KEY,
  member  TEXT NOT NULL,
  subject TEXT NOT NULL,
  purpose TEXT NOT NULL,
  record  BLOB NOT NULL          -- protobuf onceonly.v1.Registration
);
CREATE TABLE IF NOT EXISTS consent (
  id      TEXT PRIMARY KEY,
  subject TEXT NOT NULL,
  grantee TEXT NOT NULL,
  purpose TEXT NOT NULL,
  record  BLOB NOT NULL          -- protobuf onceonly.v1.Consent
);
)sql";

std::string Key(absl::string_view a, absl::string_view b, absl::string_view c) {
  return absl::StrCat(a, absl::string_view("\0", 1), b, absl::string_view("\0", 1), c);
}

// The same key in a caller's buffer, so that a lookup allocates nothing; empty if too long.
absl::string_view KeyInBuffer(absl::string_view a, absl::string_view b, absl::string_view c,
                              char* buffer, size_t size) {
  const size_t length = a.size() + b.size() + c.size() + 2;
  if (length > size) return absl::string_view();
  char* p = buffer;
  p = std::copy(a.begin(), a.end(), p);
  *p++ = '\0';
  p = std::copy(b.begin(), b.end(), p);
  *p++ = '\0';
  std::copy(c.begin(), c.end(), p);
  return absl::string_view(buffer, length);
}

bool InForce(const google::protobuf::Timestamp& from, const google::protobuf::Timestamp& until,
             bool stopped, absl::Time now) {
  return !stopped && FromProto(from) <= now && now < FromProto(until);
}

// "reg-000042" -> 42; 0 if the id has another shape.
int64_t IdNumber(absl::string_view id) {
  size_t dash = id.find('-');
  int64_t n = 0;
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(id.substr(dash + 1), &n)) return 0;
  return n;
}

}  // namespace

AuthzStore::AuthzStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
AuthzStore::~AuthzStore() {
  if (lock_fd_ >= 0) close(lock_fd_);
}

absl::StatusOr<std::unique_ptr<AuthzStore>> AuthzStore::Open(const std::string& sqlite_path) {
  // One gateway per store: each keeps the store in memory and allocates ids itself, so a
  // second writer would miss the first one's revocations. The kernel drops the lock with
  // the process, so a crash never blocks a restart.
  const std::string lock_path = sqlite_path + ".writer-lock";
  int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot create ", lock_path, ": ",
                                               std::strerror(errno)));
  }
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    close(lock_fd);
    return absl::FailedPreconditionError(absl::StrCat(
        sqlite_path, " is used by another gateway; give each gateway its own authz_store"));
  }
  ASSIGN_OR_RETURN(auto db, SqliteDb::Open(sqlite_path, SqliteDb::Mode::kReadWriteCreate));
  RETURN_IF_ERROR(db->Exec(kSchema));
  std::unique_ptr<AuthzStore> store(new AuthzStore(std::move(db)));
  store->lock_fd_ = lock_fd;
  RETURN_IF_ERROR(store->Load());
  return store;
}

absl::Status AuthzStore::Load() {
  absl::MutexLock write(&write_mu_);
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto regs, db_->Prepare("SELECT id, record FROM registration ORDER BY rowid"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, regs.Step());
    if (!row) break;
    auto r = std::make_shared<v1::Registration>();
    if (!r->ParseFromString(regs.ColumnText(1))) {
      return absl::DataLossError(absl::StrCat(db_->path(), ": registration ", regs.ColumnText(0),
                                              " does not parse"));
    }
    next_registration_ = std::max(next_registration_, IdNumber(r->registration_id()) + 1);
    Index(std::move(r));
  }
  ASSIGN_OR_RETURN(auto cons, db_->Prepare("SELECT id, record FROM consent ORDER BY rowid"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, cons.Step());
    if (!row) break;
    auto c = std::make_shared<v1::Consent>();
    if (!c->ParseFromString(cons.ColumnText(1))) {
      return absl::DataLossError(
          absl::StrCat(db_->path(), ": consent ", cons.ColumnText(0), " does not parse"));
    }
    next_consent_ = std::max(next_consent_, IdNumber(c->consent_id()) + 1);
    Index(std::move(c));
  }
  return absl::OkStatus();
}

void AuthzStore::Index(RegistrationPtr r) {
  std::shared_ptr<const AccessFacts>& slot = facts_[Key(r->member(), r->subject(), r->purpose())];
  auto facts = slot ? std::make_shared<AccessFacts>(*slot) : std::make_shared<AccessFacts>();
  auto it = registrations_by_id_.find(r->registration_id());
  if (it != registrations_by_id_.end()) {
    std::replace(facts->registrations.begin(), facts->registrations.end(), it->second, r);
    it->second = r;
  } else {
    facts->registrations.push_back(r);
    registrations_by_id_.emplace(r->registration_id(), r);
  }
  slot = std::move(facts);
}

void AuthzStore::Index(ConsentPtr c) {
  std::shared_ptr<const AccessFacts>& slot =
      facts_[Key(c->grantee_member(), c->subject(), c->purpose())];
  auto facts = slot ? std::make_shared<AccessFacts>(*slot) : std::make_shared<AccessFacts>();
  std::vector<ConsentPtr>& by_subject = consents_by_subject_[c->subject()];
  auto it = consents_by_id_.find(c->consent_id());
  if (it != consents_by_id_.end()) {
    std::replace(facts->consents.begin(), facts->consents.end(), it->second, c);
    std::replace(by_subject.begin(), by_subject.end(), it->second, c);
    it->second = c;
  } else {
    facts->consents.push_back(c);
    by_subject.push_back(c);
    consents_by_id_.emplace(c->consent_id(), c);
  }
  slot = std::move(facts);
}

// New records are INSERTed (a clash is an error, never an overwrite); changes UPDATE the row
// in place, so rowid order stays the order of creation.
absl::Status AuthzStore::Persist(const v1::Registration& r, bool is_new) {
  ASSIGN_OR_RETURN(auto stmt,
                   db_->Prepare(is_new ? "INSERT INTO registration "
                                         "(record, id, member, subject, purpose) "
                                         "VALUES (?, ?, ?, ?, ?)"
                                       : "UPDATE registration SET record = ? WHERE id = ?"));
  stmt.BindBlob(1, r.SerializeAsString()).Bind(2, r.registration_id());
  if (is_new) stmt.Bind(3, r.member()).Bind(4, r.subject()).Bind(5, r.purpose());
  return stmt.Run();
}

absl::Status AuthzStore::Persist(const v1::Consent& c, bool is_new) {
  ASSIGN_OR_RETURN(auto stmt,
                   db_->Prepare(is_new ? "INSERT INTO consent "
                                         "(record, id, subject, grantee, purpose) "
                                         "VALUES (?, ?, ?, ?, ?)"
                                       : "UPDATE consent SET record = ? WHERE id = ?"));
  stmt.BindBlob(1, c.SerializeAsString()).Bind(2, c.consent_id());
  if (is_new) stmt.Bind(3, c.subject()).Bind(4, c.grantee_member()).Bind(5, c.purpose());
  return stmt.Run();
}

absl::StatusOr<v1::Registration> AuthzStore::AddRegistration(v1::Registration r, absl::Time now,
                                                             int max_open) {
  absl::MutexLock write(&write_mu_);
  if (max_open > 0) {
    // Under write_mu_: no other registration can be added between the count and the insert.
    int open = 0;
    std::shared_ptr<const AccessFacts> facts = Facts(r.member(), r.subject(), r.purpose());
    for (const RegistrationPtr& existing : facts->registrations) {
      if (!existing->has_ended_at() && now < FromProto(existing->valid_until())) ++open;
    }
    if (open >= max_open) {
      return ErrorWithReason(
          absl::StatusCode::kResourceExhausted, "TOO_MANY_OPEN_CASES",
          absl::StrCat("member ", r.member(), " already has ", open, " open registrations for ",
                       r.subject(), " and purpose ", r.purpose(), ", the most allowed; end one "
                       "with RegistrationService.EndCase first"),
          {{"limit", absl::StrCat(max_open)}});
    }
  }
  r.set_registration_id(absl::StrFormat("reg-%06d", next_registration_));
  *r.mutable_created_at() = ToProto(now);
  r.clear_ended_at();
  RETURN_IF_ERROR(Persist(r, /*is_new=*/true));
  ++next_registration_;
  absl::MutexLock lock(&mu_);
  Index(std::make_shared<const v1::Registration>(r));
  return r;
}

absl::StatusOr<v1::Registration> AuthzStore::EndRegistration(const std::string& id,
                                                             const std::string& member,
                                                             absl::Time now) {
  absl::MutexLock write(&write_mu_);
  v1::Registration r;
  {
    absl::MutexLock lock(&mu_);
    auto it = registrations_by_id_.find(id);
    if (it == registrations_by_id_.end() || it->second->member() != member) {
      return absl::NotFoundError(absl::StrCat("no registration ", id, " of member ", member));
    }
    r = *it->second;
  }
  if (r.has_ended_at()) {
    return absl::FailedPreconditionError(absl::StrCat("registration ", id, " is already ended"));
  }
  *r.mutable_ended_at() = ToProto(now);
  RETURN_IF_ERROR(Persist(r, /*is_new=*/false));
  absl::MutexLock lock(&mu_);
  Index(std::make_shared<const v1::Registration>(r));
  return r;
}

std::vector<v1::Registration> AuthzStore::ListRegistrations(const std::string& member,
                                                            const std::string& subject,
                                                            bool include_inactive,
                                                            absl::Time now) const {
  std::vector<v1::Registration> out;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [id, r] : registrations_by_id_) {
    if (r->member() != member || (!subject.empty() && r->subject() != subject)) continue;
    if (!include_inactive && !InForce(r->valid_from(), r->valid_until(), r->has_ended_at(), now)) {
      continue;
    }
    out.push_back(*r);
  }
  std::sort(out.begin(), out.end(), [](const v1::Registration& a, const v1::Registration& b) {
    return IdNumber(a.registration_id()) < IdNumber(b.registration_id());
  });
  return out;
}

absl::StatusOr<v1::Consent> AuthzStore::AddConsent(v1::Consent c, absl::Time now) {
  absl::MutexLock write(&write_mu_);
  c.set_consent_id(absl::StrFormat("con-%06d", next_consent_));
  *c.mutable_given_at() = ToProto(now);
  c.clear_revoked_at();
  RETURN_IF_ERROR(Persist(c, /*is_new=*/true));
  ++next_consent_;
  absl::MutexLock lock(&mu_);
  Index(std::make_shared<const v1::Consent>(c));
  return c;
}

absl::StatusOr<v1::Consent> AuthzStore::RevokeConsent(const std::string& id,
                                                      const std::string& subject,
                                                      absl::Time now,
                                                      absl::string_view recorded_by) {
  absl::MutexLock write(&write_mu_);
  v1::Consent c;
  {
    absl::MutexLock lock(&mu_);
    auto it = consents_by_id_.find(id);
    if (it == consents_by_id_.end() || it->second->subject() != subject) {
      return absl::NotFoundError(absl::StrCat("no consent ", id, " of subject ", subject));
    }
    c = *it->second;
  }
  if (!recorded_by.empty() && c.recorded_by() != recorded_by) {
    return ErrorWithReason(absl::StatusCode::kPermissionDenied, "NOT_RECORDING_PORTAL",
                           absl::StrCat("consent ", id, " was recorded by ", c.recorded_by(),
                                        "; only that portal, or an operator, may revoke it"));
  }
  if (c.has_revoked_at()) {
    return absl::FailedPreconditionError(absl::StrCat("consent ", id, " is already revoked"));
  }
  *c.mutable_revoked_at() = ToProto(now);
  RETURN_IF_ERROR(Persist(c, /*is_new=*/false));
  absl::MutexLock lock(&mu_);
  Index(std::make_shared<const v1::Consent>(c));
  return c;
}

std::vector<v1::Consent> AuthzStore::ListConsents(const std::string& subject,
                                                  bool include_inactive, absl::Time now) const {
  std::vector<v1::Consent> out;
  absl::ReaderMutexLock lock(&mu_);
  auto it = consents_by_subject_.find(subject);
  if (it == consents_by_subject_.end()) return out;
  for (const ConsentPtr& c : it->second) {
    if (include_inactive || InForce(c->valid_from(), c->valid_until(), c->has_revoked_at(), now)) {
      out.push_back(*c);
    }
  }
  return out;
}

std::shared_ptr<const AccessFacts> AuthzStore::Facts(absl::string_view member,
                                                     absl::string_view subject,
                                                     absl::string_view purpose) const {
  static const auto* const kNone = new std::shared_ptr<const AccessFacts>(
      std::make_shared<const AccessFacts>());
  char buffer[256];
  absl::string_view key = KeyInBuffer(member, subject, purpose, buffer, sizeof(buffer));
  std::string long_key;
  if (key.empty()) {
    long_key = Key(member, subject, purpose);
    key = long_key;
  }
  absl::ReaderMutexLock lock(&mu_);
  auto it = facts_.find(key);
  return it == facts_.end() ? *kNone : it->second;
}

size_t AuthzStore::registration_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return registrations_by_id_.size();
}

size_t AuthzStore::consent_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return consents_by_id_.size();
}

void AuthzStore::IndexForTesting(v1::Registration registration) {
  absl::MutexLock lock(&mu_);
  Index(std::make_shared<const v1::Registration>(std::move(registration)));
}

void AuthzStore::IndexForTesting(v1::Consent consent) {
  absl::MutexLock lock(&mu_);
  Index(std::make_shared<const v1::Consent>(std::move(consent)));
}

}  // namespace onceonly
