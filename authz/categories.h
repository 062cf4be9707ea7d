// The data categories a grant can release, which registry holds each, and which dossier
// fields each releases. Minimisation is a field mask built from this table, applied after
// fetch (and cache), so no code path can return a field no released category names.
#ifndef ONCEONLY_AUTHZ_CATEGORIES_H_
#define ONCEONLY_AUTHZ_CATEGORIES_H_

#include <array>
#include <bitset>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "onceonly/v1/dossier.pb.h"

namespace onceonly {

struct DataCategory {
  std::string name;                        // "company.identity"
  std::string registry;                    // "companies", "permits" or "tax"
  std::vector<std::string> dossier_paths;  // field-mask paths in onceonly.v1.Dossier
  std::string description;
};

// Every category, in a stable order.
const std::vector<DataCategory>& AllDataCategories();
// nullptr if `name` is not a category.
const DataCategory* FindDataCategory(absl::string_view name);

// What minimisation keeps of a dossier: the Dossier fields kept whole, those kept in part,
// and for each of those, the fields of its message kept. Bits are descriptor field indexes.
struct KeptDossierFields {
  std::bitset<64> whole;
  std::bitset<64> partial;
  std::array<std::bitset<64>, 64> subfields;
};
// What `released` keeps, provenance fields (enterprise_number, sources, access_id, purpose,
// released_categories, grant_id) included.
KeptDossierFields DossierFieldsKept(const std::vector<std::string>& released);

// Clears every field of `dossier` that none of `released` names; provenance fields stay.
void MinimiseDossier(const std::vector<std::string>& released, v1::Dossier* dossier);
// MinimiseDossier with what DossierFieldsKept(released) says.
void TrimDossier(const KeptDossierFields& kept, v1::Dossier* dossier);

// The Enterprise fields the companies registry must send for `released` (its read mask):
// what the company categories among them put in the dossier. Empty if none is a company
// category.
std::vector<std::string> CompanyFieldsFor(const std::vector<std::string>& released);

}  // namespace onceonly

#endif  // ONCEONLY_AUTHZ_CATEGORIES_H_
