// The access log as a sequence of export entries (records, pruned leaves, checkpoints), read
// from a store in log order: each leaf, then the checkpoints of the tree size it completes.
// One order for the JSON-lines export, the ExportAccessLog RPC and offline verification.
#ifndef ONCEONLY_AUDIT_LOG_EXPORT_H_
#define ONCEONLY_AUDIT_LOG_EXPORT_H_

#include <cstdint>
#include <functional>
#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/access_log_store.h"
#include "audit/log_verifier.h"
#include "onceonly/v1/audit.pb.h"

namespace onceonly {

struct LogPage {
  std::vector<v1::LogEntry> entries;
  uint64_t next_index = 0;  // first leaf of the next page
  bool end = false;         // next_index is the log's size as read
};

// Leaves [start, start + max_leaves) of `log_id` and the checkpoints whose size falls in
// (start, next_index] (and those of size 0 when start is 0). A stored record that does not
// parse is carried as an UnreadableRecord with its exact bytes.
absl::StatusOr<LogPage> ReadLogPage(AccessLogStore& store, const std::string& log_id,
                                    uint64_t start, int max_leaves);

// Feeds `verifier` the whole log as stored: each record's exact bytes and stored leaf hash,
// pruned leaves, and checkpoints in order. `progress(leaves_done)` runs every 100,000 leaves.
absl::Status FeedStoredLog(AccessLogStore& store, const std::string& log_id,
                           LogVerifier& verifier,
                           const std::function<void(uint64_t)>& progress = nullptr);

// Feeds `verifier` an export as `onceonly audit export` writes it: one LogEntry in JSON per
// line (blank lines skipped), read as it comes, so memory stays flat. DataLoss
// "<source>:<line>: ..." for a line that is not a log entry or that the verifier refuses.
// `progress(lines_done)` runs every 100,000 lines.
absl::Status FeedExportLines(std::istream& in, absl::string_view source, LogVerifier& verifier,
                             const std::function<void(uint64_t)>& progress = nullptr);

}  // namespace onceonly

#endif  // ONCEONLY_AUDIT_LOG_EXPORT_H_
