// Test support: a message with every field set, for tests that must hold for all of them.
#ifndef ONCEONLY_COMMON_TESTING_FILL_EVERY_FIELD_H_
#define ONCEONLY_COMMON_TESTING_FILL_EVERY_FIELD_H_

#include "google/protobuf/message.h"

namespace onceonly {

// Sets every field of `message`, down to `depth` levels of messages, two of each repeated one.
inline void FillEveryField(google::protobuf::Message* message, int depth) {
  using google::protobuf::FieldDescriptor;
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

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_TESTING_FILL_EVERY_FIELD_H_
