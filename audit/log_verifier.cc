#include "audit/log_verifier.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/access_log.h"
#include "audit/checkpoint.h"
#include "audit/merkle_tree.h"
#include "common/ed25519.h"

namespace onceonly {
namespace {

std::string Describe(const v1::Checkpoint& checkpoint) {
  return absl::StrCat("checkpoint of size ", checkpoint.tree_size(), " signed at ",
                      absl::FormatTime(absl::RFC3339_sec,
                                       absl::FromUnixSeconds(checkpoint.time().seconds()),
                                       absl::UTCTimeZone()));
}

}  // namespace

absl::Status LogVerifier::Fail(absl::Status status) {
  if (error_.ok()) error_ = status;
  return error_;
}

absl::Status LogVerifier::Trust(const v1::Checkpoint& checkpoint) {
  if (!error_.ok()) return error_;
  return AddCheckpoint(checkpoint, /*trusted=*/true);
}

absl::Status LogVerifier::Add(const v1::LogEntry& entry) {
  if (!error_.ok()) return error_;
  switch (entry.entry_case()) {
    case v1::LogEntry::kRecord:
      return AddRecord(entry.record(), entry.leaf_hash());
    case v1::LogEntry::kPruned:
      return AddPruned(entry.pruned(), entry.leaf_hash());
    case v1::LogEntry::kCheckpoint:
      return AddCheckpoint(entry.checkpoint(), /*trusted=*/false);
    case v1::LogEntry::kUnreadable: {
      const v1::UnreadableRecord& unreadable = entry.unreadable();
      v1::AccessRecord parsed;
      if (parsed.ParseFromString(unreadable.data())) {
        // An exporter marks only what does not parse: a marked record that parses was
        // relabelled after the export.
        return Fail(absl::DataLossError(absl::StrCat(
            "entry ", report_.leaves, ": marked unreadable, but its bytes parse (altered)")));
      }
      return AddUnreadable(unreadable.log_id(), unreadable.access_id(), unreadable.data(),
                           entry.leaf_hash());
    }
    case v1::LogEntry::ENTRY_NOT_SET:
      break;
  }
  return Fail(absl::InvalidArgumentError(
      absl::StrCat("after entry ", report_.leaves, ": a line that is neither a record, a "
                   "pruned leaf, an unreadable record nor a checkpoint")));
}

absl::Status LogVerifier::AddRecordBytes(absl::string_view bytes,
                                         absl::string_view stored_leaf_hash,
                                         absl::string_view log_id, uint64_t index) {
  if (!error_.ok()) return error_;
  const uint64_t n = report_.leaves;
  v1::AccessRecord record;
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return AddUnreadable(log_id, index, bytes, stored_leaf_hash);
  }
  // The leaf is the stored bytes themselves; they must also be the one encoding of what they
  // hold, or two different byte strings could claim the same record.
  if (SerializeAccessRecord(record) != bytes) {
    return Fail(absl::DataLossError(absl::StrCat(
        "entry ", n, ": the stored record is not in its deterministic encoding (altered)")));
  }
  return AddRecord(record, stored_leaf_hash);
}

absl::Status LogVerifier::ExpectLeaf(absl::string_view log_id, bool has_access_id,
                                     uint64_t access_id) {
  const uint64_t n = report_.leaves;
  if (report_.log_id.empty()) report_.log_id = std::string(log_id);
  if (log_id != report_.log_id) {
    return Fail(absl::DataLossError(absl::StrCat("entry ", n, ": belongs to log \"", log_id,
                                                 "\", not \"", report_.log_id, "\"")));
  }
  if (!has_access_id) {
    return Fail(absl::DataLossError(absl::StrCat("entry ", n, ": has no access_id")));
  }
  if (access_id > n) {
    return Fail(absl::DataLossError(absl::StrCat(
        "entry ", n, " is missing: access_id ", access_id, " comes right after ",
        n == 0 ? std::string("the start") : absl::StrCat("entry ", n - 1),
        " (records deleted or reordered)")));
  }
  if (access_id < n) {
    return Fail(absl::DataLossError(absl::StrCat(
        "entry ", n, ": found access_id ", access_id,
        " where ", n, " was expected (records reordered or duplicated)")));
  }
  return absl::OkStatus();
}

absl::Status LogVerifier::AddRecord(const v1::AccessRecord& record,
                                    absl::string_view stored_leaf_hash) {
  if (!error_.ok()) return error_;
  if (absl::Status s = ExpectLeaf(record.log_id(), record.has_access_id(), record.access_id());
      !s.ok()) {
    return s;
  }
  std::string leaf = MerkleLeafHash(SerializeAccessRecord(record));
  if (!stored_leaf_hash.empty() && stored_leaf_hash != leaf) {
    return Fail(absl::DataLossError(
        absl::StrCat("entry ", report_.leaves,
                     ": the record does not hash to the leaf hash stored with it (the record "
                     "or its hash was altered)")));
  }
  ++report_.records;
  if (!first_record_.has_value()) first_record_ = report_.leaves;
  return AppendLeaf(std::move(leaf));
}

absl::Status LogVerifier::AddPruned(const v1::PrunedLeaf& pruned,
                                    absl::string_view stored_leaf_hash) {
  if (absl::Status s = ExpectLeaf(pruned.log_id(), true, pruned.access_id()); !s.ok()) return s;
  if (stored_leaf_hash.size() != 32) {
    return Fail(absl::DataLossError(absl::StrCat(
        "entry ", report_.leaves, ": a pruned leaf needs its 32-byte leaf hash")));
  }
  if (first_record_.has_value()) {
    return Fail(absl::DataLossError(absl::StrCat(
        "entry ", report_.leaves, ": its record was removed although entry ", *first_record_,
        ", older, still has its own; retention removes the oldest records first, so this one "
        "was erased")));
  }
  ++report_.pruned;
  return AppendLeaf(std::string(stored_leaf_hash));
}

absl::Status LogVerifier::AddUnreadable(absl::string_view log_id, uint64_t index,
                                        absl::string_view bytes,
                                        absl::string_view stored_leaf_hash) {
  if (!error_.ok()) return error_;
  if (absl::Status s = ExpectLeaf(log_id, true, index); !s.ok()) return s;
  std::string leaf = MerkleLeafHash(bytes);
  // Bytes that do not hash to what the store kept were changed after they were written: no
  // longer a record an old version wrote, but an alteration.
  if (stored_leaf_hash != leaf) {
    return Fail(absl::DataLossError(absl::StrCat(
        "entry ", report_.leaves, ": the stored record does not parse and does not hash to the "
        "leaf hash stored with it (altered or corrupt)")));
  }
  report_.unreadable.push_back(report_.leaves);
  if (!first_record_.has_value()) first_record_ = report_.leaves;
  return AppendLeaf(std::move(leaf));
}

absl::Status LogVerifier::AppendLeaf(std::string leaf_hash) {
  peaks_.emplace_back(1, std::move(leaf_hash));
  while (peaks_.size() >= 2 && peaks_[peaks_.size() - 2].first == peaks_.back().first) {
    auto right = std::move(peaks_.back());
    peaks_.pop_back();
    peaks_.back().second = MerkleNodeHash(peaks_.back().second, right.second);
    peaks_.back().first *= 2;
  }
  ++report_.leaves;
  // Checkpoints that waited for this size.
  auto range = pending_.equal_range(report_.leaves);
  std::vector<std::pair<v1::Checkpoint, bool>> due;
  for (auto it = range.first; it != range.second; ++it) due.push_back(it->second);
  pending_.erase(range.first, range.second);
  for (const auto& [checkpoint, trusted] : due) {
    if (absl::Status s = CheckRoot(checkpoint, trusted); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string LogVerifier::Root() const {
  if (peaks_.empty()) return MerkleEmptyRoot();
  // RFC 9162 splits at the largest power of two, so the tree is its peaks folded from the
  // right.
  std::string root = peaks_.back().second;
  for (size_t i = peaks_.size() - 1; i-- > 0;) root = MerkleNodeHash(peaks_[i].second, root);
  return root;
}

absl::Status LogVerifier::AddCheckpoint(const v1::Checkpoint& checkpoint, bool trusted) {
  if (!error_.ok()) return error_;
  const std::string what = absl::StrCat(trusted ? "trusted " : "", Describe(checkpoint));
  if (report_.log_id.empty()) report_.log_id = checkpoint.log_id();
  if (checkpoint.log_id() != report_.log_id) {
    return Fail(absl::DataLossError(absl::StrCat(what, " is for log \"", checkpoint.log_id(),
                                                 "\", not \"", report_.log_id, "\"")));
  }
  absl::Status signature = absl::NotFoundError("no public key given");
  for (const std::string& key : public_keys_pem_) {
    signature = VerifyEd25519(key, CheckpointSignedText(checkpoint), checkpoint.signature());
    if (signature.ok()) break;
  }
  if (!signature.ok()) {
    return Fail(absl::DataLossError(absl::StrCat(
        what, ": the signature does not verify with the given public key",
        public_keys_pem_.size() > 1 ? "s" : "", " (", signature.message(), ")")));
  }
  if (checkpoint.tree_size() < report_.leaves) {
    // Roots of past sizes are not kept (memory stays O(log n)); an export puts each
    // checkpoint right after its last leaf, and a trusted one is given before feeding.
    auto seen = roots_.find(checkpoint.tree_size());
    if (seen != roots_.end()) {
      if (seen->second != checkpoint.root_hash()) {
        return Fail(absl::DataLossError(absl::StrCat(
            what, " contradicts another checkpoint of the same size (a forked log)")));
      }
      ++report_.checkpoints;
      return absl::OkStatus();
    }
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        what, " comes after entry ", report_.leaves - 1,
        "; give checkpoints in log order, right after the entry that completes them")));
  }
  if (checkpoint.tree_size() > report_.leaves) {
    pending_.emplace(checkpoint.tree_size(), std::make_pair(checkpoint, trusted));
    return absl::OkStatus();
  }
  return CheckRoot(checkpoint, trusted);
}

absl::Status LogVerifier::CheckRoot(const v1::Checkpoint& checkpoint, bool trusted) {
  const std::string root = Root();
  if (root != checkpoint.root_hash()) {
    return Fail(absl::DataLossError(absl::StrCat(
        trusted ? "trusted " : "", Describe(checkpoint),
        " does not match the records: one of entries ", last_good_checkpoint_, " to ",
        checkpoint.tree_size() - 1, " was altered, replaced or rehashed")));
  }
  auto [it, inserted] = roots_.emplace(checkpoint.tree_size(), root);
  if (!inserted && it->second != root) {
    return Fail(absl::DataLossError("a forked log"));  // unreachable: same leaves, same root
  }
  last_good_checkpoint_ = checkpoint.tree_size();
  ++report_.checkpoints;
  if (!trusted && (!report_.latest_checkpoint.has_value() ||
                   report_.latest_checkpoint->tree_size() <= checkpoint.tree_size())) {
    report_.latest_checkpoint = checkpoint;
  }
  return absl::OkStatus();
}

absl::StatusOr<LogVerifyReport> LogVerifier::Finish() {
  if (!error_.ok()) return error_;
  if (!pending_.empty()) {
    const auto& [checkpoint, trusted] = pending_.begin()->second;
    return Fail(absl::DataLossError(absl::StrCat(
        trusted ? "trusted " : "", Describe(checkpoint), " covers ", checkpoint.tree_size(),
        " entries but the log ends after ", report_.leaves, ": entries from ",
        report_.leaves, " on were deleted (or, for an export older than this checkpoint, the "
        "export ends before it: export again)")));
  }
  report_.root = Root();
  return report_;
}

}  // namespace onceonly
