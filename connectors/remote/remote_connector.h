// A registry served by a remote `onceonly-registry`, reached over mTLS with the
// onceonly.registry.v1 contract. Deadlines come from the FetchRequest.
// (Retries, budgets and circuit breaking arrive with the federation issue.)
#ifndef ONCEONLY_CONNECTORS_REMOTE_REMOTE_CONNECTOR_H_
#define ONCEONLY_CONNECTORS_REMOTE_REMOTE_CONNECTOR_H_

#include <memory>
#include <string>

#include "connectors/registry_connector.h"
#include "onceonly/config/v1/config.pb.h"

namespace onceonly {

// `registry` is "companies", "permits" or "tax" and picks the service to call.
absl::StatusOr<std::unique_ptr<RegistryConnector>> CreateRemoteConnector(
    const std::string& registry, const config::v1::RemoteSource& source);

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_REMOTE_REMOTE_CONNECTOR_H_
