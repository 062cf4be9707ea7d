#ifndef ONCEONLY_COMMON_UTF8_H_
#define ONCEONLY_COMMON_UTF8_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace onceonly {

// The offset of the first byte at which `text` stops being well-formed UTF-8 (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF), or npos when all of it is. Protobuf
// refuses to parse a proto3 string that is not, so data is checked where it enters.
size_t InvalidUtf8Offset(absl::string_view text);

// The length in bytes of the UTF-8 sequence starting with `lead` (1 for a byte that is not a
// lead byte), for code that must not cut a character in two.
inline size_t Utf8SequenceLength(unsigned char lead) {
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  return 1;
}

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_UTF8_H_
