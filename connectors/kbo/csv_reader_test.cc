#include "connectors/kbo/csv_reader.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CsvReaderTest : public ::testing::Test {
 protected:
  // Writes `content` to a fresh file and opens a reader on it.
  std::unique_ptr<CsvReader> ReaderFor(const std::string& content) {
    path_ = ::testing::TempDir() + "/csv_reader_test_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".csv";
    std::ofstream(path_, std::ios::binary) << content;
    absl::StatusOr<std::unique_ptr<CsvReader>> reader = CsvReader::Open(path_);
    EXPECT_TRUE(reader.ok()) << reader.status();
    return reader.ok() ? std::move(*reader) : nullptr;
  }

  // All records, or the first error.
  absl::StatusOr<std::vector<std::vector<std::string>>> ReadAll(const std::string& content) {
    std::unique_ptr<CsvReader> reader = ReaderFor(content);
    std::vector<std::vector<std::string>> records;
    std::vector<std::string> fields;
    while (true) {
      absl::StatusOr<bool> more = reader->Next(&fields);
      if (!more.ok()) return more.status();
      if (!*more) return records;
      records.push_back(fields);
    }
  }

  void TearDown() override { std::remove(path_.c_str()); }

  std::string path_;
};

TEST_F(CsvReaderTest, QuotedAndUnquotedFields) {
  auto records =
      ReadAll("\"EntityNumber\",\"Zipcode\",Date\n\"0403.170.701\",\"1000\",01-02-2003\n");
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_THAT(*records, ElementsAre(ElementsAre("EntityNumber", "Zipcode", "Date"),
                                    ElementsAre("0403.170.701", "1000", "01-02-2003")));
}

TEST_F(CsvReaderTest, CommaAndEscapedQuotesInsideQuotes) {
  auto records = ReadAll("\"Callebaut, Brenda\",\"Bistro \"\"Le Coin\"\"\",\"\"\"\"\n");
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_THAT(*records, ElementsAre(ElementsAre("Callebaut, Brenda", "Bistro \"Le Coin\"", "\"")));
}

TEST_F(CsvReaderTest, EmptyFieldsAnywhere) {
  auto records = ReadAll(",a,,\"\",\n,\n");
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_THAT(*records, ElementsAre(ElementsAre("", "a", "", "", ""), ElementsAre("", "")));
}

TEST_F(CsvReaderTest, NewlineInsideQuotesKeepsPhysicalLineNumbers) {
  std::unique_ptr<CsvReader> reader = ReaderFor("h1,h2\n\"multi\nline\r\ntext\",x\nlast,row");
  std::vector<std::string> fields;
  ASSERT_TRUE(*reader->Next(&fields));
  EXPECT_EQ(reader->line(), 1);
  ASSERT_TRUE(*reader->Next(&fields));
  EXPECT_EQ(reader->line(), 2);
  EXPECT_THAT(fields, ElementsAre("multi\nline\r\ntext", "x"));
  ASSERT_TRUE(*reader->Next(&fields));
  EXPECT_EQ(reader->line(), 5);                     // the quoted field spans lines 2-4
  EXPECT_THAT(fields, ElementsAre("last", "row"));  // no final newline
  absl::StatusOr<bool> end = reader->Next(&fields);
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(*end);
}

TEST_F(CsvReaderTest, CrlfBomAndBlankLines) {
  auto records = ReadAll("\xEF\xBB\xBF\"a\",b\r\n\r\n\nc,\"d\"\r\n");
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_THAT(*records, ElementsAre(ElementsAre("a", "b"), ElementsAre("c", "d")));
}

TEST_F(CsvReaderTest, UnterminatedQuoteNamesFileAndStartLine) {
  std::unique_ptr<CsvReader> reader = ReaderFor("a,b\nc,d\n\"open,\nstill open\n");
  std::vector<std::string> fields;
  ASSERT_TRUE(*reader->Next(&fields));
  ASSERT_TRUE(*reader->Next(&fields));
  absl::StatusOr<bool> bad = reader->Next(&fields);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr(path_ + ":3: unterminated quoted field 1"));
  // The reader refuses to continue after an error.
  EXPECT_FALSE(reader->Next(&fields).ok());
}

TEST_F(CsvReaderTest, TextAfterClosingQuoteIsAnError) {
  auto records = ReadAll("x\n\"ab\"c,d\n");
  ASSERT_FALSE(records.ok());
  EXPECT_THAT(records.status().message(), HasSubstr(":2: field 1: 'c' after the closing quote"));
}

TEST_F(CsvReaderTest, QuoteInsideUnquotedFieldIsAnError) {
  auto records = ReadAll("x,ab\"c\n");
  ASSERT_FALSE(records.ok());
  EXPECT_THAT(records.status().message(), HasSubstr(":1: field 2: quote inside"));
}

TEST_F(CsvReaderTest, ReusesFieldVectorWithoutStaleValues) {
  std::unique_ptr<CsvReader> reader = ReaderFor("a,b,c\nd\n");
  std::vector<std::string> fields;
  ASSERT_TRUE(*reader->Next(&fields));
  ASSERT_TRUE(*reader->Next(&fields));
  EXPECT_THAT(fields, ElementsAre("d"));
}

TEST_F(CsvReaderTest, EmptyFileHasNoRecords) {
  auto records = ReadAll("");
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty());
}

TEST_F(CsvReaderTest, RecordsLongerThanTheBuffer) {
  std::string big(200000, 'x');
  auto records = ReadAll("\"" + big + "\"," + big + "\n1,2\n");
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0][0], big);
  EXPECT_EQ((*records)[0][1], big);
  EXPECT_THAT((*records)[1], ElementsAre("1", "2"));
}

// A lone CR is data, also where a record starts, at the end of the file or right at the end
// of a buffer refill (the reader's buffer is 64 KiB).
TEST_F(CsvReaderTest, ALoneCrStartingARecordIsDataAtAnyBufferBoundary) {
  absl::StatusOr<std::vector<std::vector<std::string>>> at_end = ReadAll("a,b\n\r");
  ASSERT_TRUE(at_end.ok()) << at_end.status();
  EXPECT_THAT(*at_end, ElementsAre(ElementsAre("a", "b"), ElementsAre("\r")));

  for (size_t offset : {size_t{65534}, size_t{65535}, size_t{65536}}) {
    std::string content(offset - 1, 'x');
    content += "\n\rQ,w\n";  // the CR at `offset`
    absl::StatusOr<std::vector<std::vector<std::string>>> records = ReadAll(content);
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_EQ(records->size(), 2u) << offset;
    EXPECT_THAT((*records)[1], ElementsAre("\rQ", "w")) << offset;
  }
}

TEST_F(CsvReaderTest, Utf8CheckNamesFileLineAndColumn) {
  std::unique_ptr<CsvReader> reader =
      ReaderFor("\"Caf\xc3\xa9\",x\n\"ok\",\"Fran\xe7ois\"\n\"a\",\"b\",\"\xc3\"\n");
  std::vector<std::string> fields;
  const std::vector<const char*> columns = {"Zipcode", "Denomination"};
  ASSERT_TRUE(*reader->Next(&fields));
  EXPECT_TRUE(CheckFieldsAreUtf8(*reader, columns, fields).ok());
  ASSERT_TRUE(*reader->Next(&fields));
  absl::Status latin1 = CheckFieldsAreUtf8(*reader, columns, fields);
  EXPECT_EQ(latin1.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(latin1.message(), HasSubstr(path_ + ":2: Denomination: not valid UTF-8 at byte 5 "
                                                  "of \"Fran\\xe7ois\""));
  // A column past the names given is named by its number.
  ASSERT_TRUE(*reader->Next(&fields));
  EXPECT_THAT(CheckFieldsAreUtf8(*reader, columns, fields).message(),
              HasSubstr(":3: column 3: not valid UTF-8 at byte 1"));
}

// Chunk boundaries inside a BOM, a CRLF, an escaped quote, a quoted line break or a UTF-8
// character change nothing.
TEST_F(CsvReaderTest, SmallChunksReadTheSame) {
  const std::string content =
      "\xEF\xBB\xBF\"a\",b\r\n\r\n\"Bistro \"\"Le Coin\"\"\",\"multi\r\nline\"\n"
      "Chauss\u00e9e,\r,x\n\"open";
  path_ = ::testing::TempDir() + "/csv_reader_test_small_chunks.csv";
  std::ofstream(path_, std::ios::binary) << content;
  auto read = [&](size_t chunk_bytes) {
    std::unique_ptr<CsvReader> reader = *CsvReader::Open(path_, chunk_bytes);
    std::vector<std::vector<std::string>> records;
    std::vector<std::string> fields;
    while (true) {
      absl::StatusOr<bool> more = reader->Next(&fields);
      if (!more.ok()) {
        records.push_back({std::string(more.status().message())});
        return records;
      }
      if (!*more) return records;
      records.push_back(fields);
      records.back().push_back(absl::StrCat("line ", reader->line()));
    }
  };
  const std::vector<std::vector<std::string>> whole = read(CsvReader::kDefaultChunkBytes);
  EXPECT_THAT(whole, ElementsAre(ElementsAre("a", "b", "line 1"),
                                 ElementsAre("Bistro \"Le Coin\"", "multi\r\nline", "line 3"),
                                 ElementsAre("Chauss\u00e9e", "\r", "x", "line 5"),
                                 ElementsAre(HasSubstr(":6: unterminated quoted field 1"))));
  for (size_t chunk_bytes = 1; chunk_bytes <= 16; ++chunk_bytes) {
    EXPECT_EQ(read(chunk_bytes), whole) << chunk_bytes << "-byte chunks";
  }
}

TEST(CsvReaderOpenTest, MissingFileIsNotFound) {
  absl::StatusOr<std::unique_ptr<CsvReader>> reader =
      CsvReader::Open(::testing::TempDir() + "/no/such/file.csv");
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(reader.status().message(), HasSubstr("no/such/file.csv"));
}

}  // namespace
}  // namespace onceonly
