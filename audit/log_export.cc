#include "audit/log_export.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace onceonly {
namespace {

constexpr int kFeedPage = 10000;

// A leaf whose record retention pruned, as an export carries it.
v1::LogEntry PrunedEntry(const std::string& log_id, const StoredLeaf& leaf) {
  v1::LogEntry entry;
  v1::PrunedLeaf* pruned = entry.mutable_pruned();
  pruned->set_log_id(log_id);
  pruned->set_access_id(leaf.index);
  *pruned->mutable_time() = ToProto(leaf.time);
  entry.set_leaf_hash(leaf.leaf_hash);
  return entry;
}

}  // namespace

absl::StatusOr<LogPage> ReadLogPage(AccessLogStore& store, const std::string& log_id,
                                    uint64_t start, int max_leaves) {
  // Checkpoints first, then the size, then the leaves: a live writer only adds, so every
  // checkpoint read is covered by the leaves read after it. (In the other order, a checkpoint
  // committed meanwhile would look like one covering deleted records.)
  ASSIGN_OR_RETURN(std::vector<v1::Checkpoint> checkpoints,
                   store.Checkpoints(log_id, start == 0 ? 0 : start + 1, UINT64_MAX));
  ASSIGN_OR_RETURN(uint64_t size, store.Size(log_id));
  ASSIGN_OR_RETURN(std::vector<StoredLeaf> leaves, store.ReadLeaves(log_id, start, max_leaves));
  LogPage page;
  // A page of deleted rows still moves on, so that the rows after the gap are read and the
  // verifier names it.
  page.next_index = leaves.empty() ? std::max(start, std::min<uint64_t>(size, start + max_leaves))
                                   : leaves.back().index + 1;
  page.end = page.next_index >= size;
  // The last page also carries checkpoints beyond the last leaf, so that a verifier of the
  // export sees what they cover that the log lost; other pages leave them to later pages.
  if (!page.end) {
    while (!checkpoints.empty() && checkpoints.back().tree_size() > page.next_index) {
      checkpoints.pop_back();
    }
  }
  auto next_checkpoint = checkpoints.begin();
  auto emit_checkpoints_up_to = [&](uint64_t tree_size) {
    for (; next_checkpoint != checkpoints.end() && next_checkpoint->tree_size() <= tree_size;
         ++next_checkpoint) {
      *page.entries.emplace_back().mutable_checkpoint() = *next_checkpoint;
    }
  };
  emit_checkpoints_up_to(start);
  for (StoredLeaf& leaf : leaves) {
    if (!leaf.record.has_value()) {
      page.entries.push_back(PrunedEntry(log_id, leaf));
    } else {
      v1::LogEntry& entry = page.entries.emplace_back();
      if (!entry.mutable_record()->ParseFromString(*leaf.record)) {
        // Carried as the bytes it is, for the verifier to check against the tree.
        v1::UnreadableRecord* unreadable = entry.mutable_unreadable();
        unreadable->set_log_id(log_id);
        unreadable->set_access_id(leaf.index);
        *unreadable->mutable_time() = ToProto(leaf.time);
        unreadable->set_data(std::move(*leaf.record));
      }
      entry.set_leaf_hash(std::move(leaf.leaf_hash));
    }
    emit_checkpoints_up_to(leaf.index + 1);
  }
  emit_checkpoints_up_to(UINT64_MAX);
  return page;
}

absl::Status FeedStoredLog(AccessLogStore& store, const std::string& log_id,
                           LogVerifier& verifier, const std::function<void(uint64_t)>& progress) {
  // Checkpoints are few (one per N records or T ms): read them once, feed them in order.
  ASSIGN_OR_RETURN(std::vector<v1::Checkpoint> checkpoints,
                   store.Checkpoints(log_id, 0, UINT64_MAX));
  auto next_checkpoint = checkpoints.begin();
  auto feed_checkpoints_up_to = [&](uint64_t tree_size) -> absl::Status {
    for (; next_checkpoint != checkpoints.end() && next_checkpoint->tree_size() <= tree_size;
         ++next_checkpoint) {
      v1::LogEntry entry;
      *entry.mutable_checkpoint() = *next_checkpoint;
      RETURN_IF_ERROR(verifier.Add(entry));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(feed_checkpoints_up_to(0));
  // The log as it stood when verification began (read after the checkpoints, so it covers
  // them): a live gateway's later leaves are left for the next run. Pages go by position, so
  // a deleted row shows up as a gap rather than being skipped.
  ASSIGN_OR_RETURN(const uint64_t size, store.Size(log_id));
  uint64_t after_last = 0;  // one past the last leaf row seen
  for (uint64_t from = 0; from < size;) {
    const int count = static_cast<int>(std::min<uint64_t>(kFeedPage, size - from));
    ASSIGN_OR_RETURN(std::vector<StoredLeaf> leaves, store.ReadLeaves(log_id, from, count));
    for (const StoredLeaf& leaf : leaves) {
      if (leaf.record.has_value()) {
        RETURN_IF_ERROR(verifier.AddRecordBytes(*leaf.record, leaf.leaf_hash, log_id, leaf.index));
      } else {
        RETURN_IF_ERROR(verifier.Add(PrunedEntry(log_id, leaf)));
      }
      RETURN_IF_ERROR(feed_checkpoints_up_to(leaf.index + 1));
      after_last = leaf.index + 1;
      if (progress && (leaf.index + 1) % 100000 == 0) progress(leaf.index + 1);
    }
    from += static_cast<uint64_t>(count);
  }
  // Checkpoints beyond the last leaf: the verifier reports the records they miss.
  RETURN_IF_ERROR(feed_checkpoints_up_to(UINT64_MAX));
  // Rows cut from the end while the store's own bookkeeping still counts them.
  if (after_last < size) {
    return absl::DataLossError(absl::StrCat("log ", log_id, ": entries from ", after_last,
                                            " on were deleted (the store locates ", size,
                                            " leaves, the last row found is entry ",
                                            static_cast<int64_t>(after_last) - 1, ")"));
  }
  // Rows that belong to no log: inserted behind the writer's back, they would be served by
  // queries without ever being verified.
  ASSIGN_OR_RETURN(const int64_t stray, store.RowsOutsideLogs());
  if (stray > 0) {
    return absl::DataLossError(absl::StrCat(
        stray, " stored row(s) belong to no log's leaves: rows were inserted behind the "
        "gateway's back; they are not part of any verified log"));
  }
  return absl::OkStatus();
}

absl::Status FeedExportLines(std::istream& in, absl::string_view source, LogVerifier& verifier,
                             const std::function<void(uint64_t)>& progress) {
  std::string line;
  for (uint64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    v1::LogEntry entry;
    if (auto s = google::protobuf::util::JsonStringToMessage(line, &entry); !s.ok()) {
      return absl::DataLossError(absl::StrCat(source, ":", number, ": not a log entry (",
                                              s.message().as_string(), ")"));
    }
    if (absl::Status s = verifier.Add(entry); !s.ok()) {
      return absl::DataLossError(absl::StrCat(source, ":", number, ": ", s.message()));
    }
    if (progress && number % 100000 == 0) progress(number);
  }
  return absl::OkStatus();
}

}  // namespace onceonly
