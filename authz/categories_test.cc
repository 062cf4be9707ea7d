#include "authz/categories.h"

#include <string>
#include <vector>

#include "common/testing/fill_every_field.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

// MinimiseDossier trims with descriptors resolved once; it must keep exactly what the
// field-mask trim of the categories' paths keeps, for every set of categories.
TEST(MinimiseDossierTest, KeepsWhatTheCategoriesFieldMaskKeepsForEverySetOfCategories) {
  v1::Dossier full;
  FillEveryField(&full, 4);
  ASSERT_GT(full.company().establishments_size(), 0);
  ASSERT_TRUE(full.tax().has_details());
  const std::vector<DataCategory>& all = AllDataCategories();
  ASSERT_LE(all.size(), 16u);
  for (uint32_t subset = 0; subset < (1u << all.size()); ++subset) {
    std::vector<std::string> released;
    google::protobuf::FieldMask mask;
    for (const char* always : {"enterprise_number", "sources", "access_id", "purpose",
                               "released_categories", "grant_id"}) {
      mask.add_paths(always);
    }
    for (size_t i = 0; i < all.size(); ++i) {
      if ((subset & (1u << i)) == 0) continue;
      released.push_back(all[i].name);
      for (const std::string& path : all[i].dossier_paths) mask.add_paths(path);
    }
    v1::Dossier expected = full, minimised = full;
    google::protobuf::util::FieldMaskUtil::TrimMessage(mask, &expected);
    MinimiseDossier(released, &minimised);
    std::string difference;
    google::protobuf::util::MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&difference);
    EXPECT_TRUE(differencer.Compare(expected, minimised))
        << "categories " << ::testing::PrintToString(released) << ": " << difference;
  }
}

TEST(MinimiseDossierTest, NothingReleasedLeavesOnlyProvenance) {
  v1::Dossier dossier;
  FillEveryField(&dossier, 4);
  MinimiseDossier({}, &dossier);
  EXPECT_FALSE(dossier.has_company());
  EXPECT_FALSE(dossier.has_permits());
  EXPECT_FALSE(dossier.has_tax());
  EXPECT_EQ(dossier.enterprise_number(), "v");
  EXPECT_EQ(dossier.sources_size(), 2);
}

TEST(CompanyFieldsForTest, NamesTheEnterpriseFieldsOfTheCompanyCategoriesOnly) {
  EXPECT_EQ(CompanyFieldsFor({"company.addresses", "tax.good_standing", "company.establishments"}),
            (std::vector<std::string>{"addresses", "establishments", "branches"}));
  EXPECT_TRUE(CompanyFieldsFor({"permits.urbanism"}).empty());
}

}  // namespace
}  // namespace onceonly
