#include "authz/categories.h"

#include "absl/strings/match.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/util/field_mask_util.h"

namespace onceonly {

const std::vector<DataCategory>& AllDataCategories() {
  static const auto* categories = new std::vector<DataCategory>{
      {"company.identity", "companies",
       {"company.enterprise_number", "company.status", "company.juridical_situation",
        "company.type_of_enterprise", "company.juridical_form", "company.juridical_form_cac",
        "company.start_date", "company.denominations"},
       "Enterprise number, names, status, juridical form and start date"},
      {"company.addresses", "companies", {"company.addresses"}, "Registered seat address"},
      {"company.activities", "companies", {"company.activities"}, "NACE activities"},
      {"company.contacts", "companies", {"company.contacts"}, "Phone, e-mail, web site"},
      {"company.establishments", "companies", {"company.establishments", "company.branches"},
       "Establishment units and branches with their names, addresses, activities, contacts"},
      {"permits.environment", "permits", {"permits.environment"}, "Environmental permits"},
      {"permits.urbanism", "permits", {"permits.urbanism"}, "Urban planning permits"},
      {"tax.good_standing", "tax", {"tax.enterprise_number", "tax.good_standing"},
       "Good standing for public procurement: yes/no and its date, no amounts"},
      {"tax.details", "tax", {"tax.enterprise_number", "tax.vat", "tax.details"},
       "VAT registration and overdue amounts"},
  };
  return *categories;
}

const DataCategory* FindDataCategory(absl::string_view name) {
  for (const DataCategory& c : AllDataCategories()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

void MinimiseDossier(const std::vector<std::string>& released, v1::Dossier* dossier) {
  google::protobuf::FieldMask mask;
  for (const char* always : {"enterprise_number", "sources", "access_id", "purpose",
                             "released_categories", "grant_id"}) {
    mask.add_paths(always);
  }
  for (const std::string& name : released) {
    const DataCategory* category = FindDataCategory(name);
    if (category == nullptr) continue;  // validated earlier; unknown releases nothing
    for (const std::string& path : category->dossier_paths) mask.add_paths(path);
  }
  google::protobuf::util::FieldMaskUtil::TrimMessage(mask, dossier);
}

std::vector<std::string> CompanyFieldsFor(const std::vector<std::string>& released) {
  constexpr absl::string_view kCompany = "company.";
  std::vector<std::string> fields;
  for (const std::string& name : released) {
    const DataCategory* category = FindDataCategory(name);
    if (category == nullptr || category->registry != "companies") continue;
    for (const std::string& path : category->dossier_paths) {
      // Dossier.company is the registry's Enterprise: "company.addresses" is "addresses".
      if (absl::StartsWith(path, kCompany)) fields.push_back(path.substr(kCompany.size()));
    }
  }
  return fields;
}

}  // namespace onceonly
