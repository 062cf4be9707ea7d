// Read side of the companies registry: one enterprise, with every record KBO holds on it and
// its establishment units and branches, from the SQLite database ImportKboExtract writes;
// and the search for enterprises by name, postcode, NACE code and juridical form. Code
// descriptions are resolved in the requested language.
//
// Thread-safe: calls run concurrently on a small pool of read-only connections, each with
// its statements prepared once. Each call reads one consistent snapshot, so an import
// committing meanwhile is seen entirely or not at all.
#ifndef ONCEONLY_CONNECTORS_KBO_KBO_STORE_H_
#define ONCEONLY_CONNECTORS_KBO_KBO_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "onceonly/registry/v1/registry.pb.h"

namespace onceonly {
namespace kbo_internal {
struct ReadConnection;  // a read-only connection with its prepared statements
}  // namespace kbo_internal

class KboStore {
 public:
  // Opens the database at `db_path` read-only. NOT_FOUND if there is no file,
  // FAILED_PRECONDITION if it holds no KBO schema (run the import first).
  static absl::StatusOr<std::unique_ptr<KboStore>> Open(const std::string& db_path,
                                                        int max_connections = 8);
  ~KboStore();
  KboStore(const KboStore&) = delete;
  KboStore& operator=(const KboStore&) = delete;

  // The enterprise with number `canonical_number` ("0403.170.701"), its denominations,
  // addresses, activities and contacts, its establishment units (each with its own records)
  // and its branches. Descriptions are in `language` ("fr", "nl", "de", "en"; "" means
  // "fr"), falling back to fr, nl, de, en when the code table lacks that language.
  // Repeated fields are in a stable order (file order; units and branches by number).
  // NOT_FOUND naming the number if KBO does not hold it; INVALID_ARGUMENT for another
  // language. With `fields` (top-level Enterprise field names, as in
  // GetEnterpriseRequest.read_mask), only those are read and filled, and enterprise_number;
  // an unknown name is INVALID_ARGUMENT (reason UNKNOWN_FIELD).
  absl::StatusOr<registry::v1::Enterprise> GetEnterprise(
      absl::string_view canonical_number, absl::string_view language,
      absl::Time deadline = absl::InfiniteFuture(), const std::vector<std::string>& fields = {});

  // The enterprises that match `request`, a page at a time, in enterprise-number order; the
  // criteria, page size and page token are as documented on SearchEnterprisesRequest in
  // registry.proto. Name, postcode and juridical form are looked up in the search index
  // (kbo_search.h), so a page costs about the same whatever the database size; NACE codes
  // are checked enterprise by enterprise, at most 10,000 or 50 ms per call (the page may
  // then come back short, even empty, with a token to go on). INVALID_ARGUMENT with
  // ErrorInfo and BadRequest for bad input; FAILED_PRECONDITION if the database predates the
  // search index (import a full extract again); DEADLINE_EXCEEDED past `deadline`.
  absl::StatusOr<registry::v1::SearchEnterprisesResponse> SearchEnterprises(
      const registry::v1::SearchEnterprisesRequest& request,
      absl::Time deadline = absl::InfiniteFuture());

  // The first `limit` enterprises by number with only enterprise_number,
  // type_of_enterprise, juridical_form, start_date, denominations and addresses filled
  // (descriptions in French). For seeding sample registries.
  absl::StatusOr<std::vector<registry::v1::Enterprise>> ListEnterpriseSummaries(int limit);
  // The same for every enterprise, streamed to `fn` in number order within one read
  // transaction; stops at the first error `fn` returns.
  absl::Status ForEachEnterpriseSummary(
      const std::function<absl::Status(const registry::v1::Enterprise&)>& fn);

 private:
  using Connection = kbo_internal::ReadConnection;
  class Lease;

  KboStore(std::string db_path, int max_connections);
  absl::Status ForEachSummary(
      int64_t limit, const std::function<absl::Status(const registry::v1::Enterprise&)>& fn);
  // Waits for a free connection until `deadline` (DEADLINE_EXCEEDED after it).
  absl::StatusOr<std::unique_ptr<Connection>> Acquire(
      absl::Time deadline = absl::InfiniteFuture());
  void Release(std::unique_ptr<Connection> connection);
  bool ConnectionAvailable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string db_path_;
  const int max_connections_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_connections_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_KBO_KBO_STORE_H_
