#include "connectors/sql/sample_seed.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "common/enterprise_number.h"
#include "common/sqlite.h"
#include "common/status_macros.h"
#include "connectors/sql/sql_registry_store.h"

namespace onceonly {
namespace {

using registry::v1::Address;
using registry::v1::Enterprise;
using registry::v1::Permit;
using registry::v1::TaxStatus;

constexpr absl::string_view kBrusselsEnvironment = "Brussels Environment";
constexpr absl::string_view kUrbanBrussels = "urban.brussels";

// 64-bit FNV-1a: stable across platforms and library versions, unlike std::hash.
uint64_t Fnv1a(absl::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// SplitMix64 seeded from the hash: a reproducible stream of choices for one enterprise.
// Distinct purposes ("tax", "permit") use distinct streams, so changing how permits are
// drawn does not reshuffle the tax rows.
class SampleStream {
 public:
  SampleStream(absl::string_view purpose, absl::string_view enterprise_number)
      : state_(Fnv1a(absl::StrCat(purpose, ":", enterprise_number))) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0. The modulo bias is irrelevant for sample data.
  int64_t Below(int64_t n) { return static_cast<int64_t>(Next() % static_cast<uint64_t>(n)); }
  bool Percent(int p) { return Below(100) < p; }
  // A day in [lo, hi]; lo if the range is empty.
  absl::CivilDay DayBetween(absl::CivilDay lo, absl::CivilDay hi) {
    if (hi <= lo) return lo;
    return lo + Below(hi - lo + 1);
  }
  // Index into weights, drawn proportionally to them.
  template <size_t N>
  size_t Weighted(const int (&weights)[N]) {
    int total = 0;
    for (int w : weights) total += w;
    int64_t pick = Below(total);
    for (size_t i = 0; i < N; ++i) {
      if (pick < weights[i]) return i;
      pick -= weights[i];
    }
    return N - 1;
  }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(static_cast<int64_t>(N))];
  }

 private:
  uint64_t state_;
};

absl::CivilDay ReferenceDay() {
  absl::CivilDay day;
  bool ok = absl::ParseCivilTime(kSampleReferenceDay, &day);
  (void)ok;  // a constant; checked by the tests
  return day;
}

absl::CivilDay AddYears(absl::CivilDay day, int years) {
  return absl::CivilDay(day.year() + years, day.month(), day.day());
}

std::string Iso(absl::CivilDay day) { return absl::FormatCivilTime(day); }

// KBO writes dd-mm-yyyy; the registry contract says yyyy-mm-dd. Accept both.
bool ParseStartDate(absl::string_view text, absl::CivilDay* day) {
  if (absl::ParseCivilTime(text, day)) return true;
  int d = 0, m = 0, y = 0;
  if (text.size() == 10 && text[2] == '-' && text[5] == '-' &&
      absl::SimpleAtoi(text.substr(0, 2), &d) && absl::SimpleAtoi(text.substr(3, 2), &m) &&
      absl::SimpleAtoi(text.substr(6, 4), &y) && m >= 1 && m <= 12 && d >= 1 && d <= 31) {
    *day = absl::CivilDay(y, m, d);
    return day->day() == d;  // rejects 31-02-2020, which CivilDay would normalize
  }
  return false;
}

bool IsBrusselsPostcode(absl::string_view zipcode) {
  int code = 0;
  return absl::SimpleAtoi(zipcode, &code) && code >= 1000 && code <= 1210;
}

bool IsCurrent(const Address& address) { return address.date_striking_off().empty(); }

const Address* RegisteredSeat(const Enterprise& enterprise) {
  for (const Address& address : enterprise.addresses()) {
    if (address.type().code() == "REGO" && IsCurrent(address)) return &address;
  }
  return nullptr;
}

bool SamePlace(const Address& a, const Address& b) {
  return a.zipcode() == b.zipcode() && a.house_number() == b.house_number() &&
         (a.street_fr() == b.street_fr() || a.street_nl() == b.street_nl());
}

// The permit registry keeps the place, not the address's KBO metadata (type, box, …).
Address PermitAddress(const Address& from) {
  Address to;
  to.set_zipcode(from.zipcode());
  to.set_municipality_nl(from.municipality_nl());
  to.set_municipality_fr(from.municipality_fr());
  to.set_street_nl(from.street_nl());
  to.set_street_fr(from.street_fr());
  to.set_house_number(from.house_number());
  return to;
}

// ---------------------------------------------------------------------------------------
// Tax

TaxStatus SampleTaxStatus(const Enterprise& enterprise) {
  const absl::CivilDay today = ReferenceDay();
  SampleStream s("tax", enterprise.enterprise_number());
  TaxStatus tax;
  tax.set_enterprise_number(enterprise.enterprise_number());

  const bool natural_person = enterprise.type_of_enterprise().code() == "1";
  const bool has_vat = !natural_person || s.Percent(85);
  if (has_vat) {
    absl::CivilDay start;
    if (!ParseStartDate(enterprise.start_date(), &start)) {
      start = s.DayBetween(AddYears(today, -30), today - 30);
    }
    // Belgian VAT dates from 1971.
    absl::CivilDay since =
        std::min(std::max(start + s.Below(60), absl::CivilDay(1971, 1, 1)), today - 1);
    auto* vat = tax.mutable_vat();
    vat->set_vat_number(absl::StrCat("BE", DigitsOnly(enterprise.enterprise_number())));
    vat->set_status(natural_person && s.Percent(4) ? "ceased" : "active");
    vat->set_since(Iso(since));
  }

  const absl::CivilDay established_on = today - s.Below(120);
  const bool in_good_standing = s.Percent(85);
  tax.mutable_good_standing()->set_in_good_standing(in_good_standing);
  tax.mutable_good_standing()->set_established_on(Iso(established_on));

  auto* details = tax.mutable_details();
  details->set_assessed_on(Iso(established_on - s.Below(7)));
  if (!in_good_standing) {
    // Amounts from 1 EUR to ~100 000 EUR, most of them small.
    static constexpr int64_t kScale[] = {1, 10, 100};
    auto amount = [&s]() {
      int64_t euros = (1 + s.Below(1000)) * s.Pick(kScale);
      return euros * 100 + s.Below(100);
    };
    int64_t overdue_tax = s.Percent(75) ? amount() : 0;
    int64_t overdue_social = s.Percent(50) ? amount() : 0;
    if (overdue_tax == 0 && overdue_social == 0) overdue_tax = amount();
    details->set_overdue_tax_cents(overdue_tax);
    details->set_overdue_social_security_cents(overdue_social);
  }
  return tax;
}

// ---------------------------------------------------------------------------------------
// Permits

// French / Dutch, as Brussels authorities write them.
constexpr absl::string_view kHeavyActivities[] = {
    "Dépôt de liquides inflammables / Opslag van brandbare vloeistoffen",
    "Installation de combustion 1 200 kW / Verbrandingsinstallatie 1 200 kW",
    "Atelier de traitement de surface des métaux / Werkplaats voor oppervlaktebehandeling "
    "van metalen",
    "Installation de réfrigération 350 kW / Koelinstallatie 350 kW",
    "Parking couvert 220 véhicules / Overdekte parking 220 voertuigen",
    "Dépôt de déchets dangereux / Opslag van gevaarlijk afval",
    "Groupe électrogène de secours 800 kVA / Noodstroomgroep 800 kVA",
    "Station-service, distribution de carburant / Tankstation, brandstofverdeling",
};
constexpr absl::string_view kMediumActivities[] = {
    "Installation de combustion 250 kW / Verbrandingsinstallatie 250 kW",
    "Parking couvert 40 véhicules / Overdekte parking 40 voertuigen",
    "Installation de réfrigération 45 kW / Koelinstallatie 45 kW",
    "Cuisine professionnelle, hottes 12 kW / Professionele keuken, dampkappen 12 kW",
    "Atelier de menuiserie / Schrijnwerkerij",
    "Atelier d'entretien de véhicules / Onderhoudswerkplaats voor voertuigen",
    "Nettoyage à sec / Droogkuis",
    "Transformateur statique 630 kVA / Statische transformator 630 kVA",
    "Dépôt de liquides inflammables 5 000 l / Opslag van brandbare vloeistoffen 5 000 l",
};
constexpr absl::string_view kLightActivities[] = {
    "Installation de combustion 120 kW / Verbrandingsinstallatie 120 kW",
    "Parking couvert 15 véhicules / Overdekte parking 15 voertuigen",
    "Installation de réfrigération 12 kW / Koelinstallatie 12 kW",
    "Boulangerie, fours 20 kW / Bakkerij, ovens 20 kW",
    "Imprimerie / Drukkerij",
};
constexpr absl::string_view kTemporaryActivities[] = {
    "Chantier de construction, installations temporaires / Bouwplaats, tijdelijke "
    "installaties",
    "Rabattement de nappe phréatique / Bemaling van grondwater",
    "Événement temporaire, chapiteau et groupe électrogène / Tijdelijk evenement, tent en "
    "stroomgroep",
};
constexpr absl::string_view kUrbanWorks[] = {
    "Changement d'utilisation rez-de-chaussée / Wijziging van gebruik gelijkvloers",
    "Rénovation de façade / Renovatie van de gevel",
    "Placement d'une enseigne lumineuse / Plaatsing van een lichtreclame",
    "Aménagement d'une terrasse en toiture / Aanleg van een dakterras",
    "Extension arrière du bâtiment / Uitbreiding achteraan het gebouw",
    "Démolition et reconstruction d'un entrepôt / Afbraak en heropbouw van een opslagplaats",
    "Installation de panneaux photovoltaïques / Plaatsing van fotovoltaïsche panelen",
    "Modification du nombre de logements / Wijziging van het aantal woningen",
};

constexpr absl::string_view kClasses[] = {"1A", "1B", "1C", "1D", "2", "3"};
constexpr int kClassWeights[] = {3, 15, 5, 7, 45, 25};

enum class Drawn { kGranted, kApplied, kExpired, kRefused, kWithdrawn };
constexpr int kStatusWeights[] = {72, 10, 10, 5, 3};
// Brussels holders get 1, 2 or 3 permits.
constexpr int kBrusselsCountWeights[] = {55, 30, 15};

// `count` distinct entries of `items`, in list order.
template <size_t N>
void AddCovered(SampleStream& s, const absl::string_view (&items)[N], int count, Permit* permit) {
  std::set<size_t> chosen;
  while (static_cast<int>(chosen.size()) < std::min<int>(count, N)) {
    chosen.insert(static_cast<size_t>(s.Below(N)));
  }
  for (size_t i : chosen) permit->add_covered(std::string(items[i]));
}

}  // namespace

// Hands out unique references "PE-2023-004512"; a drawn number already taken moves to the
// next free one, so the result depends only on the (sorted) processing order.
class ReferenceBook {
 public:
  absl::StatusOr<std::string> Take(absl::string_view prefix, int year, int64_t drawn) {
    for (int64_t probe = 0; probe < 999999; ++probe) {
      int64_t number = (drawn + probe) % 999999 + 1;
      std::string reference = absl::StrFormat("%s-%04d-%06d", prefix, year, number);
      if (taken_.insert(reference).second) return reference;
    }
    return absl::ResourceExhaustedError(
        absl::StrCat("no free ", prefix, " permit reference left for ", year));
  }

 private:
  std::set<std::string> taken_;
};

namespace {

struct PermitSite {
  Address address;
  std::string establishment_number;
};

// Whether the enterprise gets permits; if so how many (`count`) and where (`site`).
bool ChoosePermitSite(const Enterprise& enterprise, SampleStream& s, int* count, PermitSite* site) {
  const Address* seat = RegisteredSeat(enterprise);
  if (seat != nullptr && IsBrusselsPostcode(seat->zipcode())) {
    *count = static_cast<int>(s.Weighted(kBrusselsCountWeights)) + 1;
    site->address = PermitAddress(*seat);
    for (const auto& establishment : enterprise.establishments()) {
      for (const Address& address : establishment.addresses()) {
        if (IsCurrent(address) && SamePlace(address, *seat)) {
          site->establishment_number = establishment.establishment_number();
          return true;
        }
      }
    }
    return true;
  }
  if (!s.Percent(10)) return false;
  *count = 1;
  for (const auto& establishment : enterprise.establishments()) {
    for (const Address& address : establishment.addresses()) {
      if (IsCurrent(address) && IsBrusselsPostcode(address.zipcode())) {
        site->address = PermitAddress(address);
        site->establishment_number = establishment.establishment_number();
        return true;
      }
    }
  }
  if (seat == nullptr) return false;  // nowhere to put it (e.g. hidden natural-person seat)
  site->address = PermitAddress(*seat);
  return true;
}

absl::Status AddSamplePermits(const Enterprise& enterprise, ReferenceBook& references,
                              std::vector<Permit>* out) {
  const absl::CivilDay today = ReferenceDay();
  SampleStream s("permit", enterprise.enterprise_number());
  int count = 0;
  PermitSite site;
  if (!ChoosePermitSite(enterprise, s, &count, &site)) return absl::OkStatus();

  absl::CivilDay started;
  const bool known_start = ParseStartDate(enterprise.start_date(), &started);

  for (int i = 0; i < count; ++i) {
    Permit permit;
    const bool urbanism = i > 0 && s.Percent(35);
    permit.set_holder_enterprise_number(enterprise.enterprise_number());
    permit.set_establishment_number(site.establishment_number);
    *permit.mutable_address() = site.address;

    // Years a granted permit stays valid; 0 means open-ended (an executed urban permit).
    int validity_years = 0;
    if (urbanism) {
      permit.set_kind(registry::v1::PERMIT_KIND_URBANISM);
      permit.set_authority(std::string(kUrbanBrussels));
      AddCovered(s, kUrbanWorks, 1 + static_cast<int>(s.Below(2)), &permit);
    } else {
      permit.set_kind(registry::v1::PERMIT_KIND_ENVIRONMENT);
      permit.set_authority(std::string(kBrusselsEnvironment));
      absl::string_view klass = kClasses[s.Weighted(kClassWeights)];
      permit.set_environment_class(std::string(klass));
      const int covered = 1 + static_cast<int>(s.Below(3));
      if (klass == "1A" || klass == "1B") {
        AddCovered(s, kHeavyActivities, covered, &permit);
        validity_years = 15;
      } else if (klass == "1C") {
        AddCovered(s, kTemporaryActivities, 1, &permit);
        validity_years = 1;
      } else if (klass == "1D" || klass == "2") {
        AddCovered(s, kMediumActivities, covered, &permit);
        validity_years = 15;
      } else {
        AddCovered(s, kLightActivities, covered, &permit);
        validity_years = 15;
      }
    }

    // A decision rarely predates the holder; clamp recent draws to its start.
    auto after_start = [&](absl::CivilDay lo) { return known_start ? std::max(lo, started) : lo; };
    absl::CivilDay issue;
    int reference_year = 0;
    switch (static_cast<Drawn>(s.Weighted(kStatusWeights))) {
      case Drawn::kGranted: {
        permit.set_status(registry::v1::PERMIT_STATUS_GRANTED);
        absl::CivilDay lo =
            validity_years > 0 ? AddYears(today, -validity_years) + 30 : AddYears(today, -20);
        issue = s.DayBetween(std::min(after_start(lo), today - 1), today - 1);
        if (validity_years > 0) {
          permit.set_expiry_date(Iso(AddYears(issue, validity_years) - 1));
        }
        break;
      }
      case Drawn::kApplied: {
        permit.set_status(registry::v1::PERMIT_STATUS_APPLIED);
        reference_year = static_cast<int>((today - s.Below(200)).year());
        break;
      }
      case Drawn::kExpired: {
        permit.set_status(registry::v1::PERMIT_STATUS_EXPIRED);
        // An urban permit lapses when works do not start within two years.
        const int lifetime = validity_years > 0 ? validity_years : 2;
        absl::CivilDay last = AddYears(today, -lifetime) - 1;
        issue = s.DayBetween(AddYears(last, -10), last);
        permit.set_expiry_date(Iso(AddYears(issue, lifetime) - 1));
        break;
      }
      case Drawn::kRefused: {
        permit.set_status(registry::v1::PERMIT_STATUS_REFUSED);
        issue = s.DayBetween(std::min(after_start(AddYears(today, -10)), today - 1), today - 1);
        break;
      }
      case Drawn::kWithdrawn: {
        permit.set_status(registry::v1::PERMIT_STATUS_WITHDRAWN);
        issue = s.DayBetween(std::min(after_start(AddYears(today, -15)), today - 1), today - 1);
        if (validity_years > 0) {
          permit.set_expiry_date(Iso(AddYears(issue, validity_years) - 1));
        }
        break;
      }
    }
    if (permit.status() != registry::v1::PERMIT_STATUS_APPLIED) {
      permit.set_issue_date(Iso(issue));
      reference_year = static_cast<int>(issue.year());
    }
    ASSIGN_OR_RETURN(std::string reference,
                     references.Take(urbanism ? "PU" : "PE", reference_year, s.Below(999999)));
    permit.set_reference(std::move(reference));
    out->push_back(std::move(permit));
  }
  return absl::OkStatus();
}

}  // namespace

SampleRegistrySeeder::SampleRegistrySeeder(std::unique_ptr<SqliteDb> db,
                                           std::unique_ptr<SqlRegistryWriter> writer)
    : db_(std::move(db)), writer_(std::move(writer)), references_(new ReferenceBook) {}

SampleRegistrySeeder::~SampleRegistrySeeder() {
  writer_.reset();
  if (db_ != nullptr && !finished_) db_->Exec("ROLLBACK").IgnoreError();
}

absl::StatusOr<std::unique_ptr<SampleRegistrySeeder>> SampleRegistrySeeder::Begin(
    const std::string& db_path) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db,
                   SqliteDb::Open(db_path, SqliteDb::Mode::kReadWriteCreate));
  RETURN_IF_ERROR(db->Exec("BEGIN IMMEDIATE"));
  absl::StatusOr<std::unique_ptr<SqlRegistryWriter>> writer = SqlRegistryWriter::Create(db.get());
  absl::Status status = writer.status();
  if (status.ok()) status = (*writer)->DeleteAll();
  if (!status.ok()) {
    writer = nullptr;
    db->Exec("ROLLBACK").IgnoreError();
    return status;
  }
  return std::unique_ptr<SampleRegistrySeeder>(
      new SampleRegistrySeeder(std::move(db), *std::move(writer)));
}

absl::Status SampleRegistrySeeder::Add(const Enterprise& enterprise) {
  const std::string& number = enterprise.enterprise_number();
  absl::StatusOr<std::string> canonical = CanonicalEnterpriseNumber(number);
  if (!canonical.ok() || *canonical != number) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot seed sample registries: enterprise number \"", number, "\" is not canonical"));
  }
  if (summary_.enterprises > 0 && number <= last_number_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot seed sample registries: enterprise ", number,
        number == last_number_ ? " appears twice" : absl::StrCat(" comes after ", last_number_)));
  }
  last_number_ = number;
  ++summary_.enterprises;
  RETURN_IF_ERROR(writer_->InsertTaxStatus(SampleTaxStatus(enterprise)));
  ++summary_.tax_rows;
  permits_.clear();
  RETURN_IF_ERROR(AddSamplePermits(enterprise, *references_, &permits_));
  for (const Permit& permit : permits_) {
    RETURN_IF_ERROR(writer_->InsertPermit(permit));
    ++summary_.permits;
  }
  return absl::OkStatus();
}

absl::StatusOr<SeedSummary> SampleRegistrySeeder::Finish() {
  writer_.reset();  // its statements must not outlive the transaction's end
  RETURN_IF_ERROR(db_->Exec("COMMIT"));
  finished_ = true;
  // Leave a self-contained file (no -wal/-shm) that read-only connectors can open even from
  // a read-only mount. Needs exclusive access: while connectors hold the file open the mode
  // stays WAL, which they read just as well, so this is best effort.
  db_->Exec("PRAGMA journal_mode=DELETE").IgnoreError();
  return summary_;
}

absl::StatusOr<SeedSummary> SeedSampleRegistries(const std::vector<Enterprise>& enterprises,
                                                 const std::string& db_path) {
  std::vector<const Enterprise*> sorted;
  sorted.reserve(enterprises.size());
  for (const Enterprise& enterprise : enterprises) sorted.push_back(&enterprise);
  std::sort(sorted.begin(), sorted.end(), [](const Enterprise* a, const Enterprise* b) {
    return a->enterprise_number() < b->enterprise_number();
  });
  ASSIGN_OR_RETURN(std::unique_ptr<SampleRegistrySeeder> seeder,
                   SampleRegistrySeeder::Begin(db_path));
  for (const Enterprise* enterprise : sorted) RETURN_IF_ERROR(seeder->Add(*enterprise));
  return seeder->Finish();
}

}  // namespace onceonly
