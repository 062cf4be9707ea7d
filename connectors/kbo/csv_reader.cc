#include "connectors/kbo/csv_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/utf8.h"

namespace onceonly {
namespace {

// The field at `index`, emptied, reusing the vector's strings.
std::string& FieldAt(std::vector<std::string>* fields, size_t index) {
  if (index < fields->size()) {
    (*fields)[index].clear();
  } else {
    fields->emplace_back();
  }
  return (*fields)[index];
}

std::string Printable(int c) {
  if (c >= 0x20 && c < 0x7f) return absl::StrFormat("'%c'", c);
  return absl::StrFormat("byte 0x%02x", c);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CsvReader>> CsvReader::Open(const std::string& path,
                                                            size_t chunk_bytes) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    int err = errno;
    std::string msg = absl::StrCat("cannot open ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    return absl::UnavailableError(msg);
  }
  std::unique_ptr<CsvReader> reader(
      new CsvReader(file, path, std::max(chunk_bytes, kMinChunkBytes)));
  // Skip a UTF-8 byte order mark.
  if (reader->Refill() && reader->end_ >= 3 &&
      std::memcmp(reader->buffer_.data(), "\xEF\xBB\xBF", 3) == 0) {
    reader->pos_ = 3;
  }
  if (reader->read_error_) return absl::UnavailableError(absl::StrCat("cannot read ", path));
  return reader;
}

CsvReader::CsvReader(std::FILE* file, std::string path, size_t chunk_bytes)
    : file_(file), path_(std::move(path)), buffer_(chunk_bytes) {}

CsvReader::~CsvReader() { std::fclose(file_); }

bool CsvReader::Refill() {
  if (read_error_) return false;
  size_t n = std::fread(buffer_.data(), 1, buffer_.size(), file_);
  if (n == 0 && std::ferror(file_)) read_error_ = true;
  pos_ = 0;
  end_ = n;
  refilled_bytes_ += static_cast<int64_t>(n);
  return n > 0;
}

absl::Status CsvReader::Error(const std::string& reason) const {
  return absl::InvalidArgumentError(absl::StrCat(path_, ":", record_line_, ": ", reason));
}

absl::StatusOr<bool> CsvReader::Next(std::vector<std::string>* fields) {
  if (failed_) return absl::FailedPreconditionError(absl::StrCat(path_, ": reader failed"));
  // Skip blank lines.
  int c = Get();
  while (c == '\n' || (c == '\r' && Peek() == '\n')) {
    if (c == '\r') Get();
    ++physical_line_;
    c = Get();
  }
  if (c == kEof) {
    if (read_error_) {
      failed_ = true;
      return absl::UnavailableError(absl::StrCat("cannot read ", path_, ": read error"));
    }
    return false;
  }
  record_line_ = physical_line_;
  size_t count = 0;
  while (true) {
    std::string& field = FieldAt(fields, count++);
    // Both loops copy whole spans of the buffer: a byte at a time was a tenth of a full
    // import's time.
    if (c == '"') {
      const int quote_line = physical_line_;
      while (true) {
        if (pos_ == end_ && !Refill()) {
          failed_ = true;
          if (read_error_) return absl::UnavailableError(absl::StrCat("cannot read ", path_));
          return Error(absl::StrFormat("unterminated quoted field %d (quote opened on line %d)",
                                       count, quote_line));
        }
        const char* span = buffer_.data() + pos_;
        const size_t available = end_ - pos_;
        const char* quote = static_cast<const char*>(std::memchr(span, '"', available));
        const size_t n = quote != nullptr ? static_cast<size_t>(quote - span) : available;
        physical_line_ += static_cast<int>(std::count(span, span + n, '\n'));
        field.append(span, n);
        pos_ += n;
        if (quote == nullptr) continue;  // the field goes on in the next chunk
        ++pos_;                          // the quote
        if (Peek() != '"') break;
        Get();
        field.push_back('"');
      }
      c = Get();
      if (c != ',' && c != '\n' && c != kEof && !(c == '\r' && Peek() == '\n')) {
        failed_ = true;
        return Error(absl::StrFormat("field %d: %s after the closing quote", count, Printable(c)));
      }
    } else {
      // c, already read, either ends the (empty) field or is its first byte. (Not stepped
      // back into the buffer: Peek() may have refilled it.)
      bool ended = c == ',' || c == '\n' || c == kEof || (c == '\r' && Peek() == '\n');
      if (!ended) field.push_back(static_cast<char>(c));
      while (!ended) {
        if (pos_ == end_ && !Refill()) {
          c = kEof;
          break;
        }
        const char* span = buffer_.data() + pos_;
        const char* const chunk_end = buffer_.data() + end_;
        const char* stop = span;
        while (stop < chunk_end && *stop != ',' && *stop != '\n' && *stop != '\r' &&
               *stop != '"') {
          ++stop;
        }
        field.append(span, stop - span);
        pos_ += stop - span;
        if (stop == chunk_end) continue;
        c = Get();
        if (c == '"') {
          failed_ = true;
          return Error(absl::StrFormat(
              "field %d: quote inside an unquoted field (quote the whole field)", count));
        }
        if (c == '\r' && Peek() != '\n') {  // a lone CR is data
          field.push_back('\r');
          continue;
        }
        ended = true;
      }
    }
    if (c == ',') {
      c = Get();
      continue;
    }
    if (c == '\r') Get();  // the '\n' of a CRLF
    if (c != kEof) ++physical_line_;
    break;
  }
  if (read_error_) {
    failed_ = true;
    return absl::UnavailableError(absl::StrCat("cannot read ", path_, ": read error"));
  }
  fields->resize(count);
  return true;
}

absl::Status CheckFieldsAreUtf8(const CsvReader& reader, const std::vector<const char*>& columns,
                                const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    const size_t bad = InvalidUtf8Offset(fields[i]);
    if (bad == absl::string_view::npos) continue;
    const std::string column =
        i < columns.size() ? std::string(columns[i]) : absl::StrCat("column ", i + 1);
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s:%d: %s: not valid UTF-8 at byte %d of \"%s\"; the extract is UTF-8", reader.path(),
        reader.line(), column, bad + 1, absl::CHexEscape(fields[i])));
  }
  return absl::OkStatus();
}

}  // namespace onceonly
