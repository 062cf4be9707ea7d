#include "common/utf8.h"

namespace onceonly {

size_t InvalidUtf8Offset(absl::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    // ASCII runs dominate; skip them eight bytes at a time.
    while (i + 8 <= size) {
      uint64_t word;
      __builtin_memcpy(&word, bytes + i, 8);
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= size) break;
    const unsigned char lead = bytes[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    const size_t length = Utf8SequenceLength(lead);
    if (length == 1 || i + length > size) return i;
    // The second byte's range depends on the lead (RFC 3629 section 4).
    unsigned char low = 0x80, high = 0xbf;
    if (lead == 0xe0) low = 0xa0;         // overlong 3-byte forms
    if (lead == 0xed) high = 0x9f;        // surrogates
    if (lead == 0xf0) low = 0x90;         // overlong 4-byte forms
    if (lead == 0xf4) high = 0x8f;        // past U+10FFFF
    if (bytes[i + 1] < low || bytes[i + 1] > high) return i;
    for (size_t k = 2; k < length; ++k) {
      if ((bytes[i + k] & 0xc0) != 0x80) return i;
    }
    i += length;
  }
  return absl::string_view::npos;
}

}  // namespace onceonly
