#include "tokenize_commands.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "farm/sd/clip_tokenizer.h"

namespace farm::agent {
namespace {

constexpr int64_t kContextLength = 77;  // SD 1.5's text encoder

struct TokenizeArgs {
  std::string tokenizer_dir;
  bool json_output = false;
  std::vector<std::string> texts;
};

// Owned by the registered subcommand; CLI11 keeps only the pointer.
std::unique_ptr<TokenizeArgs> g_args;
CLI::App* g_command = nullptr;

std::string JoinIds(const std::vector<int64_t>& ids) {
  std::string out;
  for (int64_t id : ids) out += (out.empty() ? "" : " ") + std::to_string(id);
  return out;
}

}  // namespace

void AddTokenizeCommand(CLI::App& app) {
  g_args = std::make_unique<TokenizeArgs>();
  g_command = app.add_subcommand("tokenize", "CLIP token ids of each text, as SD 1.5's text encoder gets them");
  g_command->add_option("--tokenizer", g_args->tokenizer_dir,
                        "folder with vocab.json + merges.txt (default: the bundled CLIP vocabulary)");
  g_command->add_flag("--json", g_args->json_output, "one JSON object per text: text, ids, input_ids");
  g_command->add_option("texts", g_args->texts, "texts to tokenize")->required();
}

int RunTokenizeCommand(const CLI::App& app) {
  (void)app;
  if (g_command == nullptr || !g_command->parsed()) return -1;
  StatusOr<sd::ClipTokenizer> tokenizer = g_args->tokenizer_dir.empty()
                                              ? sd::ClipTokenizer::Bundled()
                                              : sd::ClipTokenizer::LoadFromDir(g_args->tokenizer_dir);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "farm-agent tokenize: %s\n", tokenizer.status().ToString().c_str());
    return 1;
  }
  for (const std::string& text : g_args->texts) {
    const std::vector<int64_t> ids = tokenizer->Encode(text);
    const std::vector<int64_t> input_ids = tokenizer->EncodePadded(text, kContextLength);
    if (g_args->json_output) {
      const nlohmann::json record{{"text", text}, {"ids", ids}, {"input_ids", input_ids}};
      // Invalid UTF-8 in a text is written as U+FFFD rather than failing the command.
      std::printf("%s\n", record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::printf("%s\n  ids (%zu): %s\n  input_ids: %s\n", text.c_str(), ids.size(), JoinIds(ids).c_str(),
                  JoinIds(input_ids).c_str());
    }
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace farm::agent
