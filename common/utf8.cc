#include "common/utf8.h"

#include <algorithm>

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

std::string BoundedUtf8(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes && InvalidUtf8Offset(text) == absl::string_view::npos) {
    return std::string(text);
  }
  static constexpr absl::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  while (!text.empty()) {
    // The longest well-formed run from here, then one replaced byte.
    const size_t bad = InvalidUtf8Offset(text);
    const absl::string_view good = text.substr(0, bad);
    if (out.size() + good.size() > max_bytes) {
      // Cut the run on a character boundary: step back over continuation bytes.
      size_t fit = max_bytes - out.size();
      while (fit > 0 && (static_cast<unsigned char>(good[fit]) & 0xc0) == 0x80) --fit;
      out.append(good.data(), fit);
      return out;
    }
    out.append(good.data(), good.size());
    if (bad == absl::string_view::npos) return out;
    if (out.size() + kReplacement.size() > max_bytes) return out;
    out.append(kReplacement.data(), kReplacement.size());
    text.remove_prefix(bad + 1);
  }
  return out;
}

bool IsPrintableAscii(absl::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

std::string EscapeControls(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace onceonly
