#include "gateway/dossier_wire.h"

#include <string>
#include <vector>

#include "common/testing/fill_every_field.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

std::string Deterministic(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// A dossier with every field set but access_id (numbered only once logged).
v1::Dossier FullDossier() {
  v1::Dossier dossier;
  FillEveryField(&dossier, 4);
  dossier.clear_access_id();
  return dossier;
}

TEST(FieldWireTest, TheFieldsTogetherAreTheMessage) {
  const v1::Dossier dossier = FullDossier();
  const FieldWire wire = FieldWire::Of(dossier.company());
  std::string joined;
  int last_number = 0;
  for (const auto& [index, bytes] : wire.fields()) {
    const int number = registry::v1::Enterprise::descriptor()->field(index)->number();
    EXPECT_GT(number, last_number) << "fields out of number order";
    last_number = number;
    joined += bytes;
  }
  EXPECT_EQ(wire.fields().size(),
            static_cast<size_t>(registry::v1::Enterprise::descriptor()->field_count()));
  EXPECT_EQ(joined, Deterministic(dossier.company()));
  EXPECT_EQ(wire.bytes(), static_cast<int64_t>(joined.size()));
}

TEST(FieldWireTest, UnsetFieldsHaveNoEncoding) {
  registry::v1::Enterprise sparse;
  sparse.set_enterprise_number("0403.170.701");
  sparse.add_contacts()->set_value("info@example.be");
  const FieldWire wire = FieldWire::Of(sparse);
  ASSERT_EQ(wire.fields().size(), 2u);
  EXPECT_EQ(wire.fields()[0].second + wire.fields()[1].second, Deterministic(sparse));
}

// A company spliced from the cache's field encodings must give the very bytes of the dossier
// with the company copied in and minimised, for every set of categories: the hash in the log
// covers what the caller can re-serialize from what it received.
TEST(SerializeDossierTest, ASplicedCompanyIsByteForByteTheMinimisedCopy) {
  for (bool sparse : {false, true}) {
    v1::Dossier full = FullDossier();
    if (sparse) {  // a company with only some fields, some of them kept by no category set
      registry::v1::Enterprise company;
      company.set_start_date("2001-01-01");
      company.add_contacts()->set_value("info@example.be");
      *full.mutable_company() = company;
    }
    const FieldWire company = FieldWire::Of(full.company());
    v1::Dossier without_company = full;
    without_company.clear_company();
    const std::vector<DataCategory>& all = AllDataCategories();
    for (uint32_t subset = 0; subset < (1u << all.size()); ++subset) {
      std::vector<std::string> released;
      for (size_t i = 0; i < all.size(); ++i) {
        if (subset & (1u << i)) released.push_back(all[i].name);
      }
      const KeptDossierFields kept = DossierFieldsKept(released);
      v1::Dossier copied = full;
      TrimDossier(kept, &copied);
      v1::Dossier rest = without_company;
      TrimDossier(kept, &rest);
      const std::string expected = Deterministic(copied);
      EXPECT_EQ(SerializeDossier(rest, &company, kept), expected)
          << (sparse ? "sparse " : "") << "categories " << ::testing::PrintToString(released);
      EXPECT_EQ(SerializeDossier(copied, nullptr, kept), expected)
          << "without a cached company, categories " << ::testing::PrintToString(released);
    }
  }
}

TEST(SerializeDossierTest, NoEnterpriseNumberPutsTheCompanyFirst) {
  v1::Dossier full = FullDossier();
  full.clear_enterprise_number();
  const FieldWire company = FieldWire::Of(full.company());
  v1::Dossier rest = full;
  rest.clear_company();
  const KeptDossierFields kept = DossierFieldsKept({"company.contacts"});
  TrimDossier(kept, &full);
  TrimDossier(kept, &rest);
  EXPECT_EQ(SerializeDossier(rest, &company, kept), Deterministic(full));
}

TEST(SerializeDossierTest, ADossierWithItsOwnCompanyIgnoresACachedOne) {
  v1::Dossier dossier = FullDossier();
  registry::v1::Enterprise other;
  other.set_enterprise_number("0403.170.701");
  const FieldWire cached = FieldWire::Of(other);
  const KeptDossierFields kept = DossierFieldsKept({"company.identity"});
  TrimDossier(kept, &dossier);
  EXPECT_EQ(SerializeDossier(dossier, &cached, kept), Deterministic(dossier));
}

TEST(AppendAccessIdTest, TheCallerParsesTheIdAndTheSameDossier) {
  const v1::Dossier dossier = FullDossier();
  for (uint64_t id : {uint64_t{0}, uint64_t{1}, uint64_t{300}, uint64_t{1} << 40}) {
    std::string wire = SerializeDossier(dossier, nullptr, DossierFieldsKept({}));
    AppendAccessId(id, &wire);
    v1::Dossier parsed;
    ASSERT_TRUE(parsed.ParseFromString(wire));
    ASSERT_TRUE(parsed.has_access_id()) << id;
    EXPECT_EQ(parsed.access_id(), id);
    parsed.clear_access_id();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, dossier)) << id;
  }
}

}  // namespace
}  // namespace onceonly
