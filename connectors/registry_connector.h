// The seam between the gateway and the authoritative registries. A connector fetches the
// records of one subject from one registry. It knows nothing of purposes, members or
// categories: the gateway decides what leaves it.
#ifndef ONCEONLY_CONNECTORS_REGISTRY_CONNECTOR_H_
#define ONCEONLY_CONNECTORS_REGISTRY_CONNECTOR_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "absl/time/time.h"
#include "onceonly/registry/v1/registry.pb.h"

namespace onceonly {

struct FetchRequest {
  // Canonical enterprise number ("0403.170.701"); the caller has validated it.
  std::string enterprise_number;
  // Language of code descriptions: "fr", "nl", "de" or "en".
  std::string language = "fr";
  // The top-level fields of the registry's answer the gateway needs (for the companies
  // registry, Enterprise field names); empty: all. A connector may return more: the gateway
  // minimises whatever it gets.
  std::vector<std::string> fields;
  // Give up (DEADLINE_EXCEEDED) after this instant.
  absl::Time deadline = absl::InfiniteFuture();
  // Whether `deadline` is the caller's, shorter than the registry's own time budget: running
  // out of it then says nothing about the registry's health.
  bool deadline_is_callers = false;
};

// Why a read failed, when the code alone does not say it (e.g. "CIRCUIT_OPEN": the gateway
// did not call the registry), as a status payload; the gateway labels the source with it.
inline constexpr absl::string_view kRegistryReasonPayload = "type.onceonly.brussels/reason";
inline std::string RegistryReason(const absl::Status& status) {
  absl::optional<absl::Cord> reason = status.GetPayload(kRegistryReasonPayload);
  return reason ? std::string(*reason) : std::string();
}
inline absl::Status WithRegistryReason(absl::Status status, absl::string_view reason) {
  status.SetPayload(kRegistryReasonPayload, absl::Cord(reason));
  return status;
}

// An optional capability of a companies registry: finding enterprises without knowing their
// number. Thread-safe.
class EnterpriseSearch {
 public:
  virtual ~EnterpriseSearch() = default;

  // One page of the enterprises that match `request` (criteria, pagination and errors as
  // documented in registry.proto). Gives up with DEADLINE_EXCEEDED after `deadline`.
  virtual absl::StatusOr<registry::v1::SearchEnterprisesResponse> SearchEnterprises(
      const registry::v1::SearchEnterprisesRequest& request, absl::Time deadline) = 0;
};

// Thread-safe: Fetch and FetchAsync are called concurrently from the gateway's threads.
class RegistryConnector {
 public:
  virtual ~RegistryConnector() = default;

  // The registry's name: "companies", "permits" or "tax".
  virtual absl::string_view name() const = 0;

  // Fills this registry's part of the subject's records. NOT_FOUND if the registry does not
  // know the subject (a permits registry answers an empty list instead); UNAVAILABLE or
  // DEADLINE_EXCEEDED when the registry cannot answer in time.
  virtual absl::StatusOr<registry::v1::SubjectRecords> Fetch(const FetchRequest& request) = 0;

  using FetchDone = std::function<void(absl::StatusOr<registry::v1::SubjectRecords>)>;

  // Whether FetchAsync returns without waiting for the registry (a connector that reads it
  // over the network). The gateway then starts such reads on the request's own thread and
  // holds no thread while the registry works; any other connector's reads run on fetch
  // threads, as its FetchAsync would block the caller.
  virtual bool fetches_asynchronously() const { return false; }

  // Starts the read of Fetch; `done` gets its outcome exactly once, from any thread, perhaps
  // before FetchAsync returns. The default runs Fetch on the calling thread.
  virtual void FetchAsync(const FetchRequest& request, FetchDone done) { done(Fetch(request)); }

  // The connector's search, or nullptr if its registry cannot search (the default). Owned by
  // the connector.
  virtual EnterpriseSearch* enterprise_search() { return nullptr; }
};

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_REGISTRY_CONNECTOR_H_
