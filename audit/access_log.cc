#include "audit/access_log.h"

#include "common/metrics.h"

#include <openssl/rand.h>

#include <algorithm>
#include <iostream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "audit/checkpoint.h"
#include "common/json_escape.h"
#include "common/rich_status.h"
#include "common/utf8.h"
#include "common/proto_time.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace onceonly {
namespace {

Gauge& QueueDepthGauge() {
  static Gauge& g = DefaultMetrics().gauge(
      "onceonly_audit_queue_depth", "Access records waiting for the log's writer", {"log"});
  return g;
}

Histogram& CommitHistogram() {
  static Histogram& h = DefaultMetrics().histogram(
      "onceonly_audit_commit_duration_seconds",
      "Time to commit one batch of access records durably (fsync included)", {"log"});
  return h;
}

Counter& QueueFullRefusals() {
  static Counter& c = DefaultMetrics().counter(
      "onceonly_audit_queue_full_total",
      "Records refused because the log's queue was full (their calls released nothing)",
      {"log"});
  return c;
}

// Whether `data` parses as an AccessRecord: what every reader of the log will do with it.
bool ReadsBack(const std::string& data) {
  thread_local v1::AccessRecord scratch;
  return scratch.ParseFromString(data);
}

// Makes every string field of `message` (and of the messages in it) well-formed UTF-8, which
// is all that keeps a proto3 message the gateway built from parsing.
void MakeStringsWellFormed(google::protobuf::Message* message) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Descriptor* d = message->GetDescriptor();
  const google::protobuf::Reflection* r = message->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    auto fixed = [](const std::string& text) { return BoundedUtf8(text, 3 * text.size()); };
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      if (f->is_repeated()) {
        for (int k = 0; k < r->FieldSize(*message, f); ++k) {
          r->SetRepeatedString(message, f, k, fixed(r->GetRepeatedString(*message, f, k)));
        }
      } else {
        r->SetString(message, f, fixed(r->GetString(*message, f)));
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int k = 0; k < r->FieldSize(*message, f); ++k) {
          MakeStringsWellFormed(r->MutableRepeatedMessage(message, f, k));
        }
      } else if (r->HasField(*message, f)) {
        MakeStringsWellFormed(r->MutableMessage(message, f));
      }
    }
  }
}

// Sized first and written once, with no regrowing.
void SerializeInto(const v1::AccessRecord& record, std::string* out) {
  out->resize(record.ByteSizeLong());
  google::protobuf::io::ArrayOutputStream stream(out->data(), static_cast<int>(out->size()));
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  record.SerializeWithCachedSizes(&coded);
}

// Spare buffers kept for appenders: a few batches' worth, so memory stays bounded.
constexpr size_t kMaxSpareBatches = 4;

}  // namespace

// The bytes stored for a record: deterministic serialization, the Merkle leaf data.
std::string SerializeAccessRecord(const v1::AccessRecord& record) {
  std::string out;
  SerializeInto(record, &out);
  return out;
}

PreparedRecord PrepareRecord(const v1::AccessRecord& record, std::string buffer) {
  PreparedRecord prepared;
  prepared.access_id = record.access_id();
  prepared.time_micros = absl::ToUnixMicros(FromProto(record.time()));
  prepared.data = std::move(buffer);
  SerializeInto(record, &prepared.data);
  prepared.leaf_hash = MerkleLeafDigest(prepared.data);
  return prepared;
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
      log_id, 0, [&tree](absl::string_view leaf) { tree.AppendLeafHash(leaf); }));
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

std::vector<std::string> AccessLog::TakeSpareBuffers(size_t n) {
  std::vector<std::string> taken;
  absl::MutexLock lock(&mu_);
  n = std::min(n, spare_buffers_.size());
  taken.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    taken.push_back(std::move(spare_buffers_.back()));
    spare_buffers_.pop_back();
  }
  return taken;
}

std::string AccessLog::TakeSpareBuffer() {
  absl::MutexLock lock(&mu_);
  if (spare_buffers_.empty()) return std::string();
  std::string buffer = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  return buffer;
}

PreparedRecord AccessLog::PrepareNext(v1::AccessRecord& record, std::string buffer) {
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
  PreparedRecord prepared = PrepareRecord(record, std::move(buffer));
  // The log is append-only: a record that would not read back would blind every reader of
  // it for good. The gateway's boundaries should never let one through; if one does, its
  // text is repaired (bad bytes become U+FFFD) rather than its access going unlogged.
  if (!ReadsBack(prepared.data)) {
    std::cerr << absl::StrFormat(
        "{\"event\":\"access_record_repaired\",\"log_id\":\"%s\",\"access_id\":%d,"
        "\"detail\":\"a string field was not UTF-8; bad bytes replaced\"}\n",
        JsonEscape(log_id_), record.access_id());
    MakeStringsWellFormed(&record);
    prepared = PrepareRecord(record, std::move(prepared.data));
  }
  return prepared;
}

absl::Status AccessLog::QueueFull() {
  QueueFullRefusals().Add({log_id_});
  return ErrorWithReason(absl::StatusCode::kUnavailable, "AUDIT_QUEUE_FULL",
                         "the access log is behind, so nothing is released; try again later");
}

void AccessLog::Append(v1::AccessRecord record, DoneCallback done) {
  if (queued_count_.load(std::memory_order_relaxed) >= options_.max_queued) {
    done(QueueFull());
    return;
  }
  absl::MutexLock order(&append_mu_);
  PreparedRecord prepared = PrepareNext(record, TakeSpareBuffer());
  absl::MutexLock lock(&mu_);
  queued_records_.push_back(std::move(prepared));
  queued_done_.push_back(std::move(done));
  queued_count_.store(queued_records_.size(), std::memory_order_relaxed);
}

void AccessLog::AppendAll(std::vector<v1::AccessRecord> records, DoneCallback done) {
  if (queued_count_.load(std::memory_order_relaxed) + records.size() > options_.max_queued) {
    const absl::Status full = QueueFull();
    for (size_t i = 0; i < records.size(); ++i) done(full);
    return;
  }
  std::vector<PreparedRecord> prepared;
  std::vector<DoneCallback> dones;
  prepared.reserve(records.size());
  dones.reserve(records.size());
  absl::MutexLock order(&append_mu_);
  std::vector<std::string> buffers = TakeSpareBuffers(records.size());
  for (v1::AccessRecord& record : records) {
    std::string buffer;
    if (!buffers.empty()) {
      buffer = std::move(buffers.back());
      buffers.pop_back();
    }
    prepared.push_back(PrepareNext(record, std::move(buffer)));
    dones.push_back(done);
  }
  absl::MutexLock lock(&mu_);
  if (queued_records_.empty()) {
    queued_records_.swap(prepared);
    queued_done_.swap(dones);
  } else {
    std::move(prepared.begin(), prepared.end(), std::back_inserter(queued_records_));
    std::move(dones.begin(), dones.end(), std::back_inserter(queued_done_));
  }
  queued_count_.store(queued_records_.size(), std::memory_order_relaxed);
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
  std::vector<PreparedRecord> records;
  std::vector<DoneCallback> dones;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      // The last batch's buffers go back to the appenders (moved, not freed, here).
      const size_t keep = kMaxSpareBatches * static_cast<size_t>(options_.max_batch);
      for (PreparedRecord& spent : records) {
        if (spare_buffers_.size() >= keep) break;
        spare_buffers_.push_back(std::move(spent.data));
      }
      const absl::Condition work(
          +[](AccessLog* log) ABSL_EXCLUSIVE_LOCKS_REQUIRED(log->mu_) {
            return log->stopping_ || !log->queued_records_.empty();
          },
          this);
      if (uncovered_since_.has_value() && options_.checkpoint_signer != nullptr) {
        mu_.AwaitWithDeadline(work, *uncovered_since_ + options_.checkpoint_interval);
      } else {
        mu_.Await(work);
      }
      if (queued_records_.empty() && stopping_) break;
      records.clear();  // their buffers are spare now: nothing left to free
      // Taking the whole queue is a swap; only a longer one is split.
      QueueDepthGauge().Set({log_id_}, static_cast<double>(queued_records_.size()));
      const size_t take = std::min(queued_records_.size(), static_cast<size_t>(options_.max_batch));
      if (take == queued_records_.size()) {
        records.swap(queued_records_);
        dones.swap(queued_done_);
      } else {
        records.assign(std::make_move_iterator(queued_records_.begin()),
                       std::make_move_iterator(queued_records_.begin() + take));
        dones.assign(std::make_move_iterator(queued_done_.begin()),
                     std::make_move_iterator(queued_done_.begin() + take));
        queued_records_.erase(queued_records_.begin(), queued_records_.begin() + take);
        queued_done_.erase(queued_done_.begin(), queued_done_.begin() + take);
      }
      queued_count_.store(queued_records_.size(), std::memory_order_relaxed);
    }
    if (records.empty()) {  // the checkpoint interval ran out
      MaybeCheckpoint(/*force=*/false);
      continue;
    }
    absl::Status status;
    const absl::Time commit_started = absl::Now();
    {
      absl::MutexLock lock(&store_mu_);
      status = store_->AppendBatch(log_id_, records);
      CommitHistogram().Observe({log_id_}, absl::ToDoubleSeconds(absl::Now() - commit_started));
      if (!status.ok()) {
        // The store may hold more than we think (a COMMIT that failed late, another writer
        // on the same log id): start again from what it really holds...
        {
          // ... the tree catches up with it, and the next id is the tree's size: if reading
          // failed half way, the store holds more, the next batch does not start at its size,
          // is refused, and this runs again; ids never run ahead of the tree.
          absl::MutexLock tree_lock(&tree_mu_);
          store_->ForEachLeafHash(log_id_, tree_.size(), [this](absl::string_view leaf) {
            tree_mu_.AssertHeld();
            tree_.AppendLeafHash(leaf);
          }).IgnoreError();
          next_index_ = tree_.size();
        }
        // ... and so do the ids of the records still queued: their bytes change with them.
        absl::MutexLock order(&append_mu_);
        absl::MutexLock queue_lock(&mu_);
        next_assigned_ = next_index_;
        for (PreparedRecord& queued : queued_records_) {
          v1::AccessRecord record;
          record.ParseFromString(queued.data);  // our own bytes: they parse
          record.set_access_id(next_assigned_++);
          queued = PrepareRecord(record);
        }
      }
    }
    if (status.ok()) {
      {
        // The tree follows the store: a record is a leaf once, and only once, committed.
        absl::MutexLock lock(&tree_mu_);
        for (const PreparedRecord& r : records) tree_.AppendLeafHash(AsView(r.leaf_hash));
      }
      for (size_t i = 0; i < dones.size(); ++i) dones[i](next_index_ + i);
      dones.clear();  // outside mu_: a callback's captures may take long to destroy
      next_index_ += records.size();
      if (!uncovered_since_.has_value()) uncovered_since_ = absl::Now();
      MaybeCheckpoint(/*force=*/false);
    } else {
      // Fail closed: nobody in this batch may release data. Callers learn that much; the
      // store's own message (paths, SQL) is for the operator's log.
      std::cerr << absl::StrFormat(
          "{\"event\":\"access_log_write_failed\",\"log_id\":\"%s\",\"records\":%d,"
          "\"detail\":\"%s\"}\n",
          JsonEscape(log_id_), records.size(), JsonEscape(status.message()));
      absl::Status unavailable = absl::UnavailableError(
          "the access log cannot be written, so nothing is released; try again later");
      for (DoneCallback& done : dones) done(unavailable);
      dones.clear();
    }
  }
  MaybeCheckpoint(/*force=*/true);  // a clean stop leaves everything covered
}

}  // namespace onceonly
