#include "connectors/sql/sql_connectors.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/enterprise_number.h"
#include "common/status_macros.h"

namespace onceonly {
namespace {

// The gateway validates numbers before fetching; a non-canonical one here is a caller bug,
// and answering it could silently miss rows stored under the canonical form.
absl::Status CheckRequest(const FetchRequest& request, absl::string_view registry) {
  absl::StatusOr<std::string> canonical = CanonicalEnterpriseNumber(request.enterprise_number);
  if (!canonical.ok() || *canonical != request.enterprise_number) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", registry,
                     " registry expects a canonical enterprise number "
                     "(0xxx.xxx.xxx), got \"",
                     request.enterprise_number, "\""));
  }
  if (absl::Now() > request.deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat("deadline passed before the ", registry, " registry was queried"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PermitConnector>> PermitConnector::Create(const std::string& db_path,
                                                                         int connections) {
  ASSIGN_OR_RETURN(auto pool, ReaderPool<PermitReader>::Create(db_path, connections));
  return std::unique_ptr<PermitConnector>(new PermitConnector(std::move(pool)));
}

absl::StatusOr<registry::v1::SubjectRecords> PermitConnector::Fetch(const FetchRequest& request) {
  RETURN_IF_ERROR(CheckRequest(request, name()));
  ASSIGN_OR_RETURN(auto lease, pool_->Acquire(request.deadline));
  ASSIGN_OR_RETURN(std::vector<registry::v1::Permit> permits,
                   lease.reader().ListByHolder(request.enterprise_number));
  registry::v1::SubjectRecords records;
  records.mutable_permits()->Reserve(static_cast<int>(permits.size()));
  for (registry::v1::Permit& permit : permits) *records.add_permits() = std::move(permit);
  return records;
}

absl::StatusOr<std::unique_ptr<TaxConnector>> TaxConnector::Create(const std::string& db_path,
                                                                   int connections) {
  ASSIGN_OR_RETURN(auto pool, ReaderPool<TaxStatusReader>::Create(db_path, connections));
  return std::unique_ptr<TaxConnector>(new TaxConnector(std::move(pool)));
}

absl::StatusOr<registry::v1::SubjectRecords> TaxConnector::Fetch(const FetchRequest& request) {
  RETURN_IF_ERROR(CheckRequest(request, name()));
  ASSIGN_OR_RETURN(auto lease, pool_->Acquire(request.deadline));
  ASSIGN_OR_RETURN(registry::v1::TaxStatus tax_status,
                   lease.reader().Get(request.enterprise_number));
  registry::v1::SubjectRecords records;
  *records.mutable_tax_status() = std::move(tax_status);
  return records;
}

}  // namespace onceonly
