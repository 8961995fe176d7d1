// farmctl's cells, tables and CSV of query rows (tools/farmctl/render_table.cc).
#include "render_table.h"

#include <gtest/gtest.h>

#include <sstream>

namespace farmctl {
namespace {

using Json = nlohmann::ordered_json;

TEST(RenderTable, CellsForAPerson) {
  EXPECT_EQ(CellText(Json(nullptr)), "-");
  EXPECT_EQ(CellText(Json("")), "-");
  EXPECT_EQ(CellText(Json(0.912345678)), "0.9123");
  EXPECT_EQ(CellText(Json(7.0)), "7");
  EXPECT_EQ(CellText(Json(6.5)), "6.5");
  EXPECT_EQ(CellText(Json(-0.00001)), "0");
  EXPECT_EQ(CellText(Json(std::int64_t{12345678901})), "12345678901");
  EXPECT_EQ(CellText(Json(true)), "yes");
  EXPECT_EQ(CellText(Json(false)), "no");
  EXPECT_EQ(CellText(Json(std::string(64, 'a'))), std::string(12, 'a'));
  EXPECT_EQ(CellText(Json("two\nlines")), "two lines");
  // Cut after 7 characters plus "...", never inside the 2-byte 'é'.
  EXPECT_EQ(CellText(Json("ééééééééééé"), 10), "ééééééé...");
  EXPECT_EQ(CellText(Json("short"), 10), "short");
}

TEST(RenderTable, CsvQuotesOnlyWhatNeedsIt) {
  const Json rows = Json::array({
      {{"id", 1}, {"prompt", "a, b"}, {"score", nullptr}, {"ok", true}},
      {{"id", 2}, {"prompt", "say \"hi\""}, {"score", 0.5}, {"ok", false}},
      {{"id", 3}, {"prompt", "line\nbreak"}, {"score", 0.25}, {"ok", nullptr}},
  });
  std::ostringstream out;
  PrintRowsCsv(out, {"id", "prompt", "score", "ok"}, rows);
  EXPECT_EQ(out.str(),
            "id,prompt,score,ok\r\n"
            "1,\"a, b\",,true\r\n"
            "2,\"say \"\"hi\"\"\",0.5,false\r\n"
            "3,\"line\nbreak\",0.25,\r\n");
}

TEST(RenderTable, TableAlignsByCharactersNotBytes) {
  const Json rows = Json::array({{{"id", 1}, {"pose", "côté"}, {"score", 0.5}},
                                 {{"id", 22}, {"pose", "front"}, {"score", nullptr}}});
  std::ostringstream out;
  PrintRowsTable(out, {"id", "pose", "score"}, rows);
  EXPECT_EQ(out.str(),
            "ID  POSE   SCORE\n"
            "1   côté   0.5\n"
            "22  front  -\n");
}

}  // namespace
}  // namespace farmctl
