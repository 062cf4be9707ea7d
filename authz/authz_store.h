// Registrations (the reference directory) and consents: durable in SQLite, served from memory.
//
// Every write commits to SQLite (WAL, synchronous=FULL) before it changes the in-memory index,
// so what a decision sees has survived a crash, and a revocation is in force for the very next
// request. Lookups for a decision are one hash probe. Thread-safe.
#ifndef ONCEONLY_AUTHZ_AUTHZ_STORE_H_
#define ONCEONLY_AUTHZ_AUTHZ_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "onceonly/v1/consent.pb.h"
#include "onceonly/v1/registration.pb.h"

namespace onceonly {

class SqliteDb;
class SqliteStatement;

using RegistrationPtr = std::shared_ptr<const v1::Registration>;
using ConsentPtr = std::shared_ptr<const v1::Consent>;

// What a decision needs to know beyond the policy, for one (member, subject, purpose).
struct AccessFacts {
  std::vector<RegistrationPtr> registrations;  // the member's cases for subject and purpose
  std::vector<ConsentPtr> consents;            // the subject's consents to member for purpose
};

class AuthzStore {
 public:
  // Opens (creating if missing) and loads every registration and consent into memory.
  // FailedPrecondition if another process has the store open: one gateway per store.
  static absl::StatusOr<std::unique_ptr<AuthzStore>> Open(const std::string& sqlite_path);
  ~AuthzStore();

  // Records a registration; its id and created_at are assigned here. RESOURCE_EXHAUSTED
  // (reason TOO_MANY_OPEN_CASES) if its member already holds `max_open` registrations for the
  // same subject and purpose that are not ended and not past (0: no limit): each one is a
  // row kept and a key every decision looks through.
  absl::StatusOr<v1::Registration> AddRegistration(v1::Registration registration, absl::Time now,
                                                   int max_open = 0);
  // Ends `member`'s registration `id` at `now`. NotFound if there is none of that member
  // (another member's id is indistinguishable from a missing one); FailedPrecondition if
  // already ended.
  absl::StatusOr<v1::Registration> EndRegistration(const std::string& id,
                                                   const std::string& member, absl::Time now);
  // `member`'s registrations, optionally for one subject, oldest first; only those in force
  // at `now` unless `include_inactive`.
  std::vector<v1::Registration> ListRegistrations(const std::string& member,
                                                  const std::string& subject,
                                                  bool include_inactive, absl::Time now) const;

  // Records a consent; its id and given_at are assigned here.
  absl::StatusOr<v1::Consent> AddConsent(v1::Consent consent, absl::Time now);
  // Revokes consent `id` of `subject` at `now`. NotFound if the subject has no such consent;
  // FailedPrecondition if already revoked; PermissionDenied (reason NOT_RECORDING_PORTAL) if
  // `recorded_by` is not empty and another member recorded it.
  absl::StatusOr<v1::Consent> RevokeConsent(const std::string& id, const std::string& subject,
                                            absl::Time now, absl::string_view recorded_by = "");
  // `subject`'s consents, oldest first; only those in force unless `include_inactive`.
  std::vector<v1::Consent> ListConsents(const std::string& subject, bool include_inactive,
                                        absl::Time now) const;

  // Everything that bears on (member, subject, purpose), whatever its validity: the decision
  // tells apart expired, revoked and absent. An immutable snapshot (never null): one hash
  // probe and one reference count, whatever the store's size.
  std::shared_ptr<const AccessFacts> Facts(absl::string_view member, absl::string_view subject,
                                           absl::string_view purpose) const;

  size_t registration_count() const;
  size_t consent_count() const;

  // For benchmarks and bulk loads: index without writing to SQLite.
  void IndexForTesting(v1::Registration registration);
  void IndexForTesting(v1::Consent consent);

 private:
  explicit AuthzStore(std::unique_ptr<SqliteDb> db);
  absl::Status Load();
  absl::Status Persist(const v1::Registration& r, bool is_new)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status Persist(const v1::Consent& c, bool is_new) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  void Index(RegistrationPtr r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Index(ConsentPtr c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  int lock_fd_ = -1;  // flock held while this store is open: one gateway per database

  // Serialises writers (SQLite, id allocation); taken before mu_.
  absl::Mutex write_mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(write_mu_);
  int64_t next_registration_ ABSL_GUARDED_BY(write_mu_) = 1;
  int64_t next_consent_ ABSL_GUARDED_BY(write_mu_) = 1;

  // The in-memory view; readers take it shared.
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, RegistrationPtr> registrations_by_id_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, ConsentPtr> consents_by_id_ ABSL_GUARDED_BY(mu_);
  // key: member \0 subject \0 purpose (for consents the member is the grantee). Entries are
  // replaced, never changed, so a reader's snapshot stays valid.
  absl::flat_hash_map<std::string, std::shared_ptr<const AccessFacts>> facts_ ABSL_GUARDED_BY(mu_);
  // key: subject -> consent ids, in order
  std::unordered_map<std::string, std::vector<ConsentPtr>> consents_by_subject_ ABSL_GUARDED_BY(mu_);
};

}  // namespace onceonly

#endif  // ONCEONLY_AUTHZ_AUTHZ_STORE_H_
