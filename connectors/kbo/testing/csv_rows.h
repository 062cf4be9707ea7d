// Test helper: the records of a KBO CSV file, read with the importer's own CsvReader.
#ifndef ONCEONLY_CONNECTORS_KBO_TESTING_CSV_ROWS_H_
#define ONCEONLY_CONNECTORS_KBO_TESTING_CSV_ROWS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "connectors/kbo/csv_reader.h"
#include "gtest/gtest.h"

namespace onceonly {

// Every record of the CSV file at `path`, header excluded; a read error fails the test.
inline std::vector<std::vector<std::string>> CsvRows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  absl::StatusOr<std::unique_ptr<CsvReader>> reader = CsvReader::Open(path);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return rows;
  std::vector<std::string> fields;
  bool header = true;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&fields);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    if (!header) rows.push_back(fields);
    header = false;
  }
  return rows;
}

}  // namespace onceonly

#endif  // ONCEONLY_CONNECTORS_KBO_TESTING_CSV_ROWS_H_
