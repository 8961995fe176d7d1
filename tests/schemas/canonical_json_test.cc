#include "farm/schemas/canonical_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace farm {
namespace {

std::string Canon(std::string_view text) {
  auto result = CanonicalizeJson(text);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : "";
}

TEST(CanonicalJsonTest, SortsKeysAndDropsWhitespace) {
  EXPECT_EQ(Canon(R"({ "b": 1,
                       "a": {"z": [1, 2], "y": null} })"),
            R"({"a":{"y":null,"z":[1,2]},"b":1})");
}

TEST(CanonicalJsonTest, SortsKeysByBytesNotLocale) {
  EXPECT_EQ(Canon(R"({"b":1,"B":2,"a":3,"_":4})"), R"({"B":2,"_":4,"a":3,"b":1})");
}

TEST(CanonicalJsonTest, IntegralNumbersAreIntegers) {
  EXPECT_EQ(Canon("[7.0, 7, 7e0, 70e-1, -0.0, 0.0, -3.00]"), "[7,7,7,7,0,0,-3]");
}

TEST(CanonicalJsonTest, FractionsUseShortestRoundTrip) {
  EXPECT_EQ(Canon("[0.35, 0.1, 1e-7, 1.5e20, 0.30000000000000004]"),
            "[0.35,0.1,1e-07,1.5e+20,0.30000000000000004]");
}

TEST(CanonicalJsonTest, LargeIntegersKeepEveryDigit) {
  EXPECT_EQ(Canon("[18446744073709551615, -9223372036854775808]"),
            "[18446744073709551615,-9223372036854775808]");
}

TEST(CanonicalJsonTest, EscapesOnlyWhatJsonRequires) {
  EXPECT_EQ(Canon(R"(["a\"b\\c\n\t\u0001", "\u00e9/<>"])"),
            "[\"a\\\"b\\\\c\\n\\t\\u0001\",\"\xc3\xa9/<>\"]");
}

TEST(CanonicalJsonTest, RefusesMalformedJson) {
  EXPECT_FALSE(CanonicalizeJson("{\"a\":").ok());
  EXPECT_FALSE(CanonicalizeJson("").ok());
  EXPECT_FALSE(CanonicalizeJson("{'a': 1}").ok());
}

TEST(CanonicalJsonTest, RefusesNonFiniteNumbers) {
  EXPECT_FALSE(CanonicalNumber(std::numeric_limits<double>::infinity()).ok());
  EXPECT_FALSE(CanonicalNumber(std::nan("")).ok());
}

TEST(CanonicalJsonTest, CanonicalFormIsAFixedPoint) {
  const std::string once = Canon(R"({"x": [1.50, {"k": "v"}], "a": true})");
  EXPECT_EQ(Canon(once), once);
}

}  // namespace
}  // namespace farm
