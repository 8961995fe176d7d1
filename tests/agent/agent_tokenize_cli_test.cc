// farm-agent tokenize, run as a user runs it: the bundled vocabulary by default, a
// vocab.json/merges.txt folder with --tokenizer, ids equal to the CLIP reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "farm/sd/clip_tokenizer.h"
#include "json_file.h"
#include "reference_paths.h"
#include "shell_run.h"

namespace {
namespace fs = std::filesystem;
using farmctl_test::Shell;

const std::string kAgent = FARM_AGENT_BINARY;

// Any text (quotes included) as one shell word.
std::string ShellWord(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<nlohmann::json> JsonLines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

TEST(AgentTokenizeCliTest, BundledVocabularyGivesTheReferenceIds) {
  auto dir = farm::sd::testing::FindClipReferenceDir();
  if (!dir) GTEST_SKIP() << "clip reference data not found (set FARM_CLIP_REFERENCE)";
  struct Want {
    std::string key, text;
    std::vector<int64_t> ids, padded;
    bool mojibake = false;
  };
  std::vector<Want> wants;
  for (const auto& entry : fs::directory_iterator(*dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("tokens_", 0) != 0 || entry.path().extension() != ".json") continue;
    const farm::sd::Json doc = farm::sd::testing::ReadJsonFile(entry.path().string());
    ASSERT_NE(doc.Find("prompts"), nullptr) << name;
    for (const farm::sd::Json& prompt : doc.Find("prompts")->items()) {
      Want want{prompt.Find("key")->text(), FromHex(prompt.Find("text_utf8_hex")->text()), {}, {}, false};
      if (want.text.find('\0') != std::string::npos) continue;  // a command line cannot carry NUL
      for (const auto& id : prompt.Find("ids")->items()) want.ids.push_back(*id.AsInt64());
      for (const auto& id : prompt.Find("padded77")->items()) want.padded.push_back(*id.AsInt64());
      if (const farm::sd::Json* fixes = prompt.Find("ftfy_fixes")) {
        for (const auto& fix : fixes->items()) want.mojibake |= fix.text() == "fix_encoding";
      }
      wants.push_back(std::move(want));
    }
  }
  ASSERT_FALSE(wants.empty());
  std::string command = kAgent + " tokenize --json --";
  for (const Want& want : wants) command += " " + ShellWord(want.text);
  auto run = Shell(command);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const std::vector<nlohmann::json> lines = JsonLines(run.out);
  ASSERT_EQ(lines.size(), wants.size()) << run.out;
  for (size_t i = 0; i < wants.size(); ++i) {
    const std::vector<int64_t> ids = lines[i]["ids"].get<std::vector<int64_t>>();
    const std::vector<int64_t> input_ids = lines[i]["input_ids"].get<std::vector<int64_t>>();
    ASSERT_EQ(input_ids.size(), 77u) << wants[i].key;
    if (wants[i].mojibake) {
      // ftfy's mojibake repair is only simplified (sd_clip_reference_test): the library's ids.
      auto tokenizer = farm::sd::ClipTokenizer::Bundled();
      ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
      EXPECT_EQ(ids, tokenizer->Encode(wants[i].text)) << wants[i].key;
      continue;
    }
    EXPECT_EQ(ids, wants[i].ids) << wants[i].key;
    EXPECT_EQ(input_ids, wants[i].padded) << wants[i].key;
    EXPECT_EQ(lines[i]["text"].get<std::string>(), wants[i].text) << wants[i].key;
  }
}

TEST(AgentTokenizeCliTest, TokenizerFolderOverridesAndErrorsNameIt) {
  const std::string folder = farm::sd::testing::ScratchDir() + "/tokenize-cli/tokenizer";
  fs::create_directories(folder);
  std::ofstream(folder + "/vocab.json")
      << R"({"h": 0, "i</w>": 1, "hi</w>": 2, "<|startoftext|>": 3, "<|endoftext|>": 4})";
  std::ofstream(folder + "/merges.txt") << "#version: 0.2\nh i</w>\n";
  auto run = Shell(kAgent + " tokenize --tokenizer " + folder + " --json HI 'hi hi'");
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const auto lines = JsonLines(run.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["ids"], nlohmann::json::array({2}));
  EXPECT_EQ(lines[1]["ids"], nlohmann::json::array({2, 2}));
  std::vector<int64_t> padded(77, 4);
  padded[0] = 3;
  padded[1] = 2;
  EXPECT_EQ(lines[0]["input_ids"].get<std::vector<int64_t>>(), padded);

  auto plain = Shell(kAgent + " tokenize 'a photo'");
  ASSERT_EQ(plain.exit_code, 0) << plain.out;
  EXPECT_NE(plain.out.find("ids (2): 320 1125"), std::string::npos) << plain.out;  // "a</w>" "photo</w>"

  auto missing = Shell(kAgent + " tokenize --tokenizer " + folder + "-missing x 2>&1");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("tokenizer-missing/vocab.json"), std::string::npos) << missing.out;
}

}  // namespace
