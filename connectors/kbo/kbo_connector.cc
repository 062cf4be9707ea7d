#include "connectors/kbo/kbo_connector.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace onceonly {

absl::StatusOr<std::unique_ptr<KboConnector>> KboConnector::Create(const std::string& db_path) {
  ASSIGN_OR_RETURN(std::unique_ptr<KboStore> store, KboStore::Open(db_path));
  return std::unique_ptr<KboConnector>(new KboConnector(std::move(store)));
}

absl::StatusOr<registry::v1::SubjectRecords> KboConnector::Fetch(const FetchRequest& request) {
  if (absl::Now() > request.deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat("companies: deadline passed before looking up ", request.enterprise_number));
  }
  ASSIGN_OR_RETURN(registry::v1::Enterprise enterprise,
                   store_->GetEnterprise(request.enterprise_number, request.language,
                                          request.deadline, request.fields));
  registry::v1::SubjectRecords records;
  *records.mutable_enterprise() = std::move(enterprise);
  return records;
}

absl::StatusOr<registry::v1::SearchEnterprisesResponse> KboConnector::SearchEnterprises(
    const registry::v1::SearchEnterprisesRequest& request, absl::Time deadline) {
  return store_->SearchEnterprises(request, deadline);
}

}  // namespace onceonly
