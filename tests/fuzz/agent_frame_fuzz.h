// The fuzz entry for frames an agent sends to farmd: the bytes go through the links'
// decoder (DecodeAgentFrame) and, when they decode, through the coordinator's handling
// of the message (registration, heartbeats, progress, artifact chunks, results) against
// a real store and scheduler. Built as a libFuzzer target with clang and, everywhere,
// as a replay test over the seed corpus in corpus/.
#pragma once

#include <cstddef>
#include <cstdint>

namespace farm::fuzz {

// Always returns 0 (libFuzzer's contract). A crash, sanitizer report or abort is the
// failure.
int FuzzAgentFrame(const std::uint8_t* data, std::size_t size);

}  // namespace farm::fuzz
