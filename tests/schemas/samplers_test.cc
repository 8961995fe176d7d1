#include "farm/schemas/samplers.h"

#include <gtest/gtest.h>

namespace farm {
namespace {

TEST(SamplersTest, ParsesFrontEndNames) {
  struct Case {
    const char* name;
    const char* sampler;
    const char* scheduler;
  };
  for (const Case& c : {Case{"Euler", "Euler", "normal"}, Case{"Euler a", "Euler a", "normal"},
                        Case{"DPM++ 2M Karras", "DPM++ 2M", "karras"},
                        Case{"DPM++ SDE Karras", "DPM++ SDE", "karras"},
                        Case{"DPM++ 2M", "DPM++ 2M", "normal"}, Case{"DDIM", "DDIM", "normal"}}) {
    auto choice = ParseSamplerName(c.name);
    ASSERT_TRUE(choice.ok()) << c.name << ": " << choice.status().ToString();
    EXPECT_EQ(choice->sampler, c.sampler);
    EXPECT_EQ(choice->scheduler, c.scheduler);
    EXPECT_EQ(FrontEndSamplerName(*choice), c.name);
  }
}

TEST(SamplersTest, RefusesUnknownNamesAndListsKnownOnes) {
  for (const char* bad : {"euler", "DDIM Karras", "Euler  a", "DPM++ 2M karras", "", "Karras"}) {
    auto choice = ParseSamplerName(bad);
    ASSERT_FALSE(choice.ok()) << bad;
    EXPECT_NE(choice.status().message().find("'DPM++ 2M Karras'"), std::string::npos);
  }
}

TEST(SamplersTest, EveryKnownNameParses) {
  EXPECT_EQ(KnownSamplerNames().size(), 9u);
  for (const std::string& name : KnownSamplerNames()) EXPECT_TRUE(ParseSamplerName(name).ok()) << name;
}

}  // namespace
}  // namespace farm
