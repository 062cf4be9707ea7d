// Verifies an access log from its leaves up, as an auditor's or a firm's tool does, trusting
// nothing the gateway computed: every leaf hash is recomputed from the record, every
// checkpoint's signature is checked and its root recomputed from the leaves before it. Since
// all roots come from one leaf sequence, checkpoints that all match are consistent with each
// other; two different roots for one size (a forked log) are an error.
//
// Feed entries in log order (the order of `onceonly audit export`); the first error is final
// and names the entry: "entry 17: ...". Pruned leaves (retention) must come before every leaf
// that still has its record. Not thread-safe. Memory is O(log n) plus the
// checkpoints still waiting for their size to be reached.
#ifndef ONCEONLY_AUDIT_LOG_VERIFIER_H_
#define ONCEONLY_AUDIT_LOG_VERIFIER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "onceonly/v1/audit.pb.h"

namespace onceonly {

struct LogVerifyReport {
  std::string log_id;
  uint64_t leaves = 0;       // tree size verified
  uint64_t records = 0;      // leaves whose record was checked
  uint64_t pruned = 0;       // leaves known by their stored hash only (retention)
  uint64_t checkpoints = 0;  // signatures and roots checked
  std::string root;          // RFC 9162 root over every leaf
  std::optional<v1::Checkpoint> latest_checkpoint;
  // Leaves whose bytes hash correctly (they are what the log committed) but do not parse:
  // records an older version let through. A finding of its own, not tampering; their content
  // is lost, their place in the tree is checked like any other.
  std::vector<uint64_t> unreadable;
};

class LogVerifier {
 public:
  // `public_key_pem`: the gateway's checkpoint key (SPKI PEM, checkpoint.pub).
  explicit LogVerifier(std::string public_key_pem)
      : public_keys_pem_{std::move(public_key_pem)} {}
  // Several keys, for a log that spans a key rotation: a checkpoint may be signed by any.
  explicit LogVerifier(std::vector<std::string> public_keys_pem)
      : public_keys_pem_(std::move(public_keys_pem)) {}

  // A checkpoint obtained out of band (kept outside the operator's reach): the log must
  // reproduce its root at its size. Call before or while feeding.
  absl::Status Trust(const v1::Checkpoint& checkpoint);

  absl::Status Add(const v1::LogEntry& entry);
  // A record as stored: its exact bytes, which must be the deterministic encoding of the
  // record they hold, and the leaf hash stored beside them (empty if none); `log_id` and
  // `index` say where the store keeps it. Bytes that do not parse are an unreadable record
  // (LogVerifyReport::unreadable) if they hash to the stored leaf hash, else an alteration.
  absl::Status AddRecordBytes(absl::string_view bytes, absl::string_view stored_leaf_hash,
                              absl::string_view log_id, uint64_t index);

  // Checks what only the end can tell (checkpoints beyond the last leaf mean deleted
  // records) and reports; the first error otherwise.
  absl::StatusOr<LogVerifyReport> Finish();

 private:
  absl::Status AddRecord(const v1::AccessRecord& record, absl::string_view stored_leaf_hash);
  absl::Status AddPruned(const v1::PrunedLeaf& pruned, absl::string_view stored_leaf_hash);
  absl::Status AddUnreadable(absl::string_view log_id, uint64_t index, absl::string_view bytes,
                             absl::string_view stored_leaf_hash);
  absl::Status AddCheckpoint(const v1::Checkpoint& checkpoint, bool trusted);
  // The next leaf must be `log_id`/`access_id` (has_access_id false: missing).
  absl::Status ExpectLeaf(absl::string_view log_id, bool has_access_id, uint64_t access_id);
  absl::Status AppendLeaf(std::string leaf_hash);
  absl::Status CheckRoot(const v1::Checkpoint& checkpoint, bool trusted);
  std::string Root() const;
  absl::Status Fail(absl::Status status);

  const std::vector<std::string> public_keys_pem_;
  // Retention removes the oldest records first: once a leaf with its record is seen, a later
  // pruned leaf is an erased record, not retention.
  std::optional<uint64_t> first_record_;
  absl::Status error_;
  LogVerifyReport report_;
  // Compact range: the roots of the perfect subtrees that make up the leaves so far, left to
  // right, with their sizes.
  std::vector<std::pair<uint64_t, std::string>> peaks_;
  // Checkpoints whose size is not reached yet, by size (with whether they are trusted).
  std::multimap<uint64_t, std::pair<v1::Checkpoint, bool>> pending_;
  // Roots already checked, by size: a second checkpoint of that size must agree.
  std::map<uint64_t, std::string> roots_;
  uint64_t last_good_checkpoint_ = 0;
};

}  // namespace onceonly

#endif  // ONCEONLY_AUDIT_LOG_VERIFIER_H_
