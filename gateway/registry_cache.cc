#include "gateway/registry_cache.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "common/metrics.h"

namespace onceonly {
namespace {

Counter& Lookups() {
  static Counter& c = DefaultMetrics().counter(
      "onceonly_cache_lookups_total",
      "Registry cache lookups: hit, miss (the registry is asked) or coalesced (joined a call "
      "in flight)",
      {"result"});
  return c;
}

Gauge& CacheBytes() {
  static Gauge& g = DefaultMetrics().gauge("onceonly_cache_bytes",
                                           "Bytes of registry answers held in the cache", {});
  return g;
}

}  // namespace

// A GetAsync caller that joined a flight, with its own fetch and deadline in case the
// flight's read fails.
struct RegistryCache::FlightJoiner {
  AsyncFetch fetch;
  absl::Time deadline;
  AnswerDone done;
};

// One registry call that other callers of the same key wait for (Get) or are called back by
// (GetAsync).
struct RegistryCache::Flight {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  Answer answer ABSL_GUARDED_BY(mu);
  // GetAsync callers that joined. Guarded by the cache's mu_, under which the flight is found
  // and ended.
  std::vector<FlightJoiner> joiners;
};

// The families exist from the start, at zero, so that dashboards and alerts see them before
// the first cached registry is asked.
RegistryCache::RegistryCache(int64_t max_bytes) : max_bytes_(max_bytes) {
  for (const char* result : {"hit", "miss", "coalesced"}) Lookups().Add({result}, 0);
  CacheBytes().Set({}, 0);
}

RegistryCache::Answer RegistryCache::Get(const std::string& key, absl::Duration max_age,
                                         absl::Duration ttl, absl::Time deadline,
                                         const Fetch& fetch) {
  // Only a caller that accepts cached data shares answers, cached or in flight: one that
  // wants fresh data asks the registry itself.
  if (ttl <= absl::ZeroDuration()) {  // a registry never cached: not a cache lookup at all
    Answer answer{fetch(), absl::Time(), false};
    answer.retrieved_at = absl::Now();
    return answer;
  }
  const absl::Duration accepted = std::min(max_age, ttl);
  if (accepted <= absl::ZeroDuration()) {
    CountFreshRead();
    Answer answer{fetch(), absl::Time(), false};
    answer.retrieved_at = absl::Now();
    StoreFresh(key, answer);
    return answer;
  }
  Found found;
  {
    absl::MutexLock lock(&mu_);
    found = FindLocked(key, accepted);
  }
  if (found.hit.has_value()) {
    return Answer{*found.hit->records, found.hit->retrieved_at, true};  // copied outside the lock
  }
  const std::shared_ptr<Flight>& flight = found.flight;
  if (!found.leads) {
    Answer joined;
    {
      absl::MutexLock lock(&flight->mu);
      if (!flight->mu.AwaitWithDeadline(absl::Condition(&flight->done), deadline)) {
        return Answer{absl::DeadlineExceededError(
                          "waited for the registry call already in flight until the deadline"),
                      absl::Now(), false};
      }
      joined = flight->answer;
    }
    // The leader's call failed (perhaps on its own, shorter deadline): try on ours.
    if (!joined.records.ok() && absl::Now() < deadline) {
      return Answer{fetch(), absl::Now(), false};
    }
    joined.from_cache = true;  // answered for another call, not asked for this one
    return joined;
  }
  Answer answer{fetch(), absl::Time(), false};
  answer.retrieved_at = absl::Now();
  AnswerJoiners(key, Land(key, flight, answer), answer, /*may_retry=*/true);
  return answer;
}

RegistryCache::Found RegistryCache::FindLocked(const std::string& key, absl::Duration accepted) {
  Found found;
  found.hit = FreshLocked(key, accepted);
  if (found.hit.has_value()) {
    Lookups().Add({"hit"});
    return found;
  }
  auto in_flight = flights_.find(key);
  if (in_flight != flights_.end()) {
    found.flight = in_flight->second;
    ++stats_.coalesced;
    Lookups().Add({"coalesced"});
    return found;
  }
  found.flight = std::make_shared<Flight>();
  found.leads = true;
  flights_.emplace(key, found.flight);
  ++stats_.misses;
  Lookups().Add({"miss"});
  return found;
}

void RegistryCache::CountFreshRead() {
  {
    absl::MutexLock lock(&mu_);
    ++stats_.misses;
  }
  Lookups().Add({"miss"});
}

void RegistryCache::StoreFresh(const std::string& key, const Answer& answer) {
  if (!answer.records.ok()) return;
  Stored stored = ToStore(key, *answer.records);
  absl::MutexLock lock(&mu_);
  Store(key, std::move(stored), answer.retrieved_at);
}

std::vector<RegistryCache::FlightJoiner> RegistryCache::Land(
    const std::string& key, const std::shared_ptr<Flight>& flight, const Answer& answer) {
  std::optional<Stored> stored;
  if (answer.records.ok()) stored = ToStore(key, *answer.records);
  std::vector<FlightJoiner> joiners;
  {
    absl::MutexLock lock(&mu_);
    flights_.erase(key);
    if (stored.has_value()) Store(key, *std::move(stored), answer.retrieved_at);
    joiners.swap(flight->joiners);
  }
  absl::MutexLock lock(&flight->mu);
  flight->answer = answer;
  flight->done = true;
  return joiners;
}

void RegistryCache::AnswerJoiners(const std::string& key, std::vector<FlightJoiner> joiners,
                                  const Answer& answer, bool may_retry) {
  std::vector<FlightJoiner> retry;  // the leader's read failed; these still have time
  for (FlightJoiner& joiner : joiners) {
    if (may_retry && !answer.records.ok() && absl::Now() < joiner.deadline) {
      retry.push_back(std::move(joiner));
      continue;
    }
    Answer joined = answer;
    joined.from_cache = true;  // answered for another call, not asked for this one
    joiner.done(std::move(joined));
  }
  if (retry.empty()) return;
  // One read again, not one each: the first of them leads a new flight, or all join one that
  // started meanwhile, so that a failed read does not turn into a burst of reads. Once only:
  // a read refused at once (an open circuit) must not recurse through every joiner.
  std::shared_ptr<Flight> next;
  {
    absl::MutexLock lock(&mu_);
    auto in_flight = flights_.find(key);
    if (in_flight != flights_.end()) {
      for (FlightJoiner& joiner : retry) in_flight->second->joiners.push_back(std::move(joiner));
      return;
    }
    next = std::make_shared<Flight>();
    next->joiners.assign(std::make_move_iterator(retry.begin() + 1),
                         std::make_move_iterator(retry.end()));
    flights_.emplace(key, next);
  }
  FlightJoiner& leader = retry.front();
  leader.fetch([this, key, next, done = std::move(leader.done)](
                   absl::StatusOr<registry::v1::SubjectRecords> records) {
    Answer answer{std::move(records), absl::Now(), false};
    std::vector<FlightJoiner> joiners = Land(key, next, answer);
    done(answer);
    AnswerJoiners(key, std::move(joiners), answer, /*may_retry=*/false);
  });
}

bool RegistryCache::GetAsync(const std::string& key, absl::Duration max_age, absl::Duration ttl,
                             absl::Time deadline, AsyncFetch fetch, AnswerDone done) {
  if (ttl <= absl::ZeroDuration()) {  // a registry never cached: not a cache lookup at all
    fetch([done = std::move(done)](absl::StatusOr<registry::v1::SubjectRecords> records) {
      done(Answer{std::move(records), absl::Now(), false});
    });
    return false;
  }
  const absl::Duration accepted = std::min(max_age, ttl);
  if (accepted <= absl::ZeroDuration()) {
    CountFreshRead();
    fetch([this, key, done = std::move(done)](
              absl::StatusOr<registry::v1::SubjectRecords> records) {
      Answer answer{std::move(records), absl::Now(), false};
      StoreFresh(key, answer);
      done(std::move(answer));
    });
    return false;
  }
  Found found;
  {
    absl::MutexLock lock(&mu_);
    found = FindLocked(key, accepted);
    if (found.flight != nullptr && !found.leads) {
      // Joined under the same hold as the find: Land cannot end the flight in between.
      found.flight->joiners.push_back({std::move(fetch), deadline, std::move(done)});
      return true;
    }
  }
  if (found.hit.has_value()) {
    done(Answer{*found.hit->records, found.hit->retrieved_at, true});  // copied outside the lock
    return false;
  }
  fetch([this, key, flight = std::move(found.flight), done = std::move(done)](
            absl::StatusOr<registry::v1::SubjectRecords> records) {
    Answer answer{std::move(records), absl::Now(), false};
    std::vector<FlightJoiner> joiners = Land(key, flight, answer);
    done(answer);  // the caller whose read it was first
    AnswerJoiners(key, std::move(joiners), answer, /*may_retry=*/true);
  });
  return false;
}

std::optional<RegistryCache::Hit> RegistryCache::Lookup(const std::string& key,
                                                        absl::Duration max_age,
                                                        absl::Duration ttl) {
  const absl::Duration accepted = std::min(max_age, ttl);
  if (accepted <= absl::ZeroDuration()) return std::nullopt;
  std::optional<Hit> hit;
  {
    absl::MutexLock lock(&mu_);
    hit = FreshLocked(key, accepted);
  }
  if (hit.has_value()) Lookups().Add({"hit"});
  return hit;
}

std::optional<RegistryCache::Hit> RegistryCache::FreshLocked(const std::string& key,
                                                             absl::Duration accepted) {
  auto cached = entries_.find(key);
  if (cached == entries_.end() || absl::Now() - cached->second.retrieved_at > accepted) {
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, cached->second.lru);
  ++stats_.hits;
  return Hit{cached->second.records, cached->second.enterprise_wire,
             cached->second.retrieved_at};
}

RegistryCache::Stored RegistryCache::ToStore(const std::string& key,
                                             const registry::v1::SubjectRecords& records) {
  Stored stored;
  stored.records = std::make_shared<const registry::v1::SubjectRecords>(records);
  if (records.has_enterprise()) {
    stored.enterprise_wire = std::make_shared<const FieldWire>(FieldWire::Of(records.enterprise()));
  }
  // The protobuf's size stands for its memory, plus the field encodings, the key and the
  // bookkeeping.
  stored.bytes = static_cast<int64_t>(records.ByteSizeLong() + 2 * key.size() + 128) +
                 (stored.enterprise_wire != nullptr ? stored.enterprise_wire->bytes() : 0);
  return stored;
}

void RegistryCache::Store(const std::string& key, Stored stored, absl::Time retrieved_at) {
  const int64_t bytes = stored.bytes;
  if (bytes > max_bytes_) return;
  auto existing = entries_.find(key);
  if (existing != entries_.end()) {
    stats_.bytes -= existing->second.bytes;
    lru_.erase(existing->second.lru);
    entries_.erase(existing);
  }
  lru_.push_front(key);
  entries_.emplace(key, Entry{std::move(stored.records), std::move(stored.enterprise_wire),
                              retrieved_at, bytes, lru_.begin()});
  stats_.bytes += bytes;
  while (stats_.bytes > max_bytes_ && !lru_.empty()) {
    auto oldest = entries_.find(lru_.back());
    stats_.bytes -= oldest->second.bytes;
    entries_.erase(oldest);
    lru_.pop_back();
  }
  stats_.entries = static_cast<int64_t>(entries_.size());
  CacheBytes().Set({}, static_cast<double>(stats_.bytes));
}

RegistryCache::Stats RegistryCache::stats() const {
  absl::MutexLock lock(&mu_);
  Stats s = stats_;
  s.entries = static_cast<int64_t>(entries_.size());
  return s;
}

}  // namespace onceonly
