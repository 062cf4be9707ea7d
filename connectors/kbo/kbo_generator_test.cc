#include "connectors/kbo/kbo_generator.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/enterprise_number.h"
#include "common/sqlite.h"
#include "common/utf8.h"
#include "connectors/kbo/csv_reader.h"
#include "connectors/kbo/kbo_digest.h"
#include "connectors/kbo/kbo_import.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using ::testing::HasSubstr;

const std::string kRealExtract = ONCEONLY_KBO_EXTRACT;
const std::string kCodes = kRealExtract + "/code.csv";
constexpr int64_t kEnterprises = 2000;
const char* const kTables[] = {"enterprise", "establishment", "denomination", "address",
                               "contact",    "activity",      "branch"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string FirstLine(const std::string& path) {
  const std::string text = ReadFile(path);
  return text.substr(0, text.find('\n'));
}

using Rows = std::vector<std::vector<std::string>>;

// Data rows (no header) of a CSV file, parsed as the importer parses them.
Rows ReadCsv(const std::string& path) {
  auto reader = CsvReader::Open(path);
  EXPECT_TRUE(reader.ok()) << reader.status();
  Rows rows;
  if (!reader.ok()) return rows;
  std::vector<std::string> fields;
  bool header = true;
  while (true) {
    auto more = (*reader)->Next(&fields);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    if (!header) rows.push_back(fields);
    header = false;
  }
  return rows;
}

absl::StatusOr<KboGenerateSummary> Generate(const std::string& dir, int64_t enterprises,
                                            uint64_t seed) {
  KboGenerateOptions options;
  options.enterprises = enterprises;
  options.out_dir = dir;
  options.seed = seed;
  options.code_table = kCodes;
  return GenerateKboExtract(options, nullptr);
}

absl::StatusOr<KboGenerateSummary> GenerateUpdate(const std::string& full, const std::string& dir,
                                                  int64_t changes) {
  KboGenerateOptions options;
  options.update_from = full;
  options.out_dir = dir;
  options.changes = changes;
  options.code_table = kCodes;
  return GenerateKboExtract(options, nullptr);
}

absl::StatusOr<KboDigest> DigestOf(const std::string& db_path) {
  auto db = SqliteDb::Open(db_path, SqliteDb::Mode::kReadOnly);
  if (!db.ok()) return db.status();
  return KboContentDigest(**db);
}

// One full extract of 2,000 enterprises shared by the tests that only read it.
class KboGeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/kbo_generator_test.XXXXXX";
    root_ = new std::string(mkdtemp(pattern));
    full_ = new std::string(*root_ + "/full");
    auto summary = Generate(*full_, kEnterprises, 7);
    ASSERT_TRUE(summary.ok()) << summary.status();
    summary_ = new KboGenerateSummary(*summary);
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*root_);
    delete root_;
    delete full_;
    delete summary_;
  }
  void SetUp() override { ASSERT_NE(summary_, nullptr) << "the shared extract was not generated"; }

  static std::string File(const std::string& name) { return *full_ + "/" + name; }

  static std::string* root_;
  static std::string* full_;
  static KboGenerateSummary* summary_;
};
std::string* KboGeneratorTest::root_ = nullptr;
std::string* KboGeneratorTest::full_ = nullptr;
KboGenerateSummary* KboGeneratorTest::summary_ = nullptr;

TEST_F(KboGeneratorTest, SameSeedGivesTheSameBytesAnotherSeedDoesNot) {
  const std::string again = *root_ + "/again", other = *root_ + "/other";
  ASSERT_TRUE(Generate(again, kEnterprises, 7).ok());
  ASSERT_TRUE(Generate(other, kEnterprises, 8).ok());
  for (const char* table : kTables) {
    const std::string file = absl::StrCat(table, ".csv");
    EXPECT_EQ(ReadFile(File(file)), ReadFile(again + "/" + file)) << file;
  }
  for (const char* file : {"meta.csv", "code.csv", "manifest.json"}) {
    EXPECT_EQ(ReadFile(File(file)), ReadFile(again + "/" + file)) << file;
  }
  for (const char* file : {"enterprise.csv", "denomination.csv", "address.csv", "activity.csv"}) {
    EXPECT_NE(ReadFile(File(file)), ReadFile(other + "/" + file)) << file;
  }
}

TEST_F(KboGeneratorTest, FilesHaveTheLayoutOfTheRealExtract) {
  for (const char* table : kTables) {
    const std::string file = absl::StrCat(table, ".csv");
    EXPECT_EQ(FirstLine(File(file)),
              FirstLine(absl::StrCat(kRealExtract, "/", table, "_insert.csv")))
        << file;
    EXPECT_EQ(ReadFile(File(file)).find('\r'), std::string::npos) << file << " has CR: KBO uses LF";
  }
  EXPECT_EQ(ReadFile(File("code.csv")), ReadFile(kCodes));
  EXPECT_EQ(ReadFile(File("meta.csv")),
            "\"Variable\",\"Value\"\n\"SnapshotDate\",\"05-10-2025\"\n"
            "\"ExtractTimestamp\",\"06-10-2025 06:30:00\"\n\"ExtractType\",\"full\"\n"
            "\"ExtractNumber\",\"140\"\n\"Version\",\"1.0.0\"\n");
  // Quoting as in the real files: codes bare when empty, dates bare, text always quoted.
  const std::string enterprises = ReadFile(File("enterprise.csv"));
  EXPECT_THAT(enterprises,
              testing::ContainsRegex("\n\"[01][0-9]{3}\\.[0-9]{3}\\.[0-9]{3}\",\"AC\","
                                     "\"[0-9]{3}\",\"1\",,,[0-9]{2}-[0-9]{2}-[0-9]{4}\n"));
  EXPECT_THAT(enterprises, testing::ContainsRegex(",\"2\",\"610\",,[0-9]{2}-[0-9]{2}-[0-9]{4}\n"));
  EXPECT_THAT(
      ReadFile(File("address.csv")),
      testing::ContainsRegex("\n\"2\\.[0-9.]+\",\"BAET\",,,\"[0-9]{4}\",\"[^\"]+\",\"[^\"]+\","
                             "\"[^\"]+\",\"[^\"]+\",\"[^\"]+\",\"[^\"]*\",\"[^\"]*\",\n"));
}

TEST_F(KboGeneratorTest, EveryFileIsUtf8) {
  // Abbreviations of names starting with an accented letter once cut "\xc3\x89" in two.
  for (const char* table : kTables) {
    const std::string file = File(absl::StrCat(table, ".csv"));
    const std::string text = ReadFile(file);
    const size_t bad = InvalidUtf8Offset(text);
    EXPECT_EQ(bad, std::string::npos)
        << file << " at byte " << bad << ": " << text.substr(text.rfind('\n', bad) + 1, 80);
  }
}

TEST_F(KboGeneratorTest, EveryNumberPassesTheMod97Check) {
  std::set<std::string> enterprises, establishments, branches;
  bool series_1xxx = false;
  for (const auto& row : ReadCsv(File("enterprise.csv"))) {
    auto canonical = CanonicalEnterpriseNumber(row[0]);
    ASSERT_TRUE(canonical.ok()) << canonical.status();
    EXPECT_EQ(*canonical, row[0]);
    EXPECT_TRUE(enterprises.insert(row[0]).second) << "duplicate " << row[0];
    if (row[0][0] == '1') series_1xxx = true;
  }
  EXPECT_EQ(enterprises.size(), static_cast<size_t>(kEnterprises));
  EXPECT_TRUE(series_1xxx) << "no 1xxx-series enterprise number";
  for (const auto& row : ReadCsv(File("establishment.csv"))) {
    auto canonical = CanonicalEstablishmentNumber(row[0]);
    ASSERT_TRUE(canonical.ok()) << canonical.status();
    EXPECT_EQ(*canonical, row[0]);
    EXPECT_EQ(row[0][0], '2');
    EXPECT_TRUE(establishments.insert(row[0]).second) << "duplicate " << row[0];
    EXPECT_EQ(enterprises.count(row[2]), 1u) << row[2];
  }
  for (const auto& row : ReadCsv(File("branch.csv"))) {
    EXPECT_EQ(row[0][0], '9');
    branches.insert(row[0]);
    EXPECT_EQ(enterprises.count(row[2]), 1u) << row[2];
  }
  // Every child row hangs off an entity of the extract.
  for (const char* table : {"denomination", "address", "contact", "activity"}) {
    for (const auto& row : ReadCsv(File(absl::StrCat(table, ".csv")))) {
      EXPECT_TRUE(
          enterprises.count(row[0]) + establishments.count(row[0]) + branches.count(row[0]) == 1)
          << table << ": " << row[0];
    }
  }
}

TEST_F(KboGeneratorTest, EveryCodeIsInTheCodeTable) {
  std::set<std::pair<std::string, std::string>> codes;
  for (const auto& row : ReadCsv(kCodes)) codes.emplace(row[0], row[1]);
  int checked = 0;
  auto expect_code = [&](const std::string& category, const std::string& code) {
    EXPECT_TRUE(codes.count({category, code})) << category << " \"" << code << "\"";
    ++checked;
  };
  for (const auto& row : ReadCsv(File("enterprise.csv"))) {
    expect_code("Status", row[1]);
    expect_code("JuridicalSituation", row[2]);
    expect_code("TypeOfEnterprise", row[3]);
    EXPECT_EQ(row[4].empty(), row[3] == "1") << "natural persons have no juridical form";
    if (!row[4].empty()) expect_code("JuridicalForm", row[4]);
    if (!row[5].empty()) expect_code("JuridicalForm", row[5]);
  }
  for (const auto& row : ReadCsv(File("denomination.csv"))) {
    expect_code("Language", row[1]);
    expect_code("TypeOfDenomination", row[2]);
  }
  for (const auto& row : ReadCsv(File("address.csv"))) expect_code("TypeOfAddress", row[1]);
  for (const auto& row : ReadCsv(File("contact.csv"))) {
    expect_code("EntityContact", row[1]);
    expect_code("ContactType", row[2]);
  }
  std::set<std::string> versions;
  std::set<size_t> lengths;
  for (const auto& row : ReadCsv(File("activity.csv"))) {
    expect_code("ActivityGroup", row[1]);
    expect_code("Nace" + row[2], row[3]);
    expect_code("Classification", row[4]);
    versions.insert(row[2]);
    lengths.insert(row[3].size());
  }
  EXPECT_EQ(versions, (std::set<std::string>{"2003", "2008", "2025"}));
  EXPECT_EQ(lengths, (std::set<size_t>{5, 7}));
  EXPECT_GT(checked, 50000);
}

TEST_F(KboGeneratorTest, HasTheQuirksOfRealData) {
  int commas = 0, quotes = 0, accents = 0;
  for (const auto& row : ReadCsv(File("denomination.csv"))) {
    commas += row[3].find(',') != std::string::npos;
    quotes += row[3].find('"') != std::string::npos;
    accents += absl::StrContains(row[3], "é") || absl::StrContains(row[3], "ë") ||
               absl::StrContains(row[3], "ç") || absl::StrContains(row[3], "ü") ||
               absl::StrContains(row[3], "è") || absl::StrContains(row[3], "ï");
  }
  EXPECT_GT(commas, 100);
  EXPECT_GT(quotes, 5);
  EXPECT_GT(accents, 50);
  EXPECT_THAT(ReadFile(File("denomination.csv")), HasSubstr("\"\""));  // escaped quote
  int foreign = 0, struck_off = 0;
  for (const auto& row : ReadCsv(File("address.csv"))) {
    foreign += !row[2].empty();
    struck_off += !row[12].empty();
  }
  EXPECT_GT(foreign, 0);
  EXPECT_GT(struck_off, 0);
  EXPECT_GT(summary_->file_rows.at("branch.csv"), 0);
}

TEST_F(KboGeneratorTest, ProportionsFollowTheRealDump) {
  const auto& rows = summary_->file_rows;
  auto per_enterprise = [&](const char* file) {
    return static_cast<double>(rows.at(file)) / kEnterprises;
  };
  // Real dump, autumn 2025: 1.7 M establishments, 3.3 M denominations, 2.8 M addresses,
  // 0.7 M contacts, 36 M activities for 1.9 M enterprises.
  EXPECT_EQ(rows.at("enterprise.csv"), kEnterprises);
  EXPECT_NEAR(per_enterprise("establishment.csv"), 0.9, 0.15);
  EXPECT_NEAR(per_enterprise("denomination.csv"), 1.75, 0.25);
  EXPECT_NEAR(per_enterprise("address.csv"), 1.5, 0.25);
  EXPECT_NEAR(per_enterprise("contact.csv"), 0.37, 0.12);
  EXPECT_GE(per_enterprise("activity.csv"), 15);
  EXPECT_LE(per_enterprise("activity.csv"), 23);

  int natural = 0;
  for (const auto& row : ReadCsv(File("enterprise.csv"))) natural += row[3] == "1";
  EXPECT_NEAR(static_cast<double>(natural) / kEnterprises, 0.45, 0.05);
  int seats = 0, brussels = 0;
  for (const auto& row : ReadCsv(File("address.csv"))) {
    if (row[1] != "REGO") continue;
    ++seats;
    int zip = 0;
    if (row[2].empty() && absl::SimpleAtoi(row[4], &zip) && zip >= 1000 && zip <= 1210) ++brussels;
  }
  EXPECT_GE(static_cast<double>(brussels) / seats, 0.05);
  EXPECT_LE(static_cast<double>(brussels) / seats, 0.15);
}

TEST_F(KboGeneratorTest, ImportedDatabaseMatchesTheManifest) {
  const std::string db = *root_ + "/full.db";
  auto imported = ImportKboExtract(*full_, db, nullptr);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->extract_type, "full");
  EXPECT_EQ(imported->extract_number, 140);
  auto digest = DigestOf(db);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(digest->Hex(), summary_->state.Hex());
  EXPECT_EQ(digest->enterprises(), kEnterprises);
  const std::string manifest = ReadFile(File("manifest.json"));
  EXPECT_THAT(manifest, HasSubstr(absl::StrCat("\"digest\": \"", digest->Hex(), "\"")));
  EXPECT_THAT(manifest, HasSubstr(absl::StrCat("\"enterprises\": ", kEnterprises, ",")));
  for (int t = 0; t < kKboTableCount; ++t) {
    const int64_t rows = digest->table(static_cast<KboTable>(t)).rows;
    EXPECT_EQ(rows, summary_->file_rows.at(absl::StrCat(kTables[t], ".csv"))) << kTables[t];
    EXPECT_EQ(rows, imported->tables.at(kTables[t]).inserted) << kTables[t];
    EXPECT_THAT(manifest, HasSubstr(absl::StrCat("\"", kTables[t], "\": {\"rows\": ", rows, ",")));
  }
}

TEST_F(KboGeneratorTest, UpdateAppliesOnTopAndMatchesItsManifest) {
  const std::string update = *root_ + "/update";
  auto summary = GenerateUpdate(*full_, update, 200);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->extract_type, "update");
  EXPECT_EQ(summary->extract_number, 141);
  EXPECT_EQ(summary->modified + summary->added + summary->struck_off, 200);
  EXPECT_GT(summary->modified, 0);
  EXPECT_GT(summary->added, 0);
  EXPECT_GT(summary->struck_off, 0);
  EXPECT_EQ(summary->state.enterprises(), kEnterprises - summary->struck_off + summary->added);
  EXPECT_EQ(summary->file_rows.at("enterprise_delete.csv"),
            summary->modified + summary->struck_off);
  EXPECT_EQ(summary->file_rows.at("enterprise_insert.csv"), summary->modified + summary->added);
  for (const char* table : kTables) {
    EXPECT_EQ(FirstLine(absl::StrCat(update, "/", table, "_delete.csv")),
              FirstLine(absl::StrCat(kRealExtract, "/", table, "_delete.csv")))
        << table;
  }
  EXPECT_THAT(ReadFile(update + "/meta.csv"), HasSubstr("\"ExtractType\",\"update\""));

  // Byte-identical when made again.
  const std::string again = *root_ + "/update-again";
  ASSERT_TRUE(GenerateUpdate(*full_, again, 200).ok());
  for (const char* table : kTables) {
    for (const char* kind : {"_delete.csv", "_insert.csv"}) {
      const std::string file = absl::StrCat(table, kind);
      EXPECT_EQ(ReadFile(update + "/" + file), ReadFile(again + "/" + file)) << file;
    }
  }

  const std::string db = *root_ + "/updated.db";
  ASSERT_TRUE(ImportKboExtract(*full_, db, nullptr).ok());
  auto imported = ImportKboExtract(update, db, nullptr);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->extract_type, "update");
  auto digest = DigestOf(db);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_NE(digest->Hex(), summary_->state.Hex());
  EXPECT_EQ(digest->Hex(), summary->state.Hex());
  for (int t = 0; t < kKboTableCount; ++t) {
    EXPECT_EQ(digest->table(static_cast<KboTable>(t)).rows,
              summary->state.table(static_cast<KboTable>(t)).rows)
        << kTables[t];
  }
  EXPECT_THAT(ReadFile(update + "/manifest.json"),
              HasSubstr(absl::StrCat("\"digest\": \"", digest->Hex(), "\"")));
}

TEST_F(KboGeneratorTest, DatesAreRealDaysUpToTheSnapshot) {
  // A large update: many new enterprises, registered around the snapshot.
  const std::string update = *root_ + "/dates";
  ASSERT_TRUE(GenerateUpdate(*full_, update, 1500).ok());
  int checked = 0;
  auto check = [&](const std::string& path, int column, const std::string& snapshot) {
    for (const auto& row : ReadCsv(path)) {
      if (row[column].empty()) continue;
      auto iso = KboDateToIso(row[column]);
      ASSERT_TRUE(iso.ok()) << path << ": " << iso.status();
      EXPECT_GE(*iso, "1950-01-01") << path;
      EXPECT_LE(*iso, snapshot) << path;
      ++checked;
    }
  };
  for (const auto& [dir, suffix, snapshot] :
       {std::tuple<std::string, std::string, std::string>{*full_, ".csv", "2025-10-05"},
        {update, "_insert.csv", "2025-10-06"}}) {
    check(absl::StrCat(dir, "/enterprise", suffix), 6, snapshot);
    check(absl::StrCat(dir, "/establishment", suffix), 1, snapshot);
    check(absl::StrCat(dir, "/branch", suffix), 1, snapshot);
    check(absl::StrCat(dir, "/address", suffix), 12, snapshot);
  }
  EXPECT_GT(checked, 4000);
}

TEST_F(KboGeneratorTest, UpdateRefusesWhatItCannotRegenerate) {
  auto from_update = GenerateUpdate(*full_, *root_ + "/u1", 10);
  ASSERT_TRUE(from_update.ok()) << from_update.status();
  auto chained = GenerateUpdate(*root_ + "/u1", *root_ + "/u2", 10);
  EXPECT_THAT(chained.status().message(),
              HasSubstr("u1/manifest.json: extract_type is \"update\""));

  auto into_itself = GenerateUpdate(*full_, *full_, 10);
  EXPECT_THAT(into_itself.status().message(), HasSubstr("is the full extract itself"));

  auto too_many = GenerateUpdate(*full_, *root_ + "/u3", 5000);
  EXPECT_THAT(too_many.status().message(), HasSubstr("the full extract has only 2000"));

  const std::string other_codes = *root_ + "/other-code.csv";
  std::ofstream(other_codes) << ReadFile(kCodes) << "\"Status\",\"XX\",\"NL\",\"Test\"\n";
  KboGenerateOptions options;
  options.update_from = *full_;
  options.out_dir = *root_ + "/u4";
  options.code_table = other_codes;
  auto wrong_codes = GenerateKboExtract(options, nullptr);
  EXPECT_THAT(wrong_codes.status().message(), HasSubstr("is not the code table the full extract"));
}

TEST(KboGeneratorErrors, NameTheFileAndWhatIsWrong) {
  char pattern[] = "/tmp/kbo_generator_errors.XXXXXX";
  const std::string root = mkdtemp(pattern);
  KboGenerateOptions options;
  options.enterprises = 10;
  options.out_dir = root + "/out";
  options.code_table = root + "/missing/code.csv";
  auto missing = GenerateKboExtract(options, nullptr);
  EXPECT_THAT(missing.status().message(), HasSubstr("missing/code.csv"));

  std::ofstream(root + "/code.csv") << "\"Category\",\"Code\",\"Language\",\"Description\"\n"
                                    << "\"Status\",\"AC\",\"NL\",\"Actief\"\n";
  options.code_table = root + "/code.csv";
  auto incomplete = GenerateKboExtract(options, nullptr);
  EXPECT_THAT(incomplete.status().message(),
              HasSubstr("code.csv: no code \"000\" in category JuridicalSituation"));

  options.code_table = kCodes;
  options.enterprises = 0;
  EXPECT_THAT(GenerateKboExtract(options, nullptr).status().message(),
              HasSubstr("--enterprises must be from 1"));

  options.enterprises = 10;
  options.snapshot_date = "2025-02-30";
  EXPECT_THAT(GenerateKboExtract(options, nullptr).status().message(),
              HasSubstr("--snapshot-date \"2025-02-30\" does not exist"));

  options.snapshot_date.clear();
  options.update_from = root;
  EXPECT_THAT(GenerateKboExtract(options, nullptr).status().message(),
              HasSubstr("manifest.json: no such file"));
  std::filesystem::remove_all(root);
}

TEST(KboDigestTest, IgnoresOrderAndSubtracts) {
  auto row = [](absl::string_view number, absl::string_view name) {
    return std::vector<absl::string_view>{number, "2", "001", name};
  };
  KboDigest a, b, empty;
  a.AddRow(KboTable::kDenomination, row("0403.170.701", "Alpha"));
  a.AddRow(KboTable::kDenomination, row("0403.170.701", "Beta, \"B\""));
  b.AddRow(KboTable::kDenomination, row("0403.170.701", "Beta, \"B\""));
  b.AddRow(KboTable::kDenomination, row("0403.170.701", "Alpha"));
  EXPECT_EQ(a.Hex(), b.Hex());
  EXPECT_EQ(a.table(KboTable::kDenomination).rows, 2);
  b.RemoveRow(KboTable::kDenomination, row("0403.170.701", "Alpha"));
  EXPECT_NE(a.Hex(), b.Hex());
  b.RemoveRow(KboTable::kDenomination, row("0403.170.701", "Beta, \"B\""));
  EXPECT_EQ(b.Hex(), empty.Hex());
  // The same values in another table, or split differently, are another row.
  KboDigest c;
  c.AddRow(KboTable::kContact, row("0403.170.701", "Alpha"));
  KboDigest d;
  d.AddRow(KboTable::kDenomination, {"0403.170.701", "2", "001A", "lpha"});
  KboDigest e;
  e.AddRow(KboTable::kDenomination, row("0403.170.701", "Alpha"));
  EXPECT_NE(c.Hex(), e.Hex());
  EXPECT_NE(d.Hex(), e.Hex());
}

}  // namespace
}  // namespace onceonly
