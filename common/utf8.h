#ifndef ONCEONLY_COMMON_UTF8_H_
#define ONCEONLY_COMMON_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>

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

// `text` as well-formed UTF-8 of at most `max_bytes` bytes: each byte that does not start a
// well-formed sequence becomes U+FFFD, and the text is cut before the first character that
// would not fit whole (never inside one). Text that is already well-formed and short enough
// comes back unchanged. For free text bound for a store that must always read back.
std::string BoundedUtf8(absl::string_view text, size_t max_bytes);

// True if every byte of `text` is printable ASCII (0x20 space to 0x7e tilde): no controls,
// no CR/LF/NUL, nothing that could forge a line or a field in what prints it.
bool IsPrintableAscii(absl::string_view text);

// `text` with every ASCII control character (below 0x20, and 0x7f) written as \xNN, for a
// terminal or a text report: stored text can then never start a line or forge a field of
// its own. Other bytes are left as they are.
std::string EscapeControls(absl::string_view text);

}  // namespace onceonly

#endif  // ONCEONLY_COMMON_UTF8_H_
