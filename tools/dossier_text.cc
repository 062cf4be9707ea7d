#include "tools/dossier_text.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/utf8.h"
#include "google/protobuf/util/time_util.h"

namespace onceonly {
namespace {

using google::protobuf::util::TimeUtil;
namespace rv1 = registry::v1;

std::string Coded(const rv1::CodedValue& v) {
  if (v.code().empty()) return "-";
  if (v.description().empty()) return v.code();
  return absl::StrCat(v.description(), " (", v.code(), ")");
}

std::string AddressLine(const rv1::Address& a, bool french) {
  const std::string& street = french ? a.street_fr() : a.street_nl();
  const std::string& town = french ? a.municipality_fr() : a.municipality_nl();
  std::string line = absl::StrCat(street, " ", a.house_number());
  if (!a.box().empty()) absl::StrAppend(&line, french ? " bte " : " bus ", a.box());
  absl::StrAppend(&line, ", ", a.zipcode(), " ", town);
  const std::string& country = french ? a.country_fr() : a.country_nl();
  if (!country.empty()) absl::StrAppend(&line, ", ", country);
  return line;
}

bool Released(const v1::Dossier& d, absl::string_view category) {
  return std::find(d.released_categories().begin(), d.released_categories().end(), category) !=
         d.released_categories().end();
}

void AppendEnterprise(const v1::Dossier& d, std::string* out) {
  const rv1::Enterprise& e = d.company();
  absl::StrAppend(out, "Company  [source: companies registry]\n");
  if (!e.enterprise_number().empty()) {
    absl::StrAppend(out, "  Number            ", e.enterprise_number(), "\n");
    absl::StrAppend(out, "  Status            ", Coded(e.status()), "\n");
    absl::StrAppend(out, "  Type              ", Coded(e.type_of_enterprise()), "\n");
    absl::StrAppend(out, "  Juridical form    ", Coded(e.juridical_form()), "\n");
    absl::StrAppend(out, "  Situation         ", Coded(e.juridical_situation()), "\n");
    absl::StrAppend(out, "  Start date        ", e.start_date(), "\n");
  }
  for (const auto& d : e.denominations()) {
    absl::StrAppend(out, "  Name              ", d.value(), "  [",
                    d.language().empty() ? "?" : d.language(), ", ", d.type().description(),
                    "]\n");
  }
  for (const auto& a : e.addresses()) {
    absl::StrAppend(out, "  Address (", a.type().code(), ")\n");
    absl::StrAppend(out, "    nl: ", AddressLine(a, false), "\n");
    absl::StrAppend(out, "    fr: ", AddressLine(a, true), "\n");
  }
  if (Released(d, "company.addresses") && e.addresses().empty()) {
    absl::StrAppend(out, "  Address           (none registered)\n");
  }
  if (Released(d, "company.activities") && e.activities().empty()) {
    absl::StrAppend(out, "  Activity          (none registered)\n");
  }
  if (Released(d, "company.contacts") && e.contacts().empty()) {
    absl::StrAppend(out, "  Contact           (none registered)\n");
  }
  for (const auto& a : e.activities()) {
    absl::StrAppend(out, "  Activity          NACE ", a.nace_version(), " ", a.nace().code(),
                    " ", a.nace().description(), " [", a.classification().code(), "]\n");
  }
  for (const auto& c : e.contacts()) {
    absl::StrAppend(out, "  Contact           ", c.type().code(), " ", c.value(), "\n");
  }
  for (const auto& est : e.establishments()) {
    absl::StrAppend(out, "  Establishment     ", est.establishment_number(), " since ",
                    est.start_date(), "\n");
    for (const auto& a : est.addresses()) {
      absl::StrAppend(out, "    ", AddressLine(a, false), "\n");
    }
  }
}

const char* PermitStatusText(rv1::PermitStatus s) {
  switch (s) {
    case rv1::PERMIT_STATUS_APPLIED: return "applied";
    case rv1::PERMIT_STATUS_GRANTED: return "granted";
    case rv1::PERMIT_STATUS_REFUSED: return "refused";
    case rv1::PERMIT_STATUS_EXPIRED: return "expired";
    case rv1::PERMIT_STATUS_WITHDRAWN: return "withdrawn";
    default: return "?";
  }
}

void AppendPermits(const char* title, const google::protobuf::RepeatedPtrField<rv1::Permit>& ps,
                   std::string* out) {
  for (const auto& p : ps) {
    absl::StrAppend(out, "  ", title, " ", p.reference());
    if (!p.environment_class().empty()) absl::StrAppend(out, " class ", p.environment_class());
    absl::StrAppend(out, ", ", PermitStatusText(p.status()));
    if (!p.issue_date().empty()) absl::StrAppend(out, " ", p.issue_date());
    if (!p.expiry_date().empty()) absl::StrAppend(out, " until ", p.expiry_date());
    absl::StrAppend(out, ", ", p.authority(), "\n");
    if (p.has_address()) absl::StrAppend(out, "    at ", AddressLine(p.address(), true), "\n");
    for (const auto& c : p.covered()) absl::StrAppend(out, "    - ", c, "\n");
  }
}

}  // namespace

std::string DossierToText(const v1::Dossier& d) {
  std::string out;
  absl::StrAppend(&out, "Dossier of ", d.enterprise_number(), "  (purpose ", d.purpose(),
                  ", grant ", d.grant_id(), ", access_id ", d.access_id(), ")\n");
  absl::StrAppend(&out, "Released categories: ", absl::StrJoin(d.released_categories(), ", "),
                  "\n\n");
  if (d.has_company()) {
    AppendEnterprise(d, &out);
    out.push_back('\n');
  }
  const bool environment = Released(d, "permits.environment");
  const bool urbanism = Released(d, "permits.urbanism");
  if (environment || urbanism) {
    absl::StrAppend(&out, "Permits  [source: permits registry]\n");
    AppendPermits("Environment", d.permits().environment(), &out);
    AppendPermits("Urbanism   ", d.permits().urbanism(), &out);
    if (environment && d.permits().environment().empty()) {
      absl::StrAppend(&out, "  Environment       (none)\n");
    }
    if (urbanism && d.permits().urbanism().empty()) {
      absl::StrAppend(&out, "  Urbanism          (none)\n");
    }
    out.push_back('\n');
  }
  if (d.has_tax()) {
    absl::StrAppend(&out, "Tax  [source: tax registry]\n");
    if (d.tax().has_good_standing()) {
      absl::StrAppend(&out, "  Good standing     ",
                      d.tax().good_standing().in_good_standing() ? "yes" : "NO", " (established ",
                      d.tax().good_standing().established_on(), ")\n");
    }
    if (d.tax().has_vat()) {
      absl::StrAppend(&out, "  VAT               ", d.tax().vat().vat_number(), " ",
                      d.tax().vat().status(), " since ", d.tax().vat().since(), "\n");
    }
    if (d.tax().has_details()) {
      absl::StrAppend(&out, absl::StrFormat(
                                "  Overdue           tax EUR %.2f, social security EUR %.2f\n",
                                d.tax().details().overdue_tax_cents() / 100.0,
                                d.tax().details().overdue_social_security_cents() / 100.0));
    }
    out.push_back('\n');
  }
  absl::StrAppend(&out, "Sources\n");
  for (const auto& s : d.sources()) {
    absl::StrAppend(&out, "  ", absl::StrFormat("%-10s", s.registry()), " ",
                    s.code() == 0 ? "OK"
                                  : absl::StrCat(absl::StatusCodeToString(
                                                     static_cast<absl::StatusCode>(s.code())),
                                                 ": ", s.message()),
                    "  retrieved ", TimeUtil::ToString(s.retrieved_at()),
                    s.from_cache() ? " (cache)" : " (live)", "  for ",
                    absl::StrJoin(s.categories(), ", "), "\n");
  }
  return out;
}

std::string AccessRecordToText(const v1::AccessRecord& r) {
  std::string out;
  // Stored text is printed with its control characters escaped: a value can never start a
  // line of its own, such as a forged "member:".
  auto line = [&out](const char* key, const std::string& value) {
    if (!value.empty()) {
      absl::StrAppend(&out, "  ", absl::StrFormat("%-20s", key), EscapeControls(value), "\n");
    }
  };
  absl::StrAppend(&out, "Access record #", r.access_id(), " in log ", EscapeControls(r.log_id()),
                  "\n");
  line("time", TimeUtil::ToString(r.time()));
  line("decision", v1::Decision_Name(r.decision()));
  line("reason", r.reason());
  line("member", r.member());
  line("identity", r.identity());
  line("subsystem", r.subsystem());
  line("user", r.user());
  line("case_ref", r.case_ref());
  line("purpose", r.purpose());
  line("legal_basis", r.legal_basis());
  line("grant_id", r.grant_id());
  line("consent_id", r.consent_id());
  line("registration_id", r.registration_id());
  line("subject", r.subject());
  line("categories asked", absl::StrJoin(r.categories_requested(), ", "));
  line("categories released", absl::StrJoin(r.categories_released(), ", "));
  line("sources", absl::StrJoin(r.sources(), ", "));
  line("payload sha256", r.payload_sha256());
  line("request_id", r.request_id());
  line("method", r.method());
  line("query", r.query());
  return out;
}

}  // namespace onceonly
