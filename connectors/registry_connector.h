// The seam between the gateway and the authoritative registries. A connector fetches the
// records of one subject from one registry. It knows nothing of purposes, members or
// categories: the gateway decides what leaves it.
#ifndef ONCEONLY_CONNECTORS_REGISTRY_CONNECTOR_H_
#define ONCEONLY_CONNECTORS_REGISTRY_CONNECTOR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "onceonly/registry/v1/registry.pb.h"

namespace onceonly {

struct FetchRequest {
  // Canonical enterprise number ("0403.170.701"); the caller has validated it.
  std::string enterprise_number;
  // Language of code descriptions: "fr", "nl", "de" or "en".
  std::string language = "fr";
  // Give up (DEADLINE_EXCEEDED) after this instant.
  absl::Time deadline = absl::InfiniteFuture();
};

// Thread-safe: Fetch is called concurrently from the gateway's fetch threads.
class RegistryConnector {
 public:
  virtual ~RegistryConnector() = default;

  // The registry's name: "companies", "permits" or "tax".
  virtual absl::string_view name() const = 0;

  // Fills this registry's part of the subject's records. NOT_FOUND if the registry does not
  // know the subject (a permits registry answers an empty list instead); UNAVAILABLE or
  // DEADLINE_EXCEEDED when the registry cannot answer in time.
  virtual absl::StatusOr<registry::v1::SubjectRecords> Fetch(const FetchRequest& request) = 0;
};

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_REGISTRY_CONNECTOR_H_
