// libFuzzer's entry (clang only: -fsanitize=fuzzer provides main()).
#include <cstddef>
#include <cstdint>

#include "render_query_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return farm::fuzz::FuzzRenderQuery(data, size);
}
