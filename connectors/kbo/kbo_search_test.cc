// Enterprise search (KboStore::SearchEnterprises and the index of kbo_search.h) over the real
// KBO update extract (number 147). Expected results are computed from the CSV rows, with the
// documented matching rules, and compared with every page of the search.
#include "connectors/kbo/kbo_search.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/rich_status.h"
#include "connectors/kbo/csv_reader.h"
#include "connectors/kbo/kbo_connector.h"
#include "connectors/kbo/kbo_import.h"
#include "connectors/kbo/kbo_schema.h"
#include "connectors/kbo/kbo_store.h"
#include "connectors/kbo/testing/csv_rows.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

namespace fs = std::filesystem;
namespace v1 = registry::v1;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using Numbers = std::set<std::string>;

const std::string kExtract = ONCEONLY_KBO_EXTRACT;

// Every record of a file of the real extract, header excluded.
std::vector<std::vector<std::string>> ReadCsv(const std::string& file) {
  return CsvRows(kExtract + "/" + file);
}

// Words of a name as the search sees them: lower case, the accents of the letters these files
// use removed, anything but letters and digits separating words.
std::vector<std::string> Words(const std::string& text) {
  static const std::map<std::string, char> kFolded = {
      {"à", 'a'}, {"á", 'a'}, {"â", 'a'}, {"ä", 'a'}, {"ç", 'c'}, {"è", 'e'}, {"é", 'e'},
      {"ê", 'e'}, {"ë", 'e'}, {"î", 'i'}, {"ï", 'i'}, {"ô", 'o'}, {"ö", 'o'}, {"ù", 'u'},
      {"û", 'u'}, {"ü", 'u'}, {"É", 'e'}, {"È", 'e'}, {"Ç", 'c'}, {"Ë", 'e'}};
  std::vector<std::string> words(1);
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (absl::ascii_isalnum(c)) {
        words.back() += absl::ascii_tolower(c);
      } else if (!words.back().empty()) {
        words.emplace_back();
      }
      ++i;
      continue;
    }
    size_t size = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    auto folded = kFolded.find(text.substr(i, size));
    EXPECT_NE(folded, kFolded.end())
        << "test cannot fold " << text.substr(i, size) << " in " << text;
    if (folded != kFolded.end()) words.back() += folded->second;
    i += size;
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

// What the extract says about each enterprise KBO holds, through its units too.
struct Expected {
  Numbers enterprises;
  std::map<std::string, std::string> owner;  // entity number -> enterprise number
  std::map<std::string, std::set<std::string>> words, postcodes, naces, forms;

  Expected() {
    for (auto& row : ReadCsv("enterprise_insert.csv")) {
      enterprises.insert(row[0]);
      owner[row[0]] = row[0];
      for (int column : {4, 5}) {
        if (!row[column].empty()) forms[row[0]].insert(row[column]);
      }
    }
    for (auto& row : ReadCsv("establishment_insert.csv")) owner[row[0]] = row[2];
    for (auto& row : ReadCsv("branch_insert.csv")) owner[row[0]] = row[2];
    auto owned = [&](const std::string& entity) -> const std::string* {
      auto it = owner.find(entity);
      if (it == owner.end() || enterprises.count(it->second) == 0) return nullptr;
      return &it->second;
    };
    for (auto& row : ReadCsv("denomination_insert.csv")) {
      if (const std::string* e = owned(row[0])) {
        for (const std::string& word : Words(row[3])) words[*e].insert(word);
      }
    }
    for (auto& row : ReadCsv("address_insert.csv")) {
      if (const std::string* e = owned(row[0])) postcodes[*e].insert(row[4]);
    }
    for (auto& row : ReadCsv("activity_insert.csv")) {
      if (const std::string* e = owned(row[0])) naces[*e].insert(row[3]);
    }
  }

  // Enterprises whose names hold every word of `query`, the last one as a prefix.
  Numbers ByName(const std::string& query) const {
    std::vector<std::string> asked = Words(query);
    Numbers out;
    for (const std::string& e : enterprises) {
      auto it = words.find(e);
      if (it == words.end()) continue;
      bool all = true;
      for (size_t i = 0; i < asked.size() && all; ++i) {
        bool last = i + 1 == asked.size();
        all = std::any_of(it->second.begin(), it->second.end(), [&](const std::string& w) {
          return last ? absl::StartsWith(w, asked[i]) : w == asked[i];
        });
      }
      if (all) out.insert(e);
    }
    return out;
  }
  static Numbers With(const std::map<std::string, std::set<std::string>>& values,
                      const std::string& value) {
    Numbers out;
    for (const auto& [e, set] : values) {
      if (set.count(value)) out.insert(e);
    }
    return out;
  }
};

Numbers Intersect(const Numbers& a, const Numbers& b) {
  Numbers out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

v1::SearchEnterprisesRequest Request(const std::string& name, const std::string& postcode = "",
                                     const std::string& nace = "", const std::string& form = "") {
  v1::SearchEnterprisesRequest request;
  request.set_name(name);
  request.set_postcode(postcode);
  request.set_nace_code(nace);
  request.set_juridical_form(form);
  return request;
}

// Every page of a search: numbers in increasing order, none twice.
Numbers SearchAll(KboStore& store, v1::SearchEnterprisesRequest request, int page_size = 3) {
  request.set_page_size(page_size);
  Numbers out;
  std::string last;
  for (int page = 0; page < 1000; ++page) {
    absl::StatusOr<v1::SearchEnterprisesResponse> response = store.SearchEnterprises(request);
    EXPECT_TRUE(response.ok()) << response.status() << " for " << request.ShortDebugString();
    if (!response.ok()) break;
    EXPECT_LE(response->matches_size(), page_size);
    for (const v1::EnterpriseSummary& match : response->matches()) {
      EXPECT_GT(match.enterprise_number(), last) << "out of order or repeated";
      last = match.enterprise_number();
      out.insert(match.enterprise_number());
    }
    if (response->next_page_token().empty()) return out;
    request.set_page_token(response->next_page_token());
  }
  ADD_FAILURE() << "no last page";
  return out;
}

std::string BadField(const absl::Status& status) {
  auto payload = status.GetPayload(kBadRequestTypeUrl);
  google::rpc::BadRequest bad;
  if (!payload || !bad.ParseFromString(std::string(*payload)) || bad.field_violations_size() != 1) {
    return "<no single field violation>";
  }
  return bad.field_violations(0).field();
}

std::string TempPath(absl::string_view name) {
  return absl::StrCat(::testing::TempDir(), "/kbo_search_", name, "_", getpid(), ".db");
}

void RemoveDb(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);
}

// The real update imported into an empty database: the importer indexes every enterprise
// the update touched, here all of them.
absl::Status ImportAndIndex(const std::string& db_path) {
  RemoveDb(db_path);
  return ImportKboExtract(kExtract, db_path, [](absl::string_view) {}).status();
}

class SearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_path_ = new std::string(TempPath("real"));
    expected_ = new Expected;
    absl::Status imported = ImportAndIndex(*db_path_);
    ASSERT_TRUE(imported.ok()) << imported;
    absl::StatusOr<std::unique_ptr<KboStore>> store = KboStore::Open(*db_path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = store->release();
  }
  static void TearDownTestSuite() {
    delete store_;
    RemoveDb(*db_path_);
  }

  static Numbers Search(const v1::SearchEnterprisesRequest& request, int page_size = 3) {
    return SearchAll(*store_, request, page_size);
  }
  static absl::Status Refusal(const v1::SearchEnterprisesRequest& request) {
    return store_->SearchEnterprises(request).status();
  }

  static std::string* db_path_;
  static Expected* expected_;
  static KboStore* store_;
};
std::string* SearchTest::db_path_;
Expected* SearchTest::expected_;
KboStore* SearchTest::store_;

TEST_F(SearchTest, NamePrefixIgnoresCaseAndAccents) {
  ASSERT_TRUE(expected_->enterprises.count("0552.627.113"));  // "Callebaut, Brenda"
  for (const char* query : {"callebaut", "CALLEB", "Calléb", "c", "cal"}) {
    EXPECT_EQ(Search(Request(query)), expected_->ByName(query)) << query;
    EXPECT_TRUE(Search(Request(query)).count("0552.627.113")) << query;
  }
  // "Prégaldien, Olivier", whose unit is "Prégaldien Olivier" too.
  for (const char* query : {"Prégaldien", "PREGALDIEN", "pregal", "PRÉGAL", "prégaldien olivier",
                            "Olivier, Prégaldien"}) {
    EXPECT_EQ(Search(Request(query)), Numbers{"1028.997.675"}) << query;
  }
  EXPECT_THAT(Search(Request("callebauts")), IsEmpty());
}

TEST_F(SearchTest, EveryNameWordAndItsPrefixesAgreeWithTheCsv) {
  std::set<std::string> queries;
  for (const auto& [e, words] : expected_->words) {
    for (const std::string& w : words) {
      for (size_t n : {size_t{1}, size_t{2}, size_t{3}, w.size()}) queries.insert(w.substr(0, n));
    }
    // Two words: the first whole, the second's start.
    if (words.size() >= 2) {
      queries.insert(absl::StrCat(*words.begin(), " ", words.rbegin()->substr(0, 2)));
    }
  }
  ASSERT_GT(queries.size(), 100u);
  for (const std::string& query : queries) {
    Numbers expected = expected_->ByName(query);
    EXPECT_FALSE(expected.empty()) << query;
    EXPECT_EQ(Search(Request(query), 5), expected) << query;
  }
}

TEST_F(SearchTest, SeveralWordsMustAllMatchInAnyOrder) {
  EXPECT_EQ(Search(Request("van nimmen")), Numbers{"1028.656.690"});
  EXPECT_EQ(Search(Request("Nimmen, Van")), Numbers{"1028.656.690"});
  EXPECT_EQ(Search(Request("de gro")), Numbers{"0660.962.750"});
  EXPECT_EQ(Search(Request("de")), expected_->ByName("de"));
  EXPECT_THAT(Search(Request("nimmen callebaut")), IsEmpty());
  // "van" must be a whole word when it is not the last one.
  EXPECT_THAT(Search(Request("va nimmen")), IsEmpty());
}

TEST_F(SearchTest, NamesOfUnitsFindTheirEnterprise) {
  // "Lifewithfebe" names unit 2.379.151.365 of 1028.880.582 ("Vantongerloo, Febe").
  EXPECT_EQ(Search(Request("lifewith")), Numbers{"1028.880.582"});
  // "Thuiszorg Jessica" is the unit of "De Craeye, Jessica".
  EXPECT_EQ(Search(Request("thuiszorg")), Numbers{"0793.929.063"});
  // "Farrauto's" names a unit of 0859.001.118, which this extract does not hold.
  EXPECT_THAT(Search(Request("farrauto")), IsEmpty());
  // Abbreviations are names too: "BNA" of "BOSOLO NA ASSE".
  EXPECT_EQ(Search(Request("bna")), Numbers{"1029.028.458"});
}

TEST_F(SearchTest, ByEveryPostcodeOfTheCsv) {
  std::set<std::string> postcodes;
  for (const auto& [e, set] : expected_->postcodes) postcodes.insert(set.begin(), set.end());
  ASSERT_GT(postcodes.size(), 10u);
  for (const std::string& postcode : postcodes) {
    EXPECT_EQ(Search(Request("", postcode)), Expected::With(expected_->postcodes, postcode))
        << postcode;
  }
  // The seat of Cap Horizons; the unit of Callebaut (a natural person has no published seat).
  EXPECT_EQ(Search(Request("", "1080")), Numbers{"1029.028.161"});
  EXPECT_EQ(Search(Request("", "9690")), Numbers{"0552.627.113"});
  EXPECT_THAT(Search(Request("", "1000")), IsEmpty());
}

TEST_F(SearchTest, ByEveryNaceCodeOfTheCsv) {
  std::set<std::string> codes;
  for (const auto& [e, set] : expected_->naces) codes.insert(set.begin(), set.end());
  ASSERT_GT(codes.size(), 10u);
  for (const std::string& code : codes) {
    EXPECT_EQ(Search(Request("", "", code)), Expected::With(expected_->naces, code)) << code;
  }
  // Dots as in "56.101" are allowed.
  const std::string some = *codes.begin();
  EXPECT_EQ(Search(Request("", "", some.substr(0, 2) + "." + some.substr(2))),
            Expected::With(expected_->naces, some));
}

TEST_F(SearchTest, ByJuridicalForm) {
  for (const char* form : {"610", "612", "017"}) {
    Numbers expected = Expected::With(expected_->forms, form);
    EXPECT_FALSE(expected.empty()) << form;
    EXPECT_EQ(Search(Request("", "", "", form)), expected) << form;
  }
  EXPECT_THAT(Search(Request("", "", "", "014")), IsEmpty());
}

TEST_F(SearchTest, CombinedCriteriaAllApply) {
  EXPECT_EQ(Search(Request("callebaut", "9690")), Numbers{"0552.627.113"});
  EXPECT_THAT(Search(Request("callebaut", "1080")), IsEmpty());
  EXPECT_EQ(Search(Request("cap", "1080", "", "017")), Numbers{"1029.028.161"});
  EXPECT_THAT(Search(Request("cap", "1080", "", "610")), IsEmpty());
  // Every pair of (form, postcode) and (name start, NACE code) of the data.
  for (const auto& [e, forms] : expected_->forms) {
    for (const std::string& form : forms) {
      for (const std::string& postcode : expected_->postcodes[e]) {
        EXPECT_EQ(Search(Request("", postcode, "", form)),
                  Intersect(Expected::With(expected_->forms, form),
                            Expected::With(expected_->postcodes, postcode)))
            << form << " " << postcode;
      }
    }
  }
  for (const auto& [e, codes] : expected_->naces) {
    if (expected_->words[e].empty()) continue;
    const std::string start = expected_->words[e].begin()->substr(0, 1);
    for (const std::string& code : codes) {
      EXPECT_EQ(Search(Request(start, "", code)),
                Intersect(expected_->ByName(start), Expected::With(expected_->naces, code)))
          << start << " " << code;
    }
  }
}

TEST_F(SearchTest, PagesCoverEveryMatchOnceWhateverTheirSize) {
  const Numbers all = expected_->ByName("v");  // Vets, Van Nimmen, Vandereviere, ...
  ASSERT_GE(all.size(), 4u);
  for (int page_size : {1, 2, 3, 100}) {
    EXPECT_EQ(Search(Request("v"), page_size), all) << page_size;
  }
  // Exactly one page: no token, no empty page after it.
  v1::SearchEnterprisesRequest request = Request("v");
  request.set_page_size(static_cast<int>(all.size()));
  absl::StatusOr<v1::SearchEnterprisesResponse> page = store_->SearchEnterprises(request);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->matches(), SizeIs(all.size()));
  EXPECT_EQ(page->next_page_token(), "");
  // Default page size 20.
  absl::StatusOr<v1::SearchEnterprisesResponse> forms =
      store_->SearchEnterprises(Request("", "", "", "610"));
  ASSERT_TRUE(forms.ok());
  EXPECT_LE(forms->matches_size(), 20);
}

TEST_F(SearchTest, SummaryCarriesNameFormSeatAndType) {
  v1::SearchEnterprisesRequest request = Request("cap horizons");
  absl::StatusOr<v1::SearchEnterprisesResponse> fr = store_->SearchEnterprises(request);
  ASSERT_TRUE(fr.ok()) << fr.status();
  ASSERT_THAT(fr->matches(), SizeIs(1));
  const v1::EnterpriseSummary& cap = fr->matches(0);
  EXPECT_EQ(cap.enterprise_number(), "1029.028.161");
  EXPECT_EQ(cap.name(), "Cap Horizons ASBL");
  EXPECT_EQ(cap.juridical_form().code(), "017");
  EXPECT_EQ(cap.juridical_form().description(), "Association sans but lucratif");
  EXPECT_EQ(cap.type_of_enterprise().code(), "2");
  EXPECT_EQ(cap.postcode(), "1080");
  EXPECT_EQ(cap.municipality(), "Molenbeek-Saint-Jean");
  request.set_language("nl");
  absl::StatusOr<v1::SearchEnterprisesResponse> nl = store_->SearchEnterprises(request);
  ASSERT_TRUE(nl.ok()) << nl.status();
  EXPECT_EQ(nl->matches(0).municipality(), "Sint-Jans-Molenbeek");
  EXPECT_EQ(nl->matches(0).juridical_form().description(), "Vereniging zonder winstoogmerk");

  // A name (001) before an abbreviation (002); a natural person: no seat, no form.
  absl::StatusOr<v1::SearchEnterprisesResponse> otman = store_->SearchEnterprises(Request("otman"));
  ASSERT_TRUE(otman.ok());
  ASSERT_THAT(otman->matches(), SizeIs(1));
  EXPECT_EQ(otman->matches(0).name(), "Otman CommV");
  absl::StatusOr<v1::SearchEnterprisesResponse> brenda =
      store_->SearchEnterprises(Request("callebaut"));
  ASSERT_TRUE(brenda.ok());
  ASSERT_THAT(brenda->matches(), SizeIs(1));
  EXPECT_EQ(brenda->matches(0).name(), "Callebaut, Brenda");
  EXPECT_EQ(brenda->matches(0).type_of_enterprise().code(), "1");
  EXPECT_EQ(brenda->matches(0).juridical_form().code(), "");
  EXPECT_EQ(brenda->matches(0).postcode(), "");
}

TEST_F(SearchTest, NothingFoundIsAnEmptyLastPage) {
  absl::StatusOr<v1::SearchEnterprisesResponse> none =
      store_->SearchEnterprises(Request("zzyzx qwv"));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(none->matches(), IsEmpty());
  EXPECT_EQ(none->next_page_token(), "");
}

TEST_F(SearchTest, BadInputIsRefusedNamingTheField) {
  struct Case {
    v1::SearchEnterprisesRequest request;
    std::string field;
    std::string reason;
  };
  auto with = [](v1::SearchEnterprisesRequest r, auto change) {
    change(r);
    return r;
  };
  std::vector<Case> cases = {
      {Request(""), "name", "SEARCH_CRITERIA_REQUIRED"},
      {Request("   "), "name", "SEARCH_CRITERIA_REQUIRED"},
      {Request("– …"), "name", "INVALID_NAME"},
      {Request(std::string(201, 'a')), "name", "NAME_TOO_LONG"},
      {Request("a b c d e f g h i j k"), "name", "NAME_TOO_LONG"},
      {Request("", "108"), "postcode", "INVALID_POSTCODE"},
      {Request("", "10800"), "postcode", "INVALID_POSTCODE"},
      {Request("", "abcd"), "postcode", "INVALID_POSTCODE"},
      {Request("", "0999"), "postcode", "INVALID_POSTCODE"},
      // Not UTF-8: the message must still be (it travels in a protobuf string).
      {Request("", "10\xc3"), "postcode", "INVALID_POSTCODE"},
      {Request("", "", "5610"), "nace_code", "INVALID_NACE_CODE"},
      {Request("", "", "5610a"), "nace_code", "INVALID_NACE_CODE"},
      {Request("", "", "99999"), "nace_code", "UNKNOWN_NACE_CODE"},
      {Request("", "", "", "17"), "juridical_form", "INVALID_JURIDICAL_FORM"},
      {Request("", "", "", "004"), "juridical_form", "UNKNOWN_JURIDICAL_FORM"},
      {with(Request("cap"), [](auto& r) { r.set_language("it"); }), "language", "INVALID_LANGUAGE"},
      {with(Request("cap"), [](auto& r) { r.set_page_size(-1); }), "page_size",
       "INVALID_PAGE_SIZE"},
      {with(Request("cap"), [](auto& r) { r.set_page_size(101); }), "page_size",
       "INVALID_PAGE_SIZE"},
      {with(Request("cap"), [](auto& r) { r.set_page_token("not a token"); }), "page_token",
       "INVALID_PAGE_TOKEN"},
      {with(Request("cap"), [](auto& r) { r.set_page_token("czE6MTIzOjA"); }), "page_token",
       "INVALID_PAGE_TOKEN"},
  };
  for (const Case& c : cases) {
    absl::Status status = Refusal(c.request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.request.ShortDebugString();
    EXPECT_EQ(ErrorReason(status), c.reason) << status;
    EXPECT_EQ(BadField(status), c.field) << status;
    EXPECT_FALSE(status.message().empty());
  }
}

TEST_F(SearchTest, APageTokenServesOnlyItsOwnCriteria) {
  v1::SearchEnterprisesRequest request = Request("d");
  request.set_page_size(1);
  absl::StatusOr<v1::SearchEnterprisesResponse> first = store_->SearchEnterprises(request);
  ASSERT_TRUE(first.ok());
  ASSERT_NE(first->next_page_token(), "");
  // Another page size or language may follow; other criteria may not.
  request.set_page_token(first->next_page_token());
  request.set_page_size(2);
  request.set_language("nl");
  EXPECT_TRUE(store_->SearchEnterprises(request).ok());
  request.set_name("de");
  absl::Status other = Refusal(request);
  EXPECT_EQ(other.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(other), "INVALID_PAGE_TOKEN");
  EXPECT_THAT(std::string(other.message()), ::testing::HasSubstr("other criteria"));
  // Case and accents do not make another search.
  request.set_name("D");
  EXPECT_TRUE(store_->SearchEnterprises(request).ok());
}

TEST_F(SearchTest, ConnectorSearchesThroughTheStore) {
  absl::StatusOr<std::unique_ptr<KboConnector>> connector = KboConnector::Create(*db_path_);
  ASSERT_TRUE(connector.ok()) << connector.status();
  EnterpriseSearch* search = (*connector)->enterprise_search();
  ASSERT_NE(search, nullptr);
  absl::StatusOr<v1::SearchEnterprisesResponse> page =
      search->SearchEnterprises(Request("callebaut"), absl::InfiniteFuture());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(page->matches(), SizeIs(1));
  absl::StatusOr<v1::SearchEnterprisesResponse> late =
      search->SearchEnterprises(Request("callebaut"), absl::Now() - absl::Seconds(1));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
}

// A writer connection on a private copy of the imported database.
class UpdateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_path_ = TempPath(::testing::UnitTest::GetInstance()->current_test_info()->name());
    absl::Status imported = ImportAndIndex(db_path_);
    ASSERT_TRUE(imported.ok()) << imported;
    absl::StatusOr<std::unique_ptr<SqliteDb>> db =
        SqliteDb::Open(db_path_, SqliteDb::Mode::kReadWrite);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    absl::StatusOr<std::unique_ptr<KboStore>> store = KboStore::Open(db_path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    RemoveDb(db_path_);
  }

  // An update as the importer applies it: every delete, then every insert.
  absl::Status ApplyChanges() {
    return db_->Exec(R"sql(
      -- Callebaut's only unit (Kluisbergen, 9690) closes.
      DELETE FROM establishment WHERE establishment_number = '2.379.318.146';
      DELETE FROM address WHERE entity_number = '2.379.318.146';
      -- Unit "Lifewithfebe" loses its name.
      DELETE FROM denomination WHERE entity_number = '2.379.151.365';
      -- "De Groote, Vicky" leaves KBO.
      DELETE FROM enterprise WHERE enterprise_number = '0660.962.750';
      DELETE FROM denomination WHERE entity_number = '0660.962.750';
      -- Ferrarelli's unit in Mons (7021) passes to Cap Horizons.
      DELETE FROM establishment WHERE establishment_number = '2.379.318.641';
      -- STRIC changes its juridical form.
      DELETE FROM enterprise WHERE enterprise_number = '1029.025.290';

      INSERT INTO establishment VALUES ('2.379.318.641', '2025-10-09', '1029.028.161');
      INSERT INTO enterprise VALUES ('1029.025.290', 'AC', '000', '2', '017', '', '2025-10-11');
      INSERT INTO denomination VALUES ('1029.028.161', '1', '003', 'Horizon Éclair');
    )sql");
  }

  Numbers Search(const v1::SearchEnterprisesRequest& request) {
    return SearchAll(*store_, request);
  }

  // Searches whose answers any change above would alter.
  std::vector<Numbers> Answers() {
    std::vector<Numbers> out;
    for (const char* name :
         {"callebaut", "lifewith", "de", "ferrarelli", "horizon", "eclair", "cap", "v", "stric"}) {
      out.push_back(Search(Request(name)));
    }
    for (const char* postcode : {"9690", "7021", "1080", "8340", "2240"}) {
      out.push_back(Search(Request("", postcode)));
    }
    for (const char* form : {"017", "610"}) out.push_back(Search(Request("", "", "", form)));
    return out;
  }

  std::string db_path_;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<KboStore> store_;
};

TEST_F(UpdateTest, TrackedRefreshEqualsAFullRebuild) {
  ASSERT_TRUE(db_->Exec("BEGIN IMMEDIATE").ok());
  ASSERT_TRUE(TrackKboSearchChanges(*db_).ok());
  ASSERT_TRUE(ApplyChanges().ok());
  absl::StatusOr<int64_t> refreshed = RefreshTrackedKboSearch(*db_);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  // 0552.627.113, 1028.880.582, 0660.962.750, 1028.623.731, 1029.028.161, 1029.025.290.
  EXPECT_EQ(*refreshed, 6);
  ASSERT_TRUE(db_->Exec("COMMIT").ok());

  EXPECT_THAT(Search(Request("callebaut", "9690")), IsEmpty());
  EXPECT_EQ(Search(Request("callebaut")), Numbers{"0552.627.113"});
  EXPECT_THAT(Search(Request("lifewith")), IsEmpty());
  EXPECT_THAT(Search(Request("de gro")), IsEmpty());
  EXPECT_EQ(Search(Request("", "7021")), Numbers{"1029.028.161"});
  // The unit's name went with it.
  EXPECT_EQ(Search(Request("ferrarelli")), (Numbers{"1028.623.731", "1029.028.161"}));
  EXPECT_EQ(Search(Request("ÉCLAIR horiz")), Numbers{"1029.028.161"});
  EXPECT_TRUE(Search(Request("", "", "", "017")).count("1029.025.290"));
  EXPECT_FALSE(Search(Request("", "", "", "610")).count("1029.025.290"));

  const std::vector<Numbers> refreshed_answers = Answers();
  ASSERT_TRUE(db_->InTransaction([&] { return RebuildKboSearchIndex(*db_); }).ok());
  EXPECT_EQ(Answers(), refreshed_answers);
  // Tracking stopped: later writes are not noted (the temp table is gone).
  EXPECT_TRUE(db_->Exec("DELETE FROM denomination WHERE entity_number = '1029.028.161'").ok());
  EXPECT_FALSE(RefreshTrackedKboSearch(*db_).ok());
}

TEST_F(UpdateTest, ARolledBackUpdateLeavesTheIndexAsItWas) {
  const std::vector<Numbers> before = Answers();
  ASSERT_TRUE(db_->Exec("BEGIN IMMEDIATE").ok());
  ASSERT_TRUE(TrackKboSearchChanges(*db_).ok());
  ASSERT_TRUE(ApplyChanges().ok());
  ASSERT_TRUE(RefreshTrackedKboSearch(*db_).ok());
  ASSERT_TRUE(db_->Exec("ROLLBACK").ok());
  EXPECT_EQ(Answers(), before);
  EXPECT_FALSE(RefreshTrackedKboSearch(*db_).ok()) << "tracking was rolled back too";
}

TEST_F(UpdateTest, RefreshByNumber) {
  ASSERT_TRUE(
      db_->Exec("INSERT INTO denomination VALUES ('1029.028.161', '2', '003', 'Zeevonk')").ok());
  EXPECT_THAT(Search(Request("zeevonk")), IsEmpty());  // not indexed yet
  ASSERT_TRUE(db_->InTransaction([&] {
                   return RefreshKboSearchIndex(*db_, {"1029.028.161", "0403.170.701"});
                 })
                  .ok());
  EXPECT_EQ(Search(Request("zeevonk")), Numbers{"1029.028.161"});
  EXPECT_EQ(Search(Request("cap horizons")), Numbers{"1029.028.161"});
  absl::Status bad = RefreshKboSearchIndex(*db_, {"1029028161"});
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(UpdateTest, ADatabaseWithoutTheIndexStillServesEnterprises) {
  ASSERT_TRUE(db_->Exec("DROP TABLE kbo_search").ok());
  absl::StatusOr<std::unique_ptr<KboStore>> store = KboStore::Open(db_path_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->GetEnterprise("1029.028.161", "fr").ok());
  absl::Status search = (*store)->SearchEnterprises(Request("cap")).status();
  EXPECT_EQ(search.code(), absl::StatusCode::kFailedPrecondition) << search;
  EXPECT_THAT(std::string(search.message()), ::testing::HasSubstr("import a full extract"));
}

// A NACE code checks enterprises one by one, so a call stops after 10,000 of them (or 50 ms):
// a page may come back short, or empty, with a token to go on.
TEST(SearchBudgetTest, RareNaceCodesComeInShortPagesThatCoverEverything) {
  const std::string path = TempPath("budget");
  RemoveDb(path);
  {
    absl::StatusOr<std::unique_ptr<SqliteDb>> db =
        SqliteDb::Open(path, SqliteDb::Mode::kReadWriteCreate);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)
                    ->InTransaction([&]() -> absl::Status {
                      absl::Status s = CreateKboSchema(**db);
                      if (!s.ok()) return s;
                      s = (*db)->Exec(
                          "INSERT INTO code VALUES ('Nace2008', '56101', 'fr', 'Restauration'),"
                          "('TypeOfEnterprise', '2', 'fr', 'Personne morale')");
                      if (!s.ok()) return s;
                      absl::StatusOr<SqliteStatement> insert = (*db)->Prepare(
                          "INSERT INTO enterprise VALUES (?1, 'AC', '000', '2', '', '', "
                          "'2020-01-01')");
                      if (!insert.ok()) return insert.status();
                      for (int i = 1; i <= 25000; ++i) {
                        s = insert
                                ->Bind(1, kbo_search_internal::EnterpriseNumberOfKey(200000000 + i))
                                .Run();
                        if (!s.ok()) return s;
                      }
                      // Two restaurants far apart: one itself, one through its unit.
                      return (*db)->Exec(
                          "INSERT INTO activity_run VALUES ('0200.000.003', 1, "
                          "'001' || char(31) || '2008' || char(31) || '56101' || char(31) || "
                          "'MAIN' || char(30)), ('2.000.000.001', 1, '001' || char(31) || "
                          "'2008' || char(31) || '56101' || char(31) || 'MAIN' || char(30));"
                          "INSERT INTO establishment VALUES ('2.000.000.001', '2020-01-01', "
                          "'0200.024.999');");
                    })
                    .ok());
  }
  absl::StatusOr<std::unique_ptr<KboStore>> store = KboStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  v1::SearchEnterprisesRequest request = Request("", "", "56101");
  std::vector<int> page_sizes;
  Numbers found;
  for (int call = 0; call < 100; ++call) {
    absl::StatusOr<v1::SearchEnterprisesResponse> page = (*store)->SearchEnterprises(request);
    ASSERT_TRUE(page.ok()) << page.status();
    page_sizes.push_back(page->matches_size());
    for (const auto& m : page->matches()) found.insert(m.enterprise_number());
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  // 25,000 enterprises, at most 10,000 a call (fewer if a call runs out of time): the first
  // match, then a stretch with none, then the second.
  ASSERT_GE(page_sizes.size(), 3u);
  EXPECT_EQ(page_sizes.front(), 1);
  EXPECT_EQ(page_sizes.back(), 1);
  EXPECT_THAT(page_sizes, ::testing::Contains(0));
  EXPECT_EQ(found, (Numbers{"0200.000.003", "0200.024.999"}));
  store->reset();
  RemoveDb(path);
}

}  // namespace
}  // namespace onceonly
