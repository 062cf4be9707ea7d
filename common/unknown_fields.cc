#include "common/unknown_fields.h"

#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"

namespace onceonly {

void DropUnknownFields(google::protobuf::Message* message) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* reflection = message->GetReflection();
  // Reading first: asking for the mutable set would allocate one in every message.
  if (!reflection->GetUnknownFields(*message).empty()) {
    reflection->MutableUnknownFields(message)->Clear();
  }
  const google::protobuf::Descriptor* descriptor = message->GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_map() && field->message_type()->map_value()->cpp_type() !=
                               FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;  // scalar keys and values hold no unknown fields
    }
    if (field->is_repeated()) {
      const int n = reflection->FieldSize(*message, field);
      for (int j = 0; j < n; ++j) {
        DropUnknownFields(reflection->MutableRepeatedMessage(message, field, j));
      }
    } else if (reflection->HasField(*message, field)) {
      DropUnknownFields(reflection->MutableMessage(message, field));
    }
  }
}

}  // namespace onceonly
