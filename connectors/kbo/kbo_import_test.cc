// Imports the real KBO update extract (number 147) and hand-made extracts, then checks the
// database through KboStore against the CSV rows themselves.
#include "connectors/kbo/kbo_import.h"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/testing/file_mode.h"
#include "connectors/kbo/csv_reader.h"
#include "connectors/kbo/kbo_connector.h"
#include "connectors/kbo/kbo_generator.h"
#include "connectors/kbo/kbo_store.h"
#include "connectors/kbo/testing/csv_rows.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

namespace fs = std::filesystem;
namespace v1 = registry::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const std::string kExtract = ONCEONLY_KBO_EXTRACT;
using Rows = std::vector<std::vector<std::string>>;

// Every record of a CSV file, header excluded.
Rows ReadCsv(const std::string& path) { return CsvRows(path); }

Rows RowsOf(const std::string& file, const std::string& entity) {
  Rows out;
  for (auto& row : ReadCsv(kExtract + "/" + file)) {
    if (row[0] == entity) out.push_back(row);
  }
  return out;
}

std::string Iso(const std::string& kbo_date) {
  if (kbo_date.empty()) return "";
  return kbo_date.substr(6, 4) + "-" + kbo_date.substr(3, 2) + "-" + kbo_date.substr(0, 2);
}

// Code descriptions straight from the real code.csv, with the documented fallback order.
class CodeTable {
 public:
  CodeTable() {
    for (auto& row : ReadCsv(kExtract + "/code.csv")) {
      std::string lang = row[2] == "FR"   ? "fr"
                         : row[2] == "NL" ? "nl"
                         : row[2] == "DE" ? "de"
                                          : "en";
      codes_[{row[0], row[1], lang}] = row[3];
    }
  }
  std::string Describe(const std::string& category, const std::string& code,
                       const std::string& lang) const {
    for (const std::string& l :
         {lang, std::string("fr"), std::string("nl"), std::string("de"), std::string("en")}) {
      auto it = codes_.find({category, code, l});
      if (it != codes_.end()) return it->second;
    }
    return "";
  }
  size_t size() const { return codes_.size(); }

 private:
  std::map<std::tuple<std::string, std::string, std::string>, std::string> codes_;
};

void ExpectCoded(const v1::CodedValue& value, const CodeTable& codes, const std::string& category,
                 const std::string& code, const std::string& lang) {
  EXPECT_EQ(value.code(), code) << category;
  EXPECT_EQ(value.description(), codes.Describe(category, code, lang)) << category << " " << code;
}

// Every row and column of every KBO table, rowids included: equal fingerprints mean the
// database holds exactly the same data.
std::string Fingerprint(const std::string& db_path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::string out;
  for (const char* sql : {"SELECT * FROM code ORDER BY category, code, language",
                          "SELECT rowid, * FROM enterprise ORDER BY rowid",
                          "SELECT rowid, * FROM establishment ORDER BY rowid",
                          "SELECT rowid, * FROM denomination ORDER BY rowid",
                          "SELECT rowid, * FROM address ORDER BY rowid",
                          "SELECT rowid, * FROM contact ORDER BY rowid",
                          "SELECT rowid, * FROM activity_run ORDER BY rowid",
                          "SELECT rowid, * FROM branch ORDER BY rowid",
                          "SELECT rowid, * FROM extract_history ORDER BY rowid"}) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK) << sql;
    absl::StrAppend(&out, sql, "\n");
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* text = sqlite3_column_text(stmt, i);
        absl::StrAppend(&out, text ? reinterpret_cast<const char*>(text) : "<null>", "|");
      }
      out += "\n";
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return out;
}

// How many rows of KBO table `table` (a CSV file stem) the database holds; activities are
// stored packed in runs.
std::string RowCountSql(absl::string_view table, absl::string_view where = "") {
  if (table == "activity") {
    return absl::StrCat("SELECT coalesce(sum(activity_count), 0) FROM activity_run", where);
  }
  return absl::StrCat("SELECT count(*) FROM ", table, where);
}

int64_t Count(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
  int64_t n = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

void AppendLine(const std::string& path, const std::string& line) {
  fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(path, std::ios::binary | std::ios::app) << line << "\n";
}

int LineCount(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return static_cast<int>(std::count(content.begin(), content.end(), '\n'));
}

const auto kNoProgress = [](absl::string_view) {};

// The real update imported once into an empty database, shared by the read-only tests.
class RealUpdateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_path_ =
        new std::string(absl::StrCat(::testing::TempDir(), "/kbo_real_update_", getpid(), ".db"));
    progress_ = new std::vector<std::string>;
    codes_ = new CodeTable;
    summary_ = new absl::StatusOr<KboImportSummary>(
        ImportKboExtract(kExtract, *db_path_,
                         [](absl::string_view line) { progress_->push_back(std::string(line)); }));
    ASSERT_TRUE(summary_->ok()) << summary_->status();
    absl::StatusOr<std::unique_ptr<KboStore>> store = KboStore::Open(*db_path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = store->release();
  }
  static void TearDownTestSuite() {
    delete store_;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(*db_path_ + suffix);
  }

  static std::string* db_path_;
  static std::vector<std::string>* progress_;
  static CodeTable* codes_;
  static absl::StatusOr<KboImportSummary>* summary_;
  static KboStore* store_;
};
std::string* RealUpdateTest::db_path_;
std::vector<std::string>* RealUpdateTest::progress_;
CodeTable* RealUpdateTest::codes_;
absl::StatusOr<KboImportSummary>* RealUpdateTest::summary_;
KboStore* RealUpdateTest::store_;

TEST_F(RealUpdateTest, SummaryMatchesMetaAndFiles) {
  const KboImportSummary& s = **summary_;
  EXPECT_EQ(s.extract_number, 147);
  EXPECT_EQ(s.extract_type, "update");
  EXPECT_EQ(s.snapshot_date, "2025-10-11");
  EXPECT_EQ(s.extract_timestamp, "2025-10-12T07:40:18");
  EXPECT_EQ(s.tables.at("code").inserted, static_cast<int64_t>(codes_->size()));
  for (const char* table : {"enterprise", "establishment", "denomination", "address", "contact",
                            "activity", "branch"}) {
    const std::string file = absl::StrCat(kExtract, "/", table, "_insert.csv");
    EXPECT_EQ(s.tables.at(table).inserted, static_cast<int64_t>(ReadCsv(file).size())) << table;
    EXPECT_EQ(s.tables.at(table).deleted, 0) << table << ": the database was empty";
    EXPECT_EQ(Count(*db_path_, RowCountSql(table)),
              s.tables.at(table).inserted)
        << table;
  }
  EXPECT_EQ(Count(*db_path_,
                  "SELECT count(*) FROM extract_history WHERE extract_number = 147 "
                  "AND snapshot_date = '2025-10-11'"),
            1);
  // One progress line per file, naming it with its row count.
  EXPECT_THAT(*progress_, testing::Contains(HasSubstr("activity_insert.csv: 425 rows")));
}

TEST_F(RealUpdateTest, CapHorizonsInFrenchAndDutch) {
  absl::StatusOr<v1::Enterprise> fr = store_->GetEnterprise("1029.028.161", "fr");
  ASSERT_TRUE(fr.ok()) << fr.status();
  EXPECT_EQ(fr->enterprise_number(), "1029.028.161");
  EXPECT_EQ(fr->status().code(), "AC");
  EXPECT_EQ(fr->status().description(), "Actif");
  EXPECT_EQ(fr->juridical_situation().code(), "000");
  EXPECT_EQ(fr->juridical_situation().description(), "Situation normale");
  EXPECT_EQ(fr->type_of_enterprise().code(), "2");
  EXPECT_EQ(fr->type_of_enterprise().description(), "Personne morale");
  EXPECT_EQ(fr->juridical_form().code(), "017");
  EXPECT_EQ(fr->juridical_form().description(), "Association sans but lucratif");
  EXPECT_EQ(fr->juridical_form_cac().code(), "");
  EXPECT_EQ(fr->juridical_form_cac().description(), "");
  EXPECT_EQ(fr->start_date(), "2025-10-11");

  ASSERT_THAT(fr->denominations(), SizeIs(1));
  EXPECT_EQ(fr->denominations(0).language(), "fr");
  EXPECT_EQ(fr->denominations(0).type().code(), "001");
  EXPECT_EQ(fr->denominations(0).type().description(), "Dénomination");
  EXPECT_EQ(fr->denominations(0).value(), "Cap Horizons ASBL");

  ASSERT_THAT(fr->addresses(), SizeIs(1));
  const v1::Address& a = fr->addresses(0);
  EXPECT_EQ(a.type().code(), "REGO");
  EXPECT_EQ(a.type().description(), "Siège");
  EXPECT_EQ(a.country_nl(), "");
  EXPECT_EQ(a.country_fr(), "");
  EXPECT_EQ(a.zipcode(), "1080");
  EXPECT_EQ(a.municipality_nl(), "Sint-Jans-Molenbeek");
  EXPECT_EQ(a.municipality_fr(), "Molenbeek-Saint-Jean");
  EXPECT_EQ(a.street_nl(), "Louis Mettewielaan");
  EXPECT_EQ(a.street_fr(), "Boulevard Louis Mettewie");
  EXPECT_EQ(a.house_number(), "60");
  EXPECT_EQ(a.box(), "15");
  EXPECT_EQ(a.extra_address_info(), "");
  EXPECT_EQ(a.date_striking_off(), "");

  ASSERT_THAT(fr->contacts(), SizeIs(1));
  EXPECT_EQ(fr->contacts(0).entity_contact().code(), "ENT");
  EXPECT_EQ(fr->contacts(0).entity_contact().description(), "Entreprise");
  EXPECT_EQ(fr->contacts(0).type().code(), "EMAIL");
  EXPECT_EQ(fr->contacts(0).type().description(), "Adresse e-mail");
  EXPECT_EQ(fr->contacts(0).value(), "cap_horizons@hotmail.com");
  EXPECT_THAT(fr->activities(), IsEmpty());
  EXPECT_THAT(fr->establishments(), IsEmpty());
  EXPECT_THAT(fr->branches(), IsEmpty());

  absl::StatusOr<v1::Enterprise> nl = store_->GetEnterprise("1029.028.161", "nl");
  ASSERT_TRUE(nl.ok()) << nl.status();
  EXPECT_EQ(nl->juridical_form().description(), "Vereniging zonder winstoogmerk");
  EXPECT_EQ(nl->addresses(0).type().description(), "Zetel");
  EXPECT_EQ(nl->contacts(0).type().description(), "E-mailadres");
  // German falls back per code: juridical form 017 has a DE text, Status AC has only FR/NL.
  absl::StatusOr<v1::Enterprise> de = store_->GetEnterprise("1029.028.161", "de");
  ASSERT_TRUE(de.ok()) << de.status();
  EXPECT_EQ(de->juridical_form().description(), "Vereinigung ohne Gewinnerzielungsabsicht");
  EXPECT_EQ(de->status().description(), "Actif");
}

TEST_F(RealUpdateTest, EnterpriseWithActivitiesAndEstablishment) {
  absl::StatusOr<v1::Enterprise> e = store_->GetEnterprise("1027.395.591", "fr");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->type_of_enterprise().description(), "Personne physique");
  EXPECT_EQ(e->juridical_form().code(), "");
  ASSERT_THAT(e->denominations(), SizeIs(1));
  EXPECT_EQ(e->denominations(0).language(), "");  // KBO language 0: unknown
  EXPECT_EQ(e->denominations(0).value(), "Vets, Manon");
  ASSERT_THAT(e->activities(), SizeIs(6));
  const v1::Activity& main = e->activities(0);
  EXPECT_EQ(main.group().code(), "001");
  EXPECT_EQ(main.group().description(), "Activités TVA");
  EXPECT_EQ(main.nace_version(), "2025");
  EXPECT_EQ(main.nace().code(), "96992");
  EXPECT_EQ(main.nace().description(), "Services de tatouage et de piercing");
  EXPECT_EQ(main.classification().code(), "MAIN");
  EXPECT_EQ(main.classification().description(), "Activité principale");

  ASSERT_THAT(e->establishments(), SizeIs(1));
  const v1::Establishment& unit = e->establishments(0);
  EXPECT_EQ(unit.establishment_number(), "2.377.691.912");
  EXPECT_EQ(unit.start_date(), "2025-10-12");
  ASSERT_THAT(unit.denominations(), SizeIs(1));
  EXPECT_EQ(unit.denominations(0).language(), "nl");
  EXPECT_EQ(unit.denominations(0).type().description(), "Dénomination commerciale");
  EXPECT_EQ(unit.denominations(0).value(), "Lucky 7 El Mave");
  ASSERT_THAT(unit.addresses(), SizeIs(1));
  EXPECT_EQ(unit.addresses(0).type().code(), "BAET");
  EXPECT_EQ(unit.addresses(0).municipality_nl(), "Heist-op-den-Berg");
  EXPECT_EQ(unit.addresses(0).street_fr(), "Pastoor Mellaertsstraat");
  EXPECT_EQ(unit.addresses(0).house_number(), "64");
  EXPECT_EQ(unit.addresses(0).box(), "1");
  ASSERT_THAT(unit.activities(), SizeIs(17));
  EXPECT_EQ(unit.activities(6).nace().code(), "9622001");
  EXPECT_THAT(unit.activities(6).nace().description(), HasSubstr("Conseils en beauté"));
  EXPECT_EQ(unit.activities(6).group().code(), "003");
}

// Every enterprise of the extract, compared field by field with its CSV rows.
TEST_F(RealUpdateTest, EveryInsertedEnterpriseMatchesItsCsvRows) {
  const CodeTable& codes = *codes_;
  const std::string lang = "nl";
  auto check_children = [&](const std::string& entity, const auto& holder) {
    SCOPED_TRACE(entity);
    Rows dens = RowsOf("denomination_insert.csv", entity);
    ASSERT_EQ(holder.denominations_size(), static_cast<int>(dens.size()));
    const std::map<std::string, std::string> languages = {
        {"0", ""}, {"1", "fr"}, {"2", "nl"}, {"3", "de"}, {"4", "en"}};
    for (size_t i = 0; i < dens.size(); ++i) {
      const v1::Denomination& d = holder.denominations(static_cast<int>(i));
      EXPECT_EQ(d.language(), languages.at(dens[i][1]));
      ExpectCoded(d.type(), codes, "TypeOfDenomination", dens[i][2], lang);
      EXPECT_EQ(d.value(), dens[i][3]);
    }
    Rows addrs = RowsOf("address_insert.csv", entity);
    ASSERT_EQ(holder.addresses_size(), static_cast<int>(addrs.size()));
    for (size_t i = 0; i < addrs.size(); ++i) {
      const v1::Address& a = holder.addresses(static_cast<int>(i));
      const auto& r = addrs[i];
      ExpectCoded(a.type(), codes, "TypeOfAddress", r[1], lang);
      EXPECT_EQ(std::vector<std::string>({a.country_nl(), a.country_fr(), a.zipcode(),
                                          a.municipality_nl(), a.municipality_fr(), a.street_nl(),
                                          a.street_fr(), a.house_number(), a.box(),
                                          a.extra_address_info(), a.date_striking_off()}),
                std::vector<std::string>(
                    {r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], Iso(r[12])}));
    }
  };
  auto check_activities_contacts = [&](const std::string& entity, const auto& holder) {
    SCOPED_TRACE(entity);
    Rows acts = RowsOf("activity_insert.csv", entity);
    ASSERT_EQ(holder.activities_size(), static_cast<int>(acts.size()));
    for (size_t i = 0; i < acts.size(); ++i) {
      const v1::Activity& a = holder.activities(static_cast<int>(i));
      ExpectCoded(a.group(), codes, "ActivityGroup", acts[i][1], lang);
      EXPECT_EQ(a.nace_version(), acts[i][2]);
      ExpectCoded(a.nace(), codes, "Nace" + acts[i][2], acts[i][3], lang);
      EXPECT_FALSE(a.nace().description().empty()) << acts[i][3];
      ExpectCoded(a.classification(), codes, "Classification", acts[i][4], lang);
    }
    Rows contacts = RowsOf("contact_insert.csv", entity);
    ASSERT_EQ(holder.contacts_size(), static_cast<int>(contacts.size()));
    for (size_t i = 0; i < contacts.size(); ++i) {
      const v1::Contact& c = holder.contacts(static_cast<int>(i));
      ExpectCoded(c.entity_contact(), codes, "EntityContact", contacts[i][1], lang);
      ExpectCoded(c.type(), codes, "ContactType", contacts[i][2], lang);
      EXPECT_EQ(c.value(), contacts[i][3]);
    }
  };

  Rows enterprises = ReadCsv(kExtract + "/enterprise_insert.csv");
  ASSERT_THAT(enterprises, SizeIs(28));
  Rows units = ReadCsv(kExtract + "/establishment_insert.csv");
  int units_seen = 0;
  for (const auto& row : enterprises) {
    absl::StatusOr<v1::Enterprise> e = store_->GetEnterprise(row[0], lang);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->enterprise_number(), row[0]);
    ExpectCoded(e->status(), codes, "Status", row[1], lang);
    ExpectCoded(e->juridical_situation(), codes, "JuridicalSituation", row[2], lang);
    ExpectCoded(e->type_of_enterprise(), codes, "TypeOfEnterprise", row[3], lang);
    ExpectCoded(e->juridical_form(), codes, "JuridicalForm", row[4], lang);
    ExpectCoded(e->juridical_form_cac(), codes, "JuridicalForm", row[5], lang);
    EXPECT_EQ(e->start_date(), Iso(row[6]));
    check_children(row[0], *e);
    check_activities_contacts(row[0], *e);
    std::vector<std::string> expected_units;
    for (const auto& unit : units) {
      if (unit[2] == row[0]) expected_units.push_back(unit[0]);
    }
    std::sort(expected_units.begin(), expected_units.end());
    ASSERT_EQ(e->establishments_size(), static_cast<int>(expected_units.size())) << row[0];
    for (int i = 0; i < e->establishments_size(); ++i) {
      const v1::Establishment& unit = e->establishments(i);
      EXPECT_EQ(unit.establishment_number(), expected_units[i]);
      for (const auto& u : units) {
        if (u[0] == unit.establishment_number()) {
          EXPECT_EQ(unit.start_date(), Iso(u[1]));
        }
      }
      check_children(unit.establishment_number(), unit);
      check_activities_contacts(unit.establishment_number(), unit);
      ++units_seen;
    }
  }
  EXPECT_GT(units_seen, 10);
}

TEST_F(RealUpdateTest, UnknownEnterpriseIsNotFoundAndNamesIt) {
  absl::StatusOr<v1::Enterprise> e = store_->GetEnterprise("0403.170.701", "fr");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(e.status().message(), HasSubstr("0403.170.701"));
}

TEST_F(RealUpdateTest, UnsupportedLanguageIsRejected) {
  EXPECT_EQ(store_->GetEnterprise("1029.028.161", "xx").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RealUpdateTest, SummariesAreOrderedAndPartial) {
  absl::StatusOr<std::vector<v1::Enterprise>> list = store_->ListEnterpriseSummaries(5);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_THAT(*list, SizeIs(5));
  std::vector<std::string> numbers;
  for (auto& row : ReadCsv(kExtract + "/enterprise_insert.csv")) numbers.push_back(row[0]);
  std::sort(numbers.begin(), numbers.end());
  for (int i = 0; i < 5; ++i) {
    const v1::Enterprise& e = (*list)[i];
    EXPECT_EQ(e.enterprise_number(), numbers[i]);
    EXPECT_FALSE(e.start_date().empty());
    EXPECT_FALSE(e.type_of_enterprise().description().empty());
    EXPECT_THAT(e.denominations(), SizeIs(RowsOf("denomination_insert.csv", numbers[i]).size()));
    EXPECT_THAT(e.addresses(), SizeIs(RowsOf("address_insert.csv", numbers[i]).size()));
    EXPECT_THAT(e.activities(), IsEmpty());
    EXPECT_THAT(e.contacts(), IsEmpty());
    EXPECT_THAT(e.establishments(), IsEmpty());
    EXPECT_FALSE(e.has_status());
  }
  absl::StatusOr<std::vector<v1::Enterprise>> all = store_->ListEnterpriseSummaries(1000);
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, SizeIs(numbers.size()));
}

TEST_F(RealUpdateTest, ConcurrentReadersSeeTheSameRecords) {
  absl::StatusOr<std::unique_ptr<KboStore>> store = KboStore::Open(*db_path_, 2);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<v1::Enterprise> expected = (*store)->GetEnterprise("1027.395.591", "fr");
  ASSERT_TRUE(expected.ok());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(6, 0);
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        absl::StatusOr<v1::Enterprise> got = (*store)->GetEnterprise("1027.395.591", "fr");
        if (!got.ok() || got->SerializeAsString() != expected->SerializeAsString()) {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(mismatches, testing::Each(0));
}

TEST_F(RealUpdateTest, ConnectorFetchesAndHonoursDeadline) {
  absl::StatusOr<std::unique_ptr<KboConnector>> connector = KboConnector::Create(*db_path_);
  ASSERT_TRUE(connector.ok()) << connector.status();
  EXPECT_EQ((*connector)->name(), "companies");
  FetchRequest request;
  request.enterprise_number = "1029.028.161";
  request.language = "nl";
  absl::StatusOr<v1::SubjectRecords> records = (*connector)->Fetch(request);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(records->enterprise().juridical_form().description(), "Vereniging zonder winstoogmerk");
  request.deadline = absl::Now() - absl::Seconds(1);
  EXPECT_EQ((*connector)->Fetch(request).status().code(), absl::StatusCode::kDeadlineExceeded);
  request.deadline = absl::InfiniteFuture();
  request.enterprise_number = "0403.170.701";
  EXPECT_EQ((*connector)->Fetch(request).status().code(), absl::StatusCode::kNotFound);
}

// Tests that write their own extracts and databases in a scratch directory.
class ScratchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/kbo_import_test_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "_",
                        getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_path_ = dir_ + "/kbo.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A small full extract: D (0502.503.253) is an enterprise the real update deletes, with an
  // establishment, name, address and activity the update deletes too; U (0403.170.701) is
  // not in the update at all and has an establishment, a contact and a branch.
  std::string WriteSmallFullExtract(int extract_number = 146) {
    const std::string full = dir_ + "/full";
    fs::create_directories(full);
    WriteFile(full + "/meta.csv",
              absl::StrCat("\"Variable\",\"Value\"\n\"SnapshotDate\",\"10-10-2025\"\n"
                           "\"ExtractTimestamp\",\"11-10-2025 06:00:00\"\n\"ExtractType\",\"full\"\n"
                           "\"ExtractNumber\",\"", extract_number, "\"\n\"Version\",\"1.0.0\"\n"));
    // The real code table (every code the rows use must be in it), with an old text and a
    // code the update's code table no longer has.
    WriteFile(full + "/code.csv",
              ReadFile(absl::StrCat(kExtract, "/code.csv")) +
                  "\"JuridicalForm\",\"017\",\"FR\",\"ASBL (old text)\"\n"
                  "\"TypeOfEnterprise\",\"9\",\"FR\",\"Only in the old code table\"\n");
    WriteFile(full + "/enterprise.csv",
              "\"EnterpriseNumber\",\"Status\",\"JuridicalSituation\",\"TypeOfEnterprise\","
              "\"JuridicalForm\",\"JuridicalFormCAC\",\"StartDate\"\n"
              "\"0502.503.253\",\"AC\",\"000\",\"2\",\"017\",,01-01-2000\n"
              "\"0403.170.701\",\"AC\",\"000\",\"2\",\"014\",\"610\",29-02-1960\n");
    WriteFile(full + "/establishment.csv",
              "\"EstablishmentNumber\",\"StartDate\",\"EnterpriseNumber\"\n"
              "\"2.004.869.739\",01-01-2001,\"0502.503.253\"\n"
              "\"2.000.000.042\",01-01-1970,\"0403.170.701\"\n");
    WriteFile(full + "/denomination.csv",
              "\"EntityNumber\",\"Language\",\"TypeOfDenomination\",\"Denomination\"\n"
              "\"0502.503.253\",\"1\",\"001\",\"Doomed, \"\"Gone\"\" SA\"\n"
              "\"0403.170.701\",\"2\",\"001\",\"Blijvend NV\"\n"
              "\"9.000.000.123\",\"4\",\"004\",\"Branch Ltd\"\n");
    WriteFile(full + "/address.csv",
              "\"EntityNumber\",\"TypeOfAddress\",\"CountryNL\",\"CountryFR\",\"Zipcode\","
              "\"MunicipalityNL\",\"MunicipalityFR\",\"StreetNL\",\"StreetFR\",\"HouseNumber\","
              "\"Box\",\"ExtraAddressInfo\",\"DateStrikingOff\"\n"
              "\"0502.503.253\",\"REGO\",,,\"1000\",\"Brussel\",\"Bruxelles\",\"Wetstraat\","
              "\"Rue de la Loi\",\"16\",\"\",\"\",\n"
              "\"0403.170.701\",\"REGO\",,,\"1050\",\"Elsene\",\"Ixelles\",\"Louizalaan\","
              "\"Avenue Louise\",\"1\",\"\",\"line one\nline two\",31-12-2024\n");
    WriteFile(full + "/contact.csv",
              "\"EntityNumber\",\"EntityContact\",\"ContactType\",\"Value\"\n"
              "\"0403.170.701\",\"ENT\",\"TEL\",\"02/000.00.00\"\n");
    WriteFile(full + "/activity.csv",
              "\"EntityNumber\",\"ActivityGroup\",\"NaceVersion\",\"NaceCode\",\"Classification\"\n"
              "\"2.004.869.739\",\"001\",\"2008\",\"56101\",\"MAIN\"\n"
              "\"2.000.000.042\",\"001\",\"2008\",\"62010\",\"MAIN\"\n");
    WriteFile(full + "/branch.csv",
              "\"Id\",\"StartDate\",\"EnterpriseNumber\"\n"
              "\"9.000.000.123\",15-06-2015,\"0403.170.701\"\n");
    return full;
  }

  // A writable copy of the real update extract.
  std::string CopyOfRealUpdate() {
    const std::string copy = dir_ + "/update";
    fs::copy(kExtract, copy, fs::copy_options::recursive);
    for (auto& entry : fs::directory_iterator(copy)) {
      fs::permissions(entry.path(), fs::perms::owner_write, fs::perm_options::add);
    }
    return copy;
  }

  std::string dir_;
  std::string db_path_;
};

TEST_F(ScratchTest, TheDatabaseIsOwnerOnlyWhateverTheUmask) {
  ScopedUmask open_to_all(0);
  // A first full import builds beside the path and links the result into place; an update
  // writes through the WAL.
  ASSERT_TRUE(ImportKboExtract(WriteSmallFullExtract(), db_path_, kNoProgress).ok());
  EXPECT_EQ(FileMode(db_path_), 0600);
  EXPECT_EQ(FileMode(db_path_ + ".importing.lock"), 0600);
  ASSERT_TRUE(ImportKboExtract(kExtract, db_path_, kNoProgress).ok());
  EXPECT_EQ(FileMode(db_path_), 0600);
}

TEST_F(ScratchTest, FullExtractThenRealUpdate) {
  absl::StatusOr<KboImportSummary> full =
      ImportKboExtract(WriteSmallFullExtract(), db_path_, kNoProgress);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->extract_type, "full");
  EXPECT_EQ(full->tables.at("enterprise").inserted, 2);
  EXPECT_EQ(full->tables.at("denomination").inserted, 3);
  // Stays open across the update: it must see the new data and drop cached descriptions.
  absl::StatusOr<std::unique_ptr<KboStore>> early_store = KboStore::Open(db_path_, 1);
  ASSERT_TRUE(early_store.ok()) << early_store.status();
  {
    absl::StatusOr<std::unique_ptr<KboStore>>& store = early_store;
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<v1::Enterprise> d = (*store)->GetEnterprise("0502.503.253", "fr");
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->juridical_form().description(), "ASBL (old text)");
    EXPECT_EQ(d->denominations(0).value(), "Doomed, \"Gone\" SA");
    ASSERT_THAT(d->establishments(), SizeIs(1));
    EXPECT_THAT(d->establishments(0).activities(), SizeIs(1));
    absl::StatusOr<v1::Enterprise> u = (*store)->GetEnterprise("0403.170.701", "fr");
    ASSERT_TRUE(u.ok()) << u.status();
    EXPECT_EQ(u->start_date(), "1960-02-29");
    EXPECT_EQ(u->addresses(0).extra_address_info(), "line one\nline two");
    EXPECT_EQ(u->addresses(0).date_striking_off(), "2024-12-31");
    ASSERT_THAT(u->branches(), SizeIs(1));
    EXPECT_EQ(u->branches(0).start_date(), "2015-06-15");
    ASSERT_THAT(u->branches(0).denominations(), SizeIs(1));
    EXPECT_EQ(u->branches(0).denominations(0).language(), "en");
    EXPECT_EQ(u->branches(0).denominations(0).value(), "Branch Ltd");
  }

  const int64_t codes_before = Count(db_path_, "SELECT count(*) FROM code");
  absl::StatusOr<KboImportSummary> update = ImportKboExtract(kExtract, db_path_, kNoProgress);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->tables.at("enterprise").deleted, 1);     // D; the other numbers were absent
  EXPECT_EQ(update->tables.at("establishment").deleted, 1);  // D's unit
  EXPECT_EQ(update->tables.at("denomination").deleted, 1);
  EXPECT_EQ(update->tables.at("address").deleted, 0);  // D's REGO address is not in the deletes
  EXPECT_EQ(update->tables.at("activity").deleted, 1);
  EXPECT_EQ(update->tables.at("code").deleted, codes_before);

  absl::StatusOr<std::unique_ptr<KboStore>> store = KboStore::Open(db_path_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->GetEnterprise("0502.503.253", "fr").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ((*early_store)->GetEnterprise("0502.503.253", "fr").status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<v1::Enterprise> seen_early = (*early_store)->GetEnterprise("1029.028.161", "fr");
  ASSERT_TRUE(seen_early.ok()) << seen_early.status();
  EXPECT_EQ(seen_early->juridical_form().description(), "Association sans but lucratif");
  EXPECT_EQ(Count(db_path_,
                  "SELECT count(*) FROM establishment WHERE enterprise_number = "
                  "'0502.503.253'"),
            0);
  EXPECT_EQ(Count(db_path_,
                  "SELECT count(*) FROM denomination WHERE entity_number = "
                  "'0502.503.253'"),
            0);
  EXPECT_EQ(Count(db_path_, RowCountSql("activity", " WHERE entity_number = '2.004.869.739'")),
            0);

  absl::StatusOr<v1::Enterprise> u = (*store)->GetEnterprise("0403.170.701", "fr");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_THAT(u->denominations(), SizeIs(1));
  EXPECT_THAT(u->addresses(), SizeIs(1));
  EXPECT_THAT(u->contacts(), SizeIs(1));
  ASSERT_THAT(u->establishments(), SizeIs(1));
  EXPECT_THAT(u->establishments(0).activities(), SizeIs(1));
  EXPECT_EQ(u->establishments(0).activities(0).nace().description(),
            "Programmation informatique");  // resolved with the new code table
  ASSERT_THAT(u->branches(), SizeIs(1));
  EXPECT_THAT(u->branches(0).denominations(), SizeIs(1));

  absl::StatusOr<v1::Enterprise> inserted = (*store)->GetEnterprise("1029.028.161", "fr");
  ASSERT_TRUE(inserted.ok()) << inserted.status();
  EXPECT_EQ(inserted->juridical_form().description(), "Association sans but lucratif");
  EXPECT_EQ(Count(db_path_, "SELECT count(*) FROM code WHERE code = '9'"), 0);
  EXPECT_EQ(Count(db_path_, "SELECT count(*) FROM extract_history"), 2);
}

TEST_F(ScratchTest, FullExtractReplacesEverything) {
  const std::string full = WriteSmallFullExtract(/*extract_number=*/148);
  ASSERT_TRUE(ImportKboExtract(kExtract, db_path_, kNoProgress).ok());
  absl::StatusOr<KboImportSummary> summary = ImportKboExtract(full, db_path_, kNoProgress);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->tables.at("enterprise").deleted, 28);
  EXPECT_EQ(Count(db_path_, "SELECT count(*) FROM enterprise"), 2);
  EXPECT_EQ(Count(db_path_, RowCountSql("activity")), 2);
  // The full's code table replaced the update's: its old text and its extra code are back.
  EXPECT_EQ(Count(db_path_, "SELECT count(*) FROM code WHERE description = 'ASBL (old text)'"), 1);
  EXPECT_EQ(Count(db_path_, "SELECT count(*) FROM code WHERE code = '9'"), 1);
  EXPECT_EQ(Count(db_path_,
                  "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                  "name = 'activity_run_by_entity'"),
            1);
}

struct BadRow {
  const char* file;
  const char* row;
  const char* expected;  // after "<file>:<line>: "
};

// GetEnterprise served from the database while a daily update is applied to it: each answer
// is the enterprise as it was before the update or as it is after, never a mix of the two.
TEST_F(ScratchTest, ReadersDuringAnUpdateSeeTheOldStateOrTheNewOneNeverAMix) {
  KboGenerateOptions options;
  options.enterprises = 3000;
  options.seed = 7;
  options.code_table = DefaultKboCodeTablePath();
  options.out_dir = dir_ + "/generated-full";
  ASSERT_TRUE(GenerateKboExtract(options, nullptr).ok());
  KboGenerateOptions update_options;
  update_options.update_from = options.out_dir;
  update_options.changes = 1500;
  update_options.code_table = options.code_table;
  update_options.out_dir = dir_ + "/generated-update";
  ASSERT_TRUE(GenerateKboExtract(update_options, nullptr).ok());
  ASSERT_TRUE(ImportKboExtract(options.out_dir, db_path_, kNoProgress).ok());
  const std::string after_path = dir_ + "/after.db";
  fs::copy_file(db_path_, after_path);
  ASSERT_TRUE(ImportKboExtract(update_options.out_dir, after_path, kNoProgress).ok());

  // The enterprises the update changes (modified or struck off), as each database serves them.
  auto serve = [](KboStore& store, const std::string& number) {
    absl::StatusOr<v1::Enterprise> e = store.GetEnterprise(number, "fr");
    return e.ok() ? e->SerializeAsString() : std::string(e.status().message());
  };
  absl::StatusOr<std::unique_ptr<KboStore>> old_store = KboStore::Open(db_path_);
  absl::StatusOr<std::unique_ptr<KboStore>> new_store = KboStore::Open(after_path);
  ASSERT_TRUE(old_store.ok() && new_store.ok());
  std::vector<std::string> numbers;
  std::map<std::string, std::pair<std::string, std::string>> states;  // number -> before, after
  for (const std::vector<std::string>& row :
       ReadCsv(update_options.out_dir + "/enterprise_delete.csv")) {
    const std::string before = serve(**old_store, row[0]);
    const std::string after = serve(**new_store, row[0]);
    if (before == after || numbers.size() >= 200) continue;
    numbers.push_back(row[0]);
    states[row[0]] = {before, after};
  }
  ASSERT_GE(numbers.size(), 100u);

  std::atomic<bool> done{false};
  std::atomic<int64_t> reads{0}, old_reads{0}, new_reads{0}, mixed{0};
  auto reader = [&](size_t offset) {
    for (size_t i = offset; !done.load(); ++i) {
      const std::string& number = numbers[i % numbers.size()];
      const std::string served = serve(**old_store, number);
      ++reads;
      if (served == states[number].first) {
        ++old_reads;
      } else if (served == states[number].second) {
        ++new_reads;
      } else {
        ++mixed;
      }
    }
  };
  std::thread first(reader, 0), second(reader, numbers.size() / 2);
  absl::SleepFor(absl::Milliseconds(20));
  absl::StatusOr<KboImportSummary> update =
      ImportKboExtract(update_options.out_dir, db_path_, kNoProgress);
  absl::SleepFor(absl::Milliseconds(20));
  done = true;
  first.join();
  second.join();
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(mixed.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(old_reads.load(), 0);
  EXPECT_GT(new_reads.load(), 0);
  for (const std::string& number : numbers) {
    EXPECT_EQ(serve(**old_store, number), states[number].second) << number;
  }
}

class AtomicityTest : public ScratchTest, public ::testing::WithParamInterface<BadRow> {};

TEST_P(AtomicityTest, BadRowInUpdateLeavesDatabaseUntouched) {
  ASSERT_TRUE(ImportKboExtract(WriteSmallFullExtract(), db_path_, kNoProgress).ok());
  const std::string before = Fingerprint(db_path_);
  const std::string update = CopyOfRealUpdate();
  const std::string file = update + "/" + GetParam().file;
  const int line = LineCount(file) + 1;
  AppendLine(file, GetParam().row);

  absl::StatusOr<KboImportSummary> summary = ImportKboExtract(update, db_path_, kNoProgress);
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(summary.status().message(),
              HasSubstr(absl::StrCat(GetParam().file, ":", line, ": ", GetParam().expected)));
  EXPECT_EQ(Fingerprint(db_path_), before);
  // The deletes had run before the failure; D is still there.
  absl::StatusOr<std::unique_ptr<KboStore>> store = KboStore::Open(db_path_);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->GetEnterprise("0502.503.253", "fr").ok());
}

INSTANTIATE_TEST_SUITE_P(
    LateFiles, AtomicityTest,
    ::testing::Values(
        BadRow{"branch_insert.csv", "\"9.000.000.999\",31-02-2025,\"0403.170.701\"",
               "StartDate: \"31-02-2025\" is not a date dd-mm-yyyy: day out of range"},
        BadRow{"activity_insert.csv", "\"1029.028.161\",\"001\",\"2007\",\"62010\",\"MAIN\"",
               "NaceVersion: \"2007\" is not a NACE version"},
        BadRow{"address_insert.csv",
               "\"1029.028.161\",\"REGO\",,,\"1080\",\"a\",\"b\",\"c\",\"d\",\"1\",\"\",\"\","
               "2025-01-01",
               "DateStrikingOff: \"2025-01-01\" is not a date"},
        BadRow{"contact_insert.csv", "\"1029.028.162\",\"ENT\",\"TEL\",\"02\"",
               "EntityNumber: enterprise number \"1029.028.162\" fails the mod-97 check"},
        BadRow{"establishment_insert.csv", "\"2.379.318.641\",09-10-2025",
               "EnterpriseNumber: row has 2 columns, the header has 3"},
        BadRow{"denomination_insert.csv", "\"0403.170.701\",\"1\",\"001\",\"unterminated",
               "unterminated quoted field 4"},
        BadRow{"denomination_insert.csv", "\"0403.170.701\",\"1\",\"002\",\"\xc3.\x89.L.E.\"",
               "Denomination: not valid UTF-8 at byte 1 of \"\\xc3.\\x89.L.E.\""},
        BadRow{"enterprise_insert.csv", "\"0403.170.701\",\"AC\",\"000\",\"2\",\"099\",,01-01-2000",
               "JuridicalForm: \"099\" is not a JuridicalForm code in code.csv"}),
    [](const ::testing::TestParamInfo<BadRow>& info) {
      std::string name = info.param.file;
      return absl::StrCat(name.substr(0, name.find('.')), "_", info.index);
    });

TEST_F(ScratchTest, DirectoryWithoutMetaCsvFailsBeforeTouchingTheDatabase) {
  const std::string extract = dir_ + "/no_meta";
  fs::create_directories(extract);
  WriteFile(extract + "/code.csv", "\"Category\",\"Code\",\"Language\",\"Description\"\n");
  absl::StatusOr<KboImportSummary> summary = ImportKboExtract(extract, db_path_, kNoProgress);
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(summary.status().message(), HasSubstr("has no meta.csv"));
  EXPECT_FALSE(fs::exists(db_path_));
}

TEST_F(ScratchTest, MissingDataFileIsNamed) {
  const std::string update = CopyOfRealUpdate();
  fs::remove(update + "/activity_insert.csv");
  absl::StatusOr<KboImportSummary> summary = ImportKboExtract(update, db_path_, kNoProgress);
  ASSERT_FALSE(summary.ok());
  EXPECT_THAT(summary.status().message(), HasSubstr("update extract lacks activity_insert.csv"));
}

TEST_F(ScratchTest, BadMetaValuesAreReportedWithLine) {
  const std::string update = CopyOfRealUpdate();
  WriteFile(update + "/meta.csv",
            "\"Variable\",\"Value\"\n\"SnapshotDate\",\"11-10-2025\"\n"
            "\"ExtractType\",\"delta\"\n");
  absl::StatusOr<KboImportSummary> summary = ImportKboExtract(update, db_path_, kNoProgress);
  ASSERT_FALSE(summary.ok());
  EXPECT_THAT(summary.status().message(),
              HasSubstr("meta.csv:3: ExtractType: \"delta\" is neither"));
}

TEST_F(ScratchTest, WrongHeaderIsReported) {
  const std::string update = CopyOfRealUpdate();
  WriteFile(update + "/enterprise_insert.csv", "\"EnterpriseNumber\",\"Status\"\n");
  absl::StatusOr<KboImportSummary> summary = ImportKboExtract(update, db_path_, kNoProgress);
  ASSERT_FALSE(summary.ok());
  EXPECT_THAT(summary.status().message(),
              HasSubstr("enterprise_insert.csv:1: header is \"EnterpriseNumber,Status\""));
}

TEST_F(ScratchTest, StoreOnMissingOrForeignDatabase) {
  EXPECT_EQ(KboStore::Open(db_path_).status().code(), absl::StatusCode::kNotFound);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE other(x)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(KboStore::Open(db_path_).status().code(), absl::StatusCode::kFailedPrecondition);
}

// Before activity_run, a database held a row per activity in `activity`. An update cannot
// apply to that layout; a full extract replaces it.
TEST_F(ScratchTest, ADatabaseWithARowPerActivityTakesOnlyAFullExtract) {
  ASSERT_TRUE(ImportKboExtract(WriteSmallFullExtract(), db_path_, kNoProgress).ok());  // 146
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE activity (entity_number TEXT, activity_group TEXT, "
                         "nace_version TEXT, nace_code TEXT, classification TEXT)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  const std::string before = Fingerprint(db_path_);
  absl::StatusOr<KboImportSummary> update = ImportKboExtract(kExtract, db_path_, kNoProgress);
  ASSERT_FALSE(update.ok());
  EXPECT_EQ(update.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(update.status().message(),
              HasSubstr("was imported by an earlier onceonly, with a row per activity; import "
                        "a full extract"));
  EXPECT_EQ(Fingerprint(db_path_), before);

  absl::StatusOr<KboImportSummary> full =
      ImportKboExtract(WriteSmallFullExtract(/*extract_number=*/148), db_path_, kNoProgress);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(Count(db_path_, "SELECT count(*) FROM sqlite_master WHERE name = 'activity'"), 0);
  EXPECT_EQ(Count(db_path_, RowCountSql("activity")), 2);
  ASSERT_TRUE(ImportKboExtract(kExtract, db_path_, kNoProgress).status().code() ==
              absl::StatusCode::kFailedPrecondition);  // 147 is older than 148: refused as such
}

TEST_F(ScratchTest, AnExtractImportedTwiceOrAnOlderOneIsRefused) {
  ASSERT_TRUE(ImportKboExtract(WriteSmallFullExtract(), db_path_, kNoProgress).ok());  // 146
  ASSERT_TRUE(ImportKboExtract(kExtract, db_path_, kNoProgress).ok());                // 147
  const std::string before = Fingerprint(db_path_);
  absl::StatusOr<KboImportSummary> again = ImportKboExtract(kExtract, db_path_, kNoProgress);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(),
              HasSubstr("extract 147 (update, snapshot 2025-10-11) is already imported"));
  absl::StatusOr<KboImportSummary> older =
      ImportKboExtract(WriteSmallFullExtract(), db_path_, kNoProgress);
  ASSERT_FALSE(older.ok());
  EXPECT_THAT(older.status().message(),
              HasSubstr("extract 146 (full, snapshot 2025-10-10) is older than extract 147"));
  EXPECT_EQ(Fingerprint(db_path_), before);
}

TEST_F(ScratchTest, RejectFileQuarantinesBadRowsAndAppliesTheRest) {
  const std::string update = CopyOfRealUpdate();
  const std::string activities = update + "/activity_insert.csv";
  const int bad_nace_line = LineCount(activities) + 1;
  AppendLine(activities, "\"1029.028.161\",\"001\",\"2008\",\"00000\",\"MAIN\"");
  const std::string contacts = update + "/contact_insert.csv";
  const int bad_number_line = LineCount(contacts) + 1;
  AppendLine(contacts, "\"1029.028.162\",\"ENT\",\"TEL\",\"02\"");
  KboImportOptions options;
  options.reject_file = dir_ + "/rejects.txt";
  absl::StatusOr<KboImportSummary> summary =
      ImportKboExtract(update, db_path_, options, kNoProgress);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rejected_rows, 2);
  const std::string rejects = ReadFile(options.reject_file);
  EXPECT_THAT(rejects, HasSubstr(absl::StrCat("activity_insert.csv:", bad_nace_line,
                                              ": NaceCode: \"00000\" is not a Nace2008 code")));
  EXPECT_THAT(rejects, HasSubstr(absl::StrCat("contact_insert.csv:", bad_number_line,
                                              ": EntityNumber: enterprise number")));
  // Everything else is in: the good rows of the same files too.
  EXPECT_EQ(summary->tables.at("activity").inserted, LineCount(activities) - 2);
  EXPECT_EQ(Count(db_path_, RowCountSql("activity", " WHERE instr(activities, '00000') > 0")), 0);
}

TEST_F(ScratchTest, ATruncatedFileLeavesThePreviousDatabaseServing) {
  ASSERT_TRUE(ImportKboExtract(WriteSmallFullExtract(), db_path_, kNoProgress).ok());
  const std::string before = Fingerprint(db_path_);
  const std::string update = CopyOfRealUpdate();
  const std::string activities = update + "/activity_insert.csv";
  const std::string content = ReadFile(activities);
  // Cut inside a quoted field of the last row, as a download interrupted mid-file would.
  WriteFile(activities, content.substr(0, content.size() - 5));
  absl::StatusOr<KboImportSummary> summary = ImportKboExtract(update, db_path_, kNoProgress);
  ASSERT_FALSE(summary.ok());
  EXPECT_THAT(summary.status().message(), HasSubstr("activity_insert.csv:"));
  EXPECT_EQ(Fingerprint(db_path_), before);
  absl::StatusOr<std::unique_ptr<KboStore>> store = KboStore::Open(db_path_);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->GetEnterprise("0403.170.701", "fr").ok());
}

TEST(KboDateToIsoTest, ValidatesCalendar) {
  EXPECT_EQ(*KboDateToIso("29-02-2024"), "2024-02-29");
  EXPECT_EQ(*KboDateToIso("01-01-1800"), "1800-01-01");
  EXPECT_FALSE(KboDateToIso("29-02-2023").ok());
  EXPECT_FALSE(KboDateToIso("29-02-1900").ok());
  EXPECT_FALSE(KboDateToIso("31-04-2025").ok());
  EXPECT_FALSE(KboDateToIso("00-01-2025").ok());
  EXPECT_FALSE(KboDateToIso("01-13-2025").ok());
  EXPECT_FALSE(KboDateToIso("1-2-2025").ok());
  EXPECT_FALSE(KboDateToIso("2025-01-01").ok());
  EXPECT_FALSE(KboDateToIso("").ok());
}

}  // namespace
}  // namespace onceonly
