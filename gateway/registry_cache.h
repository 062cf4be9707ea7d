// The gateway's cache of registry answers, keyed by (registry, subject, language). Bounded in
// bytes, least recently used out first. A caller accepts cached data only if it asked for it
// (GetDossierRequest.max_age) and only as old as both its max_age and the registry's TTL
// allow. Concurrent misses for one key make one registry call (single flight); failures are
// never cached. What is cached is the registry's whole answer: minimisation to the released
// categories happens after, per request, so the cache never widens what a member receives.
#ifndef ONCEONLY_GATEWAY_REGISTRY_CACHE_H_
#define ONCEONLY_GATEWAY_REGISTRY_CACHE_H_

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/dossier_wire.h"
#include "onceonly/registry/v1/registry.pb.h"

namespace onceonly {

class RegistryCache {
 public:
  struct Answer {
    absl::StatusOr<registry::v1::SubjectRecords> records;
    absl::Time retrieved_at;  // when the registry answered
    bool from_cache = false;  // not fetched for this call (stored, or another call's)
  };
  struct Stats {
    int64_t hits = 0;       // answered from the cache
    int64_t misses = 0;     // fetched from the registry
    int64_t coalesced = 0;  // joined a fetch already in flight for the same key
    int64_t entries = 0;
    int64_t bytes = 0;
  };
  using Fetch = std::function<absl::StatusOr<registry::v1::SubjectRecords>()>;

  explicit RegistryCache(int64_t max_bytes);

  // An answer for `key`. A caller that accepts cached data (min(max_age, ttl) > 0) gets the
  // cached one if it is no older than that; else that of the fetch in flight for `key`, if any
  // (waited for until `deadline`, DEADLINE_EXCEEDED after; if it failed, `fetch()` again on
  // this caller's time), labelled from_cache as well: the registry was not asked for this
  // call. Any other call runs `fetch()`. A success is stored if `ttl` > 0.
  Answer Get(const std::string& key, absl::Duration max_age, absl::Duration ttl,
             absl::Time deadline, const Fetch& fetch);

  // Get for a registry read without a thread: `fetch` starts a read and returns, and the read
  // calls back. `done` runs once: at once for a stored answer, else from the callback of this
  // caller's read or of the read in flight it joined (not bounded by `deadline`; the read is,
  // and the dossier's own deadline does not wait for it). When a read fails, those who joined
  // it and whose `deadline` is not past share one read again, led by the first of them (once;
  // if that fails too, they all get its failure).
  // Returns true if the caller joined a read in flight: it added no read.
  using FetchDone = std::function<void(absl::StatusOr<registry::v1::SubjectRecords>)>;
  using AsyncFetch = std::function<void(FetchDone)>;
  using AnswerDone = std::function<void(Answer)>;
  bool GetAsync(const std::string& key, absl::Duration max_age, absl::Duration ttl,
                absl::Time deadline, AsyncFetch fetch, AnswerDone done);

  // A stored answer, shared: the caller copies what it needs of it, outside the cache's lock.
  struct Hit {
    std::shared_ptr<const registry::v1::SubjectRecords> records;
    // The encoding of each field of records->enterprise(), made once when it was stored, so
    // that a hit never copies the Enterprise (gateway/dossier_wire.h); null without one.
    std::shared_ptr<const FieldWire> enterprise_wire;
    absl::Time retrieved_at;
  };
  // The stored answer for `key` if it is no older than min(max_age, ttl), counted as a hit;
  // else nullopt, counting nothing (the caller then calls Get). Never waits or fetches, so
  // the gateway answers hits on the request's own thread.
  std::optional<Hit> Lookup(const std::string& key, absl::Duration max_age, absl::Duration ttl);

  Stats stats() const;

 private:
  struct Entry {
    // Shared, so that a hit copies it outside the lock.
    std::shared_ptr<const registry::v1::SubjectRecords> records;
    std::shared_ptr<const FieldWire> enterprise_wire;
    absl::Time retrieved_at;
    int64_t bytes = 0;
    std::list<std::string>::iterator lru;  // position in lru_
  };
  struct Flight;
  struct FlightJoiner;
  // What a caller that accepts answers `accepted` old finds for its key, counted: a stored
  // answer; else a read in flight to join; else a new flight it leads, registered here.
  struct Found {
    std::optional<Hit> hit;
    std::shared_ptr<Flight> flight;
    bool leads = false;
  };
  Found FindLocked(const std::string& key, absl::Duration accepted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A caller that wants fresh data: a read of its own, counted as a miss, whose success is
  // stored for others.
  void CountFreshRead() ABSL_LOCKS_EXCLUDED(mu_);
  void StoreFresh(const std::string& key, const Answer& answer) ABSL_LOCKS_EXCLUDED(mu_);
  // A leader's fetch is back: stores a success, ends the flight, answers those waiting in Get
  // and returns those who joined through GetAsync, for AnswerJoiners once the leader has its
  // answer.
  std::vector<FlightJoiner> Land(const std::string& key, const std::shared_ptr<Flight>& flight,
                                 const Answer& answer) ABSL_LOCKS_EXCLUDED(mu_);
  // A joiner of a failed read with time left reads again (`may_retry`, for a first read).
  void AnswerJoiners(const std::string& key, std::vector<FlightJoiner> joiners,
                     const Answer& answer, bool may_retry) ABSL_LOCKS_EXCLUDED(mu_);

  // The entry for `key` if no older than `accepted`, moved to the front and counted as a hit.
  std::optional<Hit> FreshLocked(const std::string& key, absl::Duration accepted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An answer made ready to store, outside the lock: shared copies and their size.
  struct Stored {
    std::shared_ptr<const registry::v1::SubjectRecords> records;
    std::shared_ptr<const FieldWire> enterprise_wire;
    int64_t bytes = 0;
  };
  static Stored ToStore(const std::string& key, const registry::v1::SubjectRecords& records);
  void Store(const std::string& key, Stored stored, absl::Time retrieved_at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t max_bytes_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> flights_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_REGISTRY_CACHE_H_
