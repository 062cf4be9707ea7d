#include "common/unknown_fields.h"

#include "common/testing/fill_every_field.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "onceonly/registry/v1/registry.pb.h"

namespace onceonly {
namespace {

// Adds an unknown field to `message` and to every message inside it.
int AddUnknownEverywhere(google::protobuf::Message* message) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* r = message->GetReflection();
  r->MutableUnknownFields(message)->AddVarint(999, 1);
  int added = 1;
  const google::protobuf::Descriptor* d = message->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int j = 0; j < r->FieldSize(*message, f); ++j) {
        added += AddUnknownEverywhere(r->MutableRepeatedMessage(message, f, j));
      }
    } else if (r->HasField(*message, f)) {
      added += AddUnknownEverywhere(r->MutableMessage(message, f));
    }
  }
  return added;
}

TEST(DropUnknownFieldsTest, DropsWhatDiscardUnknownFieldsDropsAtEveryDepth) {
  registry::v1::SubjectRecords known;
  FillEveryField(&known, 4);
  registry::v1::SubjectRecords with_unknown = known;
  ASSERT_GT(AddUnknownEverywhere(&with_unknown), 50);  // establishments, addresses, ...
  ASSERT_NE(with_unknown.SerializeAsString(), known.SerializeAsString());

  registry::v1::SubjectRecords dropped = with_unknown;
  DropUnknownFields(&dropped);
  registry::v1::SubjectRecords discarded = with_unknown;
  discarded.DiscardUnknownFields();
  EXPECT_EQ(dropped.SerializeAsString(), discarded.SerializeAsString());
  EXPECT_EQ(dropped.SerializeAsString(), known.SerializeAsString());
}

TEST(DropUnknownFieldsTest, AMessageWithoutUnknownFieldsIsUnchanged) {
  registry::v1::SubjectRecords known;
  FillEveryField(&known, 4);
  registry::v1::SubjectRecords dropped = known;
  DropUnknownFields(&dropped);
  EXPECT_EQ(dropped.SerializeAsString(), known.SerializeAsString());
}

}  // namespace
}  // namespace onceonly
