#include "audit/access_log.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_escape.h"
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


absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Create(
    std::unique_ptr<AccessLogStore> store, std::string log_id, int max_batch) {
  if (log_id.empty()) return absl::InvalidArgumentError("access log id must not be empty");
  RETURN_IF_ERROR(store->ClaimWriter(log_id));
  // Rebuild the tree from the stored leaf hashes: O(n) hashing at start, O(log n) per append.
  ASSIGN_OR_RETURN(std::vector<std::string> leaves, store->LeafHashes(log_id));
  MerkleTree tree;
  for (std::string& leaf : leaves) tree.AppendLeafHash(std::move(leaf));
  return std::unique_ptr<AccessLog>(
      new AccessLog(std::move(store), std::move(log_id), max_batch < 1 ? 1 : max_batch,
                    std::move(tree)));
}

AccessLog::AccessLog(std::unique_ptr<AccessLogStore> store, std::string log_id, int max_batch,
                     MerkleTree tree)
    : log_id_(std::move(log_id)),
      max_batch_(max_batch),
      store_(std::move(store)),
      next_index_(tree.size()),
      tree_(std::move(tree)) {
  writer_ = std::thread([this] { WriterLoop(); });
}

AccessLog::~AccessLog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  writer_.join();
}

void AccessLog::Append(v1::AccessRecord record, DoneCallback done) {
  record.set_log_id(log_id_);
  absl::MutexLock lock(&mu_);
  queue_.push_back(Pending{std::move(record), std::move(done)});
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

void AccessLog::WriterLoop() {
  while (true) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AccessLog* log) ABSL_EXCLUSIVE_LOCKS_REQUIRED(log->mu_) {
            return log->stopping_ || !log->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping, nothing left to commit
      while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<v1::AccessRecord> records;
    records.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i].record.set_access_id(next_index_ + i);
      records.push_back(batch[i].record);
    }
    absl::StatusOr<std::vector<std::string>> leaf_hashes;
    {
      absl::MutexLock lock(&store_mu_);
      leaf_hashes = store_->AppendBatch(records);
      if (!leaf_hashes.ok()) {
        // The store may hold more than we think (a COMMIT that failed late, another writer
        // on the same log id): start the next batch from what it really holds.
        absl::StatusOr<uint64_t> size = store_->Size(log_id_);
        if (size.ok()) next_index_ = *size;
        // ... and the tree follows what the store really holds.
        absl::StatusOr<std::vector<std::string>> leaves = store_->LeafHashes(log_id_);
        if (leaves.ok()) {
          absl::MutexLock tree_lock(&tree_mu_);
          for (uint64_t i = tree_.size(); i < leaves->size(); ++i) {
            tree_.AppendLeafHash((*leaves)[i]);
          }
        }
      }
    }
    const absl::Status status = leaf_hashes.status();
    if (status.ok()) {
      {
        // The tree follows the store: a record is a leaf once, and only once, committed.
        absl::MutexLock lock(&tree_mu_);
        for (std::string& leaf : *leaf_hashes) tree_.AppendLeafHash(std::move(leaf));
      }
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done(next_index_ + i);
      next_index_ += batch.size();
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
}

}  // namespace onceonly
