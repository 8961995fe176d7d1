#include "json_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace farm::sd::testing {

Json ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path << ": cannot be read";
  std::stringstream text;
  text << in.rdbuf();
  StatusOr<Json> doc = Json::Parse(text.str());
  EXPECT_TRUE(doc.ok()) << path << ": " << doc.status().ToString();
  return doc.ok() ? *doc : Json();
}

}  // namespace farm::sd::testing
