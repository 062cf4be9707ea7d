// A dossier's bytes as it leaves the gateway, written once: the deterministic serialization
// of the minimised dossier (what the access record's payload_sha256 covers), then its
// access_id field. Hashing and sending the same bytes spares a second serialization.
//
// A company part served from the cache is not copied into the dossier: the cached Enterprise
// keeps the wire bytes of each of its fields (FieldWire, made once per cached answer), and the
// fields minimisation keeps are spliced into the dossier's bytes where the deterministic
// serialization puts them. The bytes are the same as if the fields had been copied in.
#ifndef ONCEONLY_GATEWAY_DOSSIER_WIRE_H_
#define ONCEONLY_GATEWAY_DOSSIER_WIRE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "authz/categories.h"
#include "onceonly/registry/v1/registry.pb.h"
#include "onceonly/v1/dossier.pb.h"

namespace onceonly {

// The deterministic encoding of each field of an Enterprise, in field-number order: the
// Enterprise reduced to any set of its fields serializes as the concatenation of theirs.
// Unknown fields are left out (answers lose theirs as they enter the gateway anyway).
class FieldWire {
 public:
  static FieldWire Of(const registry::v1::Enterprise& enterprise);

  // (Enterprise field index, encoding) of each field set, in field-number order.
  const std::vector<std::pair<int, std::string>>& fields() const { return fields_; }
  // The encodings together, for the cache's memory bound.
  int64_t bytes() const { return bytes_; }

 private:
  std::vector<std::pair<int, std::string>> fields_;
  int64_t bytes_ = 0;
};

// The deterministic serialization of `dossier`, already minimised with `kept`. If `company`
// is given and `dossier` has no company of its own, the Enterprise it encodes becomes the
// dossier's company, reduced to what `kept` keeps of it.
std::string SerializeDossier(const v1::Dossier& dossier, const FieldWire* company,
                             const KeptDossierFields& kept);

// Appends the access_id field to a serialized dossier that has none.
void AppendAccessId(uint64_t access_id, std::string* wire);

}  // namespace onceonly

#endif  // ONCEONLY_GATEWAY_DOSSIER_WIRE_H_
