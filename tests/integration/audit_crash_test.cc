// The access log survives a crash: a real onceonly-gateway process under load from several clients
// is SIGKILLed, restarted on the same files, and then every access_id a client was given must be an
// ALLOW record in the log, the log must hash to the root the restarted gateway signs, and that root
// must extend every checkpoint signed before the crash.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/access_log.h"
#include "audit/access_log_store.h"
#include "audit/checkpoint.h"
#include "audit/merkle_tree.h"
#include "audit/log_export.h"
#include "audit/log_verifier.h"
#include "audit/merkle_verifier.h"
#include "common/ed25519.h"
#include "common/enterprise_number.h"
#include "common/tls.h"
#include "common/yaml_proto.h"
#include "connectors/kbo/kbo_store.h"
#include "gtest/gtest.h"
#include "onceonly/v1/audit.grpc.pb.h"
#include "onceonly/v1/dossier.grpc.pb.h"
#include "tests/integration/test_stack.h"

namespace onceonly {
namespace {

constexpr char kLogId[] = "gateway-1";
constexpr char kMember[] = "brussels-economy";
constexpr char kPurpose[] = "public-procurement";  // granted to brussels-economy (DEL-2025-014)
constexpr int kClients = 8;
constexpr int kSuccessesBeforeKill = 1000;
constexpr size_t kCheckpointsBeforeKill = 10;

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

// An onceonly-gateway child process. The destructor SIGKILLs and reaps it if it still runs, so no
// failing assertion leaves a gateway behind; PR_SET_PDEATHSIG covers a killed test.
class GatewayProcess {
 public:
  // Starts the binary on `config` and waits (bounded) until it has written its port.
  static absl::StatusOr<std::unique_ptr<GatewayProcess>> Start(const std::string& config,
                                                               const std::string& port_file,
                                                               const std::string& log_file) {
    std::remove(port_file.c_str());
    const std::string binary = ONCEONLY_GATEWAY_BINARY;
    std::vector<std::string> args = {binary, "--config", config, "--port-file", port_file};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {  // only async-signal-safe calls until exec
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(126);
      int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    std::unique_ptr<GatewayProcess> process(new GatewayProcess(pid));
    absl::Duration backoff = absl::Milliseconds(10);
    for (const absl::Time give_up = absl::Now() + absl::Seconds(30); absl::Now() < give_up;) {
      int wstatus = 0;
      if (waitpid(pid, &wstatus, WNOHANG) == pid) {
        process->pid_ = -1;
        auto log = ReadFileToString(log_file);
        return absl::InternalError(absl::StrCat("onceonly-gateway exited (wait status ", wstatus,
                                                "): ", log.ok() ? *log : ""));
      }
      auto text = ReadFileToString(port_file);  // complete once it ends with a newline
      int port = 0;
      if (text.ok() && !text->empty() && text->back() == '\n' &&
          absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port) && port > 0) {
        process->port_ = port;
        return process;
      }
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Milliseconds(200));
    }
    return absl::DeadlineExceededError("onceonly-gateway wrote no port file within 30 s");
  }

  ~GatewayProcess() { Kill(); }

  // SIGKILL, then reap; returns the wait status (-1 if it was already reaped).
  int Kill() {
    if (pid_ < 0) return -1;
    kill(pid_, SIGKILL);
    int wstatus = 0;
    while (waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return wstatus;
  }

  std::string address() const { return absl::StrCat("localhost:", port_); }

 private:
  explicit GatewayProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  int port_ = 0;
};

// What the clients were told while the gateway ran, from every client thread.
class ClientObservations {
 public:
  struct Seen {
    std::map<uint64_t, std::string> received;  // access_id -> subject asked
    std::vector<std::string> anomalies;        // wrong subject, an access_id given twice
    int successes = 0;
    int failures = 0;
    std::vector<v1::Checkpoint> checkpoints;  // in the order received
  };

  void AddDossier(const std::string& subject, const grpc::Status& status,
                  const v1::Dossier& dossier) {
    absl::MutexLock lock(&mu_);
    if (!status.ok() || !dossier.has_access_id()) {
      ++seen_.failures;
      return;
    }
    ++seen_.successes;
    if (dossier.enterprise_number() != subject) {
      seen_.anomalies.push_back("dossier of " + dossier.enterprise_number() + " for " + subject);
    }
    if (!seen_.received.emplace(dossier.access_id(), subject).second) {
      seen_.anomalies.push_back(absl::StrCat("access_id ", dossier.access_id(), " given twice"));
    }
  }
  void AddCheckpoint(const v1::Checkpoint& checkpoint) {
    absl::MutexLock lock(&mu_);
    seen_.checkpoints.push_back(checkpoint);
  }
  // Returns once `successes` dossiers and `checkpoints` checkpoints (the last one not empty) were
  // received, or after `timeout`.
  void AwaitAtLeast(int successes, size_t checkpoints, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    want_successes_ = successes;
    want_checkpoints_ = checkpoints;
    mu_.AwaitWithTimeout(absl::Condition(this, &ClientObservations::Enough), timeout);
  }
  Seen Get() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  bool Enough() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // The last checkpoint must cover something, or the consistency check would be empty
    // (checkpoints stored in the background may lag behind the log).
    return seen_.successes >= want_successes_ && seen_.checkpoints.size() >= want_checkpoints_ &&
           seen_.checkpoints.back().tree_size() > 0;
  }

  absl::Mutex mu_;
  Seen seen_ ABSL_GUARDED_BY(mu_);
  int want_successes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t want_checkpoints_ ABSL_GUARDED_BY(mu_) = 0;
};

class AuditCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack =
        TestStack::Create(::testing::TempDir() + "/audit-crash-" + std::to_string(getpid()),
                          absl::FromUnixSeconds(1767225600));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    // The child process will own the access log (one writer per log id).
    stack_->StopGateway();
    config_file_ = stack_->dir() + "/gateway-process.json";
    ASSERT_TRUE(stack_->WriteConfigFile(config_file_).ok());
    auto key = ReadFileToString(stack_->dir() + "/pki/checkpoint.pub");
    ASSERT_TRUE(key.ok()) << key.status();
    public_key_ = *key;
    auto kbo = KboStore::Open(stack_->dir() + "/kbo.db");
    ASSERT_TRUE(kbo.ok()) << kbo.status();
    auto enterprises = (*kbo)->ListEnterpriseSummaries(kClients);
    ASSERT_TRUE(enterprises.ok()) << enterprises.status();
    for (const auto& e : *enterprises) {
      auto canonical = CanonicalEnterpriseNumber(e.enterprise_number());
      ASSERT_TRUE(canonical.ok()) << e.enterprise_number();
      subjects_.push_back(*canonical);
    }
    ASSERT_EQ(subjects_.size(), static_cast<size_t>(kClients));
  }

  // A failed run keeps its directory (the gateway's logs are there).
  void TearDown() override {
    if (stack_ == nullptr || HasFailure()) return;
    const std::string dir = stack_->dir();
    stack_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  absl::StatusOr<std::unique_ptr<GatewayProcess>> StartGateway(int run) {
    return GatewayProcess::Start(config_file_, absl::StrCat(stack_->dir(), "/port-", run),
                                 absl::StrCat(stack_->dir(), "/gateway-", run, ".log"));
  }

  std::shared_ptr<grpc::Channel> Channel(const GatewayProcess& gateway) {
    auto channel = CreateMutualTlsChannel(gateway.address(), stack_->MemberTls(kMember));
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? *channel : nullptr;
  }

  static grpc::Status GetCheckpoint(v1::AuditService::Stub& stub, v1::Checkpoint* out) {
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(3)));
    v1::GetCheckpointResponse response;
    grpc::Status status = stub.GetCheckpoint(&context, v1::GetCheckpointRequest(), &response);
    *out = response.checkpoint();
    return status;
  }

  // Waits (backoff, bounded) until the gateway answers RPCs; any answer from the server counts,
  // only transport failures are retried.
  static bool WaitUntilServing(v1::AuditService::Stub& stub) {
    absl::Duration backoff = absl::Milliseconds(20);
    for (const absl::Time give_up = absl::Now() + absl::Seconds(20); absl::Now() < give_up;) {
      v1::Checkpoint ignored;
      grpc::StatusCode code = GetCheckpoint(stub, &ignored).error_code();
      if (code != grpc::StatusCode::UNAVAILABLE && code != grpc::StatusCode::DEADLINE_EXCEEDED) {
        return true;
      }
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Milliseconds(500));
    }
    return false;
  }

  grpc::Status GetDossier(v1::DossierService::Stub& stub, const std::string& subject,
                          v1::Dossier* dossier) {
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(5)));
    context.AddMetadata("x-onceonly-case-ref", "ECO/2025/42");
    context.AddMetadata("x-onceonly-user", "u-7f3a");
    return stub.GetDossier(&context, TestStack::Request(subject, kPurpose, {"company.identity"}),
                           dossier);
  }

  void ExpectSigned(const v1::Checkpoint& c) {
    EXPECT_EQ(c.log_id(), kLogId);
    EXPECT_TRUE(VerifyEd25519(public_key_, CheckpointSignedText(c), c.signature()).ok())
        << "bad signature on the checkpoint of size " << c.tree_size();
  }

  std::unique_ptr<TestStack> stack_;
  std::string config_file_;
  std::string public_key_;
  std::vector<std::string> subjects_;
};

TEST_F(AuditCrashTest, EveryAccessIdGivenOutSurvivesAKillAndTheLogStillVerifies) {
  const absl::Time test_started = absl::Now();
  auto gateway = StartGateway(1);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  auto audit = v1::AuditService::NewStub(Channel(**gateway));
  ASSERT_TRUE(WaitUntilServing(*audit)) << "the gateway never served";

  // Load: kClients threads asking dossiers, one thread taking checkpoints every ~20 ms.
  ClientObservations observations;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      auto stub = v1::DossierService::NewStub(Channel(**gateway));
      while (!stop.load()) {
        v1::Dossier dossier;
        grpc::Status status = GetDossier(*stub, subjects_[i], &dossier);
        observations.AddDossier(subjects_[i], status, dossier);
      }
    });
  }
  threads.emplace_back([&] {
    auto stub = v1::AuditService::NewStub(Channel(**gateway));
    while (!stop.load()) {
      v1::Checkpoint c;
      if (GetCheckpoint(*stub, &c).ok()) observations.AddCheckpoint(c);
      absl::SleepFor(absl::Milliseconds(20));  // pacing, not waiting for anything
    }
  });
  observations.AwaitAtLeast(kSuccessesBeforeKill, kCheckpointsBeforeKill, absl::Seconds(30));
  const int wstatus = (*gateway)->Kill();  // mid-load: the clients have calls in flight
  stop = true;
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
      << "the gateway was not running when killed (wait status " << wstatus << ")";
  const ClientObservations::Seen seen = observations.Get();
  const std::map<uint64_t, std::string>& received = seen.received;
  const std::vector<v1::Checkpoint>& checkpoints = seen.checkpoints;
  ASSERT_GE(seen.successes, kSuccessesBeforeKill) << seen.failures << " calls failed";
  EXPECT_TRUE(seen.anomalies.empty()) << seen.anomalies.front();
  ASSERT_GE(checkpoints.size(), kCheckpointsBeforeKill);
  ASSERT_GT(checkpoints.back().tree_size(), 0u) << "no checkpoint covered any record";
  std::cerr << "killed after " << seen.successes << " dossiers (" << seen.failures
            << " calls failed: in flight at the kill or after), " << checkpoints.size()
            << " checkpoints (last of size " << checkpoints.back().tree_size()
            << "), largest access_id given " << received.rbegin()->first << "\n";

  // Restart on the same files.
  gateway = StartGateway(2);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  audit = v1::AuditService::NewStub(Channel(**gateway));
  ASSERT_TRUE(WaitUntilServing(*audit)) << "the restarted gateway never served";

  // The log as stored, read as an auditor would, rehashed from the record bytes.
  auto store =
      OpenSqliteAccessLogStore(stack_->config().audit().sqlite_path(), StoreAccess::kReadOnly);
  ASSERT_TRUE(store.ok()) << store.status();
  auto size = (*store)->Size(kLogId);
  ASSERT_TRUE(size.ok()) << size.status();
  std::vector<v1::AccessRecord> records;
  while (records.size() < *size) {
    auto page = (*store)->Read(kLogId, records.size(), 1000);
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_FALSE(page->empty()) << "no record " << records.size() << " in a log of " << *size;
    for (v1::AccessRecord& r : *page) records.push_back(std::move(r));
  }
  auto stored_hashes = (*store)->LeafHashes(kLogId);
  ASSERT_TRUE(stored_hashes.ok()) << stored_hashes.status();
  ASSERT_EQ(stored_hashes->size(), records.size());
  MerkleTree tree;
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i].access_id(), i) << "the log has a gap or a duplicate at " << i;
    const std::string leaf = MerkleLeafHash(SerializeAccessRecord(records[i]));
    ASSERT_EQ(leaf, (*stored_hashes)[i]) << "record " << i << " does not hash to its leaf";
    tree.AppendLeafHash(leaf);
  }

  // (a) Every access_id a client was given is its ALLOW record.
  for (const auto& [access_id, subject] : received) {
    ASSERT_LT(access_id, records.size())
        << "access_id " << access_id << " was given to a client but is not in the log";
    const v1::AccessRecord& r = records[access_id];
    EXPECT_EQ(r.decision(), v1::DECISION_ALLOW) << access_id;
    EXPECT_EQ(r.member(), kMember) << access_id;
    EXPECT_EQ(r.purpose(), kPurpose) << access_id;
    EXPECT_EQ(r.subject(), subject) << access_id;
    EXPECT_EQ(r.method(), "/onceonly.v1.DossierService/GetDossier") << access_id;
  }

  // The restarted gateway appends after the last stored record: no gap, nothing overwritten.
  {
    auto stub = v1::DossierService::NewStub(Channel(**gateway));
    auto before = (*store)->Size(kLogId);
    ASSERT_TRUE(before.ok());
    v1::Dossier dossier;
    grpc::Status status = GetDossier(*stub, subjects_[0], &dossier);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(dossier.access_id(), *before);
  }

  // (b) A fresh checkpoint: signed, covering every access_id given out, its root that of the stored
  // records. Polled briefly in case checkpoints are made in the background.
  const v1::Checkpoint& last_before = checkpoints.back();
  const uint64_t must_cover = std::max(received.rbegin()->first + 1, last_before.tree_size());
  v1::Checkpoint now;
  for (const absl::Time give_up = absl::Now() + absl::Seconds(10);;) {
    grpc::Status status = GetCheckpoint(*audit, &now);
    ASSERT_TRUE(status.ok()) << status.error_message();
    if (now.tree_size() >= must_cover || absl::Now() > give_up) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ExpectSigned(now);
  ASSERT_GE(now.tree_size(), received.rbegin()->first + 1);
  ASSERT_GE(now.tree_size(), last_before.tree_size());
  // Records written since the restart (the call above, perhaps logged audit calls).
  while (tree.size() < now.tree_size()) {
    auto tail = (*store)->Read(kLogId, tree.size(), 1000);
    ASSERT_TRUE(tail.ok()) << tail.status();
    ASSERT_FALSE(tail->empty()) << "checkpoint of size " << now.tree_size()
                                << " is ahead of the stored log (" << tree.size() << ")";
    for (const v1::AccessRecord& r : *tail) {
      tree.AppendLeafHash(MerkleLeafHash(SerializeAccessRecord(r)));
    }
  }
  auto root = tree.RootAt(now.tree_size());
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(*root, now.root_hash()) << "the signed root is not the root of the stored records";

  // (c) Every checkpoint signed before the kill is valid and is a prefix of today's log.
  uint64_t previous_size = 0;
  for (const v1::Checkpoint& c : checkpoints) {
    ExpectSigned(c);
    EXPECT_GE(c.tree_size(), previous_size) << "checkpoints went backwards";
    previous_size = c.tree_size();
    ASSERT_LE(c.tree_size(), now.tree_size()) << "a signed tree size was lost in the crash";
    auto then = tree.RootAt(c.tree_size());
    ASSERT_TRUE(then.ok());
    EXPECT_EQ(*then, c.root_hash()) << "the log was rewritten below size " << c.tree_size();
  }
  v1::GetConsistencyProofRequest request;
  request.set_first_size(last_before.tree_size());
  request.set_second_size(now.tree_size());
  v1::GetConsistencyProofResponse proof;
  grpc::ClientContext context;
  context.set_deadline(In(absl::Seconds(3)));
  grpc::Status status = audit->GetConsistencyProof(&context, request, &proof);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(
      VerifyConsistency(last_before.tree_size(), now.tree_size(), last_before.root_hash(),
                        now.root_hash(),
                        std::vector<std::string>(proof.hashes().begin(), proof.hashes().end()))
          .ok());

  // And the largest access_id given out proves into the new checkpoint.
  const uint64_t last_id = received.rbegin()->first;
  v1::GetInclusionProofRequest inclusion;
  inclusion.set_leaf_index(last_id);
  inclusion.set_tree_size(now.tree_size());
  v1::GetInclusionProofResponse path;
  grpc::ClientContext inclusion_context;
  inclusion_context.set_deadline(In(absl::Seconds(3)));
  status = audit->GetInclusionProof(&inclusion_context, inclusion, &path);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(VerifyInclusion(last_id, now.tree_size(),
                              MerkleLeafHash(SerializeAccessRecord(records[last_id])),
                              std::vector<std::string>(path.hashes().begin(), path.hashes().end()),
                              now.root_hash())
                  .ok());
  // And what `onceonly audit verify --db` runs: every stored leaf and checkpoint, plus the
  // last checkpoint a client held before the kill, kept out of the gateway's reach.
  LogVerifier verifier(public_key_);
  ASSERT_TRUE(verifier.Trust(last_before).ok());
  ASSERT_TRUE(FeedStoredLog(**store, kLogId, verifier).ok());
  auto report = verifier.Finish();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GE(report->leaves, now.tree_size());
  EXPECT_GE(report->checkpoints, 2u);

  std::cerr << "log of " << records.size() << " records verified against checkpoint "
            << now.tree_size() << " in " << absl::FormatDuration(absl::Now() - test_started)
            << "\n";
}

}  // namespace
}  // namespace onceonly
