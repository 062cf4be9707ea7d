#include "gateway/registry_cache.h"

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

registry::v1::SubjectRecords Records(const std::string& number, int padding = 0) {
  registry::v1::SubjectRecords r;
  r.mutable_enterprise()->set_enterprise_number(number);
  r.mutable_enterprise()->set_start_date(std::string(padding, 'x'));
  return r;
}

constexpr absl::Duration kTtl = absl::Minutes(5);
const absl::Time kNoDeadline = absl::InfiniteFuture();

TEST(RegistryCacheTest, ServesCachedAnswersOnlyToCallersWhoAcceptThem) {
  RegistryCache cache(1 << 20);
  int fetches = 0;
  auto fetch = [&] {
    ++fetches;
    return absl::StatusOr<registry::v1::SubjectRecords>(Records("0403.170.701"));
  };
  RegistryCache::Answer first = cache.Get("companies|0403", absl::ZeroDuration(), kTtl,
                                          kNoDeadline, fetch);
  EXPECT_FALSE(first.from_cache);
  // max_age 0: fresh, whatever is cached.
  EXPECT_FALSE(cache.Get("companies|0403", absl::ZeroDuration(), kTtl, kNoDeadline, fetch)
                   .from_cache);
  RegistryCache::Answer cached =
      cache.Get("companies|0403", absl::Minutes(1), kTtl, kNoDeadline, fetch);
  EXPECT_TRUE(cached.from_cache);
  ASSERT_TRUE(cached.records.ok());
  EXPECT_EQ(cached.records->enterprise().enterprise_number(), "0403.170.701");
  EXPECT_EQ(fetches, 2);
  EXPECT_EQ(cache.stats().hits, 1);
}

TEST(RegistryCacheTest, NeitherOlderThanMaxAgeNorThanTheTtl) {
  RegistryCache cache(1 << 20);
  int fetches = 0;
  auto fetch = [&] {
    ++fetches;
    return absl::StatusOr<registry::v1::SubjectRecords>(Records("0403.170.701"));
  };
  cache.Get("k", absl::ZeroDuration(), absl::Milliseconds(30), kNoDeadline, fetch);
  absl::SleepFor(absl::Milliseconds(40));
  // The caller would take an hour-old answer, but the registry's TTL is 30 ms.
  EXPECT_FALSE(cache.Get("k", absl::Hours(1), absl::Milliseconds(30), kNoDeadline, fetch)
                   .from_cache);
  cache.Get("k", absl::ZeroDuration(), kTtl, kNoDeadline, fetch);
  absl::SleepFor(absl::Milliseconds(40));
  // The TTL allows minutes, the caller 30 ms.
  EXPECT_FALSE(cache.Get("k", absl::Milliseconds(30), kTtl, kNoDeadline, fetch).from_cache);
  EXPECT_EQ(fetches, 4);
  // Without a TTL, nothing is stored.
  cache.Get("other", absl::Hours(1), absl::ZeroDuration(), kNoDeadline, fetch);
  EXPECT_FALSE(cache.Get("other", absl::Hours(1), absl::ZeroDuration(), kNoDeadline, fetch)
                   .from_cache);
}

TEST(RegistryCacheTest, FailuresAreNotCached) {
  RegistryCache cache(1 << 20);
  int fetches = 0;
  auto failing = [&]() -> absl::StatusOr<registry::v1::SubjectRecords> {
    ++fetches;
    return absl::UnavailableError("down");
  };
  EXPECT_FALSE(cache.Get("k", absl::Hours(1), kTtl, kNoDeadline, failing).records.ok());
  EXPECT_FALSE(cache.Get("k", absl::Hours(1), kTtl, kNoDeadline, failing).records.ok());
  EXPECT_EQ(fetches, 2);
}

TEST(RegistryCacheTest, ConcurrentMissesForOneKeyMakeOneCall) {
  RegistryCache cache(1 << 20);
  std::atomic<int> fetches{0};
  absl::Notification release;
  auto slow = [&] {
    ++fetches;
    release.WaitForNotification();
    return absl::StatusOr<registry::v1::SubjectRecords>(Records("0403.170.701"));
  };
  std::vector<std::thread> callers;
  std::atomic<int> answered{0};
  for (int i = 0; i < 16; ++i) {
    callers.emplace_back([&] {
      RegistryCache::Answer a =
          cache.Get("k", absl::Minutes(1), kTtl, absl::Now() + absl::Seconds(10), slow);
      if (a.records.ok() && a.records->enterprise().enterprise_number() == "0403.170.701") {
        ++answered;
      }
    });
  }
  while (cache.stats().misses + cache.stats().coalesced < 16) absl::SleepFor(absl::Milliseconds(1));
  release.Notify();
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(fetches.load(), 1);
  EXPECT_EQ(answered.load(), 16);
  EXPECT_EQ(cache.stats().coalesced, 15);
}

TEST(RegistryCacheTest, AFollowerGivesUpAtItsOwnDeadline) {
  RegistryCache cache(1 << 20);
  absl::Notification release, leader_in;
  auto slow = [&] {
    leader_in.Notify();
    release.WaitForNotification();
    return absl::StatusOr<registry::v1::SubjectRecords>(Records("0403.170.701"));
  };
  std::thread leader([&] { cache.Get("k", absl::Minutes(1), kTtl, kNoDeadline, slow); });
  leader_in.WaitForNotification();
  RegistryCache::Answer follower =
      cache.Get("k", absl::Minutes(1), kTtl, absl::Now() + absl::Milliseconds(20), slow);
  EXPECT_EQ(follower.records.status().code(), absl::StatusCode::kDeadlineExceeded);
  release.Notify();
  leader.join();
}

TEST(RegistryCacheTest, CallersWantingFreshDataNeverShareAnAnswer) {
  RegistryCache cache(1 << 20);
  std::atomic<int> fetches{0};
  absl::Notification release, leader_in;
  auto slow = [&] {
    if (fetches.fetch_add(1) == 0) {
      leader_in.Notify();
      release.WaitForNotification();
    }
    return absl::StatusOr<registry::v1::SubjectRecords>(Records("0403.170.701"));
  };
  std::thread leader([&] { cache.Get("k", absl::Minutes(1), kTtl, kNoDeadline, slow); });
  leader_in.WaitForNotification();
  RegistryCache::Answer fresh = cache.Get("k", absl::ZeroDuration(), kTtl, kNoDeadline, slow);
  EXPECT_FALSE(fresh.from_cache);
  EXPECT_EQ(fetches.load(), 2);  // its own call, not the leader's
  release.Notify();
  leader.join();
}

TEST(RegistryCacheTest, AFollowerWhoseLeaderFailedTriesOnItsOwnTime) {
  RegistryCache cache(1 << 20);
  std::atomic<int> fetches{0};
  absl::Notification release, leader_in;
  auto flaky = [&]() -> absl::StatusOr<registry::v1::SubjectRecords> {
    if (fetches.fetch_add(1) == 0) {
      leader_in.Notify();
      release.WaitForNotification();
      return absl::DeadlineExceededError("the leader's own deadline");
    }
    return Records("0403.170.701");
  };
  std::thread leader([&] { cache.Get("k", absl::Minutes(1), kTtl, kNoDeadline, flaky); });
  leader_in.WaitForNotification();
  std::thread release_soon([&] {
    absl::SleepFor(absl::Milliseconds(20));
    release.Notify();
  });
  RegistryCache::Answer follower =
      cache.Get("k", absl::Minutes(1), kTtl, absl::Now() + absl::Seconds(5), flaky);
  ASSERT_TRUE(follower.records.ok()) << follower.records.status();
  EXPECT_EQ(fetches.load(), 2);
  leader.join();
  release_soon.join();
}

// GetAsync: reads that call back. The test holds each read's callback and answers it later,
// as a registry would.
class AsyncReads {
 public:
  RegistryCache::AsyncFetch Fetch() {
    return [this](RegistryCache::FetchDone done) {
      absl::MutexLock lock(&mu_);
      pending_.push_back(std::move(done));
    };
  }
  int started() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(pending_.size()) + answered_;
  }
  // Answers the oldest read not answered yet.
  void Answer(absl::StatusOr<registry::v1::SubjectRecords> records) {
    RegistryCache::FetchDone done;
    {
      absl::MutexLock lock(&mu_);
      ASSERT_FALSE(pending_.empty());
      done = std::move(pending_.front());
      pending_.erase(pending_.begin());
      ++answered_;
    }
    done(std::move(records));
  }

 private:
  absl::Mutex mu_;
  std::vector<RegistryCache::FetchDone> pending_ ABSL_GUARDED_BY(mu_);
  int answered_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(RegistryCacheTest, AsyncMissesForOneKeyMakeOneReadAndNoCallerWaits) {
  RegistryCache cache(1 << 20);
  AsyncReads reads;
  std::vector<RegistryCache::Answer> answers;
  for (int i = 0; i < 8; ++i) {  // each returns at once: nobody waits on a thread
    const bool joined =
        cache.GetAsync("k", absl::Minutes(1), kTtl, kNoDeadline, reads.Fetch(),
                       [&](RegistryCache::Answer a) { answers.push_back(std::move(a)); });
    EXPECT_EQ(joined, i > 0);
  }
  EXPECT_EQ(reads.started(), 1);
  EXPECT_TRUE(answers.empty());
  EXPECT_EQ(cache.stats().coalesced, 7);
  reads.Answer(Records("0403.170.701"));
  ASSERT_EQ(answers.size(), 8u);
  int from_cache = 0;
  for (const RegistryCache::Answer& a : answers) {
    ASSERT_TRUE(a.records.ok());
    EXPECT_EQ(a.records->enterprise().enterprise_number(), "0403.170.701");
    from_cache += a.from_cache;
  }
  EXPECT_EQ(from_cache, 7);  // all but the caller whose read it was
  // Stored: the next caller is answered at once, from the cache, without a read.
  bool hit = false;
  cache.GetAsync("k", absl::Minutes(1), kTtl, kNoDeadline, reads.Fetch(),
                 [&](RegistryCache::Answer a) { hit = a.records.ok() && a.from_cache; });
  EXPECT_TRUE(hit);
  EXPECT_EQ(reads.started(), 1);
}

TEST(RegistryCacheTest, AsyncJoinersOfAFailedReadShareOneReadAgainUnlessTheirTimeIsPast) {
  RegistryCache cache(1 << 20);
  AsyncReads reads;
  std::optional<RegistryCache::Answer> leader, first, second, too_late;
  auto get = [&](absl::Time deadline, std::optional<RegistryCache::Answer>* out) {
    return cache.GetAsync("k", absl::Minutes(1), kTtl, deadline, reads.Fetch(),
                          [out](RegistryCache::Answer a) { *out = std::move(a); });
  };
  EXPECT_FALSE(get(kNoDeadline, &leader));  // it reads
  EXPECT_TRUE(get(absl::Now() + absl::Seconds(30), &first));  // they join
  EXPECT_TRUE(get(absl::Now() + absl::Seconds(30), &second));
  EXPECT_TRUE(get(absl::Now() - absl::Seconds(1), &too_late));
  reads.Answer(absl::UnavailableError("the registry is down"));
  ASSERT_TRUE(leader.has_value() && too_late.has_value());
  EXPECT_EQ(leader->records.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(too_late->records.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(first.has_value() || second.has_value());
  EXPECT_EQ(reads.started(), 2);  // one read again for both, not one each
  reads.Answer(Records("0403.170.701"));
  ASSERT_TRUE(first.has_value() && second.has_value());
  ASSERT_TRUE(first->records.ok() && second->records.ok());
  EXPECT_FALSE(first->from_cache);  // its read
  EXPECT_TRUE(second->from_cache);
  EXPECT_EQ(reads.started(), 2);
}

// A read refused at once (an open circuit calls back before FetchAsync returns): no lock is
// held, nothing recurses, and joiners of a second failure are not sent a third time.
TEST(RegistryCacheTest, AsyncReadsThatCallBackAtOnceNeitherDeadlockNorRepeat) {
  RegistryCache cache(1 << 20);
  int refused = 0;
  RegistryCache::AsyncFetch refuse = [&](RegistryCache::FetchDone done) {
    ++refused;
    done(absl::UnavailableError("circuit open"));
  };
  std::optional<RegistryCache::Answer> alone;
  cache.GetAsync("k", absl::Minutes(1), kTtl, kNoDeadline, refuse,
                 [&](RegistryCache::Answer a) { alone = std::move(a); });
  ASSERT_TRUE(alone.has_value());
  EXPECT_EQ(alone->records.status().code(), absl::StatusCode::kUnavailable);

  // Joiners whose shared read again is refused at once get that failure.
  AsyncReads reads;
  std::vector<RegistryCache::Answer> answers;
  cache.GetAsync("k", absl::Minutes(1), kTtl, kNoDeadline, reads.Fetch(),
                 [&](RegistryCache::Answer a) { answers.push_back(std::move(a)); });
  for (int i = 0; i < 3; ++i) {
    cache.GetAsync("k", absl::Minutes(1), kTtl, kNoDeadline, refuse,
                   [&](RegistryCache::Answer a) { answers.push_back(std::move(a)); });
  }
  refused = 0;
  reads.Answer(absl::UnavailableError("the registry is down"));
  ASSERT_EQ(answers.size(), 4u);
  for (const RegistryCache::Answer& a : answers) EXPECT_FALSE(a.records.ok());
  EXPECT_EQ(refused, 1);  // one read again, refused; not one per joiner

  // A success that calls back at once is stored.
  cache.GetAsync("k", absl::ZeroDuration(), kTtl, kNoDeadline,
                 [](RegistryCache::FetchDone done) { done(Records("0403.170.701")); },
                 [](RegistryCache::Answer) {});
  bool hit = false;
  cache.GetAsync("k", absl::Minutes(1), kTtl, kNoDeadline, refuse,
                 [&](RegistryCache::Answer a) { hit = a.from_cache && a.records.ok(); });
  EXPECT_TRUE(hit);
}

TEST(RegistryCacheTest, AHitCarriesTheEnterpriseFieldByFieldAndNothingElseDoes) {
  RegistryCache cache(1 << 20);
  cache.Get("companies|0403", absl::ZeroDuration(), kTtl, kNoDeadline,
            [] { return absl::StatusOr<registry::v1::SubjectRecords>(Records("0403.170.701")); });
  cache.Get("tax|0403", absl::ZeroDuration(), kTtl, kNoDeadline, [] {
    registry::v1::SubjectRecords tax;
    tax.mutable_tax_status()->set_enterprise_number("0403.170.701");
    return absl::StatusOr<registry::v1::SubjectRecords>(tax);
  });
  std::optional<RegistryCache::Hit> company = cache.Lookup("companies|0403", absl::Minutes(1), kTtl);
  ASSERT_TRUE(company.has_value());
  ASSERT_NE(company->enterprise_wire, nullptr);
  std::string joined;
  for (const auto& [field, bytes] : company->enterprise_wire->fields()) joined += bytes;
  EXPECT_EQ(joined, company->records->enterprise().SerializeAsString());
  std::optional<RegistryCache::Hit> tax = cache.Lookup("tax|0403", absl::Minutes(1), kTtl);
  ASSERT_TRUE(tax.has_value());
  EXPECT_EQ(tax->enterprise_wire, nullptr);
}

TEST(RegistryCacheTest, LeastRecentlyUsedGoFirstWithinTheByteBound) {
  // Room for two entries of ~2.1 KB: the answer, and its Enterprise field by field.
  RegistryCache cache(5000);
  auto fetch_of = [](const std::string& n) {
    return [n] { return absl::StatusOr<registry::v1::SubjectRecords>(Records(n, 1000)); };
  };
  cache.Get("a", absl::ZeroDuration(), kTtl, kNoDeadline, fetch_of("a"));
  cache.Get("b", absl::ZeroDuration(), kTtl, kNoDeadline, fetch_of("b"));
  EXPECT_TRUE(cache.Get("a", absl::Hours(1), kTtl, kNoDeadline, fetch_of("a")).from_cache);
  cache.Get("c", absl::ZeroDuration(), kTtl, kNoDeadline, fetch_of("c"));  // evicts b
  EXPECT_LE(cache.stats().bytes, 5000);
  EXPECT_EQ(cache.stats().entries, 2);
  EXPECT_TRUE(cache.Get("a", absl::Hours(1), kTtl, kNoDeadline, fetch_of("a")).from_cache);
  EXPECT_TRUE(cache.Get("c", absl::Hours(1), kTtl, kNoDeadline, fetch_of("c")).from_cache);
  EXPECT_FALSE(cache.Get("b", absl::Hours(1), kTtl, kNoDeadline, fetch_of("b")).from_cache);
}

}  // namespace
}  // namespace onceonly
