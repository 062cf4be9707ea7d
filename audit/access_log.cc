#include "audit/access_log.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"

namespace onceonly {

absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Create(
    std::unique_ptr<AccessLogStore> store, std::string log_id, int max_batch) {
  if (log_id.empty()) return absl::InvalidArgumentError("access log id must not be empty");
  ASSIGN_OR_RETURN(uint64_t size, store->Size(log_id));
  return std::unique_ptr<AccessLog>(
      new AccessLog(std::move(store), std::move(log_id), max_batch < 1 ? 1 : max_batch, size));
}

AccessLog::AccessLog(std::unique_ptr<AccessLogStore> store, std::string log_id, int max_batch,
                     uint64_t next_index)
    : log_id_(std::move(log_id)),
      max_batch_(max_batch),
      store_(std::move(store)),
      next_index_(next_index) {
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
    absl::Status status;
    {
      absl::MutexLock lock(&store_mu_);
      status = store_->AppendBatch(records);
      if (!status.ok()) {
        // The store may hold more than we think (a COMMIT that failed late, another writer
        // on the same log id): start the next batch from what it really holds.
        absl::StatusOr<uint64_t> size = store_->Size(log_id_);
        if (size.ok()) next_index_ = *size;
      }
    }
    if (status.ok()) {
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done(next_index_ + i);
      next_index_ += batch.size();
    } else {
      // Fail closed: nobody in this batch may release data.
      absl::Status unavailable = absl::UnavailableError(
          absl::StrCat("access log cannot be written, so nothing is released: ",
                       status.message()));
      for (Pending& p : batch) p.done(unavailable);
    }
  }
}

}  // namespace onceonly
