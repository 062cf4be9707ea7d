#include "authz/categories.h"

#include <array>
#include <bitset>
#include <cstdlib>
#include <iostream>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/unknown_field_set.h"

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

namespace {

// A field-mask path of the dossier, resolved once: a field of Dossier, and if the path goes
// one level down, a field of that field's message.
struct DossierField {
  const google::protobuf::FieldDescriptor* top;
  const google::protobuf::FieldDescriptor* sub;  // nullptr: the whole top field
};

DossierField Resolve(const std::string& path) {
  const google::protobuf::Descriptor* dossier = v1::Dossier::descriptor();
  const std::vector<std::string> parts = absl::StrSplit(path, '.');
  const google::protobuf::FieldDescriptor* top = dossier->FindFieldByName(parts[0]);
  const google::protobuf::FieldDescriptor* sub =
      parts.size() == 2 && top != nullptr && top->message_type() != nullptr && !top->is_repeated()
          ? top->message_type()->FindFieldByName(parts[1])
          : nullptr;
  if (top == nullptr || parts.size() > 2 || (parts.size() == 2 && sub == nullptr) ||
      dossier->field_count() > 64 || (sub != nullptr && top->message_type()->field_count() > 64)) {
    std::cerr << "onceonly: data category path \"" << path
              << "\" is not a field (or a field of a singular message field) of Dossier\n";
    std::abort();  // a mistake in the category table, caught by any test
  }
  return {top, sub};
}

// The resolved paths of every category, by name, and those every dossier keeps.
struct ResolvedCategories {
  std::map<std::string, std::vector<DossierField>, std::less<>> by_category;
  std::vector<DossierField> always;
};

const ResolvedCategories& Resolved() {
  static const ResolvedCategories* resolved = [] {
    auto* r = new ResolvedCategories;
    for (const DataCategory& c : AllDataCategories()) {
      for (const std::string& path : c.dossier_paths) r->by_category[c.name].push_back(Resolve(path));
    }
    for (const char* always : {"enterprise_number", "sources", "access_id", "purpose",
                               "released_categories", "grant_id"}) {
      r->always.push_back(Resolve(always));
    }
    return r;
  }();
  return *resolved;
}

}  // namespace

KeptDossierFields DossierFieldsKept(const std::vector<std::string>& released) {
  const ResolvedCategories& resolved = Resolved();
  KeptDossierFields kept;
  auto keep = [&](const DossierField& f) {
    if (f.sub == nullptr) {
      kept.whole.set(f.top->index());
    } else {
      kept.partial.set(f.top->index());
      kept.subfields[f.top->index()].set(f.sub->index());
    }
  };
  for (const DossierField& f : resolved.always) keep(f);
  for (const std::string& name : released) {
    auto it = resolved.by_category.find(name);
    if (it == resolved.by_category.end()) continue;  // validated earlier; unknown releases nothing
    for (const DossierField& f : it->second) keep(f);
  }
  return kept;
}

void MinimiseDossier(const std::vector<std::string>& released, v1::Dossier* dossier) {
  TrimDossier(DossierFieldsKept(released), dossier);
}

// The field-mask trim of FieldMaskUtil, done with descriptors resolved once: it runs on every
// dossier, and building a mask tree from path strings each time cost more than the trim.
void TrimDossier(const KeptDossierFields& kept, v1::Dossier* dossier) {
  const google::protobuf::Descriptor* descriptor = dossier->GetDescriptor();
  const google::protobuf::Reflection* reflection = dossier->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (kept.whole[i]) continue;
    if (!kept.partial[i]) {
      reflection->ClearField(dossier, field);
      continue;
    }
    if (!reflection->HasField(*dossier, field)) continue;
    google::protobuf::Message* part = reflection->MutableMessage(dossier, field);
    const google::protobuf::Descriptor* part_descriptor = part->GetDescriptor();
    const google::protobuf::Reflection* part_reflection = part->GetReflection();
    for (int j = 0; j < part_descriptor->field_count(); ++j) {
      if (!kept.subfields[i][j]) part_reflection->ClearField(part, part_descriptor->field(j));
    }
    // No category names a field this gateway does not know (answers lose theirs on arrival).
    part_reflection->MutableUnknownFields(part)->Clear();
  }
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
