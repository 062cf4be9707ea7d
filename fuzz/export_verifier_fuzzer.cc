// Fuzzes `onceonly audit verify --file`: an exported access log (JSON lines) fed to the
// LogVerifier by FeedExportLines, as the CLI feeds it, checked with the public key that signed
// the seeds' checkpoints. Properties:
// - nothing crashes or hangs, whatever the lines hold;
// - a refusal is DATA_LOSS, and names the file and the line when a line is at fault;
// - a log that verifies has as many leaves as record, unreadable-record and pruned lines, and
//   its root is the one MerkleTree computes from their leaf hashes (the verifier keeps only
//   O(log n) of them); the unreadable records it reports are leaves of the log, in order.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "audit/access_log.h"
#include "audit/log_export.h"
#include "audit/log_verifier.h"
#include "audit/merkle_tree.h"
#include "fuzz/property.h"
#include "google/protobuf/util/json_util.h"
#include "onceonly/v1/audit.pb.h"

namespace onceonly {
namespace {

// checkpoint.pub of the scratch gateway whose log the seeds were exported from
// (docs/fuzzing.md says how); only its checkpoints verify.
constexpr absl::string_view kSeedLogPublicKey = R"(-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAYFoAARkqSp6PfewbdRe4d1rL6zCyEFXIvqIddtmcsCU=
-----END PUBLIC KEY-----
)";
constexpr absl::string_view kSource = "export.jsonl";

void CheckRefusal(const absl::Status& status) {
  const bool named = absl::StartsWith(status.message(), absl::StrCat(kSource, ":"));
  if (status.code() != absl::StatusCode::kDataLoss || !named) {
    PropertyViolated("a refused export is DATA_LOSS naming the file and line", status.ToString());
  }
}

// The leaves the lines hold, by the same parse as FeedExportLines, into a MerkleTree: a record
// is its deterministic encoding, an unreadable record its bytes as stored, a pruned leaf the
// hash it carries.
MerkleTree TreeOfLines(const std::string& text) {
  MerkleTree tree;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    v1::LogEntry entry;
    if (line.empty() || !google::protobuf::util::JsonStringToMessage(line, &entry).ok()) continue;
    if (entry.has_record()) {
      tree.AppendLeafHash(MerkleLeafHash(SerializeAccessRecord(entry.record())));
    } else if (entry.has_unreadable()) {
      tree.AppendLeafHash(MerkleLeafHash(entry.unreadable().data()));
    } else if (entry.has_pruned()) {
      tree.AppendLeafHash(entry.leaf_hash());
    }
  }
  return tree;
}

void CheckReport(const std::string& text, const LogVerifyReport& report) {
  if (report.records + report.pruned + report.unreadable.size() != report.leaves) {
    PropertyViolated(
        "every leaf is a record, a pruned leaf or an unreadable record",
        absl::StrCat(report.leaves, " leaves, ", report.records, " records, ", report.pruned,
                     " pruned, ", report.unreadable.size(), " unreadable"));
  }
  for (size_t i = 0; i < report.unreadable.size(); ++i) {
    if (report.unreadable[i] >= report.leaves ||
        (i > 0 && report.unreadable[i] <= report.unreadable[i - 1])) {
      PropertyViolated("unreadable records are named by their leaves, in order",
                       absl::StrCat("entry ", report.unreadable[i], " of ", report.leaves));
    }
  }
  const MerkleTree tree = TreeOfLines(text);
  if (tree.size() != report.leaves) {
    PropertyViolated("a verified log has a leaf per record or pruned line",
                     absl::StrCat(report.leaves, " leaves verified, ", tree.size(), " lines"));
  }
  const absl::StatusOr<std::string> root = tree.RootAt(tree.size());
  if (!root.ok() || *root != report.root) {
    PropertyViolated(
        "the verifier's root is the Merkle tree's",
        absl::StrCat(absl::BytesToHexString(report.root), " verified, ",
                     root.ok() ? absl::BytesToHexString(*root) : root.status().ToString()));
  }
  if (report.latest_checkpoint.has_value() &&
      report.latest_checkpoint->tree_size() > report.leaves) {
    PropertyViolated("the latest checkpoint verified is within the log",
                     absl::StrCat(report.latest_checkpoint->tree_size(), " > ", report.leaves));
  }
}

}  // namespace
}  // namespace onceonly

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace onceonly;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::istringstream in(text);
  LogVerifier verifier{std::string(kSeedLogPublicKey)};
  if (absl::Status fed = FeedExportLines(in, kSource, verifier); !fed.ok()) {
    CheckRefusal(fed);
    return 0;
  }
  absl::StatusOr<LogVerifyReport> report = verifier.Finish();
  if (report.ok()) {
    CheckReport(text, *report);
  } else if (report.status().code() != absl::StatusCode::kDataLoss) {
    PropertyViolated("a log refused at its end is DATA_LOSS", report.status().ToString());
  }
  return 0;
}
