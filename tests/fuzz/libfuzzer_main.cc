// libFuzzer's entry (clang only: -fsanitize=fuzzer provides main()).
#include <cstddef>
#include <cstdint>

#include "agent_frame_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return farm::fuzz::FuzzAgentFrame(data, size);
}
