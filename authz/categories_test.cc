#include "authz/categories.h"

#include <string>
#include <vector>

#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Sets every field of `message`, down to `depth` levels of messages, two of each repeated one.
void FillEveryField(Message* message, int depth) {
  const google::protobuf::Descriptor* d = message->GetDescriptor();
  const google::protobuf::Reflection* r = message->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    for (int n = 0; n < (f->is_repeated() ? 2 : 1); ++n) {
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_MESSAGE:
          if (depth > 0) {
            FillEveryField(f->is_repeated() ? r->AddMessage(message, f) : r->MutableMessage(message, f),
                           depth - 1);
          }
          break;
        case FieldDescriptor::CPPTYPE_STRING:
          f->is_repeated() ? r->AddString(message, f, "v") : r->SetString(message, f, "v");
          break;
        case FieldDescriptor::CPPTYPE_ENUM:
          f->is_repeated() ? r->AddEnumValue(message, f, 1) : r->SetEnumValue(message, f, 1);
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          f->is_repeated() ? r->AddBool(message, f, true) : r->SetBool(message, f, true);
          break;
        case FieldDescriptor::CPPTYPE_INT32:
          f->is_repeated() ? r->AddInt32(message, f, 7) : r->SetInt32(message, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          f->is_repeated() ? r->AddInt64(message, f, 7) : r->SetInt64(message, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          f->is_repeated() ? r->AddUInt32(message, f, 7) : r->SetUInt32(message, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          f->is_repeated() ? r->AddUInt64(message, f, 7) : r->SetUInt64(message, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          f->is_repeated() ? r->AddDouble(message, f, 7) : r->SetDouble(message, f, 7);
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          f->is_repeated() ? r->AddFloat(message, f, 7) : r->SetFloat(message, f, 7);
          break;
      }
    }
  }
}

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
