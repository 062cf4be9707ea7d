#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/enterprise_number.h"
#include "common/sqlite.h"
#include "common/testing/file_mode.h"
#include "connectors/sql/sample_seed.h"
#include "connectors/sql/sql_connectors.h"
#include "connectors/sql/sql_registry_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using registry::v1::Address;
using registry::v1::Enterprise;
using registry::v1::Permit;
using ::testing::HasSubstr;

constexpr char kBrussels[] = "0403.170.701";  // Molenbeek 1080
constexpr char kAntwerp[] = "0404.616.494";   // Antwerpen 2000
constexpr char kPerson[] = "0612.345.657";    // a natural person
constexpr char kUnknown[] = "0999.999.922";

// A canonical number from its first eight digits.
std::string NumberFromFirstEight(long long first_eight) {
  std::string digits = absl::StrFormat("%08d%02d", first_eight, EnterpriseCheckDigits(first_eight));
  return absl::StrCat(digits.substr(0, 4), ".", digits.substr(4, 3), ".", digits.substr(7, 3));
}

Address MakeAddress(const std::string& type, const std::string& zipcode,
                    const std::string& municipality_nl, const std::string& municipality_fr,
                    const std::string& street_nl, const std::string& street_fr,
                    const std::string& house_number) {
  Address a;
  a.mutable_type()->set_code(type);
  a.set_zipcode(zipcode);
  a.set_municipality_nl(municipality_nl);
  a.set_municipality_fr(municipality_fr);
  a.set_street_nl(street_nl);
  a.set_street_fr(street_fr);
  a.set_house_number(house_number);
  a.set_box("3");
  return a;
}

Enterprise MakeEnterprise(const std::string& number, const std::string& type,
                          const std::string& start_date) {
  Enterprise e;
  e.set_enterprise_number(number);
  e.mutable_status()->set_code("AC");
  e.mutable_type_of_enterprise()->set_code(type);
  e.set_start_date(start_date);
  return e;
}

std::vector<Enterprise> ThreeEnterprises() {
  Enterprise brussels = MakeEnterprise(kBrussels, "2", "1998-03-14");
  *brussels.add_addresses() =
      MakeAddress("REGO", "1080", "Sint-Jans-Molenbeek", "Molenbeek-Saint-Jean", "Ninoofsesteenweg",
                  "Chaussée de Ninove", "144");
  Enterprise antwerp = MakeEnterprise(kAntwerp, "2", "12-06-1975");  // KBO's own date form
  *antwerp.add_addresses() =
      MakeAddress("REGO", "2000", "Antwerpen", "Anvers", "Meir", "Meir", "24");
  Enterprise person = MakeEnterprise(kPerson, "1", "2016-09-01");
  return {brussels, antwerp, person};
}

// `n` enterprises, every third one seated in Brussels, the others around it (including
// postcodes 1300 and 1500, just outside the 1000-1210 range).
std::vector<Enterprise> ManyEnterprises(int n) {
  static const char* const kOutside[] = {"1300", "1500", "2000", "3000", "4000", "9000"};
  std::vector<Enterprise> out;
  for (int i = 0; i < n; ++i) {
    const bool natural = i % 4 == 3;
    Enterprise e =
        MakeEnterprise(NumberFromFirstEight(4000000 + 37LL * i), natural ? "1" : "2",
                       absl::StrFormat("%04d-%02d-%02d", 1960 + i % 60, 1 + i % 12, 1 + i % 28));
    const std::string zip = i % 3 == 0 ? std::to_string(1000 + i % 211) : kOutside[i % 6];
    *e.add_addresses() = MakeAddress("REGO", zip, "Gemeente", "Commune", absl::StrCat("Straat ", i),
                                     absl::StrCat("Rue ", i), std::to_string(1 + i % 200));
    out.push_back(std::move(e));
  }
  return out;
}

FetchRequest Request(const std::string& number) {
  FetchRequest request;
  request.enterprise_number = number;
  return request;
}

bool IsIsoDate(const std::string& text) {
  static const std::regex kIso(R"(\d{4}-\d{2}-\d{2})");
  return std::regex_match(text, kIso);
}

class SqlRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("sql_registry_", getpid(), "_", info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::string SeedThree(const std::string& name = "registries.db") {
    std::string path = Path(name);
    absl::StatusOr<SeedSummary> summary = SeedSampleRegistries(ThreeEnterprises(), path);
    EXPECT_TRUE(summary.ok()) << summary.status();
    return path;
  }

  // Every row of both tables, one line each, in key order.
  static std::string Dump(const std::string& path) {
    auto db = SqliteDb::Open(path, SqliteDb::Mode::kReadOnly);
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return "";
    std::vector<std::string> lines;
    struct Query {
      const char* sql;
      int columns;
    };
    for (const Query& q : {Query{"SELECT * FROM permit ORDER BY reference", 16},
                           Query{"SELECT * FROM tax_status ORDER BY enterprise_number", 9}}) {
      auto stmt = (*db)->Prepare(q.sql);
      EXPECT_TRUE(stmt.ok()) << stmt.status();
      if (!stmt.ok()) return "";
      while (true) {
        absl::StatusOr<bool> row = stmt->Step();
        EXPECT_TRUE(row.ok()) << row.status();
        if (!row.ok() || !*row) break;
        std::vector<std::string> cells;
        for (int i = 0; i < q.columns; ++i) cells.push_back(stmt->ColumnText(i));
        lines.push_back(absl::StrJoin(cells, "|"));
      }
    }
    return absl::StrJoin(lines, "\n");
  }

  static absl::Status Exec(const std::string& path, const std::string& sql) {
    auto db = SqliteDb::Open(path, SqliteDb::Mode::kReadWrite);
    if (!db.ok()) return db.status();
    return (*db)->Exec(sql);
  }

  std::filesystem::path dir_;
};

TEST_F(SqlRegistryTest, SeedSummaryCountsRows) {
  absl::StatusOr<SeedSummary> summary =
      SeedSampleRegistries(ThreeEnterprises(), Path("registries.db"));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->enterprises, 3);
  EXPECT_EQ(summary->tax_rows, 3);
  EXPECT_GE(summary->permits, 1);  // the Brussels enterprise has at least one
  std::string dump = Dump(Path("registries.db"));
  EXPECT_EQ(static_cast<int64_t>(std::count(dump.begin(), dump.end(), '\n')) + 1,
            summary->tax_rows + summary->permits);
}

TEST_F(SqlRegistryTest, TheSeededDatabaseIsOwnerOnlyWhateverTheUmask) {
  ScopedUmask open_to_all(0);
  ASSERT_TRUE(SeedSampleRegistries(ThreeEnterprises(), Path("registries.db")).ok());
  EXPECT_EQ(FileMode(Path("registries.db")), 0600);
}

TEST_F(SqlRegistryTest, SeedIsDeterministicAndIndependentOfInputOrder) {
  std::vector<Enterprise> enterprises = ManyEnterprises(300);
  ASSERT_TRUE(SeedSampleRegistries(enterprises, Path("a.db")).ok());
  std::reverse(enterprises.begin(), enterprises.end());
  ASSERT_TRUE(SeedSampleRegistries(enterprises, Path("b.db")).ok());
  std::string a = Dump(Path("a.db"));
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, Dump(Path("b.db")));
}

TEST_F(SqlRegistryTest, SeedingAgainReplacesTheContent) {
  std::string path = SeedThree();
  std::vector<Enterprise> only_antwerp = {ThreeEnterprises()[1]};
  absl::StatusOr<SeedSummary> summary = SeedSampleRegistries(only_antwerp, path);
  ASSERT_TRUE(summary.ok()) << summary.status();
  auto tax = TaxConnector::Create(path);
  ASSERT_TRUE(tax.ok()) << tax.status();
  EXPECT_TRUE((*tax)->Fetch(Request(kAntwerp)).ok());
  EXPECT_EQ((*tax)->Fetch(Request(kBrussels)).status().code(), absl::StatusCode::kNotFound);
  auto permits = PermitConnector::Create(path);
  ASSERT_TRUE(permits.ok()) << permits.status();
  auto records = (*permits)->Fetch(Request(kBrussels));
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(records->permits_size(), 0);
}

TEST_F(SqlRegistryTest, SeedRejectsNonCanonicalAndDuplicateNumbers) {
  std::vector<Enterprise> enterprises = ThreeEnterprises();
  enterprises.push_back(enterprises[0]);
  EXPECT_EQ(SeedSampleRegistries(enterprises, Path("dup.db")).status().code(),
            absl::StatusCode::kInvalidArgument);
  enterprises.pop_back();
  enterprises[0].set_enterprise_number("0403170701");
  EXPECT_EQ(SeedSampleRegistries(enterprises, Path("raw.db")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SqlRegistryTest, BrusselsEnterpriseHasPermitsAtItsRegisteredSeat) {
  std::string path = SeedThree();
  auto connector = PermitConnector::Create(path);
  ASSERT_TRUE(connector.ok()) << connector.status();
  EXPECT_EQ((*connector)->name(), "permits");
  auto records = (*connector)->Fetch(Request(kBrussels));
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_GE(records->permits_size(), 1);
  EXPECT_LE(records->permits_size(), 3);
  const std::regex reference(R"(P[EU]-\d{4}-\d{6})");
  for (const Permit& p : records->permits()) {
    SCOPED_TRACE(p.DebugString());
    EXPECT_EQ(p.holder_enterprise_number(), kBrussels);
    EXPECT_EQ(p.address().zipcode(), "1080");
    EXPECT_EQ(p.address().municipality_nl(), "Sint-Jans-Molenbeek");
    EXPECT_EQ(p.address().municipality_fr(), "Molenbeek-Saint-Jean");
    EXPECT_EQ(p.address().street_nl(), "Ninoofsesteenweg");
    EXPECT_EQ(p.address().street_fr(), "Chaussée de Ninove");
    EXPECT_EQ(p.address().house_number(), "144");
    EXPECT_TRUE(std::regex_match(p.reference(), reference));
    EXPECT_FALSE(p.covered().empty());
    if (p.kind() == registry::v1::PERMIT_KIND_ENVIRONMENT) {
      EXPECT_EQ(p.authority(), "Brussels Environment");
      EXPECT_THAT(p.environment_class(), ::testing::AnyOf("1A", "1B", "1C", "1D", "2", "3"));
      EXPECT_EQ(p.reference().substr(0, 3), "PE-");
    } else {
      ASSERT_EQ(p.kind(), registry::v1::PERMIT_KIND_URBANISM);
      EXPECT_EQ(p.authority(), "urban.brussels");
      EXPECT_EQ(p.environment_class(), "");
      EXPECT_EQ(p.reference().substr(0, 3), "PU-");
    }
    if (p.status() == registry::v1::PERMIT_STATUS_APPLIED) {
      EXPECT_EQ(p.issue_date(), "");
    } else {
      EXPECT_TRUE(IsIsoDate(p.issue_date()));
      EXPECT_EQ(p.reference().substr(3, 4), p.issue_date().substr(0, 4));
    }
  }
}

TEST_F(SqlRegistryTest, PermitsComeNewestFirst) {
  std::string path = Path("manual.db");
  {
    auto db = SqliteDb::Open(path, SqliteDb::Mode::kReadWriteCreate);
    ASSERT_TRUE(db.ok()) << db.status();
    auto writer = SqlRegistryWriter::Create(db->get());
    ASSERT_TRUE(writer.ok()) << writer.status();
    struct Row {
      const char* reference;
      registry::v1::PermitStatus status;
      const char* issue_date;
    };
    for (const Row& row :
         {Row{"PE-2019-000001", registry::v1::PERMIT_STATUS_GRANTED, "2019-05-02"},
          Row{"PE-2024-000002", registry::v1::PERMIT_STATUS_GRANTED, "2024-01-15"},
          Row{"PE-2025-000003", registry::v1::PERMIT_STATUS_APPLIED, ""},
          Row{"PE-2021-000004", registry::v1::PERMIT_STATUS_EXPIRED, "2021-11-30"}}) {
      Permit p;
      p.set_reference(row.reference);
      p.set_kind(registry::v1::PERMIT_KIND_ENVIRONMENT);
      p.set_environment_class("2");
      p.set_holder_enterprise_number(kBrussels);
      p.set_status(row.status);
      p.set_issue_date(row.issue_date);
      p.add_covered("Parking couvert 40 véhicules / Overdekte parking 40 voertuigen");
      p.add_covered("Installation de combustion 250 kW / Verbrandingsinstallatie 250 kW");
      ASSERT_TRUE((*writer)->InsertPermit(p).ok());
    }
  }
  auto connector = PermitConnector::Create(path);
  ASSERT_TRUE(connector.ok()) << connector.status();
  auto records = (*connector)->Fetch(Request(kBrussels));
  ASSERT_TRUE(records.ok()) << records.status();
  std::vector<std::string> order;
  for (const Permit& p : records->permits()) order.push_back(p.reference());
  EXPECT_THAT(order, ::testing::ElementsAre("PE-2025-000003", "PE-2024-000002", "PE-2021-000004",
                                            "PE-2019-000001"));
  EXPECT_THAT(
      records->permits(0).covered(),
      ::testing::ElementsAre("Parking couvert 40 véhicules / Overdekte parking 40 voertuigen",
                             "Installation de combustion 250 kW / Verbrandingsinstallatie 250 kW"));
}

TEST_F(SqlRegistryTest, SeededPermitsAreOrderedAndPlausible) {
  std::vector<Enterprise> enterprises = ManyEnterprises(3000);
  ASSERT_TRUE(SeedSampleRegistries(enterprises, Path("many.db")).ok());
  auto connector = PermitConnector::Create(Path("many.db"));
  ASSERT_TRUE(connector.ok()) << connector.status();
  int brussels = 0, outside = 0, outside_with_permits = 0, urbanism = 0;
  std::map<registry::v1::PermitStatus, int> statuses;
  for (const Enterprise& e : enterprises) {
    auto records = (*connector)->Fetch(Request(e.enterprise_number()));
    ASSERT_TRUE(records.ok()) << records.status();
    const int zip = std::stoi(e.addresses(0).zipcode());  // test data, known digits
    if (zip >= 1000 && zip <= 1210) {
      ++brussels;
      EXPECT_GE(records->permits_size(), 1) << e.enterprise_number();
      EXPECT_LE(records->permits_size(), 3) << e.enterprise_number();
    } else {
      ++outside;
      if (records->permits_size() > 0) ++outside_with_permits;
    }
    std::string previous = "9999-99-99";
    for (const Permit& p : records->permits()) {
      ++statuses[p.status()];
      if (p.kind() == registry::v1::PERMIT_KIND_URBANISM) ++urbanism;
      const std::string key = p.issue_date().empty() ? "9999-99-99" : p.issue_date();
      EXPECT_LE(key, previous) << "not newest first for " << e.enterprise_number();
      previous = key;
      if (p.status() == registry::v1::PERMIT_STATUS_GRANTED && !p.expiry_date().empty()) {
        EXPECT_GT(p.expiry_date(), std::string(kSampleReferenceDay)) << p.reference();
      }
      if (p.status() == registry::v1::PERMIT_STATUS_EXPIRED) {
        EXPECT_LT(p.expiry_date(), std::string(kSampleReferenceDay)) << p.reference();
      }
      if (!p.expiry_date().empty()) {
        EXPECT_GT(p.expiry_date(), p.issue_date());
      }
    }
  }
  EXPECT_EQ(brussels, 1000);
  EXPECT_GT(outside_with_permits, outside * 5 / 100);
  EXPECT_LT(outside_with_permits, outside * 15 / 100);
  EXPECT_GT(urbanism, 50);
  int total = 0;
  for (const auto& [status, count] : statuses) total += count;
  EXPECT_GT(statuses[registry::v1::PERMIT_STATUS_GRANTED], total / 2);
  EXPECT_GT(statuses[registry::v1::PERMIT_STATUS_APPLIED], 0);
  EXPECT_GT(statuses[registry::v1::PERMIT_STATUS_EXPIRED], 0);
}

TEST_F(SqlRegistryTest, UnknownEnterpriseHasNoPermitsButIsNotFoundForTax) {
  std::string path = SeedThree();
  auto permits = PermitConnector::Create(path);
  ASSERT_TRUE(permits.ok()) << permits.status();
  auto records = (*permits)->Fetch(Request(kUnknown));
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(records->permits_size(), 0);

  auto tax = TaxConnector::Create(path);
  ASSERT_TRUE(tax.ok()) << tax.status();
  EXPECT_EQ((*tax)->name(), "tax");
  auto missing = (*tax)->Fetch(Request(kUnknown));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(kUnknown));
}

TEST_F(SqlRegistryTest, TaxStatusOfKnownEnterprises) {
  std::string path = SeedThree();
  auto tax = TaxConnector::Create(path);
  ASSERT_TRUE(tax.ok()) << tax.status();
  auto brussels = (*tax)->Fetch(Request(kBrussels));
  ASSERT_TRUE(brussels.ok()) << brussels.status();
  const auto& t = brussels->tax_status();
  EXPECT_EQ(t.enterprise_number(), kBrussels);
  EXPECT_EQ(t.vat().vat_number(), "BE0403170701");
  EXPECT_EQ(t.vat().status(), "active");
  EXPECT_GE(t.vat().since(), "1998-03-14");
  EXPECT_TRUE(IsIsoDate(t.good_standing().established_on()));
  EXPECT_TRUE(IsIsoDate(t.details().assessed_on()));
  EXPECT_EQ(brussels->permits_size(), 0);  // each connector fills only its part

  auto antwerp = (*tax)->Fetch(Request(kAntwerp));
  ASSERT_TRUE(antwerp.ok()) << antwerp.status();
  EXPECT_GE(antwerp->tax_status().vat().since(), "1975-06-12");  // parsed dd-mm-yyyy
  EXPECT_LT(antwerp->tax_status().vat().since(), "1976-01-01");
}

TEST_F(SqlRegistryTest, GoodStandingAndAmountsAreConsistent) {
  std::vector<Enterprise> enterprises = ManyEnterprises(2000);
  ASSERT_TRUE(SeedSampleRegistries(enterprises, Path("many.db")).ok());
  auto tax = TaxConnector::Create(Path("many.db"));
  ASSERT_TRUE(tax.ok()) << tax.status();
  int good = 0, naturals = 0, naturals_with_vat = 0;
  for (const Enterprise& e : enterprises) {
    auto records = (*tax)->Fetch(Request(e.enterprise_number()));
    ASSERT_TRUE(records.ok()) << records.status();
    const auto& t = records->tax_status();
    const auto& d = t.details();
    EXPECT_GE(d.overdue_tax_cents(), 0);
    EXPECT_GE(d.overdue_social_security_cents(), 0);
    if (t.good_standing().in_good_standing()) {
      ++good;
      EXPECT_EQ(d.overdue_tax_cents() + d.overdue_social_security_cents(), 0)
          << e.enterprise_number();
    } else {
      EXPECT_GT(d.overdue_tax_cents() + d.overdue_social_security_cents(), 0)
          << e.enterprise_number();
    }
    EXPECT_LE(t.good_standing().established_on(), std::string(kSampleReferenceDay));
    EXPECT_LE(d.assessed_on(), t.good_standing().established_on());
    const bool natural = e.type_of_enterprise().code() == "1";
    if (natural) ++naturals;
    if (t.has_vat()) {
      if (natural) ++naturals_with_vat;
      EXPECT_EQ(t.vat().vat_number(), "BE" + DigitsOnly(e.enterprise_number()));
      EXPECT_GE(t.vat().since(), e.start_date());
      EXPECT_LT(t.vat().since(), std::string(kSampleReferenceDay));
    } else {
      EXPECT_TRUE(natural) << "legal person without VAT: " << e.enterprise_number();
    }
  }
  EXPECT_GT(good, 2000 * 80 / 100);
  EXPECT_LT(good, 2000 * 90 / 100);
  EXPECT_GT(naturals_with_vat, naturals * 70 / 100);
  EXPECT_LT(naturals_with_vat, naturals);
}

TEST_F(SqlRegistryTest, CorruptedStoredKindIsAnErrorNotACrash) {
  std::string path = SeedThree();
  ASSERT_TRUE(Exec(path, absl::StrCat("PRAGMA ignore_check_constraints = ON; "
                                      "UPDATE permit SET kind = 'nuclear' "
                                      "WHERE holder_enterprise_number = '",
                                      kBrussels, "'"))
                  .ok());
  auto connector = PermitConnector::Create(path);
  ASSERT_TRUE(connector.ok()) << connector.status();
  auto records = (*connector)->Fetch(Request(kBrussels));
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), absl::StatusCode::kDataLoss);
  const std::string message(records.status().message());
  EXPECT_THAT(message, HasSubstr("permit"));
  EXPECT_THAT(message, HasSubstr("column kind"));
  EXPECT_THAT(message, HasSubstr("nuclear"));
  EXPECT_TRUE(std::regex_search(message, std::regex(R"("P[EU]-\d{4}-\d{6}")"))) << message;
  // The connection is still usable afterwards.
  EXPECT_TRUE((*connector)->Fetch(Request(kAntwerp)).ok());
}

TEST_F(SqlRegistryTest, CorruptedStoredStatusAndGoodStandingAreErrors) {
  std::string path = SeedThree();
  ASSERT_TRUE(Exec(path, absl::StrCat("PRAGMA ignore_check_constraints = ON; "
                                      "UPDATE permit SET status = 'pending'; "
                                      "UPDATE tax_status SET in_good_standing = 'yes' "
                                      "WHERE enterprise_number = '",
                                      kAntwerp, "'"))
                  .ok());
  auto permits = PermitConnector::Create(path);
  ASSERT_TRUE(permits.ok()) << permits.status();
  auto listed = (*permits)->Fetch(Request(kBrussels));
  EXPECT_EQ(listed.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(listed.status().message()), HasSubstr("column status"));

  auto tax = TaxConnector::Create(path);
  ASSERT_TRUE(tax.ok()) << tax.status();
  auto corrupt = (*tax)->Fetch(Request(kAntwerp));
  EXPECT_EQ(corrupt.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(corrupt.status().message()), HasSubstr("tax_status"));
  EXPECT_THAT(std::string(corrupt.status().message()), HasSubstr(kAntwerp));
  EXPECT_THAT(std::string(corrupt.status().message()), HasSubstr("in_good_standing"));
  EXPECT_TRUE((*tax)->Fetch(Request(kBrussels)).ok());
}

TEST_F(SqlRegistryTest, CheckConstraintsRejectBadValuesAtWriteTime) {
  std::string path = SeedThree();
  EXPECT_FALSE(Exec(path, "UPDATE permit SET kind = 'nuclear'").ok());
  EXPECT_FALSE(Exec(path, "UPDATE tax_status SET overdue_tax_cents = -5").ok());
}

TEST_F(SqlRegistryTest, WriterRejectsInvalidRows) {
  auto db = SqliteDb::Open(Path("w.db"), SqliteDb::Mode::kReadWriteCreate);
  ASSERT_TRUE(db.ok()) << db.status();
  auto writer = SqlRegistryWriter::Create(db->get());
  ASSERT_TRUE(writer.ok()) << writer.status();
  Permit p;
  p.set_reference("PE-2024-000001");
  p.set_holder_enterprise_number(kBrussels);
  p.set_status(registry::v1::PERMIT_STATUS_GRANTED);
  EXPECT_EQ((*writer)->InsertPermit(p).code(), absl::StatusCode::kInvalidArgument);  // no kind
  p.set_kind(registry::v1::PERMIT_KIND_ENVIRONMENT);
  p.set_environment_class("4");
  EXPECT_EQ((*writer)->InsertPermit(p).code(), absl::StatusCode::kInvalidArgument);
  p.set_environment_class("1B");
  p.set_issue_date("14/02/2024");
  EXPECT_EQ((*writer)->InsertPermit(p).code(), absl::StatusCode::kInvalidArgument);
  p.set_issue_date("2024-02-14");
  p.add_covered("two\nlines");
  EXPECT_EQ((*writer)->InsertPermit(p).code(), absl::StatusCode::kInvalidArgument);
  p.clear_covered();
  EXPECT_TRUE((*writer)->InsertPermit(p).ok());
  EXPECT_EQ((*writer)->InsertPermit(p).code(), absl::StatusCode::kAlreadyExists);

  registry::v1::TaxStatus t;
  t.set_enterprise_number(kBrussels);
  t.mutable_details()->set_overdue_tax_cents(-1);
  EXPECT_EQ((*writer)->InsertTaxStatus(t).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SqlRegistryTest, CreateWithoutSchemaTellsToSeed) {
  std::string path = Path("empty.db");
  ASSERT_TRUE([&] {
    auto db = SqliteDb::Open(path, SqliteDb::Mode::kReadWriteCreate);
    return db.ok() && (*db)->Exec("CREATE TABLE unrelated (x INTEGER)").ok();
  }());
  auto permits = PermitConnector::Create(path);
  ASSERT_FALSE(permits.ok());
  EXPECT_EQ(permits.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(permits.status().message()), HasSubstr("onceonly registry seed"));
  EXPECT_THAT(std::string(permits.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(permits.status().message()), HasSubstr("permit"));

  auto tax = TaxConnector::Create(path);
  ASSERT_FALSE(tax.ok());
  EXPECT_EQ(tax.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(tax.status().message()), HasSubstr("onceonly registry seed"));
  EXPECT_THAT(std::string(tax.status().message()), HasSubstr("tax_status"));

  auto absent = TaxConnector::Create(Path("absent.db"));
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(absent.status().message()), HasSubstr("onceonly registry seed"));
  EXPECT_FALSE(std::filesystem::exists(Path("absent.db")));  // read-only: nothing created

  // A table with the right name but an older layout.
  ASSERT_TRUE(Exec(path, "CREATE TABLE tax_status (enterprise_number TEXT PRIMARY KEY)").ok());
  auto old_layout = TaxConnector::Create(path);
  EXPECT_EQ(old_layout.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(old_layout.status().message()), HasSubstr("vat_number"));
}

TEST_F(SqlRegistryTest, PastDeadlineIsDeadlineExceeded) {
  std::string path = SeedThree();
  auto permits = PermitConnector::Create(path);
  auto tax = TaxConnector::Create(path);
  ASSERT_TRUE(permits.ok() && tax.ok());
  FetchRequest request = Request(kBrussels);
  request.deadline = absl::Now() - absl::Seconds(1);
  EXPECT_EQ((*permits)->Fetch(request).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ((*tax)->Fetch(request).status().code(), absl::StatusCode::kDeadlineExceeded);
  request.deadline = absl::Now() + absl::Seconds(30);
  EXPECT_TRUE((*permits)->Fetch(request).ok());
  EXPECT_TRUE((*tax)->Fetch(request).ok());
}

TEST_F(SqlRegistryTest, NonCanonicalNumberIsInvalidArgument) {
  std::string path = SeedThree();
  auto tax = TaxConnector::Create(path);
  ASSERT_TRUE(tax.ok()) << tax.status();
  EXPECT_EQ((*tax)->Fetch(Request("0403170701")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SqlRegistryTest, ConcurrentFetchesAgreeWithSequentialOnes) {
  std::vector<Enterprise> enterprises = ManyEnterprises(120);
  ASSERT_TRUE(SeedSampleRegistries(enterprises, Path("many.db")).ok());
  auto permits = PermitConnector::Create(Path("many.db"), /*connections=*/2);
  auto tax = TaxConnector::Create(Path("many.db"), /*connections=*/2);
  ASSERT_TRUE(permits.ok() && tax.ok());
  std::vector<std::string> expected;
  for (const Enterprise& e : enterprises) {
    auto p = (*permits)->Fetch(Request(e.enterprise_number()));
    auto t = (*tax)->Fetch(Request(e.enterprise_number()));
    ASSERT_TRUE(p.ok() && t.ok());
    expected.push_back(p->SerializeAsString() + t->SerializeAsString());
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 6; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < enterprises.size(); ++i) {
          size_t j = (i * 7 + k * 13) % enterprises.size();
          auto p = (*permits)->Fetch(Request(enterprises[j].enterprise_number()));
          auto t = (*tax)->Fetch(Request(enterprises[j].enterprise_number()));
          if (!p.ok() || !t.ok() ||
              p->SerializeAsString() + t->SerializeAsString() != expected[j]) {
            ++mismatches;
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(SqlRegistryTest, SeedWhileAConnectorHoldsTheFileOpen) {
  std::string path = SeedThree();
  auto tax = TaxConnector::Create(path);
  ASSERT_TRUE(tax.ok()) << tax.status();
  ASSERT_TRUE(SeedSampleRegistries(ManyEnterprises(10), path).ok());
  EXPECT_EQ((*tax)->Fetch(Request(kBrussels)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*tax)->Fetch(Request(ManyEnterprises(1)[0].enterprise_number())).ok());
}

}  // namespace
}  // namespace onceonly
