#include "authz/authz_store.h"

#include <unistd.h>

#include <cstdio>

#include "common/testing/file_mode.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1767225600);

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

std::string FreshPath(const char* name) {
  std::string path = ::testing::TempDir() + "/" + name + "-" + std::to_string(getpid()) + ".db";
  for (const char* suffix : {"", "-wal", "-shm", ".writer-lock"}) {
    std::remove((path + suffix).c_str());
  }
  return path;
}

v1::Consent Consent(const std::string& subject, const std::string& grantee,
                    const std::string& purpose) {
  v1::Consent c;
  c.set_subject(subject);
  c.set_grantee_member(grantee);
  c.set_purpose(purpose);
  c.add_categories("company.identity");
  *c.mutable_valid_from() = Ts(kNow);
  *c.mutable_valid_until() = Ts(kNow + absl::Hours(24));
  return c;
}

v1::Registration Registration(const std::string& member, const std::string& subject) {
  v1::Registration r;
  r.set_member(member);
  r.set_subject(subject);
  r.set_purpose("inspection");
  r.set_case_ref("CASE-1");
  *r.mutable_valid_from() = Ts(kNow);
  *r.mutable_valid_until() = Ts(kNow + absl::Hours(24));
  return r;
}

TEST(AuthzStoreTest, TheDatabaseAndItsLockAreOwnerOnlyWhateverTheUmask) {
  const std::string path = FreshTempDir("authz-mode") + "/authz.db";
  ScopedUmask open_to_all(0);
  auto store = AuthzStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->AddConsent(Consent("0403.170.701", "economy", "support"), kNow).ok());
  for (const std::string& file : {path, path + "-wal", path + "-shm", path + ".writer-lock"}) {
    EXPECT_EQ(FileMode(file), 0600) << file;
  }
}

TEST(AuthzStoreTest, FactsAreExactlyThoseOfTheTriple) {
  auto store = AuthzStore::Open(FreshPath("facts"));
  ASSERT_TRUE(store.ok()) << store.status();
  auto& s = **store;
  ASSERT_TRUE(s.AddConsent(Consent("0403.170.701", "economy", "support"), kNow).ok());
  ASSERT_TRUE(s.AddConsent(Consent("0403.170.701", "urban", "support"), kNow).ok());
  ASSERT_TRUE(s.AddConsent(Consent("1029.028.161", "economy", "support"), kNow).ok());
  ASSERT_TRUE(s.AddConsent(Consent("0403.170.701", "economy", "other"), kNow).ok());
  ASSERT_TRUE(s.AddRegistration(Registration("urban", "0403.170.701"), kNow).ok());

  auto facts = s.Facts("economy", "0403.170.701", "support");
  ASSERT_EQ(facts->consents.size(), 1u);
  EXPECT_EQ(facts->consents[0]->grantee_member(), "economy");
  EXPECT_EQ(facts->consents[0]->subject(), "0403.170.701");
  EXPECT_EQ(facts->consents[0]->purpose(), "support");
  EXPECT_TRUE(facts->registrations.empty());  // urban's case is not economy's
  EXPECT_EQ(s.Facts("economy", "0403.170.701", "inspection")->registrations.size(), 0u);
  EXPECT_EQ(s.Facts("urban", "0403.170.701", "inspection")->registrations.size(), 1u);
  EXPECT_TRUE(s.Facts("nobody", "0403.170.701", "support")->consents.empty());
}

TEST(AuthzStoreTest, SnapshotsDoNotChangeUnderTheReader) {
  auto store = AuthzStore::Open(FreshPath("snapshot"));
  ASSERT_TRUE(store.ok());
  auto given = (*store)->AddConsent(Consent("0403.170.701", "economy", "support"), kNow);
  ASSERT_TRUE(given.ok());
  auto before = (*store)->Facts("economy", "0403.170.701", "support");
  ASSERT_TRUE((*store)->RevokeConsent(given->consent_id(), "0403.170.701", kNow).ok());
  EXPECT_FALSE(before->consents[0]->has_revoked_at());  // what the earlier decision saw
  EXPECT_TRUE((*store)->Facts("economy", "0403.170.701", "support")->consents[0]->has_revoked_at());
}

TEST(AuthzStoreTest, EverythingSurvivesAReopenInOrder) {
  const std::string path = FreshPath("reopen");
  std::string first_id;
  {
    auto store = AuthzStore::Open(path);
    ASSERT_TRUE(store.ok());
    auto a = (*store)->AddConsent(Consent("0403.170.701", "economy", "support"), kNow);
    auto b = (*store)->AddConsent(Consent("0403.170.701", "urban", "support"), kNow);
    ASSERT_TRUE(a.ok() && b.ok());
    first_id = a->consent_id();
    ASSERT_TRUE((*store)->RevokeConsent(first_id, "0403.170.701", kNow).ok());
    auto r = (*store)->AddRegistration(Registration("urban", "0403.170.701"), kNow);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE((*store)->EndRegistration(r->registration_id(), "urban", kNow).ok());
  }
  auto store = AuthzStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto consents = (*store)->ListConsents("0403.170.701", /*include_inactive=*/true, kNow);
  ASSERT_EQ(consents.size(), 2u);
  EXPECT_EQ(consents[0].consent_id(), first_id);  // oldest first, revocation or not
  EXPECT_TRUE(consents[0].has_revoked_at());
  EXPECT_EQ((*store)->ListConsents("0403.170.701", false, kNow).size(), 1u);
  auto regs = (*store)->ListRegistrations("urban", "", true, kNow);
  ASSERT_EQ(regs.size(), 1u);
  EXPECT_TRUE(regs[0].has_ended_at());
  // New ids continue after the old ones.
  auto c = (*store)->AddConsent(Consent("0403.170.701", "economy", "support"), kNow);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->consent_id(), first_id);
  EXPECT_EQ(c->consent_id(), "con-000003");
}

TEST(AuthzStoreTest, OnlyTheOwnerEndsAndOnlyOnce) {
  auto store = AuthzStore::Open(FreshPath("owner"));
  ASSERT_TRUE(store.ok());
  auto r = (*store)->AddRegistration(Registration("urban", "0403.170.701"), kNow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*store)->EndRegistration(r->registration_id(), "economy", kNow).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE((*store)->EndRegistration(r->registration_id(), "urban", kNow).ok());
  EXPECT_EQ((*store)->EndRegistration(r->registration_id(), "urban", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto c = (*store)->AddConsent(Consent("0403.170.701", "economy", "support"), kNow);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*store)->RevokeConsent(c->consent_id(), "1029.028.161", kNow).status().code(),
            absl::StatusCode::kNotFound);  // another firm's consent
}

TEST(AuthzStoreTest, OneGatewayPerStore) {
  const std::string path = FreshPath("lock");
  auto first = AuthzStore::Open(path);
  ASSERT_TRUE(first.ok());
  auto second = AuthzStore::Open(path);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("another gateway"), absl::string_view::npos);
  first->reset();
  EXPECT_TRUE(AuthzStore::Open(path).ok());
}

}  // namespace
}  // namespace onceonly
