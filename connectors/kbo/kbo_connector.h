// The "companies" registry connector: serves enterprises from a KBO/BCE snapshot imported
// into SQLite (see kbo_import.h) through KboStore.
#ifndef ONCEONLY_CONNECTORS_KBO_KBO_CONNECTOR_H_
#define ONCEONLY_CONNECTORS_KBO_KBO_CONNECTOR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "connectors/kbo/kbo_store.h"
#include "connectors/registry_connector.h"

namespace onceonly {

// Thread-safe.
class KboConnector : public RegistryConnector, public EnterpriseSearch {
 public:
  // Opens the database read-only; errors as KboStore::Open.
  static absl::StatusOr<std::unique_ptr<KboConnector>> Create(const std::string& db_path);

  absl::string_view name() const override { return "companies"; }

  // SubjectRecords with `enterprise` filled. DEADLINE_EXCEEDED if the deadline has passed
  // before the lookup starts; NOT_FOUND if KBO does not hold the enterprise.
  absl::StatusOr<registry::v1::SubjectRecords> Fetch(const FetchRequest& request) override;

  EnterpriseSearch* enterprise_search() override { return this; }
  // KboStore::SearchEnterprises.
  absl::StatusOr<registry::v1::SearchEnterprisesResponse> SearchEnterprises(
      const registry::v1::SearchEnterprisesRequest& request, absl::Time deadline) override;

 private:
  explicit KboConnector(std::unique_ptr<KboStore> store) : store_(std::move(store)) {}
  const std::unique_ptr<KboStore> store_;
};

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_KBO_KBO_CONNECTOR_H_
