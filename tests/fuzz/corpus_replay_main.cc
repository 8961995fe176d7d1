// Replays fuzz inputs through a fuzz harness with any compiler, so the harness is built
// and run where libFuzzer is not available. Arguments: files or folders (every regular
// file inside, in name order); default the committed seed corpus.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// The harness replayed: agent frames unless the build names another one
// (FARM_FUZZ_HARNESS_HEADER and FARM_FUZZ_ENTRY, e.g. the tfjs manifest harness).
#ifndef FARM_FUZZ_HARNESS_HEADER
#define FARM_FUZZ_HARNESS_HEADER "agent_frame_fuzz.h"
#define FARM_FUZZ_ENTRY farm::fuzz::FuzzAgentFrame
#endif
#include FARM_FUZZ_HARNESS_HEADER

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  std::vector<std::string> roots(argv + 1, argv + argc);
  if (roots.empty()) roots.push_back(FARM_FUZZ_CORPUS_DIR);
  std::vector<fs::path> inputs;
  for (const std::string& root : roots) {
    std::error_code ec;
    if (fs::is_directory(root, ec)) {
      for (const auto& entry : fs::directory_iterator(root)) {
        if (entry.is_regular_file()) inputs.push_back(entry.path());
      }
    } else {
      inputs.emplace_back(root);
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::fprintf(stderr, "no fuzz inputs found\n");
    return 1;
  }
  for (const fs::path& input : inputs) {
    std::ifstream in(input, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", input.c_str());
      return 1;
    }
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    FARM_FUZZ_ENTRY(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("replayed %zu inputs\n", inputs.size());
  return 0;
}
