// A streaming reader for the CSV files of the KBO/BCE open data (RFC 4180): comma separated,
// fields optionally in double quotes with "" as an escaped quote; quoted fields may hold
// commas and line breaks. Records end with LF or CRLF. A leading UTF-8 BOM is skipped, and so
// are blank lines between records. The file is read in fixed-size chunks, never whole, so
// the 2 GB of a full dump stream through a few kilobytes of memory.
//
// Not thread-safe: one reader per thread.
#ifndef ONCEONLY_CONNECTORS_KBO_CSV_READER_H_
#define ONCEONLY_CONNECTORS_KBO_CSV_READER_H_

#include <cstdio>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onceonly {

class CsvReader {
 public:
  static constexpr size_t kDefaultChunkBytes = 1 << 16;
  static constexpr size_t kMinChunkBytes = 4;  // room for the byte order mark

  // Opens `path`. NOT_FOUND if it does not exist, UNAVAILABLE if it cannot be read.
  // `chunk_bytes` is how much each read takes (at least kMinChunkBytes); tests make it small to
  // put chunk boundaries anywhere in a record.
  static absl::StatusOr<std::unique_ptr<CsvReader>> Open(
      const std::string& path, size_t chunk_bytes = kDefaultChunkBytes);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Reads the next record into `*fields` (reusing its strings). True if a record was read,
  // false at end of file. Malformed input (unterminated quote, stray quote, text after a
  // closing quote) is INVALID_ARGUMENT "path:line: reason"; a read error is UNAVAILABLE.
  // After an error the reader is unusable.
  absl::StatusOr<bool> Next(std::vector<std::string>* fields);

  // 1-based physical line on which the last record read (or the failing one) starts.
  int line() const { return record_line_; }
  const std::string& path() const { return path_; }
  // Bytes of the file consumed so far (for progress against the file's size).
  int64_t bytes_consumed() const { return refilled_bytes_ - static_cast<int64_t>(end_ - pos_); }

 private:
  static constexpr int kEof = -1;
  CsvReader(std::FILE* file, std::string path, size_t chunk_bytes);

  // Next byte, or kEof; Peek() does not consume it.
  int Get() {
    if (pos_ == end_ && !Refill()) return kEof;
    return static_cast<unsigned char>(buffer_[pos_++]);
  }
  int Peek() {
    if (pos_ == end_ && !Refill()) return kEof;
    return static_cast<unsigned char>(buffer_[pos_]);
  }
  bool Refill();
  absl::Status Error(const std::string& reason) const;

  std::FILE* const file_;
  const std::string path_;
  std::vector<char> buffer_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool read_error_ = false;
  bool failed_ = false;
  int physical_line_ = 1;
  int record_line_ = 0;
  int64_t refilled_bytes_ = 0;  // bytes read from the file into the buffer, in all
};

// OK if every field of the record `reader` last read is well-formed UTF-8: each travels later
// in a protobuf string, which must be, so a field that is not would be stored and then fail
// every read of its enterprise. Otherwise INVALID_ARGUMENT "path:line: column: not valid UTF-8
// at byte N of \"<field, escaped>\"", the column named by `columns` (by number past its end).
absl::Status CheckFieldsAreUtf8(const CsvReader& reader, const std::vector<const char*>& columns,
                                const std::vector<std::string>& fields);

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_KBO_CSV_READER_H_
