// Token ids of the bundled CLIP tokenizer against openai's SimpleTokenizer
// (shared/reference/clip/tokens_*.json: every file, every prompt).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "farm/sd/clip_tokenizer.h"
#include "json_file.h"
#include "reference_paths.h"

namespace farm::sd {
namespace {

std::vector<int64_t> Ids(const Json* array) {
  std::vector<int64_t> ids;
  if (array == nullptr) return ids;
  for (const Json& item : array->items()) ids.push_back(item.AsInt64().value_or(-1));
  return ids;
}

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

// The one ftfy fix only simplified: mojibake repair is a heuristic over encodings
// (ClipTokenizer covers UTF-8 read as Windows-1252/Latin-1).
bool NeedsMojibakeRepair(const Json& prompt) {
  const Json* fixes = prompt.Find("ftfy_fixes");
  if (fixes == nullptr) return false;
  const auto& items = fixes->items();
  return std::any_of(items.begin(), items.end(), [](const Json& f) { return f.text() == "fix_encoding"; });
}

TEST(ClipReferenceTest, IdsAndPaddedIdsEqualOpenaiForEveryPrompt) {
  auto dir = testing::FindClipReferenceDir();
  if (!dir) GTEST_SKIP() << "clip reference data not found (set FARM_CLIP_REFERENCE)";
  auto tokenizer = ClipTokenizer::Bundled();
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();

  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(*dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("tokens_", 0) == 0 && entry.path().extension() == ".json") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << *dir << ": no tokens_*.json";

  size_t total = 0;
  size_t exact = 0;
  std::vector<std::string> mojibake_differs;
  for (const std::string& file : files) {
    const Json doc = testing::ReadJsonFile(file);
    const Json* prompts = doc.Find("prompts");
    ASSERT_TRUE(prompts != nullptr && prompts->is_array()) << file << ": no \"prompts\" array";
    const int64_t context = doc.Find("context_length") ? doc.Find("context_length")->AsInt64().value_or(77) : 77;
    for (const Json& prompt : prompts->items()) {
      ++total;
      const std::string key = prompt.Find("key") ? prompt.Find("key")->text() : "?";
      const Json* hex = prompt.Find("text_utf8_hex");
      ASSERT_NE(hex, nullptr) << file << ": " << key << " has no text_utf8_hex";
      const std::string text = FromHex(hex->text());
      const std::vector<int64_t> want_ids = Ids(prompt.Find("ids"));
      const std::vector<int64_t> want_padded = Ids(prompt.Find("padded77"));
      const std::vector<int64_t> ids = tokenizer->Encode(text);
      const std::vector<int64_t> padded = tokenizer->EncodePadded(text, context);
      if (ids == want_ids && padded == want_padded) {
        ++exact;
        continue;
      }
      const std::string normalized = prompt.Find("normalized") ? prompt.Find("normalized")->text() : "";
      if (NeedsMojibakeRepair(prompt)) {
        // Documented difference: mojibake the simplified repair leaves stays as written.
        // Everything after ftfy must still
        // agree, so the reference's cleaned text gives the reference ids.
        mojibake_differs.push_back(key);
        EXPECT_EQ(tokenizer->Encode(normalized), want_ids) << file << ": " << key;
        EXPECT_EQ(tokenizer->EncodePadded(normalized, context), want_padded) << file << ": " << key;
        continue;
      }
      ADD_FAILURE() << file << ": " << key << " differs\n  normalized: ours \"" << ClipTokenizer::Normalize(text)
                    << "\"\n  reference: \"" << normalized << "\"";
    }
  }
  std::string list;
  for (const std::string& key : mojibake_differs) list += " " + key;
  std::printf("clip reference: %zu of %zu prompts exact; differing (mojibake ftfy's fix_encoding repairs, not ours):%s\n", exact,
              total, list.empty() ? " none" : list.c_str());
}

}  // namespace
}  // namespace farm::sd
