// Fuzzes the KBO CSV reader (connectors/kbo/csv_reader.h) and the UTF-8 check the importer
// runs on each record, with the input as a whole file. Properties:
// - every record has a field, starts on a line the file has, and lines never go back;
// - a record either is valid UTF-8 in every field or CheckFieldsAreUtf8 refuses it naming its
//   file and line; the reader's own refusals are INVALID_ARGUMENT naming file and line, final;
// - a file read to its end was consumed to its last byte;
// - where the file's chunks end changes nothing: read in chunks of 4 to 64 bytes instead of
//   64 KiB, so that chunk boundaries fall anywhere in a record, the input reads the same
//   (the seeds of more than 64 KiB put the default boundary inside records too);
// - what was read, written back as CSV, reads back the same.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "common/utf8.h"
#include "connectors/kbo/csv_reader.h"
#include "fuzz/memory_file.h"
#include "fuzz/property.h"

namespace onceonly {
namespace {

// The input being run, for the reports of violated properties.
absl::string_view current_input;

[[noreturn]] void Violated(absl::string_view property, absl::string_view detail) {
  PropertyViolated(property, absl::StrCat(detail, "\n  input (", current_input.size(),
                                          " bytes, first 2000 here): \"",
                                          absl::CHexEscape(current_input.substr(0, 2000)), "\""));
}

struct ReadOutcome {
  std::vector<std::vector<std::string>> records;
  std::vector<int> lines;
  absl::Status error;  // OK when the file was read to its end
  int error_line = 0;
  std::string path;  // of the memory file, which the error names

  // The error as it would read for any path.
  std::string ErrorWithoutPath() const {
    return absl::StrReplaceAll(error.ToString(), {{path, "FILE"}});
  }
};

size_t CountNewlines(absl::string_view text) { return std::count(text.begin(), text.end(), '\n'); }

void CheckUtf8Verdict(const CsvReader& reader, const std::vector<std::string>& fields) {
  const bool all_valid = std::all_of(fields.begin(), fields.end(), [](const std::string& f) {
    return InvalidUtf8Offset(f) == absl::string_view::npos;
  });
  const absl::Status verdict = CheckFieldsAreUtf8(reader, {"first"}, fields);
  if (verdict.ok() != all_valid) {
    Violated("CheckFieldsAreUtf8 refuses exactly the records with a field that is not UTF-8",
             verdict.ToString());
  }
  const std::string where = absl::StrCat(reader.path(), ":", reader.line(), ": ");
  if (!verdict.ok() && (verdict.code() != absl::StatusCode::kInvalidArgument ||
                        !absl::StartsWith(verdict.message(), where))) {
    Violated("a UTF-8 refusal is INVALID_ARGUMENT naming the file and line",
             absl::StrCat("expected \"", where, "...\", got ", verdict.ToString()));
  }
}

ReadOutcome ReadFile(absl::string_view contents,
                     size_t chunk_bytes = CsvReader::kDefaultChunkBytes) {
  MemoryFile file(contents);
  absl::StatusOr<std::unique_ptr<CsvReader>> opened = CsvReader::Open(file.path(), chunk_bytes);
  if (!opened.ok()) Violated("a readable file opens", opened.status().ToString());
  CsvReader& reader = **opened;
  const size_t last_line = 1 + CountNewlines(contents);
  ReadOutcome out;
  out.path = file.path();
  std::vector<std::string> fields;
  int64_t consumed = 0;
  while (true) {
    absl::StatusOr<bool> more = reader.Next(&fields);
    if (reader.bytes_consumed() < consumed ||
        reader.bytes_consumed() > static_cast<int64_t>(contents.size())) {
      Violated("bytes_consumed grows within the file's size",
               absl::StrCat(consumed, " then ", reader.bytes_consumed()));
    }
    consumed = reader.bytes_consumed();
    if (!more.ok()) {
      const std::string where = absl::StrCat(reader.path(), ":", reader.line(), ": ");
      if (more.status().code() != absl::StatusCode::kInvalidArgument ||
          !absl::StartsWith(more.status().message(), where)) {
        Violated("a malformed file is INVALID_ARGUMENT naming the file and line",
                 absl::StrCat("expected \"", where, "...\", got ", more.status().ToString()));
      }
      if (reader.Next(&fields).ok()) Violated("a reader is unusable after an error", "");
      out.error = more.status();
      out.error_line = reader.line();
      return out;
    }
    if (!*more) break;
    if (fields.empty()) Violated("a record has at least one field", "");
    const int line = reader.line();
    if (line < 1 || static_cast<size_t>(line) > last_line ||
        (!out.lines.empty() && line <= out.lines.back())) {
      Violated("records start on increasing lines of the file",
               absl::StrCat("line ", line, " after ", out.lines.empty() ? 0 : out.lines.back(),
                            "; the file has ", last_line));
    }
    CheckUtf8Verdict(reader, fields);
    out.records.push_back(fields);
    out.lines.push_back(line);
  }
  if (consumed != static_cast<int64_t>(contents.size())) {
    Violated("a file read to its end is consumed whole",
             absl::StrCat(consumed, " of ", contents.size(), " bytes"));
  }
  return out;
}

// RFC 4180 with every field quoted: whatever a field holds reads back as it was.
std::string WriteCsv(const std::vector<std::vector<std::string>>& records) {
  std::string out;
  for (const std::vector<std::string>& record : records) {
    for (size_t i = 0; i < record.size(); ++i) {
      if (i > 0) out.push_back(',');
      absl::StrAppend(&out, "\"", absl::StrReplaceAll(record[i], {{"\"", "\"\""}}), "\"");
    }
    out.push_back('\n');
  }
  return out;
}

// A chunk size from a cheap hash of the bytes, so that mutations move the boundaries around.
size_t SmallChunkBytes(absl::string_view input) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : input) hash = (hash ^ c) * 16777619u;
  return CsvReader::kMinChunkBytes + hash % 61;
}

void CheckChunkBoundariesChangeNothing(absl::string_view input, const ReadOutcome& whole) {
  const size_t chunk_bytes = SmallChunkBytes(input);
  const ReadOutcome chunked = ReadFile(input, chunk_bytes);
  const std::string how = absl::StrCat(" in chunks of ", chunk_bytes, " bytes");
  if (chunked.records != whole.records) {
    Violated("chunk boundaries change no record",
             absl::StrCat(whole.records.size(), " records read in 64 KiB chunks, ",
                          chunked.records.size(), how));
  }
  if (chunked.lines != whole.lines) {
    Violated("chunk boundaries change no line number", how);
  }
  if (chunked.ErrorWithoutPath() != whole.ErrorWithoutPath() ||
      chunked.error_line != whole.error_line) {
    Violated("chunk boundaries change no error",
             absl::StrCat(whole.ErrorWithoutPath(), " in 64 KiB chunks, ",
                          chunked.ErrorWithoutPath(), how));
  }
}

}  // namespace
}  // namespace onceonly

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace onceonly;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  current_input = input;
  const ReadOutcome whole = ReadFile(input);
  CheckChunkBoundariesChangeNothing(input, whole);
  if (whole.error.ok()) {
    const ReadOutcome again = ReadFile(WriteCsv(whole.records));
    if (!again.error.ok() || again.records != whole.records) {
      Violated("records written back as CSV read back the same", again.error.ToString());
    }
  }
  return 0;
}
