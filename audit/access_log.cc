#include "audit/access_log.h"

#include <openssl/rand.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "audit/checkpoint.h"
#include "common/json_escape.h"
#include "common/proto_time.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace onceonly {

// The bytes stored for a record: deterministic serialization, the future Merkle leaf data.
std::string SerializeAccessRecord(const v1::AccessRecord& record) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  record.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}


PreparedRecord PrepareRecord(v1::AccessRecord record) {
  PreparedRecord prepared;
  prepared.log_id = record.log_id();
  prepared.access_id = record.access_id();
  prepared.time_micros = absl::ToUnixMicros(FromProto(record.time()));
  prepared.member = record.member();
  prepared.purpose = record.purpose();
  prepared.subject = record.subject();
  prepared.decision = record.decision();
  prepared.reason = record.reason();
  prepared.data = SerializeAccessRecord(record);
  prepared.leaf_hash = MerkleLeafHash(prepared.data);
  return prepared;  // `record` is freed here, on the caller's thread
}

absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Create(
    std::unique_ptr<AccessLogStore> store, std::string log_id, int max_batch) {
  AccessLogOptions options;
  options.max_batch = max_batch;
  return Create(std::move(store), std::move(log_id), options);
}

absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Create(
    std::unique_ptr<AccessLogStore> store, std::string log_id, AccessLogOptions options) {
  if (log_id.empty()) return absl::InvalidArgumentError("access log id must not be empty");
  if (options.max_batch < 1) options.max_batch = 1;
  if (options.clock == nullptr) options.clock = &Clock::Real();
  RETURN_IF_ERROR(store->ClaimWriter(log_id));
  // Rebuild the tree from the stored leaf hashes: O(n) hashing at start, O(log n) per append.
  MerkleTree tree;
  RETURN_IF_ERROR(store->ForEachLeafHash(
      log_id, 0, [&tree](absl::string_view leaf) { tree.AppendLeafHash(std::string(leaf)); }));
  // The last checkpoint binds what the log held when it was signed: serving on top of records
  // that no longer match it would sign a rewritten history.
  ASSIGN_OR_RETURN(std::optional<v1::Checkpoint> latest, store->LatestCheckpoint(log_id));
  if (latest.has_value()) {
    const std::string signed_at = absl::FormatTime(
        absl::RFC3339_sec, absl::FromUnixSeconds(latest->time().seconds()), absl::UTCTimeZone());
    if (latest->tree_size() > tree.size()) {
      return absl::DataLossError(absl::StrCat(
          "access log ", log_id, " holds ", tree.size(), " records but its checkpoint signed at ",
          signed_at, " covers ", latest->tree_size(),
          ": records were deleted; `onceonly audit verify` names the first missing one"));
    }
    ASSIGN_OR_RETURN(std::string root, tree.RootAt(latest->tree_size()));
    if (root != latest->root_hash()) {
      return absl::DataLossError(absl::StrCat(
          "access log ", log_id, ": its first ", latest->tree_size(),
          " records no longer hash to the root of the checkpoint signed at ", signed_at,
          ": records were altered; `onceonly audit verify` names the first altered one"));
    }
  }
  return std::unique_ptr<AccessLog>(new AccessLog(std::move(store), std::move(log_id), options,
                                                  std::move(tree), std::move(latest)));
}

AccessLog::AccessLog(std::unique_ptr<AccessLogStore> store, std::string log_id,
                     AccessLogOptions options, MerkleTree tree,
                     std::optional<v1::Checkpoint> latest)
    : log_id_(std::move(log_id)),
      options_(options),
      next_assigned_(tree.size()),
      store_(std::move(store)),
      next_index_(tree.size()),
      tree_(std::move(tree)),
      latest_checkpoint_(std::move(latest)) {
  writer_ = std::thread([this] { WriterLoop(); });
}

AccessLog::~AccessLog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  writer_.join();
}

AccessLog::Pending AccessLog::PrepareNext(v1::AccessRecord record, DoneCallback done) {
  // The id fixes the bytes, and the queue order fixes the id. Serializing and hashing here
  // (about 1.5 µs a record) spares the writer thread, which would do it for every record of
  // every batch.
  record.set_log_id(log_id_);
  record.set_access_id(next_assigned_++);
  if (record.salt().empty()) {
    // Without randomness (never seen once OpenSSL is seeded) a record goes unsalted rather
    // than unlogged.
    unsigned char salt[16];
    if (RAND_bytes(salt, sizeof(salt)) == 1) record.set_salt(salt, sizeof(salt));
  }
  return Pending{PrepareRecord(std::move(record)), std::move(done)};
}

void AccessLog::Append(v1::AccessRecord record, DoneCallback done) {
  absl::MutexLock order(&append_mu_);
  Pending pending = PrepareNext(std::move(record), std::move(done));
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(pending));
}

void AccessLog::AppendAll(std::vector<v1::AccessRecord> records, DoneCallback done) {
  absl::MutexLock order(&append_mu_);
  std::vector<Pending> prepared;
  prepared.reserve(records.size());
  for (v1::AccessRecord& record : records) prepared.push_back(PrepareNext(std::move(record), done));
  absl::MutexLock lock(&mu_);
  for (Pending& p : prepared) queue_.push_back(std::move(p));
}

absl::StatusOr<uint64_t> AccessLog::AppendAndWait(v1::AccessRecord record) {
  absl::Notification committed;
  absl::StatusOr<uint64_t> result;
  Append(std::move(record), [&](absl::StatusOr<uint64_t> id) {
    result = std::move(id);
    committed.Notify();
  });
  committed.WaitForNotification();
  return result;
}

absl::StatusOr<std::vector<v1::AccessRecord>> AccessLog::Read(uint64_t from, int limit) {
  absl::MutexLock lock(&store_mu_);
  return store_->Read(log_id_, from, limit);
}

uint64_t AccessLog::TreeSize() {
  absl::MutexLock lock(&tree_mu_);
  return tree_.size();
}

absl::StatusOr<std::string> AccessLog::RootAt(uint64_t tree_size) {
  absl::MutexLock lock(&tree_mu_);
  return tree_.RootAt(tree_size);
}

absl::StatusOr<std::vector<std::string>> AccessLog::InclusionProof(uint64_t leaf_index,
                                                                   uint64_t tree_size) {
  absl::MutexLock lock(&tree_mu_);
  return tree_.InclusionProof(leaf_index, tree_size);
}

absl::StatusOr<std::vector<std::string>> AccessLog::ConsistencyProof(uint64_t first_size,
                                                                     uint64_t second_size) {
  absl::MutexLock lock(&tree_mu_);
  return tree_.ConsistencyProof(first_size, second_size);
}

std::optional<v1::Checkpoint> AccessLog::LatestCheckpoint() {
  absl::MutexLock lock(&tree_mu_);
  return latest_checkpoint_;
}

void AccessLog::MaybeCheckpoint(bool force) {
  if (options_.checkpoint_signer == nullptr) return;
  v1::Checkpoint checkpoint;
  {
    absl::MutexLock lock(&tree_mu_);
    const uint64_t size = tree_.size();
    const bool covered = latest_checkpoint_.has_value() && latest_checkpoint_->tree_size() == size;
    if (covered) {
      uncovered_since_.reset();
      return;
    }
    const uint64_t last = latest_checkpoint_.has_value() ? latest_checkpoint_->tree_size() : 0;
    const bool due =
        force || (options_.checkpoint_every > 0 && size - last >= options_.checkpoint_every) ||
        (uncovered_since_.has_value() &&
         absl::Now() >= *uncovered_since_ + options_.checkpoint_interval);
    if (!due) return;
    checkpoint.set_log_id(log_id_);
    checkpoint.set_tree_size(size);
    checkpoint.set_root_hash(*tree_.RootAt(size));  // size <= tree size: cannot fail
  }
  checkpoint.mutable_time()->set_seconds(absl::ToUnixSeconds(options_.clock->Now()));
  absl::Status status;
  absl::StatusOr<std::string> signature =
      options_.checkpoint_signer->Sign(CheckpointSignedText(checkpoint));
  if (signature.ok()) {
    checkpoint.set_signature(*signature);
    absl::MutexLock lock(&store_mu_);
    status = store_->AddCheckpoint(checkpoint);
  } else {
    status = signature.status();
  }
  if (!status.ok()) {
    // Records stay durable and served; only the checkpoint waits. Retry after an interval,
    // not in a loop against a failing store.
    std::cerr << absl::StrFormat(
        "{\"event\":\"checkpoint_failed\",\"log_id\":\"%s\",\"tree_size\":%d,"
        "\"detail\":\"%s\"}\n",
        JsonEscape(log_id_), checkpoint.tree_size(), JsonEscape(status.message()));
    uncovered_since_ = absl::Now();
    return;
  }
  absl::MutexLock lock(&tree_mu_);
  latest_checkpoint_ = std::move(checkpoint);
  // Records committed while signing are still uncovered; their clock starts now.
  if (latest_checkpoint_->tree_size() == tree_.size()) {
    uncovered_since_.reset();
  } else {
    uncovered_since_ = absl::Now();
  }
}

void AccessLog::WriterLoop() {
  MaybeCheckpoint(/*force=*/true);  // a log that grew since its last checkpoint, or a new one
  while (true) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      const absl::Condition work(
          +[](AccessLog* log) ABSL_EXCLUSIVE_LOCKS_REQUIRED(log->mu_) {
            return log->stopping_ || !log->queue_.empty();
          },
          this);
      if (uncovered_since_.has_value() && options_.checkpoint_signer != nullptr) {
        mu_.AwaitWithDeadline(work, *uncovered_since_ + options_.checkpoint_interval);
      } else {
        mu_.Await(work);
      }
      if (queue_.empty() && stopping_) break;
      while (!queue_.empty() && static_cast<int>(batch.size()) < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (batch.empty()) {  // the checkpoint interval ran out
      MaybeCheckpoint(/*force=*/false);
      continue;
    }
    std::vector<PreparedRecord> records;
    records.reserve(batch.size());
    for (Pending& p : batch) records.push_back(std::move(p.prepared));  // done() stays
    absl::Status status;
    {
      absl::MutexLock lock(&store_mu_);
      status = store_->AppendBatch(records);
      if (!status.ok()) {
        // The store may hold more than we think (a COMMIT that failed late, another writer
        // on the same log id): start again from what it really holds...
        {
          // ... the tree catches up with it, and the next id is the tree's size: if reading
          // failed half way, the store holds more, the next insert hits its unique index, fails,
          // and this runs again; ids never run ahead of the tree.
          absl::MutexLock tree_lock(&tree_mu_);
          store_->ForEachLeafHash(log_id_, tree_.size(), [this](absl::string_view leaf) {
            tree_mu_.AssertHeld();
            tree_.AppendLeafHash(std::string(leaf));
          }).IgnoreError();
          next_index_ = tree_.size();
        }
        // ... and so do the ids of the records still queued: their bytes change with them.
        absl::MutexLock order(&append_mu_);
        absl::MutexLock queue_lock(&mu_);
        next_assigned_ = next_index_;
        for (Pending& p : queue_) {
          v1::AccessRecord record;
          record.ParseFromString(p.prepared.data);  // our own bytes: they parse
          record.set_access_id(next_assigned_++);
          p.prepared = PrepareRecord(std::move(record));
        }
      }
    }
    if (status.ok()) {
      {
        // The tree follows the store: a record is a leaf once, and only once, committed.
        absl::MutexLock lock(&tree_mu_);
        for (PreparedRecord& r : records) tree_.AppendLeafHash(std::move(r.leaf_hash));
      }
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done(next_index_ + i);
      next_index_ += batch.size();
      if (!uncovered_since_.has_value()) uncovered_since_ = absl::Now();
      MaybeCheckpoint(/*force=*/false);
    } else {
      // Fail closed: nobody in this batch may release data. Callers learn that much; the
      // store's own message (paths, SQL) is for the operator's log.
      std::cerr << absl::StrFormat(
          "{\"event\":\"access_log_write_failed\",\"log_id\":\"%s\",\"records\":%d,"
          "\"detail\":\"%s\"}\n",
          JsonEscape(log_id_), batch.size(), JsonEscape(status.message()));
      absl::Status unavailable = absl::UnavailableError(
          "the access log cannot be written, so nothing is released; try again later");
      for (Pending& p : batch) p.done(unavailable);
    }
  }
  MaybeCheckpoint(/*force=*/true);  // a clean stop leaves everything covered
}

}  // namespace onceonly
