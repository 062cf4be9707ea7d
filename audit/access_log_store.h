// Where access records are kept. The store is the seam for tests (a fake can fail on demand)
// and, later, for PostgreSQL. Not thread-safe: AccessLog calls it from one writer thread, and
// readers (AuditService, the CLI) open their own store on the same database.
#ifndef ONCEONLY_AUDIT_ACCESS_LOG_STORE_H_
#define ONCEONLY_AUDIT_ACCESS_LOG_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/merkle_tree.h"
#include "onceonly/v1/audit.pb.h"

namespace onceonly {

// One leaf as stored: the record's bytes, unless retention pruned them, and its leaf hash.
struct StoredLeaf {
  uint64_t index = 0;
  absl::Time time;
  std::optional<std::string> record;  // SerializeAccessRecord bytes; nullopt once pruned
  std::string leaf_hash;              // as stored, 32 bytes
};

// A QueryAccessLog filter. Results come in the order they were written (for one gateway, leaf
// order); `after_position` resumes after the last record of the previous page. Pruned records
// never match.
struct AccessQuery {
  std::string log_id;  // empty: every log
  std::string subject;
  std::string member;
  std::string purpose;
  v1::Decision decision = v1::DECISION_UNSPECIFIED;  // unspecified: both
  absl::Time from = absl::InfinitePast();            // inclusive
  absl::Time until = absl::InfiniteFuture();         // exclusive
  // Only records of requests for data (they name a purpose), not of AuditService calls.
  bool data_accesses_only = false;
  uint64_t after_position = 0;  // 0: from the start
  int limit = 100;
};

struct AccessQueryResult {
  std::vector<v1::AccessRecord> records;
  uint64_t last_position = 0;  // of the last record returned: the next page's after_position
};

// A record ready to be appended: its access_id set, its leaf data and leaf hash computed (by
// AccessLog::Append, on the caller's thread, so the writer thread only writes). One heap
// buffer per record, which AccessLog hands back to its appenders once committed.
struct PreparedRecord {
  uint64_t access_id = 0;  // its leaf index
  int64_t time_micros = 0;
  std::string data;         // SerializeAccessRecord(record): the leaf data, stored as is
  MerkleDigest leaf_hash;   // MerkleLeafDigest(data)
};

// What readers return in place of a stored record that does not parse (one an older version
// let through): its place in the log and its time, reason kUnreadableRecordReason, decision
// unspecified, so that a page goes on past it and shows that something is there.
inline constexpr absl::string_view kUnreadableRecordReason = "UNREADABLE_RECORD";
v1::AccessRecord UnreadableRecordMarker(const std::string& log_id, uint64_t access_id,
                                        absl::Time time);

class AccessLogStore {
 public:
  virtual ~AccessLogStore() = default;
  // Makes this store the only writer of `log_id` until it is destroyed (or the process
  // dies). FailedPrecondition, naming the log, if another writer holds it: two gateways with
  // the same instance name would interleave their leaf indexes.
  virtual absl::Status ClaimWriter(const std::string& log_id) = 0;
  // The log ids present, sorted.
  virtual absl::StatusOr<std::vector<std::string>> LogIds() = 0;
  // Number of leaves already in the log `log_id` (the next leaf index).
  virtual absl::StatusOr<uint64_t> Size(const std::string& log_id) = 0;
  // Appends records of `log_id` whose access_id are consecutive from Size(), durably and
  // atomically: after OK they survive a crash; after an error none of them is in the log.
  // FailedPrecondition if the first access_id is not Size().
  virtual absl::Status AppendBatch(const std::string& log_id,
                                   const std::vector<PreparedRecord>& records) = 0;
  // Calls `fn` with each leaf hash of `log_id` from index `from` on, in order, streaming (to
  // rebuild the Merkle tree at start without holding every hash twice). DataLoss if an index
  // is missing.
  virtual absl::Status ForEachLeafHash(const std::string& log_id, uint64_t from,
                                       const std::function<void(absl::string_view)>& fn) = 0;
  // Every leaf hash of `log_id`, collected (tests, small logs).
  absl::StatusOr<std::vector<std::string>> LeafHashes(const std::string& log_id) {
    std::vector<std::string> hashes;
    absl::Status s = ForEachLeafHash(log_id, 0, [&](absl::string_view h) {
      hashes.emplace_back(h);
    });
    if (!s.ok()) return s;
    return hashes;
  }
  // Records of `log_id` with access_id in [from, from + limit), in order; pruned ones are
  // left out, and one that does not parse is an UnreadableRecordMarker.
  virtual absl::StatusOr<std::vector<v1::AccessRecord>> Read(const std::string& log_id,
                                                             uint64_t from, int limit) = 0;
  // Leaves of `log_id` with index in [from, from + limit), in index order, as stored (no
  // parsing, no checks: that is the verifier's job).
  virtual absl::StatusOr<std::vector<StoredLeaf>> ReadLeaves(const std::string& log_id,
                                                             uint64_t from, int limit) = 0;
  // Stored rows that are no leaf of any log (0 for an untouched store), counted in one
  // snapshot: rows a query would serve that no verification covers.
  virtual absl::StatusOr<int64_t> RowsOutsideLogs() = 0;
  // Records matching `query` (see AccessQuery). A stored record that does not parse, among
  // the rows the query's byte filters select, is an UnreadableRecordMarker.
  virtual absl::StatusOr<AccessQueryResult> Query(const AccessQuery& query) = 0;
  // Query indexes with random keys (subject, member) are kept behind the writer, off the
  // commit path, in sorted batches: this indexes up to `max_records` not yet indexed and
  // returns how many. Queries stay exact meanwhile: they scan the unindexed tail. Run it
  // often from another connection (the gateway does, every 250 ms).
  virtual absl::StatusOr<uint64_t> IndexPending(int max_records) = 0;

  // Keeps a signed checkpoint, durably. A second checkpoint of the same size is ignored.
  virtual absl::Status AddCheckpoint(const v1::Checkpoint& checkpoint) = 0;
  // Checkpoints of `log_id` with tree_size in [min_size, max_size], by size.
  virtual absl::StatusOr<std::vector<v1::Checkpoint>> Checkpoints(const std::string& log_id,
                                                                  uint64_t min_size,
                                                                  uint64_t max_size) = 0;
  // The checkpoint of `log_id` with the largest tree size, if any.
  virtual absl::StatusOr<std::optional<v1::Checkpoint>> LatestCheckpoint(
      const std::string& log_id) = 0;

  // Retention: drops the content (the record's bytes and its query index entries) of the
  // records written before `before`, oldest first and in write order up to the first younger
  // one (so pruned leaves are a prefix of each log), keeping their index, time and leaf hash,
  // so every tree size stays provable. Works in short transactions of `batch_rows`, so the
  // writer is never held up long. Returns how many records it pruned.
  virtual absl::StatusOr<uint64_t> Prune(absl::Time before, int batch_rows) = 0;
};

// SQLite (WAL, synchronous=FULL). Read-write creates the file and schema if missing;
// read-only (for auditors' tools) refuses a missing file and writes nothing.
enum class StoreAccess { kReadWrite, kReadOnly };
absl::StatusOr<std::unique_ptr<AccessLogStore>> OpenSqliteAccessLogStore(
    const std::string& path, StoreAccess access = StoreAccess::kReadWrite);

}  // namespace onceonly

#endif  // ONCEONLY_AUDIT_ACCESS_LOG_STORE_H_
