// Generates KBO/BCE open-data extracts in the exact format of the real ones (DOMAIN.md, "KBO
// open data format"), with the proportions of the national dump, for tests and benchmarks:
// the real 2 GB full dump cannot be downloaded here.
//
// Every enterprise, with its establishment units, names, addresses, contacts, activities and
// branches, is a pure function of (seed, its index, the enterprise count). So:
//   - the same options give byte-identical files (no clock, no unordered iteration);
//   - rows stream to disk one enterprise at a time, and memory stays flat at 1.9 M
//     enterprises;
//   - an update extract regenerates only the enterprises it changes, from the seed recorded
//     in the full extract's manifest, never reading the full extract's CSV files.
// Every code comes from the real code.csv, which is copied verbatim.
//
// manifest.json is written last (its presence marks a complete extract): the options, the
// data rows per file, and the KboDigest of the database an import produces; for an update,
// of the database after the full and then the update are imported.
#ifndef ONCEONLY_CONNECTORS_KBO_KBO_GENERATOR_H_
#define ONCEONLY_CONNECTORS_KBO_KBO_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "connectors/kbo/kbo_digest.h"
#include "onceonly/registry/v1/registry.pb.h"

namespace onceonly {

// Enterprise numbers and establishment numbers are laid out for at most this many.
inline constexpr int64_t kMaxGeneratedEnterprises = 2'400'000;
inline constexpr int64_t kMaxGeneratedChanges = 300'000;

struct KboGenerateOptions {
  int64_t enterprises = 0;  // full extract only; an update takes the full's
  std::string out_dir;      // created if missing; files in it are overwritten
  uint64_t seed = 20251012;
  std::string code_table;  // the real code.csv (DefaultKboCodeTablePath())
  // 0: 140 for a full extract, the full's + 1 for an update.
  int64_t extract_number = 0;
  // ISO yyyy-mm-dd; empty: 2025-10-05 for a full, the day after the full's for an update.
  std::string snapshot_date;

  // Update mode: the directory of a full extract written by this generator. The update
  // changes `changes` enterprises of it: about half modified, a fifth struck off, the rest
  // new. Its own `seed` picks which.
  std::string update_from;
  int64_t changes = 10'000;

  const Clock* clock = nullptr;  // for progress rates only; nullptr: Clock::Real()
  // Full extract only, if set: each enterprise in number order, with the fields the sample
  // permit and tax registries are derived from (SampleRegistrySeeder) as
  // KboStore::ListEnterpriseSummaries returns them after the import: number, type and form
  // codes (no descriptions), start date, its own addresses. An error stops the generator.
  std::function<absl::Status(const registry::v1::Enterprise&)> on_enterprise;
};

struct KboGenerateSummary {
  std::string extract_type;  // "full" or "update"
  int64_t extract_number = 0;
  std::string snapshot_date;
  std::map<std::string, int64_t> file_rows;         // "enterprise.csv" -> data rows (no header)
  int64_t bytes_written = 0;                        // all files, code.csv and manifest included
  int64_t modified = 0, added = 0, struck_off = 0;  // update only
  KboDigest state;  // what KboContentDigest reports after importing (the full, then this)
};

// Writes the extract. INVALID_ARGUMENT names the option, file or manifest field that is
// wrong (bad count, missing or malformed code.csv, update source not a generated full
// extract or made with another code.csv); UNAVAILABLE if a file cannot be written.
// `progress`, if set, gets a line about once a second: enterprises done, rows/s, ETA.
absl::StatusOr<KboGenerateSummary> GenerateKboExtract(
    const KboGenerateOptions& options,
    const std::function<void(absl::string_view progress_line)>& progress);

// The real code.csv: $ONCEONLY_KBO_EXTRACT/code.csv if that is set (as scripts/demo.sh
// reads it), otherwise the extract CMake found beside the repository (../shared/data/kbo/).
std::string DefaultKboCodeTablePath();

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_KBO_KBO_GENERATOR_H_
