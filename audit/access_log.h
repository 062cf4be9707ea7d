// The gateway's access log: every decided request becomes one AccessRecord, appended
// durably before the caller gets an answer.
//
// A single writer thread group-commits whatever is queued (up to max_batch records per
// transaction), so callers share fsyncs instead of paying one each. Append gives the record
// its access_id and serializes and hashes it on the caller's thread, so the writer only
// writes. Append() never blocks the caller: `done` runs on the writer thread once the
// record's batch committed (with its access_id, the leaf index) or failed (UNAVAILABLE; the
// caller must release nothing).
//
// With a signer, the writer also signs a checkpoint (log id, tree size, root, time) and stores
// it beside the records every `checkpoint_every` records, or `checkpoint_interval` after the
// first record the last checkpoint does not cover, whichever comes first; and once at start if
// the log has grown since its last checkpoint. At start the rebuilt tree must reproduce the
// last stored checkpoint's root, or Create refuses (DataLoss): the records were altered.
// Thread-safe.
#ifndef ONCEONLY_AUDIT_ACCESS_LOG_H_
#define ONCEONLY_AUDIT_ACCESS_LOG_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "audit/access_log_store.h"
#include "audit/merkle_tree.h"
#include "common/clock.h"
#include "common/ed25519.h"
#include "onceonly/v1/audit.pb.h"

namespace onceonly {

// The deterministic bytes of a record: the Merkle leaf data.
std::string SerializeAccessRecord(const v1::AccessRecord& record);
// `record` (access_id set) with its leaf data and leaf hash. The data is written into
// `buffer`, whose capacity is reused (a spent record's, to spare an allocation).
PreparedRecord PrepareRecord(const v1::AccessRecord& record, std::string buffer = {});

struct AccessLogOptions {
  // Most records committed in one transaction.
  int max_batch = 1024;
  // Signs checkpoints; none are made without it. Must outlive the log.
  const Ed25519Signer* checkpoint_signer = nullptr;
  uint64_t checkpoint_every = 1000;                      // records; 0: by time only
  absl::Duration checkpoint_interval = absl::Seconds(1);  // after the first uncovered record
  const Clock* clock = &Clock::Real();                     // the checkpoints' time
  // Records waiting for the writer at most; an Append beyond fails at once (UNAVAILABLE,
  // reason AUDIT_QUEUE_FULL), so that a log that cannot keep up refuses work instead of
  // holding ever more callers and their answers in memory.
  size_t max_queued = 65536;
};

class AccessLog {
 public:
  using DoneCallback = std::function<void(absl::StatusOr<uint64_t> access_id)>;

  static absl::StatusOr<std::unique_ptr<AccessLog>> Create(
      std::unique_ptr<AccessLogStore> store, std::string log_id, AccessLogOptions options);
  // No checkpoints.
  static absl::StatusOr<std::unique_ptr<AccessLog>> Create(
      std::unique_ptr<AccessLogStore> store, std::string log_id, int max_batch);
  // Commits what is queued, then stops the writer.
  ~AccessLog();

  // Queues `record` (its log_id and access_id are set here). A record that would not parse
  // back (a string field not UTF-8) has its bad bytes replaced by U+FFFD before it is written:
  // the log never holds a record its readers cannot read. With the queue full, `done` runs at
  // once, on this thread, with UNAVAILABLE (AUDIT_QUEUE_FULL).
  void Append(v1::AccessRecord record, DoneCallback done);
  // Queues several records in order, with one wakeup of the writer; `done` runs once per
  // record, with its access_id.
  void AppendAll(std::vector<v1::AccessRecord> records, DoneCallback done);
  // Append() and wait for the commit.
  absl::StatusOr<uint64_t> AppendAndWait(v1::AccessRecord record);
  // Records [from, from + limit) of this log.
  absl::StatusOr<std::vector<v1::AccessRecord>> Read(uint64_t from, int limit);

  // The log as a Merkle tree (RFC 9162) over the committed records: its size, its root at any
  // past size, and proofs. Thread-safe; consistent with what Append has reported committed.
  uint64_t TreeSize();
  absl::StatusOr<std::string> RootAt(uint64_t tree_size);
  absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t leaf_index,
                                                          uint64_t tree_size);
  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t first_size,
                                                            uint64_t second_size);

  // The latest stored checkpoint; nullopt without a signer.
  std::optional<v1::Checkpoint> LatestCheckpoint();

  const std::string& log_id() const { return log_id_; }

 private:
  AccessLog(std::unique_ptr<AccessLogStore> store, std::string log_id, AccessLogOptions options,
            MerkleTree tree, std::optional<v1::Checkpoint> latest);
  // Gives `record` the next access_id (and a salt) and prepares it, on the caller's thread.
  PreparedRecord PrepareNext(v1::AccessRecord& record, std::string buffer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(append_mu_);
  // Up to `n` spent record buffers, to prepare new records in.
  std::vector<std::string> TakeSpareBuffers(size_t n) ABSL_LOCKS_EXCLUDED(mu_);
  // One spare buffer, or an empty string (Append: no vector per call).
  std::string TakeSpareBuffer() ABSL_LOCKS_EXCLUDED(mu_);
  // The refusal of a record the full queue cannot take, counted.
  absl::Status QueueFull();
  void WriterLoop();
  // Writer thread: signs and stores a checkpoint of the current tree if one is due (or
  // `force` and the tree grew). A failure is logged and retried on the next occasion.
  void MaybeCheckpoint(bool force);

  // Constant after construction.
  const std::string log_id_;
  const AccessLogOptions options_;

  absl::Mutex mu_;
  // The queue, as two parallel vectors: the writer takes a whole batch with one swap.
  std::vector<PreparedRecord> queued_records_ ABSL_GUARDED_BY(mu_);
  std::vector<DoneCallback> queued_done_ ABSL_GUARDED_BY(mu_);
  // The data buffers of committed records, handed back to appenders: in the steady state a
  // record costs no allocation, and the writer frees nothing another thread allocated (a
  // cross-thread free in glibc costs more than the insert of the row).
  std::vector<std::string> spare_buffers_ ABSL_GUARDED_BY(mu_);
  // Appenders take turns here, so that ids follow queue order while each serializes and
  // hashes its own records without holding mu_ (which the writer needs to take a batch).
  absl::Mutex append_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // The access_id the next appended record gets.
  uint64_t next_assigned_ ABSL_GUARDED_BY(append_mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // queued_records_.size(), written under mu_, read without it by appenders: a full queue is
  // refused before a record takes an id.
  std::atomic<size_t> queued_count_{0};
  // The store is used by the writer thread, and by Read() under store_mu_.
  absl::Mutex store_mu_;
  std::unique_ptr<AccessLogStore> store_ ABSL_GUARDED_BY(store_mu_);
  // Next leaf index; only the writer thread touches it.
  uint64_t next_index_;
  // The committed records as a tree; appended by the writer after each commit.
  absl::Mutex tree_mu_;
  MerkleTree tree_ ABSL_GUARDED_BY(tree_mu_);
  std::optional<v1::Checkpoint> latest_checkpoint_ ABSL_GUARDED_BY(tree_mu_);
  // Writer thread only: when the oldest record not covered by a checkpoint was committed.
  std::optional<absl::Time> uncovered_since_;
  std::thread writer_;
};

}  // namespace onceonly

#endif  // ONCEONLY_AUDIT_ACCESS_LOG_H_
