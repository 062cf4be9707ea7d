// An AccessLogStore wrapper for tests: forwards to a real store and fails appends on demand,
// as a full disk, a read-only file or a lost database would.
#ifndef ONCEONLY_AUDIT_TESTING_FAULT_INJECTING_STORE_H_
#define ONCEONLY_AUDIT_TESTING_FAULT_INJECTING_STORE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "audit/access_log_store.h"

namespace onceonly {

class FaultInjectingStore : public AccessLogStore {
 public:
  explicit FaultInjectingStore(std::unique_ptr<AccessLogStore> inner) : inner_(std::move(inner)) {}

  absl::Status ClaimWriter(const std::string& id) override { return inner_->ClaimWriter(id); }
  absl::StatusOr<std::vector<std::string>> LogIds() override { return inner_->LogIds(); }
  absl::StatusOr<uint64_t> Size(const std::string& id) override { return inner_->Size(id); }
  absl::Status ForEachLeafHash(const std::string& id, uint64_t from,
                               const std::function<void(absl::string_view)>& fn) override {
    return inner_->ForEachLeafHash(id, from, fn);
  }
  absl::Status AppendBatch(const std::string& id,
                           const std::vector<PreparedRecord>& records) override {
    if (before_append) before_append();
    if (fail_appends) return absl::UnavailableError("database or disk is full (injected)");
    return inner_->AppendBatch(id, records);
  }
  absl::StatusOr<int64_t> RowsOutsideLogs() override { return inner_->RowsOutsideLogs(); }
  absl::StatusOr<std::vector<v1::AccessRecord>> Read(const std::string& id, uint64_t from,
                                                     int limit) override {
    return inner_->Read(id, from, limit);
  }
  absl::StatusOr<std::vector<StoredLeaf>> ReadLeaves(const std::string& id, uint64_t from,
                                                     int limit) override {
    return inner_->ReadLeaves(id, from, limit);
  }
  absl::StatusOr<AccessQueryResult> Query(const AccessQuery& query) override {
    return inner_->Query(query);
  }
  absl::StatusOr<uint64_t> IndexPending(int max_records) override {
    return inner_->IndexPending(max_records);
  }
  absl::Status AddCheckpoint(const v1::Checkpoint& checkpoint) override {
    if (fail_appends) return absl::UnavailableError("database or disk is full (injected)");
    return inner_->AddCheckpoint(checkpoint);
  }
  absl::StatusOr<std::vector<v1::Checkpoint>> Checkpoints(const std::string& id,
                                                          uint64_t min_size,
                                                          uint64_t max_size) override {
    return inner_->Checkpoints(id, min_size, max_size);
  }
  absl::StatusOr<std::optional<v1::Checkpoint>> LatestCheckpoint(const std::string& id) override {
    return inner_->LatestCheckpoint(id);
  }
  absl::StatusOr<uint64_t> Prune(absl::Time before, int batch_rows) override {
    return inner_->Prune(before, batch_rows);
  }

  // While set, every AppendBatch fails with UNAVAILABLE and writes nothing.
  std::atomic<bool> fail_appends{false};
  // If set, runs at the start of every AppendBatch, on the writer thread: a test can hold the
  // writer there (a slow disk) to see what callers meet meanwhile. Set it before appending.
  std::function<void()> before_append;

 private:
  std::unique_ptr<AccessLogStore> inner_;
};

}  // namespace onceonly

#endif  // ONCEONLY_AUDIT_TESTING_FAULT_INJECTING_STORE_H_
