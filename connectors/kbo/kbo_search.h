// The search index of the companies registry: one full-text document per enterprise, so that
// SearchEnterprises (KboStore) finds enterprises by name, postcode and juridical form in
// enterprise-number order without scanning.
//
// A document gathers what KBO holds on the enterprise AND on its establishment units and
// branches: every denomination (names, abbreviations, commercial and branch names, in every
// language), every postcode (registered seat, units, branches) and the juridical form (and
// the CAC form). It lives in the FTS5 table `kbo_search` (unicode61 tokenizer without
// diacritics, prefix indexes of 1 to 3 characters), keyed by the enterprise number as an
// integer. NACE codes are not in it: they are matched on the activity table.
//
// The index is derived data, written inside the import's transaction, so readers see it
// consistent with the tables. Not thread-safe: one writer connection.
#ifndef ONCEONLY_CONNECTORS_KBO_KBO_SEARCH_H_
#define ONCEONLY_CONNECTORS_KBO_KBO_SEARCH_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/sqlite.h"

struct Fts5Tokenizer;
struct fts5_tokenizer;

namespace onceonly {

// Creates the (empty) index table if it is missing. CreateKboSchema calls it.
absl::Status CreateKboSearchIndex(SqliteDb& db);

// Full import: builds the index of the whole database from scratch. Call it after the bulk
// load and CreateKboIndexes, in the import's transaction. Memory grows with the number of
// names and addresses (about 200 MB for the full KBO dump), not with activities.
absl::Status RebuildKboSearchIndex(SqliteDb& db);

// Update: call TrackKboSearchChanges before the first delete. Until
// RefreshTrackedKboSearch, the connection notes (in TEMP triggers) every enterprise whose
// indexed records a delete or insert touches, directly or through one of its establishment
// units or branches, including units that are deleted. RefreshTrackedKboSearch, after the
// last insert and in the same transaction, re-indexes those enterprises, stops tracking and
// returns how many it re-indexed. A rollback undoes both.
absl::Status TrackKboSearchChanges(SqliteDb& db);
absl::StatusOr<int64_t> RefreshTrackedKboSearch(SqliteDb& db);

// Re-indexes these enterprises (canonical numbers) from the tables as they are now; one that
// KBO no longer holds leaves the index. INVALID_ARGUMENT for a malformed number.
absl::Status RefreshKboSearchIndex(SqliteDb& db,
                                   const std::vector<std::string>& enterprise_numbers);

namespace kbo_search_internal {

// "0403.170.701" <-> 403170701, the document key. Keys sort like the numbers do.
std::optional<int64_t> EnterpriseKey(absl::string_view canonical_number);
std::string EnterpriseNumberOfKey(int64_t key);

// The index's own tokenizer, so that a query is cut and folded exactly as the documents were
// ("Prégaldien," -> "pregaldien"). One per connection; not thread-safe.
class SearchTokenizer {
 public:
  // FAILED_PRECONDITION if this SQLite has no FTS5.
  static absl::StatusOr<std::unique_ptr<SearchTokenizer>> Create(SqliteDb& db);
  ~SearchTokenizer();
  SearchTokenizer(const SearchTokenizer&) = delete;
  SearchTokenizer& operator=(const SearchTokenizer&) = delete;

  std::vector<std::string> Tokens(absl::string_view text);

 private:
  SearchTokenizer(std::unique_ptr<fts5_tokenizer> methods, Fts5Tokenizer* tokenizer);
  const std::unique_ptr<fts5_tokenizer> methods_;
  Fts5Tokenizer* const tokenizer_;
};

}  // namespace kbo_search_internal
}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_KBO_KBO_SEARCH_H_
