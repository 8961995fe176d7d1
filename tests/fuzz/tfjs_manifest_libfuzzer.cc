// libFuzzer's entry for the tfjs manifest harness (clang only: -fsanitize=fuzzer
// provides main()).
#include <cstddef>
#include <cstdint>

#include "tfjs_manifest_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return farm::fuzz::FuzzTfjsManifest(data, size);
}
