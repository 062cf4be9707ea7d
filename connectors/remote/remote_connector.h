// A registry served by a remote `onceonly-registry`, reached over mTLS with the
// onceonly.registry.v1 contract. Deadlines come from the FetchRequest. Reads are retried
// (UNAVAILABLE only, backoff with jitter, within the deadline and a retry throttle),
// optionally hedged, and go through a circuit breaker (resilience.h): the options are those
// of config::v1::RemoteSource. A read refused by an open circuit is UNAVAILABLE with
// RegistryReason "CIRCUIT_OPEN".
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
