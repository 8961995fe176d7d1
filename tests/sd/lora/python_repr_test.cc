#include "farm/sd/python_repr.h"

#include <gtest/gtest.h>

#include <limits>

namespace farm::sd {
namespace {

// Expected strings are what CPython 3.11 prints for repr(value).
TEST(PythonReprTest, FloatsAsPythonPrintsThem) {
  const std::pair<double, const char*> cases[] = {
      {0.0001, "0.0001"},
      {1e-05, "1e-05"},
      {5e-05, "5e-05"},
      {2e-06, "2e-06"},
      {-2.5e-05, "-2.5e-05"},
      {0.00012, "0.00012"},
      {1.0, "1.0"},
      {64.0, "64.0"},
      {100.0, "100.0"},
      {0.5, "0.5"},
      {0.1, "0.1"},
      {0.3, "0.3"},
      {1.0 / 3.0, "0.3333333333333333"},
      {0.0001 * 3, "0.00030000000000000003"},
      {12345.678, "12345.678"},
      {1e15, "1000000000000000.0"},
      {1234567890123456.0, "1234567890123456.0"},
      {9999999999999998.0, "9999999999999998.0"},
      {1e16, "1e+16"},
      {123456789012345680.0, "1.2345678901234568e+17"},
      {1e22, "1e+22"},
      {1.5e-10, "1.5e-10"},
      {1700000000.123456, "1700000000.123456"},
      {1675787873.1469538, "1675787873.1469538"},  // a real kohya ss_training_started_at
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {0.0, "0.0"},
      {-0.0, "-0.0"},
  };
  for (const auto& [value, expected] : cases) EXPECT_EQ(PythonFloatRepr(value), expected) << expected;
  EXPECT_EQ(PythonFloatRepr(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(PythonFloatRepr(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(PythonFloatRepr(-std::numeric_limits<double>::infinity()), "-inf");
}

TEST(PythonReprTest, OptionalsAndBools) {
  EXPECT_EQ(PythonBool(true), "True");
  EXPECT_EQ(PythonBool(false), "False");
  EXPECT_EQ(PythonOptionalFloat(std::nullopt), "None");
  EXPECT_EQ(PythonOptionalFloat(1e-4), "0.0001");
  EXPECT_EQ(PythonOptionalInt(std::nullopt), "None");
  EXPECT_EQ(PythonOptionalInt(2), "2");
  EXPECT_EQ(PythonOptionalString(std::nullopt), "None");
  EXPECT_EQ(PythonOptionalString(std::string("")), "");
}

// Expected: json.dumps('é中😀\x01\x7f"\\\n\t') in CPython 3.11.
TEST(PythonReprTest, JsonStringEscapesAsJsonDumps) {
  EXPECT_EQ(PythonJsonString("\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\x01\x7F\"\\\n\t"),
            "\"\\u00e9\\u4e2d\\ud83d\\ude00\\u0001\\u007f\\\"\\\\\\n\\t\"");
  EXPECT_EQ(PythonJsonString("sks person"), "\"sks person\"");
  EXPECT_EQ(PythonJsonString(""), "\"\"");
  EXPECT_EQ(PythonJsonString("\b\f\r"), "\"\\b\\f\\r\"");
  // Not UTF-8: a stray continuation byte, a truncated sequence, an encoded surrogate.
  EXPECT_EQ(PythonJsonString("a\x80" "b"), "\"a\\ufffdb\"");
  EXPECT_EQ(PythonJsonString("\xE4\xB8"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(PythonJsonString("\xED\xA0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
}

}  // namespace
}  // namespace farm::sd
