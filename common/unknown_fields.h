// Dropping the fields a message's schema does not know, at every depth.
#ifndef ONCEONLY_COMMON_UNKNOWN_FIELDS_H_
#define ONCEONLY_COMMON_UNKNOWN_FIELDS_H_

#include "google/protobuf/message.h"

namespace onceonly {

// What Message::DiscardUnknownFields does, at a fraction of its cost on large messages: it
// walks only the message-typed fields set, lists no fields and allocates nothing where there
// is nothing to drop (protobuf's lists every set field of every message, each in a vector).
void DropUnknownFields(google::protobuf::Message* message);

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_UNKNOWN_FIELDS_H_
