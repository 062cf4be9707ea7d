// Where access records are kept. The store is the seam for tests (a fake can fail on demand)
// and, later, for PostgreSQL. Not thread-safe: AccessLog calls it from one writer thread.
#ifndef ONCEONLY_AUDIT_ACCESS_LOG_STORE_H_
#define ONCEONLY_AUDIT_ACCESS_LOG_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "onceonly/v1/audit.pb.h"

namespace onceonly {

class AccessLogStore {
 public:
  virtual ~AccessLogStore() = default;
  // Makes this store the only writer of `log_id` until it is destroyed (or the process
  // dies). FailedPrecondition, naming the log, if another writer holds it: two gateways with
  // the same instance name would interleave their leaf indexes.
  virtual absl::Status ClaimWriter(const std::string& log_id) = 0;
  // The log ids present, sorted.
  virtual absl::StatusOr<std::vector<std::string>> LogIds() = 0;
  // Number of records already in the log `log_id` (the next leaf index).
  virtual absl::StatusOr<uint64_t> Size(const std::string& log_id) = 0;
  // Appends records whose access_id are consecutive from Size(), durably and atomically:
  // after OK they survive a crash; after an error none of them is in the log.
  // Returns the RFC 9162 leaf hash stored with each record, in order, so the caller can
  // extend its Merkle tree without hashing the records again.
  virtual absl::StatusOr<std::vector<std::string>> AppendBatch(
      const std::vector<v1::AccessRecord>& records) = 0;
  // Every leaf hash of `log_id`, in order (to rebuild the Merkle tree at start).
  // DataLoss if an index is missing.
  virtual absl::StatusOr<std::vector<std::string>> LeafHashes(const std::string& log_id) = 0;
  // Records of `log_id` with access_id in [from, from + limit), in order.
  virtual absl::StatusOr<std::vector<v1::AccessRecord>> Read(const std::string& log_id,
                                                             uint64_t from, int limit) = 0;
};

// SQLite (WAL, synchronous=FULL). Read-write creates the file and schema if missing;
// read-only (for auditors' tools) refuses a missing file and writes nothing.
enum class StoreAccess { kReadWrite, kReadOnly };
absl::StatusOr<std::unique_ptr<AccessLogStore>> OpenSqliteAccessLogStore(
    const std::string& path, StoreAccess access = StoreAccess::kReadWrite);

}  // namespace onceonly

#endif  // ONCEONLY_AUDIT_ACCESS_LOG_STORE_H_
